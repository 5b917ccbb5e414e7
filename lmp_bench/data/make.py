"""`lmp-bench data make`: which reference maker a system name calls, with its default file
name and frame count, and the install hint when its optional dependency is missing.

The makers (make_water, make_molecule, make_lips, make_alanine, alanine_fes) import their
simulation codes at module level, so the hint is given here, where they are imported.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from lmp_bench.data.frames_file import FrameSet


@dataclass(frozen=True)
class MakeOptions:
    """What `lmp-bench data make` was asked for; the fields are its options (see `--help`)."""

    system: str  # water, md17-<molecule>, lips, alanine or alanine-fes
    output: str | None  # dataset file; None: a name from the system and frame count
    frames: int | None  # None: the maker's default
    seed: int
    molecules: int  # water
    variant: str  # water
    dataset: str  # water: 1k, 10k or 90k
    equilibrate: float  # water: ps dropped first
    ranks: int  # water
    ns: float  # alanine-fes
    solvent: str  # alanine-fes: tip3p or obc


def make_dataset(options: MakeOptions) -> None:
    """Make the dataset `options.system` names, saying where it went."""
    makers = {
        "water": make_water,
        "lips": make_lips_stand_in,
        "alanine": make_alanine_stand_in,
        "alanine-fes": make_alanine_reference_fes,
    }
    makers.get(options.system, make_molecule_stand_in)(options)


def report_written(data: FrameSet, where: str) -> None:
    """The one line every `data make` ends with: frames, split sizes, file(s)."""
    sizes = ", ".join(f"{name} {len(idx)}" for name, idx in data.splits.items())
    print(f"lmp-bench: {len(data)} frames ({sizes}) written to {where}")


def make_water(options: MakeOptions) -> None:
    """Classical SPC/Fw water run in LAMMPS, in design.md's split sizes."""
    from lmp_bench.data.make_water import make_water_dataset

    name = f"water-{options.molecules}-{options.variant}-{options.dataset}.h5"
    out = Path(options.output or name)
    print(
        f"lmp-bench: classical reference, variant {options.variant} (default spcfw-mdsim: how "
        "the paper's water data was made) -> " + str(out)
    )
    data = make_water_dataset(
        out,
        out.with_suffix(".runs"),
        options.molecules,
        options.variant,
        options.dataset,
        options.frames,
        options.seed,
        options.equilibrate,
        options.ranks,
    )
    report_written(data, str(out))


def make_molecule_stand_in(options: MakeOptions) -> None:
    """MD17-like data offline: GFN2-xTB (tblite) MD at 500 K, named a stand-in."""
    try:
        from lmp_bench.data.make_molecule import SOURCE, make_molecule_dataset
    except ImportError as err:
        raise RuntimeError(
            f"the MD17 stand-in needs tblite ({err}): pip install tblite==0.8.0"
        ) from err
    frames = options.frames or 1000
    out = Path(options.output or f"{options.system}-xtb-{frames}.h5")
    print(f"lmp-bench: {SOURCE}; {frames} frames -> {out}")
    data = make_molecule_dataset(out, options.system.removeprefix("md17-"), frames, options.seed)
    report_written(data, str(out))


def make_alanine_stand_in(options: MakeOptions) -> None:
    """Alanine dipeptide data as the paper made it: explicit-water AMBER-03 MD (OpenMM),
    forces on the 22 peptide atoms; named a stand-in."""
    try:
        from lmp_bench.data.make_alanine import SOURCE, make_alanine_dataset
    except ImportError as err:
        raise RuntimeError(f"the alanine data needs OpenMM ({err}): pip install openmm") from err
    frames = options.frames or 1000
    out = Path(options.output or f"alanine-openmm-{frames}.h5")
    print(f"lmp-bench: {SOURCE}; {frames} frames, one every 1 ps -> {out}")
    data = make_alanine_dataset(out, frames, options.seed)
    report_written(data, str(out))


def make_alanine_reference_fes(options: MakeOptions) -> None:
    """The reference F(phi, psi) of an alanine dataset: well-tempered metadynamics of its
    classical force field (OpenMM), stored in the dataset file for `run` and `evaluate`."""
    from lmp_bench.data.alanine_fes import make_reference_fes

    if not options.output:
        raise ValueError(
            "data make alanine-fes adds the reference FES to an alanine dataset: "
            "name it with -o alanine.h5"
        )
    print(
        f"lmp-bench: well-tempered metadynamics of AMBER-03 ({options.solvent}), {options.ns} ns "
        f"-> {options.output} (group /reference_fes, written every 100 ps)"
    )
    start = time.perf_counter()
    make_reference_fes(Path(options.output), options.ns, options.seed, options.solvent)
    print(f"lmp-bench: reference FES of {options.ns} ns in {time.perf_counter() - start:.0f} s")


def make_lips_stand_in(options: MakeOptions) -> None:
    """LiPS-like data offline: periodic GFN1-xTB (tblite) MD at 520 K, named a stand-in."""
    try:
        from lmp_bench.data.make_lips import SOURCE, make_lips_dataset
    except ImportError as err:
        raise RuntimeError(
            f"the LiPS stand-in needs tblite ({err}): pip install tblite==0.8.0"
        ) from err
    frames = options.frames or 100
    out = Path(options.output or f"lips-xtb-{frames}.h5")
    print(f"lmp-bench: {SOURCE}; {frames} frames (~7 an hour on one core) -> {out}")
    data = make_lips_dataset(out, frames, options.seed)
    report_written(data, f"{out} and {out.with_suffix('.xyz')}")
