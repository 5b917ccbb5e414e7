"""The export helper and the model interface check (fast: TorchScript or no export)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from lmp_bench import export
from lmp_bench.export import ExportError, read_metadata
from lmp_bench.models import LennardJones, ModelInterfaceError, StillingerWeber, validate_model
from lmp_bench.models.graph import evaluate


class NotRotationInvariant(torch.nn.Module):
    species = ["Ar"]
    cutoff = 5.0
    num_layers = 1

    def forward(self, species, edge_index, edge_vectors):
        out = torch.zeros(species.shape[0], dtype=edge_vectors.dtype)
        return out.index_add(0, edge_index[0], edge_vectors[:, 0])


class NoCutoff(torch.nn.Module):
    species = ["Ar"]
    num_layers = 1


def test_interface_rejects_missing_attributes():
    with pytest.raises(ModelInterfaceError, match=r"lacks the attribute\(s\) \['cutoff'\]"):
        validate_model(NoCutoff())


def test_interface_rejects_a_model_that_is_not_rotation_invariant():
    with pytest.raises(ModelInterfaceError, match="rotation"):
        validate_model(NotRotationInvariant())


def test_export_rejects_unknown_suffix_and_dtype(tmp_path):
    with pytest.raises(ExportError, match=r"must end in \.pt2"):
        export(LennardJones(), tmp_path / "model.onnx")
    with pytest.raises(ExportError, match="dtype must be one of"):
        export(LennardJones(), tmp_path / "model.pt", dtype="float16")
    with pytest.raises(ExportError, match="needs a visible CUDA GPU"):
        export(LennardJones(), tmp_path / "model.pt", device="cuda")


def test_metadata_written_into_the_file(lj_files, message_passing_file):
    meta = read_metadata(lj_files["plain.pt"])
    assert meta["cutoff"] == "8.5" and meta["species"] == "Ar" and meta["layers"] == "1"
    assert meta["forces"] == "conservative" and meta["units"] == "metal"
    meta = read_metadata(message_passing_file)
    assert meta["layers"] == "2" and meta["dtype"] == "float64" and meta["device"] == "cpu"


def test_two_exports_of_one_graph_share_no_file_names(tmp_path, lj_files):
    """AOTInductor writes a program's files into its cache folder, named by default after
    a hash of the generated code, so two processes exporting the same model at once wrote
    the same files: once, one suite run's package took the other's half-written metadata
    (an empty JSON; LAMMPS then failed to parse it). Each export names its own files."""
    import zipfile

    again = export(LennardJones(), tmp_path / "lj-plain-again.pt2")

    def program_files(path):
        with zipfile.ZipFile(path) as package:
            names = package.namelist()
            return {name.rsplit("/", 1)[-1] for name in names if "/aotinductor/" in name}

    first, second = program_files(lj_files["plain.pt2"]), program_files(again)
    assert first and second
    assert not first & second, sorted(first & second)
    assert read_metadata(again)["cutoff"] == read_metadata(lj_files["plain.pt2"])["cutoff"]


def test_python_evaluation_of_lj_matches_the_analytic_pair_sum():
    """Independent check of the edge-gradient forces: a 2-atom LJ dimer by hand."""
    r, eps, sigma = 3.7, 0.0103, 3.405
    positions = np.array([[0.0, 0.0, 0.0], [r, 0.0, 0.0]])
    result = evaluate(LennardJones(), positions, np.zeros(2, dtype=int), None, (False,) * 3)
    sr6 = (sigma / r) ** 6
    energy = 4 * eps * (sr6 * sr6 - sr6)
    force_on_2 = 24 * eps * (2 * sr6 * sr6 - sr6) / r  # +x when repulsive
    assert result["energy"] == pytest.approx(energy, rel=1e-12)
    assert result["forces"][1, 0] == pytest.approx(force_on_2, rel=1e-12)
    assert result["forces"][0, 0] == pytest.approx(-force_on_2, rel=1e-12)
    assert result["virial"][0, 0] == pytest.approx(force_on_2 * r, rel=1e-12)


def test_stillinger_weber_three_body_expansion_matches_triplet_sum():
    """The triplet-free angular sum equals an explicit loop over neighbour pairs."""
    rng = np.random.default_rng(2)
    positions = rng.uniform(0, 3.0, size=(6, 3))
    model = StillingerWeber()
    model.big_a = 0.0  # switch the two-body term off: only the angular term remains
    result = evaluate(model, positions, np.zeros(6, dtype=int), None, (False,) * 3)
    cut, expected = model.cutoff, 0.0
    for i in range(6):
        for j in range(6):
            for k in range(j + 1, 6):
                if i in (j, k):
                    continue
                rij, rik = positions[j] - positions[i], positions[k] - positions[i]
                dij, dik = np.linalg.norm(rij), np.linalg.norm(rik)
                if dij >= cut or dik >= cut:
                    continue
                cos = rij @ rik / (dij * dik)
                expected += (
                    model.lam
                    * model.epsilon
                    * (cos + 1 / 3) ** 2
                    * np.exp(model.gamma * model.sigma / (dij - cut))
                    * np.exp(model.gamma * model.sigma / (dik - cut))
                )
    assert expected > 0
    assert result["energy"] == pytest.approx(expected, rel=1e-10)


# functional copies of view ops (functionalize's remove="mutations_and_views" makes them)
VIEW_COPY = re.compile(
    r"aten\.(alias|as_strided|detach|diagonal|expand|narrow|permute|select|slice|split"
    r"|split_with_sizes|squeeze|t|transpose|unbind|unfold|unsqueeze|view)_copy\."
)


@pytest.mark.parametrize("name", ["schnet", "painn", "spherenet"])  # dimenet++: test_halo
def test_split_programs_equal_autograd_on_a_graph_of_other_sizes(name):
    """The forward and VJP programs export writes for a layer and the edge piece (the joint
    graph cut in two, export.residuals), exported with dynamic sizes (not compiled: fast): on
    a graph of other sizes than the one they were traced on, the forward = the eager piece
    and the VJP, fed the activations the forward returned, = torch.autograd of the piece.
    Their graphs keep views as views: a functional copy of a view (slice_copy, detach_copy,
    ...) has no AOTInductor kernel and runs as an eager copy every step."""
    from lmp_bench.export.halo import edge_joint, example_graph, layer_joint, programs_of
    from lmp_bench.models.halo import with_reverse_edges
    from lmp_bench.models.zoo import build

    torch.manual_seed(0)
    pieces = build(name, ["O", "H"], size="small").double().eval().halo_pieces()
    carried = bool(pieces.edge_state_width)
    traced_on = example_graph(2, torch.float64, "cpu", reverses=carried)
    programs = programs_of(pieces, traced_on, conservative=True)

    def exported(program: str):
        module, inputs, dims = programs[program]
        graph = torch.export.export(module, tuple(inputs), dynamic_shapes=dims)
        ops = {str(n.target) for n in graph.graph.nodes if n.op == "call_function"}
        view_copies = sorted(op for op in ops if VIEW_COPY.match(op))
        assert not view_copies, f"{program}: {view_copies}"
        return graph.module()

    generator = torch.Generator().manual_seed(5)
    owned, ghosts = 11, 6
    centre = torch.randint(0, owned, (50,), generator=generator)
    neighbour = (centre + torch.randint(1, owned + ghosts, (50,), generator=generator)) % (
        owned + ghosts
    )
    edge_index = torch.stack([centre, neighbour])
    vectors = 0.8 + torch.rand(50, 3, generator=generator, dtype=torch.float64)
    if carried:
        edge_index, vectors = with_reverse_edges(edge_index, vectors, owned, owned + ghosts)
    species = torch.randint(0, 2, (owned + ghosts,), generator=generator)

    edge_inputs = (species, edge_index, vectors)
    features, *residuals = exported("edge")(*edge_inputs)
    grad = torch.rand(features.shape, generator=generator, dtype=torch.float64)
    (vectors_grad,) = exported("edge_vjp")(*residuals, grad)
    expected = edge_joint(pieces.edge)(edge_inputs, [grad])
    assert torch.allclose(features, expected[0], rtol=0, atol=1e-12)
    assert torch.allclose(vectors_grad, expected[1], rtol=0, atol=1e-10)

    layer = pieces.layers[0]
    with torch.no_grad():
        state = pieces.first(species)[:owned]
    ghost = torch.rand(ghosts, int(layer.halo_width), generator=generator, dtype=torch.float64)
    inputs = [state, ghost, species, edge_index, features]
    if carried:
        inputs.append(torch.rand(features.shape[0], pieces.edge_state_width, dtype=torch.float64))
    outputs = 2 if carried else 1
    results = exported("layer_1")(*inputs)
    grads = [torch.rand(t.shape, generator=generator, dtype=t.dtype) for t in results[:outputs]]
    vjp = exported("layer_vjp_1")(*results[outputs:], *grads)
    expected = layer_joint(layer)(inputs, grads)
    assert len(vjp) == len(expected) - outputs
    for ours, theirs in zip([*results[:outputs], *vjp], expected, strict=True):
        assert ours.shape == theirs.shape
        assert torch.allclose(ours, theirs, rtol=0, atol=1e-10)
    assert max(t.abs().max() for t in vjp) > 0
