"""The lips deck: the 83-atom Li6.75P3S11 cell run through the plugin (triclinic, periodic,
0.25 fs) and scored with the all-atom RDF."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ase.io import read
from systems import lmp_bench

from lmp_bench.data.lips import lips_cell
from lmp_bench.evaluate import evaluate
from lmp_bench.export import export
from lmp_bench.models import LennardJones
from lmp_bench.observables import read_lammps_dump

LIPS = str(Path(__file__).resolve().parents[1] / "inputs" / "lips.in")


@pytest.fixture(scope="module")
def soft_model(model_dir) -> Path:
    """A shifted Lennard-Jones for Li, P and S: not LiPS physics, but it runs the deck."""
    module = LennardJones(epsilon=0.01, sigma=1.8, cutoff=5.0, shift=True, species=("Li", "P", "S"))
    return export(module, model_dir / "lj-lips.pt")


@pytest.fixture(scope="module")
def lips_run(soft_model, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("lips")
    result = lmp_bench(
        "run", LIPS, "--model", str(soft_model), "--steps", "400", "--output", str(output),
        env={"OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    (folder,) = output.iterdir()
    return folder


def test_deck_starts_from_the_published_cell(lips_run):
    """The start structure is lips_cell() (ASE rotates it into LAMMPS's orientation:
    same cell lengths and angles, same interatomic distances)."""
    start = read(lips_run / "start.data", format="lammps-data", atom_style="atomic")
    cell = lips_cell()
    assert np.allclose(start.cell.cellpar(), cell.cell.cellpar(), atol=1e-6)
    assert np.allclose(
        np.sort(start.get_all_distances(mic=True).ravel()),
        np.sort(cell.get_all_distances(mic=True).ravel()),
        atol=1e-5,
    )


def test_run_dumps_frames_every_50_steps_and_evaluates(lips_run):
    manifest = json.loads((lips_run / "manifest.json").read_text())
    assert manifest["timestep_ps"] == 0.00025 and manifest["replicas"][0]["state"] == "completed"
    frames = read_lammps_dump(
        lips_run / "replica-0" / "trajectory.lammpstrj", ["Li", "P", "S"], 0.00025
    )
    assert len(frames.times) == 9 and frames.times[1] == pytest.approx(0.0125)  # ps
    assert sorted(np.unique(frames.species, return_counts=True)[1]) == [12, 27, 44]
    metrics = evaluate(lips_run, lips_run)
    (replica,) = metrics["replicas"]
    assert list(replica["rdf_mae"]) == ["*-*"] and replica["rdf_mae"]["*-*"] == 0.0
    assert replica["stability_ps"] == pytest.approx(0.1)
    assert replica["diffusivity_1e-9_m2_s"] is None  # needs 40 ps stable (design.md)


def test_lips_deck_refuses_a_molecule_dataset(soft_model, tmp_path):
    from lmp_bench.data.frames_file import FrameSet, write_frames

    cell = lips_cell()
    n = len(cell)
    molecule = FrameSet(
        species=np.array(cell.get_chemical_symbols()),
        cell=np.zeros((4, 3, 3)),
        positions=np.repeat(cell.positions[None], 4, axis=0),
        unwrapped_positions=np.repeat(cell.positions[None], 4, axis=0),
        velocities=np.zeros((4, n, 3)),
        forces=np.zeros((4, n, 3)),
        energy=np.zeros(4),
        time=np.arange(4.0),
        splits={"train": np.array([0]), "val": np.array([1]), "test": np.array([2, 3])},
    )
    write_frames(molecule, tmp_path / "open.h5")
    result = lmp_bench(
        "run", LIPS, "--model", str(soft_model), "--start-from", str(tmp_path / "open.h5"),
        "--output", str(tmp_path / "out"),
    )  # fmt: skip
    assert result.returncode == 2 and "periodic cell" in result.stderr
