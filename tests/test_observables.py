"""Observables against independent NumPy implementations written here from the formulas,
and against analytic cases (ideal gas, random walk)."""

from __future__ import annotations

import numpy as np
import pytest

from lmp_bench.observables import RDF, Diffusivity, Frames, RDFStability
from lmp_bench.observables.rdf import WATER_PAIRS

L = 12.4429  # A, the water-64 box


def numpy_rdf(positions, species, box_length, a, b, edges):
    """g(r) = hist / (T N_a N_b / V * shell volume), minimum image in a cubic box."""
    first, second = positions[:, species == a], positions[:, species == b]
    d = first[:, :, None, :] - second[:, None, :, :]
    d -= box_length * np.round(d / box_length)
    r = np.sqrt((d**2).sum(-1)).ravel()
    hist, _ = np.histogram(r[r > 0], edges)
    density = positions.shape[0] * first.shape[1] * second.shape[1] / box_length**3
    shells = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    return hist / (density * shells)


def numpy_msd(positions):
    """MSD over all time origins (N - m of them), centre-of-mass drift removed."""
    x = positions - positions.mean(axis=1, keepdims=True)
    frames = len(x)
    return np.array(
        [((x[m:] - x[: frames - m]) ** 2).sum(-1).mean() if m else 0.0 for m in range(frames)]
    )


def water_like(frames=30, seed=0):
    """Random 'water-ish' frames: 64 O and 128 H in the water-64 box."""
    rng = np.random.default_rng(seed)
    species = np.array(["O"] * 64 + ["H"] * 128)
    positions = rng.uniform(0, L, size=(frames, 192, 3))
    return Frames(positions, species, np.eye(3) * L, np.arange(frames) * 0.1)


def test_rdf_equals_numpy_per_pair():
    frames = water_like()
    rdf = RDF(WATER_PAIRS).compute(frames)
    for a, b in WATER_PAIRS:
        expected = numpy_rdf(frames.positions, frames.species, L, a, b, rdf.bin_edges)
        assert np.abs(rdf.rdf[(a, b)] - expected).max() < 1e-6, (a, b)


def test_rdf_agrees_with_freud():
    """A second library: freud's RDF (float32, so a few pairs may sit in a neighbouring bin)."""
    import freud

    frames = water_like(frames=5, seed=12)
    ours = RDF((("O", "O"), ("H", "O"))).compute(frames).rdf
    box = freud.box.Box.cube(L)
    oxygen, hydrogen = frames.species == "O", frames.species == "H"
    same = freud.density.RDF(500, 6.0, 1e-6)
    cross = freud.density.RDF(500, 6.0, 1e-6)
    for positions in frames.positions:
        wrapped = box.wrap(positions)
        same.compute((box, wrapped[oxygen]), reset=False)
        cross.compute((box, wrapped[oxygen]), query_points=wrapped[hydrogen], reset=False)
    for g_ours, g_freud in ((ours[("O", "O")], same.rdf), (ours[("H", "O")], cross.rdf)):
        assert np.abs(g_ours - g_freud).mean() < 1e-3
        assert np.abs(g_ours - g_freud).sum() / np.abs(g_ours).sum() < 1e-3


def brute_force_rdf(positions, species, cell, a, b, r_max=6.0, bins=500):
    """Every ordered pair (centre a, neighbour b) over images -3..3 of a triclinic cell,
    an atom's own images included, normalised by N_a N_b / V and the shell volume."""
    edges = np.linspace(1e-6, r_max, bins + 1)
    counts = np.zeros(bins)
    shifts = np.array(np.meshgrid(*[np.arange(-3, 4)] * 3)).reshape(3, -1).T @ cell
    centres, neighbours = np.flatnonzero(species == a), np.flatnonzero(species == b)
    for frame in positions:
        for i in centres:
            for j in neighbours:
                d = np.linalg.norm(frame[j] - frame[i] + shifts, axis=1)
                d = d[(d > 0) & (d < r_max)]
                counts += np.histogram(d, edges)[0]
    shells = 4 / 3 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
    density = len(centres) * len(neighbours) / abs(np.linalg.det(cell))
    return counts / (len(positions) * density * shells)


def test_rdf_of_a_cell_smaller_than_two_r_max_counts_every_image():
    """A triclinic 7.5 A cell (half plane spacing < 6 A): g(r) = brute force over images."""
    cell = np.array([[7.5, 0.0, 0.0], [1.2, 7.0, 0.0], [-0.8, 1.1, 7.8]])
    rng = np.random.default_rng(8)
    positions = rng.uniform(0, 1, size=(2, 12, 3)) @ cell
    species = np.array(["Li"] * 7 + ["S"] * 5)
    rdf = RDF((("Li", "Li"), ("Li", "S"), ("*", "*"))).compute(
        Frames(positions, species, cell, np.arange(2.0))
    )
    for a, b in (("Li", "Li"), ("Li", "S")):
        assert (
            np.abs(rdf.rdf[(a, b)] - brute_force_rdf(positions, species, cell, a, b)).max() < 1e-9
        )
    everything = np.array(["X"] * 12)
    expected = brute_force_rdf(positions, everything, cell, "X", "X")
    assert np.abs(rdf.rdf[("*", "*")] - expected).max() < 1e-9


