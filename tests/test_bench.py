"""`lmp-bench bench` end to end at toy size (100 stand-in frames, 2 models, 3 epochs, 2
replicas of 0.25 ps): every stage runs, a second call skips them all, a deleted replica
runs again alone, the report's table is the runs' own metrics and can be made again from
what a commit keeps, and a bench killed during training and during MD finishes with the
metrics of an uninterrupted one."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from systems import lmp_bench

from lmp_bench.export.provenance import read_provenance

TOY = [
    "--models", "schnet,painn", "--export", "pt", "--replicas", "2", "--length", "0.25",
    "--set", "zoo:size=small", "--set", "zoo:arch=", "--set", "zoo:max_epochs=3",
    "--set", "zoo:max_minutes=0", "--heartbeat", "600",
]  # fmt: skip
STAGES = ("data", "train", "test", "export", "md", "evaluate", "report")


def bench(folder: Path, *extra: str) -> subprocess.CompletedProcess:
    """The bench command as a user types it (in a folder without data/: no fetched file)."""
    return lmp_bench("bench", "md17-ethanol", "--output", str(folder), *extra, cwd=folder.parent)


def the_run(folder: Path, model: str) -> Path:
    (run,) = (folder / "runs" / model).glob("md17-*")
    return run


def files_and_times(folder: Path) -> dict[str, float]:
    """Every file's modification time, but the bench's own books and logs."""
    skip = ("state.json", ".lock", "logs/")
    return {
        str(p.relative_to(folder)): p.stat().st_mtime_ns
        for p in folder.rglob("*")
        if p.is_file() and not str(p.relative_to(folder)).startswith(skip)
    }


def replica_scores(run: Path) -> list[tuple]:
    """What a replica's trajectory decides: end state, time simulated, stability, h(r) MAE."""
    metrics = json.loads((run / "metrics.json").read_text())
    return [
        (r["replica"], r["state"], r["simulated_ps"], r["stability_ps"], r["h_mae"])
        for r in metrics["replicas"]
    ]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    folder = tmp_path_factory.mktemp("bench") / "ethanol"
    result = bench(folder, *TOY, "--frames", "100")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return folder, result


def test_every_stage_runs_and_the_table_is_the_runs_metrics(finished):
    folder, result = finished
    for stage in STAGES:
        assert f"=== {stage}: ran in" in result.stdout, stage
    state = json.loads((folder / "state.json").read_text())
    assert [s["status"] for s in state["calls"][0]["stages"].values()] == ["ran"] * 7
    call = state["calls"][0]  # what ran, with what, where: for the committed result
    assert call["command"].startswith("lmp-bench bench md17-ethanol --output")
    assert call["versions"]["torch"] == torch.__version__ and call["versions"]["lammps"]
    assert call["machine"]["cores"] == len(os.sched_getaffinity(0))
    plan = json.loads((folder / "plan.json").read_text())
    data = Path(plan["data"]["path"])
    assert "stand-in" in plan["data"]["source"] and data.parent == folder / "data"
    data_sha256 = hashlib.sha256(data.read_bytes()).hexdigest()
    with (folder / "report" / "tables" / "md17.csv").open() as stream:
        header, *rows = list(csv.reader(stream))
    assert [row[0] for row in rows] == ["painn", "schnet"]
    for row in rows:
        cell = dict(zip(header, row, strict=True))
        model = cell["model"]
        test = json.loads((folder / "train" / model / "test.json").read_text())
        assert test["split"] == "test" and test["frames"] == 50  # half of 100 frames
        provenance = read_provenance(folder / "models" / f"{model}.pt")
        assert provenance["test_force_mae_meV_per_A"] == test["force_mae_meV_per_A"]
        assert provenance["dataset_sha256"] == data_sha256
        assert provenance["train_run"] == str(folder / "train" / model)
        run = the_run(folder, cell["model"])
        assert cell["run"] == run.name
        assert cell["force MAE (meV/Å)"] == f"{test['force_mae_meV_per_A']:.1f} (test)"
        replicas = json.loads((run / "metrics.json").read_text())["replicas"]
        finished_runs = sum(r["state"] == "completed" for r in replicas)
        assert cell["replicas finished"] == f"{finished_runs}/2"
        assert cell["length (ps)"] == "0.25"
        for title, key in (
            ("stability (ps)", "stability_ps"),
            ("h(r) MAE (dimensionless)", "h_mae"),
        ):
            values = np.array([r[key] for r in replicas], dtype=float)
            expected = f"{values.mean():.3g} ± {values.std():.2g} (n={len(values)})"
            assert cell[title] == expected, title
        statuses = [json.loads(p.read_text()) for p in sorted(run.glob("replica-*/status.json"))]
        assert [s["state"] for s in statuses] == [r["state"] for r in replicas]
        assert [s["time_ps"] for s in statuses] == pytest.approx(
            [r["simulated_ps"] for r in replicas]
        )
        assert all(0 < s["steps"] <= 500 for s in statuses)


def test_a_second_call_skips_every_stage(finished):
    folder, _ = finished
    before = files_and_times(folder)
    again = bench(folder, *TOY, "--frames", "100")  # the same command again
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    for stage in STAGES:
        assert f"=== {stage}: skipped (complete)" in again.stdout, stage
    assert files_and_times(folder) == before


