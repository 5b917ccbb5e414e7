"""GemNet-T and GemNet-dT cut into model contract 3 with edge state
(lmp_bench.models.halo), so that they run over MPI ranks with ghosts out to one cutoff.

Each block's triplet sum becomes per-atom sums S_j and a read-out per edge
(lmp_bench.models.zoo.angular_sums). Two quantities of a block cross ranks: S, before the
triplet read-out, and the atom embeddings h, before the edges are re-embedded from both
atoms. Hence two layers per block and 2 * blocks + 1 in all, as ``num_layers`` says:

- layer 1: the edge embedding from both atoms' h, output block 0, and S of block 1;
- layer 2b: the rest of block b's triplet interaction (read S, combine with the reverse
  edge), its residual layers and the owned atoms' new h;
- layer 2b + 1: block b's re-embedding from the neighbours' h, output block b, and S of
  block b + 1 (the last layer returns the energies, and GemNet-dT's forces).

Owned state: [S | h | energy] after odd layers, [h | energy] after even ones (the halo
columns first). Messages: [m | x | force scalar] and [m | force scalar] (the force column
only for GemNet-dT), x being what an edge sends into its triplets. Same parameters, same
outputs as ``GemNetT.features`` (which keeps the triplet list), to rounding.
"""

from __future__ import annotations

import torch

from lmp_bench.models.halo import HaloPieces, neighbour_rows
from lmp_bench.models.zoo.angular_sums import TripletSums
from lmp_bench.models.zoo.common import scatter_owned
from lmp_bench.models.zoo.gemnet import polynomial_envelope
from lmp_bench.models.zoo.spherical import CartesianHarmonics


def gemnet_pieces(model) -> HaloPieces:
    layers = [GemNetLayer(model, k) for k in range(model.num_layers)]
    widest = model.edge_embedding.dense.linear.out_features + _triplet_size(model)
    widest += 1 if model.direct_forces else 0
    return HaloPieces(GemNetFirst(model), GemNetEdges(model), layers, widest)


def _triplet_size(model) -> int:
    return model.interactions[0].triplet.down_projection.linear.out_features


class GemNetFirst(torch.nn.Module):
    """Species embedding rows, ghosts included (the edge embedding reads both ends)."""

    def __init__(self, model):
        super().__init__()
        self.embedding = model.embedding

    def forward(self, species: torch.Tensor) -> torch.Tensor:
        return self.embedding(species)


class GemNetEdges(torch.nn.Module):
    """Per edge: [rbf | rbf3 | rbf_h | rbf_out | cbf radial (S * cbf) | Y_lm (S^2) | unit]."""

    def __init__(self, model):
        super().__init__()
        self.model_radial = model.radial
        self.mlp_rbf3 = model.mlp_rbf3
        self.mlp_rbf_h = model.mlp_rbf_h
        self.mlp_rbf_out = model.mlp_rbf_out
        self.mlp_cbf3 = model.mlp_cbf3
        self.harmonics = CartesianHarmonics(model.num_spherical)
        self.cutoff = model.cutoff
        self.envelope_exponent = model.envelope_exponent

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor
    ) -> torch.Tensor:
        dtype = edge_vectors.dtype
        distance = torch.sqrt((edge_vectors * edge_vectors).sum(-1))
        scaled = distance / self.cutoff
        envelope = polynomial_envelope(scaled, self.envelope_exponent)
        rbf = (envelope.unsqueeze(-1) * self.model_radial(scaled)).to(dtype)
        cbf_radial = torch.einsum("er,csr->esc", rbf, self.mlp_cbf3).flatten(1)
        unit = edge_vectors / distance.unsqueeze(-1)
        bases = [self.mlp_rbf3(rbf), self.mlp_rbf_h(rbf), self.mlp_rbf_out(rbf), cbf_radial]
        return torch.cat([rbf] + bases + [self.harmonics(edge_vectors), unit], dim=1)


