"""SphereNet cut into model contract 3 with edge state (lmp_bench.models.halo), so that it
runs over MPI ranks with ghosts out to one cutoff.

DimeNet++'s pieces (lmp_bench.models.zoo.dimenet_pieces) with SphereNet's triplet gate,
torsion included, summed per atom (lmp_bench.models.zoo.torsion_sums). Owned state between
layers: [S (int_emb * pairs) | the vectors to the three nearest neighbours (9) | energy
so far (1)]; neighbours read all but the energy. The edge features add the harmonics up to
order 2(L - 1) and the edge vector itself (the frames of the torsion). Messages:
[m (hidden) | x (int_emb) | W of the next interaction (int_emb * rows) | D of the edge's
frame (pairs), from layer 2 on], so that neither is computed twice. Same parameters,
same energies as ``SphereNet.forward`` (which keeps the triplet list), to rounding, but
where its torsion reference rule reaches past what the pieces see: three or more of j's
nearest neighbours at exactly the same distance, two at the same distance and angle (a
mirror pair), or the reference on the axis i - j (none of which happens off a lattice).
"""

from __future__ import annotations

import torch

from lmp_bench.models.halo import HaloPieces, neighbour_rows
from lmp_bench.models.zoo.dimenet_pieces import DimeNetEdges, DimeNetFirst, DimeNetLayer
from lmp_bench.models.zoo.torsion_sums import NEAREST, TorsionSums, nearest, torsion_references


def spherenet_pieces(model) -> HaloPieces:
    layers = [SphereNetLayer(model, k) for k in range(len(model.interactions) + 1)]
    hidden = model.embedding.mix.out_features
    int_emb = model.interactions[0].down.out_features if model.interactions else 0
    orders = 2 * model.sbf.num_spherical - 1
    edges = DimeNetEdges(model, orders=orders, vectors=True)
    # on one rank, its own forward: at the small size (3 A, ~9 neighbours) the triplet list
    # is about twice as fast as the per-atom sums, which carry C * 115 values per edge
    return HaloPieces(DimeNetFirst(model), edges, layers, hidden + int_emb, one_graph=model)


class SphereNetLayer(DimeNetLayer):
    def __init__(self, model, k: int):
        super().__init__(model, k)
        self.sums = TorsionSums(self.num_spherical)
        self.harmonic_orders = self.sums.orders
        self.sums_width = self.int_emb * self.sums.num_pairs
        self.nearest_count = NEAREST
        self.halo_width = self.hidden if k == 0 else self.sums_width + 3 * NEAREST

    def read_sums(
        self,
        state: torch.Tensor,
        ghost: torch.Tensor,
        edge_index: torch.Tensor,
        features: torch.Tensor,
        x_reverse: torch.Tensor,
        carried: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The torsion-gated triplet sums; carried: [W of this interaction, from the layer
        before | D of every edge, from layer 2 on]. D depends on the geometry only, so it
        is computed once (layer 2, the first with the neighbours' nearest vectors) and
        carried from then on; the layer passes D on."""
        rows = neighbour_rows(state, ghost)
        sums, near = rows[:, : self.sums_width], rows[:, self.sums_width :]
        weights_width = self.int_emb * self.sums.num_rows
        weights = carried[:, :weights_width].reshape(carried.shape[0], self.int_emb, -1)
        if self.k == 1:
            vectors = features[:, -3:]
            reference = torsion_references(near, edge_index[1], vectors)
            rotations = self.sums.rotations(vectors, reference)
        else:
            rotations = carried[:, weights_width:]
        triplet = self.sums.edge_sums(sums, edge_index[1], rotations, x_reverse, weights)
        return triplet, rotations

    def start_sums(
        self,
        x: torch.Tensor,
        features: torch.Tensor,
        centre: torch.Tensor,
        owned: int,
        carried: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        assert self.starting is not None
        radial = self.radial_part(features)
        zonal = self.starting.triplet_weights(radial)
        weights = self.sums.weights(zonal, self.starting.torsion_weights(radial))
        harmonics = self.harmonics_part(features)
        sums = self.sums.atom_sums(x, weights, harmonics, centre, owned)
        near = nearest(features[:, -3:], centre, owned, self.nearest_count)
        carry = torch.cat([weights.flatten(1), carried], dim=1)
        return torch.cat([sums, near], dim=1), carry
