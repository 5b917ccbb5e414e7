"""SchNet (Schuett et al., J. Chem. Phys. 148, 241722 (2018)): continuous-filter convolutions.

Water settings of the benchmark paper: 64 features and filters, 6 interactions, 25
Gaussians, cutoff 6 A. Conservative: forces are -dE/dx (taken by the deployed graph).
"""

from __future__ import annotations

import torch

from lmp_bench.models.halo import HaloPieces, neighbour_rows, run_pieces
from lmp_bench.models.zoo.common import (
    GaussianSmearing,
    ShiftedSoftplus,
    cosine_cutoff,
    scatter_sum,
)


class Interaction(torch.nn.Module):
    """One interaction block: cfconv with a filter network on the distance expansion."""

    def __init__(self, features: int, filters: int, gaussians: int, cutoff: float):
        super().__init__()
        self.cutoff = cutoff
        self.filter_network = torch.nn.Sequential(
            torch.nn.Linear(gaussians, filters),
            ShiftedSoftplus(),
            torch.nn.Linear(filters, filters),
        )
        self.to_filters = torch.nn.Linear(features, filters, bias=False)
        self.from_filters = torch.nn.Linear(filters, features)
        self.activation = ShiftedSoftplus()
        self.output = torch.nn.Linear(features, features)

    def forward(
        self,
        neighbours: torch.Tensor,
        edge_index: torch.Tensor,
        expansion: torch.Tensor,
        envelope: torch.Tensor,
        owned: int,
    ) -> torch.Tensor:
        """The update of the `owned` atoms' features from `neighbours` = to_filters(h) of
        every node (owned, then ghosts), the edges' distance expansion and envelope (E, 1)."""
        weights = self.filter_network(expansion) * envelope
        pooled = scatter_sum(neighbours[edge_index[1]] * weights, edge_index[0], owned)
        return self.output(self.activation(self.from_filters(pooled)))


class SchNet(torch.nn.Module):
    direct_forces = False

    def __init__(
        self,
        species: list[str],
        features: int = 64,
        filters: int = 64,
        interactions: int = 6,
        gaussians: int = 25,
        cutoff: float = 6.0,
    ):
        super().__init__()
        self.species = list(species)
        self.cutoff = float(cutoff)
        self.num_layers = interactions
        self.embedding = torch.nn.Embedding(len(species), features)
        self.expansion = GaussianSmearing(0.0, cutoff, gaussians)
        self.interactions = torch.nn.ModuleList(
            Interaction(features, filters, gaussians, cutoff) for _ in range(interactions)
        )
        self.readout = torch.nn.Sequential(
            torch.nn.Linear(features, features // 2),
            ShiftedSoftplus(),
            torch.nn.Linear(features // 2, 1),
        )

    @classmethod
    def small(cls, species: list[str], **overrides) -> SchNet:
        settings = {
            "features": 32,
            "filters": 32,
            "interactions": 2,
            "gaussians": 32,
            "cutoff": 4.0,
        }
        return cls(species, **(settings | overrides))

    def halo_pieces(self) -> HaloPieces:
        """Model contract 3: neighbours read to_filters(h), the narrowest per-atom tensor."""
        layers = [SchNetLayer(self, k) for k in range(self.num_layers)]
        return HaloPieces(SchNetFirst(self), SchNetEdges(), layers)

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor
    ) -> torch.Tensor:
        return run_pieces(self.halo_pieces(), species, edge_index, edge_vectors)


# State of an atom between layers: [to_filters_k(h) | h] (filters + features columns).


class SchNetFirst(torch.nn.Module):
    def __init__(self, model: SchNet):
        super().__init__()
        self.embedding = model.embedding
        self.to_filters = model.interactions[0].to_filters

    def forward(self, species: torch.Tensor) -> torch.Tensor:
        h = self.embedding(species)
        return torch.cat([self.to_filters(h), h], dim=1)


class SchNetEdges(torch.nn.Module):
    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor
    ) -> torch.Tensor:
        """The distances (E, 1) only: each layer expands them itself (cheap, fused into the
        filter network), so between the pieces, and in their VJPs, a column crosses
        instead of gaussians + 1."""
        return torch.sqrt((edge_vectors * edge_vectors).sum(-1, keepdim=True))


class SchNetLayer(torch.nn.Module):
    def __init__(self, model: SchNet, k: int):
        super().__init__()
        self.interaction = model.interactions[k]
        self.expansion = model.expansion
        self.cutoff = model.cutoff
        self.filters = self.interaction.to_filters.out_features
        self.halo_width = self.filters
        last = k == model.num_layers - 1
        self.last = last
        # the next layer's per-node linear, or the readout after the last layer
        self.after = model.readout if last else model.interactions[k + 1].to_filters

    def forward(
        self,
        state: torch.Tensor,
        ghost: torch.Tensor,
        species: torch.Tensor,
        edge_index: torch.Tensor,
        edge_features: torch.Tensor,
    ) -> torch.Tensor:
        distance = edge_features[:, 0]
        expansion = self.expansion(distance).to(edge_features.dtype)
        envelope = cosine_cutoff(distance, self.cutoff).unsqueeze(-1)
        neighbours = neighbour_rows(state, ghost)
        h = state[:, self.filters :] + self.interaction(
            neighbours, edge_index, expansion, envelope, state.shape[0]
        )
        if self.last:
            return self.after(h).squeeze(-1)
        return torch.cat([self.after(h), h], dim=1)
