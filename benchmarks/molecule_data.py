"""Speed of the stand-in MD17 data maker (GFN2-xTB through tblite, Langevin MD).

For each molecule: relax, draw 500 K velocities, take one untimed step, then time --steps
MD steps (one GFN2-xTB force call each, fresh SCF). Prints seconds per MD step and per force
call, and dataset frames per hour at one frame every --every steps (the maker's default
10: 5 fs), the median of --repeats runs. Threads: OMP_NUM_THREADS (default 1).

Usage: python benchmarks/molecule_data.py [--molecules aspirin,ethanol] [--steps 20]
       [--every 10] [--repeats 3] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before tblite loads its OpenMP runtime

from lmp_bench.data.make_molecule import frames_per_hour  # noqa: E402
from lmp_bench.data.molecules import MOLECULES  # noqa: E402

COLUMNS = [  # (row key, header, alignment and width, number format)
    ("molecule", "molecule", "<13", ""),
    ("atoms", "atoms", ">6", ""),
    ("seconds_per_force_call", "s/force call", ">14", ".4f"),
    ("seconds_per_step", "s/MD step", ">11", ".4f"),
    ("frames_per_hour", "frames/hour", ">13", ",.0f"),
    ("hours_per_20k", "h per 20k frames", ">18", ".2f"),
]


def measure(molecule: str, steps: int, every: int, repeats: int) -> dict:
    """Median of `repeats` runs of the maker's own speed measurement."""
    runs = [frames_per_hour(molecule, steps=steps, every=every) for _ in range(repeats)]
    row = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
    row["hours_per_20k"] = 20_000 / row["frames_per_hour"]  # design.md's MD17 set size
    return {"molecule": molecule, **row}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--molecules", default=",".join(MOLECULES))
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--every", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = [
        measure(name, args.steps, args.every, args.repeats) for name in args.molecules.split(",")
    ]
    print(
        f"\nstand-in MD17 maker, GFN2-xTB (tblite), {args.steps} MD steps of 0.5 fs, a frame "
        f"every {args.every} steps, OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}, "
        f"{platform.processor() or platform.machine()}, median of {args.repeats}"
    )
    print("".join(f"{title:{width}}" for _, title, width, _ in COLUMNS))
    for row in rows:
        print("".join(f"{row[key]:{width}{spec}}" for key, _, width, spec in COLUMNS))
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
