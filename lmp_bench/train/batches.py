"""Frames of a dataset file -> graph batches, and a model's energies and forces on them.

Several frames form one disjoint graph (node indices offset per frame). Graphs are built
with ASE's neighbour list, the same one lmp_bench.models.graph uses to check LAMMPS.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from lmp_bench.data.frames_file import FrameSet
from lmp_bench.models.graph import neighbor_graph


@dataclass
class Batch:
    species: torch.Tensor  # (N,) model species ids
    edge_index: torch.Tensor  # (2, E)
    edge_vectors: torch.Tensor  # (E, 3) A
    frame_of_atom: torch.Tensor  # (N,)
    energy: torch.Tensor  # (B,) eV
    forces: torch.Tensor  # (N, 3) eV/A
    atoms_per_frame: torch.Tensor  # (B,)


def species_ids(frames: FrameSet, model_species: list[str]) -> np.ndarray:
    """Model species id of every atom; a clear error for elements the model lacks."""
    unknown = sorted(set(frames.species) - set(model_species))
    if unknown:
        raise ValueError(
            f"the dataset has element(s) {unknown} that the model's species {model_species} "
            "do not include: train a model with those species"
        )
    return np.array([model_species.index(s) for s in frames.species])


class GraphCache:
    """Each frame's neighbour graph, built once and kept while the total stays under
    `max_edges` (about 28 bytes an edge); frames beyond that are rebuilt when needed."""

    def __init__(self, frames: FrameSet, cutoff: float, max_edges: int = 50_000_000):
        self.frames, self.cutoff, self.max_edges = frames, cutoff, max_edges
        self.graphs: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self.edges = 0

    def __call__(self, frame: int) -> tuple[torch.Tensor, torch.Tensor]:
        if frame in self.graphs:
            return self.graphs[frame]
        cell = self.frames.cell[frame]
        periodic = bool(np.abs(cell).sum() > 0)  # a molecule's dataset has a zero cell
        graph = neighbor_graph(
            self.frames.positions[frame],
            cell if periodic else None,
            (periodic,) * 3,
            self.cutoff,
        )
        if self.edges + graph[0].shape[1] <= self.max_edges:
            self.graphs[frame] = graph
            self.edges += graph[0].shape[1]
        return graph


def make_batch(
    frames: FrameSet,
    indices: np.ndarray,
    species: np.ndarray,
    graphs: GraphCache,
    dtype: torch.dtype,
    device: str,
) -> Batch:
    parts = []
    offset = 0
    for frame in indices:
        edge_index, vectors = graphs(int(frame))
        parts.append((edge_index + offset, vectors))
        offset += len(species)
    n_frames = len(indices)
    return Batch(
        species=torch.as_tensor(np.tile(species, n_frames), device=device),
        edge_index=torch.cat([p[0] for p in parts], dim=1).to(device),
        edge_vectors=torch.cat([p[1] for p in parts]).to(device, dtype),
        frame_of_atom=torch.arange(n_frames, device=device).repeat_interleave(len(species)),
        energy=torch.as_tensor(frames.energy[indices], device=device, dtype=dtype),
        forces=torch.as_tensor(frames.forces[indices].reshape(-1, 3), device=device, dtype=dtype),
        atoms_per_frame=torch.full((n_frames,), len(species), device=device),
    )


def predict(
    model: torch.nn.Module, batch: Batch, create_graph: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """Energy per frame (B,) and forces (N, 3); conservative forces by autograd through the
    edge vectors (create_graph for training, so the force loss can be differentiated)."""
    vectors = batch.edge_vectors.detach().requires_grad_(True)
    with torch.enable_grad():
        output = model(batch.species, batch.edge_index, vectors)
        if getattr(model, "direct_forces", False):
            atom_energy, forces = output
        else:
            atom_energy = output
            (grad,) = torch.autograd.grad(atom_energy.sum(), vectors, create_graph=create_graph)
            n_atoms = batch.species.shape[0]
            forces = torch.zeros(n_atoms, 3, dtype=grad.dtype, device=grad.device)
            forces = forces.index_add(0, batch.edge_index[0], grad)
            forces = forces.index_add(0, batch.edge_index[1], -grad)
    energy = torch.zeros(len(batch.energy), dtype=atom_energy.dtype, device=atom_energy.device)
    energy = energy.index_add(0, batch.frame_of_atom, atom_energy)
    return energy, forces
