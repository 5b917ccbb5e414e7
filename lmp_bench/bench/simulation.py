"""The bench's stages from a model file to the report: MD replicas, evaluate, report.

- md: each model's run folder is planned once (`lmp-bench run`'s planning: replica starts
  from random test frames, the bond watchdog, manifest.json, jobs.json); then every
  replica without a status.json, of every model, is one job of one rank in the pool,
  longest first. A replica killed mid-run (or deleted) runs again from its start, with
  its seed: the same trajectory.
- evaluate: a run's metrics.json, remade when a replica finished after it.
- report: tables, figures and report.html of all runs (`lmp-bench report`), remade when
  any metrics.json is newer.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from lmp_bench.bench.context import Bench, Outcome
from lmp_bench.bench.pool import Job, run_jobs
from lmp_bench.bench.scales import scale_named
from lmp_bench.bench.training import model_file

DECK = Path(__file__).resolve().parents[2] / "inputs" / "md17.in"


def run_folder(bench: Bench, model: str) -> Path | None:
    """The model's planned run folder (holding jobs.json), if any."""
    from lmp_bench.run_plan import JOBS_FILE

    parent = bench.folder.run_parent(model)
    planned = sorted(p.parent for p in parent.glob(f"*/{JOBS_FILE}"))
    return planned[-1] if planned else None


def plan_model_run(bench: Bench, model: str) -> Path:
    """Plan the model's replicas (once): `lmp-bench run`'s planning into runs/<model>/."""
    from lmp_bench.run_plan import RunOptions, plan_run

    parent = bench.folder.run_parent(model)
    if parent.exists():  # a planning that was stopped half-way
        shutil.rmtree(parent)
    plan = bench.plan
    options = RunOptions(
        deck=str(DECK), model=str(model_file(bench, model)), variant="spcfw-mdsim",
        replicas=plan["replicas"], length=plan["length_ps"], steps=None, molecules=64,
        reference=None, start_from=str(bench.data), ranks=1, launcher=None,
        seed=plan["seed"], ensemble="nvt", device=None, output=str(parent),
    )  # fmt: skip
    return plan_run(options).folder


def stage_md(bench: Bench) -> Outcome:
    from lmp_bench.run_plan import finished_replicas, load_jobs, record_statuses, replica_command

    outcome = Outcome()
    costs = scale_named(bench.plan["scale"]).costs
    jobs: list[tuple[float, Job]] = []
    for model in bench.models():
        folder = run_folder(bench, model)
        if folder is None:
            try:
                folder = plan_model_run(bench, model)
            except (OSError, ValueError, LookupError, RuntimeError) as err:
                outcome.failed[model] = f"planning its run: {err}"
                bench.dropped[model] = f"md: {err}"
                continue
        record_statuses(folder)  # replicas that ended after the last call kept its books
        done = set(finished_replicas(folder))
        planned = load_jobs(folder)
        outcome.skipped += len(done)
        for k, job in enumerate(planned):
            if k in done:
                continue
            command, env, replica = replica_command(folder, k)
            name = f"{model} replica-{k}"
            log = bench.folder.log("md", name)
            expected = job.steps / costs[model].md_steps_per_s
            record = _recorder(folder, replica)
            jobs.append((expected, Job(name, command, log, env, record, replica)))
    jobs.sort(key=lambda pair: -pair[0])  # longest first: the cores stay busy to the end
    if jobs:
        print(
            f"[md] {len(jobs)} replica(s) to run, {bench.jobs} at a time (the run folders' own "
            "'1 at a time' is for `lmp-bench run`), one rank and one thread each",
            flush=True,
        )
    for result in run_jobs([job for _, job in jobs], bench.jobs, "md", bench.heartbeat):
        if result.ok:
            outcome.ran += 1
        else:
            outcome.failed[result.name] = result.detail
    return outcome


def _recorder(folder: Path, replica: Path):
    """After a replica's process: its status into the run's manifest."""

    def record() -> None:
        from lmp_bench.run_plan import record_statuses

        if not (replica / "status.json").is_file():
            raise RuntimeError(f"{replica} ended without a status.json: see its log.lammps")
        record_statuses(folder)

    return record


def evaluated(folder: Path) -> bool:
    """metrics.json exists and no replica ended after it was written."""
    metrics = folder / "metrics.json"
    if not metrics.is_file():
        return False
    statuses = [p.stat().st_mtime for p in folder.glob("replica-*/status.json")]
    return metrics.stat().st_mtime >= max(statuses, default=0.0)


def stage_evaluate(bench: Bench) -> Outcome:
    from lmp_bench.evaluate import evaluate
    from lmp_bench.run_plan import finished_replicas, load_jobs

    outcome = Outcome()
    for model in bench.models():
        folder = run_folder(bench, model)
        if folder is None:
            continue
        if len(finished_replicas(folder)) < len(load_jobs(folder)):
            outcome.failed[model] = "replicas unfinished: run the bench again"
            continue
        if evaluated(folder):
            outcome.skipped += 1
            continue
        try:
            metrics = evaluate(folder, bench.data)
        except (OSError, ValueError) as err:
            outcome.failed[model] = str(err)
            continue
        stability = metrics["summary"].get("stability_ps")
        said = f"stability {stability['mean']:.3g} ps" if stability else "no stable replica"
        print(f"[evaluate] {model}: {said} -> {folder / 'metrics.json'}", flush=True)
        outcome.ran += 1
    return outcome


def report_command(bench: Bench) -> str:
    """The documented command that remakes the bench's report from its run folders."""
    return f"lmp-bench report {bench.folder.runs} -o {bench.folder.report}"


def stage_report(bench: Bench) -> Outcome:
    from lmp_bench.report import make_report

    page = bench.folder.report / "report.html"
    metrics = [p.stat().st_mtime for p in bench.folder.runs.glob("*/*/metrics.json")]
    if not metrics:
        return Outcome(failed={"report": "no scored run to report"})
    if page.is_file() and page.stat().st_mtime >= max(metrics):
        return Outcome(skipped=1)
    print(f"[report] {report_command(bench)}", flush=True)
    make_report([bench.folder.runs], bench.folder.report)
    return Outcome(ran=1)


__all__ = ["stage_evaluate", "stage_md", "stage_report", "run_folder", "report_command"]
