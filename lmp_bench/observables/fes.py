"""Free-energy surfaces from a well-tempered metadynamics run (COLVARS or PLUMED hills),
NumPy only.

The bias is rebuilt by summing the Gaussians COLVARS logged in its ``.hills.traj`` file
(writeHillsTrajectory), not read from its grid: that works on any grid (design.md's 60 x 60
over [-pi, pi) for alanine), for any prefix of the run (convergence in time), and for
hills files written by other codes after conversion.

Well-tempered factor: COLVARS records each hill with its already-scaled weight
W exp(-V/(k Delta T)), so the bias V is the plain sum of the logged hills and
F = -(T + Delta T) / Delta T x V (Barducci et al. 2008). COLVARS's own ``.pmf`` file
includes the same factor (it multiplies by (biasTemperature + T) / biasTemperature, with
T the `tstat` thermostat's target); `read_colvars_pmf` reads it for cross-checks.
PLUMED instead writes each hill's height already multiplied by (T + Delta T) / Delta T
(gamma / (gamma - 1)), so F = -V for PLUMED hills (`lmp_bench.observables.plumed`); each
`Hills` says which convention it follows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

GAS_CONSTANT = 8.314462618e-3  # kJ/mol/K
KJ_PER_MOL = {"eV": 96.48533212, "kcal/mol": 4.184, "kJ/mol": 1.0}
# COLVARS drops a hill where sum ((x - c)/sigma)^2 > 23 (below ~1e-5 of its height);
# the same cut here reproduces the bias it applied
COLVARS_HILL_CUTOFF = 23.0
# PLUMED drops a hill where (1/2) sum ((x - c)/sigma)^2 >= 6.25 (its DP2CUTOFF); since 2.8
# its default kernel is the Gaussian stretched to reach 0 there: h (A exp(-dp2) + B)
PLUMED_DP2_CUTOFF = 6.25
CONVENTIONS = ("colvars", "plumed")
KERNELS = ("gaussian", "stretched-gaussian")


@dataclass(frozen=True)
class Axis:
    """One grid dimension: `bins` points at the bin centres of [low, high) (COLVARS's own
    grid convention), or at the bin edges low + i (high - low)/bins with `at_edges` (PLUMED's
    grids: `sum_hills_axis`), in the axis unit. `scale` converts COLVARS colvar values to the
    axis unit (COLVARS dihedrals are in degrees: pi/180); PLUMED hills are in PLUMED's own
    units (torsions in radians), taken as the axis unit. `period` (axis unit) for periodic
    colvars. `name`: the CV's name where known (PLUMED grids), checked against named hills."""

    low: float
    high: float
    bins: int
    period: float | None = None
    scale: float = 1.0
    at_edges: bool = False
    name: str | None = None

    @property
    def points(self) -> np.ndarray:
        offset = 0.0 if self.at_edges else 0.5
        return self.low + self.spacing * (np.arange(self.bins) + offset)

    @property
    def spacing(self) -> float:
        return (self.high - self.low) / self.bins


# design.md: dihedrals on 60 bins over [-pi, pi), radians
DIHEDRAL = Axis(-math.pi, math.pi, 60, period=2.0 * math.pi, scale=math.pi / 180.0)


def sum_hills_axis(
    low: float, high: float, bins: int, periodic: bool, name: str | None = None
) -> Axis:
    """The grid PLUMED's `sum_hills --min low --max high --bin bins` writes (axis unit =
    PLUMED's CV unit): points at low + i (high - low)/bins, i < bins for a periodic CV (high
    is low again), i <= bins otherwise (PLUMED adds the end point)."""
    if bins < 1:
        raise ValueError(f"bins must be >= 1, got {bins}")
    if not high > low:
        raise ValueError(f"high ({high}) must be above low ({low})")
    if periodic:
        return Axis(low, high, bins, period=high - low, at_edges=True, name=name)
    spacing = (high - low) / bins
    return Axis(low, high + spacing, bins + 1, at_edges=True, name=name)


