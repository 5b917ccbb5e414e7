"""Molecules (no periodic box): the distance histogram h(r) and bond-length stability.

design.md's rules, as MDsim computes them: h(r) is the density-normalised histogram of all
interatomic distances (bins linspace(1e-6, 10, 501) A), its error mean |h - h_ref| x 10;
a run is unstable from the first frame where a bond (from covalent radii on a reference
frame) is more than 0.5 A away from its mean length in the reference data.
"""

from __future__ import annotations

import numpy as np
from ase.data import atomic_numbers, covalent_radii

from lmp_bench.observables.frames import Frames

H_R_MAX, H_R_BINS = 10.0, 500  # A
BOND_TOLERANCE = 0.5  # A
BOND_SKIN = 0.3  # A


def all_pair_distances(positions: np.ndarray) -> np.ndarray:
    """(T, N, 3) -> (T, N(N-1)/2) distances of every unordered atom pair, A."""
    i, j = np.triu_indices(positions.shape[1], 1)
    delta = positions[:, j] - positions[:, i]
    return np.sqrt(np.einsum("tpk,tpk->tp", delta, delta))


class DistanceHistogram:
    """h(r): density-normalised histogram of all interatomic distances over all frames.

    Normalised so that h integrates to 1 over (1e-6, r_max]; distances beyond r_max are
    left out of the count, as np.histogram(density=True) does.
    """

    def __init__(self, r_max: float = H_R_MAX, bins: int = H_R_BINS):
        self.edges = np.linspace(1e-6, r_max, bins + 1)
        self._h: np.ndarray | None = None

    def compute(self, frames: Frames) -> DistanceHistogram:
        distances = all_pair_distances(frames.positions).ravel()
        self._h, _ = np.histogram(distances, self.edges, density=True)
        return self

    @property
    def bin_centers(self) -> np.ndarray:
        return 0.5 * (self.edges[1:] + self.edges[:-1])

    @property
    def h(self) -> np.ndarray:
        """h(r), 1/A."""
        if self._h is None:
            raise RuntimeError("call compute(frames) first")
        return self._h

    def mae(self, reference: np.ndarray) -> float:
        """design.md's h(r) error: mean |h - h_ref| times the range (10 A), dimensionless."""
        return float(np.abs(self.h - reference).mean() * (self.edges[-1] - self.edges[0]))

    def plot(self, ax, **kwargs):
        ax.plot(self.bin_centers, self.h, **kwargs)
        ax.set_xlabel("r (Å)")
        ax.set_ylabel("h(r) (1/Å)")
        return ax


def covalent_bonds(positions: np.ndarray, species: np.ndarray) -> np.ndarray:
    """(B, 2) atom pairs i < j closer than the sum of their covalent radii plus 0.3 A: what
    ASE's NeighborList(natural_cutoffs(atoms)) calls bonded (its default skin is 0.3 A).
    Radii alone miss real bonds (C-H 1.09 A against 0.76 + 0.31 A)."""
    radii = covalent_radii[[atomic_numbers[s] for s in species]]
    i, j = np.triu_indices(len(species), 1)
    distance = np.linalg.norm(positions[j] - positions[i], axis=1)
    bonded = distance < radii[i] + radii[j] + BOND_SKIN
    return np.stack([i[bonded], j[bonded]], axis=1)


class BondStability:
    """Time (ps) until the first frame with a bond more than `tolerance` A away from its
    mean length in the reference frames; bonds come from the reference's first frame."""

    def __init__(self, reference: Frames, tolerance: float = BOND_TOLERANCE):
        self.tolerance = tolerance
        self.bonds = covalent_bonds(reference.positions[0], reference.species)
        if len(self.bonds) == 0:
            raise ValueError("no covalent bonds in the reference's first frame")
        self.reference_lengths = self._lengths(reference.positions).mean(axis=0)
        self._deviation: np.ndarray | None = None
        self._times: np.ndarray | None = None

    def _lengths(self, positions: np.ndarray) -> np.ndarray:
        i, j = self.bonds.T
        return np.linalg.norm(positions[:, j] - positions[:, i], axis=2)

    def compute(self, frames: Frames) -> BondStability:
        self._deviation = np.abs(self._lengths(frames.positions) - self.reference_lengths).max(1)
        self._times = frames.times
        return self

    @property
    def max_deviation(self) -> np.ndarray:
        """(T,) largest |bond length - reference mean| per frame, A."""
        if self._deviation is None:
            raise RuntimeError("call compute(frames) first")
        return self._deviation

    @property
    def first_unstable_frame(self) -> int | None:
        """Index of the first frame with a broken or squeezed bond, or None."""
        broken = np.flatnonzero(self.max_deviation > self.tolerance)
        return int(broken[0]) if len(broken) else None

    @property
    def stable_frames(self) -> int:
        """How many frames from the start are stable (the part other observables use)."""
        first = self.first_unstable_frame
        return len(self.max_deviation) if first is None else first

    @property
    def stable_time_ps(self) -> float:
        assert self._times is not None
        first = self.first_unstable_frame
        end = self._times[-1] if first is None else self._times[first]
        return float(end - self._times[0])

    def plot(self, ax, **kwargs):
        ax.plot(self._times, self.max_deviation, **kwargs)
        ax.axhline(self.tolerance, color="k", linestyle="--", linewidth=0.8)
        ax.set_xlabel("time (ps)")
        ax.set_ylabel("max bond-length deviation (Å)")
        return ax
