"""Every benchmark script runs on tiny numbers and prints its table, so none can rot.

The figures themselves are not checked here (speed targets live in the scripts' tables,
measured side by side on a quiet machine); TorchScript files keep the exports quick.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
TINY = {
    "md_speed.py": ["--models", "schnet", "--size", "small", "--systems", "md17-ethanol",
                    "--devices", "cpu", "--ranks", "1", "--md-steps", "5", "--repeats", "1",
                    "--format", "pt"],
    "models.py": ["--models", "painn", "--molecules", "64", "--md-steps", "5", "--repeats", "1",
                  "--device", "cpu", "--format", "pt"],
    "scaling.py": ["--models", "schnet", "--molecules", "64", "--ranks", "1,2", "--md-steps",
                   "10", "--repeats", "1", "--rounds", "1", "--format", "pt"],
    "plugin_overhead.py": ["--sizes", "500", "--format", "pt"],
    "systems_speed.py": ["--skip-makers", "--steps", "10", "--repeats", "1", "--format", "pt"],
    "observables.py": ["--frames", "40"],
    "molecule_data.py": ["--molecules", "ethanol", "--steps", "4", "--every", "2",
                         "--repeats", "1"],
}  # fmt: skip
# what each prints as its table's header
HEADERS = {
    "md_speed.py": "MD speed, LAMMPS vs ASE",
    "models.py": "params",
    "scaling.py": "Strong scaling",
    "plugin_overhead.py": "plugin overhead",
    "systems_speed.py": "steps/s",
    "observables.py": "frames",
    "molecule_data.py": "frames",
}


def test_every_script_is_covered():
    scripts = {p.name for p in BENCHMARKS.glob("*.py")} - {"harness.py"}
    assert scripts == set(TINY), "give each benchmark script tiny arguments here"


@pytest.mark.mpi
@pytest.mark.parametrize("script", sorted(TINY))
def test_benchmark_runs_on_tiny_numbers(script, tmp_path):
    if script == "molecule_data.py":
        pytest.importorskip("tblite")
    result = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *TINY[script]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert HEADERS[script] in result.stdout, result.stdout[-3000:]