@dataclass
class Hills:
    """Gaussians as logged: step (COLVARS; None for PLUMED), centres (H, D) and sigmas
    (H, D) in colvar units, weights (H,) in `energy_unit` (None: the FreeEnergySurface's).

    `convention` says how F follows from them: "colvars" weights are the bias applied
    (F = -(T + Delta T)/Delta T x sum), "plumed" heights are already scaled by that factor
    (F = -sum). PLUMED hills also carry `time_ps`, CV `names`, `periods` (None where a CV is
    not periodic, checked against the grid) and the `kernel` their file names."""

    step: np.ndarray | None
    centers: np.ndarray
    sigmas: np.ndarray
    weights: np.ndarray
    convention: str = "colvars"
    energy_unit: str | None = None
    time_ps: np.ndarray | None = None
    names: tuple[str, ...] | None = None
    periods: tuple[float | None, ...] | None = None
    kernel: str = "gaussian"

    def __post_init__(self):
        if self.convention not in CONVENTIONS:
            raise ValueError(f"convention must be one of {CONVENTIONS}, got {self.convention!r}")
        if self.kernel not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, got {self.kernel!r}")
        if self.energy_unit is not None and self.energy_unit not in KJ_PER_MOL:
            raise ValueError(f"energy_unit must be one of {sorted(KJ_PER_MOL)} or None")

    def subset(self, keep: np.ndarray) -> Hills:
        """The hills where the boolean mask `keep` is true (e.g. those deposited by a time)."""
        return replace(
            self,
            step=None if self.step is None else self.step[keep],
            centers=self.centers[keep],
            sigmas=self.sigmas[keep],
            weights=self.weights[keep],
            time_ps=None if self.time_ps is None else self.time_ps[keep],
        )