def test_a_deleted_replica_runs_again_alone(finished):
    folder, _ = finished
    run = the_run(folder, "schnet")
    scores = replica_scores(run)
    shutil.rmtree(run / "replica-1")
    before = files_and_times(folder)
    again = bench(folder)  # options left out: the plan's
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    assert "=== md: ran in" in again.stdout and "(1 ran, 3 complete before)" in again.stdout
    assert "[md] started schnet replica-1" in again.stdout
    assert "(1 ran, 1 complete before)" in again.stdout  # evaluate: schnet only
    after = files_and_times(folder)
    changed = {name for name in after if after[name] != before.get(name)}
    assert changed and all(
        name.startswith(f"runs/schnet/{run.name}/replica-1/")
        or name in {f"runs/schnet/{run.name}/{f}" for f in ("manifest.json", "metrics.json",
                                                            "curves.npz")}
        or name.startswith("report/")
        for name in changed
    ), sorted(changed)  # fmt: skip
    assert replica_scores(run) == scores  # its seed and start again: the same trajectory


def test_the_committed_report_is_regenerable(finished, tmp_path):
    """A commit of the bench folder (its .gitignore leaves dumps, data and model files
    out), cloned elsewhere: README's report command remakes the tables byte for byte."""
    folder, _ = finished

    def git(*args: str, cwd: Path) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
            cwd=cwd, check=True, capture_output=True,
        )  # fmt: skip

    repository = tmp_path / "repository"
    shutil.copytree(folder, repository / "ethanol", ignore=shutil.ignore_patterns(".lock"))
    git("init", "-q", cwd=repository)
    git("add", "-A", cwd=repository)
    git("commit", "-q", "-m", "bench", cwd=repository)
    git("clone", "-q", str(repository), str(tmp_path / "clone"), cwd=tmp_path)
    clone = tmp_path / "clone" / "ethanol"
    kept = {p.suffix for p in clone.rglob("*") if p.is_file()}
    assert not kept & {".lammpstrj", ".h5", ".pt", ".pt2"}, kept
    committed = {p.name: p.read_bytes() for p in (clone / "report" / "tables").iterdir()}
    shutil.rmtree(clone / "report")
    again = lmp_bench("report", str(clone / "runs"), "-o", str(clone / "report"))
    assert again.returncode == 0, again.stdout + again.stderr
    remade = {p.name: p.read_bytes() for p in (clone / "report" / "tables").iterdir()}
    assert remade == committed and "(test)" in committed["md17.md"].decode()


def test_options_that_contradict_the_plan_are_refused(finished):
    folder, _ = finished
    result = bench(folder, "--replicas", "3", "--set", "schnet:lr=0.1")
    assert result.returncode == 2
    assert "replicas 2 (asked: 3)" in result.stderr and "another --output" in result.stderr
    assert "--set zoo:size=small" in result.stderr
    wrong = lmp_bench("bench", "water", "--output", str(folder.parent / "water"))
    assert wrong.returncode == 2 and "MD17 molecules" in wrong.stderr


def start_killable(folder: Path, *extra: str) -> subprocess.Popen:
    """The bench command in its own process group (the test kills the whole group)."""
    log = (folder.parent / f"{folder.name}-{time.monotonic_ns()}.log").open("w")
    return subprocess.Popen(
        [sys.executable, "-m", "lmp_bench.cli", "bench", "md17-ethanol", "--output",
         str(folder), *extra],
        cwd=folder.parent, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


def kill_when(process: subprocess.Popen, ready, what: str, timeout: float = 300) -> None:
    """SIGKILL the process group once `ready()` is true."""
    deadline = time.monotonic() + timeout
    while not ready():
        assert process.poll() is None, f"the bench ended before {what}"
        assert time.monotonic() < deadline, f"no {what} within {timeout} s"
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def test_a_killed_bench_finishes_with_the_metrics_of_an_uninterrupted_one(finished, tmp_path):
    """Killed (SIGKILL to its process group) once its first epoch is saved and again once
    its first replica writes frames, run again: the same schnet as the uninterrupted bench
    (one model of it: models are trained and run independently, from the same seeds)."""
    reference, _ = finished
    data = json.loads((reference / "plan.json").read_text())["data"]["path"]
    folder = tmp_path / "killed"
    toy = [*TOY[:1], "schnet", *TOY[2:], "--data", data]

    first = start_killable(folder, *toy)
    checkpoint = folder / "train" / "schnet" / "last.pt"
    kill_when(first, checkpoint.is_file, "a saved epoch")
    training_done = (folder / "train" / "schnet" / "finished.json").is_file()

    def replica_frames() -> bool:
        dumps = folder.glob("runs/schnet/*/replica-*/trajectory.lammpstrj")
        return any(dump.stat().st_size for dump in dumps)

    second = start_killable(folder, *toy)
    kill_when(second, replica_frames, "a replica's first frames")
    assert len(list(folder.glob("runs/schnet/*/replica-*/status.json"))) < 2  # MD unfinished

    last = bench(folder, *toy)
    assert last.returncode == 0, last.stdout[-3000:] + last.stderr[-3000:]
    if not training_done:
        log = (folder / "logs" / "train-schnet.log").read_text()
        assert "resuming" in log, log[-2000:]
    ours = json.loads((folder / "train" / "schnet" / "test.json").read_text())
    theirs = json.loads((reference / "train" / "schnet" / "test.json").read_text())
    assert ours["force_mae_meV_per_A"] == theirs["force_mae_meV_per_A"]
    assert ours["energy_mae_meV"] == theirs["energy_mae_meV"]
    assert replica_scores(the_run(folder, "schnet")) == replica_scores(the_run(reference, "schnet"))
