"""Model contract 3: message passing over MPI ranks by per-layer halo exchange.

Every contract-3 model (SchNet, PaiNN, ForceNet, the message-passing toy, and the
edge-state DimeNet++, SphereNet, GemNet-T and GemNet-dT; small, float64, TorchScript) in
LAMMPS on 1-4 ranks and several domain layouts must equal the same model evaluated in
Python on ASE's periodic neighbour list (energy, forces, per-atom energy) and 1 rank
(virials), to 1e-10;
for the edge-state models Python runs their own forward with its triplet list, so the test
also proves the per-atom triplet sums exact. The halo exchange itself must be an exact
transpose pair; the AOTInductor pieces' compiled VJPs must equal autograd of the pieces.
"""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from ase.io import read
from ase.neighborlist import neighbor_list
from systems import argon_cluster_in_vacuum, argon_fcc, deck, min_atoms_per_rank, write_data

from lmp_bench import export
from lmp_bench.export.halo import edge_joint, example_graph, layer_joint, piece_inputs
from lmp_bench.lammps.snapshot import run_snapshot
from lmp_bench.models import MessagePassingToy
from lmp_bench.models.graph import evaluate
from lmp_bench.models.halo import with_reverse_edges
from lmp_bench.models.zoo import build

pytestmark = pytest.mark.mpi

MODELS = [
    *("schnet", "painn", "forcenet", "mp-toy"),
    *("dimenet++", "spherenet", "gemnet-t", "gemnet-dt"),
]
# their small cutoff, 3 A, reaches no argon neighbours
EDGE_STATE = {"dimenet++", "spherenet", "gemnet-t", "gemnet-dt"}
# ranks -> `processors` layouts checked with that many ranks ("" = LAMMPS's choice);
# 4 x 1 x 1 of the 21 A box gives 5.3 A subdomains, thinner than cutoff + skin: several swaps
LAYOUTS = {
    2: ["processors 2 1 1", "processors 1 2 1", "comm_style tiled"],
    3: [""],
    4: ["processors 2 2 1", "processors 4 1 1", "comm_style tiled"],
}


def contract3_model(name: str, blocks: int = 2) -> torch.nn.Module:
    torch.manual_seed(0)
    if name == "mp-toy":
        return MessagePassingToy(cutoff=4.5)
    overrides = {"cutoff": 4.5, "num_blocks": blocks} if name in EDGE_STATE else {}
    return build(name, ["Ar"], size="small", **overrides).double().eval()


@pytest.fixture(scope="module")
def argon(tmp_path_factory):
    """256 rattled fcc argon atoms in a triclinic box (ASE reads it back for Python)."""
    path = write_data(argon_fcc(repeat=4, triclinic=True), tmp_path_factory.mktemp("ar") / "a.data")
    return path, read(path, format="lammps-data", atom_style="atomic", units="metal")


@pytest.fixture(scope="module")
def halo_models(model_dir):
    return {
        name: (model := contract3_model(name), export(model, model_dir / f"halo-{name}.pt"))
        for name in MODELS
    }


def inputs_for(data, path, layout: str = "") -> str:
    commands = deck(data, f"pair_style mlff {path}\npair_coeff * * Ar\n")
    return commands.replace("atom_modify", f"{layout}\natom_modify") if layout else commands


@pytest.fixture(scope="module")
def one_rank(argon, halo_models):
    data, _ = argon
    runs = [inputs_for(data, path) for _, path in halo_models.values()]
    return dict(zip(halo_models, _rows(run_snapshot(runs, 1)), strict=True))


def _rows(snapshot) -> list[dict]:
    keys = ("energy", "forces", "atom_energy", "pressure_virial", "atom_virial")
    return [{key: getattr(snapshot, key)[k] for key in keys} for k in range(len(snapshot.energy))]


def test_one_rank_equals_python(argon, halo_models, one_rank):
    """The owner graph (no ghost rows) against ASE's periodic neighbour list."""
    _, atoms = argon
    for name, (model, _) in halo_models.items():
        python = evaluate(
            model, atoms.positions, np.zeros(len(atoms), int), atoms.cell.array, (True,) * 3
        )
        lammps = one_rank[name]
        assert abs(lammps["energy"] - python["energy"]) <= 1e-10 * abs(python["energy"]), name
        assert np.abs(lammps["forces"] - python["forces"]).max() <= 1e-10, name
        assert np.abs(lammps["atom_energy"] - python["atom_energy"]).max() <= 1e-10, name
        assert np.abs(python["forces"]).max() > 1e-5, f"{name}: forces too small to test"


