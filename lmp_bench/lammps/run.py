"""Run an input deck with a model into a result folder: one replica, or several at once.

A deck sets up the system (units, atoms, force field, thermostat, dumps) and does not
`run`: the runner advances it in chunks of `chunk` steps (the dump interval), so that
between chunks it can show progress and let the stability watchdog look at the newest
frame. A replica ends `completed`, `unstable` (the watchdog stopped it), or `failed`
(LAMMPS stopped with an error, e.g. the plugin's NaN check or lost atoms); in every case
the frames written so far stay in its dump and `status.json` says what happened.

Decks read LAMMPS variables passed with -var (see each deck's header). Under ranks > 1
the replica runs through mpiexec and LAMMPS's own domain decomposition. Replicas run at
once share one mpiexec: its COMM_WORLD is split into one sub-communicator per replica
(the way LAMMPS's -partition divides it), each running its own job in its own folder.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lmp_bench.lammps.runtime import worker_launch
from lmp_bench.lammps.snapshot import LammpsRunError, error_lines


@dataclass
class WatchdogSpec:
    """What the online watchdog compares against (see observables.watchdog): a reference
    RDF (periodic systems), or for molecules a reference of bonds (.npz: bonds, lengths)."""

    reference_rdf: str  # .npz written by lmp_bench.observables RDF (save_rdf), or bonds .npz
    species: list[str]  # element of each LAMMPS atom type, type 1 first
    threshold: float  # RDF error, or bond-length deviation in A
    window_frames: int
    kind: str = "rdf"  # rdf | bonds


@dataclass
class ReplicaJob:
    deck: str
    variables: dict[str, str]
    steps: int
    chunk: int
    timestep_ps: float
    watchdog: WatchdogSpec | None = None
    label: str = "replica"


@dataclass
class ReplicaStatus:
    state: str  # completed | unstable | failed
    steps: int  # MD steps done
    time_ps: float
    wall_seconds: float
    steps_per_second: float  # MD steps per wall-clock second, setup excluded
    reason: str = ""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_job(job: ReplicaJob, folder: Path) -> Path:
    """Make the replica's folder (new), copy the deck in as deck.in, write job.json."""
    deck, folder = Path(job.deck), folder.resolve()
    if not deck.is_file():
        raise FileNotFoundError(f"input deck {deck} does not exist")
    folder.mkdir(parents=True, exist_ok=False)
    (folder / "deck.in").write_text(deck.read_text())
    job = ReplicaJob(**{**job.__dict__, "deck": "deck.in"})
    payload = {**job.__dict__, "watchdog": job.watchdog.__dict__ if job.watchdog else None}
    (folder / "job.json").write_text(json.dumps(payload, indent=2))
    return folder / "job.json"


def run_replica(job: ReplicaJob, folder: Path, ranks: int = 1) -> ReplicaStatus:
    """Run one replica in `folder` (created) on `ranks` ranks."""
    return run_replicas([(job, folder)], ranks)[0]


def run_replicas(jobs: list[tuple[ReplicaJob, Path]], ranks_each: int = 1) -> list[ReplicaStatus]:
    """Run replicas at once, each in its folder (created) on `ranks_each` ranks of one
    mpiexec; a replica's own failure (LAMMPS error, watchdog) does not stop the others."""
    paths = [write_job(job, folder) for job, folder in jobs]
    folders = [path.parent for path in paths]
    ranks = ranks_each * len(jobs)
    command, env = worker_launch("lmp_bench.lammps.run", [str(p) for p in paths], ranks)
    with open(folders[0] / "output.txt", "w") as output:
        # stderr stays on the terminal: it carries the progress lines
        result = subprocess.run(command, cwd=folders[0], stdout=output, env=env)
    statuses = []
    for folder in folders:
        status_path = folder / "status.json"
        if result.returncode != 0 or not status_path.exists():
            log = (folder / "log.lammps").read_text() if (folder / "log.lammps").exists() else ""
            raise LammpsRunError(
                error_lines(log, (folders[0] / "output.txt").read_text())
                + f"\n(see {folder / 'log.lammps'})"
            )
        statuses.append(ReplicaStatus(**json.loads(status_path.read_text())))
    return statuses


