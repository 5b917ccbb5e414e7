"""SphereNet (Liu, Wang, Liu, Lin, Zhang, Oztekin, Ji, ICLR 2022, arXiv:2102.05013):
spherical message passing.

DimeNet++'s edge messages, with the neighbour k of j located in full spherical
coordinates around the pair (i, j): distance d_kj, polar angle theta (between r_i - r_j
and r_k - r_j, DimeNet's angle) and the torsion phi of k about the j -> i axis. The
message update of (i, j) uses three bases: Bessel(d_ji) on the edge itself,
j_l(z_ln d_kj / c) Y_l0(theta) and j_l(z_ln d_kj / c) Y_lm(theta, phi) per triplet
(lmp_bench.models.zoo.spherical). Edge and triplet conventions as in
lmp_bench.models.zoo.dimenet.

Torsion reference. phi needs a reference half-plane about the j -> i axis. Here it is the
half-plane of the nearest neighbour of j other than i: among the triplets of the message
(i, j), the edge (j, r) with the smallest distance d_jr; an exact tie in distance goes to
the larger cos(theta) (the neighbour closer to the axis direction), and only a tie in both
(mirror-symmetric neighbours) to the lower edge index. The rule is deterministic and
invariant under rotation, translation, atom permutation and image shifts, and every
triplet of one message shares one local frame (the reference itself has phi = 0), which
is the paper's spherical coordinate system. The DIG implementation instead takes, per
triplet, the smallest torsion to any other neighbour. Either choice makes the energy only
piecewise smooth: it jumps where the nearest neighbour changes, or where the reference
lines up with the axis. The reference is found among the same neighbours of j that
DimeNet already visits, so the receptive field is unchanged: num_layers = num_blocks + 1.

Defaults: the paper's QM9/MD17 settings (DIG, examples/threedgraph): cutoff 5 A, 4 blocks,
128 hidden, 256 output-embedding channels, interaction space 64, bottlenecks 8 for the
distance, angle and torsion bases, 6 radial and 3 spherical basis functions, 1 residual
layer before and 2 after the skip, 3 output layers. Conservative: forces are -dE/dx.

Departures from the DIG code: the angle and torsion bases carry the envelope u(d / c)
(DIG leaves it out there, so its energy is not smooth at the cutoff); Y_lm is paired with
the radial functions of the same l (DIG's reshape pairs most Y_lm with another l); the
species embedding has one row per model species rather than 95 elements; the last output
layer is Glorot-orthogonal, DIG's default.
"""

from __future__ import annotations

import torch
from torch.nn.functional import silu

from lmp_bench.models.zoo.common import (
    BesselBasis,
    angle_between,
    polynomial_envelope,
    scatter_sum,
    triplets,
)
from lmp_bench.models.zoo.dimenet import Embedding, Interaction, Output, dense
from lmp_bench.models.zoo.spherical import SphericalBasis2D, SphericalBasis3D


def torsion_reference(
    edge_vectors: torch.Tensor,
    distance: torch.Tensor,
    e_in: torch.Tensor,
    e_out: torch.Tensor,
) -> torch.Tensor:
    """Per triplet, the edge (j, r) whose neighbour r sets phi = 0 for the message e_out:
    nearest neighbour of j among the triplets of e_out (see the module docstring).

    Discrete choice, so computed on detached values; the gradient flows through the
    chosen edge's vector afterwards.
    """
    num_edges = edge_vectors.shape[0]
    vectors = edge_vectors.detach()
    length = distance.detach()[e_in]
    axis = -vectors[e_out]
    cosine = (axis * vectors[e_in]).sum(-1) / (length * torch.sqrt((axis * axis).sum(-1)))
    inf = torch.full((num_edges,), float("inf"), dtype=vectors.dtype, device=vectors.device)
    nearest = length == inf.scatter_reduce(0, e_out, length, "amin")[e_out]
    key = torch.where(nearest, -cosine, torch.full_like(cosine, float("inf")))
    chosen = nearest & (key == inf.scatter_reduce(0, e_out, key, "amin")[e_out])
    last = torch.iinfo(torch.long).max
    candidate = torch.where(chosen, e_in, torch.full_like(e_in, last))
    first = torch.full((num_edges,), last, dtype=torch.long, device=e_in.device)
    return first.scatter_reduce(0, e_out, candidate, "amin")[e_out]


def torsion(axis: torch.Tensor, reference: torch.Tensor, vector: torch.Tensor) -> torch.Tensor:
    """Signed dihedral angle (rad) of `vector` about `axis`, from the half-plane of
    `reference`; 0 where it is undefined (either vector along the axis), with a finite
    gradient there."""
    plane_ref = torch.linalg.cross(axis, reference)
    plane = torch.linalg.cross(axis, vector)
    x = (plane_ref * plane).sum(-1)
    y = (torch.linalg.cross(plane_ref, plane) * axis).sum(-1) / torch.sqrt((axis * axis).sum(-1))
    undefined = x * x + y * y < 1e-30
    x = torch.where(undefined, torch.ones_like(x), x)
    y = torch.where(undefined, torch.zeros_like(y), y)
    return torch.atan2(y, x)


