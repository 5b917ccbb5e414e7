"""DimeNet++ cut into model contract 3 with edge state (lmp_bench.models.halo), so that it
runs over MPI ranks with ghosts out to one cutoff.

The triplet sum of each interaction becomes per-atom sums S_j and a read-out per edge
(lmp_bench.models.zoo.angular_sums); the messages stay on the edges of each rank, and S
crosses ranks before each layer but the first. Same parameters, same energies as
``DimeNetPlusPlus.forward`` (which keeps the triplet list), to rounding.

Layer 1: the embedding messages from both atoms' embedding rows, output block 0, and the
per-atom sums of interaction 1. Layer k (2 .. blocks + 1): the rest of interaction k - 1
(read the neighbours' sums, update the messages), output block k - 1, and the sums of
interaction k. Owned state between layers: [S (int_emb * L^2) | energy so far (1)];
messages: [m (hidden) | x (int_emb)], x being what the edge sends into its triplets.
"""

from __future__ import annotations

import torch

from lmp_bench.models.halo import HaloPieces, neighbour_rows
from lmp_bench.models.zoo.angular_sums import TripletSums
from lmp_bench.models.zoo.common import polynomial_envelope, scatter_owned
from lmp_bench.models.zoo.spherical import CartesianHarmonics


def dimenet_pieces(model) -> HaloPieces:
    layers = [DimeNetLayer(model, k) for k in range(len(model.interactions) + 1)]
    hidden = model.embedding.mix.out_features
    int_emb = model.interactions[0].down.out_features if model.interactions else 0
    return HaloPieces(DimeNetFirst(model), DimeNetEdges(model), layers, hidden + int_emb)


class DimeNetFirst(torch.nn.Module):
    """Species embedding rows, ghosts included (the embedding messages read both ends)."""

    def __init__(self, model):
        super().__init__()
        self.species = model.embedding.species

    def forward(self, species: torch.Tensor) -> torch.Tensor:
        return self.species(species)


class DimeNetEdges(torch.nn.Module):
    """Per edge: [e_RBF (K) | spherical-Bessel radial part (L * K) | Y_lm of the edge up to
    order `orders` - 1 | the edge vector (3), if `vectors`]."""

    def __init__(self, model, orders: int = 0, vectors: bool = False):
        super().__init__()
        self.rbf = model.rbf
        self.radial = model.sbf.radial
        self.harmonics = CartesianHarmonics(orders or model.sbf.num_spherical)
        self.cutoff = model.cutoff
        self.envelope_exponent = model.envelope_exponent
        self.vectors = vectors

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor
    ) -> torch.Tensor:
        distance = torch.sqrt((edge_vectors * edge_vectors).sum(-1))
        envelope = polynomial_envelope(distance / self.cutoff, self.envelope_exponent)
        rbf = self.rbf(distance).to(edge_vectors.dtype) * envelope.unsqueeze(-1)
        radial = self.radial(distance).flatten(1)
        parts = [rbf, radial, self.harmonics(edge_vectors)]
        if self.vectors:
            parts.append(edge_vectors)
        return torch.cat(parts, dim=1)


class DimeNetLayer(torch.nn.Module):
    def __init__(self, model, k: int):
        super().__init__()
        blocks = len(model.interactions)
        self.k = k
        self.last = k == blocks
        self.num_radial = model.rbf.frequencies.shape[0]
        self.num_spherical = model.sbf.num_spherical
        self.hidden = model.embedding.mix.out_features
        self.output = model.outputs[k]
        self.sums = TripletSums(self.num_spherical)
        # layer 1 starts the messages; later layers finish interaction k - 1 ...
        self.embedding = model.embedding if k == 0 else None
        self.finishing = model.interactions[k - 1] if k > 0 else None
        # ... and every layer but the last starts interaction k
        self.starting = None if self.last else model.interactions[k]
        self.int_emb = model.interactions[0].down.out_features if blocks else 0
        self.halo_width = self.hidden if k == 0 else self.int_emb * self.num_spherical**2
        self.harmonic_orders = self.num_spherical  # orders of Y_lm in the edge features

    def forward(
        self,
        state: torch.Tensor,
        ghost: torch.Tensor,
        species: torch.Tensor,
        edge_index: torch.Tensor,
        features: torch.Tensor,
        messages: torch.Tensor,
    ):
        owned = state.shape[0]
        centre = edge_index[0]
        rbf = features[:, : self.num_radial]
        # messages: [m (hidden) | x (int_emb) | what a model carries to the next layer]
        carried = messages[:, self.hidden + self.int_emb :]
        if self.embedding is not None:
            rows = torch.cat([state, ghost]).to(features.dtype)
            m = self.embedding.from_rows(rows, edge_index, rbf)
            energy = features.new_zeros(owned)
        else:
            assert self.finishing is not None
            m, x = messages[:, : self.hidden], messages[:, self.hidden : self.hidden + self.int_emb]
            x_reverse = x[edge_index[2]]
            triplet, carried = self.read_sums(
                state, ghost, edge_index, features, x_reverse, carried
            )
            m = self.finishing.update(m, triplet)
            energy = state[:, -1]
        edge_energy = self.output.rbf(rbf) * m
        energy = energy + self.output.energies(scatter_owned(edge_energy, centre, owned))
        if self.starting is None:
            return energy
        x = self.starting.incoming_messages(m, rbf)
        sums, carried = self.start_sums(x, features, centre, owned, carried)
        messages = torch.cat([m, x, carried], dim=1)
        return torch.cat([sums, energy.unsqueeze(-1)], dim=1), messages

    def radial_part(self, features: torch.Tensor) -> torch.Tensor:
        """The spherical-Bessel radial part of each edge (E, L, K)."""
        k_radial = self.num_radial
        radial = features[:, k_radial : k_radial + self.num_spherical * k_radial]
        return radial.reshape(-1, self.num_spherical, k_radial)

    def harmonics_part(self, features: torch.Tensor) -> torch.Tensor:
        start = self.num_radial * (1 + self.num_spherical)
        return features[:, start : start + self.harmonic_orders * self.harmonic_orders]

    def read_sums(
        self,
        state: torch.Tensor,
        ghost: torch.Tensor,
        edge_index: torch.Tensor,
        features: torch.Tensor,
        x_reverse: torch.Tensor,
        carried: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Interaction k - 1's triplet sum of every edge (E, int_emb), from the neighbours'
        per-atom sums; and the columns to carry on (none for DimeNet++)."""
        assert self.finishing is not None
        weights = self.finishing.triplet_weights(self.radial_part(features))
        sums = neighbour_rows(state, ghost)
        harmonics = self.harmonics_part(features)
        triplet = self.sums.edge_sums(sums, edge_index[1], harmonics, x_reverse, weights)
        return triplet.sum(-1), carried

    def start_sums(
        self,
        x: torch.Tensor,
        features: torch.Tensor,
        centre: torch.Tensor,
        owned: int,
        carried: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Interaction k's per-atom sums of the owned atoms (what neighbours read), and the
        columns the messages carry to the next layer."""
        assert self.starting is not None
        weights = self.starting.triplet_weights(self.radial_part(features))
        harmonics = self.harmonics_part(features)
        return self.sums.atom_sums(x, weights, harmonics, centre, owned), carried
