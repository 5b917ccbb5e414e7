"""Building blocks shared by the model zoo: scatter, radial bases, envelopes, triplets.

Everything works on the edge list of the model interface (lmp_bench.models.interface):
edge e points from centre ``edge_index[0, e]`` to neighbour ``edge_index[1, e]`` with
vector ``edge_vectors[e] = r_neighbour - r_centre`` (Angstrom). Written with plain torch
ops so that models trace for AOTInductor with dynamic atom, edge and triplet counts.
"""

from __future__ import annotations

import math

import torch


def scatter_sum(values: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    """Sum rows of `values` into `size` rows by `index` (torch_scatter's scatter_add)."""
    shape = list(values.shape)
    shape[0] = size
    return values.new_zeros(shape).index_add(0, index, values)


def scatter_owned(values: torch.Tensor, centre: torch.Tensor, owned: int) -> torch.Tensor:
    """Sum rows of `values` into the `owned` atoms they are centred on; rows centred on
    ghost atoms (index >= owned) are dropped."""
    index = torch.where(centre < owned, centre, torch.full_like(centre, owned))
    return scatter_sum(values, index, owned + 1)[:owned]


def cosine_cutoff(distance: torch.Tensor, cutoff: float) -> torch.Tensor:
    """SchNet/PaiNN cutoff: 0.5 (cos(pi r / rc) + 1) inside rc, 0 outside."""
    inside = (distance < cutoff).to(distance.dtype)
    return 0.5 * (torch.cos(distance * math.pi / cutoff) + 1.0) * inside


def polynomial_envelope(scaled: torch.Tensor, exponent: int) -> torch.Tensor:
    """DimeNet's smooth envelope u(d) of d = r / rc (exponent p): 1 at 0, C2-smooth 0 at 1."""
    p = exponent + 1
    a = -(p + 1) * (p + 2) / 2.0
    b = p * (p + 2)
    c = -p * (p + 1) / 2.0
    value = 1.0 + a * scaled**p + b * scaled ** (p + 1) + c * scaled ** (p + 2)
    return torch.where(scaled < 1.0, value, torch.zeros_like(value))


class GaussianSmearing(torch.nn.Module):
    """Gaussians exp(-(r - mu_k)^2 / (2 w^2)) on n evenly spaced centres in [start, stop]."""

    def __init__(self, start: float, stop: float, num: int):
        super().__init__()
        centres = torch.linspace(start, stop, num, dtype=torch.float64)
        self.register_buffer("centres", centres)
        self.coefficient = -0.5 / float(centres[1] - centres[0]) ** 2

    def forward(self, distance: torch.Tensor) -> torch.Tensor:
        diff = distance.unsqueeze(-1) - self.centres
        return torch.exp(self.coefficient * diff * diff)


class BesselBasis(torch.nn.Module):
    """sqrt(2/rc) sin(n pi r / rc) / r, n = 1..num (DimeNet, PaiNN); optionally trainable."""

    def __init__(self, cutoff: float, num: int, trainable: bool = False):
        super().__init__()
        frequencies = torch.arange(1, num + 1, dtype=torch.float64) * math.pi / cutoff
        if trainable:
            self.frequencies = torch.nn.Parameter(frequencies)
        else:
            self.register_buffer("frequencies", frequencies)
        self.prefactor = math.sqrt(2.0 / cutoff)

    def forward(self, distance: torch.Tensor) -> torch.Tensor:
        r = distance.unsqueeze(-1)
        return self.prefactor * torch.sin(self.frequencies * r) / r


class ShiftedSoftplus(torch.nn.Module):
    """softplus(x) - log 2 (SchNet's activation: zero at zero)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.softplus(x) - math.log(2.0)


def triplets(
    edge_index: torch.Tensor, edge_vectors: torch.Tensor, num_nodes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pairs of edges (e_in, e_out) that form a path k -> j -> i for angle-based models.

    ``e_out`` is an edge centred on atom i with neighbour j; ``e_in`` an edge centred on j
    with neighbour k, k != i (k = i only through another periodic image). The angle at j
    is between r_i - r_j = ``-edge_vectors[e_out]`` and r_k - r_j = ``edge_vectors[e_in]``.
    The triplet count is data-dependent; torch.export keeps it symbolic.
    """
    centre, neighbour = edge_index[0], edge_index[1]
    num_edges = centre.shape[0]
    order = torch.argsort(centre, stable=True)
    counts = torch.zeros(num_nodes, dtype=torch.long, device=centre.device)
    counts = counts.index_add(0, centre, torch.ones_like(centre))
    starts = torch.cumsum(counts, 0) - counts
    per_edge = counts[neighbour]
    e_out = torch.repeat_interleave(torch.arange(num_edges, device=centre.device), per_edge)
    first = torch.cumsum(per_edge, 0) - per_edge
    position = torch.arange(e_out.shape[0], device=centre.device) - first[e_out]
    e_in = order[starts[neighbour[e_out]] + position]
    back = (neighbour[e_in] == centre[e_out]) & (
        (edge_vectors[e_in] + edge_vectors[e_out]).abs().sum(-1) < 1e-6
    )
    keep = ~back
    return e_in[keep], e_out[keep]


def reverse_edges(
    edge_index: torch.Tensor, edge_vectors: torch.Tensor, num_nodes: int
) -> torch.Tensor:
    """Index of the reverse of every edge: centre and neighbour swapped, vector negated.

    Periodic images give several edges between the same two atoms; the vector picks the
    right one. An edge without exactly one reverse (only at the rim of a ghost region,
    beyond the receptive field) maps to itself.
    """
    centre, neighbour = edge_index[0], edge_index[1]
    num_edges = centre.shape[0]
    key = centre * num_nodes + neighbour
    order = torch.argsort(key)
    sorted_key = key[order]
    wanted = neighbour * num_nodes + centre
    low = torch.searchsorted(sorted_key, wanted)
    count = torch.searchsorted(sorted_key, wanted, right=True) - low
    edges = torch.arange(num_edges, device=centre.device)
    edge = torch.repeat_interleave(edges, count)
    first = torch.cumsum(count, 0) - count
    candidate = order[low[edge] + torch.arange(edge.shape[0], device=centre.device) - first[edge]]
    match = ((edge_vectors[candidate] + edge_vectors[edge]).abs().sum(-1) < 1e-3).long()
    total = torch.zeros_like(edges).index_add(0, edge, candidate * match)
    matches = torch.zeros_like(edges).index_add(0, edge, match)
    return torch.where(matches == 1, total, edges)


def angle_between(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Angle (rad) between rows of a and b, via atan2 (accurate near 0 and pi)."""
    cross = torch.linalg.cross(a, b)
    sin = torch.sqrt((cross * cross).sum(-1) + 1e-12)
    cos = (a * b).sum(-1)
    return torch.atan2(sin, cos)


def legendre(cos_angle: torch.Tensor, degree: int) -> torch.Tensor:
    """Legendre polynomials P_0..P_{degree-1} of cos(angle), (..., degree), by recurrence.

    Real spherical harmonics with m = 0 are sqrt((2l+1)/(4 pi)) P_l(cos theta).
    """
    values = [torch.ones_like(cos_angle), cos_angle]
    for n in range(1, degree - 1):
        values.append(((2 * n + 1) * cos_angle * values[n] - n * values[n - 1]) / (n + 1))
    return torch.stack(values[:degree], dim=-1)
