"""PaiNN (Schuett, Unke, Gastegger, ICML 2021, arXiv:2102.03150): equivariant message passing.

Every atom carries invariant scalar features s_i (F) and equivariant vector features
v_i (3 x F, zero at the start). A message block gathers, from each neighbour, filtered
scalars and two kinds of vectors (the neighbour's vectors gated by a filter, and the
unit bond vector scaled by a filter); an update block then mixes scalars and vectors
inside each atom through U v, V v, the norms |V v| and the scalar products <U v, V v>.
Energies are read out from the scalars, so they are rotation invariant by construction.

Settings of the PaiNN paper (the benchmark's settings): 128 features, 3 interaction
(message + update) layers, 20 radial functions sin(n pi r / rc) / r, cosine cutoff 5 A,
filters not shared between layers (``shared_filters`` shares them). Conservative: forces
are -dE/dx (taken by the deployed graph).
"""

from __future__ import annotations

import torch

from lmp_bench.models.zoo.common import BesselBasis, cosine_cutoff, scatter_sum

# Inside the square root of vector norms: the gradient of sqrt at 0 is infinite, and the
# vector features are exactly zero before the first message (and in symmetric sites).
NORM_EPSILON = 1e-8


class Message(torch.nn.Module):
    """Eq. (7)-(8): scalar and vector messages from neighbours, filtered by the distance."""

    def __init__(self, features: int):
        super().__init__()
        self.features = features
        self.context = torch.nn.Sequential(
            torch.nn.Linear(features, features),
            torch.nn.SiLU(),
            torch.nn.Linear(features, 3 * features),
        )

    def forward(
        self,
        s: torch.Tensor,
        v: torch.Tensor,
        edge_index: torch.Tensor,
        filters: torch.Tensor,
        unit: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        centre, neighbour = edge_index[0], edge_index[1]
        x = self.context(s)[neighbour] * filters
        gate_v, delta_s, gate_r = torch.split(x, self.features, dim=-1)
        # (E, 3, F): the neighbour's vectors gated per feature, plus the bond direction.
        delta_v = v[neighbour] * gate_v.unsqueeze(1) + gate_r.unsqueeze(1) * unit.unsqueeze(-1)
        n_atoms = s.shape[0]
        return scatter_sum(delta_s, centre, n_atoms), scatter_sum(delta_v, centre, n_atoms)


class Update(torch.nn.Module):
    """Eq. (9)-(11): atom-wise mixing of scalars and vectors (no neighbours involved)."""

    def __init__(self, features: int):
        super().__init__()
        self.features = features
        self.mix_u = torch.nn.Linear(features, features, bias=False)
        self.mix_v = torch.nn.Linear(features, features, bias=False)
        self.gates = torch.nn.Sequential(
            torch.nn.Linear(2 * features, features),
            torch.nn.SiLU(),
            torch.nn.Linear(features, 3 * features),
        )

    def forward(self, s: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        uv = self.mix_u(v)  # Linear acts on the feature axis, so it commutes with rotations
        vv = self.mix_v(v)
        norm = torch.sqrt((vv * vv).sum(1) + NORM_EPSILON)
        a = self.gates(torch.cat([s, norm], dim=-1))
        a_vv, a_sv, a_ss = torch.split(a, self.features, dim=-1)
        delta_v = a_vv.unsqueeze(1) * uv
        delta_s = a_ss + a_sv * (uv * vv).sum(1)
        return delta_s, delta_v


class PaiNN(torch.nn.Module):
    direct_forces = False

    def __init__(
        self,
        species: list[str],
        features: int = 128,
        interactions: int = 3,
        radial: int = 20,
        shared_filters: bool = False,
        cutoff: float = 5.0,
    ):
        super().__init__()
        self.species = list(species)
        self.cutoff = float(cutoff)
        self.num_layers = interactions
        self.features = features
        self.interactions = interactions
        self.shared_filters = shared_filters
        self.embedding = torch.nn.Embedding(len(species), features)
        self.radial = BesselBasis(cutoff, radial)
        # One linear map of the radial basis gives the 3F filters of every layer at once
        # (or of one layer, reused by all, when shared).
        filter_sets = 1 if shared_filters else interactions
        self.filters = torch.nn.Linear(radial, filter_sets * 3 * features)
        self.messages = torch.nn.ModuleList(Message(features) for _ in range(interactions))
        self.updates = torch.nn.ModuleList(Update(features) for _ in range(interactions))
        self.readout = torch.nn.Sequential(
            torch.nn.Linear(features, features // 2),
            torch.nn.SiLU(),
            torch.nn.Linear(features // 2, 1),
        )

    @classmethod
    def small(cls, species: list[str], **overrides) -> PaiNN:
        settings = {"features": 16, "interactions": 2, "radial": 8, "cutoff": 4.0}
        return cls(species, **(settings | overrides))

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor
    ) -> torch.Tensor:
        dtype = edge_vectors.dtype
        distance = torch.sqrt((edge_vectors * edge_vectors).sum(-1))
        unit = edge_vectors / distance.unsqueeze(-1)
        envelope = cosine_cutoff(distance, self.cutoff).unsqueeze(-1)
        filters = self.filters(self.radial(distance).to(dtype)) * envelope
        filter_sets = torch.split(filters, 3 * self.features, dim=-1)

        s = self.embedding(species).to(dtype)
        v = torch.zeros(s.shape[0], 3, self.features, dtype=dtype, device=s.device)
        for layer in range(self.interactions):
            w = filter_sets[0 if self.shared_filters else layer]
            ds, dv = self.messages[layer](s, v, edge_index, w, unit)
            s, v = s + ds, v + dv
            ds, dv = self.updates[layer](s, v)
            s, v = s + ds, v + dv
        return self.readout(s).squeeze(-1)
