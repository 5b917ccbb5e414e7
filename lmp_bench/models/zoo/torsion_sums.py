"""SphereNet's triplet sums as per-atom sums, so that they cross MPI ranks as node features
(model contract 3 with edge state, lmp_bench.models.halo).

SphereNet gates the triplet k -> j -> i of channel c by a[c] b[c], where
a = sum_l A[c, l](d_jk) Y_l0(theta) and b = sum_lm B[c, lm](d_jk) Y_lm(theta, phi) are read in
the frame of the pair (i, j): z along r_i - r_j, x towards the torsion reference of j (its
nearest neighbour other than i, lmp_bench.models.zoo.spherenet). Both are polynomials in the
unit vector u of r_k - r_j written in that frame, so their product expands exactly in the
real harmonics Y_LM(u), L <= 2 L_max, with M = m (Y_l0 has no azimuth; Gaunt
coefficients, fitted once). A rotation R_ij into the frame acts on each order L by a
Wigner matrix, Y_LM(R v) = sum_M' D^L_MM'(R) Y_LM'(v), so

    sum_k x_jk[c] a[c] b[c] = sum_LMM' D^L_MM'(R_ij) S_j[c, L, M, M'] - (the k = i term),
    S_j[c, L, M, M'] = sum over all edges (j, k) of x_jk[c] W_jk[c, L, M] Y_LM'(r_k - r_j),

W being the Gaunt-expanded product weights. S_j is a sum over j's own edges (its owner
computes it; the halo exchange brings it to ranks holding j as a ghost), and so are the
vectors to j's nearest neighbours, from which each edge (i, j) takes its reference. The
k = i term is the reverse edge, along z. No triplet list is formed. D^L(R) comes from
harmonics at a few fixed directions: Y_L(R P) = D^L Y_L(P).

The reference rule (nearest neighbour of j other than i; of two at exactly the same
distance, the one closer to the axis) needs j's three nearest neighbours, so their vectors
cross ranks with S.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from lmp_bench.models.zoo.common import scatter_owned
from lmp_bench.models.zoo.spherical import CartesianHarmonics

SAMPLE_DIRECTIONS = 12  # fixed directions P (Fibonacci sphere) that determine D^L for L <= 4


def fibonacci_sphere(count: int) -> np.ndarray:
    """`count` well-spread unit vectors (count, 3)."""
    k = np.arange(count) + 0.5
    z = 1.0 - 2.0 * k / count
    azimuth = math.pi * (1.0 + math.sqrt(5.0)) * k
    radius = np.sqrt(1.0 - z * z)
    return np.stack([radius * np.cos(azimuth), radius * np.sin(azimuth), z], axis=1)


def harmonic_index(order: int, m: int) -> int:
    """Column of Y_{order, m} in CartesianHarmonics' (l, m) order."""
    return order * order + order + m


