"""The `lmp-bench` command line: wires sub-commands to the library, nothing more."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from pathlib import Path
from typing import TypeVar

Options = TypeVar("Options")


def options_from(kind: type[Options], args: argparse.Namespace) -> Options:
    """The options dataclass `kind` of a command, filled from the arguments of the same names."""
    return kind(**{field.name: getattr(args, field.name) for field in fields(kind)})


def cmd_doctor(args: argparse.Namespace) -> int:
    from lmp_bench.lammps.doctor import run_doctor

    return run_doctor(rebuild=args.rebuild)


def cmd_run(args: argparse.Namespace) -> int:
    from lmp_bench.run_plan import RunOptions, run_benchmark

    run_benchmark(options_from(RunOptions, args))
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from lmp_bench.evaluate import evaluate_paths, format_table
    from lmp_bench.foreign import ForeignOptions

    types = tuple(args.type_species.split()) if args.type_species else None
    options = ForeignOptions(
        args.system, args.timestep, types, args.topology, args.hills, args.hills_unit, args.label
    )
    paths = [Path(p) for p in args.runs]
    for metrics in evaluate_paths(paths, Path(args.reference), options, Path(args.output)):
        print(f"\n{metrics['run']}: {metrics['model']}, {metrics['system']}")
        print(f"times: {metrics['time_base']}")
        print(format_table(metrics))
        print(f"lmp-bench: metrics in {Path(metrics['run']) / 'metrics.json'}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from lmp_bench.report import make_report

    speed = Path(args.speed) if args.speed else None
    page = make_report([Path(p) for p in args.runs], Path(args.output), speed)
    print(f"lmp-bench: report in {page} (tables/ .md .csv, figures/ .png .svg)")
    return 0


def cmd_data_make(args: argparse.Namespace) -> int:
    from lmp_bench.data.make import MakeOptions, make_dataset

    make_dataset(options_from(MakeOptions, args))
    return 0


def cmd_data_export(args: argparse.Namespace) -> int:
    from lmp_bench.data.formats import write_deepmd, write_extxyz
    from lmp_bench.data.frames_file import read_frames

    frames = read_frames(args.file)
    writer = {"extxyz": write_extxyz, "deepmd": write_deepmd}[args.format]
    print(f"lmp-bench: wrote {writer(frames, Path(args.output), args.split)}")
    return 0


def cmd_data_import(args: argparse.Namespace) -> int:
    from lmp_bench.data.frames_file import write_frames
    from lmp_bench.data.published import read_published

    frames = read_published(Path(args.file))
    print(f"lmp-bench: {len(frames)} frames -> {write_frames(frames, Path(args.output))}")
    return 0


def cmd_data_fetch(args: argparse.Namespace) -> int:
    from lmp_bench.data.published import fetch_published

    fetch_published(args.name, Path(args.folder))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from lmp_bench.frameworks import framework, framework_name
    from lmp_bench.train.config import load_config
    from lmp_bench.train.resume import resume_training
    from lmp_bench.train.trainer import train

    if args.resume:
        folder = resume_training(Path(args.resume), args.set or [])
    else:
        if not (args.model and args.data):
            raise ValueError("train needs --model and --data (or --resume <run folder>)")
        if framework_name(args.model):
            tools = framework(args.model)
            folder = tools.train(
                args.data, args.set or [], Path(args.output) if args.output else None
            )
            print(f"lmp-bench: run folder {folder} (deployed model: {tools.deployed_file(folder)})")
            return 0
        config = load_config(args.config, [f"model={args.model}", *(args.set or [])])
        folder = train(args.data, config, Path(args.output) if args.output else None)
    print(f"lmp-bench: run folder {folder} (best checkpoint: {folder / 'best.pt'})")
    return 0


def cmd_test(args: argparse.Namespace) -> int:
    from lmp_bench.train.records import test_and_record
    from lmp_bench.train.scores import score_line

    result = test_and_record(args.checkpoint, args.data, args.split)
    print(f"{result['split']} split, {result['frames']} frames: {score_line(result)}")
    print(json.dumps(result))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from lmp_bench.train.deploy import export_checkpoint

    print(f"lmp-bench: wrote {export_checkpoint(args.checkpoint, args.output, args.device)}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from lmp_bench.models.zoo import ALIASES, zoo_table

    print(f"{'model':<11} {'forces':<7} {'cutoff (A)':>10} {'layers':>6} {'parameters':>11}")
    for row in zoo_table(args.species.split()):
        print(
            f"{row['model']:<11} {row['forces']:<7} {row['cutoff_A']:>10g} {row['layers']:>6d} "
            f"{row['parameters']:>11,d}"
        )
    print("aliases: " + ", ".join(f"{a} = {t}" for a, t in sorted(ALIASES.items())))
    return 0


def cmd_setup(args: argparse.Namespace) -> int:
    from lmp_bench.frameworks.deepmd_setup import setup_deepmd

    setup_deepmd()
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    from lmp_bench.bench import BenchOptions, run_bench

    return run_bench(options_from(BenchOptions, args))


def cmd_quickstart(args: argparse.Namespace) -> int:
    from lmp_bench.quickstart import quickstart

    return quickstart(main, Path(args.output), args.model, args.train_minutes)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lmp-bench", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    doctor = commands.add_parser("doctor", help="check the installation and run a smoke test")
    doctor.add_argument("--rebuild", action="store_true", help="rebuild the mlff plugin first")
    doctor.set_defaults(handler=cmd_doctor)

    run = commands.add_parser("run", help="run a benchmark deck with a model through the plugin")
    run.add_argument("deck", help="inputs/water.in or inputs/argon.in")
    run.add_argument(
        "--model",
        required=True,
        help="model file (.pt2/.pt), built-in name (lj, sw, mp-toy), or "
        "'reference' (the system's classical force field)",
    )
    run.add_argument(
        "--variant",
        default="spcfw-mdsim",
        help="classical water variant for --model reference: spcfw-mdsim "
        "(default; how the paper's data was made) or spcfw (as published)",
    )
    run.add_argument("--replicas", type=int, default=1)
    run.add_argument("--length", type=float, help="simulated time per replica, ps")
    run.add_argument("--steps", type=int, help="MD steps per replica (instead of --length)")
    run.add_argument("--molecules", type=int, default=64, help="water molecules: 64 or 512")
    run.add_argument(
        "--reference",
        help="a reference run folder: enables the stability "
        "watchdog (stop at the first unstable window)",
    )
    run.add_argument("--start-from", help="dataset (.h5): replicas start from random test frames")
    run.add_argument(
        "--ranks",
        type=int,
        help="MPI ranks in all (default 1; inside an MPI job, its size): replicas share them "
        "and run at once, each on its share (LAMMPS domain decomposition within a replica)",
    )
    run.add_argument(
        "--launcher",
        help="start the MPI ranks with this command instead of the bundled mpiexec, e.g. "
        "'srun -n {ranks}' or 'mpirun -np {ranks} --hostfile hosts' ({ranks}: --ranks)",
    )
    run.add_argument("--seed", type=int, default=4928, help="velocity seed of replica 1")
    run.add_argument(
        "--ensemble",
        choices=("nvt", "nve"),
        default="nvt",
        help="nve: the same start without a thermostat, scored by its energy drift",
    )
    run.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        help="where the model runs (with cuda, each rank takes GPU (its node-local rank in the "
        "whole MPI job) mod the node's GPU count); "
        "default: the model file's own device, cpu for the models lmp-bench exports",
    )
    run.add_argument("--output", default="results", help="folder for result folders")
    run.set_defaults(handler=cmd_run)

    evaluate = commands.add_parser(
        "evaluate",
        help="score runs (lmp-bench's or trajectories made elsewhere) against a reference",
    )
    evaluate.add_argument(
        "runs",
        nargs="+",
        metavar="RUN",
        help="lmp-bench run folders or folders holding them (any depth); or trajectories made "
        "elsewhere (.traj, extxyz, LAMMPS dump, DCD/XTC) or MDsim run folders: the replicas "
        "of one run, scored into a new folder under --output",
    )
    evaluate.add_argument(
        "--reference",
        required=True,
        help="reference run folder (water, lips) or the molecule's dataset .h5 (md17, alanine)",
    )
    evaluate.add_argument(
        "--system", help="for trajectories made elsewhere: water, lips, alanine, md17-<molecule>"
    )
    evaluate.add_argument(
        "--timestep",
        "--frame-interval",
        dest="timestep",
        type=float,
        help="ps between saved frames, for files that record no times (frame k at k x this)",
    )
    evaluate.add_argument(
        "--type-species", help="LAMMPS dumps: element of type 1, 2, ... (default the system's)"
    )
    evaluate.add_argument("--topology", help="DCD/XTC/TRR: the file naming the atoms (PDB, GRO)")
    evaluate.add_argument(
        "--hills", help="alanine: the run's PLUMED HILLS file (an MDsim folder's HILLS is used)"
    )
    evaluate.add_argument(
        "--hills-unit",
        default="kJ/mol",
        choices=["kJ/mol", "kcal/mol", "eV"],
        help="energy unit of the HILLS heights (PLUMED's default: kJ/mol)",
    )
    evaluate.add_argument("--label", help="model name in tables (default: the file's name)")
    evaluate.add_argument(
        "--output", default="results", help="where a scored foreign trajectory gets its folder"
    )
    evaluate.set_defaults(handler=cmd_evaluate)

    report = commands.add_parser("report", help="tables, figures and an HTML page from runs")
    report.add_argument("runs", nargs="+", help="run folders, or folders that hold them")
    report.add_argument("-o", "--output", default="report", help="report folder")
    report.add_argument("--speed", help="JSON of benchmarks/md_speed.py --json: a speed table")
    report.set_defaults(handler=cmd_report)

    models = commands.add_parser("models", help="the model zoo with parameter counts")
    models.add_argument("--species", default="O H", help="species the models are built for")
    models.set_defaults(handler=cmd_models)

    quick = commands.add_parser(
        "quickstart", help="the water benchmark end to end, small (data, train, run, evaluate)"
    )
    quick.add_argument("--model", default="schnet", help="zoo model to train (default schnet)")
    quick.add_argument("--train-minutes", type=float, default=4.0)
    quick.add_argument("--output", default="results")
    quick.set_defaults(handler=cmd_quickstart)

    bench = commands.add_parser(
        "bench",
        help="the whole benchmark of an MD17 molecule in one resumable command: data, "
        "training, test force MAE, export, MD replicas, evaluate, report",
    )
    bench.add_argument(
        "system", help="md17-ethanol, md17-aspirin, md17-naphthalene, md17-salicylic"
    )
    bench.add_argument(
        "--scale",
        choices=("cpu", "paper"),
        default="cpu",
        help="cpu (default): every model the same training budget, sizes for a few cores; "
        "paper: design.md's sizes and schedule",
    )
    bench.add_argument(
        "--models", help="'all' (default: the 7 zoo models, nequip, deeppot-se) or a comma list"
    )
    bench.add_argument("--output", help="bench folder (default bench/<system>-<scale>)")
    bench.add_argument(
        "--data", help="dataset .h5 to use (default: data/md17_<molecule>.h5 if fetched, "
        "else a GFN2-xTB stand-in made in the bench folder)",
    )  # fmt: skip
    bench.add_argument("--frames", type=int, help="stand-in frames (default 20000)")
    bench.add_argument("--replicas", type=int, help="replicas a model (default 5)")
    bench.add_argument("--length", type=float, help="ps per replica (default 300)")
    bench.add_argument(
        "--train-minutes",
        type=float,
        help="wall-clock training budget a model (cpu scale: default 15; paper: none)",
    )
    bench.add_argument(
        "--export",
        choices=("pt2", "pt"),
        help="zoo model files: pt2 (AOTInductor, default) or pt (TorchScript pieces: "
        "exports in seconds, runs MD ~10x slower)",
    )
    bench.add_argument(
        "--set",
        action="append",
        metavar="MODEL:KEY=VALUE",
        help="a training setting of one model (or zoo:KEY=VALUE for all zoo models) over the "
        "scale's, e.g. schnet:max_epochs=50 (a later call repeats them or leaves them out)",
    )
    bench.add_argument("--seed", type=int, help="velocity seed of replica 1 (default 4928)")
    bench.add_argument(
        "--device",
        choices=("cpu", "cuda"),
        help="where zoo models train (default cuda when torch sees a GPU); MD runs on CPU cores",
    )
    bench.add_argument("--jobs", type=int, help="jobs at once, one thread each (default: cores)")
    bench.add_argument(
        "--heartbeat",
        type=float,
        default=300.0,
        help="seconds between progress lines of running jobs (default 300)",
    )
    bench.set_defaults(handler=cmd_bench)

    train = commands.add_parser("train", help="train a zoo model on a dataset (design.md)")
    train.add_argument(
        "--model",
        help="zoo name: schnet, painn, dimenet++, spherenet, "
        "gemnet-t (gemnet), gemnet-dt, forcenet; or nequip, deeppot-se (their own trainers)",
    )
    train.add_argument("--data", help="dataset file (.h5) with train/val splits")
    train.add_argument("--config", help="settings file (.toml or .json)")
    train.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override any setting (repeatable), e.g. --set size=small --set max_minutes=5",
    )
    train.add_argument("--resume", help="run folder of a stopped training to continue")
    train.add_argument("--output", help="run folder (default: in the model store)")
    train.set_defaults(handler=cmd_train)

    test = commands.add_parser("test", help="energy and force MAE of a checkpoint on a split")
    test.add_argument(
        "checkpoint",
        help="checkpoint file or run folder (its best.pt), or a nequip/deepmd model file or run",
    )
    test.add_argument("--data", required=True, help="dataset file (.h5)")
    test.add_argument("--split", default="test", choices=("train", "val", "test"))
    test.set_defaults(handler=cmd_test)

    exported = commands.add_parser("export", help="checkpoint -> model file for pair_style mlff")
    exported.add_argument(
        "checkpoint",
        help="checkpoint file or run folder (its best.pt); a nequip run folder or .ckpt "
        "becomes a file in pieces (model contract 3)",
    )
    exported.add_argument("-o", "--output", help="model file (.pt2); default next to it")
    exported.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    exported.set_defaults(handler=cmd_export)

    setup = commands.add_parser("setup", help="install an optional framework (deepmd)")
    setup.add_argument(
        "framework",
        choices=["deepmd"],
        help="deepmd: deepmd-kit 3.2.0 built for the installed torch, and its LAMMPS plugin",
    )
    setup.set_defaults(handler=cmd_setup)

    data = commands.add_parser("data", help="make, export and import datasets")
    data_commands = data.add_subparsers(dest="data_command", required=True)
    make = data_commands.add_parser(
        "make",
        help="reference data: water (LAMMPS); MD17, LiPS (xTB) and alanine (OpenMM) stand-ins",
    )
    make.add_argument(
        "system",
        choices=[
            "water",
            "md17-aspirin",
            "md17-ethanol",
            "md17-naphthalene",
            "md17-salicylic",
            "lips",
            "alanine",
            "alanine-fes",
        ],
        help="alanine-fes: the reference FES of the alanine dataset named by -o",
    )
    make.add_argument("--molecules", type=int, default=64, help="64 or 512")
    make.add_argument(
        "--variant",
        default="spcfw-mdsim",
        help="spcfw-mdsim (default: how the paper's data was made) or spcfw",
    )
    make.add_argument("--dataset", default="1k", help="1k, 10k or 90k (design.md's splits)")
    make.add_argument(
        "--frames", type=int, help="total frames for a small set (half train+val, half test)"
    )
    make.add_argument(
        "--equilibrate", type=float, default=10.0, help="ps dropped first (water only)"
    )
    make.add_argument("--seed", type=int, default=0)
    make.add_argument("--ranks", type=int, default=1)
    make.add_argument("--ns", type=float, default=5.0, help="alanine-fes: metadynamics length")
    make.add_argument(
        "--solvent",
        choices=["tip3p", "obc"],
        default="tip3p",
        help="alanine-fes: the "
        "data's explicit water, or OBC implicit solvent (fast, not the data's force field)",
    )
    make.add_argument("-o", "--output", help="dataset file (.h5)")
    make.set_defaults(handler=cmd_data_make)
    export = data_commands.add_parser("export", help="write a dataset for another code")
    export.add_argument("file", help="lmp-bench dataset (.h5)")
    export.add_argument("--format", choices=["extxyz", "deepmd"], required=True)
    export.add_argument("--split", choices=["train", "val", "test"])
    export.add_argument("-o", "--output", required=True)
    export.set_defaults(handler=cmd_data_export)
    imported = data_commands.add_parser(
        "import", aliases=["import-mdsim"], help="published data files -> dataset file"
    )
    imported.add_argument(
        "file",
        help="the paper's pickled-dict .npy (water, alanine), an sGDML MD17 .npz or lips.xyz",
    )
    imported.add_argument("-o", "--output", required=True, help="dataset file (.h5)")
    imported.set_defaults(handler=cmd_data_import)
    fetched = data_commands.add_parser(
        "fetch", help="download a published dataset (resumes; MD17, water and lips become .h5)"
    )
    fetched.add_argument(
        "name", help="md17-aspirin|md17-ethanol|md17-naphthalene|md17-salicylic|lips|alanine|water"
    )
    fetched.add_argument("--folder", default="data", help="where the files go")
    fetched.set_defaults(handler=cmd_data_fetch)
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
