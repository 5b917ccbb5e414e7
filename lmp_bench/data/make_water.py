"""Water reference data made by LAMMPS itself: the classical SPC/Fw model (design.md).

Equilibrate, run, and keep a frame every 0.1 ps with positions (wrapped and unwrapped),
velocities, forces and potential energy, converted to metal units, plus the design's
train/val/test splits.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from lmp_bench.data.frames_file import FrameSet, small_split_sizes, split_indices, write_frames
from lmp_bench.data.water import check_variant

DATASETS = {"1k": (950, 50), "10k": (9500, 500), "90k": (85500, 4500)}  # train, val
TEST_FRAMES = 10_000


def split_sizes(dataset: str, frames: int | None) -> tuple[int, int, int]:
    """(train, val, test): design.md's, or for `frames` in all, half for train+val (95:5)
    and the other half for test."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown water dataset {dataset!r}: use one of {sorted(DATASETS)}")
    train, val = DATASETS[dataset]
    if frames is None:
        return train, val, TEST_FRAMES
    return small_split_sizes(frames)


def frames_from_dump(dump: Path, timestep_ps: float, skip_frames: int) -> FrameSet:
    """Labelled frames of a water run's dump (metal units), the first `skip_frames` dropped."""
    from ase.calculators.lammps import convert

    from lmp_bench.observables.readers import read_dump_images, type_names

    images, steps = read_dump_images(dump)
    images, steps = images[skip_frames:], steps[skip_frames:]
    if not images:
        raise ValueError(f"{dump} has no frames after the {skip_frames} equilibration frames")
    cell = np.stack([image.cell.array for image in images])
    unwrapped = np.stack([image.positions for image in images])
    fractional = np.einsum("tnj,tjk->tnk", unwrapped, np.linalg.inv(cell))
    wrapped = np.einsum("tnj,tjk->tnk", fractional - np.floor(fractional), cell)
    return FrameSet(
        species=type_names(images, ["O", "H"], dump),
        cell=cell,
        positions=wrapped,
        unwrapped_positions=unwrapped,
        velocities=np.stack(
            [convert(i.get_velocities(), "velocity", "ASE", "metal") for i in images]
        ),
        forces=np.stack([i.get_forces() for i in images]),
        energy=np.array([i.arrays["c_peatom"].sum() for i in images]),
        time=(steps - steps[0]) * timestep_ps,
    )


def make_water_dataset(
    out: Path,
    workdir: Path,
    molecules: int = 64,
    variant: str = "spcfw-mdsim",
    dataset: str = "1k",
    frames: int | None = None,
    seed: int = 0,
    equilibrate_ps: float = 10.0,
    ranks: int = 1,
) -> FrameSet:
    """Run the classical reference and write the dataset to `out` (.h5)."""
    from lmp_bench.lammps.run import ReplicaJob, run_replica
    from lmp_bench.systems import SYSTEMS, Model

    system = SYSTEMS["water"]
    train, val, test = split_sizes(dataset, frames)
    total = train + val + test
    skip = round(equilibrate_ps / (system.timestep_ps * system.dump_every))
    steps = (skip + total - 1) * system.dump_every
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    variables = system.prepare(
        workdir, Model(None, variant=check_variant(variant)), molecules, seed
    )
    deck = Path(__file__).resolve().parents[2] / "inputs" / "water.in"
    job = ReplicaJob(
        str(deck),
        {**variables, "seed": str(seed + 1)},
        steps,
        system.dump_every,
        system.timestep_ps,
        None,
        f"water-{molecules} {variant}",
    )
    replica = workdir / f"run-{time.strftime('%Y%m%d-%H%M%S')}"
    status = run_replica(job, replica, ranks)
    if status.state != "completed":
        raise RuntimeError(f"the reference run stopped early ({status.state}: {status.reason})")
    data = frames_from_dump(replica / "trajectory.lammpstrj", system.timestep_ps, skip)
    data.splits = split_indices(len(data), train, val, test, seed)
    data.attributes = {
        "source": "lmp-bench classical reference (LAMMPS)",
        "system": "water",
        "variant": variant,
        "molecules": str(molecules),
        "seed": str(seed),
        "equilibration_ps": str(equilibrate_ps),
        "dataset": dataset,
        "frame_interval_ps": str(system.timestep_ps * system.dump_every),
    }
    write_frames(data, out)
    return data