@pytest.mark.parametrize("ranks", sorted(LAYOUTS))
def test_ranks_and_layouts_equal_one_rank(argon, halo_models, one_rank, ranks):
    data, _ = argon
    runs = [
        (name, layout, inputs_for(data, path, layout))
        for name, (_, path) in halo_models.items()
        for layout in LAYOUTS[ranks]
    ]
    snapshot = run_snapshot([commands for *_, commands in runs], ranks)
    assert "halo exchange: ghosts to one cutoff" in snapshot.log
    for (name, layout, _), many in zip(runs, _rows(snapshot), strict=True):
        what = f"{name}, {ranks} ranks, {layout or 'default layout'}"
        _assert_equal_to_1e10(many, one_rank[name], what)


def _assert_equal_to_1e10(many: dict, one: dict, what: str) -> None:
    """Energy, forces, per-atom energy and both virials of two runs agree to 1e-10."""
    assert abs(many["energy"] - one["energy"]) <= 1e-10 * abs(one["energy"]), what
    assert np.abs(many["forces"] - one["forces"]).max() <= 1e-10, what
    assert np.abs(many["atom_energy"] - one["atom_energy"]).max() <= 1e-10, what
    for key in ("pressure_virial", "atom_virial"):  # bar; zero for ForceNet
        scale = np.abs(one[key]).max() + 1.0
        assert np.abs(many[key] - one[key]).max() <= 1e-10 * scale, (what, key)


@pytest.mark.parametrize("ranks,layout", [(2, "processors 2 1 1"), (4, "processors 4 1 1"),
                                          (4, "comm_style tiled")])  # fmt: skip
def test_forward_and_reverse_exchange_are_transposes(argon, halo_models, ranks, layout):
    """mlff_halo_check: ghost rows equal their owners after the forward exchange, and
    <fwd(a), b> = <a, rev(b)> summed over ranks (the plugin's own check command)."""
    data, _ = argon
    commands = inputs_for(data, halo_models["painn"][1], layout) + "run 0\nmlff_halo_check 64\n"
    log = run_snapshot(commands, ranks).log
    line = next(line for line in log.splitlines() if line.startswith("mlff_halo_check:"))
    assert " 0 ghost values differ" in line
    fwd, rev = (float(x) for x in re.findall(r"= (\S+),", line)[:2])
    assert abs(fwd - rev) <= 1e-12 * abs(fwd) and abs(fwd) > 1.0


def test_nve_trajectory_independent_of_ranks(tmp_path, halo_models):
    """1000 NVE steps of the toy on 1 and 4 ranks (108 atoms, 3.9 A thin subdomains): the
    positions agree to 1e-8 A over the first 100 steps."""
    data = write_data(argon_fcc(repeat=3, triclinic=True), tmp_path / "small.data")
    nve = "velocity all create 60.0 4928 loop all\nfix integrate all nve\ntimestep 0.002\n"
    commands = inputs_for(data, halo_models["mp-toy"][1]) + nve
    one = run_snapshot(commands, 1, segments=[100, 900])
    four = run_snapshot(commands.replace("atom_modify", "processors 4 1 1\natom_modify"), 4,
                        segments=[100, 900])  # fmt: skip
    assert np.abs(four.positions[:2] - one.positions[:2]).max() < 1e-8
    assert np.isfinite(four.total_energy).all()
    drift = abs(four.total_energy[-1] - four.total_energy[0]) / len(four.atom_energy[0])
    assert drift < 1e-4, f"NVE energy drift {drift:.2e} eV/atom over 1000 steps"


def test_contract_two_file_on_several_ranks_evaluates_the_gathered_system(
    argon, contract2_toy_file
):
    """A contract-2 file (one graph) whose ghost graph would hold more atoms per rank than
    the box: rank 0 evaluates the whole system, gathered, equal to 1 rank (energy,
    forces, per-atom energy, virials)."""
    data, _ = argon
    commands = inputs_for(data, contract2_toy_file)
    one = _rows(run_snapshot(commands, 1))[0]
    for ranks, layout in [(2, ""), (4, "processors 2 2 1")]:
        snapshot = run_snapshot(inputs_for(data, contract2_toy_file, layout), ranks)
        assert "the whole system, gathered, evaluated on rank 0" in snapshot.log
        _assert_equal_to_1e10(_rows(snapshot)[0], one, f"{ranks} ranks, {layout or 'default'}")


