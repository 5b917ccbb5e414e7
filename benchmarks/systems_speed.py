"""Speed of every system's pieces on this machine (issue 7's benchmark), in two tables:

- stand-in data makers: dataset frames per hour of the GFN2-xTB molecules, the GFN1-xTB
  LiPS cell and the AMBER-03 + TIP3P alanine run, and ns per hour of the alanine reference
  FES (well-tempered metadynamics, explicit and implicit solvent); each the maker's own
  speed measurement (setup untimed)
- decks: MD steps/s of inputs/{water,md17,alanine,lips}.in through pair_style mlff with the
  smallest zoo model (SchNet, size small, untrained, forces scaled to meV/A so that MD
  stays near the start), from LAMMPS's Loop time; median of --repeats segments

Threads: OMP_NUM_THREADS (default 1). xTB makers are slow (LiPS ~17 s a force call):
--skip-makers prints the deck table alone.

Usage: python benchmarks/systems_speed.py [--steps 200] [--repeats 3] [--ranks 1]
       [--skip-makers] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before tblite and torch load OpenMP

import numpy as np  # noqa: E402
import torch  # noqa: E402
from ase.build import molecule  # noqa: E402
from harness import deck_steps_per_second, fresh_model, print_table  # noqa: E402

from lmp_bench.data.alanine import SPECIES as ALANINE_SPECIES  # noqa: E402
from lmp_bench.data.alanine import build_positions  # noqa: E402
from lmp_bench.data.lips import lips_cell  # noqa: E402
from lmp_bench.export import export  # noqa: E402
from lmp_bench.systems import SYSTEMS, Model, StartFrame  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
INPUTS = Path(__file__).resolve().parents[1] / "inputs"
MAKER_COLUMNS = [
    ("maker", "stand-in", "<37", ""),
    ("method", "method", "<30", ""),
    ("atoms", "atoms", ">7", ""),
    ("frames_per_hour", "frames/hour", ">13", ",.0f"),
    ("ns_per_hour", "ns/hour", ">9", ".2f"),
]
DECK_COLUMNS = [
    ("deck", "deck", "<20", ""),
    ("atoms", "atoms", ">6", ""),
    ("timestep_fs", "dt (fs)", ">8", ".2f"),
    ("ranks", "ranks", ">6", ""),
    ("steps_per_s", "steps/s", ">10", ".1f"),
    ("ps_per_hour", "ps/hour", ">10", ".0f"),
]


def maker_row(maker: str, method: str, speed: dict | None = None, ns_per_hour=None) -> dict:
    speed = speed or {}
    return {
        "maker": maker,
        "method": method,
        "atoms": speed.get("atoms"),
        "frames_per_hour": speed.get("frames_per_hour"),
        "ns_per_hour": ns_per_hour,
    }


def maker_rows() -> list[dict]:
    from lmp_bench.data import make_alanine, make_lips, make_molecule
    from lmp_bench.data.alanine_fes import ns_per_hour

    rows = [
        maker_row(f"md17-{name} (frame every 10 steps)", "GFN2-xTB, tblite",
                  make_molecule.frames_per_hour(name, steps=10))
        for name in ("ethanol", "aspirin")
    ]  # fmt: skip
    lips = make_lips.frames_per_hour(steps=2)
    rows.append(maker_row(f"lips (frame every {lips['every']} steps)", "GFN1-xTB, tblite", lips))
    alanine = make_alanine.frames_per_hour(steps=500)
    rows.append(maker_row("alanine (frame every 500 steps)", "AMBER-03+TIP3P, OpenMM", alanine))
    for solvent, steps in (("tip3p", 1000), ("obc", 10000)):
        speed = ns_per_hour(solvent, steps)
        rows.append(
            maker_row(f"alanine reference FES ({solvent})", "WT metaD, OpenMM", None, speed)
        )
    return rows


def starts() -> dict[str, tuple[StartFrame | None, int]]:
    """(start structure, water molecules) of each deck: built, not from a dataset."""
    ethanol, lips = molecule("CH3CH2OH"), lips_cell()
    return {
        "water": (None, 64),
        "md17": (StartFrame(ethanol.positions, np.array(ethanol.get_chemical_symbols()),
                            np.zeros((3, 3))), 0),
        "alanine": (StartFrame(build_positions(), ALANINE_SPECIES, np.zeros((3, 3))), 0),
        "lips": (StartFrame(lips.positions, np.array(lips.get_chemical_symbols()),
                            lips.cell[:]), 0),
    }  # fmt: skip


def deck_rows(args: argparse.Namespace, scratch: Path) -> list[dict]:
    rows = []
    for name, (start, molecules) in starts().items():
        system = SYSTEMS[name]
        species = sorted(set(start.species)) if start else ["H", "O"]
        folder = scratch / name
        folder.mkdir()
        file = export(fresh_model("schnet", "small", species), folder / f"schnet.{args.format}")
        model = Model(file, tuple(species))
        variables = (
            system.prepare(folder, model, molecules, 0, start)
            if start
            else (system.prepare(folder, model, molecules, 0))
        )
        os.chdir(folder)  # COLVARS writes its files into the working directory
        for ranks in args.rank_counts:
            speed = deck_steps_per_second(
                INPUTS / f"{name}.in", variables, args.steps, args.repeats, ranks
            )
            atoms = len(start.species) if start else 3 * molecules
            rows.append({"deck": f"inputs/{name}.in", "atoms": atoms, "ranks": ranks,
                         "timestep_fs": system.timestep_ps * 1000, "steps_per_s": speed,
                         "ps_per_hour": speed * system.timestep_ps * 3600})  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--ranks", default="1", help="comma-separated rank counts for decks")
    parser.add_argument("--skip-makers", action="store_true")
    parser.add_argument("--format", choices=("pt2", "pt"), default="pt2", help="model files")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    args.rank_counts = [int(r) for r in args.ranks.split(",")]
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
    threads = os.environ["OMP_NUM_THREADS"]
    results: dict[str, list[dict]] = {}
    if not args.skip_makers:
        results["makers"] = maker_rows()
        print_table(results["makers"], f"stand-in data makers ({machine}, "
                    f"OMP_NUM_THREADS={threads})", MAKER_COLUMNS)  # fmt: skip
    with tempfile.TemporaryDirectory() as scratch:
        results["decks"] = deck_rows(args, Path(scratch))
    print_table(results["decks"], f"decks with SchNet (small, untrained) through pair_style "
                f"mlff ({machine}, OMP_NUM_THREADS={threads}, median of {args.repeats} x "
                f"{args.steps} steps)", DECK_COLUMNS)  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps({"machine": machine, **results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
