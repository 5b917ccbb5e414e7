"""A trajectory as arrays: the one data type every observable reads."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Frames:
    """Frames of one run, metal units.

    positions: (T, N, 3) unwrapped Cartesian coordinates, Angstrom
    species:   (N,) element names
    cell:      (3, 3) box vectors as rows, Angstrom (fixed box: NVT)
    times:     (T,) ps
    """

    positions: np.ndarray
    species: np.ndarray
    cell: np.ndarray
    times: np.ndarray

    def __post_init__(self) -> None:
        t, n, three = self.positions.shape
        if three != 3 or self.species.shape != (n,) or self.times.shape != (t,):
            raise ValueError(
                f"inconsistent frames: positions {self.positions.shape}, species "
                f"{self.species.shape}, times {self.times.shape}"
            )
        if self.cell.shape != (3, 3):
            raise ValueError(f"cell must be (3, 3) box vectors, got {self.cell.shape}")

    @property
    def frame_interval_ps(self) -> float:
        """Time between saved frames, ps (frames must be evenly spaced)."""
        steps = np.diff(self.times)
        if len(steps) == 0:
            raise ValueError("a single frame has no frame interval")
        if not np.allclose(steps, steps[0], rtol=1e-6):
            raise ValueError("frames are not evenly spaced in time")
        return float(steps[0])

    def select(self, element: str) -> np.ndarray:
        """Boolean mask of the atoms of one element."""
        mask = self.species == element
        if not mask.any():
            raise ValueError(f"no {element} atoms in these frames (species: {set(self.species)})")
        return mask

    def head(self, count: int) -> Frames:
        """The first `count` frames (the stable part of a run)."""
        return Frames(self.positions[:count], self.species, self.cell, self.times[:count])

    def since(self, time_ps: float) -> Frames:
        """The frames from `time_ps` after the first one on (an equilibration dropped)."""
        keep = self.times >= self.times[0] + time_ps - 1e-9
        return Frames(self.positions[keep], self.species, self.cell, self.times[keep])
