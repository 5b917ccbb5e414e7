"""Alanine's reference FES (OpenMM well-tempered metadynamics), replicas started at its
minima, and the FES MAE that `evaluate` gives a run of the alanine deck."""

from __future__ import annotations

import json
import math
from pathlib import Path

import h5py
import numpy as np
import pytest
from systems import lmp_bench

from lmp_bench.data.alanine import SPECIES, build_positions
from lmp_bench.data.frames_file import FrameSet, read_frames, write_frames
from lmp_bench.evaluate import evaluate
from lmp_bench.export import export
from lmp_bench.lammps.colvars import hills_path
from lmp_bench.models import LennardJones
from lmp_bench.observables.backbone import dihedral, phi_psi_atoms
from lmp_bench.observables.fes import DIHEDRAL, Axis, FreeEnergySurface, Hills

openmm = pytest.importorskip("openmm")
ALANINE = str(Path(__file__).resolve().parents[1] / "inputs" / "alanine.in")
EV = 96.48533212  # kJ/mol
CONFORMATIONS = [(-80.0, 70.0), (-70.0, -40.0), (60.0, 40.0), (-150.0, 160.0), (-75.0, 150.0)]


def test_openmm_reference_surface_is_our_grid():
    """One hill of OpenMM's metadynamics, read by `surface_of`, equals our own Gaussian
    sum of a 1.2 kJ/mol, 0.35 rad hill where OpenMM put it, times (T + dT)/dT:
    the grid points, the [phi, psi] order and the well-tempered factor line up."""
    from openmm import app

    from lmp_bench.data.alanine_fes import metadynamics, surface_of
    from lmp_bench.data.make_alanine import (
        cpu_platform,
        langevin_integrator,
        minimise_and_heat,
        peptide_system,
    )

    peptide = peptide_system("obc")
    meta = metadynamics(peptide.system)
    simulation = app.Simulation(
        peptide.topology, peptide.system, langevin_integrator(3), *cpu_platform(1)
    )
    simulation.context.setPositions(peptide.positions)
    minimise_and_heat(simulation.context, 3)
    meta.step(simulation, 500)  # one hill, deposited where the peptide is now
    where = np.asarray(meta.getCollectiveVariables(simulation))  # (phi, psi), radians
    radians = Axis(-math.pi, math.pi, 60, period=2 * math.pi)
    ours = FreeEnergySurface((radians, radians), energy_unit="kJ/mol", cutoff=None)
    ours.compute(Hills(np.array([500]), where[None], np.full((1, 2), 0.35), np.array([1.2])))
    theirs = surface_of(meta)
    # (T + dT)/dT = 6/5: at most 1.44 kJ/mol deep, less where the hill falls between points
    assert 0.9 * 1.44 < theirs.free_energy.max() <= 1.44
    np.testing.assert_allclose(theirs.free_energy, ours.free_energy, atol=1e-9)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """Frames at five backbone conformations (6 each, 0.01 A noise), with a reference FES
    whose three deepest wells are at three of them (deepest first)."""
    rng = np.random.default_rng(8)
    positions = np.concatenate(
        [build_positions(*c) + rng.normal(scale=0.01, size=(6, 22, 3)) for c in CONFORMATIONS]
    )
    count = len(positions)
    frames = FrameSet(
        species=SPECIES.copy(),
        cell=np.zeros((count, 3, 3)),
        positions=positions,
        unwrapped_positions=positions,
        velocities=np.zeros((count, 22, 3)),
        forces=np.zeros((count, 22, 3)),
        energy=np.full(count, np.nan),
        time=np.arange(float(count)),
        splits={"train": np.arange(0, count, 2), "test": np.arange(1, count, 2)},
        attributes={"system": "alanine"},
    )
    path = write_frames(frames, tmp_path_factory.mktemp("alanine-fes") / "ala.h5")
    from lmp_bench.data.alanine_fes import write_reference_fes

    phi, psi = np.meshgrid(*(DIHEDRAL.points,) * 2, indexing="ij")
    surface = np.zeros_like(phi)
    for depth, k in ((30.0, 2), (25.0, 0), (20.0, 3)):  # wells at conformations 2, 0, 3
        dphi = np.angle(np.exp(1j * (phi - math.radians(CONFORMATIONS[k][0]))))
        dpsi = np.angle(np.exp(1j * (psi - math.radians(CONFORMATIONS[k][1]))))
        surface -= depth * np.exp(-(dphi**2 + dpsi**2) / (2 * 0.3**2))
    write_reference_fes(path, FreeEnergySurface().set_free_energy(surface), {"method": "test"})
    return path


