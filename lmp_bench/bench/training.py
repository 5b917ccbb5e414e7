"""The bench's stages up to a model file: data, training, test-split force MAE, export.

Each piece of work is the `lmp-bench` command a user would type (its log starts with the
command line), run by the job pool; a piece is skipped when its output is complete:

- data: the dataset file, complete (a stand-in writes ``complete=True`` when done);
- train: zoo runs write finished.json when they stop by their own rule, nequip and deepmd
  runs write metrics.csv last; a zoo run killed after an epoch resumes from last.pt, any
  other unfinished run starts again;
- test: test.json in the run folder (`lmp-bench test` writes it);
- export: the zoo model's file (written under a .partial name, moved into place when
  complete); nequip's and deepmd's own files get a provenance sidecar instead.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from lmp_bench.bench.context import Bench, Outcome
from lmp_bench.bench.pool import Job, lmp_bench_command, run_jobs
from lmp_bench.bench.scales import ZOO_MODELS
from lmp_bench.train.records import TEST_RECORD, run_provenance
from lmp_bench.train.trainer import FINISHED


def dataset_complete(path: Path) -> bool:
    """A dataset file that exists and is not a stand-in still being written."""
    import h5py

    if not path.is_file():
        return False
    try:
        with h5py.File(path, "r") as data:
            return str(data.attrs.get("complete", "True")) != "False"
    except OSError:  # a file cut off mid-write
        return False


def stage_data(bench: Bench) -> Outcome:
    data = bench.plan["data"]
    path = bench.data
    print(f"[data] {data['source']}: {path}", flush=True)
    if not data["make"]:
        if not path.is_file():
            raise FileNotFoundError(
                f"the plan's dataset {path} is gone: put it back, or start a new bench "
                "(another --output)"
            )
        return Outcome(skipped=1)
    if dataset_complete(path):
        return Outcome(skipped=1)
    command = lmp_bench_command(
        "data", "make", bench.plan["system"], "--frames", str(data["frames"]),
        "--seed", "0", "-o", str(path),
    )  # fmt: skip
    log = bench.folder.log("data", "stand-in")
    path.parent.mkdir(parents=True, exist_ok=True)
    (result,) = run_jobs([Job("stand-in", command, log)], 1, "data", bench.heartbeat)
    if not result.ok:
        return Outcome(failed={"data": result.detail})
    return Outcome(ran=1)


def training_finished(model: str, run: Path) -> bool:
    if model in ZOO_MODELS:
        return (run / FINISHED).is_file()
    return (run / "metrics.csv").is_file()  # nequip and deepmd write it last


def training_job(bench: Bench, model: str) -> Job:
    run = bench.folder.train(model)
    log = bench.folder.log("train", model)
    if model in ZOO_MODELS and (run / "last.pt").is_file():
        print(f"[train] {model}: resuming from {run / 'last.pt'}", flush=True)
        return Job(model, lmp_bench_command("train", "--resume", str(run)), log)
    if run.exists():
        why = "before its first epoch" if model in ZOO_MODELS else "(nequip, deepmd: no resume)"
        print(f"[train] {model}: an unfinished run stopped {why}: training anew", flush=True)
        shutil.rmtree(run)
    run.parent.mkdir(parents=True, exist_ok=True)
    settings = [part for item in bench.plan["train_settings"][model] for part in ("--set", item)]
    command = lmp_bench_command(
        "train", "--model", model, "--data", str(bench.data), "--output", str(run), *settings
    )
    return Job(model, command, log)


def stage_train(bench: Bench) -> Outcome:
    outcome = Outcome()
    jobs = []
    for model in bench.models():
        if training_finished(model, bench.folder.train(model)):
            outcome.skipped += 1
        else:
            jobs.append(training_job(bench, model))
    return _run(bench, jobs, "train", outcome)


def stage_test(bench: Bench) -> Outcome:
    outcome = Outcome()
    jobs = []
    for model in bench.models():
        run = bench.folder.train(model)
        if (run / TEST_RECORD).is_file():
            outcome.skipped += 1
            continue
        command = lmp_bench_command("test", str(run), "--data", str(bench.data))
        jobs.append(Job(model, command, bench.folder.log("test", model)))
    return _run(bench, jobs, "test", outcome)


def model_file(bench: Bench, model: str) -> Path:
    """The file LAMMPS runs: the zoo model's export, or the framework's own deployed file."""
    if model in ZOO_MODELS:
        return bench.folder.exported(model, bench.plan["export"])
    from lmp_bench.frameworks import framework

    return framework(model).deployed_file(bench.folder.train(model))


def stage_export(bench: Bench) -> Outcome:
    from lmp_bench.export.provenance import sidecar_path, write_sidecar

    outcome = Outcome()
    jobs = []
    for model in bench.models():
        path = model_file(bench, model)
        if model not in ZOO_MODELS:  # nequip's and deepmd's own files: a sidecar
            if sidecar_path(path).is_file():
                outcome.skipped += 1
            else:
                write_sidecar(path, run_provenance(bench.folder.train(model)))
                print(f"[export] {model}: provenance of {path} in {sidecar_path(path)}")
                outcome.ran += 1
            continue
        if path.is_file():
            outcome.skipped += 1
            continue
        partial = path.with_name(f"{model}.partial{path.suffix}")
        command = lmp_bench_command("export", str(bench.folder.train(model)), "-o", str(partial))
        log = bench.folder.log("export", model)
        jobs.append(Job(model, command, log, done=_mover(partial, path)))
    return _run(bench, jobs, "export", outcome)


def _mover(partial: Path, path: Path):
    def move() -> None:
        partial.replace(path)

    return move


def _run(bench: Bench, jobs: list[Job], stage: str, outcome: Outcome) -> Outcome:
    """Run the stage's jobs; a failed job drops its model from the later stages."""
    for result in run_jobs(jobs, bench.jobs, stage, bench.heartbeat):
        if result.ok:
            outcome.ran += 1
        else:
            outcome.failed[result.name] = result.detail
            bench.dropped[result.name] = f"{stage}: {result.detail}"
    return outcome
