"""Well-tempered metadynamics through COLVARS (`fix colvars`) and the FES built from it.

The toy: two atoms whose pair energy is a double well in their distance r, tabulated for
LAMMPS's own pair_style table (150,000 steps take seconds; the plugin under COLVARS is
checked by the alanine tests). The free energy of that distance is known exactly,
F(r) = U(r) - 2 kT ln r + const (the r^2 Jacobian of two free particles), so the FES that
metadynamics recovers can be scored against it.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from lmp_bench import export
from lmp_bench.lammps.colvars import (
    Dihedral,
    Distance,
    WellTemperedMetadynamics,
    alanine_metadynamics,
    fix_colvars,
    hills_path,
    pmf_path,
)
from lmp_bench.lammps.snapshot import run_snapshot
from lmp_bench.models import LennardJones
from lmp_bench.observables.fes import (
    DIHEDRAL,
    Axis,
    FreeEnergySurface,
    Hills,
    read_colvars_pmf,
    read_hills,
)

EV = 96.48533212  # kJ/mol
KT_300 = 8.314462618e-3 * 300.0  # kJ/mol

# double well: minima at 2.5 and 4.5 A, barrier 10 kJ/mol at 3.5 A; its thermal width
# (~0.25 A) is well above the hills' sigma (0.1 A), so the hills can resolve it
BARRIER, CENTRE, HALF_WIDTH = 10.0, 3.5, 1.0


def double_well(r: np.ndarray) -> np.ndarray:
    """U(r) = h ((r - c)^2 / d^2 - 1)^2, kJ/mol."""
    return BARRIER * (((r - CENTRE) / HALF_WIDTH) ** 2 - 1.0) ** 2


def double_well_table(path: Path, points: int = 5000) -> str:
    """The double well as a LAMMPS pair table (eV, eV/A; linear interpolation between
    points 1.4 mA apart: 1e-6 kJ/mol from the formula) and the lines that use it."""
    r = np.linspace(0.5, 7.5, points)
    x = (r - CENTRE) / HALF_WIDTH
    energy = double_well(r) / EV
    force = -BARRIER / EV * 4.0 * x * (x * x - 1.0) / HALF_WIDTH  # -dU/dr
    rows = "".join(f"{k + 1} {r[k]:.10f} {energy[k]:.12e} {force[k]:.12e}\n" for k in range(points))
    path.write_text(f"DOUBLE_WELL\nN {points} R 0.5 7.5\n\n{rows}")
    return f"pair_style table linear {points}\npair_coeff 1 1 {path} DOUBLE_WELL 7.5\n"


def langevin_deck(pair_lines: str, positions: list[tuple[float, float, float]], mass: float) -> str:
    """Atoms in a 30 A periodic box, NVE + Langevin 300 K, 2 fs (fix colvars comes after)."""
    atoms = "".join(f"create_atoms 1 single {x} {y} {z}\n" for x, y, z in positions)
    return (
        "units metal\nboundary p p p\natom_style atomic\natom_modify map array\n"
        "region box block 0 30 0 30 0 30\ncreate_box 1 box\n"
        f"{atoms}mass 1 {mass}\n{pair_lines}"
        "timestep 0.002\nvelocity all create 300 4933 mom yes rot yes\n"
        "fix integrate all nve\nfix thermostat all langevin 300 300 0.1 7217 zero yes\n"
        "thermo 10000\n"
    )


def test_toy_double_well_free_energy(tmp_path):
    """Metadynamics on the distance recovers F(r) within 0.5 kJ/mol (mean abs, over
    F < barrier + 2 kT); COLVARS's own .pmf agrees with the FES summed from its hills."""
    meta = WellTemperedMetadynamics(
        (Distance("r", (1, 2), lower=1.0, upper=7.0, width=0.02),),
        height=0.5,
        sigma=0.1,
        pace=50,
        bias_factor=3.0,
        output_every=10000,
    )
    config = meta.write(tmp_path / "dw.colvars")
    prefix = tmp_path / "dw"
    pair = double_well_table(tmp_path / "double-well.table")
    deck = langevin_deck(pair, [(14.0, 15.0, 15.0), (16.5, 15.0, 15.0)], mass=4.0)
    run_snapshot(deck + fix_colvars(config, prefix, "thermostat", seed=29), segments=[150_000])

    hills = read_hills(hills_path(prefix))
    assert len(hills.weights) == 3000
    np.testing.assert_allclose(hills.sigmas, 0.1)
    assert hills.weights[0] * EV == pytest.approx(0.5, rel=1e-9)  # first hill: unscaled

    axis = Axis(1.0, 7.0, 300)  # the colvar's own grid: bin centres 1.01, 1.03, ...
    fes = FreeEnergySurface((axis,), temperature=300.0, bias_temperature=600.0)
    fes.compute(hills)

    # COLVARS's PMF (eV, with its (T + dT)/dT factor, T from the tstat fix) == ours
    points, pmf = read_colvars_pmf(pmf_path(prefix))
    np.testing.assert_allclose(points[0], axis.points, atol=1e-12)
    np.testing.assert_allclose(pmf * EV - (pmf * EV).min(), fes.free_energy, atol=1e-6)

    r = axis.points
    exact = double_well(r) - 2.0 * fes.kT * np.log(r)
    inside = exact - exact.min() < BARRIER + 2.0 * fes.kT
    error = (fes.free_energy[inside] - fes.free_energy[inside].mean()) - (
        exact[inside] - exact[inside].mean()
    )
    mae = float(np.abs(error).mean())
    print(
        f"double-well FES MAE {mae:.3f} kJ/mol over r in [{r[inside][0]:.2f}, "
        f"{r[inside][-1]:.2f}] A"
    )
    assert mae < 0.5


