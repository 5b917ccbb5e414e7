"""Reference models shipped for tests, examples and benchmarks (plain torch, metal units).

- LennardJones: pairwise, to compare with LAMMPS's own lj/cut.
- StillingerWeber: a 3-body angular term, written without explicit triplets so that it
  exports with dynamic sizes; compare with LAMMPS's own pair sw.
- MessagePassingToy: two message-passing layers, for multi-rank exactness checks.
"""

from __future__ import annotations

import math

import torch

from lmp_bench.models.halo import HaloPieces, neighbour_rows, run_pieces


def _masked(r: torch.Tensor, inside: torch.Tensor, fill: float) -> torch.Tensor:
    """r where `inside`, else `fill`: keeps NaN/Inf of the masked branch out of gradients."""
    return torch.where(inside, r, torch.full_like(r, fill))


def _scatter_sum(values: torch.Tensor, index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    out = torch.zeros((num_nodes,) + values.shape[1:], dtype=values.dtype, device=values.device)
    return out.index_add(0, index, values)


class LennardJones(torch.nn.Module):
    """4 eps [(sigma/r)^12 - (sigma/r)^6], cut at `cutoff`, optionally shifted to 0 there."""

    def __init__(
        self,
        epsilon: float = 0.0103,
        sigma: float = 3.405,
        cutoff: float = 8.5,
        shift: bool = False,
        species: tuple[str, ...] = ("Ar",),
    ):
        super().__init__()
        self.species = list(species)
        self.cutoff = float(cutoff)
        self.num_layers = 1
        self.register_buffer("epsilon", torch.tensor(float(epsilon), dtype=torch.float64))
        self.register_buffer("sigma", torch.tensor(float(sigma), dtype=torch.float64))
        s6 = (sigma / cutoff) ** 6
        offset = 4.0 * epsilon * (s6 * s6 - s6) if shift else 0.0
        self.register_buffer("offset", torch.tensor(offset, dtype=torch.float64))

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor
    ) -> torch.Tensor:
        r2 = (edge_vectors * edge_vectors).sum(dim=1)
        inside = r2 < self.cutoff * self.cutoff
        s6 = (self.sigma * self.sigma / _masked(r2, inside, 1.0)) ** 3
        pair = 4.0 * self.epsilon * (s6 * s6 - s6) - self.offset
        pair = torch.where(inside, pair, torch.zeros_like(pair))
        return 0.5 * _scatter_sum(pair, edge_index[0], species.shape[0])


class StillingerWeber(torch.nn.Module):
    """Stillinger-Weber (single species; defaults: the original silicon parameters).

    The angular sum over neighbour pairs (j<k) of lambda eps (cos theta_jik + 1/3)^2 g_j g_k,
    g = exp(gamma sigma / (r - a sigma)), is expanded as sums over single neighbours:
    with f_j = sqrt(lambda eps) g_j and unit vectors u_j,
    sum_{j != k} f_j f_k (u_j.u_k + 1/3)^2 = |T|^2 + 2/3 |V|^2 + 1/9 S^2 - 16/9 sum_j f_j^2,
    T = sum f_j u_j u_j^T, V = sum f_j u_j, S = sum f_j. Exact, with no triplet list.
    """

    def __init__(
        self,
        epsilon: float = 2.1683,
        sigma: float = 2.0951,
        a: float = 1.80,
        lam: float = 21.0,
        gamma: float = 1.20,
        big_a: float = 7.049556277,
        big_b: float = 0.6022245584,
        p: float = 4.0,
        q: float = 0.0,
        species: tuple[str, ...] = ("Si",),
    ):
        super().__init__()
        self.species = list(species)
        self.cutoff = a * sigma
        self.num_layers = 1
        self.epsilon, self.sigma, self.lam, self.gamma = epsilon, sigma, lam, gamma
        self.big_a, self.big_b, self.p, self.q = big_a, big_b, p, q

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor
    ) -> torch.Tensor:
        num_nodes = species.shape[0]
        centre = edge_index[0]
        r = torch.sqrt((edge_vectors * edge_vectors).sum(dim=1))
        inside = r < self.cutoff
        safe_r = _masked(r, inside, 0.5 * self.cutoff)
        gap = safe_r - self.cutoff  # negative inside the cutoff
        zeros = torch.zeros_like(r)

        s_r = self.sigma / safe_r
        two_body = self.big_a * self.epsilon * (self.big_b * s_r**self.p - s_r**self.q)
        two_body = torch.where(inside, two_body * torch.exp(self.sigma / gap), zeros)

        f = math.sqrt(self.lam * self.epsilon) * torch.exp(self.gamma * self.sigma / gap)
        f = torch.where(inside, f, zeros)
        u = edge_vectors / safe_r.unsqueeze(1)
        outer = (u.unsqueeze(2) * u.unsqueeze(1)).reshape(-1, 9)
        t = _scatter_sum(f.unsqueeze(1) * outer, centre, num_nodes)
        v = _scatter_sum(f.unsqueeze(1) * u, centre, num_nodes)
        s = _scatter_sum(f, centre, num_nodes)
        diagonal = _scatter_sum(f * f, centre, num_nodes)
        pairs = (t * t).sum(1) + (2.0 / 3.0) * (v * v).sum(1) + s * s / 9.0 - 16.0 / 9.0 * diagonal
        return 0.5 * _scatter_sum(two_body, centre, num_nodes) + 0.5 * pairs


