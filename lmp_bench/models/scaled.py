"""A trained model as deployed: the network's output in units of the training labels.

Networks learn normalised targets; this wrapper puts the units back so that the exported
file returns eV and eV/Angstrom: E_i = scale * e_i + shift[species_i], F = scale * f.
"""

from __future__ import annotations

import torch


class ScaledModel(torch.nn.Module):
    def __init__(self, model: torch.nn.Module, scale: float, shifts: list[float]):
        super().__init__()
        if len(shifts) != len(model.species):
            raise ValueError(f"{len(shifts)} energy shifts for {len(model.species)} species")
        self.model = model
        self.species = list(model.species)
        self.cutoff = float(model.cutoff)
        self.num_layers = int(model.num_layers)
        self.direct_forces = bool(getattr(model, "direct_forces", False))
        self.register_buffer("scale", torch.tensor(float(scale), dtype=torch.float64))
        self.register_buffer("shifts", torch.tensor(shifts, dtype=torch.float64))

    def forward(self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor):
        output = self.model(species, edge_index, edge_vectors)
        if self.direct_forces:
            energy, forces = output
            return energy * self.scale + self.shifts[species], forces * self.scale
        return output * self.scale + self.shifts[species]
