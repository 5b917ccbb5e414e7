"""`lmp-bench bench`: run the stages of a bench plan in order, each skipped when its
output is complete, and keep the books: state.json (what each call did and how long each
stage took, summed over calls), a progress line per stage, and a summary at the end.

A stage that fails for one model drops that model from the later stages and the others go
on; the command then ends with status 1 and says to run it again (which retries what
failed and skips what is complete). One bench command at a time per folder (a lock).
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from lmp_bench.bench.context import Bench, Outcome
from lmp_bench.bench.environment import call_environment
from lmp_bench.bench.estimate import MD17_TIMESTEP_PS, stage_estimates
from lmp_bench.bench.plan import (
    BenchFolder,
    BenchOptions,
    default_folder,
    default_jobs,
    load_or_make_plan,
    write_json,
)
from lmp_bench.bench.pool import duration_text
from lmp_bench.bench.simulation import report_command, stage_evaluate, stage_md, stage_report
from lmp_bench.bench.training import stage_data, stage_export, stage_test, stage_train

STAGES: list[tuple[str, str, Callable[[Bench], Outcome]]] = [
    ("data", "the dataset (fetched, given, or a GFN2-xTB stand-in)", stage_data),
    ("train", "every model on the train split (validation: val split)", stage_train),
    ("test", "force MAE on the test split, meV/Å (lmp-bench test)", stage_test),
    ("export", "model files for LAMMPS, carrying their provenance", stage_export),
    ("md", "replicas in LAMMPS from random test frames, bond watchdog on", stage_md),
    ("evaluate", "stability (ps) and h(r) MAE of every run", stage_evaluate),
    ("report", "tables, figures, report.html", stage_report),
]


@contextmanager
def folder_lock(folder: BenchFolder) -> Iterator[None]:
    """Hold the bench folder's lock for this command (two commands would run the same
    jobs into the same folders)."""
    folder.root.mkdir(parents=True, exist_ok=True)
    with (folder.root / ".lock").open("a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            raise RuntimeError(
                f"another lmp-bench bench (pid {handle.read().strip() or '?'}) is running in "
                f"{folder.root}: wait for it, or stop it first"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        yield


def _stop_on_sigterm(signum, frame) -> None:
    raise SystemExit(128 + signum)  # the pool stops its jobs on the way out


def run_bench(options: BenchOptions) -> int:
    """Run (or continue) the bench; 0 when every stage is complete, 1 when some failed."""
    if not options.system.startswith("md17-"):
        raise ValueError(
            f"lmp-bench bench runs MD17 molecules (md17-ethanol, md17-aspirin, ...), not "
            f"{options.system!r}: other systems run stage by stage (README)"
        )
    folder = default_folder(options)
    previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        with folder_lock(folder):
            plan, new = load_or_make_plan(options, folder)
            bench = Bench(plan, folder, default_jobs(options), options.heartbeat)
            return _run_stages(bench, new)
    except (KeyboardInterrupt, SystemExit) as stop:  # Ctrl-C, SIGTERM: the jobs are stopped
        code = stop.code if isinstance(stop, SystemExit) else 130
        print(
            f"\nlmp-bench bench: stopped; complete work in {folder.root} is kept: run the same "
            "command again to go on",
            flush=True,
        )
        return code if isinstance(code, int) else 1
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_stages(bench: Bench, new: bool) -> int:
    estimates = stage_estimates(bench.plan, bench.jobs)
    print_plan(bench, new, estimates)
    state = read_state(bench.folder)
    call = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), **call_environment(), "stages": {}}
    state["calls"].append(call)
    started = time.perf_counter()
    for number, (name, title, stage) in enumerate(STAGES, 1):
        print(f"\n=== stage {number}/{len(STAGES)} {name}: {title}", flush=True)
        call["stages"][name] = {"status": "running", "started": time.strftime("%H:%M:%S")}
        write_json(bench.folder.state, state)  # a kill leaves it "running" (then: interrupted)
        begin = time.perf_counter()
        outcome = stage(bench)
        seconds = time.perf_counter() - begin
        call["stages"][name] = {
            "status": outcome.status,
            "seconds": round(seconds, 1),
            "ran": outcome.ran,
            "complete_before": outcome.skipped,
            "failed": outcome.failed,
        }
        total = state["stage_seconds"].get(name, 0.0) + seconds
        state["stage_seconds"][name] = round(total, 1)
        write_json(bench.folder.state, state)
        failed = "".join(f"\n    {key}: {why}" for key, why in outcome.failed.items())
        print(
            f"=== {name}: {outcome.status} in {duration_text(seconds)} ({outcome.ran} ran, "
            f"{outcome.skipped} complete before){failed}",
            flush=True,
        )
        if name == "data" and outcome.failed:
            break
    call["seconds"] = round(time.perf_counter() - started, 1)
    write_json(bench.folder.state, state)
    print_summary(bench, call, state)
    failures = any(stage["failed"] for stage in call["stages"].values())
    return 1 if failures or len(call["stages"]) < len(STAGES) else 0


def read_state(folder: BenchFolder) -> dict:
    """The books of earlier calls; a stage a killed call left running is marked interrupted
    (its time is not in the totals)."""
    if folder.state.is_file():
        state = json.loads(folder.state.read_text())
        for call in state["calls"]:
            for stage in call["stages"].values():
                if stage["status"] == "running":
                    stage["status"] = "interrupted"
        return state
    return {"calls": [], "stage_seconds": {}}


def print_plan(bench: Bench, new: bool, estimates: dict[str, float]) -> None:
    plan = bench.plan
    how = "new plan" if new else f"continuing the plan of {plan['created']}"
    steps = round(plan["length_ps"] / MD17_TIMESTEP_PS)
    print(f"lmp-bench bench: {plan['system']}, scale {plan['scale']} -> {bench.folder.root}")
    print(f"  {how}")
    print(f"  data: {plan['data']['source']}: {plan['data']['path']}")
    budget = plan["train_minutes"]
    print(
        f"  training: {len(plan['models'])} models, "
        + (f"{budget:g} min wall-clock budget each" if budget else "design.md's schedule")
        + f"; zoo models train on {plan.get('device', 'cpu')}"
    )
    for model in plan["models"]:
        print(f"    {model}: {' '.join(plan['train_settings'][model]) or '(defaults)'}")
    print(
        f"  MD: {plan['replicas']} replicas a model from random test frames, "
        f"{plan['length_ps']:g} ps each ({steps:,} steps of 0.5 fs, NVT 500 K), bond "
        f"watchdog on, one rank each; models exported as .{plan['export']}"
    )
    print(f"  jobs at once: {bench.jobs}, one thread each")
    parts = ", ".join(f"{name} {duration_text(s)}" for name, s in estimates.items() if s)
    print(
        f"  expected for the whole plan (2-core CPU measurements; complete stages are "
        f"skipped, unstable replicas end early): {parts}; total "
        f"{duration_text(sum(estimates.values()))}",
        flush=True,
    )


def model_results(bench: Bench) -> list[tuple[str, str, str, str]]:
    """(model, test force MAE, stability, h(r) MAE) with units, from the run folders."""
    from lmp_bench.bench.simulation import run_folder
    from lmp_bench.train.records import TEST_RECORD

    rows = []
    for model in bench.plan["models"]:
        test = bench.folder.train(model) / TEST_RECORD
        force = (
            f"{json.loads(test.read_text())['force_mae_meV_per_A']:.1f} meV/Å"
            if test.is_file()
            else "—"
        )
        folder = run_folder(bench, model)
        metrics = folder / "metrics.json" if folder else None
        stability = h_mae = "—"
        if metrics is not None and metrics.is_file():
            summary = json.loads(metrics.read_text())["summary"]
            if summary.get("stability_ps"):
                s = summary["stability_ps"]
                stability = f"{s['mean']:.3g} ± {s['std']:.2g} ps (n={s['n']})"
            if summary.get("h_mae"):
                h_mae = f"{summary['h_mae']['mean']:.3g} ± {summary['h_mae']['std']:.2g}"
        rows.append((model, force, stability, h_mae))
    return rows


def print_summary(bench: Bench, call: dict, state: dict) -> None:
    print(f"\nlmp-bench bench: summary of {bench.folder.root}")
    print(f"  {'stage':<9} {'this call':<22} {'wall time':>10} {'all calls':>10}")
    for name, _, _ in STAGES:
        stage = call["stages"].get(name)
        if stage is None:
            print(f"  {name:<9} {'not reached':<22}")
            continue
        print(
            f"  {name:<9} {stage['status']:<22} {duration_text(stage['seconds']):>10} "
            f"{duration_text(state['stage_seconds'][name]):>10}"
        )
    print(f"  total this call: {duration_text(call['seconds'])}")
    print(f"\n  {'model':<11} {'test force MAE':<16} {'stability':<26} h(r) MAE (dimensionless)")
    for model, force, stability, h_mae in model_results(bench):
        print(f"  {model:<11} {force:<16} {stability:<26} {h_mae}")
    for model, why in bench.dropped.items():
        print(f"  {model}: left out after {why}")
    page = bench.folder.report / "report.html"
    if page.is_file():
        print(f"\n  report: {page}\n  remake its tables and figures: {report_command(bench)}")
    failed = [n for n, s in call["stages"].items() if s["failed"]]
    if failed or len(call["stages"]) < len(STAGES):
        print(
            f"\n  not complete ({', '.join(failed) or 'stopped'}): run the same command again "
            "to retry what failed; complete work is kept"
        )
    print(flush=True)
