"""Read trajectories into Frames through standard readers (ASE for LAMMPS dumps)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from lmp_bench.observables.frames import Frames


def complete_frames(text: str) -> tuple[str, np.ndarray]:
    """The part of a LAMMPS text dump made of whole frames, and their step numbers.

    A run killed while writing leaves a last frame with missing lines; it is dropped.
    """
    lines = text.splitlines(keepends=True)
    starts = [k for k, line in enumerate(lines) if line.startswith("ITEM: TIMESTEP")]
    keep, steps = 0, []
    for number, start in enumerate(starts):
        end = starts[number + 1] if number + 1 < len(starts) else len(lines)
        frame = lines[start:end]
        try:
            atoms = int(frame[3])
            whole = len(frame) >= 9 + atoms and all(s.strip() for s in frame[9 : 9 + atoms])
            whole = whole and len(frame[8 + atoms].split()) == len(frame[8].split()) - 2
        except (IndexError, ValueError):
            whole = False
        if not whole:
            break
        keep, steps = end, [*steps, int(frame[1])]
    return "".join(lines[:keep]), np.asarray(steps)


def read_dump_images(path: str | Path) -> tuple[list, np.ndarray]:
    """ASE Atoms of every complete frame of a LAMMPS text dump, and their step numbers.

    Extra dump columns (e.g. c_peatom) arrive as per-atom arrays of the Atoms.
    """
    from ase.io import read

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"trajectory {path} does not exist")
    text, steps = complete_frames(path.read_text())
    if not len(steps):
        raise ValueError(f"{path} holds no complete frame")
    return read(io.StringIO(text), index=":", format="lammps-dump-text"), steps


def type_names(images: list, species: list[str], path: Path) -> np.ndarray:
    """Element of each atom from its LAMMPS type (ASE stores types as atomic numbers)."""
    types = images[0].get_atomic_numbers()
    if types.max() > len(species):
        raise ValueError(f"{path} has atom types up to {types.max()} but only {species} named")
    return np.array([species[t - 1] for t in types])


def read_lammps_dump(path: str | Path, species: list[str], timestep_ps: float) -> Frames:
    """A LAMMPS custom dump with ``id type xu yu zu`` (sorted by id) as Frames.

    `species` names the element of each LAMMPS atom type (type 1 first); `timestep_ps` is
    the deck's timestep. A dump cut short by a killed run yields its complete frames.
    """
    images, steps = read_dump_images(path)
    positions = np.stack([image.positions for image in images])
    return Frames(
        positions,
        type_names(images, species, Path(path)),
        images[0].cell.array.copy(),
        steps * timestep_ps,
    )
