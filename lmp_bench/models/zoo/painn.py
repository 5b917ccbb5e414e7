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

from lmp_bench.models.halo import HaloPieces, neighbour_rows, run_pieces
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
        owned: int,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Messages into the first `owned` nodes (the centres) from all nodes."""
        centre, neighbour = edge_index[0], edge_index[1]
        x = self.context(s)[neighbour] * filters
        gate_v, delta_s, gate_r = torch.split(x, self.features, dim=-1)
        # (E, 3, F): the neighbour's vectors gated per feature, plus the bond direction.
        delta_v = v[neighbour] * gate_v.unsqueeze(1) + gate_r.unsqueeze(1) * unit.unsqueeze(-1)
        return scatter_sum(delta_s, centre, owned), scatter_sum(delta_v, centre, owned)


class Update(torch.nn.Module):
    """Eq. (9)-(11): atom-wise mixing of scalars and vectors (no neighbours involved)."""

    def __init__(self, features: int):
        super().__init__()
        self.features = features
        self.epsilon = NORM_EPSILON
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
        norm = torch.sqrt((vv * vv).sum(1) + self.epsilon)
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

    def halo_pieces(self) -> HaloPieces:
        """Model contract 3: neighbours read s and v (4F numbers), narrower than the 6F of
        context(s) and v that the message multiplies."""
        layers = [PaiNNLayer(self, k) for k in range(self.interactions)]
        return HaloPieces(PaiNNFirst(self), PaiNNEdges(self), layers)

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor
    ) -> torch.Tensor:
        return run_pieces(self.halo_pieces(), species, edge_index, edge_vectors)


# State of an atom between layers: [s | v flattened (3, F)], 4F columns.


class PaiNNFirst(torch.nn.Module):
    def __init__(self, model: PaiNN):
        super().__init__()
        self.embedding = model.embedding

    def forward(self, species: torch.Tensor) -> torch.Tensor:
        s = self.embedding(species)
        return torch.cat([s, s.new_zeros((s.shape[0], 3 * s.shape[1]))], dim=1)


class PaiNNEdges(torch.nn.Module):
    """[unit bond vector (3) | the filters of every layer (3F each), envelope applied]."""

    def __init__(self, model: PaiNN):
        super().__init__()
        self.radial = model.radial
        self.filters = model.filters
        self.cutoff = model.cutoff

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor
    ) -> torch.Tensor:
        distance = torch.sqrt((edge_vectors * edge_vectors).sum(-1))
        unit = edge_vectors / distance.unsqueeze(-1)
        envelope = cosine_cutoff(distance, self.cutoff).unsqueeze(-1)
        filters = self.filters(self.radial(distance).to(edge_vectors.dtype)) * envelope
        return torch.cat([unit, filters], dim=1)


class PaiNNLayer(torch.nn.Module):
    def __init__(self, model: PaiNN, k: int):
        super().__init__()
        self.features = model.features
        self.halo_width = 4 * model.features
        set_index = 0 if model.shared_filters else k
        self.filter_columns = (3 + 3 * model.features * set_index, 3 * model.features)
        self.message = model.messages[k]
        self.update = model.updates[k]
        self.last = k == model.interactions - 1
        self.readout = model.readout

    def forward(
        self,
        state: torch.Tensor,
        ghost: torch.Tensor,
        species: torch.Tensor,
        edge_index: torch.Tensor,
        edge_features: torch.Tensor,
    ) -> torch.Tensor:
        f = self.features
        nodes = neighbour_rows(state, ghost)
        s_all, v_all = nodes[:, :f], nodes[:, f:].reshape(-1, 3, f)
        start, width = self.filter_columns
        filters = edge_features[:, start : start + width]
        owned = state.shape[0]
        ds, dv = self.message(s_all, v_all, edge_index, filters, edge_features[:, :3], owned)
        s = s_all[:owned] + ds
        v = v_all[:owned] + dv
        ds, dv = self.update(s, v)
        s, v = s + ds, v + dv
        if self.last:
            return self.readout(s).squeeze(-1)
        return torch.cat([s, v.reshape(owned, 3 * f)], dim=1)