def read_hills(path: str | Path) -> Hills:
    """A COLVARS ``<prefix>.colvars.<bias>.hills.traj`` file. Rows: step, D centres,
    D sigmas (COLVARS >= 2020-02-24 writes sigma, not 2 sigma), weight; '#' lines (and
    hills COLVARS marked DELETED) are skipped."""
    lines = Path(path).read_text().splitlines()
    if any(line.startswith("#! FIELDS") for line in lines):
        raise ValueError(
            f"{path} is a PLUMED HILLS file (it has a '#! FIELDS' header): read it with "
            "read_plumed_hills(path, energy_unit=...) (PLUMED's default unit is kJ/mol)"
        )
    rows = [line.split() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not rows:
        raise ValueError(f"{path} holds no hills")
    table = np.array(rows, dtype=float)
    dims = (table.shape[1] - 2) // 2
    if table.shape[1] != 2 * dims + 2:
        raise ValueError(f"{path}: rows of {table.shape[1]} columns are not step, c, sigma, W")
    return Hills(
        step=table[:, 0].astype(np.int64),
        centers=table[:, 1 : 1 + dims],
        sigmas=table[:, 1 + dims : 1 + 2 * dims],
        weights=table[:, -1],
    )


def read_colvars_pmf(path: str | Path) -> tuple[list[np.ndarray], np.ndarray]:
    """COLVARS's multicolumn grid file (``.pmf``): per-axis points (colvar units) and the
    values (energy unit of the run) shaped (n1, n2, ...)."""
    lines = Path(path).read_text().splitlines()
    dims = int(lines[0].lstrip("#").split()[0])
    axes = []
    for line in lines[1 : 1 + dims]:
        low, width, count = line.lstrip("#").split()[:3]
        axes.append(float(low) + float(width) * (np.arange(int(count)) + 0.5))
    data = np.array(
        [line.split() for line in lines[1 + dims :] if line.strip() and not line.startswith("#")],
        dtype=float,
    )
    return axes, data[:, -1].reshape([len(a) for a in axes])


def check_grid_matches(hills: Hills, axes: tuple[Axis, ...]) -> None:
    """PLUMED hills name their CVs and periods; a grid that names its axes must list the
    same CVs in the same order, and every grid must wrap them with the same periods."""
    if hills.names is not None:
        for d, (name, axis) in enumerate(zip(hills.names, axes, strict=True)):
            if axis.name is not None and axis.name != name:
                raise ValueError(
                    f"grid axis {d} is CV {axis.name} but the hills' CV {d} is {name}: "
                    f"order the axes as the hills' columns {list(hills.names)}"
                )
    if hills.periods is None:
        return
    for d, (period, axis) in enumerate(zip(hills.periods, axes, strict=True)):
        name = hills.names[d] if hills.names else f"#{d}"
        same = (period is None and axis.period is None) or (
            period is not None
            and axis.period is not None
            and math.isclose(period, axis.period, rel_tol=1e-9)
        )
        if not same:
            raise ValueError(
                f"CV {name} has period {period} in its hills file but grid axis {d} has period "
                f"{axis.period}: use an Axis in the hills' own units (radians for PLUMED "
                "torsions), periodic exactly when the CV is"
            )


def hill_shapes(
    squared: np.ndarray, convention: str, kernel: str, cutoff: float | str | None
) -> np.ndarray:
    """Unit-height hill values at squared scaled distances sum_d ((x - c)/sigma)^2.
    cutoff "native": each code's own rule (COLVARS: Gaussian, 0 beyond 23; PLUMED: the
    file's kernel, 0 from (1/2) squared >= 6.25); None: full Gaussians; a number: Gaussians,
    0 where `squared` exceeds it."""
    if cutoff == "native" and convention == "plumed":
        dp2 = 0.5 * squared
        if kernel == "stretched-gaussian":  # continuous at the cutoff: exactly 0 there
            floor = math.exp(-PLUMED_DP2_CUTOFF)
            shapes = (np.exp(-dp2) - floor) / (1.0 - floor)
        else:
            shapes = np.exp(-dp2)
        shapes[dp2 >= PLUMED_DP2_CUTOFF] = 0.0
        return shapes
    if cutoff == "native":
        cutoff = COLVARS_HILL_CUTOFF
    elif isinstance(cutoff, str):
        raise ValueError(f"cutoff must be 'native', None or a number, got {cutoff!r}")
    shapes = np.exp(-0.5 * squared)
    if cutoff is not None:
        shapes[squared > cutoff] = 0.0
    return shapes


def bias_on_grid(
    hills: Hills, axes: tuple[Axis, ...], cutoff: float | str | None = "native"
) -> np.ndarray:
    """Sum of the hills on the grid of `axes` (energy unit of the hills), shape
    (bins_1, ..., bins_D). `cutoff`: see `hill_shapes` ("native": the rule of the code that
    wrote the hills; None: full Gaussians). COLVARS centres go through `Axis.scale`; PLUMED
    centres are in the axis unit already."""
    if hills.centers.shape[1] != len(axes):
        raise ValueError(f"hills have {hills.centers.shape[1]} colvars, grid has {len(axes)} axes")
    check_grid_matches(hills, axes)
    mesh = np.meshgrid(*(axis.points for axis in axes), indexing="ij")
    points = np.stack([m.ravel() for m in mesh], axis=1)  # (P, D) axis units
    bias = np.zeros(len(points))
    for start in range(0, len(hills.weights), 256):  # bound memory: P x 256 x D
        chunk = slice(start, start + 256)
        squared = np.zeros((len(points), len(hills.weights[chunk])))
        for d, axis in enumerate(axes):
            scale = axis.scale if hills.convention == "colvars" else 1.0
            delta = points[:, d, None] - scale * hills.centers[None, chunk, d]
            if axis.period is not None:
                delta -= axis.period * np.round(delta / axis.period)
            squared += (delta / (scale * hills.sigmas[None, chunk, d])) ** 2
        shapes = hill_shapes(squared, hills.convention, hills.kernel, cutoff)
        bias += shapes @ hills.weights[chunk]
    return bias.reshape(mesh[0].shape)


class FreeEnergySurface:
    """F on a grid from a well-tempered metadynamics bias, kJ/mol, minimum at 0.

    temperature (K) and bias_temperature (Delta T = (gamma - 1) T, K; None for plain
    metadynamics) give the factor F = -(T + Delta T)/Delta T x V for COLVARS hills; PLUMED
    hills are already scaled (F = -V). `energy_unit` is the unit of COLVARS hills' weights
    (LAMMPS metal: eV); PLUMED hills carry theirs. `cutoff`: "native" truncates each hill as
    the code that wrote it does, None keeps full Gaussians (see `hill_shapes`). Defaults:
    design.md's alanine FES, phi and psi on 60 x 60 over [-pi, pi), 300 K, bias factor 6.
    """

    def __init__(
        self,
        axes: tuple[Axis, ...] = (DIHEDRAL, DIHEDRAL),
        temperature: float = 300.0,
        bias_temperature: float | None = 1500.0,
        energy_unit: str = "eV",
        cutoff: float | str | None = "native",
    ):
        if energy_unit not in KJ_PER_MOL:
            raise ValueError(f"energy_unit must be one of {sorted(KJ_PER_MOL)}")
        self.axes = tuple(axes)
        self.temperature = temperature
        self.bias_temperature = bias_temperature
        self.energy_unit = energy_unit
        self.cutoff = cutoff
        self._free_energy: np.ndarray | None = None

    @property
    def kT(self) -> float:
        """k_B T in kJ/mol (2.494 at 300 K)."""
        return GAS_CONSTANT * self.temperature

    @property
    def well_tempered_factor(self) -> float:
        """(T + Delta T) / Delta T; 1 for plain metadynamics."""
        if self.bias_temperature is None:
            return 1.0
        return (self.temperature + self.bias_temperature) / self.bias_temperature

    def compute(
        self,
        hills: Hills | str | Path,
        until_step: int | None = None,
        until_time_ps: float | None = None,
    ):
        """Sum the hills (a `Hills`, or a COLVARS hills file) deposited up to `until_step`
        (COLVARS hills) or `until_time_ps` (PLUMED hills, which log time, not steps)."""
        if not isinstance(hills, Hills):
            hills = read_hills(hills)
        if until_step is not None:
            if hills.step is None:
                raise ValueError(
                    "these hills log time, not steps (PLUMED): truncate with until_time_ps"
                )
            hills = hills.subset(hills.step <= until_step)
        if until_time_ps is not None:
            if hills.time_ps is None:
                raise ValueError(
                    "these hills log steps, not time (COLVARS): truncate with until_step "
                    "(= time / timestep)"
                )
            hills = hills.subset(hills.time_ps <= until_time_ps)
        unit = hills.energy_unit or self.energy_unit
        bias = bias_on_grid(hills, self.axes, self.cutoff) * KJ_PER_MOL[unit]
        factor = self.well_tempered_factor if hills.convention == "colvars" else 1.0
        return self.set_free_energy(-factor * bias)

    def set_free_energy(self, free_energy: np.ndarray):
        """Use a given F (kJ/mol) on this object's grid, e.g. a reference surface."""
        free_energy = np.asarray(free_energy, dtype=float)
        shape = tuple(axis.bins for axis in self.axes)
        if free_energy.shape != shape:
            raise ValueError(f"F has shape {free_energy.shape}, the grid {shape}")
        self._free_energy = free_energy - free_energy.min()
        return self

    @property
    def free_energy(self) -> np.ndarray:
        """F on the grid, kJ/mol, min 0; shape (bins_1, ..., bins_D)."""
        if self._free_energy is None:
            raise RuntimeError("call compute() first")
        return self._free_energy

    @property
    def points(self) -> tuple[np.ndarray, ...]:
        """Grid points per axis (axis unit: radians for dihedrals)."""
        return tuple(axis.points for axis in self.axes)

    def marginal(self, axis: int) -> np.ndarray:
        """1-D F along `axis`: -kT ln sum_other exp(-F/kT) d(other), kJ/mol, min 0."""
        free_energy = self.free_energy
        if free_energy.ndim == 1:
            return free_energy.copy()
        others = tuple(d for d in range(free_energy.ndim) if d != axis)
        volume = math.prod(self.axes[d].spacing for d in others)
        scaled = -free_energy / self.kT
        peak = scaled.max()  # log-sum-exp, stable for deep minima
        log_sum = np.log(np.exp(scaled - peak).sum(axis=others) * volume) + peak
        marginal = -self.kT * log_sum
        return marginal - marginal.min()

    def mae(self, reference: FreeEnergySurface | np.ndarray, scale: float | None = None) -> float:
        """Mean |F - F_ref| over the grid, kJ/mol, both with min 0. design.md scores the
        2-D periodic (phi, psi) surface as this mean x 2 pi; other grids use x 1 unless
        `scale` says otherwise. A reference surface must sit on the same grid points (a
        PLUMED fes.dat's edges are half a bin from our centres): compute on its axes."""
        ref = reference.free_energy if isinstance(reference, FreeEnergySurface) else reference
        ref = np.asarray(ref, dtype=float)
        if isinstance(reference, FreeEnergySurface) and not (
            len(self.axes) == len(reference.axes)
            and all(
                ours.shape == theirs.shape and np.allclose(ours, theirs, rtol=0.0, atol=1e-9)
                for ours, theirs in zip(self.points, reference.points, strict=True)
            )
        ):
            raise ValueError(
                "the reference surface's grid points differ from this one's: compute this "
                "surface on the reference's grid, FreeEnergySurface(reference.axes).compute(...)"
            )
        if ref.shape != self.free_energy.shape:
            raise ValueError(f"reference shape {ref.shape} != {self.free_energy.shape}")
        if scale is None:
            periodic_2d = len(self.axes) == 2 and all(a.period is not None for a in self.axes)
            scale = 2.0 * math.pi if periodic_2d else 1.0
        return float(np.mean(np.abs(self.free_energy - (ref - ref.min()))) * scale)

    def plot(self, ax, reference: FreeEnergySurface | None = None, levels: int = 20):
        """1-D: F(x) (and the reference, dashed); 2-D: filled contours of F, kJ/mol."""
        if len(self.axes) == 1:
            (line,) = ax.plot(self.points[0], self.free_energy, label="metadynamics")
            if reference is not None:
                ax.plot(
                    self.points[0],
                    reference.free_energy,
                    "--",
                    color=line.get_color(),
                    label="reference",
                )
            ax.set_ylabel("F (kJ/mol)")
            return ax
        x, y = self.points
        filled = ax.contourf(x, y, self.free_energy.T, levels=levels)
        ax.figure.colorbar(filled, ax=ax, label="F (kJ/mol)")
        return ax
