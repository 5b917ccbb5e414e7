"""Triplet sums of DimeNet++ and GemNet as per-atom sums, so that they cross MPI ranks as
node features (model contract 3 with edge state, lmp_bench.models.halo).

Both models sum, for each edge (i, j), over the edges (j, k) of its neighbour, k != i:
x_jk[c] w_jk[c, l] Y_l0(angle kji), the angle at j between r_i - r_j and r_k - r_j. By
the addition theorem Y_l0(u . v) = sqrt(4 pi / (2l + 1)) sum_m Y_lm(u) Y_lm(v), so

    sum_k = sum_lm sqrt(4 pi / (2l + 1)) Y_lm(r_i - r_j) S_j[c, lm] - (the k = i term),
    S_j[c, lm] = sum over all edges (j, k) of x_jk[c] w_jk[c, l] Y_lm(r_k - r_j).

S_j is a sum over j's own edges: the rank that owns j computes it, and the halo exchange
brings it to the ranks that hold j as a ghost. The k = i term is the reverse edge (j, i)
at angle 0, where Y_l0 = sqrt((2l + 1) / (4 pi)). No triplet list is formed.
"""

from __future__ import annotations

import math

import torch

from lmp_bench.models.zoo.common import scatter_owned


class TripletSums(torch.nn.Module):
    def __init__(self, num_spherical: int):
        super().__init__()
        orders = [order for order in range(num_spherical) for _ in range(2 * order + 1)]
        self.register_buffer("order_of", torch.tensor(orders, dtype=torch.long))
        # (L^2, L): sum over m within each order, times (-1)^l sqrt(4 pi / (2l + 1)); the
        # sign because the edge (i, j) points from i to j, the angle's arm from j to i.
        reader = torch.zeros(len(orders), num_spherical, dtype=torch.float64)
        for row, order in enumerate(orders):
            reader[row, order] = (-1) ** order * math.sqrt(4 * math.pi / (2 * order + 1))
        self.register_buffer("reader", reader)
        at_zero = [math.sqrt((2 * order + 1) / (4 * math.pi)) for order in range(num_spherical)]
        self.register_buffer("at_zero", torch.tensor(at_zero, dtype=torch.float64))

    def atom_sums(
        self,
        x: torch.Tensor,
        weights: torch.Tensor | None,
        harmonics: torch.Tensor,
        centre: torch.Tensor,
        owned: int,
    ) -> torch.Tensor:
        """S (owned, C * L^2) from x (E, C), weights (E, C, L) or None (all ones) and the
        harmonics of the edge vectors (E, L^2); edges centred on ghosts are left out."""
        values = x.unsqueeze(-1) * harmonics.unsqueeze(1)
        if weights is not None:
            values = values * weights[:, :, self.order_of]
        return scatter_owned(values.flatten(1), centre, owned)

    def edge_sums(
        self,
        sums: torch.Tensor,
        neighbour: torch.Tensor,
        harmonics: torch.Tensor,
        x_reverse: torch.Tensor,
        weights: torch.Tensor | None,
    ) -> torch.Tensor:
        """Per order l, the triplet sum of every edge (E, C, L): `sums` (nodes, C * L^2) are
        S of every node (owned rows, then ghost rows), x_reverse (E, C) is x of each edge's
        reverse and `weights` (E, C, L) the weights at the edge's own length."""
        channels = x_reverse.shape[1]
        gathered = sums.reshape(sums.shape[0], channels, -1)[neighbour]
        out = (gathered * harmonics.unsqueeze(1)) @ self.reader.to(sums.dtype)
        reverse_term = x_reverse.unsqueeze(-1) * self.at_zero.to(sums.dtype)
        if weights is not None:
            reverse_term = reverse_term * weights
        return out - reverse_term