def test_ideal_gas_rdf_is_one():
    rng = np.random.default_rng(1)
    positions = rng.uniform(0, L, size=(40, 1000, 3))
    frames = Frames(positions, np.array(["Ar"] * 1000), np.eye(3) * L, np.arange(40) * 0.1)
    g = RDF((("Ar", "Ar"),), bins=30).compute(frames).rdf[("Ar", "Ar")]
    assert abs(g[10:].mean() - 1.0) < 0.01  # (N-1)/N and noise
    assert np.abs(g[10:] - 1.0).max() < 0.05


def test_rdf_error_is_mean_absolute_difference_times_r_max():
    a, b = RDF().compute(water_like(seed=2)), RDF().compute(water_like(seed=3))
    for pair, value in a.mae(b).items():
        assert value == pytest.approx(np.abs(a.rdf[pair] - b.rdf[pair]).mean() * 6.0)


def test_msd_equals_numpy_with_drift_removed():
    rng = np.random.default_rng(4)
    positions = (
        np.cumsum(rng.normal(0, 0.3, size=(200, 50, 3)), axis=0)
        + 2.0 * np.arange(200)[:, None, None]
    )  # a uniform drift the observable must remove
    frames = Frames(positions, np.array(["O"] * 50), np.eye(3) * L, np.arange(200) * 0.1)
    diffusivity = Diffusivity("O", time_ps=5.0).compute(frames)
    assert np.abs(diffusivity.msd - numpy_msd(positions)).max() < 1e-6
    k = 50
    expected = numpy_msd(positions)[k] / (6 * k * 0.1) * 1e-8
    assert diffusivity.coefficient == pytest.approx(expected, rel=1e-9)


def test_random_walk_diffusivity():
    """Steps of variance s^2 per axis every dt: D = <step^2> / (6 dt) = 3 s^2 / (6 dt)."""
    rng = np.random.default_rng(5)
    s, dt = 0.2, 0.1
    positions = np.cumsum(rng.normal(0, s, size=(2000, 800, 3)), axis=0)
    frames = Frames(positions, np.array(["O"] * 800), np.eye(3) * 50, np.arange(2000) * dt)
    measured = Diffusivity("O", time_ps=20.0).compute(frames).coefficient
    expected = 3 * s**2 / (6 * dt) * 1e-8 * (1 - 1 / 800)  # COM removal takes 1/N
    assert measured == pytest.approx(expected, rel=0.03)


def test_diffusivity_unavailable_for_short_runs():
    frames = water_like(frames=20)
    assert np.isnan(Diffusivity("O", time_ps=100.0).compute(frames).coefficient)


def thermal_frames(frames, seed):
    """One fixed random structure with 0.1 A of thermal noise per frame."""
    rng = np.random.default_rng(seed)
    base = np.random.default_rng(11).uniform(0, L, size=(192, 3))
    positions = base + rng.normal(0, 0.1, size=(frames, 192, 3))
    species = np.array(["O"] * 64 + ["H"] * 128)
    return Frames(positions, species, np.eye(3) * L, np.arange(frames) * 0.1)


def test_stability_windows_equal_numpy_and_find_the_collapse():
    """40 thermal frames of one structure, then 20 with all atoms squeezed into a corner."""
    good = thermal_frames(40, seed=6)
    collapsed = np.random.default_rng(7).uniform(0, 3.0, size=(20, 192, 3))
    positions = np.concatenate([good.positions, collapsed])
    frames = Frames(positions, good.species, good.cell, np.arange(60) * 0.1)
    reference = RDF().compute(thermal_frames(40, seed=8))
    stability = RDFStability(reference, threshold=3.0, window_ps=1.0).compute(frames)
    edges = reference.bin_edges
    for start in (0, 25, 35, 45):
        window = positions[start : start + 10]
        for column, (a, b) in enumerate(WATER_PAIRS):
            g = numpy_rdf(window, frames.species, L, a, b, edges)
            expected = np.abs(g - reference.rdf[(a, b)]).mean() * 6.0
            assert stability.window_errors[start, column] == pytest.approx(expected, abs=1e-6)
    first = stability.first_unstable_frame
    assert first is not None and 31 <= first <= 40
    assert stability.window_errors[:first].max() <= 3.0
    assert stability.stable_time_ps == pytest.approx(first * 0.1)
    assert stability.stable_frames == first


def test_stable_run_is_stable_for_its_whole_length():
    frames = thermal_frames(30, seed=9)
    stability = RDFStability(RDF().compute(thermal_frames(30, seed=10))).compute(frames)
    assert stability.first_unstable_frame is None
    assert stability.stable_time_ps == pytest.approx(2.9)


def test_all_atom_rdf_counts_every_pair_once_per_order():
    """("*", "*") is g(r) of all atoms regardless of element: the same as relabelling
    every atom one element and asking for that element's pair."""
    rng = np.random.default_rng(7)
    positions = rng.uniform(0, 14.0, size=(3, 60, 3))
    species = np.array(["Li"] * 30 + ["P"] * 10 + ["S"] * 20)
    frames = Frames(positions, species, np.eye(3) * 14.0, np.arange(3.0))
    mixed = RDF((("*", "*"),)).compute(frames)
    single = RDF((("X", "X"),)).compute(
        Frames(positions, np.array(["X"] * 60), frames.cell, frames.times)
    )
    assert np.allclose(mixed.rdf[("*", "*")], single.rdf[("X", "X")], atol=1e-12)
