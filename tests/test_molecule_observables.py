"""h(r) and bond-length stability of molecules against NumPy written here from design.md's
formulas, and against cases whose answer is known (a rigid pair, ethanol's eight bonds)."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import molecule

from lmp_bench.observables import Frames
from lmp_bench.observables.distances import BondStability, DistanceHistogram
from lmp_bench.observables.energy import EnergyDrift

NO_CELL = np.zeros((3, 3))


def ethanol_frames(count: int, seed: int, noise: float = 0.02) -> Frames:
    atoms = molecule("CH3CH2OH")
    rng = np.random.default_rng(seed)
    positions = atoms.positions + rng.normal(scale=noise, size=(count, len(atoms), 3))
    return Frames(
        positions, np.array(atoms.get_chemical_symbols()), NO_CELL, 0.05 * np.arange(count)
    )


def numpy_h(positions: np.ndarray, r_max: float = 10.0, bins: int = 500) -> np.ndarray:
    """Every unordered pair of every frame counted into uniform bins by hand."""
    lo = 1e-6
    width = (r_max - lo) / bins
    counts = np.zeros(bins)
    for frame in positions:
        for i in range(len(frame)):
            for j in range(i + 1, len(frame)):
                r = np.linalg.norm(frame[j] - frame[i])
                if lo <= r <= r_max:
                    counts[min(int((r - lo) / width), bins - 1)] += 1
    return counts / (counts.sum() * width)


def test_h_of_r_equals_numpy():
    frames = ethanol_frames(20, seed=1, noise=0.3)
    h = DistanceHistogram().compute(frames)
    assert np.abs(h.h - numpy_h(frames.positions)).max() < 1e-6
    assert (h.h * np.diff(h.edges)).sum() == pytest.approx(1.0)


def test_h_of_rigid_pair_is_one_bin():
    positions = np.array([[[0.0, 0.0, 0.0], [0.0, 0.0, 1.5]]] * 4)
    h = DistanceHistogram().compute(
        Frames(positions, np.array(["H", "H"]), NO_CELL, np.arange(4.0))
    )
    width = h.edges[1] - h.edges[0]
    assert h.h[np.searchsorted(h.edges, 1.5) - 1] == pytest.approx(1 / width)
    assert np.count_nonzero(h.h) == 1


def test_h_of_r_error_is_mean_absolute_difference_times_range():
    h = DistanceHistogram().compute(ethanol_frames(5, seed=2))
    reference = DistanceHistogram().compute(ethanol_frames(5, seed=3, noise=0.1)).h
    expected = np.mean(np.abs(h.h - reference)) * (10.0 - 1e-6)
    assert h.mae(reference) == pytest.approx(expected, rel=1e-12)
    assert h.mae(h.h) == 0.0


def test_bonds_of_ethanol_from_covalent_radii():
    stability = BondStability(ethanol_frames(3, seed=4))
    symbols = ethanol_frames(1, 0).species
    kinds = sorted("-".join(sorted(symbols[list(b)])) for b in stability.bonds)
    assert kinds == ["C-C", "C-H", "C-H", "C-H", "C-H", "C-H", "C-O", "H-O"]


def test_bond_stability_finds_the_first_broken_bond():
    reference = ethanol_frames(30, seed=5)
    run = ethanol_frames(40, seed=6)
    (c, o), *_ = [b for b in BondStability(reference).bonds if {*run.species[b]} == {"C", "O"}]
    axis = run.positions[17, o] - run.positions[17, c]
    run.positions[17:, o] += 0.6 * axis / np.linalg.norm(axis)  # C-O 0.6 A longer from frame 17
    stability = BondStability(reference).compute(run)
    # independent: bond lengths per frame against the reference's mean, by hand
    i, j = stability.bonds.T
    mean = np.linalg.norm(reference.positions[:, j] - reference.positions[:, i], axis=2).mean(0)
    lengths = np.linalg.norm(run.positions[:, j] - run.positions[:, i], axis=2)
    assert np.abs(stability.max_deviation - np.abs(lengths - mean).max(1)).max() < 1e-12
    assert stability.first_unstable_frame == 17 and stability.stable_frames == 17
    assert stability.stable_time_ps == pytest.approx(17 * 0.05)
    assert BondStability(reference).compute(reference).first_unstable_frame is None


def test_energy_drift_is_the_least_squares_slope_per_atom():
    """E = E0 + 0.3 meV/atom/ps x N t plus an oscillation: the slope comes back exactly
    (the oscillation is symmetric about the line), the scatter is its standard deviation."""
    times = np.linspace(0.0, 10.0, 2001)
    atoms = 9
    wiggle = 0.002 * np.cos(2 * np.pi * times)  # eV, whole periods, symmetric about t = 5
    energy = -120.0 + 0.3e-3 * atoms * times + wiggle
    drift = EnergyDrift().compute(times, energy, atoms)
    slope = np.polyfit(times, 1000 * energy / atoms, 1)[0]
    assert drift.drift_meV_per_atom_per_ps == pytest.approx(slope, rel=1e-12)
    assert drift.drift_meV_per_atom_per_ps == pytest.approx(0.3, abs=2e-3)
    assert drift.scatter_meV_per_atom == pytest.approx(2.0 / atoms / np.sqrt(2), rel=2e-2)
    with pytest.raises(ValueError, match="at least two"):
        EnergyDrift().compute(times[:1], energy[:1], atoms)
