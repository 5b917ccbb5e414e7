"""Dynamics through the plugin: energy conservation as good as LAMMPS's own lj/cut, and
boxes smaller than the cutoff (several periodic images of one atom) handled exactly."""

from __future__ import annotations

import numpy as np
from systems import argon_fcc, deck, write_data

from lmp_bench.lammps.snapshot import run_snapshot

STEPS, EVERY, DT_PS = 3000, 100, 0.004


def drift_mev_per_atom_ps(total_energy: np.ndarray, atoms: int) -> float:
    """Slope of a straight-line fit to the total energy, meV/atom/ps."""
    times = np.arange(len(total_energy)) * EVERY * DT_PS
    return float(np.polyfit(times, total_energy, 1)[0] * 1000 / atoms)


def test_nve_drift_equals_lj_cut(tmp_path, lj_files):
    data = write_data(argon_fcc(repeat=4), tmp_path / "argon.data")
    nve = f"velocity all create 80.0 7 loop all\nfix integrate all nve\ntimestep {DT_PS}\n"
    segments = [EVERY] * (STEPS // EVERY)
    ours = run_snapshot(
        deck(data, f"pair_style mlff {lj_files['shifted.pt2']}\npair_coeff * * Ar", extra=nve),
        segments=segments,
    )
    theirs = run_snapshot(
        deck(
            data,
            "pair_style lj/cut 8.5\npair_coeff * * 0.0103 3.405\npair_modify shift yes",
            extra=nve,
        ),
        segments=segments,
    )
    ours_drift = drift_mev_per_atom_ps(ours.total_energy, 256)
    theirs_drift = drift_mev_per_atom_ps(theirs.total_energy, 256)
    assert abs(ours_drift - theirs_drift) <= 0.01 * abs(theirs_drift) + 1e-6, (
        ours_drift,
        theirs_drift,
    )
    assert np.abs(ours.total_energy - theirs.total_energy).max() < 1e-6


def test_box_smaller_than_cutoff_equals_python(tmp_path, message_passing_file):
    """A 5.26 A argon cell with a 5 A, 2-layer model: each atom meets many images of itself
    and its neighbours as LAMMPS ghosts; the result must equal ASE's periodic neighbour
    list evaluation of the same model."""
    from lmp_bench.models import MessagePassingToy
    from lmp_bench.models.graph import evaluate

    atoms = argon_fcc(repeat=1, seed=4)
    data = write_data(atoms, tmp_path / "small.data")
    lammps = run_snapshot(deck(data, f"pair_style mlff {message_passing_file}\npair_coeff * * Ar"))
    python = evaluate(
        MessagePassingToy(), atoms.positions, np.zeros(len(atoms), dtype=int), atoms.cell.array
    )
    assert abs(lammps.energy[0] - python["energy"]) < 1e-10 * abs(python["energy"])
    assert (
        np.abs(lammps.forces[0] - python["forces"]).max() < 1e-10 * np.abs(python["forces"]).max()
    )
