"""The paper's published data files as lmp-bench datasets: which reader a file needs, and
which fetched files become a dataset (.h5) at once.

fetch.py only downloads (stdlib, no numpy); reading the files into frames happens here.
"""

from __future__ import annotations

from pathlib import Path

from lmp_bench.data.fetch import DATASETS, fetch
from lmp_bench.data.formats import read_mdsim_npy, read_sgdml_npz
from lmp_bench.data.frames_file import DataFileError, FrameSet, write_frames
from lmp_bench.data.lips import read_lips_xyz


def read_published(path: Path) -> FrameSet:
    """A published data file as a FrameSet: the paper's .npy (water), sGDML's MD17 .npz or
    lips.xyz."""
    readers = {".npy": read_mdsim_npy, ".npz": read_sgdml_npz, ".xyz": read_lips_xyz}
    if path.suffix not in readers:
        raise DataFileError(
            f"{path}: import reads the paper's .npy files (water, alanine), sGDML MD17 .npz "
            "files and lips.xyz"
        )
    return readers[path.suffix](path)


def fetch_published(name: str, folder: Path) -> None:
    """Download the published data set `name` into `folder`; MD17, water and lips are also
    written as a dataset (.h5) beside it, the others are read by their system's benchmark."""
    path = fetch(name, folder)
    if DATASETS[name].sha256 is None:
        print(f"lmp-bench: {path}: no published checksum to verify; its sha256 is in {path}.sha256")
    if name.startswith("md17-") or name in ("water", "lips"):
        out = path.with_suffix(".h5")
        frames = read_published(path)
        print(f"lmp-bench: {len(frames)} frames -> {write_frames(frames, out)}")
    else:
        print(
            f"lmp-bench: fetched {path} ({DATASETS[name].units}); lmp-bench reads it "
            "with the benchmark of that system"
        )