def test_contract_two_file_keeps_the_ghost_graph_where_it_is_smaller(tmp_path, contract2_toy_file):
    """6,912 atoms on 2 x 2 x 1 ranks with a 0.5 A skin: the ghost graph (ghosts to 2 x 5 +
    0.5 A) holds ~0.93x the system per rank, so it is kept, and equals 1 rank."""
    data = write_data(argon_fcc(repeat=12), tmp_path / "big.data")
    commands = deck(data, f"pair_style mlff {contract2_toy_file}\npair_coeff * * Ar\n",
                    extra="neighbor 0.5 bin\n")  # fmt: skip
    one = run_snapshot(commands, 1)
    four = run_snapshot(commands.replace("atom_modify", "processors 2 2 1\natom_modify"), 4)
    assert "ghost graph: ghosts out to layers x cutoff (0.9" in four.log
    assert abs(four.energy[0] - one.energy[0]) <= 1e-10 * abs(one.energy[0])
    assert np.abs(four.forces - one.forces).max() <= 1e-10


def test_compiled_pieces_equal_autograd_of_the_pieces(message_passing_file):
    """Each AOTInductor program of the toy (.pt2): forward = the eager piece, and every VJP
    (fed the activations its forward program returned) = torch.autograd of the eager piece,
    on a graph of new sizes with ghost rows. The last layer's program returns its energies'
    gradients itself (their cotangent is ones)."""
    from torch._inductor.package import load_package

    pieces = MessagePassingToy().halo_pieces()
    graph = example_graph(1, torch.float64, "cpu")
    generator = torch.Generator().manual_seed(7)
    layer_inputs = piece_inputs(pieces, graph)
    for k, inputs in enumerate(layer_inputs, start=1):
        inputs = _resized(inputs, generator)
        layer = pieces.layers[k - 1]
        energy, *rest = load_package(str(message_passing_file), f"layer_{k}")(*inputs)
        if k == len(layer_inputs):
            vjp, grad = rest, torch.ones(inputs[0].shape[0], dtype=torch.float64)
        else:
            grad = torch.rand(inputs[0].shape, generator=generator, dtype=torch.float64)
            vjp = load_package(str(message_passing_file), f"layer_vjp_{k}")(*rest, grad)
        expected = layer_joint(layer)(inputs, [grad])
        assert torch.allclose(energy, expected[0], rtol=0, atol=1e-12)
        for ours, theirs in zip(vjp, expected[1:], strict=True):
            assert ours.shape == theirs.shape
            assert torch.allclose(ours, theirs, rtol=0, atol=1e-10), f"layer {k}"
    args = (graph["species"], graph["edge_index"], graph["edge_vectors"])
    features_grad = torch.rand(graph["edge_vectors"].shape[0], 8, dtype=torch.float64)
    features, *residuals = load_package(str(message_passing_file), "edge")(*args)
    (compiled,) = load_package(str(message_passing_file), "edge_vjp")(*residuals, features_grad)
    expected = edge_joint(pieces.edge)(args, [features_grad])
    assert torch.allclose(features, expected[0], rtol=0, atol=1e-12)
    assert torch.allclose(compiled, expected[1], rtol=0, atol=1e-10)


def test_compiled_package_on_one_rank_runs_its_whole_graph(argon, message_passing_file):
    """One rank runs the package's whole-model graph (no pieces), equal to Python; two
    ranks its pieces with halo exchange, equal to one."""
    data, atoms = argon
    commands = inputs_for(data, message_passing_file)
    one, two = run_snapshot(commands, 1), run_snapshot(commands, 2)
    assert "one rank: owner graph (no ghost rows), the package's whole-model graph" in one.log
    assert "halo exchange: ghosts to one cutoff" in two.log
    model = MessagePassingToy()
    python = evaluate(
        model, atoms.positions, np.zeros(len(atoms), int), atoms.cell.array, (True,) * 3
    )
    assert abs(one.energy[0] - python["energy"]) <= 1e-10 * abs(python["energy"])
    assert np.abs(one.forces[0] - python["forces"]).max() <= 1e-10
    assert np.abs(two.forces[0] - one.forces[0]).max() <= 1e-10
    assert np.abs(two.pressure_virial[0] - one.pressure_virial[0]).max() <= 1e-10 * (
        np.abs(one.pressure_virial[0]).max() + 1.0
    )


_PACKAGES: dict = {}


# DimeNet++'s package (default set) has one block, to keep the suite's compile time down:
# its first layer returns messages and its last takes them. SphereNet's and GemNet-T's (slow
# set) have two, so that a middle layer does both.
PACKAGE_BLOCKS = {"dimenet++": 1}


def edge_state_package(name: str, model_dir) -> tuple[torch.nn.Module, object]:
    """A small edge-state model as AOTInductor pieces, compiled once per test run."""
    if name not in _PACKAGES:
        model = contract3_model(name, PACKAGE_BLOCKS.get(name, 2))
        _PACKAGES[name] = (model, export(model, model_dir / f"halo-{name}.pt2"))
    return _PACKAGES[name]


