"""The project's dataset file: labelled frames in one HDF5 file (h5py), metal units.

Layout (format "lmp-bench-frames", version 1)::

    /species              (N,)      element names (UTF-8)
    /cell                 (T, 3, 3) box vectors as rows, A
    /positions            (T, N, 3) wrapped into the cell, A
    /unwrapped_positions  (T, N, 3) A
    /velocities           (T, N, 3) A/ps
    /forces               (T, N, 3) eV/A
    /energy               (T,)      potential energy, eV
    /time                 (T,)      ps
    /splits/{train,val,test}        frame indices (int64)
    attributes: format, version, units, source, and free-form provenance

HDF5 because it is self-describing, random-access (training reads single frames),
compressible and readable from any language; h5py is the standard binding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FORMAT, VERSION = "lmp-bench-frames", 1
ARRAYS = ("cell", "positions", "unwrapped_positions", "velocities", "forces", "energy", "time")


class DataFileError(ValueError):
    """A missing, corrupt or foreign dataset file."""


@dataclass
class FrameSet:
    species: np.ndarray
    cell: np.ndarray
    positions: np.ndarray
    unwrapped_positions: np.ndarray
    velocities: np.ndarray
    forces: np.ndarray
    energy: np.ndarray
    time: np.ndarray
    splits: dict[str, np.ndarray] = field(default_factory=dict)
    attributes: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.energy)


def write_frames(frames: FrameSet, path: Path) -> Path:
    import h5py

    with h5py.File(path, "w") as out:
        out.attrs.update(
            {"format": FORMAT, "version": VERSION, "units": "metal", **frames.attributes}
        )
        out.create_dataset(
            "species", data=np.asarray(frames.species, dtype=object), dtype=h5py.string_dtype()
        )
        for name in ARRAYS:
            out.create_dataset(name, data=getattr(frames, name), compression="gzip")
        for name, indices in frames.splits.items():
            out.create_dataset(f"splits/{name}", data=np.asarray(indices, dtype=np.int64))
    return path


def read_frames(path: str | Path) -> FrameSet:
    import h5py

    path = Path(path)
    if not path.is_file():
        raise DataFileError(
            f"dataset {path} does not exist: make one with `lmp-bench data make water`"
        )
    try:
        with h5py.File(path, "r") as data:
            if data.attrs.get("format") != FORMAT:
                raise DataFileError(
                    f"{path} is not an lmp-bench frames file (format {data.attrs.get('format')!r})"
                )
            arrays = {name: data[name][()] for name in ARRAYS}
            species = np.array(
                [s.decode() if isinstance(s, bytes) else s for s in data["species"][()]]
            )
            splits = {name: data[f"splits/{name}"][()] for name in data.get("splits", {})}
            attributes = {k: str(v) for k, v in data.attrs.items()}
    except OSError as err:
        raise DataFileError(
            f"{path} cannot be read as HDF5 ({err}): the file is corrupt or "
            "truncated; make it again"
        ) from err
    return FrameSet(species, **arrays, splits=splits, attributes=attributes)


def split_indices(total: int, train: int, val: int, test: int, seed: int) -> dict[str, np.ndarray]:
    """Disjoint random train/val/test frame indices (design.md's split sizes)."""
    if train + val + test > total:
        raise ValueError(f"{train}+{val}+{test} frames asked for, {total} available")
    order = np.random.default_rng(seed).permutation(total)
    return {
        "train": np.sort(order[:train]),
        "val": np.sort(order[train : train + val]),
        "test": np.sort(order[train + val : train + val + test]),
    }


def small_split_sizes(frames: int) -> tuple[int, int, int]:
    """(train, val, test) of a set too small for design.md's sizes: half for train+val
    (95:5), the other half for test; val stays empty below 4 frames."""
    if frames < 2:
        raise ValueError(f"{frames} frame(s) are too few for a train and a test split")
    fit = frames // 2
    val = max(1, round(fit * 0.05)) if fit >= 2 else 0
    return fit - val, val, frames - fit
