"""`lmp-bench doctor`: versions, plugin build and registration, smoke tests on 1 and 2 ranks
(a pair model, and a message-passing model through the halo exchange).

Each check returns (ok, message); the first failing check stops the rest, because later
checks depend on it, and its message names the fix.
"""

from __future__ import annotations

import platform
import shutil
from collections.abc import Callable

CheckResult = tuple[bool, str]

SMOKE_DECK = """units metal
atom_style atomic
atom_modify map array
lattice fcc 5.26
region box block 0 3 0 3 0 3
create_box 1 box
create_atoms 1 box
mass 1 39.948
pair_style mlff {model}
pair_coeff * * Ar
velocity all create 50.0 11 loop geom
fix integrate all nve
timestep 0.002
"""


def check_versions() -> CheckResult:
    import torch

    from lmp_bench import __version__
    from lmp_bench.lammps.runtime import lammps_version, libmpi_path, preload_libmpi

    preload_libmpi()
    from mpi4py import MPI

    mpi = MPI.Get_library_version().splitlines()[0].strip()
    cuda = (
        f"CUDA {torch.version.cuda}, {torch.cuda.device_count()} GPU(s): "
        + ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
        if torch.cuda.is_available()
        else "no CUDA GPU visible"
    )
    lines = [
        f"python {platform.python_version()}, lmp-bench {__version__}",
        f"LAMMPS wheel {lammps_version()}",
        f"torch {torch.__version__} ({cuda})",
        f"MPI: {mpi} (libmpi: {libmpi_path()})",
    ]
    return True, "\n    ".join(lines)


def check_plugin_build(rebuild: bool = False) -> CheckResult:
    from lmp_bench.lammps.plugin_build import ensure_plugin, plugin_dir

    if rebuild and plugin_dir().exists():
        shutil.rmtree(plugin_dir())
    return True, f"plugin built: {ensure_plugin(verbose=True)}"


def check_plugin_registers() -> CheckResult:
    from lmp_bench.lammps.session import start_lammps

    lmp = start_lammps()
    version = lmp.version()
    lmp.close()
    return True, f"LAMMPS {version} registered pair_style mlff"


def check_smoke_runs() -> CheckResult:
    import numpy as np

    from lmp_bench.lammps.snapshot import run_snapshot
    from lmp_bench.models.builtin import builtin_model_file

    model = builtin_model_file("lj")
    runs = {ranks: run_snapshot(SMOKE_DECK.format(model=model), ranks, [2]) for ranks in (1, 2)}
    one, two = runs[1], runs[2]
    if not (np.isfinite(one.total_energy).all() and np.isfinite(two.total_energy).all()):
        return False, "the 2-step smoke run produced non-finite energies"
    # create_atoms numbers atoms differently on 1 and 2 ranks, so compare totals, not IDs.
    difference = np.abs(one.total_energy - two.total_energy).max()
    if difference > 1e-9 * np.abs(one.total_energy).max():
        return False, f"1 and 2 ranks disagree by {difference:.2e} eV on the smoke test"
    return True, (
        f"2-step NVE smoke run: 1 and 2 ranks agree (total energy "
        f"{one.total_energy[-1]:.9f} eV, difference {difference:.1e} eV)"
    )


def check_halo_exchange() -> CheckResult:
    """A two-layer message-passing model (contract 3, TorchScript) on 2 ranks: the plugin's
    halo exchange copies owners into ghosts, its reverse is the exact transpose, and the
    energy equals 1 rank's."""
    import re
    import tempfile
    from pathlib import Path

    from lmp_bench.export import export
    from lmp_bench.lammps.snapshot import run_snapshot
    from lmp_bench.models import MessagePassingToy

    with tempfile.TemporaryDirectory(prefix="lmpb-doctor-") as scratch:
        model = export(MessagePassingToy(), Path(scratch) / "toy.pt")
        deck = SMOKE_DECK.format(model=model).replace("lattice fcc 5.26", "lattice fcc 4.6")
        one = run_snapshot(deck, 1)
        two = run_snapshot(deck + "run 0\nmlff_halo_check 8\n", 2)
    line = next(row for row in two.log.splitlines() if row.startswith("mlff_halo_check:"))
    exact = re.search(r" 0 ghost values differ", line)
    difference = abs(one.energy[0] - two.energy[0])
    if not exact or difference > 1e-10 * abs(one.energy[0]):
        return False, f"2 ranks differ from 1 ({difference:.1e} eV): {line}"
    return True, f"message passing over 2 ranks equals 1 rank ({difference:.1e} eV); {line}"


def run_doctor(rebuild: bool = False, print_fn: Callable[[str], None] = print) -> int:
    """Run all checks in order; 0 when everything works, 1 at the first failure."""
    checks: list[tuple[str, Callable[[], CheckResult]]] = [
        ("versions", check_versions),
        ("plugin build", lambda: check_plugin_build(rebuild)),
        ("plugin registration", check_plugin_registers),
        ("smoke test", check_smoke_runs),
        ("halo exchange", check_halo_exchange),
    ]
    for name, check in checks:
        try:
            ok, message = check()
        except Exception as err:  # every failure is reported, with its type, as a finding
            ok, message = False, f"{type(err).__name__}: {err}"
        print_fn(f"[{'ok' if ok else 'FAILED'}] {name}: {message}")
        if not ok:
            print_fn(
                "lmp-bench doctor: fix the failure above (`lmp-bench doctor --rebuild` "
                "rebuilds the plugin) and run it again."
            )
            return 1
    return 0
