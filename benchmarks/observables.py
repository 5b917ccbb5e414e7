"""Observables and reference-data speed for the water benchmark.

1. Reference-data generation: the classical SPC/Fw reference (1 rank) for 64 and 512
   molecules, simulated ps per wall-clock hour.
2. Evaluation: stability scan + RDF + MSD (what `lmp-bench evaluate` does for a replica)
   of a 500 ps, 64-molecule trajectory (5,000 frames). The frames are the real frames of a
   short reference run, cycled with 0.001 A noise to 5,000 (evaluation cost depends only on
   frame and atom counts). Target: < 10 s.

Usage: python benchmarks/observables.py [--frames 5000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from lmp_bench.lammps.run import ReplicaJob, run_replica
from lmp_bench.observables import RDF, Diffusivity, Frames, RDFStability, read_lammps_dump
from lmp_bench.systems import SYSTEMS, Model

DECK = Path(__file__).resolve().parents[1] / "inputs" / "water.in"


def reference_run(folder: Path, molecules: int, steps: int) -> tuple[Path, float]:
    """A classical water run; returns its dump and simulated ps per wall-clock hour."""
    system = SYSTEMS["water"]
    folder.mkdir(parents=True)
    variables = system.prepare(folder, Model(None), molecules, seed=1)
    job = ReplicaJob(
        str(DECK),
        {**variables, "seed": "2"},
        steps,
        system.dump_every,
        system.timestep_ps,
        None,
        f"water-{molecules}",
    )
    status = run_replica(job, folder / "replica", ranks=1)
    ps_per_hour = status.steps_per_second * system.timestep_ps * 3600
    return folder / "replica" / "trajectory.lammpstrj", ps_per_hour


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=5000, help="frames to evaluate")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        dump64, speed64 = reference_run(scratch / "w64", 64, 3000)
        _, speed512 = reference_run(scratch / "w512", 512, 300)
        real = read_lammps_dump(dump64, ["O", "H"], 0.001)
    rng = np.random.default_rng(0)
    cycle = np.arange(args.frames) % len(real.times)
    noise = rng.normal(0, 0.001, (args.frames, *real.positions.shape[1:]))
    positions = real.positions[cycle] + noise
    frames = Frames(positions, real.species, real.cell, np.arange(args.frames) * 0.1)
    reference = RDF().compute(real)

    start = time.perf_counter()
    stability = RDFStability(reference).compute(frames)
    scan = time.perf_counter() - start
    start = time.perf_counter()
    stable = frames  # a run stable throughout costs the most
    stability.rdf.first(len(stable.times)).mae(reference)
    rdf_time = time.perf_counter() - start
    start = time.perf_counter()
    Diffusivity("O", 100.0).compute(stable)
    msd_time = time.perf_counter() - start

    print("\nwater benchmark: reference data and evaluation speed (1 rank, CPU)")
    print(f"{'task':<48}{'value':>14}")
    print(f"{'reference generation, 64 molecules':<48}{speed64:>10.0f} ps/h")
    print(f"{'reference generation, 512 molecules':<48}{speed512:>10.0f} ps/h")
    print(f"{f'stability scan, {args.frames} frames':<48}{scan:>12.2f} s")
    print(f"{f'RDF MAE of the stable part, {len(stable.times)} frames':<48}{rdf_time:>12.2f} s")
    print(f"{'MSD + diffusivity (O), all time origins':<48}{msd_time:>12.2f} s")
    print(
        f"{'full evaluation of one replica (target < 10 s)':<48}"
        f"{scan + rdf_time + msd_time:>12.2f} s"
    )


if __name__ == "__main__":
    main()
