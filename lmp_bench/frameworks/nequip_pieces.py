"""A nequip model as model contract 3 (lmp_bench.models.halo): nequip's own modules, cut at
its convolution layers, so that LAMMPS ranks share its work.

nequip's forces are those of the whole system's energy, so a nequip-compiled file is
evaluated once for the whole system (pair_styles/pair_mlff_gathered.cpp) and more ranks
do not make it faster. Its state lives on atoms, though, like SchNet's: each convolution
reads, from its neighbours, their features after its first per-atom linear and the
neighbour-count normalisation (nequip's own LAMMPS ML-IAP exchange point, the narrowest
tensor). Each piece below runs nequip's modules; the previous piece computes that tensor
for the owned atoms, and the halo exchange copies it into the ghost rows.

State of the owned atoms between layers (columns): ``[x_k | h_{k-1} | node_attrs]``, where
x_k is what layer k's neighbours read (the halo columns), h_{k-1} the node features the
self-connection and the residual use, node_attrs the type embedding.
"""

from __future__ import annotations

import torch
from nequip.data import AtomicDataDict

from lmp_bench.models.halo import HaloPieces

NODE_MODULES = ("type_embed",)  # per atom: node_attrs and node_features from the type


def _convolution_input(layer: torch.nn.Module, h: torch.Tensor, types: torch.Tensor):
    """What layer's neighbours read of atoms with features h: linear_1, then nequip's
    neighbour-count normalisation (per atom type where the model has one)."""
    conv = layer.conv
    data = {AtomicDataDict.NODE_FEATURES_KEY: conv.linear_1(h), AtomicDataDict.ATOM_TYPE_KEY: types}
    return conv.avg_num_neighbors_norm(data)[AtomicDataDict.NODE_FEATURES_KEY]


class NequIPFirst(torch.nn.Module):
    """species (nodes,) -> [x_1 | h_0 | node_attrs] of every node (no exchange needed)."""

    def __init__(self, type_embed: torch.nn.Module, first_layer: torch.nn.Module):
        super().__init__()
        self.type_embed = type_embed
        self.first_layer = first_layer

    def forward(self, species: torch.Tensor) -> torch.Tensor:
        data = self.type_embed({AtomicDataDict.ATOM_TYPE_KEY: species})
        h = data[AtomicDataDict.NODE_FEATURES_KEY]
        x = _convolution_input(self.first_layer, h, species)
        return torch.cat([x, h, data[AtomicDataDict.NODE_ATTRS_KEY]], dim=1)


class NequIPEdge(torch.nn.Module):
    """species, edge_index, edge_vectors -> [edge_attrs | edge_embedding] (E, A + B): the
    spherical harmonics and the radial basis of nequip's own edge modules."""

    def __init__(self, edge_modules: list[torch.nn.Module], attrs_width: int):
        super().__init__()
        self.edge_modules = torch.nn.ModuleList(edge_modules)
        self.attrs_width = attrs_width

    def forward(self, species, edge_index, edge_vectors) -> torch.Tensor:
        data = {
            AtomicDataDict.ATOM_TYPE_KEY: species,
            AtomicDataDict.EDGE_INDEX_KEY: edge_index,
            AtomicDataDict.EDGE_VECTORS_KEY: edge_vectors,
        }
        for module in self.edge_modules:
            data = module(data)
        attrs = data[AtomicDataDict.EDGE_ATTRS_KEY]
        return torch.cat([attrs, data[AtomicDataDict.EDGE_EMBEDDING_KEY]], dim=1)


