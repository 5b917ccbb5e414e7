"""Models on a GPU through the plugin: skipped where torch sees no CUDA device (CI has
none); run on a GPU machine with `python -m pytest -q tests/test_cuda.py`."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from ase import Atoms
from systems import lmp_bench, water_commands

from lmp_bench.data.water import build_water
from lmp_bench.export import export
from lmp_bench.lammps.snapshot import run_snapshot
from lmp_bench.models.calculator import ModelCalculator
from lmp_bench.models.zoo import build

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
WATER = str(Path(__file__).resolve().parents[1] / "inputs" / "water.in")


@pytest.fixture(scope="module")
def schnet(model_dir) -> tuple[torch.nn.Module, dict[str, Path]]:
    """A small float64 SchNet exported for the CPU and for CUDA."""
    torch.manual_seed(0)
    model = build("schnet", ["O", "H"], size="small").double().eval()
    files = {
        device: export(model, model_dir / f"schnet-{device}.pt2", device=device)
        for device in ("cpu", "cuda")
    }
    return model, files


@pytest.fixture(scope="module")
def water() -> tuple[np.ndarray, float]:
    positions, length = build_water(64, seed=5)
    return positions + np.random.default_rng(1).normal(scale=0.05, size=positions.shape), length


@pytest.mark.mpi
def test_cuda_equals_cpu_on_one_and_two_ranks(schnet, water, tmp_path):
    """The CUDA file = the CPU file in LAMMPS (float64), both ranks sharing one GPU."""
    _, files = schnet
    positions, length = water
    cpu = run_snapshot(water_commands(positions, length, files["cpu"], tmp_path))
    for ranks in (1, 2):
        cuda = run_snapshot(water_commands(positions, length, files["cuda"], tmp_path), ranks)
        assert "on cuda" in cuda.log
        assert np.abs(cuda.forces[0] - cpu.forces[0]).max() < 1e-9, ranks  # eV/A
        assert cuda.energy[0] == pytest.approx(cpu.energy[0], abs=1e-9), ranks  # eV
        assert np.abs(cuda.pressure_virial[0] - cpu.pressure_virial[0]).max() < 1e-6  # bar


def test_ase_calculator_on_cuda_equals_lammps(schnet, water, tmp_path):
    model, files = schnet
    positions, length = water
    atoms = Atoms("OH2" * 64, positions=positions % length, cell=np.eye(3) * length, pbc=True)
    atoms.calc = ModelCalculator(model, device="cuda", dtype=torch.float64)
    lammps = run_snapshot(water_commands(positions, length, files["cuda"], tmp_path))
    assert np.abs(atoms.get_forces() - lammps.forces[0]).max() < 1e-9


def test_water_512_runs_on_cuda(schnet, tmp_path):
    """`run --device cuda` on water-512: the deck completes and the manifest names the GPU."""
    _, files = schnet
    result = lmp_bench(
        "run", WATER, "--model", str(files["cuda"]), "--molecules", "512", "--steps", "200",
        "--device", "cuda", "--output", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    (folder,) = tmp_path.iterdir()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["device"] == "cuda" and manifest["replicas"][0]["state"] == "completed"
    assert "on cuda" in (folder / "replica-0" / "log.lammps").read_text()
