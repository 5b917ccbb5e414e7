"""Stability of a periodic run: the first 1-ps window whose g(r) leaves the reference."""

from __future__ import annotations

import numpy as np

from lmp_bench.observables.frames import Frames
from lmp_bench.observables.rdf import RDF, rdf_error


class RDFStability:
    """Slide a window of `window_ps` over the run; the run is unstable from the first window
    whose RDF error (any pair) exceeds `threshold` (design.md: 3.0 for water, 1.0 for
    LiPS). Stability = time from the first frame to the start of that window, ps; a run
    with no such window is stable for its whole length."""

    def __init__(self, reference: RDF, threshold: float = 3.0, window_ps: float = 1.0):
        self.reference, self.threshold, self.window_ps = reference, threshold, window_ps
        self._errors: np.ndarray | None = None
        self._times: np.ndarray | None = None

    def compute(self, frames: Frames) -> RDFStability:
        window = max(1, int(round(self.window_ps / frames.frame_interval_ps)))
        rdf = RDF(
            self.reference.pairs, self.reference.r_max, self.reference.bins, self.reference.r_min
        ).compute(frames)
        reference = self.reference.rdf
        starts = len(frames.times) - window + 1
        errors = np.zeros((max(starts, 0), len(rdf.pairs)))
        for column, pair in enumerate(rdf.pairs):
            summed = np.cumsum(np.vstack([np.zeros(rdf.bins), rdf.per_frame[pair]]), axis=0)
            means = (summed[window:] - summed[:-window]) / window
            for start in range(starts):
                errors[start, column] = rdf_error(means[start], reference[pair], rdf.r_max)
        self._errors, self._times, self._rdf = errors, frames.times, rdf
        return self

    @property
    def rdf(self) -> RDF:
        """The per-frame g(r) of the scanned run (reuse it for the stable part's RDF)."""
        return self._rdf

    @property
    def window_errors(self) -> np.ndarray:
        """(windows, pairs) RDF error of each window start."""
        if self._errors is None:
            raise RuntimeError("call compute() first")
        return self._errors

    @property
    def first_unstable_frame(self) -> int | None:
        """Index of the first frame of the first unstable window, or None."""
        bad = np.flatnonzero((self.window_errors > self.threshold).any(axis=1))
        return int(bad[0]) if len(bad) else None

    @property
    def stable_frames(self) -> int:
        """How many frames from the start are stable (the part other observables use)."""
        first = self.first_unstable_frame
        return len(self._times) if first is None else first

    @property
    def stable_time_ps(self) -> float:
        first = self.first_unstable_frame
        end = self._times[-1] if first is None else self._times[first]
        return float(end - self._times[0])
