"""SchNet (Schuett et al., J. Chem. Phys. 148, 241722 (2018)): continuous-filter convolutions.

Water settings of the benchmark paper: 64 features and filters, 6 interactions, 25
Gaussians, cutoff 6 A. Conservative: forces are -dE/dx (taken by the deployed graph).
"""

from __future__ import annotations

import torch

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
        h: torch.Tensor,
        edge_index: torch.Tensor,
        distance: torch.Tensor,
        expansion: torch.Tensor,
    ) -> torch.Tensor:
        weights = self.filter_network(expansion) * cosine_cutoff(distance, self.cutoff).unsqueeze(
            -1
        )
        messages = self.to_filters(h)[edge_index[1]] * weights
        pooled = scatter_sum(messages, edge_index[0], h.shape[0])
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

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor
    ) -> torch.Tensor:
        distance = torch.sqrt((edge_vectors * edge_vectors).sum(-1))
        expansion = self.expansion(distance).to(edge_vectors.dtype)
        h = self.embedding(species).to(edge_vectors.dtype)
        for interaction in self.interactions:
            h = h + interaction(h, edge_index, distance, expansion)
        return self.readout(h).squeeze(-1)
