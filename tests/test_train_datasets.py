"""`lmp-bench train` and `test` on the datasets of every system shape: an open molecule
(MD17), a triclinic periodic cell (LiPS) and forces-only frames without a box (alanine),
for every zoo model, NequIP and DeepPot-SE. Tiny trainings: what is checked is that each
trains and scores on these shapes, and that `test` equals an evaluation made here."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ase.build import molecule
from systems import lmp_bench

from lmp_bench.cli import main
from lmp_bench.data.alanine import SPECIES as ALANINE_SPECIES
from lmp_bench.data.alanine import build_positions
from lmp_bench.data.frames_file import FrameSet, read_frames, write_frames
from lmp_bench.data.lips import lips_cell
from lmp_bench.models.graph import evaluate
from lmp_bench.models.zoo import ZOO
from lmp_bench.train.checkpoint import load_checkpoint, model_from_checkpoint

FRAMES = 8


def frame_set(positions, species, cell, energies: bool, system: str) -> FrameSet:
    """FRAMES noisy copies of one structure with random labels (eV, eV/A)."""
    rng = np.random.default_rng(1)
    x = positions + rng.normal(scale=0.05, size=(FRAMES, *positions.shape))
    return FrameSet(
        species=np.asarray(species),
        cell=np.repeat(np.asarray(cell, dtype=float)[None], FRAMES, axis=0),
        positions=x,
        unwrapped_positions=x,
        velocities=np.zeros_like(x),
        forces=rng.normal(scale=0.5, size=x.shape),
        energy=rng.normal(size=FRAMES) if energies else np.full(FRAMES, np.nan),
        time=np.arange(float(FRAMES)),
        splits={"train": np.arange(4), "val": np.arange(4, 6), "test": np.arange(6, 8)},
        attributes={"system": system},
    )


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("shapes")
    ethanol, lips = molecule("CH3CH2OH"), lips_cell()
    sets = {
        "md17": frame_set(ethanol.positions, ethanol.get_chemical_symbols(), np.zeros((3, 3)),
                          True, "md17-ethanol"),
        "lips": frame_set(lips.positions, lips.get_chemical_symbols(), lips.cell[:], True, "lips"),
        "alanine": frame_set(build_positions(), ALANINE_SPECIES, np.zeros((3, 3)), False,
                             "alanine"),
    }  # fmt: skip
    return {name: write_frames(data, folder / f"{name}.h5") for name, data in sets.items()}


def train_and_test(capsys, model: str, data, folder, *settings) -> dict:
    """`lmp-bench train` then `test` in this process; the test command's JSON result."""
    sets = [word for item in settings for word in ("--set", item)]
    assert (
        main(["train", "--model", model, "--data", str(data), "--output", str(folder), *sets]) == 0
    )
    capsys.readouterr()
    assert main(["test", str(folder / "best.pt"), "--data", str(data)]) == 0
    return json.loads(capsys.readouterr().out.splitlines()[-1])


@pytest.mark.parametrize("name", sorted(ZOO))
def test_every_zoo_model_trains_and_tests_on_every_shape(name, datasets, tmp_path, capsys):
    for shape, data in datasets.items():
        result = train_and_test(
            capsys, name, data, tmp_path / shape, "size=small", "max_epochs=1", "device=cpu"
        )
        assert np.isfinite(result["force_mae_meV_per_A"]) and result["frames"] == 2, shape
        if shape == "alanine":  # forces only: the energy metric is missing, not NaN
            assert result["energy_mae_meV"] is None
        else:
            assert np.isfinite(result["energy_mae_meV"])


@pytest.mark.parametrize("shape", ["md17", "lips", "alanine"])
def test_zoo_test_command_equals_an_evaluation_here(shape, datasets, tmp_path, capsys):
    """A molecule is scored without periodic images, the LiPS cell with them."""
    result = train_and_test(
        capsys, "schnet", datasets[shape], tmp_path / "run", "size=small", "max_epochs=1"
    )
    model = model_from_checkpoint(load_checkpoint(tmp_path / "run" / "best.pt")).double().eval()
    frames = read_frames(datasets[shape])
    ids = np.array([model.species.index(s) for s in frames.species])
    periodic = shape == "lips"
    errors = []
    for t in frames.splits["test"]:
        out = evaluate(model, frames.positions[t], ids, frames.cell[t] if periodic else None,
                       (periodic,) * 3)  # fmt: skip
        errors.append(np.abs(out["forces"] - frames.forces[t]).mean())
    assert result["force_mae_meV_per_A"] == pytest.approx(1000 * np.mean(errors), rel=1e-4)


@pytest.mark.slow  # 1-2 minutes each (nequip compiles its model): pytest -m slow
@pytest.mark.parametrize("framework", ["nequip", "deeppot-se"])
def test_frameworks_train_and_test_on_forces_only_frames_without_a_box(
    framework, datasets, tmp_path
):
    """The alanine shape (no box, no energies) through nequip's and deepmd's own tools."""
    if framework == "nequip":
        pytest.importorskip("nequip")
        settings = ["r_max=3.0", "num_layers=1", "l_max=1", "num_features=4", "max_epochs=1"]
    else:
        pytest.importorskip("deepmd")
        settings = ["numb_steps=2", "sel=6,10,2,2", "rcut=3.0", "rcut_smth=2.5", "neuron=4,8"]
        settings += ["axis_neuron=4", "fitting_neuron=8,8", "disp_freq=1", "save_freq=2"]
    sets = [word for item in settings for word in ("--set", item)]
    folder = tmp_path / "run"
    trained = lmp_bench(
        "train", "--model", framework, "--data", str(datasets["alanine"]), "--output",
        str(folder), *sets, env={"OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert trained.returncode == 0, trained.stdout + trained.stderr
    tested = lmp_bench("test", str(folder), "--data", str(datasets["alanine"]))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    result = json.loads(tested.stdout.splitlines()[-1])
    assert result["energy_mae_meV"] is None and "n/a (forces-only data)" in tested.stdout
    assert np.isfinite(result["force_mae_meV_per_A"]) and result["frames"] == 2
