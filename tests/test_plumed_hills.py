"""PLUMED HILLS and sum_hills files: read them, rebuild F, compare on PLUMED's own grid.

The references here are written out in the tests from the definitions, not from our code:
- PLUMED's well-tempered heights are stored already scaled, so its sum_hills F is
  F(s) = -sum_k h_k exp(-sum_d dmin(s_d - c_kd)^2 / (2 sigma_kd^2)), dmin the minimum image;
- PLUMED >= 2.8 stretches each Gaussian so it reaches 0 where
  dp2 = (1/2) sum_d (dmin / sigma)^2 = 6.25: h (exp(-dp2) - exp(-6.25)) / (1 - exp(-6.25));
- sum_hills's grid points sit at bin edges, min + i (max - min) / bins (i < bins for a
  periodic CV, i <= bins otherwise), lmp-bench's at bin centres, half a bin further.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from lmp_bench.observables import FreeEnergySurface, read_plumed_fes, read_plumed_hills
from lmp_bench.observables.fes import DIHEDRAL, Axis, read_hills, sum_hills_axis
from lmp_bench.observables.plumed import plumed_number

TWO_PI = 2.0 * math.pi
EV = 96.48533212  # kJ/mol
KCAL = 4.184  # kJ/mol
T, DELTA_T = 300.0, 1500.0  # K; bias factor gamma = (T + Delta T)/T = 6


def well_tempered_hills(count: int = 40, seed: int = 11):
    """Centres anywhere in [-pi, pi) (some next to the +-pi seam), sigma 0.35 rad, heights
    as PLUMED writes them (kJ/mol, decaying as a well-tempered run's do), times in ps."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(-math.pi, math.pi, size=(count, 2))
    centers[:3] = [[3.1, -3.1], [-3.05, 3.0], [0.0, 3.14]]
    sigmas = np.column_stack([np.full(count, 0.35), rng.uniform(0.3, 0.4, count)])
    heights = 1.2 * 6.0 / 5.0 * np.exp(-np.linspace(0.0, 2.0, count))
    times = np.arange(1, count + 1) * 1.0
    return centers, sigmas, heights, times


def hills_text(
    names,
    centers,
    sigmas,
    heights,
    times,
    periodic: bool = True,
    kernel: str | None = "stretched-gaussian",
    restart_at: int | None = None,
) -> str:
    """A HILLS file laid out as PLUMED's METAD writes it; `restart_at` starts a second
    header there, as an appended restart does."""
    header = ["#! FIELDS time " + " ".join(names) + " " + " ".join(f"sigma_{n}" for n in names)]
    header[0] += " height biasf"
    header.append("#! SET multivariate false")
    if kernel is not None:
        header.append(f"#! SET kerneltype {kernel}")
    if periodic:
        for name in names:
            header += [f"#! SET min_{name} -pi", f"#! SET max_{name} pi"]
    lines = list(header)
    for k, (c, s, h, t) in enumerate(zip(centers, sigmas, heights, times, strict=True)):
        if k == restart_at:
            lines += ["# a comment PLUMED does not write", *header]
        values = [t, *c, *s, h, 6.0]
        lines.append("  ".join(f"{v:.17g}" for v in values))
    return "\n".join(lines) + "\n"


def sum_hills_formula(points, centers, sigmas, heights, periods) -> np.ndarray:
    """-sum of full Gaussians on the grid `points` (one array per CV), minimum image in
    each periodic CV: PLUMED's F for a well-tempered HILLS file (not shifted)."""
    mesh = np.meshgrid(*points, indexing="ij")
    bias = np.zeros(mesh[0].shape)
    for c, s, h in zip(centers, sigmas, heights, strict=True):
        squared = np.zeros(mesh[0].shape)
        for d in range(len(points)):
            delta = mesh[d] - c[d]
            if periods[d] is not None:
                delta = (delta + periods[d] / 2.0) % periods[d] - periods[d] / 2.0
            squared += (delta / s[d]) ** 2
        bias += h * np.exp(-squared / 2.0)
    return -bias


def shifted(values: np.ndarray) -> np.ndarray:
    return values - values.min()


EDGES = -math.pi + TWO_PI * np.arange(60) / 60  # sum_hills --bin 60 on [-pi, pi)
CENTRES = -math.pi + TWO_PI * (np.arange(60) + 0.5) / 60  # design.md's 60 x 60 grid


@pytest.fixture
def plumed_file(tmp_path) -> Path:
    centers, sigmas, heights, times = well_tempered_hills()
    path = tmp_path / "HILLS"
    path.write_text(hills_text(["phi", "psi"], centers, sigmas, heights, times, restart_at=25))
    return path


def test_reader_and_fes_equal_sum_hills_formula(plumed_file):
    """Restarted 2-D periodic HILLS -> F on PLUMED's edge grid and on lmp-bench's centre
    grid: equal to -sum of Gaussians written out here, to 1e-9 kJ/mol, with no
    well-tempered factor (PLUMED's heights are already scaled)."""
    centers, sigmas, heights, times = well_tempered_hills()
    hills = read_plumed_hills(plumed_file)
    assert hills.names == ("phi", "psi")
    assert hills.periods == pytest.approx((TWO_PI, TWO_PI))
    assert hills.kernel == "stretched-gaussian"
    np.testing.assert_allclose(hills.time_ps, times)
    np.testing.assert_allclose(hills.centers, centers, rtol=1e-15)

    edge = sum_hills_axis(-math.pi, math.pi, 60, periodic=True)
    np.testing.assert_allclose(edge.points, EDGES, atol=1e-12)
    for axis, points in ((edge, EDGES), (DIHEDRAL, CENTRES)):
        # bias_temperature is design.md's 1500 K: ignored for PLUMED hills
        fes = FreeEnergySurface((axis, axis), cutoff=None).compute(hills)
        expected = sum_hills_formula((points, points), centers, sigmas, heights, (TWO_PI,) * 2)
        np.testing.assert_allclose(fes.free_energy, shifted(expected), atol=1e-9)
        np.testing.assert_allclose(fes.points[0], points, atol=1e-12)


@pytest.mark.parametrize("kernel", ["stretched-gaussian", None])
def test_native_cutoff_follows_plumed_kernel(tmp_path, kernel):
    """Default cutoff: PLUMED's own hills, a stretched Gaussian (the file says so, PLUMED
    >= 2.8) or a plain one (no kerneltype: older PLUMED), both 0 from dp2 = 6.25."""
    centers, sigmas, heights, times = well_tempered_hills()
    path = tmp_path / "HILLS"
    path.write_text(hills_text(["phi", "psi"], centers, sigmas, heights, times, kernel=kernel))
    fes = FreeEnergySurface((DIHEDRAL, DIHEDRAL)).compute(read_plumed_hills(path))

    phi, psi = np.meshgrid(CENTRES, CENTRES, indexing="ij")
    floor = math.exp(-6.25)
    bias = np.zeros_like(phi)
    for (cx, cy), (sx, sy), h in zip(centers, sigmas, heights, strict=True):
        dx = np.angle(np.exp(1j * (phi - cx)))  # minimum image, another way round
        dy = np.angle(np.exp(1j * (psi - cy)))
        dp2 = 0.5 * ((dx / sx) ** 2 + (dy / sy) ** 2)
        if kernel == "stretched-gaussian":
            value = (np.exp(-dp2) - floor) / (1.0 - floor)
        else:
            value = np.exp(-dp2)
        bias += h * np.where(dp2 < 6.25, value, 0.0)
    np.testing.assert_allclose(fes.free_energy, shifted(-bias), atol=1e-9)


def colvars_hills_text(centers_deg, sigmas_deg, weights) -> str:
    """A COLVARS hills.traj: step, centres, sigmas (degrees for dihedrals), weight."""
    lines = ["# step phi psi sigma_phi sigma_psi W"]
    for k, (c, s, w) in enumerate(zip(centers_deg, sigmas_deg, weights, strict=True)):
        lines.append(f"{(k + 1) * 500:10d} " + " ".join(f"{v:.17g}" for v in (*c, *s, w)))
    return "\n".join(lines) + "\n"


def test_colvars_and_plumed_files_of_the_same_run_agree(tmp_path, plumed_file):
    """COLVARS logs the weight W it applied, F = -(T + dT)/dT sum W G; PLUMED logs
    h = W gamma/(gamma - 1) = W (T + dT)/dT, F = -sum h G. So the same run gives
    W = dT/(T + dT) h (5/6 h at bias factor 6), and both files give one F."""
    centers, sigmas, heights, _ = well_tempered_hills()
    weights_ev = DELTA_T / (T + DELTA_T) * heights / EV
    colvars = tmp_path / "run.colvars.metad.hills.traj"
    colvars.write_text(colvars_hills_text(np.degrees(centers), np.degrees(sigmas), weights_ev))

    fes = FreeEnergySurface(temperature=T, bias_temperature=DELTA_T, energy_unit="eV", cutoff=None)
    from_colvars = fes.compute(read_hills(colvars)).free_energy
    from_plumed = fes.compute(read_plumed_hills(plumed_file)).free_energy
    np.testing.assert_allclose(from_plumed, from_colvars, atol=1e-9)
    assert from_plumed.max() > 1.0  # a real surface, not two zeros


def test_until_time_ps_keeps_hills_deposited_by_then(plumed_file):
    centers, sigmas, heights, _ = well_tempered_hills()
    hills = read_plumed_hills(plumed_file)
    early = FreeEnergySurface(cutoff=None).compute(hills, until_time_ps=12.0)  # hills 1..12
    expected = sum_hills_formula(
        (CENTRES, CENTRES), centers[:12], sigmas[:12], heights[:12], (TWO_PI, TWO_PI)
    )
    np.testing.assert_allclose(early.free_energy, shifted(expected), atol=1e-9)
    with pytest.raises(ValueError, match="until_time_ps"):
        FreeEnergySurface().compute(hills, until_step=6000)


def test_energy_unit_kcal_scales_by_4184(plumed_file):
    in_kj = FreeEnergySurface(cutoff=None).compute(read_plumed_hills(plumed_file))
    in_kcal = FreeEnergySurface(cutoff=None).compute(read_plumed_hills(plumed_file, "kcal/mol"))
    np.testing.assert_allclose(in_kcal.free_energy, KCAL * in_kj.free_energy, atol=1e-9)
    in_ev = read_plumed_hills(plumed_file, energy_unit="eV")
    np.testing.assert_allclose(in_ev.weights, EV * read_plumed_hills(plumed_file).weights)


def test_bad_files_and_units_get_named_errors(tmp_path, plumed_file):
    with pytest.raises(ValueError, match="energy_unit 'kj' .*UNITS"):
        read_plumed_hills(plumed_file, energy_unit="kj")
    multivariate = tmp_path / "multi"
    multivariate.write_text(
        "#! FIELDS time phi psi sigma_phi_phi sigma_psi_psi sigma_psi_phi height biasf\n"
        "#! SET multivariate true\n"
        "1 0.1 0.2 0.3 0.3 0.0 1.2 6\n"
    )
    with pytest.raises(ValueError, match="multivariate"):
        read_plumed_hills(multivariate)
    no_sigma = tmp_path / "no_sigma"
    no_sigma.write_text("#! FIELDS time phi psi sigma_phi height biasf\n1 0.1 0.2 0.3 1.2 6\n")
    with pytest.raises(ValueError, match="no sigma_psi column"):
        read_plumed_hills(no_sigma)
    short = tmp_path / "short"
    short.write_text(plumed_file.read_text() + "41 0.1 0.2\n")
    with pytest.raises(ValueError, match="3 values but '#! FIELDS' names 7"):
        read_plumed_hills(short)
    with pytest.raises(ValueError, match="read_plumed_hills"):
        FreeEnergySurface().compute(plumed_file)  # a path is read as COLVARS: say so
    hills = read_plumed_hills(plumed_file)
    flat = Axis(-math.pi, math.pi, 60)  # not periodic: would wrap nothing
    with pytest.raises(ValueError, match="CV phi has period 6.28"):
        FreeEnergySurface((flat, flat)).compute(hills)
    swapped = tuple(sum_hills_axis(-math.pi, math.pi, 60, True, name=n) for n in ("psi", "phi"))
    with pytest.raises(ValueError, match="grid axis 0 is CV psi"):
        FreeEnergySurface(swapped).compute(hills)


def test_plumed_numbers():
    assert plumed_number("-pi") == -math.pi
    assert plumed_number("2pi") == pytest.approx(TWO_PI)
    assert plumed_number("2*pi") == pytest.approx(TWO_PI)
    assert plumed_number("pi/2") == pytest.approx(math.pi / 2)
    assert plumed_number("0") == 0.0
    assert plumed_number("-1.5e-1") == -0.15
    with pytest.raises(ValueError, match="multiples of pi"):
        plumed_number("tau")


def fes_dat_text(names, axes_points, free_energy, periodic, bins) -> str:
    """A grid as sum_hills writes it: header with min/max/nbins/periodic per CV, the first
    CV varying fastest, a blank line when the second one moves on, derivative columns."""
    lines = ["#! FIELDS " + " ".join(names) + " file.free " + " ".join(f"der_{n}" for n in names)]
    for name, points, wraps, count in zip(names, axes_points, periodic, bins, strict=True):
        low, high = ("-pi", "pi") if wraps else (f"{points[0]:g}", f"{points[-1]:g}")
        lines += [f"#! SET min_{name} {low}", f"#! SET max_{name} {high}"]
        lines += [f"#! SET nbins_{name}  {count}", f"#! SET periodic_{name} {str(wraps).lower()}"]
    mesh = np.meshgrid(*axes_points, indexing="ij")
    for flat in range(free_energy.size):
        index = np.unravel_index(flat, free_energy.shape, order="F")  # first CV fastest
        if len(names) > 1 and flat > 0 and index[0] == 0:
            lines.append("")
        coords = [m[index] for m in mesh]
        values = [*coords, free_energy[index], *(0.0 for _ in names)]
        lines.append("  ".join(f"{v:.15f}" for v in values))
    return "\n".join(lines) + "\n"


def test_fes_dat_read_on_its_own_grid(tmp_path, plumed_file):
    """A 2-D periodic fes.dat (sum_hills --bin 24: points at -pi + i 2pi/24) read back on its
    grid equals hills evaluated on that grid; taken index by index against the centre grid
    it would be half a bin off."""
    centers, sigmas, heights, _ = well_tempered_hills()
    edges = -math.pi + TWO_PI * np.arange(24) / 24
    written = sum_hills_formula((edges, edges), centers, sigmas, heights, (TWO_PI, TWO_PI))
    path = tmp_path / "fes.dat"
    path.write_text(fes_dat_text(["phi", "psi"], [edges, edges], written, [True, True], [24, 24]))

    reference = read_plumed_fes(path)
    assert [axis.name for axis in reference.axes] == ["phi", "psi"]
    for axis in reference.axes:
        np.testing.assert_allclose(axis.points, edges, atol=1e-12)
        assert axis.period == pytest.approx(TWO_PI)
    np.testing.assert_allclose(reference.free_energy, shifted(written), atol=1e-9)

    hills = read_plumed_hills(plumed_file)
    ours = FreeEnergySurface(reference.axes, cutoff=None).compute(hills)
    assert ours.mae(reference) < 1e-8
    centre = Axis(-math.pi, math.pi, 24, period=TWO_PI)
    off_by_half = FreeEnergySurface((centre, centre), cutoff=None).compute(hills)
    assert off_by_half.mae(reference.free_energy) > 0.1
    with pytest.raises(ValueError, match="grid points differ"):
        off_by_half.mae(reference)


def test_fes_dat_1d_non_periodic_has_end_point(tmp_path):
    """1-D, not periodic: sum_hills --min 0.5 --max 2.5 --bin 20 writes 21 points
    0.5, 0.6, ..., 2.5 (its header says nbins 21); the hills carry no period."""
    rng = np.random.default_rng(3)
    centers = rng.uniform(0.8, 2.2, size=(15, 1))
    sigmas = np.full((15, 1), 0.12)
    heights = np.linspace(2.0, 0.5, 15)
    hills_path = tmp_path / "HILLS"
    hills_path.write_text(
        hills_text(["d"], centers, sigmas, heights, np.arange(15.0), periodic=False, kernel=None)
    )
    points = 0.5 + 0.1 * np.arange(21)
    written = sum_hills_formula((points,), centers, sigmas, heights, (None,))
    fes_path = tmp_path / "fes.dat"
    fes_path.write_text(fes_dat_text(["d"], [points], written, [False], [21]))

    reference = read_plumed_fes(fes_path, energy_unit="kcal/mol")
    np.testing.assert_allclose(reference.points[0], points, atol=1e-12)
    np.testing.assert_allclose(reference.free_energy, KCAL * shifted(written), atol=1e-9)
    assert reference.axes[0].period is None
    np.testing.assert_allclose(
        sum_hills_axis(0.5, 2.5, 20, periodic=False).points, points, atol=1e-12
    )

    hills = read_plumed_hills(hills_path, energy_unit="kcal/mol")
    assert hills.periods == (None,)
    ours = FreeEnergySurface(reference.axes, cutoff=None).compute(hills)
    assert ours.mae(reference) < 1e-8
