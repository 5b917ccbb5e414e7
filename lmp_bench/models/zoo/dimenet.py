"""DimeNet++ (Gasteiger, Giri, Margraf, Guennemann, arXiv:2011.14115, 2020): directional
message passing (DimeNet, Gasteiger, Gross, Guennemann, ICLR 2020) made cheaper.

Messages live on edges. The message of the pair (i, j) is updated from the messages of
(j, k), k != i, through the angle k-j-i and the distance d_kj, expanded in the spherical
Fourier-Bessel basis (lmp_bench.models.zoo.spherical); every atom sums what its edges
emit after each block. DimeNet++ replaces the bilinear layer of DimeNet by a Hadamard
product in a small "interaction" space (int_emb_size) reached by down/up projections, and
squeezes the bases through basis_emb_size-wide bottlenecks.

Edge convention (lmp_bench.models.interface): edge e is centred on edge_index[0, e] with
vector r_neighbour - r_centre. DimeNet's message m_ji (from j to i) is the edge centred on
i with neighbour j, so atom i sums the edges centred on it; the triplet k -> j -> i pairs
e_out = (i, j) with e_in = (j, k) (common.triplets), the angle at j is between r_i - r_j
and r_k - r_j.

Water settings of the benchmark (MDsim configs/water/dpp.yml): 128 hidden channels,
256 output-embedding channels, interaction space 64, basis bottleneck 8, 4 blocks, cutoff
5 A, envelope exponent 5, 6 radial and 7 spherical basis functions, 1 residual layer
before and 2 after the skip connection, 3 output layers. Conservative: forces are -dE/dx.

Choices where the papers leave room, and departures from the reference code: both bases
are multiplied by the envelope u(d / c) as the paper writes it (the reference code uses
u(d / c) / (d / c)); the species embedding has one row per model species rather than 95
elements (11,904 fewer parameters at the water settings); the last output layer starts
Glorot-orthogonal instead of zero, so an untrained model has non-zero forces; the
Bessel frequencies are trainable, as in DimeNet.
"""

from __future__ import annotations

import math

import torch
from torch.nn.functional import silu

from lmp_bench.models.zoo.common import (
    BesselBasis,
    angle_between,
    polynomial_envelope,
    scatter_sum,
    triplets,
)
from lmp_bench.models.zoo.spherical import SphericalBasis2D


def glorot_orthogonal(weight: torch.Tensor, gain: float = 2.0) -> torch.Tensor:
    """DimeNet's initialisation: a random orthogonal matrix rescaled to Glorot's variance
    gain / (fan_in + fan_out), so deep stacks neither blow up nor vanish at the start."""
    with torch.no_grad():
        torch.nn.init.orthogonal_(weight)
        fan_out, fan_in = weight.shape
        weight.mul_(math.sqrt(gain / ((fan_in + fan_out) * weight.var())))
    return weight


def dense(features_in: int, features_out: int, bias: bool = True) -> torch.nn.Linear:
    """A Glorot-orthogonal linear layer with zero bias."""
    layer = torch.nn.Linear(features_in, features_out, bias=bias)
    glorot_orthogonal(layer.weight)
    if bias:
        torch.nn.init.zeros_(layer.bias)
    return layer


class Residual(torch.nn.Module):
    """x + silu(W2 silu(W1 x + b1) + b2)."""

    def __init__(self, features: int):
        super().__init__()
        self.first = dense(features, features)
        self.second = dense(features, features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + silu(self.second(silu(self.first(x))))


class Embedding(torch.nn.Module):
    """Initial message of edge (i, j): silu(W [h_i, h_j, silu(W_rbf e_RBF(d_ij))])."""

    def __init__(self, num_species: int, hidden: int, num_radial: int):
        super().__init__()
        self.species = torch.nn.Embedding(num_species, hidden)
        torch.nn.init.uniform_(self.species.weight, -math.sqrt(3.0), math.sqrt(3.0))
        self.rbf = dense(num_radial, hidden)
        self.mix = dense(3 * hidden, hidden)

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, rbf: torch.Tensor
    ) -> torch.Tensor:
        return self.from_rows(self.species(species).to(rbf.dtype), edge_index, rbf)

    def from_rows(
        self, h: torch.Tensor, edge_index: torch.Tensor, rbf: torch.Tensor
    ) -> torch.Tensor:
        """The messages from the atoms' embedding rows h (what the halo carries)."""
        pair = torch.cat([h[edge_index[0]], h[edge_index[1]], silu(self.rbf(rbf))], dim=-1)
        return silu(self.mix(pair))


