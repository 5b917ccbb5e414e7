"""Results must not depend on the number of MPI ranks (LAMMPS's domain decomposition)."""

from __future__ import annotations

import numpy as np
import pytest
from systems import argon_cluster_in_vacuum, argon_fcc, deck, min_atoms_per_rank, write_data

from lmp_bench.lammps.snapshot import run_snapshot

pytestmark = pytest.mark.mpi

NVE = "velocity all create 60.0 4928 loop all\nfix integrate all nve\ntimestep 0.002\n"


@pytest.fixture(scope="module")
def argon_data(tmp_path_factory):
    return write_data(argon_fcc(repeat=5), tmp_path_factory.mktemp("argon") / "argon.data")


@pytest.fixture(scope="module")
def lj_trajectories(argon_data, lj_files):
    """1000-step NVE runs through the plugin on 1, 2 and 4 ranks, positions kept for the
    first 100 steps."""
    commands = deck(
        argon_data, f"pair_style mlff {lj_files['plain.pt2']}\npair_coeff * * Ar\n", extra=NVE
    )
    return {ranks: run_snapshot(commands, ranks, segments=[1] * 100 + [900]) for ranks in (1, 2, 4)}


@pytest.mark.parametrize("ranks", [2, 4])
def test_lj_energy_and_forces_independent_of_ranks(lj_trajectories, ranks):
    one, many = lj_trajectories[1], lj_trajectories[ranks]
    assert abs(many.energy[0] - one.energy[0]) <= 1e-10 * abs(one.energy[0])
    assert np.abs(many.forces[0] - one.forces[0]).max() <= 1e-10 * np.abs(one.forces[0]).max()
    assert np.allclose(many.pressure_virial[0], one.pressure_virial[0], rtol=1e-10, atol=1e-8)


@pytest.mark.parametrize("ranks", [2, 4])
def test_lj_nve_trajectory_independent_of_ranks(lj_trajectories, ranks):
    one, many = lj_trajectories[1], lj_trajectories[ranks]
    drift = np.abs(many.positions[:101] - one.positions[:101]).max()
    assert drift < 1e-9, f"positions differ by {drift:.2e} A within the first 100 steps"
    assert one.positions.shape[0] == 102  # run 0, 100 single steps, then 900 more
    assert np.isfinite(many.total_energy).all()


@pytest.mark.parametrize("ranks", [2, 4])
def test_message_passing_model_independent_of_ranks(argon_data, message_passing_file, ranks):
    commands = deck(argon_data, f"pair_style mlff {message_passing_file}\npair_coeff * * Ar\n")
    one = run_snapshot(commands, 1)
    many = run_snapshot(commands, ranks)
    assert abs(many.energy[0] - one.energy[0]) <= 1e-10 * abs(one.energy[0])
    assert np.abs(many.forces - one.forces).max() <= 1e-10 * np.abs(one.forces).max()
    assert np.abs(many.atom_energy - one.atom_energy).max() <= 1e-10 * np.abs(one.atom_energy).max()
    assert np.allclose(many.pressure_virial, one.pressure_virial, rtol=1e-10, atol=1e-8)


def test_message_passing_model_equals_python_evaluation(argon_data, message_passing_file):
    """LAMMPS (ghost atoms, 4 ranks) against the same model evaluated in Python on the
    periodic structure with ASE's neighbour list: only exact if the plugin keeps ghosts
    out to layers x cutoff and sums only owned atoms' energies."""
    from ase.io import read

    from lmp_bench.models import MessagePassingToy
    from lmp_bench.models.graph import evaluate

    atoms = read(argon_data, format="lammps-data", atom_style="atomic", units="metal")
    python = evaluate(
        MessagePassingToy(),
        atoms.positions,
        np.zeros(len(atoms), dtype=int),
        atoms.cell.array,
        (True, True, True),
    )
    commands = deck(argon_data, f"pair_style mlff {message_passing_file}\npair_coeff * * Ar\n")
    lammps = run_snapshot(commands, 4)
    assert abs(lammps.energy[0] - python["energy"]) <= 1e-10 * abs(python["energy"])
    assert (
        np.abs(lammps.forces[0] - python["forces"]).max() <= 1e-10 * np.abs(python["forces"]).max()
    )
    assert np.abs(lammps.atom_energy[0] - python["atom_energy"]).max() <= 1e-10


def test_molecule_in_vacuum_with_empty_ranks(tmp_path, lj_files, message_passing_file):
    data = write_data(argon_cluster_in_vacuum(), tmp_path / "cluster.data")
    for model in (lj_files["plain.pt2"], message_passing_file):
        commands = deck(data, f"pair_style mlff {model}\npair_coeff * * Ar\n", boundary="f f f")
        one = run_snapshot(commands, 1)
        four = run_snapshot(commands.replace("atom_modify", "processors 4 1 1\natom_modify"), 4)
        assert min_atoms_per_rank(four.log) == 0, "the test needs a rank without atoms"
        assert abs(four.energy[0] - one.energy[0]) <= 1e-10 * abs(one.energy[0])
        assert np.abs(four.forces - one.forces).max() <= 1e-10 * np.abs(one.forces).max()