class MessagePassingToy(torch.nn.Module):
    """Two message-passing layers with smooth radial filters and fixed random weights.

    Not a physical potential: a deterministic many-body function whose per-atom energies
    depend on atoms up to 2 x cutoff away, to check that multi-rank runs stay exact.
    """

    def __init__(
        self,
        species: tuple[str, ...] = ("Ar",),
        cutoff: float = 5.0,
        features: int = 8,
        layers: int = 2,
        seed: int = 0,
    ):
        super().__init__()
        self.species = list(species)
        self.cutoff = float(cutoff)
        self.num_layers = layers
        generator = torch.Generator().manual_seed(seed)

        def weights(*shape: int) -> torch.nn.Parameter:
            return torch.nn.Parameter(
                torch.randn(*shape, generator=generator, dtype=torch.float64) / math.sqrt(shape[0])
            )

        self.embedding = weights(len(species), features)
        self.centres = torch.nn.Parameter(
            torch.linspace(1.0, cutoff, features, dtype=torch.float64)
        )
        self.self_weights = torch.nn.ParameterList(
            [weights(features, features) for _ in range(layers)]
        )
        self.message_weights = torch.nn.ParameterList(
            [weights(features, features) for _ in range(layers)]
        )
        self.readout = weights(features, 1)

    def halo_pieces(self) -> HaloPieces:
        """Model contract 3: neighbours read h @ message_weights (F numbers)."""
        layers = [ToyLayer(self, k) for k in range(self.num_layers)]
        return HaloPieces(ToyFirst(self), ToyEdges(self), layers)

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor
    ) -> torch.Tensor:
        return run_pieces(self.halo_pieces(), species, edge_index, edge_vectors)


# The toy's state between layers: [h @ message_weights of the next layer | h].


class ToyFirst(torch.nn.Module):
    def __init__(self, model: MessagePassingToy):
        super().__init__()
        self.embedding = model.embedding
        self.message_weight = model.message_weights[0]

    def forward(self, species: torch.Tensor) -> torch.Tensor:
        h = self.embedding[species]
        return torch.cat([h @ self.message_weight, h], dim=1)


class ToyEdges(torch.nn.Module):
    """Smooth radial filters (E, F) of every edge."""

    def __init__(self, model: MessagePassingToy):
        super().__init__()
        self.centres = model.centres
        self.cutoff = model.cutoff

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor
    ) -> torch.Tensor:
        r = torch.sqrt((edge_vectors * edge_vectors).sum(dim=1))
        envelope = 0.5 * (torch.cos(math.pi * r / self.cutoff) + 1.0)
        envelope = torch.where(r < self.cutoff, envelope, torch.zeros_like(r))
        return envelope.unsqueeze(1) * torch.exp(-((r.unsqueeze(1) - self.centres) ** 2))


class ToyLayer(torch.nn.Module):
    def __init__(self, model: MessagePassingToy, k: int):
        super().__init__()
        self.features = model.embedding.shape[1]
        self.halo_width = self.features
        self.self_weight = model.self_weights[k]
        self.last = k == model.num_layers - 1
        # the next layer's message weights, or the readout after the last layer
        self.after = model.readout if self.last else model.message_weights[k + 1]

    def forward(
        self,
        state: torch.Tensor,
        ghost: torch.Tensor,
        species: torch.Tensor,
        edge_index: torch.Tensor,
        radial: torch.Tensor,
    ) -> torch.Tensor:
        messages = radial * neighbour_rows(state, ghost).index_select(0, edge_index[1])
        h = state[:, self.features :]
        h = torch.tanh(h @ self.self_weight + _scatter_sum(messages, edge_index[0], h.shape[0]))
        if self.last:
            return (h @ self.after).squeeze(1)
        return torch.cat([h @ self.after, h], dim=1)