def numpy_fes_mae(hills_file: Path, until_step: int, reference: np.ndarray) -> float:
    """design.md's FES MAE from a COLVARS hills file, written out in NumPy: Gaussians in
    degrees summed on the 60 x 60 bin centres, x (T + dT)/dT = 1.2, eV -> kJ/mol."""
    rows = np.atleast_2d(np.loadtxt(hills_file))
    rows = rows[rows[:, 0] <= until_step]
    centres = np.degrees(DIHEDRAL.points)
    bias = np.zeros((60, 60))
    for _, phi, psi, sigma_phi, sigma_psi, weight in rows:
        dphi = (centres - phi + 180) % 360 - 180
        dpsi = (centres - psi + 180) % 360 - 180
        bias += weight * np.exp(
            -0.5 * ((dphi[:, None] / sigma_phi) ** 2 + (dpsi[None, :] / sigma_psi) ** 2)
        )
    free_energy = -1.2 * bias * EV
    free_energy -= free_energy.min()
    return float(np.mean(np.abs(free_energy - (reference - reference.min()))) * 2 * math.pi)


def test_replicas_start_at_the_reference_minima_and_evaluate_scores_the_fes(dataset, tmp_path):
    """`run` starts replica k at the test frame nearest the k-th deepest minimum of the
    dataset's reference FES; `evaluate` gives each replica the FES MAE of the hills it
    deposited while stable, equal to a NumPy sum of those hills. The test model (nearly
    free atoms) does not hold the peptide together: the bond watchdog ends each replica
    at its first frame after the start, and what is checked is the bookkeeping."""
    free_atoms = LennardJones(1e-4, 1.0, 3.0, species=("C", "H", "N", "O"))
    model = export(free_atoms, tmp_path / "free-atoms.pt")
    result = lmp_bench(
        "run", ALANINE, "--model", str(model), "--start-from", str(dataset), "--replicas", "3",
        "--steps", "1500", "--output", str(tmp_path / "runs"), env={"OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    (folder,) = (tmp_path / "runs").iterdir()
    manifest = json.loads((folder / "manifest.json").read_text())
    frames = read_frames(dataset)
    phi_atoms, psi_atoms = phi_psi_atoms(frames.positions[0], frames.species)
    for k, wanted in enumerate((2, 0, 3)):
        start = frames.positions[manifest["start_frames"][str(k)]]
        angles = [math.degrees(dihedral(start, four)) for four in (phi_atoms, psi_atoms)]
        assert angles == pytest.approx(CONFORMATIONS[wanted], abs=3.0), k
    metrics = evaluate(folder, dataset)
    with h5py.File(dataset) as data:
        reference = data["reference_fes/free_energy"][()]
    for k, replica in enumerate(metrics["replicas"]):
        hills = hills_path(folder / f"replica-{k}" / "colvars")
        until_step = round(replica["stability_ps"] / 0.002)
        expected = numpy_fes_mae(hills, until_step, reference)
        assert replica["fes_mae_kJ_mol"] == pytest.approx(expected, abs=1e-3)
    assert metrics["summary"]["fes_mae_kJ_mol"]["n"] == 3
    # the report's FES figure: the reference and the run's first replica, marginals below
    from lmp_bench.report import load_run
    from lmp_bench.report_figures import fes_figure

    figure = fes_figure([load_run(folder)])
    maps, marginals = figure.axes[0:2], figure.axes[2:4]  # rows; colour bars come after
    assert maps[0].get_title() == "reference" and maps[0].get_xlabel() == "phi (rad)"
    phi_line, psi_line = marginals[0].lines
    expected = FreeEnergySurface().set_free_energy(reference)
    np.testing.assert_allclose(phi_line.get_ydata(), expected.marginal(0))
    np.testing.assert_allclose(psi_line.get_ydata(), expected.marginal(1))
    shown = lmp_bench("evaluate", str(folder), "--reference", str(dataset))
    assert shown.returncode == 0 and "FES MAE (kJ/mol)" in shown.stdout, shown.stderr


def test_alanine_fes_needs_an_alanine_dataset(tmp_path):
    result = lmp_bench("data", "make", "alanine-fes", "--ns", "0.001")
    assert result.returncode == 2 and "-o alanine.h5" in result.stderr
    frames = FrameSet(
        species=np.array(["Ar"]), cell=np.zeros((2, 3, 3)), positions=np.zeros((2, 1, 3)),
        unwrapped_positions=np.zeros((2, 1, 3)), velocities=np.zeros((2, 1, 3)),
        forces=np.zeros((2, 1, 3)), energy=np.zeros(2), time=np.arange(2.0),
        attributes={"system": "argon"},
    )  # fmt: skip
    path = write_frames(frames, tmp_path / "argon.h5")
    result = lmp_bench("data", "make", "alanine-fes", "-o", str(path), "--ns", "0.001")
    assert result.returncode == 2 and "not an alanine dataset" in result.stderr
