"""Write a contract-3 model (lmp_bench.models.halo) as the pieces pair_style mlff calls.

AOTInductor (``.pt2``): one package holding a program per piece — ``first``, ``edge``,
``layer_k`` (k = 1..L) — and, for conservative models, the vector-Jacobian products
``edge_vjp`` and ``layer_vjp_k`` (k < L: the last layer's program returns its gradients
itself, its cotangent being ones); plus ``graph``, the pieces composed into one contract-2
graph, which one rank runs instead of the pieces (no recompute, kernels fused across
layers). For DimeNet++ and GemNet that is also the faster form on one rank: their per-atom
triplet sums instead of their own forward's triplet list. SphereNet's per-atom sums are
wider, so its ``graph`` is its own forward (``HaloPieces.one_graph``). A compiled program
has no autograd: each piece's forward and backward are traced as one joint graph and cut in
two by torch's partitioner (residuals.py), so that ``layer_k`` and ``edge`` also return the
activations their VJP program takes (metadata ``vjp=residuals``); nothing is recomputed but
what the partitioner finds cheaper to recompute than to keep. Every program is exported
with dynamic atom, ghost and edge counts. The package's metadata sits on ``first``.

TorchScript (``.pt``): one scripted module holding the pieces as submodules ``first``,
``edge``, ``middle`` (layers 1..L-1) and ``last``; the plugin keeps autograd graphs
between a piece's forward and backward call, so nothing is recomputed.
"""

from __future__ import annotations

import tempfile
import uuid
import warnings
from pathlib import Path

import torch

from lmp_bench.export.graph import ExportError, trace_graph, write_torchscript
from lmp_bench.export.residuals import SplitVJP
from lmp_bench.models.deployed import ConservativeGraph, DirectForceGraph
from lmp_bench.models.halo import HaloPieces, no_ghosts, run_pieces, with_reverse_edges

# Example sizes for tracing: distinct primes that no feature width is likely to equal, so
# that symbolic tracing keeps every count dynamic and never unifies two of them.
OWNED, GHOSTS, EDGES = 37, 41, 173


def _layer_gradients(layer, inputs: tuple, cotangents: list | None) -> tuple:
    """(layer output, d<cotangents, output>/d(state, ghost, features[, messages])): the
    inputs are (state, ghost, species, edge_index, features[, messages]); no cotangents
    means the output is energies and their sum is differentiated."""
    leaves = [inputs[i].detach().requires_grad_(True) for i in (0, 1, 4, 5)[: len(inputs) - 2]]
    args = [leaves[0], leaves[1], inputs[2], inputs[3], *leaves[2:]]
    out = layer(*args)
    outputs = list(out) if isinstance(out, tuple) else [out]
    if cotangents is None:
        outputs, cotangents = [out.sum()], None
    grads = torch.autograd.grad(outputs, leaves, cotangents, allow_unused=True)
    grads = tuple(
        torch.zeros_like(leaf) if g is None else g for g, leaf in zip(grads, leaves, strict=True)
    )
    return out, grads


def layer_joint(layer: torch.nn.Module):
    """joint(inputs, cotangents) -> [outputs..., their VJP with respect to (state, ghost,
    features[, messages])]: a layer's forward and backward as one function, which
    residuals.SplitVJP cuts in two (and tests take as the eager reference)."""

    def joint(inputs, cotangents):
        out, grads = _layer_gradients(layer, tuple(inputs), list(cotangents))
        outputs = list(out) if isinstance(out, tuple) else [out]
        return [*(o.detach() for o in outputs), *grads]

    return joint


def edge_joint(edge: torch.nn.Module):
    """joint((species, edge_index, edge_vectors), [grad]) -> [features, d<grad,
    features>/d edge_vectors]."""

    def joint(inputs, cotangents):
        species, edge_index, edge_vectors = inputs
        vectors = edge_vectors.detach().requires_grad_(True)
        features = edge(species, edge_index, vectors)
        (g,) = torch.autograd.grad([features], [vectors], list(cotangents), allow_unused=True)
        return [features.detach(), torch.zeros_like(vectors) if g is None else g]

    return joint


class LastLayerWithGradients(torch.nn.Module):
    """The last layer of a conservative model with its gradients: (energies, and the
    derivatives of their sum with respect to state, ghost, features[, messages]). The
    cotangent of the last layer is always ones, so its backward needs no second program."""

    def __init__(self, layer: torch.nn.Module):
        super().__init__()
        self.layer = layer

    def forward(self, *inputs):
        energy, grads = _layer_gradients(self.layer, inputs, None)
        return (energy.detach(), *grads)


class PiecesInOneGraph(torch.nn.Module):
    """The pieces composed into the model's forward (halo.run_pieces), for one graph."""

    def __init__(self, pieces: HaloPieces):
        super().__init__()
        self.first, self.edge = pieces.first, pieces.edge
        self.layers = torch.nn.ModuleList(pieces.layers)
        self.edge_state_width = pieces.edge_state_width

    def forward(self, species, edge_index, edge_vectors):
        pieces = HaloPieces(self.first, self.edge, list(self.layers), self.edge_state_width)
        return run_pieces(pieces, species, edge_index, edge_vectors)