class Interaction(torch.nn.Module):
    """DimeNet++ interaction block: update every edge message from its incoming triplets."""

    def __init__(
        self,
        hidden: int,
        int_emb_size: int,
        basis_emb_size: int,
        num_radial: int,
        num_spherical: int,
        num_before_skip: int,
        num_after_skip: int,
    ):
        super().__init__()
        self.rbf = torch.nn.Sequential(
            dense(num_radial, basis_emb_size, bias=False), dense(basis_emb_size, hidden, bias=False)
        )
        self.sbf = torch.nn.Sequential(
            dense(num_spherical * num_radial, basis_emb_size, bias=False),
            dense(basis_emb_size, int_emb_size, bias=False),
        )
        self.incoming = dense(hidden, hidden)  # applied to m_kj
        self.own = dense(hidden, hidden)  # applied to m_ji
        self.down = dense(hidden, int_emb_size, bias=False)
        self.up = dense(int_emb_size, hidden, bias=False)
        self.before_skip = torch.nn.Sequential(*(Residual(hidden) for _ in range(num_before_skip)))
        self.skip = dense(hidden, hidden)
        self.after_skip = torch.nn.Sequential(*(Residual(hidden) for _ in range(num_after_skip)))

    def forward(
        self,
        m: torch.Tensor,
        rbf: torch.Tensor,
        sbf: torch.Tensor,
        e_in: torch.Tensor,
        e_out: torch.Tensor,
    ) -> torch.Tensor:
        incoming = self.incoming_messages(m, rbf)
        per_triplet = incoming[e_in] * self.sbf(sbf)
        gathered = scatter_sum(per_triplet, e_out, m.shape[0])  # sum over k for each (i, j)
        return self.update(m, gathered)

    def incoming_messages(self, m: torch.Tensor, rbf: torch.Tensor) -> torch.Tensor:
        """What edge (j, k) sends into its triplets, in the interaction space (E, int_emb)."""
        return silu(self.down(silu(self.incoming(m)) * self.rbf(rbf)))

    def triplet_weights(self, radial: torch.Tensor) -> torch.Tensor:
        """The spherical basis's radial part through the (bias-free, so linear) basis
        projections, one weight per interaction channel and order: (E, L, K) -> (E, int_emb, L).
        The triplet term of channel c is sum_l weight[c, l](d_kj) Y_l0(angle_kji)."""
        weight = self.sbf[1].weight @ self.sbf[0].weight  # (int_emb, L * K)
        weight = weight.reshape(weight.shape[0], radial.shape[1], radial.shape[2])
        return torch.einsum("eln,cln->ecl", radial, weight)

    def update(self, m: torch.Tensor, gathered: torch.Tensor) -> torch.Tensor:
        """New messages from the old ones and the triplet sums (E, int_emb)."""
        update = silu(self.own(m)) + silu(self.up(gathered))
        update = self.before_skip(update)
        return self.after_skip(m + silu(self.skip(update)))


class Output(torch.nn.Module):
    """Per-atom energy from the messages: sum_j (W e_RBF(d_ij)) * m_ij, then an MLP."""

    def __init__(
        self,
        hidden: int,
        out_emb_channels: int,
        num_radial: int,
        num_layers: int,
        up_bias: bool = False,
    ):
        super().__init__()
        self.rbf = dense(num_radial, hidden, bias=False)
        self.up = dense(hidden, out_emb_channels, bias=up_bias)
        self.layers = torch.nn.ModuleList(
            dense(out_emb_channels, out_emb_channels) for _ in range(num_layers)
        )
        # DimeNet starts this layer at zero; random weights keep an untrained model's
        # forces non-trivial, which the tests and timing runs need.
        self.energy = dense(out_emb_channels, 1, bias=False)

    def forward(
        self, m: torch.Tensor, rbf: torch.Tensor, centre: torch.Tensor, num_nodes: int
    ) -> torch.Tensor:
        return self.energies(scatter_sum(self.rbf(rbf) * m, centre, num_nodes))

    def energies(self, atom_sums: torch.Tensor) -> torch.Tensor:
        """Per-atom energies from each atom's sum over its edges of (W e_RBF) * m."""
        x = self.up(atom_sums)
        for layer in self.layers:
            x = silu(layer(x))
        return self.energy(x).squeeze(-1)


