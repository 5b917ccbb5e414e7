"""MD speed: LAMMPS through the plugin against an ASE MD loop driving the same model.

For each model and system (water-64, water-512, lips, md17-<molecule>), in one run on one
machine:

- LAMMPS:  NVT steps/s of the system's deck (inputs/water.in, inputs/lips.in, inputs/md17.in
           from the built molecule; LAMMPS's own Loop time), on each --ranks count on the
           CPU; one rank on a GPU
- ASE:     steps/s of a Nose-Hoover chain NVT loop (300 K, 1 fs) with the same model as
           an ASE calculator, ASE's neighbour list rebuilt every step: how the paper's code
           (MDsim) runs MD; one process
- ratio:   LAMMPS / ASE (> 1: LAMMPS is faster)

Zoo models (--models) are untrained (seed 0) with forces scaled to meV/A, so that MD stays
near the start structure (cost depends on atom and edge counts, not on weights): LAMMPS
runs their AOTInductor export (--format pt: TorchScript), ASE the eager module
(lmp_bench.models.calculator).
nequip and deeppot-se (--nequip / --deepmd: run folders of `lmp-bench train`) run their
deployed files in LAMMPS and their own ASE calculators; nequip gets a second LAMMPS row for
its ase-target compile, the very file its ASE calculator runs, and a third for its file in
pieces (model.pieces.pt2, when the run has one); they run the systems whose
species they were trained on. Each figure is the median of
--repeats segments after a warm-up. Threads: OMP_NUM_THREADS (default 1) per process.

Usage: python benchmarks/md_speed.py [--models schnet,painn] [--size small|paper]
       [--systems water-64,water-512,lips] [--devices cpu,cuda] [--ranks 1,2] [--md-steps 100]
       [--nequip RUN] [--deepmd RUN] [--format pt2|pt] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from ase import Atoms  # noqa: E402
from harness import (  # noqa: E402
    SPECIES,
    ase_md_steps_per_second,
    deck_steps_per_second,
    fresh_model,
    md_steps_per_second,
    print_table,
    water_frame,
)

from lmp_bench.export import export  # noqa: E402
from lmp_bench.models.calculator import ModelCalculator  # noqa: E402
from lmp_bench.models.zoo import canonical_name  # noqa: E402
from lmp_bench.systems import SYSTEMS, Model, StartFrame  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
INPUTS = Path(__file__).resolve().parents[1] / "inputs"
COLUMNS = [  # (row key, header, alignment and width, number format)
    ("model", "model", "<15", ""),
    ("system", "system", "<10", ""),
    ("atoms", "atoms", ">6", ""),
    ("device", "device", ">8", ""),
    ("ranks", "ranks", ">6", ""),
    ("lammps_steps_per_s", "LAMMPS (steps/s)", ">17", ".2f"),
    ("ase_steps_per_s", "ASE (steps/s)", ">14", ".2f"),
    ("lammps_over_ase", "LAMMPS/ASE", ">11", ".2f"),
]


def system_atoms(system: str) -> Atoms:
    """The start structure of a benchmark system: water-<n> (built box), lips (the built
    83-atom cell) or md17-<molecule> (the built molecule, no box)."""
    if system == "lips":
        from lmp_bench.data.lips import lips_cell

        return lips_cell()
    if system.startswith("md17-"):
        from lmp_bench.data.molecules import start_geometry

        return start_geometry(system.removeprefix("md17-"))
    frame = water_frame(int(system.removeprefix("water-")))
    return Atoms(
        symbols=list(frame.species), positions=frame.positions[0], cell=frame.cell[0], pbc=True
    )


def system_species(system: str) -> list[str]:
    """The model species of a system, in the order its deck's atom types take them."""
    if system.startswith("water-"):
        return SPECIES
    return sorted(set(system_atoms(system).get_chemical_symbols()))


def lammps_steps_per_second(system: str, model: Model, ranks: int, args, folder: Path) -> float:
    """Steps/s of the system's own deck (inputs/water.in, lips.in, md17.in) with `model`."""
    if system == "lips" or system.startswith("md17-"):
        atoms = system_atoms(system)
        folder.mkdir(parents=True, exist_ok=True)
        start = StartFrame(atoms.positions, np.array(atoms.get_chemical_symbols()), atoms.cell[:])
        name = "lips" if system == "lips" else "md17"
        variables = SYSTEMS[name].prepare(folder, model, 0, 0, start)
        deck = INPUTS / f"{name}.in"
        return deck_steps_per_second(deck, variables, args.md_steps, args.repeats, ranks)
    molecules = int(system.removeprefix("water-"))
    return md_steps_per_second(model, molecules, args.md_steps, args.repeats, ranks, folder)


