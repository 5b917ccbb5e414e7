"""The lmp-bench command line: doctor, and run of the built-in deck on 1 and 2 ranks."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from systems import lmp_bench

ROOT = Path(__file__).resolve().parents[1]


def run_argon(output: Path, model: Path, steps: int, ranks: int = 1):
    """`lmp-bench run inputs/argon.in` into `output`; (its result folder, the process)."""
    result = lmp_bench(
        "run",
        str(ROOT / "inputs" / "argon.in"),
        "--model",
        str(model),
        "--steps",
        str(steps),
        "--ranks",
        str(ranks),
        "--output",
        str(output),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (folder,) = output.iterdir()
    return folder, result


def test_doctor_passes_on_a_working_install():
    result = lmp_bench("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    for check in ("versions", "plugin build", "plugin registration", "smoke test", "halo exchange"):
        assert f"[ok] {check}" in result.stdout
    assert "registered pair_style mlff" in result.stdout


@pytest.mark.parametrize("ranks", [1, 2])
def test_run_argon_deck(tmp_path, lj_files, ranks):
    folder, result = run_argon(tmp_path, lj_files["plain.pt2"], steps=200, ranks=ranks)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["steps"] == 200 and manifest["ranks"] == ranks
    (replica,) = manifest["replicas"]
    assert replica["state"] == "completed" and replica["steps"] == 200
    assert replica["steps_per_second"] > 0
    assert replica["time_ps"] == pytest.approx(0.8)
    log = (folder / "replica-0" / "log.lammps").read_text()
    # chunks of 100 steps (LAMMPS counts ranks x OpenMP threads as procs)
    assert re.search(r"on \d+ procs for 100 steps with 864 atoms", log)
    frames = (folder / "replica-0" / "trajectory.lammpstrj").read_text().count("ITEM: TIMESTEP")
    assert frames == 3  # steps 0, 100, 200
    assert "steps/s" in result.stdout


def test_run_device_reaches_the_pair_style(tmp_path, lj_files):
    """--device cuda with a file compiled for the CPU: the plugin's named error (no GPU
    needed to see that the option arrived)."""
    result = lmp_bench(
        "run", str(ROOT / "inputs" / "argon.in"), "--model", str(lj_files["plain.pt2"]),
        "--steps", "10", "--device", "cuda", "--output", str(tmp_path),
    )  # fmt: skip
    assert result.returncode == 2 and "was compiled for 'cpu'" in result.stderr


def test_run_with_unknown_model_name_names_the_choices(tmp_path):
    result = lmp_bench(
        "run", str(ROOT / "inputs" / "argon.in"), "--model", "gemnet-xyz", "--output", str(tmp_path)
    )
    assert result.returncode == 2
    assert "unknown model 'gemnet-xyz'" in result.stderr and "lj" in result.stderr


def test_run_with_missing_deck(tmp_path, lj_files):
    result = lmp_bench(
        "run",
        str(tmp_path / "nope.in"),
        "--model",
        str(lj_files["plain.pt"]),
        "--output",
        str(tmp_path),
    )
    assert result.returncode == 2 and "no benchmark system for deck" in result.stderr


def test_run_trajectory_reads_back_as_frames(tmp_path, lj_files):
    """The run's dump opens through ASE's reader, with times from the deck's timestep;
    a dump cut mid-frame (a killed run) still yields its complete frames."""
    from lmp_bench.observables import RDF, read_lammps_dump

    folder, _ = run_argon(tmp_path, lj_files["plain.pt2"], steps=300)
    dump = folder / "replica-0" / "trajectory.lammpstrj"
    frames = read_lammps_dump(dump, ["Ar"], timestep_ps=0.004)
    assert frames.positions.shape == (4, 864, 3)
    assert np.allclose(frames.times, [0.0, 0.4, 0.8, 1.2])
    assert np.allclose(np.diag(frames.cell), 6 * 5.78)
    g = RDF((("Ar", "Ar"),), r_max=8.0, bins=80).compute(frames).rdf[("Ar", "Ar")]
    assert g[:25].max() < 1e-12 and g.max() > 2.0  # no pairs below 2.5 A, a liquid first peak
    text = dump.read_text()
    cut = tmp_path / "cut.lammpstrj"
    cut.write_text(text[: int(len(text) * 0.9)])
    assert read_lammps_dump(cut, ["Ar"], 0.004).positions.shape[0] == 3


def test_replicas_at_once_equal_replicas_one_after_another(tmp_path, lj_files):
    """--replicas 2 on 2 ranks runs both at once (one MPI sub-communicator each) and gives
    the trajectories of the same replicas run one after another on 1 rank; on 4 ranks each
    replica gets 2 (domain decomposition), equal to round-off."""
    from lmp_bench.observables import read_lammps_dump

    positions = {}
    for ranks in (1, 2, 4):
        result = lmp_bench(
            "run", str(ROOT / "inputs" / "argon.in"), "--model", str(lj_files["plain.pt2"]),
            "--steps", "200", "--replicas", "2", "--ranks", str(ranks),
            "--output", str(tmp_path / str(ranks)),
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        (folder,) = (tmp_path / str(ranks)).iterdir()
        manifest = json.loads((folder / "manifest.json").read_text())
        expected = {1: (1, 1), 2: (1, 2), 4: (2, 2)}[ranks]
        assert (manifest["ranks_per_replica"], manifest["replicas_at_once"]) == expected
        assert [r["state"] for r in manifest["replicas"]] == ["completed"] * 2
        for k in (0, 1):
            log = (folder / f"replica-{k}" / "log.lammps").read_text()
            grid = re.search(r"(\d+) by (\d+) by (\d+) MPI processor grid", log)
            assert np.prod([int(g) for g in grid.groups()]) == expected[0]
            dump = folder / f"replica-{k}" / "trajectory.lammpstrj"
            positions[ranks, k] = read_lammps_dump(dump, ["Ar"], 0.004).positions
    for k in (0, 1):
        assert positions[1, k].shape == (3, 864, 3)
        np.testing.assert_array_equal(positions[2, k], positions[1, k])  # same 1-rank runs
        np.testing.assert_allclose(positions[4, k], positions[1, k], atol=1e-8)
    assert np.abs(positions[1, 0][-1] - positions[1, 1][-1]).max() > 1e-3  # own seeds
