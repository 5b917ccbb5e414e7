"""The water benchmark end to end on short runs: run (replicas, watchdog) and evaluate.

Runs here are 3 ps from the built grid structure, so RDF errors between two references are
larger than between long equilibrated runs; the bounds below are set for that."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from systems import lmp_bench

from lmp_bench.data.make_water import frames_from_dump
from lmp_bench.data.water import write_water_frame
from lmp_bench.evaluate import evaluate, reference_observables
from lmp_bench.lammps.snapshot import run_snapshot
from lmp_bench.observables import read_lammps_dump
from lmp_bench.systems import classical_water_lines

ROOT = Path(__file__).resolve().parents[1]
WATER = str(ROOT / "inputs" / "water.in")


def run_folder(*args: str, output: Path) -> Path:
    result = lmp_bench("run", WATER, *args, "--output", str(output))
    assert result.returncode == 0, result.stdout + result.stderr
    (folder,) = output.iterdir()
    return folder


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """Classical reference (spcfw-mdsim, the default): 2 replicas of 3 ps."""
    return run_folder(
        "--model",
        "reference",
        "--length",
        "3",
        "--replicas",
        "2",
        "--seed",
        "1",
        output=tmp_path_factory.mktemp("reference"),
    )


def test_second_reference_scores_close_to_the_first(reference, tmp_path):
    second = run_folder("--model", "reference", "--length", "3", "--seed", "500", output=tmp_path)
    metrics = evaluate(second, reference)
    (replica,) = metrics["replicas"]
    assert replica["state"] == "completed"
    assert replica["stability_ps"] == pytest.approx(3.0)
    for pair, error in replica["rdf_mae"].items():
        assert error < 0.8, pair
    assert replica["steps_per_second"] > 0
    assert json.loads((second / "metrics.json").read_text())["summary"]["stability_ps"]["n"] == 1
    # the report's g(r) figure: one panel per pair, the reference and this run's curve
    from lmp_bench.report import load_run
    from lmp_bench.report_figures import structure_figure

    panels = structure_figure([load_run(second)]).axes
    assert [ax.get_ylabel() for ax in panels] == ["g(r) H-H", "g(r) H-O", "g(r) O-O"]
    _, reference_rdf, _ = reference_observables(reference)
    for ax in panels:
        pair = tuple(ax.get_ylabel().split()[1].split("-"))
        reference_line, run_line = ax.lines
        np.testing.assert_allclose(reference_line.get_ydata(), reference_rdf.rdf[pair])
        assert np.abs(run_line.get_ydata() - reference_rdf.rdf[pair]).mean() * 6 == pytest.approx(
            replica["rdf_mae"]["-".join(pair)], rel=1e-9
        )


def test_the_two_variants_are_told_apart(reference, tmp_path):
    same = evaluate(
        run_folder(
            "--model", "reference", "--length", "3", "--seed", "7", output=tmp_path / "same"
        ),
        reference,
    )
    other = evaluate(
        run_folder(
            "--model",
            "reference",
            "--variant",
            "spcfw",
            "--length",
            "3",
            "--seed",
            "7",
            output=tmp_path / "other",
        ),
        reference,
    )
    same_ho = same["replicas"][0]["rdf_mae"]["H-O"]
    other_ho = other["replicas"][0]["rdf_mae"]["H-O"]
    assert other_ho > 0.8 and other_ho > 2 * same_ho, (same_ho, other_ho)


def test_watchdog_stops_a_broken_model_and_evaluate_reports_it(
    reference, tmp_path, repulsive_water_file
):
    folder = run_folder(
        "--model",
        str(repulsive_water_file),
        "--length",
        "5",
        "--reference",
        str(reference),
        output=tmp_path,
    )
    (replica,) = json.loads((folder / "manifest.json").read_text())["replicas"]
    assert replica["state"] == "unstable" and "RDF error" in replica["reason"]
    assert replica["time_ps"] < 5.0
    metrics = evaluate(folder, reference)
    scored = metrics["replicas"][0]
    assert scored["state"] == "unstable"
    assert scored["stability_ps"] < 5.0
    assert scored["diffusivity_1e-9_m2_s"] is None  # far from the 100 ps it needs


def test_nan_model_ends_the_replica_as_failed(tmp_path, nan_water_file):
    folder = run_folder("--model", str(nan_water_file), "--length", "1", output=tmp_path)
    (replica,) = json.loads((folder / "manifest.json").read_text())["replicas"]
    assert replica["state"] == "failed" and "NaN" in replica["reason"]


def test_killed_run_keeps_its_frames(reference, tmp_path):
    command = [
        sys.executable,
        "-m",
        "lmp_bench.cli",
        "run",
        WATER,
        "--model",
        "reference",
        "--length",
        "60",
        "--output",
        str(tmp_path),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    dump = None
    deadline = time.time() + 300
    while time.time() < deadline:
        found = list(tmp_path.glob("*/replica-0/trajectory.lammpstrj"))
        if found and found[0].read_text().count("ITEM: TIMESTEP") >= 12:
            dump = found[0]
            break
        time.sleep(0.5)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert dump is not None, "the run wrote no frames"
    frames = read_lammps_dump(dump, ["O", "H"], 0.001)
    assert len(frames.times) >= 12
    metrics = evaluate(dump.parents[1], reference)
    assert metrics["replicas"][0]["state"].startswith("unknown")
    assert metrics["replicas"][0]["simulated_ps"] >= 1.1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--model", "reference", "--variant", "tip3p"), "unknown water variant 'tip3p'"),
        (("--model", "reference", "--molecules", "100"), "cannot build 100 water molecules"),
        (("--model", "lj"), "but this system needs ['O', 'H'] (missing ['H', 'O'])"),
    ],
)
def test_bad_input(tmp_path, args, message):
    result = lmp_bench("run", WATER, *args, "--length", "0.1", "--output", str(tmp_path))
    assert result.returncode == 2
    assert message in result.stderr


def test_reference_runs_over_two_ranks(tmp_path):
    folder = run_folder("--model", "reference", "--length", "0.5", "--ranks", "2", output=tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["ranks"] == 2 and manifest["replicas"][0]["state"] == "completed"
    log = (folder / "replica-0" / "log.lammps").read_text()
    grid = re.search(r"(\d+) by (\d+) by (\d+) MPI processor grid", log)
    assert grid and np.prod([int(g) for g in grid.groups()]) == 2


def test_reference_dumps_its_force_fields_own_forces(reference, tmp_path):
    """The reference's Langevin term moves the atoms but stays out of the dumped forces (the
    data labels): dumped forces = SPC/Fw alone, LAMMPS run 0 without any thermostat, on the
    dumped positions. Langevin's random forces alone are ~0.4 eV/A per atom and step."""
    frames = frames_from_dump(reference / "replica-0" / "trajectory.lammpstrj", 0.001, 0)
    last = len(frames) - 1
    data = write_water_frame(tmp_path / "frame.data", frames.unwrapped_positions[last], 12.4429)
    commands = "units metal\natom_style full\nboundary p p p\n" + f"read_data {data}\n"
    forces = run_snapshot(commands + classical_water_lines("spcfw-mdsim", minimize=False)).forces
    assert np.abs(forces[0] - frames.forces[last]).max() < 1e-5  # eV/A
    assert np.abs(frames.forces[last]).max() > 1.0