class ScriptedPieces(torch.nn.Module):
    """The TorchScript container; its forward evaluates the graph without ghost rows (an
    edge-state model's: ScriptedEdgeStatePieces)."""

    def __init__(self, pieces: HaloPieces):
        super().__init__()
        self.first = pieces.first
        self.edge = pieces.edge
        self.middle = torch.nn.ModuleList(pieces.layers[:-1])
        self.last = pieces.layers[-1]

    def forward(self, species, edge_index, edge_vectors):
        features = self.edge(species, edge_index, edge_vectors)
        state = self.first(species)
        for layer in self.middle:
            state = layer(state, no_ghosts(state, layer.halo_width), species, edge_index, features)
        ghost = no_ghosts(state, self.last.halo_width)
        return self.last(state, ghost, species, edge_index, features)


class ScriptedEdgeStatePieces(ScriptedPieces):
    """ScriptedPieces of an edge-state model: edges with reverses, messages between layers."""

    def __init__(self, pieces: HaloPieces):
        super().__init__(pieces)
        self.edge_state_width = pieces.edge_state_width

    def forward(self, species, edge_index, edge_vectors):
        nodes = species.shape[0]
        edge_index, edge_vectors = with_reverse_edges(edge_index, edge_vectors, nodes, nodes)
        features = self.edge(species, edge_index, edge_vectors)
        state = self.first(species)
        messages = features.new_zeros((features.shape[0], self.edge_state_width))
        for layer in self.middle:
            ghost = no_ghosts(state, layer.halo_width)
            state, messages = layer(state, ghost, species, edge_index, features, messages)
        ghost = no_ghosts(state, self.last.halo_width)
        return self.last(state, ghost, species, edge_index, features, messages)


def example_graph(
    n_species: int, dtype: torch.dtype, device: str, reverses: bool = False
) -> dict[str, torch.Tensor]:
    """A random graph with owned centres and ghost neighbours, of the sizes above; with
    `reverses`, an edge-state model's edges (halo.with_reverse_edges)."""
    generator = torch.Generator().manual_seed(3)
    nodes = OWNED + GHOSTS
    centre = torch.randint(0, OWNED, (EDGES,), generator=generator)
    neighbour = (centre + torch.randint(1, nodes, (EDGES,), generator=generator)) % nodes
    edge_index = torch.stack([centre, neighbour])
    vectors = 0.8 + torch.rand(EDGES, 3, generator=generator, dtype=torch.float64)
    if reverses:
        edge_index, vectors = with_reverse_edges(edge_index, vectors, OWNED, nodes)
    return {
        "species": torch.randint(0, n_species, (nodes,), generator=generator).to(device),
        "edge_index": edge_index.to(device),
        "edge_vectors": vectors.to(device, dtype),
    }


def piece_inputs(pieces: HaloPieces, graph: dict[str, torch.Tensor]) -> list[tuple]:
    """Example inputs of every layer: the owned states (and messages) the pieces themselves
    produce on `graph`, random ghost rows."""
    species, edge_index = graph["species"], graph["edge_index"]
    generator = torch.Generator().manual_seed(4)
    with torch.no_grad():
        features = pieces.edge(species, edge_index, graph["edge_vectors"])
        state = pieces.first(species)[:OWNED]
        messages = features.new_zeros((features.shape[0], pieces.edge_state_width))
        inputs = []
        for layer in pieces.layers:
            ghost = torch.rand(GHOSTS, int(layer.halo_width), generator=generator)
            ghost = ghost.to(state.device, state.dtype)
            args = (state, ghost, species, edge_index, features)
            args = (*args, messages) if pieces.edge_state_width else args
            inputs.append(args)
            out = layer(*args)
            state = out[0] if isinstance(out, tuple) else out
            if pieces.edge_state_width and isinstance(out, tuple):
                messages = out[1]
    return inputs


def export_halo(
    module: torch.nn.Module,
    path: Path,
    metadata: dict[str, str],
    dtype: torch.dtype,
    device: str,
    n_species: int,
) -> None:
    pieces = module.halo_pieces()
    if path.suffix == ".pt2":
        _compile_pieces(pieces, path, metadata, dtype, device, n_species, module)
    else:
        what = f"the pieces of {type(module).__name__}"
        container = ScriptedEdgeStatePieces if pieces.edge_state_width else ScriptedPieces
        write_torchscript(container(pieces), path, metadata, what)


