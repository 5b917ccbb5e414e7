"""Exporters of a FrameSet to other codes' layouts, and the reader of the paper's files.

- extended XYZ (ASE): what nequip reads, energy/forces as per-frame/per-atom properties
- deepmd npy: type.raw, type_map.raw, set.000/{coord,box,energy,force}.npy
- the paper's (MDsim's) water/alanine .npy: a pickled dict in kcal/mol
- sGDML's MD17 .npz (R, E, F, z) in kcal/mol, with design.md's MD17 splits
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from lmp_bench.data.frames_file import DataFileError, FrameSet, small_split_sizes, split_indices
from lmp_bench.units import KCAL_PER_MOL_IN_EV

MDSIM_KEYS = (
    "wrapped_coords",
    "unwrapped_coords",
    "forces",
    "velocities",
    "lengths",
    "angles",
    "raw_types",
    "atom_types",
    "energy",
)


def _indices(frames: FrameSet, split: str | None) -> np.ndarray:
    if split is None:
        return np.arange(len(frames))
    if split not in frames.splits:
        raise ValueError(f"no split {split!r} in this dataset (it has {sorted(frames.splits)})")
    return frames.splits[split]


def write_extxyz(frames: FrameSet, path: Path, split: str | None = None) -> Path:
    from ase import Atoms
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write

    images = []
    for t in _indices(frames, split):
        atoms = Atoms(
            symbols=list(frames.species),
            positions=frames.positions[t],
            cell=frames.cell[t],
            pbc=bool(np.abs(frames.cell[t]).sum() > 0),  # a molecule's zero cell: no box
        )
        energy = float(frames.energy[t])
        labels = {"forces": frames.forces[t]}
        if np.isfinite(energy):  # forces-only data (alanine) gets no energy key
            labels["energy"] = energy
        atoms.calc = SinglePointCalculator(atoms, **labels)
        images.append(atoms)
    write(path, images, format="extxyz")
    return path


def write_deepmd(frames: FrameSet, folder: Path, split: str | None = None) -> Path:
    """deepmd-kit's npy layout (coordinates A, energies eV, forces eV/A)."""
    folder.mkdir(parents=True, exist_ok=True)
    type_map = list(dict.fromkeys(frames.species))
    (folder / "type_map.raw").write_text("\n".join(type_map) + "\n")
    (folder / "type.raw").write_text(
        "\n".join(str(type_map.index(s)) for s in frames.species) + "\n"
    )
    chosen = _indices(frames, split)
    sets = folder / "set.000"
    sets.mkdir(exist_ok=True)
    n = len(frames.species)
    np.save(sets / "coord.npy", frames.positions[chosen].reshape(len(chosen), 3 * n))
    np.save(sets / "force.npy", frames.forces[chosen].reshape(len(chosen), 3 * n))
    if np.isfinite(frames.energy[chosen]).all():  # no energy.npy: deepmd fits forces only
        np.save(sets / "energy.npy", frames.energy[chosen])
    np.save(sets / "box.npy", frames.cell[chosen].reshape(len(chosen), 9))
    if not np.abs(frames.cell[chosen]).sum() > 0:
        (folder / "nopbc").write_text("")  # deepmd's marker of a system without a box
    return folder


def read_mdsim_npy(path: str | Path, frame_interval_ps: float = 0.1) -> FrameSet:
    """The paper's published water/alanine file: a pickled dict, energies kcal/mol and
    forces kcal/mol/A, converted to eV and eV/A. Velocities are kept in the file's units."""
    from ase.data import chemical_symbols
    from ase.geometry import cellpar_to_cell

    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path} does not exist")
    try:
        data = np.load(path, allow_pickle=True).item()
    except (ValueError, OSError, AttributeError) as err:
        raise DataFileError(f"{path} is not a pickled-dict .npy file ({err})") from err
    missing = [key for key in MDSIM_KEYS if key not in data and key != "energy"]
    if missing:
        raise DataFileError(f"{path} lacks the keys {missing} of the paper's data files")
    lengths, angles = np.asarray(data["lengths"]), np.asarray(data["angles"])
    cells = np.stack(
        [
            cellpar_to_cell(np.concatenate([a, b]))
            for a, b in zip(np.atleast_2d(lengths), np.atleast_2d(angles), strict=True)
        ]
    )
    frames = len(data["wrapped_coords"])
    if len(cells) == 1:
        cells = np.repeat(cells, frames, axis=0)
    return FrameSet(
        species=np.array([chemical_symbols[int(z)] for z in np.asarray(data["atom_types"])]),
        cell=cells,
        positions=np.asarray(data["wrapped_coords"], dtype=float),
        unwrapped_positions=np.asarray(data["unwrapped_coords"], dtype=float),
        velocities=np.asarray(data["velocities"], dtype=float),
        forces=np.asarray(data["forces"], dtype=float) * KCAL_PER_MOL_IN_EV,
        energy=(  # the alanine file has forces only: energies NaN
            np.asarray(data["energy"], dtype=float).reshape(frames) * KCAL_PER_MOL_IN_EV
            if "energy" in data
            else np.full(frames, np.nan)
        ),
        time=np.arange(frames) * frame_interval_ps,
        attributes={"source": f"paper data file {path.name} (kcal/mol converted to eV)"},
    )