def test_trajectory_opens_in_ovito_and_ase_alike(reference):
    """OVITO's and ASE's LAMMPS-dump readers see the same frames."""
    from ovito.io import import_file

    dump = reference / "replica-0" / "trajectory.lammpstrj"
    frames = read_lammps_dump(dump, ["O", "H"], 0.001)
    pipeline = import_file(str(dump))
    assert pipeline.source.num_frames == len(frames.times) == 31
    for frame in (0, 30):
        data = pipeline.compute(frame)
        assert data.attributes["Timestep"] == frame * 100
        assert np.abs(np.asarray(data.particles.positions) - frames.positions[frame]).max() < 1e-5
        assert np.allclose(np.asarray(data.cell)[:, :3], frames.cell)


def test_replicas_start_from_distinct_test_frames(tmp_path, reference):
    from lmp_bench.data.frames_file import read_frames
    from lmp_bench.data.make_water import make_water_dataset

    make_water_dataset(tmp_path / "set.h5", tmp_path / "runs", frames=12, equilibrate_ps=0.5)
    dataset = read_frames(tmp_path / "set.h5")
    folder = run_folder(
        "--model",
        "reference",
        "--steps",
        "100",
        "--replicas",
        "2",
        "--start-from",
        str(tmp_path / "set.h5"),
        output=tmp_path / "out",
    )
    manifest = json.loads((folder / "manifest.json").read_text())
    chosen = [manifest["start_frames"][k] for k in ("0", "1")]
    assert chosen[0] != chosen[1] and set(chosen) <= set(dataset.splits["test"].tolist())
    for k, index in enumerate(chosen):
        first = read_lammps_dump(
            folder / f"replica-{k}" / "trajectory.lammpstrj", ["O", "H"], 0.001
        )
        shift = first.positions[0] - dataset.unwrapped_positions[index]
        shift -= 12.4429 * np.round(shift / 12.4429)
        assert np.abs(shift).max() < 1e-4  # frame 0 of the run is the test frame

    # NVE from the same test frames: evaluate's drift = a line fitted here to the log's
    # TotEng column (read with a regular expression), and SPC/Fw at 1 fs conserves energy
    nve = run_folder(
        "--model", "reference", "--steps", "1000", "--ensemble", "nve", "--start-from",
        str(tmp_path / "set.h5"), output=tmp_path / "nve",
    )  # fmt: skip
    log = (nve / "replica-0" / "log.lammps").read_text()
    rows = dict(
        (int(m[1]), float(m[2]))
        for m in re.finditer(r"^\s+(\d+)\s+\S+\s+\S+\s+\S+\s+(\S+)\s+\S+\s*$", log, re.M)
    )
    steps = np.array(sorted(rows))
    energy = np.array([rows[k] for k in steps])
    slope = np.polyfit(steps * 0.001, 1000 * energy / 192, 1)[0]  # meV/atom/ps
    (replica,) = evaluate(nve, reference)["replicas"]
    assert replica["stability_ps"] == pytest.approx(1.0)
    assert replica["nve_drift_meV_atom_ps"] == pytest.approx(slope, rel=1e-6)
    assert abs(slope) < 1.0