class GemNetLayer(torch.nn.Module):
    __constants__ = ["direct_forces", "reads_sums"]  # TorchScript: one return type per layer

    def __init__(self, model, k: int):
        super().__init__()
        blocks = len(model.interactions)
        self.last = k == 2 * blocks
        self.reads_sums = k % 2 == 1  # layer 2b: the triplet read-out of block b
        self.direct_forces = bool(model.direct_forces)
        self.atom_size = model.embedding.embedding_dim
        self.edge_size = model.edge_embedding.dense.linear.out_features
        self.triplet_size = _triplet_size(model)
        self.num_spherical = model.num_spherical
        self.harmonics_width = model.num_spherical**2
        self.sums_width = self.triplet_size * self.harmonics_width
        self.cbf_size = model.mlp_cbf3.shape[0]
        self.radial_size = model.mlp_cbf3.shape[2]
        self.rbf_size = model.mlp_rbf3.linear.out_features
        self.sums = TripletSums(self.num_spherical)
        block = (k - 1) // 2  # the block this layer finishes (k > 0)
        self.block = model.interactions[block] if k > 0 else model.interactions[0]
        self.edge_embedding = model.edge_embedding if k == 0 else None
        self.output = None if self.reads_sums else model.outputs[k // 2]
        # odd-numbered layers (k even) but the last start the next block's triplets
        self.starting = (
            model.interactions[k // 2] if not self.reads_sums and not self.last else None
        )
        self.halo_width = self.sums_width if self.reads_sums else self.atom_size

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
        centre, neighbour, reverse = edge_index[0], edge_index[1], edge_index[2]
        r, b = self.radial_size, self.rbf_size
        rbf = features[:, :r]
        rbf3 = features[:, r : r + b]
        rbf_h = features[:, r + b : r + 2 * b]
        rbf_out = features[:, r + 2 * b : r + 3 * b]
        end = r + 3 * b + self.num_spherical * self.cbf_size
        cbf_radial = features[:, r + 3 * b : end].reshape(-1, self.num_spherical, self.cbf_size)
        harmonics = features[:, end : end + self.harmonics_width]
        unit = features[:, end + self.harmonics_width :]
        energy = state[:, -1]
        force = messages[:, -1] if self.direct_forces else messages[:, :0]
        if self.reads_sums:  # finish the triplet interaction, update the owned atoms
            e = self.edge_size
            m, x = messages[:, :e], messages[:, e : e + self.triplet_size]
            sums = neighbour_rows(state, ghost)
            summed = self.sums.edge_sums(sums, neighbour, harmonics, x[reverse], None)
            triplet = self.block.triplet.combine(summed.transpose(1, 2), cbf_radial, reverse)
            m = self.block.edge_update(m, triplet)
            h = self.block.atom_step(state[:, self.sums_width : -1], m, rbf_h, centre)
            return torch.cat([h, energy.unsqueeze(-1)], dim=1), self._messages(m, None, force)
        rows = neighbour_rows(state, ghost).to(features.dtype)
        if self.edge_embedding is not None:
            m = self.edge_embedding(rows, rbf, edge_index)
            energy = features.new_zeros(owned)
            h = rows[:owned]
        else:
            m = self.block.re_embed(rows, messages[:, : self.edge_size], edge_index)
            h = state[:, :-1]
        assert self.output is not None
        atom_energy, edge_force = self.output(m, rbf_out, centre, owned)
        energy = energy + atom_energy
        if edge_force is not None:
            force = edge_force if self.edge_embedding is not None else force + edge_force
        if self.starting is None:  # the last layer
            if self.direct_forces:
                return energy, scatter_owned(-force.unsqueeze(-1) * unit, centre, owned)
            else:
                return energy
        x = self.starting.triplet.incoming(m, rbf3)
        sums = self.sums.atom_sums(x, None, harmonics, centre, owned)
        state = torch.cat([sums, h, energy.unsqueeze(-1)], dim=1)
        return state, self._messages(m, x, force)

    def _messages(self, m: torch.Tensor, x: torch.Tensor | None, force: torch.Tensor):
        parts = [m]
        if x is not None:
            parts.append(x)
        if self.direct_forces:
            parts.append(force.unsqueeze(-1))
        return torch.cat(parts, dim=1)