@pytest.mark.parametrize(
    "name",
    [
        "dimenet++",
        pytest.param("spherenet", marks=pytest.mark.slow),  # ~15 min: also its triplet graph
        pytest.param("gemnet-t", marks=pytest.mark.slow),  # ~5 min compile
    ],
)
def test_compiled_edge_state_pieces_equal_autograd_of_the_pieces(name, model_dir):
    """The AOTInductor programs of DimeNet++ (SphereNet, GemNet-T: slow set): every layer's forward
    (state and messages) = the eager piece, and every VJP (cotangents of state and
    messages) = torch.autograd of the eager piece, on a graph of new sizes with ghost rows
    and reverse edges."""
    from torch._inductor.package import load_package

    model, path = edge_state_package(name, model_dir)
    pieces = model.halo_pieces()
    generator = torch.Generator().manual_seed(11)
    layers = _edge_state_layer_inputs(pieces, generator)
    for k, (layer, inputs) in enumerate(zip(pieces.layers, layers, strict=True), start=1):
        compiled = load_package(str(path), f"layer_{k}")(*inputs)
        if k == len(layers):  # energies, then their gradients
            outputs, vjp = compiled[:1], compiled[1:]
            grads = [torch.ones(inputs[0].shape[0], dtype=torch.float64)]
        else:  # state and messages, then the activations the VJP program takes
            outputs, residuals = compiled[:2], compiled[2:]
            grads = [torch.rand(t.shape, generator=generator, dtype=t.dtype) for t in outputs]
            vjp = load_package(str(path), f"layer_vjp_{k}")(*residuals, *grads)
        expected = layer_joint(layer)(inputs, grads)
        for ours, theirs in zip(outputs, expected[: len(outputs)], strict=True):
            error = (ours - theirs).abs().max().item()
            assert error <= 1e-10 * (1 + theirs.abs().max().item()), f"layer {k}: {error}"
        assert len(vjp) == 4  # state, ghost, features, messages
        for ours, theirs in zip(vjp, expected[len(outputs) :], strict=True):
            assert ours.shape == theirs.shape
            assert torch.allclose(ours, theirs, rtol=0, atol=1e-10), f"layer {k} VJP"


def _as_list(value) -> list:
    return list(value) if isinstance(value, (tuple, list)) else [value]


def _edge_state_layer_inputs(pieces, generator: torch.Generator) -> list[tuple]:
    """Every layer's inputs on a random graph (9 owned atoms, 5 ghosts, their edges and the
    reverses of edges to ghosts): the owned states and messages the layers produce, random
    ghost rows."""
    owned, nodes = 9, 14
    centre = torch.randint(0, owned, (60,), generator=generator)
    neighbour = (centre + torch.randint(1, nodes, (60,), generator=generator)) % nodes
    pairs = torch.unique(torch.stack([centre, neighbour]), dim=1)
    vectors = 1.0 + 2.0 * torch.rand(pairs.shape[1], 3, generator=generator, dtype=torch.float64)
    edge_index, vectors = with_reverse_edges(pairs, vectors, owned, nodes)
    species = torch.zeros(nodes, dtype=torch.long)
    with torch.no_grad():
        features = pieces.edge(species, edge_index, vectors)
        state = pieces.first(species)[:owned]
        messages = features.new_zeros((features.shape[0], pieces.edge_state_width))
        inputs = []
        for layer in pieces.layers:
            width = int(layer.halo_width)
            ghost = torch.rand(nodes - owned, width, generator=generator, dtype=torch.float64)
            inputs.append((state, ghost, species, edge_index, features, messages))
            out = layer(*inputs[-1])
            if isinstance(out, tuple):
                state, messages = out
    return inputs


def _resized(inputs: tuple, generator: torch.Generator) -> tuple:
    """The same layer inputs with fewer owned rows and ghosts (the programs' sizes are
    dynamic; this checks that nothing was specialised to the tracing sizes)."""
    state, ghost, species, edge_index, features = inputs
    owned, ghosts = 9, 4
    keep = (edge_index[0] < owned) & (edge_index[1] < owned + ghosts)
    return (
        state[:owned].contiguous(),
        torch.rand(ghosts, ghost.shape[1], generator=generator, dtype=ghost.dtype),
        species[: owned + ghosts].contiguous(),
        edge_index[:, keep].contiguous(),
        features[keep].contiguous(),
    )


