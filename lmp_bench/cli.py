"""The `lmp-bench` command line: wires sub-commands to the library, nothing more."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


def cmd_doctor(args: argparse.Namespace) -> int:
    from lmp_bench.lammps.doctor import run_doctor

    return run_doctor(rebuild=args.rebuild)


def cmd_run(args: argparse.Namespace) -> int:
    from lmp_bench.export import read_metadata
    from lmp_bench.lammps.plugin_build import ensure_plugin
    from lmp_bench.lammps.run import run_deck
    from lmp_bench.models.builtin import resolve_model

    ensure_plugin(verbose=True)
    model_file = resolve_model(args.model, args.device)
    species = args.species.split() if args.species else read_metadata(model_file)["species"].split()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder = Path(args.output) / f"{Path(args.deck).stem}-{Path(args.model).stem}-{stamp}"
    variables = {"seed": str(args.seed)}
    if args.steps is not None:
        variables["steps"] = str(args.steps)
    print(f"lmp-bench: running {args.deck} with {model_file} on {args.ranks} rank(s) -> {folder}")
    summary = run_deck(
        Path(args.deck), model_file, species, folder, args.ranks, variables, args.device
    )
    print(
        f"lmp-bench: {summary.steps} steps in {summary.seconds:.1f} s wall, "
        f"{summary.steps_per_second:.1f} steps/s on {args.ranks} rank(s), {args.device}"
    )
    print(f"lmp-bench: results in {folder} (log.lammps, trajectory.lammpstrj, manifest.json)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lmp-bench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    doctor = commands.add_parser("doctor", help="check the installation and run a smoke test")
    doctor.add_argument("--rebuild", action="store_true", help="rebuild the mlff plugin first")
    doctor.set_defaults(handler=cmd_doctor)

    run = commands.add_parser("run", help="run an input deck with a model through the plugin")
    run.add_argument("deck", help="LAMMPS input deck, e.g. inputs/argon.in")
    run.add_argument(
        "--model", required=True, help="model file (.pt2/.pt) or built-in name: lj, sw, mp-toy"
    )
    run.add_argument("--species", help="elements per atom type (default: the model's species)")
    run.add_argument("--ranks", type=int, default=1, help="MPI ranks (domain decomposition)")
    run.add_argument("--steps", type=int, help="MD steps (default: the deck's)")
    run.add_argument("--seed", type=int, default=4928, help="velocity seed")
    run.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    run.add_argument("--output", default="results", help="folder for result folders")
    run.set_defaults(handler=cmd_run)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (FileNotFoundError, LookupError, RuntimeError, ValueError) as err:
        print(f"lmp-bench {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
