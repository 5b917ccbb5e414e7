"""Test structures written as LAMMPS data files (seeded NumPy, so every rank count reads
the same atoms; LAMMPS's own `displace_atoms random` depends on the number of ranks)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
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


class BondSprings(torch.nn.Module):
    """Morse springs between element pairs closer than their bond length + 0.5 A (in
    ethanol and alanine dipeptide only bonded pairs are), other pairs (H-H) purely
    repulsive: keeps a molecule whole at 300-500 K, a stand-in for a trained model.
    `depth` 0 leaves only the repulsion: the molecule falls apart."""

    R0 = {("C", "C"): 1.52, ("C", "H"): 1.09, ("C", "O"): 1.43, ("H", "O"): 0.96}

    def __init__(self, depth: float = 4.0, species=("C", "H", "O"), r0: dict | None = None):
        super().__init__()
        self.species, self.num_layers = list(species), 1
        n = len(self.species)
        table = r0 or self.R0
        r0 = torch.ones(n, n, dtype=torch.float64)  # unlisted pairs: repulsion from 1 A
        well = torch.zeros(n, n, dtype=torch.float64)
        for (a, b), length in table.items():
            i, j = self.species.index(a), self.species.index(b)
            r0[i, j] = r0[j, i] = length
            well[i, j] = well[j, i] = depth
        self.cutoff = float(r0.max()) + 0.5
        self.register_buffer("r0", r0)
        self.register_buffer("well", well)

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor
    ) -> torch.Tensor:
        r = torch.sqrt((edge_vectors * edge_vectors).sum(1))
        a, b = species[edge_index[0]], species[edge_index[1]]
        r0 = self.r0[a, b]
        morse = self.well[a, b] * ((1 - torch.exp(-1.5 * (r - r0))) ** 2 - 1)
        repulsion = torch.exp(-4.0 * (r - r0)) * (self.well[a, b] == 0)
        # 1 up to r0 + 0.25 A, smoothly to 0 at r0 + 0.5 A (each pair type's own cutoff); a
        # gentle switch keeps 2-fs Verlet steps stable
        x = torch.clamp((r - r0 - 0.25) / 0.25, 0.0, 1.0)
        pair = (morse + repulsion) * 0.5 * (torch.cos(torch.pi * x) + 1)
        out = torch.zeros(species.shape[0], dtype=pair.dtype, device=pair.device)
        return out.index_add(0, edge_index[0], 0.5 * pair)


def alanine_dataset(folder: Path) -> Path:
    """30 frames of the built C7eq alanine dipeptide with 0.02 A noise (a stand-in's
    stand-in): train 20, val 2, test 8."""
    from lmp_bench.data.alanine import SPECIES, build_positions
    from lmp_bench.data.frames_file import FrameSet, write_frames

    rng = np.random.default_rng(3)
    positions = build_positions() + rng.normal(scale=0.02, size=(30, 22, 3))
    frames = FrameSet(
        species=SPECIES.copy(),
        cell=np.zeros((30, 3, 3)),
        positions=positions,
        unwrapped_positions=positions,
        velocities=np.zeros((30, 22, 3)),
        forces=np.zeros((30, 22, 3)),
        energy=np.zeros(30),
        time=np.arange(30.0),
        splits={"train": np.arange(20), "val": np.arange(20, 22), "test": np.arange(22, 30)},
        attributes={"system": "alanine"},
    )
    return write_frames(frames, folder / "ala.h5")


def min_atoms_per_rank(log: str) -> int:
    """The 'min' of LAMMPS's 'Nlocal: <ave> ave <max> max <min> min' summary line."""
    line = next(line for line in log.splitlines() if line.startswith("Nlocal:"))
    return int(float(line.split()[5]))
