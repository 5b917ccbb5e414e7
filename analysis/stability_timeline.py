"""A replica's stability timeline: the largest force on any atom in each dumped frame, and
the quantity the watchdog watches (RDF error of each 1-ps window for periodic systems, the
largest bond-length deviation for molecules) against its threshold.

Usage: python analysis/stability_timeline.py RUN_FOLDER [--replica 0] [-o timeline.png]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from ase.io import read
from matplotlib.figure import Figure

from lmp_bench.evaluate import dataset_reference, reference_observables, replica_frames
from lmp_bench.observables import RDFStability
from lmp_bench.observables.distances import BOND_TOLERANCE, BondStability
from lmp_bench.systems import SYSTEMS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--replica", type=int, default=0)
    parser.add_argument("-o", "--output", type=Path, default=Path("timeline.png"))
    args = parser.parse_args()
    manifest = json.loads((args.run / "manifest.json").read_text())
    system = SYSTEMS[manifest["system"]]
    replica = args.run / f"replica-{args.replica}"
    frames = replica_frames(replica, system, manifest["type_species"].split())
    dump = read(replica / "trajectory.lammpstrj", ":", format="lammps-dump-text")
    max_force = [np.linalg.norm(atoms.get_forces(), axis=1).max() for atoms in dump]

    figure = Figure(figsize=(6, 5), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True)
    top.plot(frames.times[: len(max_force)], max_force[: len(frames.times)], ".-")
    top.set_ylabel("max |F| (eV/Å)")
    if system.molecule:
        bonds = BondStability(dataset_reference(Path(manifest["start_from"]))).compute(frames)
        bottom.plot(frames.times, bonds.max_deviation, ".-")
        bottom.axhline(BOND_TOLERANCE, color="k", ls="--", label="threshold")
        bottom.set_ylabel("max bond deviation (Å)")
    else:
        _, reference, _ = reference_observables(Path(manifest["reference"]))
        stability = RDFStability(reference, system.rdf_threshold, system.window_ps)
        errors = stability.compute(frames).window_errors
        bottom.plot(
            frames.times[: len(errors)], errors, label=[" ".join(p) for p in reference.pairs]
        )
        bottom.axhline(system.rdf_threshold, color="k", ls="--", label="threshold")
        bottom.set_ylabel("RDF error of the 1-ps window")
    bottom.set_xlabel("time (ps)")
    bottom.legend(fontsize="small")
    figure.savefig(args.output, dpi=150)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
