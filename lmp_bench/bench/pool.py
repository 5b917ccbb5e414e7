"""Run independent jobs side by side, each a process with one thread, as many at once as
there are cores to give; every job writes its own log, and a line is printed when a job
starts or ends and, while jobs run, every `heartbeat` seconds (what each one last logged).

One thread per job: on a few cores, two jobs of one thread each finish sooner than one
after the other with two threads each (torch's and deepmd's small kernels scale badly),
and jobs sharing cores with other work stay predictable.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ONE_THREAD = {
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "TORCHINDUCTOR_COMPILE_THREADS": "1",  # AOTInductor compiles on one core too
    "DP_INTRA_OP_PARALLELISM_THREADS": "1",  # deepmd-kit's own thread settings
    "DP_INTER_OP_PARALLELISM_THREADS": "1",
    "PYTHONUNBUFFERED": "1",  # logs show progress as it happens
}


@dataclass
class Job:
    """One process to run: `command` with its output in `log`; `done` is called in this
    process after it exits with status 0 (e.g. to move a file into place), and an
    exception there fails the job like a bad exit status."""

    name: str
    command: list[str]
    log: Path
    env: dict[str, str] | None = None  # None: this process's environment
    done: Callable[[], None] | None = None
    cwd: Path | None = None


@dataclass
class JobResult:
    name: str
    ok: bool
    seconds: float
    detail: str = ""  # why it failed, with the log's last lines


@dataclass
class _Running:
    job: Job
    process: subprocess.Popen
    started: float
    stream: object = field(repr=False, default=None)


def lmp_bench_command(*args: str) -> list[str]:
    """`lmp-bench args` as this Python runs it (the same environment, no PATH lookup)."""
    return [sys.executable, "-m", "lmp_bench.cli", *args]


def last_line(log: Path) -> str:
    """The last non-empty line of a log (progress bars' carriage returns split too)."""
    try:
        with log.open("rb") as stream:
            stream.seek(max(0, log.stat().st_size - 4096))
            tail = stream.read().decode(errors="replace")
    except OSError:
        return ""
    lines = [line.strip() for line in tail.replace("\r", "\n").splitlines() if line.strip()]
    return lines[-1][:160] if lines else ""


def run_jobs(jobs: list[Job], width: int, stage: str, heartbeat: float = 300.0) -> list[JobResult]:
    """Run `jobs`, at most `width` at once, and return their results in job order. A
    failed job does not stop the others."""
    running: list[_Running] = []
    try:
        return _run_all(list(jobs), running, width, stage, heartbeat)
    finally:  # stopped (Ctrl-C, SIGTERM): no job goes on writing into the folder
        for entry in running:
            if entry.process.poll() is None:
                entry.process.terminate()
        for entry in running:
            entry.process.wait()


def _run_all(
    waiting: list[Job], running: list[_Running], width: int, stage: str, heartbeat: float
) -> list[JobResult]:
    order = [job.name for job in waiting]
    results: dict[str, JobResult] = {}
    total, finished = len(waiting), 0
    last_beat = time.perf_counter()
    while waiting or running:
        while waiting and len(running) < width:
            job = waiting.pop(0)
            running.append(_start(job))
            print(f"[{stage}] started {job.name} (log: {job.log})", flush=True)
        time.sleep(0.2)
        for entry in [r for r in running if r.process.poll() is not None]:
            running.remove(entry)
            finished += 1
            result = _finish(entry)
            results[entry.job.name] = result
            state = "done" if result.ok else "FAILED"
            print(
                f"[{stage} {finished}/{total}] {entry.job.name} {state} in "
                f"{duration_text(result.seconds)}" + ("" if result.ok else f": {result.detail}"),
                flush=True,
            )
        if running and time.perf_counter() - last_beat >= heartbeat:
            last_beat = time.perf_counter()
            for entry in running:
                elapsed = duration_text(time.perf_counter() - entry.started)
                print(f"[{stage}] {entry.job.name}, {elapsed}: {last_line(entry.job.log)}")
            sys.stdout.flush()
    return [results[name] for name in order]


def _start(job: Job) -> _Running:
    job.log.parent.mkdir(parents=True, exist_ok=True)
    stream = job.log.open("a")  # a job run again (after a kill) keeps the earlier tries
    stream.write(f"$ {shlex.join(job.command)}   # {time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    stream.flush()
    env = {**(job.env or os.environ), **ONE_THREAD}
    process = subprocess.Popen(
        job.command, stdout=stream, stderr=subprocess.STDOUT, env=env, cwd=job.cwd
    )
    return _Running(job, process, time.perf_counter(), stream)


def _finish(entry: _Running) -> JobResult:
    entry.stream.close()
    seconds = time.perf_counter() - entry.started
    code = entry.process.returncode
    if code != 0:
        lines = _tail(entry.job.log, 400)
        errors = [line for line in lines if line.startswith("lmp-bench") and "error:" in line]
        said = errors[-1] if errors else " | ".join(lines[-4:])  # the command's own words
        return JobResult(entry.job.name, False, seconds, f"exit status {code}: {said}")
    if entry.job.done is not None:
        try:
            entry.job.done()
        except (OSError, ValueError, LookupError, RuntimeError) as err:
            return JobResult(entry.job.name, False, seconds, str(err))
    return JobResult(entry.job.name, True, seconds)


def _tail(log: Path, count: int) -> list[str]:
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines()]
    return [line[:200] for line in lines if line][-count:]


def duration_text(seconds: float) -> str:
    """'42 s', '3.5 min' or '2.10 h'."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"
