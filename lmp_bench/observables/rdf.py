"""Radial distribution functions per element pair (freud, minimum image)."""

from __future__ import annotations

import numpy as np

from lmp_bench.observables.frames import Frames

WATER_PAIRS = (("O", "O"), ("H", "H"), ("H", "O"))


def frame_pair_distances(positions: np.ndarray, cell: np.ndarray, r_max: float):
    """Ordered pairs (i, j), i != j, closer than r_max under minimum image, and their
    distances in float64.

    freud finds the candidate pairs (periodic, triclinic); the distances are recomputed
    here in float64 from fractional coordinates, because freud works in float32 and a
    pair that lands in the neighbouring bin would change g(r) by a whole count.
    """
    import freud

    box = freud.box.Box.from_matrix(cell.T)
    wrapped = box.wrap(positions).astype(np.float32)
    query = freud.locality.AABBQuery(box, wrapped).query(
        wrapped, {"r_max": r_max * 1.001 + 1e-3, "exclude_ii": True}
    )
    neighbors = query.toNeighborList()
    i, j = np.asarray(neighbors.query_point_indices), np.asarray(neighbors.point_indices)
    fractional = np.linalg.solve(cell.T, (positions[j] - positions[i]).T).T
    fractional -= np.round(fractional)
    distances = np.linalg.norm(fractional @ cell, axis=1)
    keep = distances < r_max
    return i[keep], j[keep], distances[keep]


class RDF:
    """g(r) per element pair, averaged over frames.

    Bins are ``linspace(r_min, r_max, bins + 1)`` A (design.md: 1e-6 to 6 A, 500 bins);
    r_max must stay below half the box's shortest plane distance (minimum image).
    g(r) = histogram / (N_a N_b / V x shell volume x frames): the pair density counts all
    N_a N_b pairs, as MDsim does, so g -> 1 at large r for an ideal gas (up to 1/N).
    """

    def __init__(
        self,
        pairs: tuple[tuple[str, str], ...] = WATER_PAIRS,
        r_max: float = 6.0,
        bins: int = 500,
        r_min: float = 1e-6,
    ):
        self.pairs = tuple(tuple(p) for p in pairs)
        self.r_max, self.bins, self.r_min = r_max, bins, r_min
        self._per_frame: dict[tuple[str, str], np.ndarray] = {}

    @property
    def bin_edges(self) -> np.ndarray:
        return np.linspace(self.r_min, self.r_max, self.bins + 1)

    @property
    def bin_centers(self) -> np.ndarray:
        edges = self.bin_edges
        return 0.5 * (edges[1:] + edges[:-1])

    def compute(self, frames: Frames) -> RDF:
        """One g(r) per frame and pair (kept for sliding windows); results average them."""
        edges = self.bin_edges
        volume = abs(np.linalg.det(frames.cell))
        shells = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
        masks = {element: frames.select(element) for pair in self.pairs for element in pair}
        rows = {pair: np.empty((len(frames.times), self.bins)) for pair in self.pairs}
        for t, positions in enumerate(frames.positions):
            i, j, r = frame_pair_distances(positions, frames.cell, self.r_max)
            for a, b in self.pairs:
                # ordered pairs centre a, neighbour b: N_a N_b of them in the normalisation
                chosen = masks[a][i] & masks[b][j]
                counts, _ = np.histogram(r[chosen], edges)
                density = masks[a].sum() * masks[b].sum() / volume
                rows[(a, b)][t] = counts / (density * shells)
        self._per_frame = rows
        return self

    @property
    def per_frame(self) -> dict[tuple[str, str], np.ndarray]:
        """(T, bins) g(r) of each frame, per pair."""
        return self._per_frame

    @property
    def rdf(self) -> dict[tuple[str, str], np.ndarray]:
        """g(r) averaged over all computed frames, per pair."""
        return {pair: rows.mean(axis=0) for pair, rows in self._per_frame.items()}

    def mae(self, reference: RDF) -> dict[tuple[str, str], float]:
        """Design.md's RDF error: mean |g - g_ref| x r_max (the integral over r)."""
        mine, theirs = self.rdf, reference.rdf
        return {pair: rdf_error(mine[pair], theirs[pair], self.r_max) for pair in self.pairs}

    def plot(self, ax, reference: RDF | None = None):
        for pair, g in self.rdf.items():
            (line,) = ax.plot(self.bin_centers, g, label=f"{pair[0]}-{pair[1]}")
            if reference is not None:
                ax.plot(
                    self.bin_centers,
                    reference.rdf[pair],
                    "--",
                    color=line.get_color(),
                    label=f"{pair[0]}-{pair[1]} reference",
                )
        ax.set_xlabel("r (Å)")
        ax.set_ylabel("g(r)")
        ax.legend()
        return ax


def rdf_error(g: np.ndarray, g_reference: np.ndarray, r_max: float) -> float:
    """mean |g - g_ref| x r_max."""
    return float(np.abs(g - g_reference).mean() * r_max)