def programs_of(pieces: HaloPieces, graph: dict, conservative: bool) -> dict[str, tuple]:
    """name -> (module, example inputs, dynamic shapes) of every program in the package."""
    from torch.export import Dim

    nodes, owned, ghosts, edges = (
        Dim("nodes", min=1),
        Dim("owned", min=1),
        Dim("ghosts", min=0),
        Dim("edges", min=0),
    )
    species, edge_index, vectors = graph["species"], graph["edge_index"], graph["edge_vectors"]
    edge_dims = ({0: nodes}, {1: edges}, {0: edges})
    programs = {
        "first": (pieces.first, (species,), ({0: nodes},)),
        "edge": (pieces.edge, (species, edge_index, vectors), edge_dims),
    }
    carried = bool(pieces.edge_state_width)
    layer_dims = ({0: owned}, {0: ghosts}, {0: nodes}, {1: edges}, {0: edges})
    layer_dims = (*layer_dims, {0: edges}) if carried else layer_dims
    layer_inputs = piece_inputs(pieces, graph)
    last = len(pieces.layers)
    out_dims = ({0: owned}, {0: edges}) if carried else ({0: owned},)
    for k, (layer, inputs) in enumerate(zip(pieces.layers, layer_inputs, strict=True), start=1):
        if not conservative:
            programs[f"layer_{k}"] = (layer, inputs, layer_dims)
        elif k == last:
            programs[f"layer_{k}"] = (LastLayerWithGradients(layer), inputs, layer_dims)
        else:
            with torch.no_grad():
                out = layer(*inputs)
            grads = [torch.rand_like(t) for t in (out if carried else (out,))]
            split = SplitVJP(layer_joint(layer), inputs, grads, len(grads), layer_dims, out_dims)
            programs[f"layer_{k}"] = (split.forward, inputs, layer_dims)
            vjp = (split.backward, split.backward_inputs, split.backward_dims)
            programs[f"layer_vjp_{k}"] = vjp
    if conservative:
        inputs = (species, edge_index, vectors)
        with torch.no_grad():
            grad = torch.rand_like(pieces.edge(*inputs))
        split = SplitVJP(edge_joint(pieces.edge), inputs, [grad], 1, edge_dims, ({0: edges},))
        programs["edge"] = (split.forward, inputs, edge_dims)
        programs["edge_vjp"] = (split.backward, split.backward_inputs, split.backward_dims)
    return programs


def _compile_pieces(
    pieces: HaloPieces,
    path: Path,
    metadata: dict,
    dtype: torch.dtype,
    device: str,
    n_species: int,
    module,
) -> None:
    from torch._inductor.package import package_aoti
    from torch.fx.experimental.proxy_tensor import make_fx

    conservative = metadata["forces"] == "conservative"
    graph = example_graph(n_species, dtype, device, reverses=bool(pieces.edge_state_width))
    if conservative:
        metadata = {**metadata, "vjp": "residuals"}  # see the module docstring
    jobs, token = {}, uuid.uuid4().hex[:12]
    with tempfile.TemporaryDirectory() as scratch, warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)  # torch-internal notices
        try:
            programs = programs_of(pieces, graph, conservative)
        except Exception as err:  # torch raises many exception types while tracing
            what = f"tracing the pieces of {type(module).__name__} with gradients"
            raise _failed(what, err) from err
        for name, (piece, inputs, dims) in programs.items():
            try:
                if isinstance(piece, LastLayerWithGradients):
                    # autograd.grad cannot be exported directly: trace it first
                    with torch.enable_grad():
                        piece = make_fx(
                            piece, tracing_mode="symbolic", _allow_non_fake_inputs=True
                        )(*inputs)
                program = torch.export.export(piece, inputs, dynamic_shapes=dims)
            except Exception as err:  # torch raises many exception types while tracing
                raise _failed(f"tracing piece {name!r} of {type(module).__name__}", err) from err
            options = named_program_options(name, token)
            if name == "first":
                options["aot_inductor.metadata"] = metadata
            jobs[name] = (program, inputs, options)
        graph_of = DirectForceGraph if not conservative else ConservativeGraph
        whole = pieces.one_graph if pieces.one_graph is not None else PiecesInOneGraph(pieces)
        graph = graph_of(whole, dtype)
        program = trace_graph(graph, dtype, device, n_species)
        jobs["graph"] = (program, program.example_inputs[0], named_program_options("graph", token))
        compiled = {name: compile_program(*job) for name, job in jobs.items()}
        written = package_aoti(str(Path(scratch) / "model.pt2"), compiled)
        Path(written).replace(path)


def _failed(what: str, err: Exception) -> ExportError:
    return ExportError(
        f"{what} for AOTInductor failed: {err}. Pieces must avoid data-dependent Python "
        "control flow; TorchScript (.pt) is the fallback."
    )


def named_program_options(name: str, token: str) -> dict:
    """AOTInductor options of one program of the package. Its files are named after it and
    this export's token: by default they are named by a hash of the generated wrapper code,
    which two layers of the same shape share (their weights, compiled into the library,
    differ), and the package loader would then run one layer's library for both. The token
    keeps names of this export from meeting files an earlier export left in inductor's
    cache folder (a file that exists there is not written again)."""
    return {
        "aot_inductor.package": True,
        "aot_inductor.model_name_for_generated_files": f"{name}_{token}",
    }


def compile_program(program: torch.export.ExportedProgram, inputs: tuple, options: dict) -> list:
    """The files of one AOTInductor-compiled program (for package_aoti)."""
    from torch._inductor import aot_compile

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)  # torch-internal notices
        return aot_compile(program.module(), inputs, options=options)
