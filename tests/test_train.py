"""Training, testing, exporting and finding trained models (lmp-bench train/test/export)."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from systems import lmp_bench

from lmp_bench.data.frames_file import read_frames
from lmp_bench.data.water import write_water_frame
from lmp_bench.lammps.snapshot import run_snapshot
from lmp_bench.models.graph import evaluate
from lmp_bench.train.checkpoint import load_checkpoint, model_from_checkpoint
from lmp_bench.train.config import ConfigError, load_config

ROOT = Path(__file__).resolve().parents[1]


def metrics(folder: Path) -> list[dict]:
    with (folder / "metrics.csv").open() as stream:
        return list(csv.DictReader(stream))


@pytest.fixture(scope="module")
def trained(water_dataset, tmp_path_factory) -> Path:
    """A small SchNet trained for 12 epochs into a model store of its own."""
    store = tmp_path_factory.mktemp("store")
    result = lmp_bench(
        *("train", "--model", "schnet", "--data", str(water_dataset)),
        *("--set", "size=small", "--set", "max_epochs=12", "--set", "lr=0.005"),
        env={"LMP_BENCH_MODELS": str(store)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (run,) = (store / "water" / "schnet").iterdir()
    return run


def test_validation_force_error_falls_fivefold(trained):
    """From the untrained model (epoch 0) at least 5x; from epoch 1 at least 2x."""
    rows = metrics(trained)
    assert [int(r["epoch"]) for r in rows] == list(range(13))
    errors = [float(r["val_force_mae_meV_per_A"]) for r in rows]
    fall = f"validation force MAE (meV/A) by epoch: {[round(e) for e in errors]}"
    assert min(errors) <= errors[0] / 5, fall
    assert min(errors) <= errors[1] / 2, fall


def test_test_command_equals_an_independent_evaluation(trained, water_dataset):
    """`lmp-bench test` against the checkpoint evaluated frame by frame with the
    Python graph evaluator (ASE neighbour list, forces from edge gradients)."""
    result = lmp_bench("test", str(trained), "--data", str(water_dataset))
    assert result.returncode == 0, result.stderr
    reported = float(result.stdout.split("force MAE ")[1].split(" meV/A")[0])
    frames = read_frames(water_dataset)
    model = model_from_checkpoint(load_checkpoint(trained))
    species = np.tile([0, 1, 1], 64)
    errors = [
        np.abs(
            evaluate(model, frames.positions[i], species, frames.cell[i], dtype=torch.float32)[
                "forces"
            ]
            - frames.forces[i]
        ).mean()
        for i in frames.splits["test"]
    ]
    assert reported == pytest.approx(1000 * np.mean(errors), rel=1e-3)


@pytest.mark.mpi
def test_exported_checkpoint_in_lammps_equals_python(trained, water_dataset, tmp_path):
    """The checkpoint through export + pair_style mlff (1 and 2 ranks) = the checkpoint in
    Python, float32, to 1e-5 of the largest force."""
    model_file = tmp_path / "schnet.pt2"
    result = lmp_bench("export", str(trained), "-o", str(model_file))
    assert result.returncode == 0, result.stderr
    frames = read_frames(water_dataset)
    frame = frames.splits["test"][0]
    positions, length = frames.positions[frame], frames.cell[frame, 0, 0]
    data = write_water_frame(tmp_path / "frame.data", positions, length, "atomic")
    commands = (
        "units metal\nboundary p p p\natom_style atomic\n"
        f"read_data {data}\nmass 1 15.9994\nmass 2 1.008\n"
        f"pair_style mlff {model_file}\npair_coeff * * O H\n"
    )
    model = model_from_checkpoint(load_checkpoint(trained))
    python = evaluate(
        model, positions, np.tile([0, 1, 1], 64), frames.cell[frame], dtype=torch.float32
    )
    for ranks in (1, 2):
        lammps = run_snapshot(commands, ranks)
        # float32: AOTInductor's fused kernels round differently from eager PyTorch; a
        # trained model's forces reach several eV/A, so the bound is relative to them
        difference = np.abs(lammps.forces[0] - python["forces"])
        assert difference.max() < 1e-5 * np.abs(python["forces"]).max(), ranks
        assert difference.mean() < 3e-6, ranks
        assert lammps.energy[0] == pytest.approx(python["energy"], abs=1e-3)


def test_run_finds_the_trained_model_by_name(trained, tmp_path):
    store = trained.parents[2]
    result = lmp_bench(
        *("run", str(ROOT / "inputs" / "water.in"), "--model", "schnet", "--steps", "200"),
        *("--output", str(tmp_path)),
        env={"LMP_BENCH_MODELS": str(store)},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (trained / "best-cpu.pt2").is_file()
    assert "completed" in result.stdout


def test_run_with_an_untrained_zoo_model_names_the_train_command(tmp_path):
    result = lmp_bench(
        *("run", str(ROOT / "inputs" / "water.in"), "--model", "gemnet", "--steps", "10"),
        *("--output", str(tmp_path)),
        env={"LMP_BENCH_MODELS": str(tmp_path / "empty-store")},
    )
    assert result.returncode == 2
    assert "no trained gemnet-t for water" in result.stderr
    assert "lmp-bench train --model gemnet-t" in result.stderr


def test_resume_after_a_kill_continues_like_an_uninterrupted_run(water_dataset, tmp_path):
    """Kill training after its second epoch, resume: the result equals a run that was
    never interrupted (same weights), so optimizer, scheduler and random state were
    restored, and the epochs continue where the checkpoint left off."""
    settings = ("--set", "size=small", "--set", "max_epochs=4", "--set", "lr=0.005")
    common = ("train", "--model", "schnet", "--data", str(water_dataset), *settings)
    one_thread = {"OMP_NUM_THREADS": "1"}  # bitwise reproducible reductions
    whole = lmp_bench(*common, "--output", str(tmp_path / "whole"), env=one_thread)
    assert whole.returncode == 0, whole.stderr

    killed = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, "-m", "lmp_bench.cli", *common, "--output", str(killed)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **one_thread},
    )
    deadline = time.time() + 600
    while time.time() < deadline and process.poll() is None:
        if (killed / "metrics.csv").exists() and len(metrics(killed)) >= 3:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    process.wait()
    epochs_before = len(metrics(killed)) - 1
    assert 2 <= epochs_before < 4, "the kill came too late to test resuming"
    resumed = lmp_bench("train", "--resume", str(killed), env=one_thread)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming {killed} after epoch {epochs_before}" in resumed.stdout
    assert [int(r["epoch"]) for r in metrics(killed)] == [0, 1, 2, 3, 4]
    a = load_checkpoint(tmp_path / "whole" / "last.pt")
    b = load_checkpoint(killed / "last.pt")
    for key, value in a["model"].items():
        assert torch.equal(value, b["model"][key]), key
    assert a["scheduler"] == b["scheduler"]


def test_bad_settings_are_named():
    with pytest.raises(ConfigError, match="unknown training setting"):
        load_config(None, ["learning_rate=1"])
    with pytest.raises(ConfigError, match="lr needs a float"):
        load_config(None, ["lr=fast"])
    with pytest.raises(LookupError, match="the zoo has"):
        load_config(None, ["model=transformer"])


def test_quickstart_end_to_end_on_tiny_numbers(tmp_path, capsys):
    """The README's main job with smaller numbers: every step runs and the table prints."""
    from lmp_bench.cli import main
    from lmp_bench.quickstart import quickstart

    assert (
        quickstart(
            main, tmp_path, "schnet", train_minutes=0.05, frames=40, length_ps=1, reference_ps=2
        )
        == 0
    )
    output = capsys.readouterr().out
    assert "mean ± std" in output and "RDF MAE O-O" in output
    (folder,) = tmp_path.iterdir()
    assert (folder / "schnet.pt2").is_file() and (folder / "train" / "best.pt").is_file()
    # it ends with one report of both runs, and says where it is
    assert f"the report: {folder / 'report' / 'report.html'}" in output
    table = (folder / "report" / "tables" / "water.csv").read_text().splitlines()
    models = sorted(row.split(",")[0] for row in table[1:])
    assert models == ["reference-spcfw-mdsim", "schnet"], table
    assert "not scored" not in "".join(table)
    # the exported file names its test-split force MAE (its provenance), and the table shows it
    test = json.loads((folder / "train" / "test.json").read_text())
    schnet = next(row for row in table[1:] if row.startswith("schnet,")).split(",")
    assert schnet[2] == f"{test['force_mae_meV_per_A']:.1f} (test)"
    tables = sorted(p.name for p in (folder / "report" / "tables").iterdir())
    # one system: its table, and its rank-correlation table (one model with a force MAE:
    # too few runs for a correlation, shown as missing)
    assert tables == ["water-rank-correlation.csv", "water-rank-correlation.md", "water.csv",
                      "water.md"]  # fmt: skip