def test_float32_values_cross_ranks_two_to_a_slot(argon, model_dir):
    """A float32 model's halo values travel packed two to a double: on 2 and 4 ranks SchNet
    and the toy with an odd width (7 values: a padded slot) equal the float64 model on
    1 rank to float32 rounding (a shifted or mis-summed row would be off by O(1))."""
    data, _ = argon
    models = {"schnet": contract3_model("schnet"), "toy": MessagePassingToy(cutoff=4.5, features=7)}
    files = {name: export(m, model_dir / f"halo-{name}-f32.pt", dtype="float32")
             for name, m in models.items()}  # fmt: skip
    exact = _rows(run_snapshot([inputs_for(data, export(m, model_dir / f"{n}-f64.pt"))
                                for n, m in models.items()], 1))  # fmt: skip
    for ranks, layout in [(2, "processors 2 1 1"), (4, "processors 2 2 1")]:
        runs = [inputs_for(data, path, layout) for path in files.values()]
        for name, one, many in zip(files, exact, _rows(run_snapshot(runs, ranks)), strict=True):
            scale = np.abs(one["forces"]).max()
            assert np.abs(many["forces"] - one["forces"]).max() <= 1e-4 * scale, (name, ranks)
            assert abs(many["energy"] - one["energy"]) <= 1e-5 * abs(one["energy"]), (name, ranks)


def test_edge_state_edges_fold_images_of_own_atoms(argon, halo_models):
    """The edges one rank evaluates for an edge-state model (DimeNet++, 4.5 A): on 1 rank
    every ordered pair within the cutoff once (images folded onto their owners, no reverse
    edges); on 2 ranks (`processors 2 1 1`, rank 0 owning the atoms with fractional x
    below 1/2) rank 0's pairs plus one reverse per pair reaching rank 1's atoms, from
    ASE's neighbour list."""
    data, atoms = argon
    centre, neighbour = neighbor_list("ij", atoms, 4.5)
    on_rank_0 = atoms.get_scaled_positions()[:, 0] < 0.5
    owned = on_rank_0[centre]
    crossing = owned & ~on_rank_0[neighbour]
    path = halo_models["dimenet++"][1]
    for ranks, layout, edges, reverses in [
        (1, "", len(centre), 0),
        (2, "processors 2 1 1", owned.sum() + crossing.sum(), crossing.sum()),
    ]:
        log = run_snapshot(inputs_for(data, path, layout), ranks).log
        found = re.findall(r"last step on rank 0: (\d+) edges, (\d+) of them the reverses", log)
        assert found, log[-2000:]
        assert tuple(map(int, found[-1])) == (edges, reverses), (ranks, layout)


def test_edge_state_models_with_a_rank_without_atoms(tmp_path, halo_models):
    """An argon cluster in vacuum on 4 ranks, one of them without atoms: DimeNet++,
    SphereNet and GemNet-dT (messages on edges, reverse edges, several exchanges) equal
    1 rank."""
    data = write_data(argon_cluster_in_vacuum(), tmp_path / "cluster.data")
    for name in ("dimenet++", "spherenet", "gemnet-dt"):
        model = halo_models[name][1]
        commands = deck(data, f"pair_style mlff {model}\npair_coeff * * Ar\n", boundary="f f f")
        one = run_snapshot(commands, 1)
        four = run_snapshot(commands.replace("atom_modify", "processors 4 1 1\natom_modify"), 4)
        assert min_atoms_per_rank(four.log) == 0, "the test needs a rank without atoms"
        assert abs(four.energy[0] - one.energy[0]) <= 1e-10 * abs(one.energy[0]), name
        assert np.abs(four.forces - one.forces).max() <= 1e-10 * np.abs(one.forces).max(), name


def test_edge_state_package_gathers_where_subdomains_are_thinner_than_two_cutoffs(argon, model_dir):
    """DimeNet++ (.pt2) on the 21 A argon box: `processors 4 1 1` (5.3 A subdomains, under
    2 x 4.5 A) takes the gathered system, evaluated by the package's whole-model graph,
    and `2 1 1` (10.5 A) the halo exchange; both equal 1 rank to 1e-10."""
    data, _ = argon
    _, path = edge_state_package("dimenet++", model_dir)
    one = _rows(run_snapshot(inputs_for(data, path), 1))[0]
    for ranks, layout, path_taken in [
        (4, "processors 4 1 1", "under 2 x cutoff: the whole system, gathered, evaluated on"),
        (2, "processors 2 1 1", "thin: halo exchange with edge state"),
    ]:
        snapshot = run_snapshot(inputs_for(data, path, layout), ranks)
        assert path_taken in snapshot.log, layout
        _assert_equal_to_1e10(_rows(snapshot)[0], one, layout)