class DimeNetPlusPlus(torch.nn.Module):
    """DimeNet++ on the lmp-bench interface. An atom's energy depends on atoms up to
    num_blocks + 1 hops away (one hop for the embedding, one per interaction block), so
    num_layers = num_blocks + 1 sets the ghost shell LAMMPS keeps."""

    direct_forces = False

    def __init__(
        self,
        species: list[str],
        hidden_channels: int = 128,
        out_emb_channels: int = 256,
        int_emb_size: int = 64,
        basis_emb_size: int = 8,
        num_blocks: int = 4,
        cutoff: float = 5.0,
        envelope_exponent: int = 5,
        num_radial: int = 6,
        num_spherical: int = 7,
        num_before_skip: int = 1,
        num_after_skip: int = 2,
        num_output_layers: int = 3,
    ):
        super().__init__()
        self.species = list(species)
        self.cutoff = float(cutoff)
        self.num_layers = num_blocks + 1
        self.envelope_exponent = envelope_exponent
        self.rbf = BesselBasis(cutoff, num_radial, trainable=True)
        self.sbf = SphericalBasis2D(num_spherical, num_radial, cutoff, envelope_exponent)
        self.embedding = Embedding(len(species), hidden_channels, num_radial)
        self.interactions = torch.nn.ModuleList(
            Interaction(
                hidden_channels,
                int_emb_size,
                basis_emb_size,
                num_radial,
                num_spherical,
                num_before_skip,
                num_after_skip,
            )
            for _ in range(num_blocks)
        )
        self.outputs = torch.nn.ModuleList(
            Output(hidden_channels, out_emb_channels, num_radial, num_output_layers)
            for _ in range(num_blocks + 1)
        )

    @classmethod
    def small(cls, species: list[str], **overrides) -> DimeNetPlusPlus:
        settings = {
            "hidden_channels": 16,
            "out_emb_channels": 24,
            "int_emb_size": 8,
            "basis_emb_size": 4,
            "num_blocks": 1,
            "cutoff": 3.0,
            "num_radial": 4,
            "num_spherical": 4,
            "num_after_skip": 1,
            "num_output_layers": 2,
        }
        return cls(species, **(settings | overrides))

    def halo_pieces(self):
        """Model contract 3 with edge state: the triplet sums as per-atom sums that cross
        ranks (lmp_bench.models.zoo.dimenet_pieces)."""
        from lmp_bench.models.zoo.dimenet_pieces import dimenet_pieces

        return dimenet_pieces(self)

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor
    ) -> torch.Tensor:
        num_nodes = species.shape[0]
        centre = edge_index[0]
        distance = torch.sqrt((edge_vectors * edge_vectors).sum(-1))
        envelope = polynomial_envelope(distance / self.cutoff, self.envelope_exponent)
        rbf = self.rbf(distance).to(edge_vectors.dtype) * envelope.unsqueeze(-1)

        e_in, e_out = triplets(edge_index, edge_vectors, num_nodes)
        angle = angle_between(-edge_vectors[e_out], edge_vectors[e_in])
        sbf = self.sbf(distance, angle, e_in)  # distance d_kj of the incoming edge

        m = self.embedding(species, edge_index, rbf)
        energy = self.outputs[0](m, rbf, centre, num_nodes)
        for interaction, output in zip(self.interactions, self.outputs[1:], strict=True):
            m = interaction(m, rbf, sbf, e_in, e_out)
            energy = energy + output(m, rbf, centre, num_nodes)
        return energy
