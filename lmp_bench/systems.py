"""The benchmark systems: what each deck needs (start structure, model lines) and how it
is judged (timestep, frames, stability rule, diffusing element). Numbers: design.md."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lmp_bench.data.water import (
    DEFAULT_VARIANT,
    box_length,
    check_variant,
    write_water_data,
    write_water_frame,
)
from lmp_bench.observables.rdf import ALL, WATER_PAIRS
from lmp_bench.units import KCAL_PER_MOL_IN_EV

REFERENCE = "reference"  # --model value that selects a system's classical force field

# SPC/Fw (published form 1/2 k (x - x0)^2), kcal/mol, A, rad, degrees
SPCFW = {
    "k_bond": 1059.162,
    "r0": 1.012,
    "k_angle": 75.90,
    "theta0": 113.24,
    "epsilon": 0.1554253,
    "sigma": 3.165492,
}
# LAMMPS's harmonic K per published k: spcfw halves it, spcfw-mdsim does not (design.md)
HARMONIC_FACTOR = {"spcfw": 0.5, "spcfw-mdsim": 1.0}


@dataclass(frozen=True)
class StartFrame:
    """A dataset frame a replica starts from (metal units)."""

    positions: np.ndarray  # (N, 3) unwrapped, A
    species: np.ndarray  # (N,) element names
    cell: np.ndarray  # (3, 3) box rows, A; zeros for a molecule without a box

    @property
    def periodic(self) -> bool:
        return bool(np.abs(self.cell).sum() > 0)


@dataclass(frozen=True)
class Model:
    """What --model resolved to: an exported file, or the system's classical reference."""

    file: Path | None
    species: tuple[str, ...] = ()
    variant: str = DEFAULT_VARIANT
    framework: str | None = None  # nequip or deeppot-se: deployed by its own framework
    device: str | None = None  # cpu or cuda for pair_style mlff; None: the file's own

    @property
    def label(self) -> str:
        """Names the run folder: the variant, the framework, or the model file."""
        if self.file is None:
            return f"reference-{self.variant}"
        stem = self.file.name.split(".")[0]
        if self.framework is not None:
            return (
                self.framework if stem in ("frozen_model", "model") else f"{self.framework}-{stem}"
            )
        return self.file.stem


def mlff_lines(model: Model, type_species: tuple[str, ...]) -> str:
    """The LAMMPS lines that run `model` for atom types named `type_species`."""
    if model.framework is not None:
        from lmp_bench.frameworks import framework

        return framework(model.framework).pair_lines(model.file, type_species)
    missing = sorted(set(type_species) - set(model.species))
    if missing:
        raise ValueError(
            f"model {model.file} knows species {list(model.species)} but this system needs "
            f"{list(type_species)} (missing {missing}): use a model trained on this system"
        )
    coeff = f"pair_coeff * * {' '.join(type_species)}\n"
    if not model.device:
        return f"pair_style mlff {model.file}\n{coeff}"
    # the runner sets mlff_device per rank (cuda:<the rank's GPU>); `lmp -in` keeps this one
    return (
        f"variable mlff_device index {model.device}\n"
        f"pair_style mlff {model.file} device ${{mlff_device}}\n{coeff}"
    )


def device_variables(model: Model) -> dict[str, str]:
    """The runner's per-rank device variable of a pair_style mlff model (see mlff_lines)."""
    if model.file is None or model.framework is not None or not model.device:
        return {}
    return {"mlff_device": model.device}


# The classical reference's extra thermostat. Nose-Hoover alone equilibrates 64 flexible
# molecules too slowly: two 625-ps runs from different seeds still differed by an H-O RDF
# MAE of 0.11 and 9 % in D. A weak per-atom Langevin term (damping 5 ps, 100x the deck's
# Nose-Hoover time) brought two 500-ps runs to RDF MAE <= 0.04 and 2 % in D. Langevin adds
# its random and friction forces to f, so the dump writes the forces stored before it
# (fix store/force, defined first): data labels stay the force field's own forces.
REFERENCE_THERMOSTAT = (
    "fix conservative all store/force\n"
    'if "${ensemble} == nvt" then &\n'
    '  "fix equipartition all langevin ${temperature} ${temperature} 5.0 ${seed} zero yes"\n'
    'variable force_columns string "f_conservative[1] f_conservative[2] f_conservative[3]"\n'
)


