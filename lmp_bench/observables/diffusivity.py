"""Self-diffusion from the mean squared displacement over all time origins.

The MSD comes from tidynamics (FFT, float64, every time origin with its true count);
freud's MSD works in float32, which moves D in the fifth digit.
"""

from __future__ import annotations

import numpy as np

from lmp_bench.observables.frames import Frames
from lmp_bench.units import ANGSTROM2_PER_PS_IN_M2_PER_S


class Diffusivity:
    """D = MSD(t) / (6 t) of one element at lag time `time_ps`.

    The MSD averages over every time origin with the correct count (N - m windows) after
    removing the centre-of-mass drift of the tracked atoms
    (design.md); the first `skip_ps` are dropped as equilibration.
    """

    def __init__(self, element: str = "O", time_ps: float = 100.0, skip_ps: float = 0.0):
        self.element, self.time_ps, self.skip_ps = element, time_ps, skip_ps
        self._msd: np.ndarray | None = None
        self._dt = float("nan")

    def compute(self, frames: Frames) -> Diffusivity:
        import tidynamics

        self._dt = frames.frame_interval_ps
        first = int(round(self.skip_ps / self._dt))
        tracked = frames.positions[first:, frames.select(self.element)]
        tracked = tracked - tracked.mean(axis=1, keepdims=True)
        per_atom = [tidynamics.msd(tracked[:, atom]) for atom in range(tracked.shape[1])]
        self._msd = np.mean(per_atom, axis=0)
        return self

    @property
    def lag_times(self) -> np.ndarray:
        """ps."""
        return np.arange(len(self.msd)) * self._dt

    @property
    def msd(self) -> np.ndarray:
        """Mean squared displacement per lag, A^2."""
        if self._msd is None:
            raise RuntimeError("call compute() first")
        return self._msd

    @property
    def available(self) -> bool:
        """Whether the run is long enough for a lag of `time_ps`."""
        return self.lag_index < len(self.msd)

    @property
    def lag_index(self) -> int:
        return int(round(self.time_ps / self._dt))

    @property
    def coefficient(self) -> float:
        """D at `time_ps`, m^2/s (NaN when the run is shorter than that)."""
        if not self.available:
            return float("nan")
        k = self.lag_index
        return float(self.msd[k] / (6.0 * k * self._dt) * ANGSTROM2_PER_PS_IN_M2_PER_S)

    def plot(self, ax):
        ax.plot(self.lag_times, self.msd, label=f"{self.element} MSD")
        ax.set_xlabel("lag time (ps)")
        ax.set_ylabel("MSD (Å²)")
        return ax
