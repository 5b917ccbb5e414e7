"""Energy conservation of an NVE run (design.md: a reported metric for every system)."""

from __future__ import annotations

import numpy as np


class EnergyDrift:
    """Drift of the total energy: the slope of a least-squares line through E_total / N
    against time (meV/atom/ps), and the scatter around that line (meV/atom). A slope is
    what a too-long timestep or non-conservative forces produce; scatter alone is the
    integrator's normal oscillation."""

    def __init__(self) -> None:
        self._fit: tuple[float, float] | None = None
        self._times = self._energy = np.zeros(0)

    def compute(self, times_ps: np.ndarray, total_energy_eV: np.ndarray, atoms: int) -> EnergyDrift:
        if len(times_ps) < 2:
            raise ValueError("energy drift needs at least two energies along the run")
        self._times = np.asarray(times_ps, dtype=float)
        self._energy = 1000.0 * np.asarray(total_energy_eV, dtype=float) / atoms  # meV/atom
        slope, intercept = np.polyfit(self._times, self._energy, 1)
        self._fit = (float(slope), float(intercept))
        return self

    @property
    def drift_meV_per_atom_per_ps(self) -> float:
        if self._fit is None:
            raise RuntimeError("call compute(...) first")
        return self._fit[0]

    @property
    def scatter_meV_per_atom(self) -> float:
        """Standard deviation of E_total / N around the fitted line."""
        slope, intercept = self._fit or (0.0, 0.0)
        return float(np.std(self._energy - (slope * self._times + intercept)))

    def plot(self, ax, **kwargs):
        ax.plot(self._times, self._energy - self._energy[0], **kwargs)
        ax.set_xlabel("time (ps)")
        ax.set_ylabel("E_total / N - start (meV/atom)")
        return ax
