"""GemNet-T and GemNet-dT (Gasteiger, Becker, Guennemann, "GemNet: Universal Directional Graph
Neural Networks for Molecules", NeurIPS 2021, arXiv:2106.08903), triplet-only variant.

Directed edge embeddings m_ca are updated by a triplet interaction over the edges that
share an atom with them (an efficient bilinear layer of the input message, the radial basis
of the input edge and a circular basis of the output edge length and the angle), then by
residual MLPs; atom embeddings are sums of edge embeddings, and each block ends by
re-embedding the edges from their two atoms. Every block (and the embedding) feeds an
output block; the atom energies are the sum of them (extensive energies). GemNet-T is
conservative; GemNet-dT predicts one scalar per edge and per output block and sums
scalar x unit edge vector onto the atom ("direct forces").

Water settings of the benchmark (MDsim configs/water/gemnet-T.yml, gemnet-dT.yml): 4
blocks, atom and edge embeddings 128, triplet 64, rbf/cbf embeddings 16, bilinear 64, 6
Gaussian radial functions with the polynomial envelope (exponent 5), 7 spherical
harmonics (m = 0), one residual layer before and after the skip and after the concat,
two in the atom MLPs, scaled SiLU, cutoff 5 A, He-orthogonal initialisation throughout.

Deviations from the reference implementation, and why:

- The "automatic scaling factors" (fitted on training data in the reference code) are
  fixed, non-trainable buffers set to 1.0 (``scale_*``); a fitted set can be loaded
  into them with ``load_state_dict``.
- ``max_neighbors: 50`` of the config is ignored: every neighbour within the cutoff is
  used, as LAMMPS's neighbour list gives them (a neighbour cap would make the energy
  discontinuous and depend on the list order).
- The species embedding has one row per species of the model, not one per element.

Edges here point from the centre i (the atom that receives the energy and force) to the
neighbour j with vector r_j - r_i; in the paper's notation edge c -> a is our edge with
centre a and neighbour c. The reference's "swap" of an edge to its reverse is computed
with ``reverse_edges``. An atom's energy depends on atoms up to 2 num_blocks + 1 hops
away (the triplet interaction and the atom-embedding round trip each add a hop per
block), hence ``num_layers`` (9 for the water settings: on several MPI ranks LAMMPS keeps
ghosts out to 45 A). As in the reference, no layer has a bias, so an isolated atom has
zero energy.
"""

from __future__ import annotations

import math

import torch

from lmp_bench.models.zoo.common import (
    GaussianSmearing,
    legendre,
    reverse_edges,
    scatter_owned,
    scatter_sum,
    triplets,
)


def halve_variance(x: torch.Tensor) -> torch.Tensor:
    """x / sqrt(2): a sum of two unit-variance terms brought back to unit variance."""
    return x * (1.0 / math.sqrt(2.0))


def he_orthogonal_(weight: torch.Tensor) -> torch.Tensor:
    """GemNet's initialisation: orthogonal rows, standardised, scaled to variance 1/fan_in.

    ``weight`` is (out, fan_in); 3-d weights are initialised through a (out, rest) view.
    """
    with torch.no_grad():
        flat = weight.view(weight.shape[0], -1)
        torch.nn.init.orthogonal_(flat)
        mean = flat.mean(dim=1, keepdim=True)
        var = flat.var(dim=1, unbiased=False, keepdim=True)
        flat.copy_((flat - mean) / torch.sqrt(var + 1e-6) / math.sqrt(flat.shape[1]))
    return weight