SGDML_KEYS = ("R", "E", "F", "z")
MD17_TRAIN, MD17_VAL, MD17_TEST = 9500, 500, 10_000  # design.md: test = random of the rest
MD17_STEP_PS = 0.0005  # MD17 frames are consecutive 0.5 fs steps of its DFT MD


def md17_split_sizes(frames: int) -> tuple[int, int, int]:
    """(train, val, test): design.md's 9,500/500 and 10,000 test for 20,000 frames or more;
    for fewer (small or stand-in sets), as for water: half for train+val (95:5), the other
    half for test."""
    if frames >= MD17_TRAIN + MD17_VAL + MD17_TEST:
        return MD17_TRAIN, MD17_VAL, MD17_TEST
    return small_split_sizes(frames)


def read_sgdml_npz(path: str | Path, seed: int = 0) -> FrameSet:
    """An sGDML MD17 file (R in A, E in kcal/mol, F in kcal/mol/A, z atomic numbers), in eV
    and eV/A, with design.md's splits (md17_split_sizes)."""
    from ase.data import chemical_symbols

    path = Path(path)
    if not path.is_file():
        raise DataFileError(f"{path} does not exist")
    try:
        data = dict(np.load(path, allow_pickle=False))
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise DataFileError(f"{path} is not a readable .npz file ({err}): fetch it again") from err
    missing = [key for key in SGDML_KEYS if key not in data]
    if missing:
        raise DataFileError(f"{path} lacks the keys {missing} of an sGDML (MD17) file")
    units = {key: str(data[key]) for key in ("r_unit", "e_unit") if key in data}
    if units.get("e_unit", "kcal/mol") != "kcal/mol" or units.get("r_unit", "Ang") != "Ang":
        raise DataFileError(f"{path} has units {units}; MD17 files are in kcal/mol and Ang")
    positions = np.asarray(data["R"], dtype=float)
    frames, atoms = positions.shape[:2]
    forces = np.asarray(data["F"], dtype=float)
    if forces.shape != positions.shape or len(data["z"]) != atoms or data["E"].size != frames:
        raise DataFileError(
            f"{path}: inconsistent shapes R {positions.shape}, F {forces.shape}, "
            f"E {data['E'].shape}, z {data['z'].shape}"
        )
    sizes = md17_split_sizes(frames)
    name = str(data["name"]) if "name" in data else path.stem
    molecule = path.stem.removeprefix("md17_").split("_")[0]  # md17_ethanol.npz -> ethanol
    return FrameSet(
        species=np.array([chemical_symbols[int(z)] for z in data["z"]]),
        cell=np.zeros((frames, 3, 3)),
        positions=positions,
        unwrapped_positions=positions,
        velocities=np.zeros_like(positions),  # MD17 files hold no velocities
        forces=forces * KCAL_PER_MOL_IN_EV,
        energy=np.asarray(data["E"], dtype=float).reshape(frames) * KCAL_PER_MOL_IN_EV,
        time=np.arange(frames) * MD17_STEP_PS,
        splits=split_indices(frames, *sizes, seed),
        attributes={
            "source": f"sGDML MD17 file {path.name} ({name}; kcal/mol converted to eV)",
            "system": f"md17-{molecule}",
            "molecule": molecule,
            "seed": str(seed),
        },
    )