def test_alanine_config_runs_in_lammps(model_dir, tmp_path):
    """design.md's phi/psi bias on four LJ atoms: COLVARS takes the config, deposits
    1.2 kJ/mol hills of sigma 0.35 rad (in degrees), and its 2-D PMF == ours."""
    model = export(LennardJones(), model_dir / "lj-colvars.pt")
    meta = alanine_metadynamics((1, 2, 3, 4), (2, 3, 4, 1), pace=100, output_every=1000)
    config = meta.write(tmp_path / "ala.colvars")
    prefix = tmp_path / "ala"
    positions = [(10.0, 10.0, 10.0), (13.8, 10.0, 10.0), (14.9, 13.6, 10.0), (17.0, 14.4, 13.1)]
    deck = langevin_deck(f"pair_style mlff {model}\npair_coeff * * Ar\n", positions, mass=39.948)
    run_snapshot(deck + fix_colvars(config, prefix, "thermostat"), segments=[1000])

    hills = read_hills(hills_path(prefix))
    assert hills.centers.shape == (10, 2)
    np.testing.assert_allclose(hills.sigmas, math.degrees(0.35), rtol=1e-9)
    assert hills.weights[0] * EV == pytest.approx(1.2, rel=1e-9)
    assert np.all(np.abs(hills.centers) <= 180.0)

    fes = FreeEnergySurface().compute(hills)  # 60 x 60 over [-pi, pi), bias factor 6
    points, pmf = read_colvars_pmf(pmf_path(prefix))
    for axis_points in points:
        np.testing.assert_allclose(np.radians(axis_points), DIHEDRAL.points, atol=1e-12)
    np.testing.assert_allclose(pmf * EV - (pmf * EV).min(), fes.free_energy, atol=1e-6)


def test_config_units():
    """hillWeight in eV, hillWidth x width / 2 = sigma in degrees, biasTemperature 1500 K."""
    meta = alanine_metadynamics((5, 7, 9, 15), (7, 9, 15, 17))
    block = meta.config().split("metadynamics {")[1].split("}")[0]
    keys = dict(line.split(None, 1) for line in block.strip().splitlines())
    assert float(keys["hillWeight"]) == pytest.approx(1.2 / EV, rel=1e-12)
    width = Dihedral("phi", (5, 7, 9, 15)).width
    assert float(keys["hillWidth"]) * width / 2 == pytest.approx(math.degrees(0.35), rel=1e-12)
    assert float(keys["biasTemperature"]) == pytest.approx(1500.0)
    assert keys["newHillFrequency"] == "500"
    assert keys["wellTempered"] == "on"
    assert "units metal" in meta.config()
    line = fix_colvars("a.colvars", "out/ala", "lang", seed=3)
    assert (
        line.split() == "fix colvars all colvars a.colvars output out/ala seed 3 tstat lang".split()
    )