def loop_performance(log: str) -> tuple[int, float]:
    """Total steps and steps/s over all `run` commands, from LAMMPS's 'Loop time' lines."""
    pattern = re.compile(r"Loop time of ([\d.eE+-]+) on \d+ procs for (\d+) steps")
    loops = [(float(t), int(n)) for t, n in pattern.findall(log)]
    steps = sum(n for _, n in loops)
    seconds = sum(t for t, _ in loops)
    return steps, (steps / seconds if seconds > 0 else float("nan"))


def _make_watchdog(spec: dict, lmp):
    from lmp_bench.observables.rdf import load_rdf
    from lmp_bench.observables.watchdog import BondWatchdog, Watchdog

    if spec.get("kind") == "bonds":
        reference = np.load(spec["reference_rdf"])
        return BondWatchdog(reference["bonds"], reference["lengths"], spec["threshold"])

    types = np.asarray(lmp.gather_atoms("type", 0, 1))
    species = np.array([spec["species"][t - 1] for t in types])
    box = lmp.extract_box()
    low, high, xy, yz, xz = box[0], box[1], box[2], box[3], box[4]
    cell = np.array(
        [[high[0] - low[0], 0, 0], [xy, high[1] - low[1], 0], [xz, yz, high[2] - low[2]]]
    )
    return Watchdog(
        load_rdf(spec["reference_rdf"]), species, cell, spec["threshold"], spec["window_frames"]
    )


def _progress(label: str, done: int, total: int, timestep_ps: float, rate: float) -> None:
    """A progress bar on a terminal; a line every 10 % of the run in a log file."""
    line = f"{label}: {done}/{total} steps ({done * timestep_ps:.1f} ps), {rate:.0f} steps/s"
    if sys.stderr.isatty():
        filled = int(30 * done / max(total, 1))
        print(
            f"\r{label} [{'#' * filled}{'.' * (30 - filled)}] {line}",
            end="",
            file=sys.stderr,
            flush=True,
        )
    elif done == total or (10 * done) // total != (10 * (done - 1)) // total:
        print(line, file=sys.stderr, flush=True)


def _worker(job_paths: list[str]) -> None:
    """Run this rank's replica: COMM_WORLD split evenly, in order, among the jobs."""
    import os

    from mpi4py import MPI

    from lmp_bench.lammps.session import start_lammps

    world = MPI.COMM_WORLD
    replica = world.rank // (world.size // len(job_paths))
    comm = world.Split(replica, world.rank) if len(job_paths) > 1 else world
    job_path = Path(job_paths[replica])
    os.chdir(job_path.parent)  # the replica's own folder: its log, dump and status
    job = json.loads(job_path.read_text())
    args = ["-screen", "none", "-log", "log.lammps", "-nocite"]
    for name, value in job["variables"].items():
        args += ["-var", name, str(value)]
    lmp = start_lammps(args, comm=comm)
    lmp.file(job["deck"])
    watchdog = _make_watchdog(job["watchdog"], lmp) if job["watchdog"] else None

    def unstable() -> str | None:
        """The watchdog's verdict on the current frame, the same on every rank."""
        if watchdog is None:
            return None
        positions = np.asarray(lmp.gather_atoms("x", 1, 3)).reshape(-1, 3)
        return comm.bcast(watchdog.add_frame(positions) if comm.rank == 0 else None)

    unstable()  # frame 0 opens the first window, as in the dump
    state, reason, done = "completed", "", 0
    started = time.perf_counter()
    while done < job["steps"]:
        steps = min(job["chunk"], job["steps"] - done)
        try:  # the first chunk sets the run up; later chunks continue it
            lmp.command(f"run {steps} pre no post no" if done else f"run {steps}")
        except Exception as err:  # LAMMPS's own error: NaN from the model, lost atoms, ...
            state, reason = "failed", str(err).strip()
            break
        done += steps
        verdict = unstable()
        if comm.rank == 0:
            rate = done / max(time.perf_counter() - started, 1e-9)
            _progress(job["label"], done, job["steps"], job["timestep_ps"], rate)
        if verdict:
            state, reason = "unstable", verdict
            break
    wall = time.perf_counter() - started
    lmp.close()
    if comm.rank == 0:
        if sys.stderr.isatty():
            print(file=sys.stderr)
        # steps/s from LAMMPS's own loop timers (setup excluded)
        rate = loop_performance(Path("log.lammps").read_text())[1] if done else float("nan")
        status = ReplicaStatus(state, done, done * job["timestep_ps"], wall, rate, reason)
        Path("status.json").write_text(json.dumps(status.__dict__, indent=2))


if __name__ == "__main__":
    _worker(sys.argv[1:])