class TorsionSums(torch.nn.Module):
    """The per-atom sums S, the Wigner matrices of the edge frames and the read-out.

    Layout of S per atom and of D per edge: blocks by order L, each (C, rows of L, 2L + 1)
    for S and (rows of L, 2L + 1) for D, rows (L, M) with |M| <= L_max."""

    def __init__(self, num_spherical: int):
        super().__init__()
        self.num_spherical = num_spherical
        reach = num_spherical - 1
        self.orders = 2 * reach + 1  # highest order of a product Y_l0 Y_l'm', plus one
        self.harmonics = CartesianHarmonics(self.orders)
        rows = [
            (order, m)
            for order in range(self.orders)
            for m in range(-min(order, reach), min(order, reach) + 1)
        ]
        self.num_rows = len(rows)
        # per order L: its rows [row_first, row_end) and its first kept M among 2L + 1
        self.row_first = [rows.index((o, -min(o, reach))) for o in range(self.orders)]
        self.row_end = [rows.index((o, min(o, reach))) + 1 for o in range(self.orders)]
        self.kept_first = [o - min(o, reach) for o in range(self.orders)]
        self.num_pairs = sum((2 * order + 1) for order, _ in rows)
        self.register_buffer("gaunt", torch.tensor(self._gaunt(rows), dtype=torch.float64))
        on_axis = [math.sqrt((2 * o + 1) / (4 * math.pi)) if m == 0 else 0.0 for o, m in rows]
        self.register_buffer("on_axis", torch.tensor(on_axis, dtype=torch.float64))
        # D^L = Y_L(R P) pinv(Y_L(P)): per order L, columns L^2 .. (L + 1)^2 of `inverse`
        points = fibonacci_sphere(SAMPLE_DIRECTIONS)
        at_points = self._harmonics_np(points)  # (P, orders^2)
        inverse = np.zeros_like(at_points)
        for order in range(self.orders):
            block = slice(order * order, (order + 1) ** 2)
            inverse[:, block] = np.linalg.pinv(at_points[:, block].T)
        self.register_buffer("inverse", torch.tensor(inverse, dtype=torch.float64))
        self.register_buffer("points", torch.tensor(points, dtype=torch.float64))

    def _harmonics_np(self, vectors: np.ndarray) -> np.ndarray:
        return self.harmonics(torch.tensor(vectors, dtype=torch.float64)).numpy()

    def _gaunt(self, rows: list[tuple[int, int]]) -> np.ndarray:
        """(L * L^2, rows): Y_l0 Y_l'm' = sum over rows (L, M) of gaunt[(l, l'm'), (L, M)]
        Y_LM, fitted by least squares on random directions (exact: the product is a
        polynomial of degree l + l' on the sphere). Mostly zeros, but a dense matrix
        product is the fastest form compiled."""
        directions = np.random.default_rng(7).normal(size=(400, 3))
        values = self._harmonics_np(directions)
        small = self.num_spherical
        zonal = values[:, [harmonic_index(order, 0) for order in range(small)]]
        products = (zonal[:, :, None] * values[:, None, : small * small]).reshape(400, -1)
        basis = values[:, [harmonic_index(order, m) for order, m in rows]]
        coefficients, *_ = np.linalg.lstsq(basis, products, rcond=None)
        coefficients[np.abs(coefficients) < 1e-12] = 0.0
        return coefficients.T

    def weights(self, zonal: torch.Tensor, torsion: torch.Tensor) -> torch.Tensor:
        """W (E, C, rows) from the gate weights per order, zonal (E, C, L), and per (l, m),
        torsion (E, C, L^2)."""
        products = (zonal.unsqueeze(-1) * torsion.unsqueeze(-2)).flatten(2)
        return products @ self.gaunt.to(zonal.dtype)

    def atom_sums(
        self,
        x: torch.Tensor,
        weights: torch.Tensor,
        harmonics: torch.Tensor,
        centre: torch.Tensor,
        owned: int,
    ) -> torch.Tensor:
        """S (owned, C * pairs) from x (E, C), W (E, C, rows) and the harmonics of the
        edge vectors (E, orders^2); edges centred on ghosts are left out."""
        weighted = x.unsqueeze(-1) * weights
        blocks = []
        for order in range(self.orders):
            rows = weighted[:, :, self.row_first[order] : self.row_end[order]]
            block = harmonics[:, order * order : (order + 1) * (order + 1)]
            outer = rows.unsqueeze(-1) * block.unsqueeze(1).unsqueeze(1)
            summed = scatter_owned(outer.flatten(1), centre, owned)
            blocks.append(summed.reshape(owned, x.shape[1], -1))
        return torch.cat(blocks, dim=2).flatten(1)

    def rotations(self, edge_vectors: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
        """D (E, pairs) of each edge's frame: z along -edge_vectors (r_i - r_j), x along
        the part of `reference` (r_r - r_j) normal to z; any normal if there is none."""
        z = -edge_vectors / torch.sqrt((edge_vectors * edge_vectors).sum(-1, keepdim=True))
        normal = reference - (reference * z).sum(-1, keepdim=True) * z
        norm_sq = (normal * normal).sum(-1, keepdim=True)
        # no reference off the axis (no other neighbour, or collinear): a fixed normal
        helper = torch.where(
            torch.abs(z[:, :1]) < 0.9,
            torch.tensor([1.0, 0.0, 0.0], dtype=z.dtype, device=z.device).expand_as(z),
            torch.tensor([0.0, 1.0, 0.0], dtype=z.dtype, device=z.device).expand_as(z),
        )
        fallback = helper - (helper * z).sum(-1, keepdim=True) * z
        degenerate = norm_sq < 1e-20
        normal = torch.where(degenerate, fallback, normal)
        x = normal / torch.sqrt((normal * normal).sum(-1, keepdim=True))
        y = torch.linalg.cross(z, x)
        frame = torch.stack([x, y, z], dim=1)  # rows: the frame's axes
        rotated = torch.einsum("eij,pj->epi", frame, self.points.to(frame.dtype))
        at_rotated = self.harmonics(rotated.reshape(-1, 3)).reshape(
            frame.shape[0], self.points.shape[0], -1
        )
        blocks = []
        for order in range(self.orders):
            start = order * order
            rows = self.row_end[order] - self.row_first[order]
            kept = at_rotated[:, :, start + self.kept_first[order] :][:, :, :rows]
            inverse = self.inverse[:, start : start + 2 * order + 1].to(frame.dtype)
            blocks.append(torch.einsum("epm,pn->emn", kept, inverse).flatten(1))
        return torch.cat(blocks, dim=1)

    def edge_sums(
        self,
        sums: torch.Tensor,
        neighbour: torch.Tensor,
        rotations: torch.Tensor,
        x_reverse: torch.Tensor,
        weights: torch.Tensor,
    ) -> torch.Tensor:
        """The triplet sum of every edge (E, C): `sums` (nodes, C * pairs) are S of every
        node (owned rows, then ghost rows), x_reverse (E, C) is x of each edge's reverse
        and `weights` (E, C, rows) W at the edge's own length."""
        channels = x_reverse.shape[1]
        gathered = sums.index_select(0, neighbour).reshape(neighbour.shape[0], channels, -1)
        out = (gathered * rotations.unsqueeze(1)).sum(-1)
        return out - x_reverse * (weights @ self.on_axis.to(weights.dtype))


NEAREST = 3  # neighbours per atom that the torsion references are chosen from


def nearest(
    edge_vectors: torch.Tensor, centre: torch.Tensor, owned: int, count: int
) -> torch.Tensor:
    """(owned, 3 * count): the vectors to each owned atom's `count` nearest neighbours, nearest
    first (zeros where there are fewer). An exact tie in distance goes to the lower edge
    index. The choice is discrete (detached); the gradient flows through the vectors."""
    num_edges = edge_vectors.shape[0]
    length = torch.sqrt((edge_vectors.detach() * edge_vectors.detach()).sum(-1))
    index = torch.where(centre < owned, centre, torch.full_like(centre, owned))
    edge_ids = torch.arange(num_edges, device=centre.device)
    none = num_edges  # the index of an appended zero vector
    padded = torch.cat([edge_vectors, edge_vectors.new_zeros((1, 3))])
    chosen = []
    for _ in range(count):
        inf = torch.full((owned + 1,), float("inf"), dtype=length.dtype, device=length.device)
        shortest = inf.scatter_reduce(0, index, length, "amin")
        candidate = torch.where(
            (length == shortest[index]) & torch.isfinite(length),
            edge_ids,
            torch.full_like(edge_ids, none),
        )
        first = torch.full((owned + 1,), none, dtype=torch.long, device=centre.device)
        pick = first.scatter_reduce(0, index, candidate, "amin")
        chosen.append(padded[pick[:owned]])
        picked = torch.zeros(num_edges + 1, dtype=torch.bool, device=centre.device)
        picked[pick] = True
        length = torch.where(picked[:num_edges], torch.full_like(length, float("inf")), length)
    return torch.cat(chosen, dim=1)


def _points_back(vector: torch.Tensor, edge_vectors: torch.Tensor) -> torch.Tensor:
    """(E, 1): whether r_n - r_j (`vector`) leads back to i, r_n - r_j + r_j - r_i = 0
    (to 1e-5 A: two atoms are never that close)."""
    gap = (vector + edge_vectors).detach()
    return (gap * gap).sum(-1, keepdim=True) < 1e-10


def torsion_references(
    near: torch.Tensor, neighbour: torch.Tensor, edge_vectors: torch.Tensor
) -> torch.Tensor:
    """(E, 3): for each edge (i, j), the vector from j to its nearest neighbour other than
    i, from `near` (nodes, 3 * NEAREST) of every node; between two at exactly the same
    distance, the one closer to the axis r_i - r_j (SphereNet's rule)."""
    rows = near.index_select(0, neighbour)
    n1, n2, n3 = rows[:, 0:3], rows[:, 3:6], rows[:, 6:9]
    first_is_i = _points_back(n1, edge_vectors)
    c1 = torch.where(first_is_i, n2, n1)
    c2 = torch.where(first_is_i | _points_back(n2, edge_vectors), n3, n2)
    axis = -edge_vectors.detach()
    axis_length = torch.sqrt((axis * axis).sum(-1))
    d1 = torch.sqrt((c1.detach() * c1.detach()).sum(-1))
    d2 = torch.sqrt((c2.detach() * c2.detach()).sum(-1))
    cos1 = (axis * c1.detach()).sum(-1) / (d1 * axis_length)
    cos2 = (axis * c2.detach()).sum(-1) / (d2 * axis_length)
    second = (d1 == d2) & (d1 > 0) & (cos2 > cos1)
    return torch.where(second.unsqueeze(-1), c2, c1)
