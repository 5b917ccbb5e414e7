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

Edge-state models (DimeNet++, GemNet: ``edge_state_width`` M > 0) keep messages on edges
between layers. Their edges are those centred on owned atoms followed by the reverse of
each edge to a ghost (centred on the ghost, vector negated), and ``edge_index`` has a third
row: the index of each edge's reverse (``with_reverse_edges``). Every layer takes the
messages (E, M) as a sixth input (zeros for the first layer) and, but for the last, returns
(state, messages). The reverse edges make a rank's edge set closed under reversal, which is
all a triplet sum over (j, k), k != i, needs beyond node features
(lmp_bench.models.zoo.angular_sums). A ghost that is a periodic image of an owned atom
may be folded onto it, as on one rank (its edges' reverses are then owned edges, found by
their vectors); the plugin does so, and appends reverses only for other ranks' atoms.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from lmp_bench.models.zoo.common import reverse_edges


@dataclass
class HaloPieces:
    """The pieces of a contract-3 model (see the module docstring)."""

    first: torch.nn.Module
    edge: torch.nn.Module
    layers: list[torch.nn.Module]
    edge_state_width: int = 0  # messages per edge the first layer receives (0: none)
    # the model as one function (species, edge_index, edge_vectors) -> energies, for one
    # process and the gathered system, where it is faster than the pieces composed
    one_graph: torch.nn.Module | None = None

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


def with_reverse_edges(
    edge_index: torch.Tensor, edge_vectors: torch.Tensor, owned: int, num_nodes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """The edges of an edge-state model (see the module docstring): the reverse of each edge
    to a ghost appended, and a third row with every edge's reverse. (3, E'), (E', 3)."""
    to_ghost = edge_index[1] >= owned
    edges = torch.cat([edge_index, edge_index[:, to_ghost].flip(0)], dim=1)
    vectors = torch.cat([edge_vectors, -edge_vectors[to_ghost]])
    reverse = reverse_edges(edges, vectors, num_nodes)
    return torch.cat([edges, reverse.unsqueeze(0)]), vectors


def run_layers(
    pieces: HaloPieces,
    state: torch.Tensor,
    ghosts: list[torch.Tensor],
    species: torch.Tensor,
    edge_index: torch.Tensor,
    features: torch.Tensor,
) -> list:
    """The outputs of every layer, each given its ghost rows: [state_1 .. , last output]."""
    messages = features.new_zeros((features.shape[0], pieces.edge_state_width))
    outputs = []
    for k, (layer, ghost) in enumerate(zip(pieces.layers, ghosts, strict=True)):
        if not pieces.edge_state_width:
            state = layer(state, ghost, species, edge_index, features)
        elif k == len(pieces.layers) - 1:
            state = layer(state, ghost, species, edge_index, features, messages)
        else:
            state, messages = layer(state, ghost, species, edge_index, features, messages)
        outputs.append(state)
    return outputs


def run_pieces(
    pieces: HaloPieces,
    species: torch.Tensor,
    edge_index: torch.Tensor,
    edge_vectors: torch.Tensor,
):
    """The model's output on a graph without ghost rows (one process sees every atom):
    what ``forward`` of a contract-3 model returns."""
    if pieces.edge_state_width:
        nodes = species.shape[0]
        edge_index, edge_vectors = with_reverse_edges(edge_index, edge_vectors, nodes, nodes)
    features = pieces.edge(species, edge_index, edge_vectors)
    state = pieces.first(species)
    ghosts = [no_ghosts(state, int(layer.halo_width)) for layer in pieces.layers]
    return run_layers(pieces, state, ghosts, species, edge_index, features)[-1]


def has_halo_pieces(module: torch.nn.Module) -> bool:
    return callable(getattr(module, "halo_pieces", None))


def check_pieces(module: torch.nn.Module, dtype: torch.dtype) -> None:
    """Conformance of a model's pieces: split a small cluster into owned atoms and ghosts,
    fill the ghost rows as the halo exchange does (the first H_k columns of the ghosts' own
    states), and require the owned atoms' output of one graph without ghosts, to 1e-8
    relative. Raises ValueError naming the first layer that differs."""
    pieces = module.halo_pieces()
    if not pieces.layers:
        raise ValueError("halo_pieces() has no layers")
    generator = torch.Generator().manual_seed(0)
    n_atoms, owned = 10, 6
    cutoff = float(module.cutoff)
    positions = torch.rand(n_atoms, 3, generator=generator, dtype=dtype) * cutoff * 0.9
    species = torch.randint(0, len(module.species), (n_atoms,), generator=generator)
    src, dst = torch.meshgrid(torch.arange(n_atoms), torch.arange(n_atoms), indexing="ij")
    keep = src != dst
    edge_index = torch.stack([src[keep], dst[keep]])
    vectors = positions[edge_index[1]] - positions[edge_index[0]]
    mine = edge_index[0] < owned  # the edges a rank owning atoms 0..5 evaluates
    local_edges, local_vectors = edge_index[:, mine], vectors[mine]
    if pieces.edge_state_width:
        edge_index, vectors = with_reverse_edges(edge_index, vectors, n_atoms, n_atoms)
        local_edges, local_vectors = with_reverse_edges(local_edges, local_vectors, owned, n_atoms)
    with torch.no_grad():
        features = pieces.edge(species, edge_index, vectors)
        first = pieces.first(species)
        ghosts = [no_ghosts(first, int(layer.halo_width)) for layer in pieces.layers]
        states = [first, *run_layers(pieces, first, ghosts, species, edge_index, features)]
        local_features = pieces.edge(species, local_edges, local_vectors)
        for k, layer in enumerate(pieces.layers):
            width = int(layer.halo_width)
            if width > states[k].shape[1]:
                raise ValueError(f"layer {k + 1} reads {width} halo columns of a narrower state")
        ghosts = [
            states[k][owned:, : int(layer.halo_width)] for k, layer in enumerate(pieces.layers)
        ]
        outputs = run_layers(pieces, first[:owned], ghosts, species, local_edges, local_features)
        for k, state in enumerate(outputs):
            for a, b in zip(_as_tuple(state), _as_tuple(states[k + 1]), strict=True):
                scale = float(b.abs().max()) + 1.0
                if a.shape[0] != owned or float((a - b[:owned]).abs().max()) > 1e-8 * scale:
                    raise ValueError(
                        f"layer {k + 1} gives the owned atoms another result with ghost rows "
                        "than in one graph: a layer must update the owned rows only (scatter "
                        "into state.shape[0] rows) and read neighbours through "
                        "neighbour_rows(state, ghost)"
                    )


def _as_tuple(value) -> tuple:
    return value if isinstance(value, tuple) else (value,)