def polynomial_envelope(scaled: torch.Tensor, exponent: int) -> torch.Tensor:
    """GemNet's envelope 1 - (p+1)(p+2)/2 d^p + p(p+2) d^(p+1) - p(p+1)/2 d^(p+2), p = exponent.

    Evaluated as (1 - d)^3 sum_k C(k+2, 2) d^k (k < p), the same polynomial with its triple
    root at d = 1 factored out: the expanded form cancels terms ~p^2 near the cutoff, which
    costs float32 models digits in the forces. (common.polynomial_envelope is DimeNet's,
    p = exponent + 1.)
    """
    series = torch.full_like(scaled, float((exponent + 1) * exponent // 2))  # C(p + 1, 2)
    for k in range(exponent - 2, -1, -1):
        series = series * scaled + float((k + 2) * (k + 1) // 2)  # C(k + 2, 2)
    value = (1.0 - scaled) ** 3 * series
    return torch.where(scaled < 1.0, value, torch.zeros_like(value))


class ScaledSiLU(torch.nn.Module):
    """SiLU / 0.6: GemNet's activation, which keeps unit-variance inputs near unit variance."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.nn.functional.silu(x) * (1.0 / 0.6)


class Dense(torch.nn.Module):
    """Linear layer without bias (GemNet's default), He-orthogonal, optional scaled SiLU."""

    def __init__(self, size_in: int, size_out: int, activation: bool = True):
        super().__init__()
        self.linear = torch.nn.Linear(size_in, size_out, bias=False)
        he_orthogonal_(self.linear.weight)
        self.activation = ScaledSiLU() if activation else torch.nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.linear(x))


class ResidualLayer(torch.nn.Module):
    """x + Dense(Dense(x)), rescaled by 1/sqrt(2) to keep the variance."""

    def __init__(self, size: int):
        super().__init__()
        self.mlp = torch.nn.Sequential(Dense(size, size), Dense(size, size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return halve_variance(x + self.mlp(x))


class ScaleFactor(torch.nn.Module):
    """GemNet's data-fitted scaling factor, here a fixed buffer (1.0 unless loaded)."""

    def __init__(self):
        super().__init__()
        self.register_buffer("scale", torch.tensor(1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


def mlp(size_in: int, size: int, residual_layers: int) -> torch.nn.Sequential:
    """Dense to `size`, then residual layers (the atom and output MLPs)."""
    return torch.nn.Sequential(
        Dense(size_in, size), *(ResidualLayer(size) for _ in range(residual_layers))
    )


def scatter_sum_lean(values: torch.Tensor, index: torch.Tensor, size: int) -> torch.Tensor:
    """scatter_sum through index_put: its backward keeps only the index, not `values`
    (index_add's keeps the (triplets, features) source alive until the backward pass)."""
    shape = list(values.shape)
    shape[0] = size
    out = torch.zeros(shape, dtype=values.dtype, device=values.device)
    indices: list[torch.Tensor | None] = [index]
    return out.index_put(indices, values, accumulate=True)


class EdgeEmbedding(torch.nn.Module):
    """m_ca = Dense([h_c, h_a, x_ca]): an edge from its two atoms and an edge feature."""

    def __init__(self, atom_size: int, edge_feature_size: int, edge_size: int):
        super().__init__()
        self.dense = Dense(2 * atom_size + edge_feature_size, edge_size)

    def forward(
        self, h: torch.Tensor, features: torch.Tensor, edge_index: torch.Tensor
    ) -> torch.Tensor:
        # Paper edge c -> a = our (centre a, neighbour c): source first, as in GemNet.
        return self.dense(torch.cat([h[edge_index[1]], h[edge_index[0]], features], dim=-1))


class TripletInteraction(torch.nn.Module):
    """Triplet message passing with GemNet's efficient bilinear layer.

    For output edge ca and input edges ba sharing atom a: x_ba = down(Dense(m_ba) * rbf_ba),
    then sum_b W (cbf(d_ca, angle cab) (x) x_ba), whose circular basis is factorised as
    sum_s Y_s(angle) sum_r rbf_r(d_ca) W1[s, r]; the result goes up to the edge size once
    for ca and once (swapped) for its reverse ac.
    """

    def __init__(
        self,
        edge_size: int,
        triplet_size: int,
        rbf_size: int,
        cbf_size: int,
        bilinear_size: int,
    ):
        super().__init__()
        self.dense_ba = Dense(edge_size, edge_size)
        self.mlp_rbf = Dense(rbf_size, edge_size, activation=False)
        self.scale_rbf = ScaleFactor()
        self.down_projection = Dense(edge_size, triplet_size)
        self.bilinear = torch.nn.Parameter(torch.empty(bilinear_size, cbf_size, triplet_size))
        he_orthogonal_(self.bilinear)
        self.scale_cbf_sum = ScaleFactor()
        self.up_projection_ca = Dense(bilinear_size, edge_size)
        self.up_projection_ac = Dense(bilinear_size, edge_size)

    def forward(
        self,
        m: torch.Tensor,
        rbf3: torch.Tensor,
        cbf_radial: torch.Tensor,
        sph: torch.Tensor,
        e_in: torch.Tensor,
        e_out: torch.Tensor,
        reverse: torch.Tensor,
    ) -> torch.Tensor:
        x = self.incoming(m, rbf3)[e_in]  # (T, triplet)
        # Sum over the triplets of each output edge, one spherical order at a time: the
        # temporaries stay (T, triplet), as in the reference's padded matmul, not (T, S, triplet).
        num_edges = m.shape[0]
        orders = range(sph.shape[1])
        summed = torch.stack(
            [scatter_sum_lean(x * sph[:, s : s + 1], e_out, num_edges) for s in orders], dim=1
        )  # (E, S, triplet)
        return self.combine(summed, cbf_radial, reverse)

    def incoming(self, m: torch.Tensor, rbf3: torch.Tensor) -> torch.Tensor:
        """x_ba: what edge ba sends into the triplets of its output edges (E, triplet)."""
        return self.down_projection(self.scale_rbf(self.dense_ba(m) * self.mlp_rbf(rbf3)))

    def combine(
        self, summed: torch.Tensor, cbf_radial: torch.Tensor, reverse: torch.Tensor
    ) -> torch.Tensor:
        """The interaction's output per edge from its triplet sums per order (E, S, triplet)."""
        num_edges = summed.shape[0]
        basis_sum = torch.bmm(cbf_radial.transpose(1, 2), summed)  # (E, cbf, triplet)
        weight = self.bilinear.reshape(self.bilinear.shape[0], -1)
        x = self.scale_cbf_sum(basis_sum.reshape(num_edges, weight.shape[1]) @ weight.T)
        # The triplets found by common.triplets meet at the neighbour j of their output edge:
        # in the paper's terms they belong to the reverse edge (centre j, neighbour i).
        return halve_variance(self.up_projection_ca(x[reverse]) + self.up_projection_ac(x))


class AtomUpdate(torch.nn.Module):
    """h_a = MLP(sum_c m_ca * rbf_ca): atom embeddings from their edges."""

    def __init__(self, atom_size: int, edge_size: int, rbf_size: int, residual_layers: int):
        super().__init__()
        self.dense_rbf = Dense(rbf_size, edge_size, activation=False)
        self.scale_sum = ScaleFactor()
        self.layers = mlp(edge_size, atom_size, residual_layers)

    def forward(
        self, m: torch.Tensor, rbf: torch.Tensor, centre: torch.Tensor, owned: int
    ) -> torch.Tensor:
        """The `owned` atoms' embeddings (edges centred on other atoms are left out)."""
        x = self.scale_sum(scatter_owned(m * self.dense_rbf(rbf), centre, owned))
        return self.layers(x)


class OutputBlock(torch.nn.Module):
    """Atom energies from the edges (and, for direct forces, one force scalar per edge)."""

    __constants__ = ["direct_forces"]  # TorchScript then skips the branch not taken

    def __init__(
        self,
        atom_size: int,
        edge_size: int,
        rbf_size: int,
        residual_layers: int,
        direct_forces: bool,
    ):
        super().__init__()
        self.dense_rbf = Dense(rbf_size, edge_size, activation=False)
        self.scale_sum = ScaleFactor()
        self.layers = mlp(edge_size, atom_size, residual_layers)
        self.out_energy = Dense(atom_size, 1, activation=False)
        self.direct_forces = direct_forces
        if direct_forces:
            self.layers_forces = mlp(edge_size, edge_size, residual_layers)
            self.dense_rbf_forces = Dense(rbf_size, edge_size, activation=False)
            self.scale_rbf_forces = ScaleFactor()
            self.out_forces = Dense(edge_size, 1, activation=False)

    def forward(
        self, m: torch.Tensor, rbf: torch.Tensor, centre: torch.Tensor, owned: int
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Energies of the `owned` atoms (edges centred on other atoms are left out) and,
        for direct forces, a force scalar per edge."""
        x = self.scale_sum(scatter_owned(m * self.dense_rbf(rbf), centre, owned))
        energy = self.out_energy(self.layers(x)).squeeze(-1)
        if not self.direct_forces:
            return energy, None
        x = self.layers_forces(m)
        x = self.scale_rbf_forces(x * self.dense_rbf_forces(rbf))
        return energy, self.out_forces(x).squeeze(-1)


class InteractionBlock(torch.nn.Module):
    """GemNet-T interaction: triplets, residual MLPs, atom update, edge re-embedding."""

    def __init__(
        self,
        atom_size: int,
        edge_size: int,
        triplet_size: int,
        rbf_size: int,
        cbf_size: int,
        bilinear_size: int,
        before_skip: int,
        after_skip: int,
        concat_layers: int,
        atom_layers: int,
    ):
        super().__init__()
        self.dense_ca = Dense(edge_size, edge_size)
        self.triplet = TripletInteraction(
            edge_size, triplet_size, rbf_size, cbf_size, bilinear_size
        )
        self.before_skip = torch.nn.Sequential(
            *(ResidualLayer(edge_size) for _ in range(before_skip))
        )
        self.after_skip = torch.nn.Sequential(
            *(ResidualLayer(edge_size) for _ in range(after_skip))
        )
        self.atom_update = AtomUpdate(atom_size, edge_size, rbf_size, atom_layers)
        self.concat = EdgeEmbedding(atom_size, edge_size, edge_size)
        self.after_concat = torch.nn.Sequential(
            *(ResidualLayer(edge_size) for _ in range(concat_layers))
        )

    def forward(
        self,
        h: torch.Tensor,
        m: torch.Tensor,
        rbf3: torch.Tensor,
        cbf_radial: torch.Tensor,
        sph: torch.Tensor,
        rbf_h: torch.Tensor,
        edge_index: torch.Tensor,
        e_in: torch.Tensor,
        e_out: torch.Tensor,
        reverse: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        m = self.edge_update(m, self.triplet(m, rbf3, cbf_radial, sph, e_in, e_out, reverse))
        h = self.atom_step(h, m, rbf_h, edge_index[0])
        return h, self.re_embed(h, m, edge_index)

    def edge_update(self, m: torch.Tensor, triplet: torch.Tensor) -> torch.Tensor:
        """The messages after the triplet interaction and the residual layers."""
        x = self.before_skip(halve_variance(self.dense_ca(m) + triplet))
        return self.after_skip(halve_variance(m + x))

    def atom_step(
        self, h: torch.Tensor, m: torch.Tensor, rbf_h: torch.Tensor, centre: torch.Tensor
    ) -> torch.Tensor:
        """The embeddings of the atoms h holds rows for, from their edges."""
        return halve_variance(h + self.atom_update(m, rbf_h, centre, h.shape[0]))

    def re_embed(self, h: torch.Tensor, m: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        """The messages re-embedded from both atoms' embeddings (h: rows of every node)."""
        return halve_variance(m + self.after_concat(self.concat(h, m, edge_index)))


class GemNetT(torch.nn.Module):
    """GemNet-T: conservative (forces are -dE/dx, taken outside the model)."""

    direct_forces = False

    def __init__(
        self,
        species: list[str],
        num_spherical: int = 7,
        num_radial: int = 6,
        num_blocks: int = 4,
        emb_size_atom: int = 128,
        emb_size_edge: int = 128,
        emb_size_trip: int = 64,
        emb_size_rbf: int = 16,
        emb_size_cbf: int = 16,
        emb_size_bil_trip: int = 64,
        num_before_skip: int = 1,
        num_after_skip: int = 1,
        num_concat: int = 1,
        num_atom: int = 2,
        cutoff: float = 5.0,
        envelope_exponent: int = 5,
    ):
        super().__init__()
        self.species = list(species)
        self.cutoff = float(cutoff)
        self.num_layers = 2 * num_blocks + 1
        self.envelope_exponent = envelope_exponent
        self.embedding = torch.nn.Embedding(len(species), emb_size_atom)
        torch.nn.init.uniform_(self.embedding.weight, -math.sqrt(3.0), math.sqrt(3.0))
        # Gaussians on d / cutoff in [0, 1] (GemNet's "gaussian" rbf), for edges and cbf.
        self.radial = GaussianSmearing(0.0, 1.0, num_radial)
        norms = [math.sqrt((2 * deg + 1) / (4 * math.pi)) for deg in range(num_spherical)]
        self.register_buffer("sph_norms", torch.tensor(norms, dtype=torch.float64))
        self.num_spherical = num_spherical
        self.edge_embedding = EdgeEmbedding(emb_size_atom, num_radial, emb_size_edge)
        # Basis projections shared by all blocks.
        self.mlp_rbf3 = Dense(num_radial, emb_size_rbf, activation=False)
        self.mlp_cbf3 = torch.nn.Parameter(torch.empty(emb_size_cbf, num_spherical, num_radial))
        he_orthogonal_(self.mlp_cbf3)
        self.mlp_rbf_h = Dense(num_radial, emb_size_rbf, activation=False)
        self.mlp_rbf_out = Dense(num_radial, emb_size_rbf, activation=False)
        self.interactions = torch.nn.ModuleList(
            InteractionBlock(
                emb_size_atom,
                emb_size_edge,
                emb_size_trip,
                emb_size_rbf,
                emb_size_cbf,
                emb_size_bil_trip,
                num_before_skip,
                num_after_skip,
                num_concat,
                num_atom,
            )
            for _ in range(num_blocks)
        )
        self.outputs = torch.nn.ModuleList(
            OutputBlock(emb_size_atom, emb_size_edge, emb_size_rbf, num_atom, self.direct_forces)
            for _ in range(num_blocks + 1)
        )

    @classmethod
    def small(cls, species: list[str], **overrides) -> GemNetT:
        settings = {
            "num_spherical": 4,
            "num_radial": 4,
            "num_blocks": 1,
            "emb_size_atom": 16,
            "emb_size_edge": 16,
            "emb_size_trip": 8,
            "emb_size_rbf": 4,
            "emb_size_cbf": 4,
            "emb_size_bil_trip": 8,
            "num_atom": 1,
            "cutoff": 3.0,
        }
        return cls(species, **(settings | overrides))

    def halo_pieces(self):
        """Model contract 3 with edge state: the triplet sums as per-atom sums that cross
        ranks (lmp_bench.models.zoo.gemnet_pieces)."""
        from lmp_bench.models.zoo.gemnet_pieces import gemnet_pieces

        return gemnet_pieces(self)

    def features(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Atom energies (N,) and, for direct forces, summed force scalars per edge (E,)."""
        dtype = edge_vectors.dtype
        num_nodes = species.shape[0]
        distance = torch.sqrt((edge_vectors * edge_vectors).sum(-1))
        scaled = distance / self.cutoff
        envelope = polynomial_envelope(scaled, self.envelope_exponent)
        rbf = (envelope.unsqueeze(-1) * self.radial(scaled)).to(dtype)  # (E, R)

        e_in, e_out = triplets(edge_index, edge_vectors, num_nodes)
        reverse = reverse_edges(edge_index, edge_vectors, num_nodes)
        # Angle at the shared atom j between r_i - r_j and r_k - r_j (see common.triplets).
        unit = edge_vectors / distance.unsqueeze(-1)
        cos_angle = -(unit[e_out] * unit[e_in]).sum(-1)
        sph = legendre(cos_angle, self.num_spherical) * self.sph_norms.to(dtype)  # (T, S)
        # Radial half of the circular basis, on the output edge: (E, S, cbf).
        cbf_radial = torch.einsum("er,csr->esc", rbf, self.mlp_cbf3)

        rbf3 = self.mlp_rbf3(rbf)
        rbf_h = self.mlp_rbf_h(rbf)
        rbf_out = self.mlp_rbf_out(rbf)
        h = self.embedding(species).to(dtype)
        m = self.edge_embedding(h, rbf, edge_index)
        centre = edge_index[0]
        atom_energy, edge_forces = self.outputs[0](m, rbf_out, centre, num_nodes)
        for interaction, output in zip(self.interactions, self.outputs[1:], strict=True):
            h, m = interaction(h, m, rbf3, cbf_radial, sph, rbf_h, edge_index, e_in, e_out, reverse)
            energy, forces = output(m, rbf_out, centre, num_nodes)
            atom_energy = atom_energy + energy
            if edge_forces is not None and forces is not None:
                edge_forces = edge_forces + forces
        return atom_energy, edge_forces

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor
    ) -> torch.Tensor:
        return self.features(species, edge_index, edge_vectors)[0]


class GemNetDT(GemNetT):
    """GemNet-dT: the same network; forces predicted directly from the edge embeddings.

    F_a = sum_c F_ca (r_a - r_c) / |r_a - r_c|: a learned scalar per edge times the unit
    vector from neighbour to centre (positive = repulsive), so forces rotate with the
    structure but are not the gradient of the energy.
    """

    direct_forces = True

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        atom_energy, edge_forces = self.features(species, edge_index, edge_vectors)
        assert edge_forces is not None
        distance = torch.sqrt((edge_vectors * edge_vectors).sum(-1, keepdim=True))
        vectors = -edge_forces.unsqueeze(-1) * edge_vectors / distance
        return atom_energy, scatter_sum(vectors, edge_index[0], species.shape[0])
