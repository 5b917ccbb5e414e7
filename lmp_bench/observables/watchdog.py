"""Online stability watchdog: fed frames as a run makes them, says when to stop."""

from __future__ import annotations

from collections import deque

import numpy as np

from lmp_bench.observables.rdf import RDF, rdf_error


class Watchdog:
    """Stops a run at its first unstable window (design.md's stability rule, online).

    Keeps the per-frame g(r) of the last `window_frames` frames; once the window is full,
    its mean g(r) is compared with the reference for every pair. A non-finite position is
    unstable at once.
    """

    def __init__(
        self,
        reference: RDF,
        species: np.ndarray,
        cell: np.ndarray,
        threshold: float,
        window_frames: int,
    ):
        self.reference, self.species, self.cell = reference, np.asarray(species), cell
        self.threshold, self.window_frames = threshold, window_frames
        self._window: deque = deque(maxlen=window_frames)
        self._reference_rdf = reference.rdf
        self._table = reference.pair_table(self.species)
        self.frames_seen = 0

    def add_frame(self, positions: np.ndarray) -> str | None:
        """None while stable, else the reason the run is unstable."""
        self.frames_seen += 1
        if not np.isfinite(positions).all():
            return "non-finite positions"
        self._window.append(self.reference.frame(positions, self.cell, self.species, self._table))
        if len(self._window) < self.window_frames:
            return None
        for pair, g_reference in self._reference_rdf.items():
            g = np.mean([frame[pair] for frame in self._window], axis=0)
            error = rdf_error(g, g_reference, self.reference.r_max)
            if error > self.threshold:
                return (
                    f"{pair[0]}-{pair[1]} RDF error {error:.2f} > {self.threshold} over the "
                    f"last {self.window_frames} frames"
                )
        return None


class BondWatchdog:
    """Stops a molecule run at its first frame with a bond more than `tolerance` A away
    from its reference mean length (design.md's molecule rule, online)."""

    def __init__(self, bonds: np.ndarray, reference_lengths: np.ndarray, tolerance: float):
        self.bonds, self.reference_lengths, self.tolerance = bonds, reference_lengths, tolerance
        self.frames_seen = 0

    def add_frame(self, positions: np.ndarray) -> str | None:
        """None while every bond holds, else the reason the run is unstable."""
        self.frames_seen += 1
        if not np.isfinite(positions).all():
            return "non-finite positions"
        i, j = self.bonds.T
        deviation = np.abs(
            np.linalg.norm(positions[j] - positions[i], axis=1) - self.reference_lengths
        )
        worst = int(np.argmax(deviation))
        if deviation[worst] > self.tolerance:
            return (
                f"bond {i[worst] + 1}-{j[worst] + 1} is {deviation[worst]:.2f} A off its "
                f"reference length (> {self.tolerance} A)"
            )
        return None
