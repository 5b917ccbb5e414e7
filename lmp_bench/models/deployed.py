"""The graph that LAMMPS runs: a model plus forces and virials from its edge gradients.

Inputs and outputs follow ``interface.GRAPH_INPUTS`` / ``GRAPH_OUTPUTS``. Positions and
shifts arrive in float64 and edge vectors are formed before the cast to the model's
dtype: a float32 model then sees relative vectors accurate to float32, not absolute
coordinates rounded to it (1e-6 A at 10 A, which a stiff bond turns into 1e-4 eV/A). These wrappers
are written so that TorchScript can compile them and make_fx can trace them for
AOTInductor, so one definition serves both file formats and Python evaluation.
"""

from __future__ import annotations

import torch


def edge_vectors_of(
    positions: torch.Tensor, edge_index: torch.Tensor, edge_shift: torch.Tensor
) -> torch.Tensor:
    """r_neighbour - r_centre + image shift (E, 3): the true vector of every edge."""
    return (
        positions.index_select(0, edge_index[1])
        - positions.index_select(0, edge_index[0])
        + edge_shift
    )


def derivatives_from_edges(
    atom_energy: torch.Tensor,
    energy_mask: torch.Tensor,
    edge_index: torch.Tensor,
    edge_vectors: torch.Tensor,
    num_nodes: int,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Forces (N,3) and per-atom virials (N,6) of sum(atom_energy[mask]), via dE/d(edge).

    Edge e joins centre i to neighbour j with vector r_j - r_i, so dE/dr_j gets +g_e and
    dE/dr_i gets -g_e. Its virial -r_ij (x) g_e is split half to each end, as LAMMPS does
    for pair styles; the per-atom virials of all nodes sum to the global virial.
    """
    energy = torch.where(energy_mask, atom_energy, torch.zeros_like(atom_energy)).sum()
    grads = torch.autograd.grad([energy], [edge_vectors], allow_unused=True)
    grad = grads[0]
    if grad is None:
        grad = torch.zeros_like(edge_vectors)
    src = edge_index[0]
    dst = edge_index[1]
    forces = torch.zeros(num_nodes, 3, dtype=grad.dtype, device=grad.device)
    forces = forces.index_add(0, src, grad).index_add(0, dst, -grad)
    vec = edge_vectors.detach()
    edge_virial = -0.5 * torch.stack(
        [
            vec[:, 0] * grad[:, 0],
            vec[:, 1] * grad[:, 1],
            vec[:, 2] * grad[:, 2],
            vec[:, 0] * grad[:, 1],
            vec[:, 0] * grad[:, 2],
            vec[:, 1] * grad[:, 2],
        ],
        dim=1,
    )
    atom_virial = torch.zeros(num_nodes, 6, dtype=grad.dtype, device=grad.device)
    atom_virial = atom_virial.index_add(0, src, edge_virial).index_add(0, dst, edge_virial)
    return forces, atom_virial


class ConservativeGraph(torch.nn.Module):
    """Forces = -dE_local/dr by autograd inside the graph (E_local: energies of owned atoms)."""

    def __init__(self, model: torch.nn.Module, dtype: torch.dtype):
        super().__init__()
        self.model = model
        self.dtype = dtype

    def forward(
        self,
        positions: torch.Tensor,
        species: torch.Tensor,
        edge_index: torch.Tensor,
        edge_shift: torch.Tensor,
        nlocal: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # Needs grad mode on (the default in LAMMPS; make_fx traces it under enable_grad).
        nodes = positions.detach()
        edge_vectors = edge_vectors_of(nodes, edge_index, edge_shift).to(self.dtype)
        edge_vectors = edge_vectors.requires_grad_(True)
        atom_energy = self.model(species, edge_index, edge_vectors)
        owned = torch.arange(nodes.shape[0], device=nodes.device) < nlocal
        forces, atom_virial = derivatives_from_edges(
            atom_energy, owned, edge_index, edge_vectors, nodes.shape[0]
        )
        return atom_energy.detach(), forces.detach(), atom_virial.detach()


class DirectForceGraph(torch.nn.Module):
    """Direct-force models: forces come from the model; there is no virial."""

    def __init__(self, model: torch.nn.Module, dtype: torch.dtype):
        super().__init__()
        self.model = model
        self.dtype = dtype

    def forward(
        self,
        positions: torch.Tensor,
        species: torch.Tensor,
        edge_index: torch.Tensor,
        edge_shift: torch.Tensor,
        nlocal: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        edge_vectors = edge_vectors_of(positions, edge_index, edge_shift).to(self.dtype)
        atom_energy, forces = self.model(species, edge_index, edge_vectors)
        atom_virial = torch.zeros(positions.shape[0], 6, dtype=self.dtype, device=positions.device)
        return atom_energy, forces, atom_virial
