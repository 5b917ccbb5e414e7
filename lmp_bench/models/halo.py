"""Model contract 3: a message-passing model cut at its layers, for halo exchange over ranks.

A model whose state lives on atoms (SchNet, PaiNN, ForceNet, the message-passing toy; an
equivariant NequIP-style model fits too: its irreps, flattened, are the state) can offer
``halo_pieces()``. LAMMPS then keeps ghost atoms out to one cutoff only and, before each
layer, copies the columns that neighbours read from their owners into the ghost rows
(``comm->forward_comm``); the backward pass runs the layers in reverse and sums the
gradients of ghost rows back into their owners (``comm->reverse_comm``). See
pair_styles/README.md for the plugin's side.

The pieces, in the order the plugin calls them (N = nlocal owned nodes, G ghost nodes,
nodes = N + G, E edges whose centre is owned):

- ``first(species (nodes,)) -> state (nodes, S_1)``: per atom only (embeddings), so the
  plugin runs it on ghosts too and the first layer needs no exchange.
- ``edge(species (nodes,), edge_index (2, E), edge_vectors (E, 3)) -> features (E, D)``:
  everything that depends on positions, computed once per step (radial bases, cutoff
  envelopes, angular sums over a centre's own edges).
- ``layers[k](state (N, S_k), ghost (G, H_k), species, edge_index, features)``: the k-th
  message-passing layer; ``ghost`` holds the first ``H_k = layers[k].halo_width`` columns of
  each ghost's state (what neighbours read; the narrowest tensor, e.g. after the per-node
  linear). Returns the next owned state (N, S_{k+1}); the last layer returns per-atom
  energies (N,) in eV, or (energies, forces (N, 3)) for direct-force models.

Edge ``e`` runs from ``edge_index[0, e]`` (the centre, always owned) to ``edge_index[1, e]``
(owned or ghost); the neighbour's halo row is ``torch.cat([state[:, :H], ghost])[j]``.
One rank evaluates the periodic graph with no ghost rows at all (G = 0, images folded onto
their owners): that is also how ``run_pieces`` evaluates a model in Python.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class HaloPieces:
    """The pieces of a contract-3 model (see the module docstring)."""

    first: torch.nn.Module
    edge: torch.nn.Module
    layers: list[torch.nn.Module]

    @property
    def halo_widths(self) -> list[int]:
        return [int(layer.halo_width) for layer in self.layers]


def neighbour_rows(state: torch.Tensor, ghost: torch.Tensor) -> torch.Tensor:
    """(N + G, H): the halo columns of owned rows followed by the ghost rows, indexed like
    the neighbours in edge_index."""
    return torch.cat([state[:, : ghost.shape[1]], ghost], dim=0)


def no_ghosts(state: torch.Tensor, width: int) -> torch.Tensor:
    """An empty ghost block (0, width) of the state's dtype and device."""
    return state.new_zeros((0, width))


def run_pieces(
    pieces: HaloPieces,
    species: torch.Tensor,
    edge_index: torch.Tensor,
    edge_vectors: torch.Tensor,
):
    """The model's output on a graph without ghost rows (one process sees every atom):
    what ``forward`` of a contract-3 model returns."""
    features = pieces.edge(species, edge_index, edge_vectors)
    state = pieces.first(species)
    for layer in pieces.layers:
        state = layer(state, no_ghosts(state, int(layer.halo_width)), species, edge_index, features)
    return state


def has_halo_pieces(module: torch.nn.Module) -> bool:
    return callable(getattr(module, "halo_pieces", None))