def device_name(device: str) -> str:
    """The card or CPU the figures were measured on."""
    if device == "cuda":
        return torch.cuda.get_device_name()
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def engine_rows(
    system: str,
    models: dict[str, Model],
    calculator,
    device: str,
    args: argparse.Namespace,
    scratch: Path,
) -> list[dict]:
    """One row per (LAMMPS file, rank count) on `system`: LAMMPS and ASE steps/s of one
    model. `models` maps a row label to the LAMMPS model of that label."""
    rows = []
    rank_counts = args.rank_counts if device == "cpu" else [1]
    atoms = system_atoms(system)
    ase = ase_md_steps_per_second(atoms, calculator, args.md_steps, args.repeats)
    for row_label, model in models.items():
        for ranks in rank_counts:
            folder = scratch / f"{row_label}-{device}-{system}-{ranks}"
            lammps = lammps_steps_per_second(system, model, ranks, args, folder)
            rows.append(
                {
                    "model": row_label,
                    "system": system,
                    "atoms": len(atoms),
                    "device": device,
                    "device_name": device_name(device),
                    "ranks": ranks,
                    "lammps_steps_per_s": lammps,
                    "ase_steps_per_s": ase,
                    "lammps_over_ase": lammps / ase,
                }
            )
            print(
                f"  {row_label} {system} {device} x{ranks}: LAMMPS {lammps:.2f}, "
                f"ASE {ase:.2f} steps/s",
                file=sys.stderr,
            )
    return rows


def zoo_rows(args: argparse.Namespace, device: str, scratch: Path) -> list[dict]:
    rows = []
    for name in args.model_names:
        for system in args.systems:
            species = system_species(system)
            path = scratch / f"{name}-{device}-{''.join(species)}.{args.format}"
            if not path.exists():
                start = time.perf_counter()
                export(fresh_model(name, args.size, species), path, dtype="float32", device=device)
                seconds = time.perf_counter() - start
                print(
                    f"  exported {name} ({device}, {species}) in {seconds:.0f} s", file=sys.stderr
                )
            module = fresh_model(name, args.size, species)
            calculator = ModelCalculator(module, device, torch.float32)
            model = Model(path, tuple(species), device=device)
            rows += engine_rows(system, {name: model}, calculator, device, args, scratch)
    return rows


def framework_rows(args: argparse.Namespace, scratch: Path) -> list[dict]:
    """nequip and deeppot-se on the CPU: deployed files in LAMMPS, own calculators in ASE,
    on the systems whose species their models know."""
    from lmp_bench.frameworks import framework

    rows = []
    for name, run in (("nequip", args.nequip), ("deeppot-se", args.deepmd)):
        if run is None:
            continue
        run = run.resolve()  # LAMMPS runs in its own folder
        tools = framework(name)
        files = {name: tools.deployed_file(run)}
        if name == "nequip":
            files["nequip-ase"] = run / tools.ASE_DEPLOYED
        species = tools.species_of(files[name])
        models = {label: Model(path, species, framework=name) for label, path in files.items()}
        if name == "nequip" and (run / tools.PIECES).exists():  # contract 3, an lmp-bench file
            models["nequip-pieces"] = Model(run / tools.PIECES, species)
        known = set(next(iter(models.values())).species)
        for system in args.systems:
            if not set(system_species(system)) <= known:
                print(f"  {name}: its model has no {system} species, skipped", file=sys.stderr)
                continue
            rows += engine_rows(system, models, tools.ase_calculator(run), "cpu", args, scratch)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="schnet,painn", help="comma list of zoo models")
    parser.add_argument("--size", choices=("small", "paper"), default="paper")
    parser.add_argument(
        "--systems",
        default="water-64,water-512,lips",
        help="comma list: water-<n>, lips, md17-<molecule>",
    )
    parser.add_argument("--devices", help="comma list; default: cpu, and cuda if torch sees one")
    parser.add_argument("--ranks", default="1,2", help="LAMMPS MPI rank counts on the CPU")
    parser.add_argument("--md-steps", type=int, default=100, help="MD steps per timed segment")
    parser.add_argument("--repeats", type=int, default=3, help="timed segments (median)")
    parser.add_argument("--nequip", type=Path, help="nequip run folder (lmp-bench train)")
    parser.add_argument("--deepmd", type=Path, help="deeppot-se run folder (lmp-bench train)")
    parser.add_argument("--format", choices=("pt2", "pt"), default="pt2", help="zoo model files")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    args = parser.parse_args()
    args.model_names = [canonical_name(name) for name in args.models.split(",") if name]
    args.systems = args.systems.split(",")
    args.rank_counts = [int(r) for r in args.ranks.split(",")]
    devices = (
        args.devices.split(",") if args.devices else ["cpu"] + ["cuda"] * torch.cuda.is_available()
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="lmpb-md-speed-") as scratch:
        for device in devices:
            rows += zoo_rows(args, device, Path(scratch))
        rows += framework_rows(args, Path(scratch))
    header = (
        f"MD speed, LAMMPS vs ASE, zoo size {args.size}, float32, torch "
        f"{torch.__version__}, {torch.get_num_threads()} thread(s) per process, "
        f"{args.md_steps} steps x {args.repeats} (medians); "
        + "; ".join(f"{d}: {device_name(d)}" for d in devices)
    )
    print_table(rows, header, COLUMNS)
    if args.json:
        settings = {k: v for k, v in vars(args).items() if k not in ("model_names",)}
        args.json.write_text(
            json.dumps(
                {"settings": settings | {"header": header}, "rows": rows}, indent=2, default=str
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
