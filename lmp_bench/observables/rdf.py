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

    def frame(self, positions: np.ndarray, cell: np.ndarray, species: np.ndarray):
        """g(r) of one frame, per pair."""
        edges = self.bin_edges
        volume = abs(np.linalg.det(cell))
        shells = 4.0 / 3.0 * np.pi * (edges[1:] ** 3 - edges[:-1] ** 3)
        i, j, r = frame_pair_distances(positions, cell, self.r_max)
        result = {}
        for a, b in self.pairs:
            first, second = species == a, species == b
            if not first.any() or not second.any():
                raise ValueError(f"no {a}-{b} pairs: the frame has species {sorted(set(species))}")
            # ordered pairs centre a, neighbour b: N_a N_b of them in the normalisation
            counts, _ = np.histogram(r[first[i] & second[j]], edges)
            result[(a, b)] = counts / (first.sum() * second.sum() / volume * shells)
        return result

    def compute(self, frames: Frames) -> RDF:
        """One g(r) per frame and pair (kept for sliding windows); results average them."""
        rows = {pair: np.empty((len(frames.times), self.bins)) for pair in self.pairs}
        for t, positions in enumerate(frames.positions):
            for pair, g in self.frame(positions, frames.cell, frames.species).items():
                rows[pair][t] = g
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


def save_rdf(rdf: RDF, path) -> None:
    """Write an RDF's parameters and averaged g(r) to .npz (the watchdog's reference)."""
    g = rdf.rdf
    np.savez(
        path,
        pairs=np.array(rdf.pairs),
        r_max=rdf.r_max,
        bins=rdf.bins,
        r_min=rdf.r_min,
        **{f"g_{a}_{b}": g[(a, b)] for a, b in rdf.pairs},
    )


def load_rdf(path) -> RDF:
    """An RDF read back from save_rdf: same parameters, g(r) as its one 'frame'."""
    data = np.load(path)
    pairs = tuple(tuple(pair) for pair in data["pairs"].tolist())
    rdf = RDF(pairs, float(data["r_max"]), int(data["bins"]), float(data["r_min"]))
    rdf._per_frame = {(a, b): data[f"g_{a}_{b}"][None, :] for a, b in pairs}
    return rdf