class NequIPLayer(torch.nn.Module):
    """Convolution layer k of the owned atoms; returns the next state, or per-atom energies
    (eV) after the last layer (nequip's readout and per-type scale and shift)."""

    def __init__(
        self,
        layer: torch.nn.Module,
        widths: tuple[int, int, int],
        attrs_width: int,
        next_layer: torch.nn.Module | None,
        readout: list[torch.nn.Module],
    ):
        super().__init__()
        self.layer = layer
        self.halo_width, self.features_width, self.node_attrs_width = widths
        self.attrs_width = attrs_width
        self.next_layer = next_layer
        self.readout = torch.nn.ModuleList(readout)

    def forward(self, state, ghost, species, edge_index, features) -> torch.Tensor:
        owned = state.shape[0]
        halo, width = self.halo_width, self.features_width
        h_before = state[:, halo : halo + width]
        node_attrs = state[:, halo + width :]
        conv = self.layer.conv
        messages = conv.tp_scatter(
            x=torch.cat([state[:, :halo], ghost], dim=0),
            edge_attr=features[:, : self.attrs_width],
            edge_weight=conv.edge_mlp(features[:, self.attrs_width :]),
            edge_dst=edge_index[0],
            edge_src=edge_index[1],
        )[:owned]
        out = conv.linear_2(messages)
        if conv.sc is not None:
            out = out + conv.sc(h_before, node_attrs)
        h = self.layer.equivariant_nonlin(out)
        if self.layer.resnet:
            h = h_before + h
        types = species[:owned]
        if self.next_layer is not None:
            x = _convolution_input(self.next_layer, h, types)
            return torch.cat([x, h, node_attrs], dim=1)
        data = {AtomicDataDict.NODE_FEATURES_KEY: h, AtomicDataDict.ATOM_TYPE_KEY: types}
        for module in self.readout:
            data = module(data)
        return data[AtomicDataDict.PER_ATOM_ENERGY_KEY].reshape(-1)


class NequIPPieces(torch.nn.Module):
    """A nequip GraphModel (from a checkpoint) on the lmp-bench model interface, with
    halo_pieces(). Raises ValueError for a model not built from nequip's own sequence
    (type embedding, edge modules, ConvNetLayers, per-atom readout)."""

    direct_forces = False

    def __init__(self, graph_model: torch.nn.Module):
        super().__init__()
        metadata = graph_model.metadata
        self.species = metadata["type_names"].split()
        self.cutoff = float(metadata["r_max"])
        sequence = graph_model.model.func
        names = list(sequence._modules)
        layer_names = [n for n in names if type(sequence._modules[n]).__name__ == "ConvNetLayer"]
        first = names.index(layer_names[0]) if layer_names else 0
        last = names.index(layer_names[-1]) if layer_names else -1
        if (
            not layer_names
            or names[first : last + 1] != layer_names  # nothing else between the layers
            or any(n not in names[:first] for n in NODE_MODULES)
        ):
            raise ValueError(
                f"nequip model with modules {names}: lmp-bench cuts nequip's own NequIPGNNModel "
                "(type_embed, edge modules, ConvNetLayer ..., readout) and knows no other"
            )
        edge_modules = [sequence._modules[n] for n in names[:first] if n not in NODE_MODULES]
        readout = [  # per-atom energy: all after the layers but the sum over atoms
            sequence._modules[n]
            for n in names[last + 1 :]
            if type(sequence._modules[n]).__name__ != "AtomwiseReduce"
        ]
        layers = [sequence._modules[n] for n in layer_names]
        self.num_layers = len(layers)
        attrs_width = sequence._modules[layer_names[0]].irreps_in[AtomicDataDict.EDGE_ATTRS_KEY].dim
        node_attrs_width = (
            sequence._modules["type_embed"].irreps_out[AtomicDataDict.NODE_ATTRS_KEY].dim
        )
        self.first = NequIPFirst(sequence._modules["type_embed"], layers[0])
        self.edge = NequIPEdge(edge_modules, attrs_width)
        self.layers = torch.nn.ModuleList()
        for k, layer in enumerate(layers):
            features_in = layer.irreps_in[AtomicDataDict.NODE_FEATURES_KEY].dim
            self.layers.append(
                NequIPLayer(
                    layer,
                    (features_in, features_in, node_attrs_width),
                    attrs_width,
                    layers[k + 1] if k + 1 < len(layers) else None,
                    readout if k + 1 == len(layers) else [],
                )
            )

    def halo_pieces(self) -> HaloPieces:
        return HaloPieces(first=self.first, edge=self.edge, layers=list(self.layers))

    def forward(self, species, edge_index, edge_vectors) -> torch.Tensor:
        features = self.edge(species, edge_index, edge_vectors)
        state = self.first(species)
        for layer in self.layers:
            state = layer(state, state[:0, : layer.halo_width], species, edge_index, features)
        return state
