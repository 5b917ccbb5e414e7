"""A trained model as deployed: the network's output in units of the training labels.

Networks learn normalised targets; this wrapper puts the units back so that the exported
file returns eV and eV/Angstrom: E_i = scale * e_i + shift[species_i], F = scale * f.
"""

from __future__ import annotations

import torch

from lmp_bench.models.halo import HaloPieces, has_halo_pieces


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

    @property
    def halo_pieces(self):
        """Model contract 3 when the network has pieces: the same pieces, the last one's
        output put back into eV (and eV/A)."""
        return self.scaled_pieces if has_halo_pieces(self.model) else None

    def scaled_pieces(self) -> HaloPieces:
        pieces = self.model.halo_pieces()
        wrappers = {  # (direct forces, edge state) -> the last layer's wrapper
            (False, False): ScaledLast,
            (True, False): ScaledLastDirect,
            (False, True): ScaledLastWithMessages,
            (True, True): ScaledLastDirectWithMessages,
        }
        wrap = wrappers[(self.direct_forces, bool(pieces.edge_state_width))]
        last = wrap(pieces.layers[-1], self.scale, self.shifts)
        layers = [*pieces.layers[:-1], last]
        one_graph = self if pieces.one_graph is not None else None
        return HaloPieces(pieces.first, pieces.edge, layers, pieces.edge_state_width, one_graph)


class ScaledLast(torch.nn.Module):
    """The network's last layer with E_i = scale * e_i + shift[species_i] (owned atoms)."""

    def __init__(self, layer: torch.nn.Module, scale: torch.Tensor, shifts: torch.Tensor):
        super().__init__()
        self.layer = layer
        self.halo_width = layer.halo_width
        self.register_buffer("scale", scale)
        self.register_buffer("shifts", shifts)

    def forward(self, state, ghost, species, edge_index, features) -> torch.Tensor:
        return self.energies(self.layer(state, ghost, species, edge_index, features), species)

    def energies(self, energy: torch.Tensor, species: torch.Tensor) -> torch.Tensor:
        return energy * self.scale + self.shifts[species[: energy.shape[0]]]


class ScaledLastDirect(ScaledLast):
    """ScaledLast for direct-force networks: forces scaled too."""

    def forward(self, state, ghost, species, edge_index, features):
        energy, forces = self.layer(state, ghost, species, edge_index, features)
        return self.energies(energy, species), forces * self.scale


class ScaledLastWithMessages(ScaledLast):
    """ScaledLast for edge-state networks (their layers also take the edge messages)."""

    def forward(self, state, ghost, species, edge_index, features, messages) -> torch.Tensor:
        energy = self.layer(state, ghost, species, edge_index, features, messages)
        return self.energies(energy, species)


class ScaledLastDirectWithMessages(ScaledLast):
    """ScaledLastDirect for edge-state networks."""

    def forward(self, state, ghost, species, edge_index, features, messages):
        energy, forces = self.layer(state, ghost, species, edge_index, features, messages)
        return self.energies(energy, species), forces * self.scale
