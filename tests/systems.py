"""Test structures written as LAMMPS data files (seeded NumPy, so every rank count reads
the same atoms; LAMMPS's own `displace_atoms random` depends on the number of ranks)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.build import bulk, molecule
from ase.io import write


def rattled(atoms: Atoms, amplitude: float, seed: int) -> Atoms:
    atoms = atoms.copy()
    rng = np.random.default_rng(seed)
    atoms.positions += rng.uniform(-amplitude, amplitude, size=atoms.positions.shape)
    atoms.wrap()
    return atoms


def argon_fcc(repeat: int = 5, triclinic: bool = False, seed: int = 0) -> Atoms:
    """fcc argon near its LJ equilibrium density (4 repeat^3 atoms)."""
    atoms = bulk("Ar", "fcc", a=5.26, cubic=True).repeat(repeat)
    if triclinic:
        cell = atoms.cell.array.copy()
        cell[1, 0] += 0.21 * cell[0, 0]
        cell[2, 0] += 0.13 * cell[0, 0]
        cell[2, 1] -= 0.17 * cell[1, 1]
        atoms.set_cell(cell, scale_atoms=True)
    return rattled(atoms, 0.15, seed)


def silicon_diamond(repeat: int = 3, seed: int = 0) -> Atoms:
    """Diamond silicon, 8 repeat^3 atoms, rattled so that angles vary."""
    return rattled(bulk("Si", "diamond", a=5.431, cubic=True).repeat(repeat), 0.12, seed)


def argon_cluster_in_vacuum() -> Atoms:
    """A small argon-like molecule (benzene geometry, relabelled) in a 60 A open box."""
    shape = molecule("C6H6")
    atoms = Atoms("Ar" * len(shape), positions=shape.positions * 2.0)
    atoms.center(vacuum=25.0)
    atoms.pbc = False
    return atoms


def write_data(atoms: Atoms, path: Path) -> Path:
    """A LAMMPS data file (metal units, atomic style; ASE handles triclinic cells)."""
    write(
        path,
        atoms,
        format="lammps-data",
        units="metal",
        atom_style="atomic",
        specorder=sorted(set(atoms.get_chemical_symbols())),
    )
    return path


def deck(
    data_file: Path,
    pair_lines: str,
    masses: tuple[float, ...] = (39.948,),
    boundary: str = "p p p",
    extra: str = "",
) -> str:
    """Input lines that read `data_file` and set the pair style (metal units)."""
    mass_lines = "".join(f"mass {i + 1} {m}\n" for i, m in enumerate(masses))
    return (
        f"units metal\nboundary {boundary}\natom_style atomic\natom_modify map array\n"
        f"read_data {data_file}\n{mass_lines}{pair_lines}\n{extra}"
    )


def lmp_bench(
    *args: str, env: dict | None = None, cwd: Path | None = None, timeout: float = 1200
) -> subprocess.CompletedProcess:
    """The lmp-bench CLI in a fresh process, as users run it; `env` adds to os.environ."""
    return subprocess.run(
        [sys.executable, "-m", "lmp_bench.cli", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def water_commands(positions: np.ndarray, length: float, model: Path, folder: Path) -> str:
    """LAMMPS lines: a water frame (O, H, H order, cubic box, metal units) run by `model`
    through pair_style mlff."""
    from lmp_bench.data.water import write_water_frame

    data = write_water_frame(folder / "water.data", positions, length, "atomic")
    return (
        "units metal\nboundary p p p\natom_style atomic\n"
        f"read_data {data}\nmass 1 15.9994\nmass 2 1.008\n"
        f"pair_style mlff {model}\npair_coeff * * O H\n"
    )
