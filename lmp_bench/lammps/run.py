"""Run a LAMMPS input deck with an mlff model into a result folder.

The deck reads these LAMMPS variables, passed with -var:
``model_file`` (path), ``species`` (one element per atom type), ``seed`` and ``steps``
(decks give defaults with ``variable ... index``). Under ``ranks > 1`` the run goes
through mpiexec and LAMMPS's own domain decomposition.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from lmp_bench.lammps.runtime import lammps_version, mpiexec_path, threads_per_rank
from lmp_bench.lammps.snapshot import LammpsRunError, _error_lines


@dataclass
class RunSummary:
    folder: str
    steps: int
    ranks: int
    seconds: float
    steps_per_second: float  # MD steps per wall-clock second (LAMMPS's own loop time)
    device: str


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def run_deck(
    deck: Path,
    model_file: Path,
    species: list[str],
    folder: Path,
    ranks: int = 1,
    variables: dict[str, str] | None = None,
    device: str = "cpu",
) -> RunSummary:
    """Run `deck` with `model_file` in `folder` (created), writing log, dump and manifest."""
    import torch

    if not deck.is_file():
        raise FileNotFoundError(f"input deck {deck} does not exist")
    folder.mkdir(parents=True, exist_ok=False)
    shutil.copy2(deck, folder / "deck.in")
    all_vars = {"model_file": str(model_file), "species": " ".join(species), **(variables or {})}
    job = {"deck": "deck.in", "variables": all_vars}
    (folder / "job.json").write_text(json.dumps(job, indent=2))
    command = [sys.executable, "-m", "lmp_bench.lammps.run", str(folder / "job.json")]
    if ranks > 1:
        command = [str(mpiexec_path()), "-launcher", "fork", "-n", str(ranks), *command]
    env = {**os.environ, "OMP_NUM_THREADS": threads_per_rank(ranks)}
    started = time.perf_counter()
    result = subprocess.run(command, cwd=folder, capture_output=True, text=True, env=env)
    seconds = time.perf_counter() - started
    (folder / "output.txt").write_text(result.stdout + result.stderr)
    log = (folder / "log.lammps").read_text() if (folder / "log.lammps").exists() else ""
    if result.returncode != 0:
        raise LammpsRunError(
            _error_lines(log, result.stdout + result.stderr)
            + f"\n(full log: {folder / 'log.lammps'})"
        )
    steps, rate = loop_performance(log)
    summary = RunSummary(str(folder), steps, ranks, seconds, rate, device)
    manifest = {
        "summary": asdict(summary),
        "model_file": str(model_file),
        "model_sha256": sha256_of(model_file),
        "variables": all_vars,
        "versions": {
            "lammps": lammps_version(),
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "host": platform.node(),
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return summary


def loop_performance(log: str) -> tuple[int, float]:
    """Total steps and steps/s over all `run` commands, from LAMMPS's 'Loop time' lines."""
    pattern = re.compile(r"Loop time of ([\d.eE+-]+) on \d+ procs for (\d+) steps")
    loops = [(float(t), int(n)) for t, n in pattern.findall(log)]
    steps = sum(n for _, n in loops)
    seconds = sum(t for t, _ in loops)
    return steps, (steps / seconds if seconds > 0 else float("nan"))


def _worker(job_path: str) -> None:
    from mpi4py import MPI

    from lmp_bench.lammps.session import start_lammps

    job = json.loads(Path(job_path).read_text())
    args = ["-screen", "none", "-log", "log.lammps", "-nocite"]
    for name, value in job["variables"].items():
        args += ["-var", name, str(value)]
    lmp = start_lammps(args, comm=MPI.COMM_WORLD)
    lmp.file(job["deck"])
    lmp.close()


if __name__ == "__main__":
    _worker(sys.argv[1])
