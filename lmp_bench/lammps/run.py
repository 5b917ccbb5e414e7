"""Run an input deck with a model into a result folder: one replica, or several at once.

A deck sets up the system (units, atoms, force field, thermostat, dumps) and does not
`run`: the runner advances it in chunks of `chunk` steps (the dump interval), so that
between chunks it can show progress and let the stability watchdog look at the newest
frame. A replica ends `completed`, `unstable` (the watchdog stopped it), or `failed`
(LAMMPS stopped with an error, e.g. the plugin's NaN check or lost atoms); in every case
the frames written so far stay in its dump and `status.json` says what happened.

Decks read LAMMPS variables passed with -var (see each deck's header). Under ranks > 1
the replica runs through mpiexec and LAMMPS's own domain decomposition. Replicas run at
once share one MPI job: its COMM_WORLD is split into one sub-communicator per replica
(the way LAMMPS's -partition divides it), each running its own job in its own folder.
The job is started by the mpiexec that comes with LAMMPS's mpich (one machine), by the
user's own launcher (`srun -n {ranks}`, `mpirun -np {ranks}`), or it is the MPI job this
process is already part of (`srun lmp-bench run ...`): then every rank runs the workers
in-process.
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
from typing import Any

import numpy as np

from lmp_bench.lammps.devices import rank_device, replica_communicator
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


def run_replicas(
    jobs: list[tuple[ReplicaJob, Path]],
    ranks_each: int = 1,
    launcher: str | None = None,
    world: Any = None,
) -> list[ReplicaStatus]:
    """Run replicas at once, each in its folder (created) on `ranks_each` ranks of one MPI
    job; a replica's own failure (LAMMPS error, watchdog) does not stop the others.

    The job: our mpiexec, or `launcher` (a command line; `{ranks}` is replaced by the rank
    count), or, with `world` (this process's mpi4py COMM_WORLD inside a running MPI job),
    the ranks of that job, every one of which calls this with the same jobs; only rank 0
    gets the statuses back (the others an empty list)."""
    ranks = ranks_each * len(jobs)
    if world is not None:
        return _run_in_this_job(jobs, ranks, world)
    paths = [write_job(job, folder) for job, folder in jobs]
    folders = [path.parent for path in paths]
    arguments = ["--ranks", str(ranks), *map(str, paths)]
    command, env = worker_launch("lmp_bench.lammps.run", arguments, ranks, launcher)
    with open(folders[0] / "output.txt", "w") as output:
        # stderr stays on the terminal: it carries the progress lines
        result = subprocess.run(command, cwd=folders[0], stdout=output, env=env)
    return _statuses(folders, result.returncode == 0, folders[0] / "output.txt")


def _run_in_this_job(jobs: list[tuple[ReplicaJob, Path]], ranks: int, world: Any):
    if world.size != ranks:
        raise ValueError(
            f"this MPI job has {world.size} ranks but the run asks for {ranks}: give --ranks "
            f"{world.size} (or leave --ranks out inside an MPI job)"
        )
    paths = [str(write_job(job, folder)) for job, folder in jobs] if world.rank == 0 else None
    paths = world.bcast(paths)
    failed = 0
    try:
        run_jobs_here(paths, world)
    except Exception as err:  # one rank's failure must not leave the others waiting
        print(f"ERROR: rank {world.rank}: {err}", file=sys.stderr, flush=True)
        failed = 1
    ok = world.allreduce(failed) == 0
    if world.rank:
        return []
    return _statuses([Path(p).parent for p in paths], ok, None)


def _statuses(folders: list[Path], ok: bool, output: Path | None) -> list[ReplicaStatus]:
    statuses = []
    for folder in folders:
        status_path = folder / "status.json"
        if not ok or not status_path.exists():
            log = (folder / "log.lammps").read_text() if (folder / "log.lammps").exists() else ""
            text = output.read_text() if output is not None and output.exists() else ""
            raise LammpsRunError(error_lines(log, text) + f"\n(see {folder / 'log.lammps'})")
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


def run_jobs_here(job_paths: list[str], world: Any) -> None:
    """Run this rank's replica: `world` split evenly, in order, among the jobs; each
    replica works in its own folder (the process's working folder is restored after)."""
    import os

    here = os.getcwd()
    replica, comm = replica_communicator(world, len(job_paths))
    job_path = Path(job_paths[replica])
    os.chdir(job_path.parent)  # the replica's own folder: its log, dump and status
    try:
        _run_job(json.loads(job_path.read_text()), comm)
    finally:
        os.chdir(here)


def _lammps_arguments(variables: dict[str, str]) -> list[str]:
    """LAMMPS's command line for a replica; a model on `cuda` gets this rank's GPU."""
    import torch
    from mpi4py import MPI

    variables = dict(variables)
    if "mlff_device" in variables:
        count = torch.cuda.device_count()
        variables["mlff_device"] = rank_device(variables["mlff_device"], MPI.COMM_WORLD, count)
    args = ["-screen", "none", "-log", "log.lammps", "-nocite"]
    for name, value in variables.items():
        args += ["-var", name, str(value)]
    return args


def _run_job(job: dict, comm: Any) -> None:
    from lmp_bench.lammps.session import start_lammps

    lmp = start_lammps(_lammps_arguments(job["variables"]), comm=comm)
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


def _main(argv: list[str]) -> int:
    """python -m lmp_bench.lammps.run --ranks N JOB.json...: under an MPI launcher."""
    from mpi4py import MPI

    ranks, job_paths = int(argv[1]), argv[2:]
    world = MPI.COMM_WORLD
    if world.size != ranks:
        if world.rank == 0:
            print(
                f"ERROR: the launcher started {world.size} MPI rank(s) but the run needs {ranks}:"
                " make them agree (write {ranks} in --launcher, e.g. 'srun -n {ranks}')",
                flush=True,
            )
        return 2
    run_jobs_here(job_paths, world)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
