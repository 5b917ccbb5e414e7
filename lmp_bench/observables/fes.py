"""Free-energy surfaces from a well-tempered metadynamics run (COLVARS hills), NumPy only.

The bias is rebuilt by summing the Gaussians COLVARS logged in its ``.hills.traj`` file
(writeHillsTrajectory), not read from its grid: that works on any grid (design.md's 60 x 60
over [-pi, pi) for alanine), for any prefix of the run (convergence in time), and for
hills files written by other codes after conversion.

Well-tempered factor: COLVARS records each hill with its already-scaled weight
W exp(-V/(k Delta T)), so the bias V is the plain sum of the logged hills and
F = -(T + Delta T) / Delta T x V (Barducci et al. 2008). COLVARS's own ``.pmf`` file
includes the same factor (it multiplies by (biasTemperature + T) / biasTemperature, with
T the `tstat` thermostat's target); `read_colvars_pmf` reads it for cross-checks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

GAS_CONSTANT = 8.314462618e-3  # kJ/mol/K
KJ_PER_MOL = {"eV": 96.48533212, "kcal/mol": 4.184, "kJ/mol": 1.0}
# COLVARS drops a hill where sum ((x - c)/sigma)^2 > 23 (below ~1e-5 of its height);
# the same cut here reproduces the bias it applied
COLVARS_HILL_CUTOFF = 23.0


@dataclass(frozen=True)
class Axis:
    """One grid dimension: `bins` points at the bin centres of [low, high) (COLVARS's own
    grid convention), in the axis unit. `scale` converts colvar values to the axis unit
    (COLVARS dihedrals are in degrees: pi/180); `period` (axis unit) for periodic colvars."""

    low: float
    high: float
    bins: int
    period: float | None = None
    scale: float = 1.0

    @property
    def points(self) -> np.ndarray:
        step = (self.high - self.low) / self.bins
        return self.low + step * (np.arange(self.bins) + 0.5)

    @property
    def spacing(self) -> float:
        return (self.high - self.low) / self.bins


# design.md: dihedrals on 60 bins over [-pi, pi), radians
DIHEDRAL = Axis(-math.pi, math.pi, 60, period=2.0 * math.pi, scale=math.pi / 180.0)


@dataclass
class Hills:
    """Gaussians as logged: step, centres (H, D) and sigmas (H, D) in colvar units,
    weights (H,) in the run's energy unit (already well-tempered)."""

    step: np.ndarray
    centers: np.ndarray
    sigmas: np.ndarray
    weights: np.ndarray


def read_hills(path: str | Path) -> Hills:
    """A COLVARS ``<prefix>.colvars.<bias>.hills.traj`` file. Rows: step, D centres,
    D sigmas (COLVARS >= 2020-02-24 writes sigma, not 2 sigma), weight; '#' lines (and
    hills COLVARS marked DELETED) are skipped."""
    rows = [
        line.split()
        for line in Path(path).read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
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


def bias_on_grid(
    hills: Hills, axes: tuple[Axis, ...], cutoff: float | None = COLVARS_HILL_CUTOFF
) -> np.ndarray:
    """Sum of the Gaussians on the grid of `axes` (energy unit of the hills), shape
    (bins_1, ..., bins_D). `cutoff`: drop a hill where its squared scaled distance exceeds
    this (COLVARS's rule; None keeps the full Gaussians)."""
    if hills.centers.shape[1] != len(axes):
        raise ValueError(f"hills have {hills.centers.shape[1]} colvars, grid has {len(axes)} axes")
    mesh = np.meshgrid(*(axis.points for axis in axes), indexing="ij")
    points = np.stack([m.ravel() for m in mesh], axis=1)  # (P, D) axis units
    bias = np.zeros(len(points))
    for start in range(0, len(hills.weights), 256):  # bound memory: P x 256 x D
        chunk = slice(start, start + 256)
        exponent = np.zeros((len(points), len(hills.weights[chunk])))
        for d, axis in enumerate(axes):
            delta = points[:, d, None] - axis.scale * hills.centers[None, chunk, d]
            if axis.period is not None:
                delta -= axis.period * np.round(delta / axis.period)
            exponent += (delta / (axis.scale * hills.sigmas[None, chunk, d])) ** 2
        gauss = np.exp(-0.5 * exponent)
        if cutoff is not None:
            gauss[exponent > cutoff] = 0.0
        bias += gauss @ hills.weights[chunk]
    return bias.reshape(mesh[0].shape)


class FreeEnergySurface:
    """F on a grid from a well-tempered metadynamics bias, kJ/mol, minimum at 0.

    temperature (K) and bias_temperature (Delta T = (gamma - 1) T, K; None for plain
    metadynamics) give the factor F = -(T + Delta T)/Delta T x V. `energy_unit` is the
    unit of the hills' weights (LAMMPS metal: eV). Defaults: design.md's alanine FES,
    phi and psi on 60 x 60 over [-pi, pi), 300 K, bias factor 6.
    """

    def __init__(
        self,
        axes: tuple[Axis, ...] = (DIHEDRAL, DIHEDRAL),
        temperature: float = 300.0,
        bias_temperature: float | None = 1500.0,
        energy_unit: str = "eV",
        cutoff: float | None = COLVARS_HILL_CUTOFF,
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

    def compute(self, hills: Hills | str | Path, until_step: int | None = None):
        """Sum the hills (a `Hills` or a hills file) deposited up to `until_step`."""
        if not isinstance(hills, Hills):
            hills = read_hills(hills)
        if until_step is not None:
            keep = hills.step <= until_step
            hills = Hills(
                hills.step[keep], hills.centers[keep], hills.sigmas[keep], hills.weights[keep]
            )
        bias = bias_on_grid(hills, self.axes, self.cutoff) * KJ_PER_MOL[self.energy_unit]
        return self.set_free_energy(-self.well_tempered_factor * bias)

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
        `scale` says otherwise."""
        ref = reference.free_energy if isinstance(reference, FreeEnergySurface) else reference
        ref = np.asarray(ref, dtype=float)
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
