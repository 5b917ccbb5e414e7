"""Evaluate a model in Python on a periodic or open structure (ASE's neighbour list)."""

from __future__ import annotations

import numpy as np
import torch

from lmp_bench.models.deployed import derivatives_from_edges


def neighbor_graph(
    positions: np.ndarray, cell: np.ndarray | None, pbc: tuple[bool, bool, bool], cutoff: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Edges (2, E) and float64 edge vectors r_j - r_i + image shift (E, 3), Angstrom."""
    from ase import Atoms
    from ase.neighborlist import neighbor_list

    atoms = Atoms(positions=positions, cell=cell if cell is not None else np.zeros((3, 3)), pbc=pbc)
    i, j, d = neighbor_list("ijD", atoms, cutoff)
    edge_index = torch.as_tensor(np.stack([i, j]), dtype=torch.long)
    return edge_index, torch.as_tensor(d, dtype=torch.float64)


def evaluate(
    module: torch.nn.Module,
    positions: np.ndarray,
    species: np.ndarray,
    cell: np.ndarray | None = None,
    pbc: tuple[bool, bool, bool] = (True, True, True),
    dtype: torch.dtype = torch.float64,
    device: str = "cpu",
) -> dict[str, np.ndarray | float]:
    """Energy (eV), forces (eV/A) and global virial (3x3, eV, LAMMPS sign) of a model
    (zero for direct-force models). The module must already be on `device`; the neighbour
    list is built on the CPU."""
    edge_index, vectors = neighbor_graph(positions, cell, pbc, float(module.cutoff))
    edge_index = edge_index.to(device)
    vectors = vectors.to(device, dtype).requires_grad_(True)
    n_atoms = len(positions)
    output = module(torch.as_tensor(species, dtype=torch.long, device=device), edge_index, vectors)
    if getattr(module, "direct_forces", False):
        atom_energy, forces = output  # direct-force models have no virial
        atom_virial = torch.zeros(n_atoms, 6, dtype=dtype, device=device)
    else:
        atom_energy = output
        everything = torch.ones(n_atoms, dtype=torch.bool, device=device)
        forces, atom_virial = derivatives_from_edges(
            atom_energy, everything, edge_index, vectors, n_atoms
        )
    v = atom_virial.sum(0).detach().double().cpu().numpy()
    virial = np.array([[v[0], v[3], v[4]], [v[3], v[1], v[5]], [v[4], v[5], v[2]]])
    return {
        "energy": float(atom_energy.detach().sum()),
        "atom_energy": atom_energy.detach().double().cpu().numpy(),
        "forces": forces.detach().double().cpu().numpy(),
        "virial": virial,
    }