def write_hills(path: Path, centers: np.ndarray, sigmas: np.ndarray, weights: np.ndarray) -> None:
    """A hills file laid out as COLVARS writes it (step, centres, sigmas, weight)."""
    lines = ["# a comment line", "# DELETED this hill:       10  1.0  2.0  0.1  0.1  0.5"]
    for i, (c, s, w) in enumerate(zip(centers, sigmas, weights, strict=True)):
        row = [f"{(i + 1) * 500:12d}", *(f"{x:.14e}" for x in c), *(f"{x:.14e}" for x in s)]
        lines.append("  ".join([*row, f"{w:.14e}"]))
    path.write_text("\n".join(lines) + "\n")


def test_fes_matches_independent_sum_of_gaussians(tmp_path):
    """2-D periodic dihedral hills (degrees, eV) -> F on 60 x 60 radians, kJ/mol: our
    code == a plain double loop with the well-tempered factor put in by hand."""
    rng = np.random.default_rng(4)
    count = 300
    centers = rng.uniform(-180.0, 180.0, size=(count, 2))
    sigmas = np.full((count, 2), math.degrees(0.35))
    weights = 1.2 / EV * np.exp(-np.linspace(0.0, 3.0, count))
    path = tmp_path / "run.colvars.metad.hills.traj"
    write_hills(path, centers, sigmas, weights)

    fes = FreeEnergySurface(temperature=300.0, bias_temperature=1500.0, cutoff=None).compute(path)

    grid = -180.0 + 6.0 * (np.arange(60) + 0.5)  # degrees, bin centres
    bias = np.zeros((60, 60))
    for (cx, cy), (sx, sy), w in zip(centers, sigmas, weights, strict=True):
        dx = (grid[:, None] - cx + 180.0) % 360.0 - 180.0
        dy = (grid[None, :] - cy + 180.0) % 360.0 - 180.0
        bias += w * np.exp(-0.5 * ((dx / sx) ** 2 + (dy / sy) ** 2))
    expected = -(300.0 + 1500.0) / 1500.0 * bias * EV
    expected -= expected.min()
    np.testing.assert_allclose(fes.free_energy, expected, atol=1e-6)
    np.testing.assert_allclose(fes.points[0], np.radians(grid), atol=1e-12)

    # until_step keeps only the hills deposited by then
    early = FreeEnergySurface(cutoff=None).compute(path, until_step=500 * 10)
    first = Hills(np.arange(1, 11) * 500, centers[:10], sigmas[:10], weights[:10])
    np.testing.assert_allclose(
        early.free_energy, FreeEnergySurface(cutoff=None).compute(first).free_energy, atol=1e-9
    )


def test_marginal_of_separable_surface():
    """F(x, y) = f(x) + g(y) marginalises back to f and g (up to a constant)."""
    fes = FreeEnergySurface()
    x, y = np.meshgrid(*fes.points, indexing="ij")
    f = 8.0 * np.cos(x) + 3.0 * np.sin(2.0 * x)
    g = 5.0 * np.cos(y - 1.0) ** 2 + 2.0 * np.sin(y)
    fes.set_free_energy(f + g)
    f1, g1 = f[:, 0], g[0, :]
    np.testing.assert_allclose(fes.marginal(0), f1 - f1.min(), atol=1e-6)
    np.testing.assert_allclose(fes.marginal(1), g1 - g1.min(), atol=1e-6)


def test_mae_conventions():
    """2-D periodic: mean |F - F_ref| x 2 pi after setting both minima to 0; 1-D: plain."""
    fes = FreeEnergySurface()
    x, y = np.meshgrid(*fes.points, indexing="ij")
    surface = 4.0 * np.cos(x) + 2.0 * np.cos(y)
    fes.set_free_energy(surface)
    assert fes.mae(surface + 7.0) == pytest.approx(0.0, abs=1e-12)
    bumped = surface.copy()
    bumped[30, 30] += 3600.0 / 2.0  # 1800 kJ/mol at one point of 3600, not at the minimum
    assert fes.mae(bumped) == pytest.approx(0.5 * 2.0 * math.pi)
    line = FreeEnergySurface((Axis(0.0, 1.0, 4),)).set_free_energy(np.array([0.0, 1.0, 2.0, 3.0]))
    assert line.mae(np.array([0.0, 1.0, 2.0, 5.0])) == pytest.approx(0.5)