class SphericalInteraction(Interaction):
    """DimeNet++'s interaction block with the torsion basis as one more per-triplet gate."""

    def __init__(
        self,
        hidden: int,
        int_emb_size: int,
        basis_emb_size_dist: int,
        basis_emb_size_angle: int,
        basis_emb_size_torsion: int,
        num_radial: int,
        num_spherical: int,
        num_before_skip: int,
        num_after_skip: int,
    ):
        super().__init__(
            hidden,
            int_emb_size,
            basis_emb_size_angle,
            num_radial,
            num_spherical,
            num_before_skip,
            num_after_skip,
        )
        self.rbf = torch.nn.Sequential(
            dense(num_radial, basis_emb_size_dist, bias=False),
            dense(basis_emb_size_dist, hidden, bias=False),
        )
        self.tbf = torch.nn.Sequential(
            dense(num_spherical * num_spherical * num_radial, basis_emb_size_torsion, bias=False),
            dense(basis_emb_size_torsion, int_emb_size, bias=False),
        )

    def torsion_weights(self, radial: torch.Tensor) -> torch.Tensor:
        """The torsion basis's radial part through its (bias-free, so linear) projections:
        (E, L, K) -> (E, int_emb, L^2). The torsion gate of channel c is
        sum_lm weight[c, lm](d_kj) Y_lm(theta, phi)."""
        weight = self.tbf[1].weight @ self.tbf[0].weight  # (int_emb, L^2 * K)
        orders = torch.arange(radial.shape[1], device=radial.device)
        order_of = torch.repeat_interleave(orders, 2 * orders + 1)
        weight = weight.reshape(weight.shape[0], order_of.shape[0], radial.shape[2])
        return torch.einsum("eqn,cqn->ecq", radial[:, order_of], weight)

    def forward(
        self,
        m: torch.Tensor,
        rbf: torch.Tensor,
        sbf: torch.Tensor,
        tbf: torch.Tensor,
        e_in: torch.Tensor,
        e_out: torch.Tensor,
    ) -> torch.Tensor:
        incoming = silu(self.down(silu(self.incoming(m)) * self.rbf(rbf)))
        per_triplet = incoming[e_in] * self.sbf(sbf) * self.tbf(tbf)
        gathered = scatter_sum(per_triplet, e_out, m.shape[0])
        update = self.before_skip(silu(self.own(m)) + silu(self.up(gathered)))
        return self.after_skip(m + silu(self.skip(update)))


class SphereNet(torch.nn.Module):
    """SphereNet on the lmp-bench interface; num_layers = num_blocks + 1 hops (embedding
    plus one per block), as for DimeNet++."""

    direct_forces = False

    def __init__(
        self,
        species: list[str],
        hidden_channels: int = 128,
        out_emb_channels: int = 256,
        int_emb_size: int = 64,
        basis_emb_size_dist: int = 8,
        basis_emb_size_angle: int = 8,
        basis_emb_size_torsion: int = 8,
        num_blocks: int = 4,
        cutoff: float = 5.0,
        envelope_exponent: int = 5,
        num_radial: int = 6,
        num_spherical: int = 3,
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
        self.tbf = SphericalBasis3D(num_spherical, num_radial, cutoff, envelope_exponent)
        self.embedding = Embedding(len(species), hidden_channels, num_radial)
        self.interactions = torch.nn.ModuleList(
            SphericalInteraction(
                hidden_channels,
                int_emb_size,
                basis_emb_size_dist,
                basis_emb_size_angle,
                basis_emb_size_torsion,
                num_radial,
                num_spherical,
                num_before_skip,
                num_after_skip,
            )
            for _ in range(num_blocks)
        )
        self.outputs = torch.nn.ModuleList(
            Output(hidden_channels, out_emb_channels, num_radial, num_output_layers, up_bias=True)
            for _ in range(num_blocks + 1)
        )

    @classmethod
    def small(cls, species: list[str], **overrides) -> SphereNet:
        settings = {
            "hidden_channels": 16,
            "out_emb_channels": 24,
            "int_emb_size": 8,
            "basis_emb_size_dist": 4,
            "basis_emb_size_angle": 4,
            "basis_emb_size_torsion": 4,
            "num_blocks": 1,
            "cutoff": 3.0,
            "num_radial": 4,
            "num_spherical": 3,
            "num_after_skip": 1,
            "num_output_layers": 2,
        }
        return cls(species, **(settings | overrides))

    def halo_pieces(self):
        """Model contract 3 with edge state: the triplet sums, torsion included, as per-atom
        sums that cross ranks (lmp_bench.models.zoo.spherenet_pieces)."""
        from lmp_bench.models.zoo.spherenet_pieces import spherenet_pieces

        return spherenet_pieces(self)

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor
    ) -> torch.Tensor:
        num_nodes = species.shape[0]
        centre = edge_index[0]
        distance = torch.sqrt((edge_vectors * edge_vectors).sum(-1))
        envelope = polynomial_envelope(distance / self.cutoff, self.envelope_exponent)
        rbf = self.rbf(distance).to(edge_vectors.dtype) * envelope.unsqueeze(-1)

        e_in, e_out = triplets(edge_index, edge_vectors, num_nodes)
        axis = -edge_vectors[e_out]  # r_i - r_j
        neighbour = edge_vectors[e_in]  # r_k - r_j
        theta = angle_between(axis, neighbour)
        reference = edge_vectors[torsion_reference(edge_vectors, distance, e_in, e_out)]
        phi = torsion(axis, reference, neighbour)
        sbf = self.sbf(distance, theta, e_in)
        tbf = self.tbf(distance, theta, phi, e_in)

        m = self.embedding(species, edge_index, rbf)
        energy = self.outputs[0](m, rbf, centre, num_nodes)
        for interaction, output in zip(self.interactions, self.outputs[1:], strict=True):
            m = interaction(m, rbf, sbf, tbf, e_in, e_out)
            energy = energy + output(m, rbf, centre, num_nodes)
        return energy