def classical_water_lines(variant: str, minimize: bool = True) -> str:
    """SPC/Fw in metal units (constants converted from kcal/mol), and a minimisation for a
    freshly built box (a dataset frame is already a liquid and starts as it is)."""
    f, kcal = HARMONIC_FACTOR[check_variant(variant)], KCAL_PER_MOL_IN_EV
    c = SPCFW
    return (
        f"# flexible SPC water, variant {variant}, metal units (eV, A)\n"
        "pair_style lj/cut/coul/long 9.0\n"
        f"pair_coeff 1 1 {c['epsilon'] * kcal:.12g} {c['sigma']}\n"
        "pair_coeff * 2 0.0 1.0\n"
        "kspace_style pppm 1.0e-5\n"
        "special_bonds lj/coul 0.0 0.0 0.0\n"
        "bond_style harmonic\n"
        f"bond_coeff 1 {f * c['k_bond'] * kcal:.12g} {c['r0']}\n"
        "angle_style harmonic\n"
        f"angle_coeff 1 {f * c['k_angle'] * kcal:.12g} {c['theta0']}\n"
        + ("minimize 1.0e-6 1.0e-8 200 2000\nreset_timestep 0\n" if minimize else "")
    )


def prepare_water(
    folder: Path, model: Model, molecules: int, seed: int, start: StartFrame | None = None
) -> dict[str, str]:
    """Start structure and model lines for inputs/water.in, written into `folder`.

    `start`: positions (3 molecules, 3) of a dataset frame to start from (O, H, H order,
    12.4429 A box for 64 molecules); else a freshly built box.
    """
    classical = model.file is None
    style = "full" if classical else "atomic"
    if start is None:
        data = write_water_data(folder / "start.data", molecules, seed, atom_style=style)
    else:
        if not start.periodic or list(start.species[:3]) != ["O", "H", "H"]:
            raise ValueError(
                "the water deck starts from water frames (O, H, H order, periodic box): "
                "give --start-from a water dataset (lmp-bench data make water)"
            )
        positions = start.positions
        data = write_water_frame(
            folder / "start.data", positions, box_length(len(positions) // 3), style,
            "a dataset frame",
        )  # fmt: skip
    setup = folder / "model_setup.in"
    setup.write_text(
        classical_water_lines(model.variant, start is None) + REFERENCE_THERMOSTAT
        if classical
        else mlff_lines(model, ("O", "H"))
    )
    return {
        "data_file": str(data),
        "atom_style": style,
        "model_setup": str(setup),
        **device_variables(model),
    }


def prepare_argon(
    folder: Path, model: Model, molecules: int, seed: int, start: StartFrame | None = None
) -> dict[str, str]:
    if model.file is None:
        raise ValueError("the argon deck has no classical reference model: give --model lj")
    return {
        "model_file": str(model.file),
        "species": " ".join(model.species),
        "mlff_device": model.device or "cpu",
    }


def prepare_molecule(
    folder: Path, model: Model, molecules: int, seed: int, start: StartFrame | None = None
) -> dict[str, str]:
    """Start structure and model lines for inputs/md17.in: one molecule, open boundaries.
    Atom types are the molecule's elements in alphabetical order."""
    if start is None:
        raise ValueError(
            "the molecule decks (md17, alanine) start from dataset frames: give --start-from "
            "<dataset.h5> "
            "(lmp-bench data make md17-ethanol, or data fetch md17-ethanol + data import)"
        )
    if start.periodic:
        raise ValueError(
            "--start-from holds a periodic dataset (it has a cell), but the md17 deck runs one "
            "molecule without a box: give a molecule dataset (md17-...)"
        )
    types = tuple(sorted(set(start.species)))
    data = write_molecule_data(folder / "start.data", start.positions, start.species, types)
    setup = folder / "model_setup.in"
    setup.write_text(mlff_lines(model, types))
    return {
        "data_file": str(data),
        "model_setup": str(setup),
        "type_species": " ".join(types),
        **device_variables(model),
    }


def prepare_alanine(
    folder: Path, model: Model, molecules: int, seed: int, start: StartFrame | None = None
) -> dict[str, str]:
    """inputs/alanine.in: the molecule's start and model lines, and the COLVARS file of
    design.md's well-tempered metadynamics on phi and psi (atoms found from the bonds)."""
    from lmp_bench.lammps.colvars import alanine_metadynamics
    from lmp_bench.observables.backbone import phi_psi_atoms

    variables = prepare_molecule(folder, model, molecules, seed, start)
    assert start is not None  # prepare_molecule refused a missing start
    phi, psi = phi_psi_atoms(start.positions, start.species)
    bias = alanine_metadynamics(tuple(a + 1 for a in phi), tuple(a + 1 for a in psi))
    return {**variables, "colvars_config": str(bias.write(folder / "colvars.in"))}


def write_molecule_data(
    path: Path, positions: np.ndarray, species: np.ndarray, types: tuple[str, ...]
) -> Path:
    """A LAMMPS data file (atomic style) of one molecule in a box 50 A wider than it on each
    side (the molecule decks' fixed open boundaries), masses from ASE's table."""
    from ase.data import atomic_masses, atomic_numbers

    low, high = positions.min(0) - 50.0, positions.max(0) + 50.0
    lines = [
        "one molecule, lmp-bench",
        "",
        f"{len(positions)} atoms",
        f"{len(types)} atom types",
        "",
    ]
    lines += [f"{low[k]:.10f} {high[k]:.10f} {axis}lo {axis}hi" for k, axis in enumerate("xyz")]
    lines += ["", "Masses", ""]
    lines += [f"{t + 1} {atomic_masses[atomic_numbers[e]]:.6f}  # {e}" for t, e in enumerate(types)]
    lines += ["", "Atoms # atomic", ""]
    for atom, (element, (x, y, z)) in enumerate(zip(species, positions, strict=True)):
        lines.append(f"{atom + 1} {types.index(element) + 1} {x:.10f} {y:.10f} {z:.10f}")
    path.write_text("\n".join(lines) + "\n")
    return path


def prepare_lips(
    folder: Path, model: Model, molecules: int, seed: int, start: StartFrame | None = None
) -> dict[str, str]:
    """Start structure and model lines for inputs/lips.in: a dataset frame (--start-from),
    else the 83-atom Li6.75P3S11 cell built from the published crystal structure."""
    from ase import Atoms
    from ase.io import write

    from lmp_bench.data.lips import lips_cell

    if start is None:
        atoms = lips_cell()
    elif not start.periodic:
        raise ValueError("the lips deck runs a periodic cell: give --start-from a lips dataset")
    else:
        atoms = Atoms(symbols=list(start.species), positions=start.positions, cell=start.cell)
        atoms.pbc = True
        atoms.wrap()
    types = ("Li", "P", "S")
    unknown = sorted(set(atoms.get_chemical_symbols()) - set(types))
    if unknown:
        raise ValueError(f"the lips deck runs Li, P and S; the start structure also has {unknown}")
    data = folder / "start.data"
    # ASE turns the triclinic cell into LAMMPS's orientation (a along x, b in the xy plane)
    write(data, atoms, format="lammps-data", specorder=list(types), masses=True, units="metal")
    setup = folder / "model_setup.in"
    setup.write_text(mlff_lines(model, types))
    return {"data_file": str(data), "model_setup": str(setup), **device_variables(model)}


@dataclass(frozen=True)
class System:
    name: str
    timestep_ps: float
    dump_every: int  # steps between frames
    type_species: tuple[str, ...]
    default_length_ps: float
    prepare: Callable[..., dict[str, str]]  # (folder, model, molecules, seed, StartFrame|None)
    rdf_pairs: tuple[tuple[str, str], ...] = ()
    rdf_threshold: float = float("inf")  # stability: RDF error above this is unstable
    window_ps: float = 1.0
    diffusion_element: str = ""
    diffusion_time_ps: float = 0.0
    diffusion_skip_ps: float = 0.0  # dropped from the start before the MSD (lips: 5 ps)
    molecule: bool = False  # one molecule, no box: judged by bond lengths and h(r)


SYSTEMS = {
    "water": System(
        "water", 0.001, 100, ("O", "H"), 500.0, prepare_water, WATER_PAIRS, 3.0, 1.0, "O", 100.0
    ),
    "argon": System("argon", 0.004, 100, ("Ar",), 8.0, prepare_argon),
    "lips": System(
        "lips",
        0.00025,
        50,
        ("Li", "P", "S"),
        50.0,
        prepare_lips,
        ((ALL, ALL),),
        1.0,
        1.0,
        "Li",
        35.0,
        5.0,
    ),  # fmt: skip
    # types come from the dataset (its elements, sorted)
    "alanine": System("alanine", 0.002, 500, (), 5000.0, prepare_alanine, molecule=True),
    "md17": System("md17", 0.0005, 100, (), 300.0, prepare_molecule, molecule=True),
}


def system_for_deck(deck: Path) -> System:
    """The system a deck belongs to, from its file name (inputs/<system>.in)."""
    if deck.stem not in SYSTEMS:
        raise ValueError(
            f"no benchmark system for deck {deck}: known decks are "
            f"{[f'inputs/{name}.in' for name in SYSTEMS]}"
        )
    return SYSTEMS[deck.stem]
