"""NequIP through its own tools: `nequip-train` and `nequip-compile` behind `lmp-bench train
--model nequip`; the compiled pair_nequip file in LAMMPS through pair_style mlff against
nequip's own ASE calculator on 1 and 2 ranks; `lmp-bench test`; a water run + evaluate;
bad input. One tiny model (2 layers, l_max 1, 3 epochs) is trained once for the module."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from ase import Atoms
from ase.neighborlist import primitive_neighbor_list
from systems import lmp_bench

from lmp_bench.data.frames_file import read_frames
from lmp_bench.data.water import write_water_frame
from lmp_bench.frameworks import nequip as nequip_framework
from lmp_bench.lammps.snapshot import LammpsRunError, run_snapshot
from lmp_bench.units import EV_PER_A3_IN_BAR

ROOT = Path(__file__).resolve().parents[1]
WATER = str(ROOT / "inputs" / "water.in")
TINY = [
    "r_max=4.0",
    "num_layers=2",
    "l_max=1",
    "num_features=8",
    "radial_mlp_width=16",
    "max_epochs=3",
    "model_dtype=float64",  # the pieces are compared with nequip's own model to 1e-8 eV/A
]


@pytest.fixture(scope="module")
def nequip_run(water_dataset, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("nequip") / "run"
    settings = [word for item in TINY for word in ("--set", item)]
    result = lmp_bench(
        "train", "--model", "nequip", "--data", str(water_dataset), "--output", str(folder),
        *settings,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return folder


def test_training_writes_a_compiled_model_and_metrics(nequip_run):
    compiled = nequip_framework.deployed_file(nequip_run)
    metadata = nequip_framework.file_metadata(compiled)
    assert metadata["type_names"].split() == ["O", "H"]
    assert metadata["nequip_aoti_outputs"].split() == ["atomic_energy", "forces", "virial"]
    rows = (nequip_run / "metrics.csv").read_text().splitlines()
    assert float(rows[1].split(",")[1]) > 0


def water_atoms(frames, t: int) -> Atoms:
    atoms = Atoms(symbols=list(frames.species), positions=frames.positions[t], cell=frames.cell[t])
    atoms.pbc = True
    return atoms


@pytest.mark.mpi
def test_lammps_equals_nequip_python(nequip_run, water_dataset, tmp_path):
    """pair_style mlff with the nequip-compiled file = nequip's ASE calculator on the
    checkpoint (eager), on 1 and 2 ranks: forces, energy per atom, virial pressure."""
    frames = read_frames(water_dataset)
    compiled = nequip_framework.deployed_file(nequip_run)
    calc = nequip_framework.calculator(nequip_run)
    for t in frames.splits["test"][:2]:
        atoms = water_atoms(frames, int(t))
        atoms.calc = calc
        energy, forces = atoms.get_potential_energy(), atoms.get_forces()
        stress = atoms.get_stress(voigt=True)  # xx yy zz yz xz xy, eV/A^3, ASE sign
        length = frames.cell[t, 0, 0]
        data = write_water_frame(tmp_path / "frame.data", frames.positions[t], length, "atomic")
        commands = (
            "units metal\nboundary p p p\natom_style atomic\n"
            f"read_data {data}\nmass 1 15.9994\nmass 2 1.008\n"
            f"pair_style mlff {compiled}\npair_coeff * * O H\n"
        )
        for ranks in (1, 2):
            lammps = run_snapshot(commands, ranks)
            assert np.abs(lammps.forces[0] - forces).max() < 1e-5, ranks
            assert abs(lammps.energy[0] - energy) / len(atoms) < 1e-6, ranks
            assert np.allclose(lammps.atom_energy[0].sum(), lammps.energy[0], atol=1e-9)
            # LAMMPS's virial pressure (bar, xx yy zz xy xz yz) = -ASE stress
            expected = -stress[[0, 1, 2, 5, 4, 3]] * EV_PER_A3_IN_BAR
            assert np.allclose(lammps.pressure_virial[0], expected, atol=0.05), ranks


@pytest.mark.mpi
def test_pieces_over_ranks_equal_nequip_python(nequip_run, water_dataset, tmp_path):
    """The run's contract-3 file (nequip's own modules cut at its layers, written by train)
    in LAMMPS on 1, 2 and 4 ranks = nequip's ASE calculator on the checkpoint, to 1e-8
    eV/A; on several ranks each rank evaluates its own atoms and exchanges features (halo
    exchange), it does not gather the system."""
    pieces = nequip_run / nequip_framework.PIECES
    frames = read_frames(water_dataset)
    t = int(frames.splits["test"][0])
    atoms = water_atoms(frames, t)
    atoms.calc = nequip_framework.calculator(nequip_run)
    energy, forces = atoms.get_potential_energy(), atoms.get_forces()
    stress = atoms.get_stress(voigt=True)
    data = write_water_frame(tmp_path / "frame.data", frames.positions[t], frames.cell[t, 0, 0],
                             "atomic")  # fmt: skip
    commands = (
        "units metal\nboundary p p p\natom_style atomic\natom_modify map array\n"
        f"read_data {data}\nmass 1 15.9994\nmass 2 1.008\n"
        f"pair_style mlff {pieces}\npair_coeff * * O H\n"
    )
    for ranks, layout in [(1, ""), (2, "processors 2 1 1"), (4, "processors 2 2 1")]:
        lammps = run_snapshot(commands.replace("atom_modify", f"{layout}\natom_modify"), ranks)
        assert ranks == 1 or "model contract 3, halo exchange" in lammps.log
        assert np.abs(lammps.forces[0] - forces).max() < 1e-8, ranks
        assert abs(lammps.energy[0] - energy) / len(atoms) < 1e-8, ranks
        expected = -stress[[0, 1, 2, 5, 4, 3]] * EV_PER_A3_IN_BAR  # bar, LAMMPS's order
        # LAMMPS converts eV/A^3 to bar with 1.6021765e6, 7.5e-8 below CODATA
        assert np.allclose(lammps.pressure_virial[0], expected, rtol=1e-6, atol=1e-3), ranks
    assert np.abs(forces).max() > 1e-3, "forces too small to test"


def test_pieces_compiled_vjps_equal_autograd_of_nequip(nequip_run):
    """Each AOTInductor program of the run's pieces (float64) on a random graph with ghost
    rows: forward = nequip's modules run eagerly (lmp_bench.frameworks.nequip_pieces), and
    every VJP = torch.autograd of them. The last layer's program returns its energies'
    gradients itself (their cotangent is ones)."""
    from torch._inductor.package import load_package

    from lmp_bench.export.halo import edge_joint, example_graph, layer_joint, piece_inputs
    from lmp_bench.frameworks.nequip_pieces import NequIPPieces

    package = str(nequip_run / nequip_framework.PIECES)
    model = nequip_framework.calculator(nequip_run).model
    pieces = NequIPPieces(model).eval().halo_pieces()
    graph = example_graph(2, torch.float64, "cpu")
    generator = torch.Generator().manual_seed(7)
    layer_inputs = piece_inputs(pieces, graph)
    for k, inputs in enumerate(layer_inputs, start=1):
        layer = pieces.layers[k - 1]
        out, *rest = load_package(package, f"layer_{k}")(*inputs)
        if k == len(layer_inputs):
            vjp, grad = rest, torch.ones(inputs[0].shape[0], dtype=torch.float64)
        else:  # rest: the activations the VJP program takes
            grad = torch.rand(out.shape, generator=generator, dtype=torch.float64)
            vjp = load_package(package, f"layer_vjp_{k}")(*rest, grad)
        expected = layer_joint(layer)(inputs, [grad])
        assert torch.allclose(out, expected[0], rtol=0, atol=1e-10), k
        for ours, theirs in zip(vjp, expected[1:], strict=True):
            assert torch.allclose(ours, theirs, rtol=0, atol=1e-10), k
            assert theirs.abs().max() > 0 or theirs.numel() == 0, k
    args = (graph["species"], graph["edge_index"], graph["edge_vectors"])
    features, *residuals = load_package(package, "edge")(*args)
    grad = torch.rand(features.shape, generator=generator, dtype=torch.float64)
    (compiled,) = load_package(package, "edge_vjp")(*residuals, grad)
    expected = edge_joint(pieces.edge)(args, [grad])
    assert torch.allclose(features, expected[0], rtol=0, atol=1e-10)
    assert torch.allclose(compiled, expected[1], rtol=0, atol=1e-10)


def compiled_predictions(compiled: Path, frames, indices) -> tuple[np.ndarray, np.ndarray]:
    """The compiled pair_nequip file in Python with ASE's neighbour list: an evaluation
    independent of lmp-bench test's (nequip's calculator on the checkpoint)."""
    package = torch._inductor.aoti_load_package(str(compiled))
    r_max = float(package.get_metadata()["r_max"])
    types = {"O": 0, "H": 1}
    energies, forces = [], []
    for t in indices:
        cell = frames.cell[t]
        i, j, shift = primitive_neighbor_list("ijS", [True] * 3, cell, frames.positions[t], r_max)
        inputs = [
            torch.tensor(frames.positions[t], dtype=torch.float64),
            torch.tensor(np.stack([i, j]), dtype=torch.int64),
            torch.tensor([types[s] for s in frames.species], dtype=torch.int64),
            torch.tensor(cell, dtype=torch.float64).view(1, 3, 3),
            torch.tensor(shift, dtype=torch.float64),
        ]
        atomic_energy, force, _ = package(*inputs)
        energies.append(float(atomic_energy.sum()))
        forces.append(force.detach().numpy())
    return np.array(energies), np.array(forces)


def test_test_command_equals_an_independent_evaluation(nequip_run, water_dataset):
    result = lmp_bench("test", str(nequip_run), "--data", str(water_dataset))
    assert result.returncode == 0, result.stdout + result.stderr
    frames = read_frames(water_dataset)
    test = frames.splits["test"]
    energies, forces = compiled_predictions(
        nequip_framework.deployed_file(nequip_run), frames, test
    )
    reported = json.loads(result.stdout.splitlines()[-1])
    assert reported["frames"] == len(test)
    # compiled float32 vs eager checkpoint: agree to ~1e-7 eV/A
    force_mae = 1000 * np.abs(forces - frames.forces[test]).mean()
    energy_mae = 1000 * np.abs(energies - frames.energy[test]).mean()
    assert reported["force_mae_meV_per_A"] == pytest.approx(force_mae, rel=1e-4)
    assert reported["energy_mae_meV"] == pytest.approx(energy_mae, rel=1e-3, abs=1e-3)


def test_water_run_through_run_and_evaluate(nequip_run, water_dataset, tmp_path):
    """--model nequip finds the run in the model store; the run is scored by evaluate."""
    store = tmp_path / "store" / "water" / "nequip"
    store.mkdir(parents=True)
    (store / "tiny").symlink_to(nequip_run)
    # one torch thread: two threads on two busy cores are several times slower
    env = {**os.environ, "LMP_BENCH_MODELS": str(tmp_path / "store"), "OMP_NUM_THREADS": "1"}
    runs = {}
    for model in ("reference", "nequip"):
        output = tmp_path / model
        result = lmp_bench(
            "run", WATER, "--model", model, "--length", "0.2", "--start-from",
            str(water_dataset), "--output", str(output), env=env,
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        (runs[model],) = output.iterdir()
    result = lmp_bench("evaluate", str(runs["nequip"]), "--reference", str(runs["reference"]))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "O-O" in result.stdout and "steps/s" in result.stdout


def test_file_for_other_species(nequip_run, tmp_path):
    compiled = nequip_framework.deployed_file(nequip_run)
    with pytest.raises(ValueError, match=r"missing \['Li', 'P', 'S'\]"):
        nequip_framework.pair_lines(compiled, ("Li", "P", "S"))
    data = tmp_path / "argon.data"
    data.write_text(
        "argon\n\n1 atoms\n1 atom types\n\n0 10 xlo xhi\n0 10 ylo yhi\n0 10 zlo zhi\n\n"
        "Atoms # atomic\n\n1 1 5 5 5\n"
    )
    commands = (
        f"units metal\natom_style atomic\nread_data {data}\nmass 1 39.95\n"
        f"pair_style mlff {compiled}\npair_coeff * * Ar\n"
    )
    with pytest.raises(LammpsRunError, match="'Ar', which model .* does not know; it knows: O H"):
        run_snapshot(commands)


def test_file_of_another_framework(lj_files, tmp_path):
    impostor = tmp_path / "lj.nequip.pt2"
    shutil.copy(lj_files["plain.pt2"], impostor)
    result = lmp_bench("run", WATER, "--model", str(impostor), "--steps", "10")
    assert result.returncode == 2
    assert "not a nequip-compiled model" in result.stderr


def test_missing_nequip(monkeypatch, water_dataset, capsys):
    from lmp_bench.cli import main

    monkeypatch.setitem(sys.modules, "nequip", None)  # makes `import nequip` fail
    assert main(["train", "--model", "nequip", "--data", str(water_dataset)]) == 2
    assert "nequip package is not installed" in capsys.readouterr().err
