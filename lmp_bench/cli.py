"""The `lmp-bench` command line: wires sub-commands to the library, nothing more."""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path


def cmd_doctor(args: argparse.Namespace) -> int:
    from lmp_bench.lammps.doctor import run_doctor

    return run_doctor(rebuild=args.rebuild)


def resolve_model(args: argparse.Namespace, system: str):
    from lmp_bench.data.water import check_variant
    from lmp_bench.export import read_metadata
    from lmp_bench.frameworks import framework, framework_name, framework_of_path
    from lmp_bench.models.builtin import resolve_model as model_file_for
    from lmp_bench.models.zoo import ALIASES, ZOO
    from lmp_bench.systems import REFERENCE, Model
    from lmp_bench.train.deploy import trained_model_file

    if args.model == REFERENCE:
        return Model(None, variant=check_variant(args.variant))
    name = framework_name(args.model) or framework_of_path(args.model)
    if name is not None:
        tools = framework(name)
        path = tools.model_file(args.model, system, args.device or "cpu")
        return Model(path, tools.species_of(path), framework=name)
    if args.model.lower() in ZOO or args.model.lower() in ALIASES:
        path = trained_model_file(args.model, system, args.device or "cpu")
    else:
        path = model_file_for(args.model, args.device or "cpu")
    metadata = read_metadata(path)
    device = args.device or metadata.get("device", "cpu")  # default: where the file runs
    return Model(path, tuple(metadata["species"].split()), device=device)


def bond_watchdog(dataset: Path, out: Path):
    """The molecule watchdog's reference: bonds on the dataset's first frame and their mean
    lengths over the dataset (evaluate's BondStability), saved for the replica workers."""
    import numpy as np

    from lmp_bench.evaluate import dataset_reference
    from lmp_bench.lammps.run import WatchdogSpec
    from lmp_bench.observables import BondStability

    reference = BondStability(dataset_reference(dataset))
    np.savez(out, bonds=reference.bonds, lengths=reference.reference_lengths)
    return WatchdogSpec(str(out), [], reference.tolerance, 1, kind="bonds")


def store_system(args: argparse.Namespace, system) -> str:
    """Which models fit this run: the deck's system, or for molecules the dataset's
    (md17-ethanol: a model trained on one molecule runs that molecule only)."""
    if not (system.molecule and args.start_from):
        return system.name
    from lmp_bench.data.frames_file import read_frames

    return read_frames(args.start_from).attributes.get("system", system.name)


def test_frame_starts(dataset: str, replicas: int, seed: int) -> dict:
    """{replica: (frame index, StartFrame)}: distinct random frames of the test split, or,
    for an alanine dataset holding a reference FES, the test frames nearest to its lowest
    minima (design.md: one replica from each FES minimum)."""
    import numpy as np

    from lmp_bench.data.frames_file import read_frames
    from lmp_bench.systems import StartFrame

    frames = read_frames(dataset)
    test = frames.splits.get("test", np.arange(len(frames)))
    if len(test) < replicas:
        raise ValueError(f"{dataset} has {len(test)} test frames for {replicas} replicas")
    chosen = np.random.default_rng(seed).choice(test, replicas, replace=False)
    if frames.attributes.get("system") == "alanine":
        from lmp_bench.data.alanine_fes import fes_minima, frames_at_minima, read_reference_fes

        reference = read_reference_fes(dataset)
        if reference is None:
            print(
                f"lmp-bench: {dataset} has no reference FES, so replicas start from random "
                "test frames; add one with `lmp-bench data make alanine-fes -o "
                f"{dataset}` to start one replica at each FES minimum"
            )
        else:
            minima = fes_minima(reference, replicas)
            nearest = frames_at_minima(frames.unwrapped_positions, frames.species, test, minima)
            chosen = np.resize(nearest, replicas)  # more replicas than minima: cycle them
    return {
        k: (int(i), StartFrame(frames.unwrapped_positions[i], frames.species, frames.cell[i]))
        for k, i in enumerate(chosen)
    }


def replica_layout(replicas: int, ranks: int) -> tuple[int, int]:
    """(ranks per replica, replicas run at once) for `ranks` MPI ranks in all: each replica
    gets ranks // replicas (at least 1), and as many run at once as the ranks allow."""
    ranks_each = max(1, ranks // replicas)
    return ranks_each, max(1, min(replicas, ranks // ranks_each))


def cmd_run(args: argparse.Namespace) -> int:
    import torch

    from lmp_bench.evaluate import reference_observables
    from lmp_bench.lammps.plugin_build import ensure_plugin
    from lmp_bench.lammps.run import ReplicaJob, WatchdogSpec, run_replicas, sha256_of
    from lmp_bench.lammps.runtime import lammps_version
    from lmp_bench.observables.rdf import save_rdf
    from lmp_bench.systems import system_for_deck

    deck = Path(args.deck)
    system = system_for_deck(deck)
    ensure_plugin(verbose=True)
    model = resolve_model(args, store_system(args, system))
    steps = args.steps or round((args.length or system.default_length_ps) / system.timestep_ps)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    ensemble = "" if args.ensemble == "nvt" else f"-{args.ensemble}"
    folder = (Path(args.output) / f"{system.name}-{model.label}{ensemble}-{stamp}").resolve()
    folder.mkdir(parents=True)
    if args.ensemble == "nve" and not args.start_from:
        print(
            "lmp-bench: an NVE run from a built box converts its start-up strain into heat in "
            "the first 0.1 ps; start it from dataset frames (--start-from) for a drift that "
            "measures the model"
        )
    starts = test_frame_starts(args.start_from, args.replicas, args.seed) if args.start_from else {}
    if starts:  # one start structure per replica: distinct test frames of a dataset
        replica_variables = []
        for k, (_, start) in sorted(starts.items()):
            (folder / f"start-{k}").mkdir()
            replica_variables.append(
                system.prepare(folder / f"start-{k}", model, args.molecules, args.seed, start)
            )
    else:  # every replica from the same built box, with its own velocity seed
        replica_variables = [system.prepare(folder, model, args.molecules, args.seed)]
        replica_variables *= args.replicas
    watchdog = None
    if args.reference and system.rdf_pairs:
        save_rdf(reference_observables(Path(args.reference))[1], folder / "reference_rdf.npz")
        window = round(system.window_ps / (system.timestep_ps * system.dump_every))
        watchdog = WatchdogSpec(
            str(folder / "reference_rdf.npz"),
            list(system.type_species),
            system.rdf_threshold,
            window,
        )
    elif system.rdf_pairs:
        print(
            "lmp-bench: no --reference run given: the watchdog only stops on LAMMPS errors "
            "(NaN forces, lost atoms), not on a melted or frozen structure"
        )
    elif system.molecule and args.start_from:  # bonds and their lengths from the dataset
        watchdog = bond_watchdog(Path(args.start_from), folder / "reference_bonds.npz")
    manifest = {
        "system": system.name,
        "deck": str(deck),
        "model": model.label,
        "model_file": str(model.file) if model.file else None,
        "model_sha256": sha256_of(model.file) if model.file else None,
        "variant": model.variant if model.file is None else None,
        "molecules": args.molecules,
        "type_species": replica_variables[0].get("type_species", " ".join(system.type_species)),
        "steps": steps,
        "length_ps": steps * system.timestep_ps,
        "timestep_ps": system.timestep_ps,
        "ranks": args.ranks,
        "ensemble": args.ensemble,
        "device": model.device or args.device or "cpu",
        "reference": args.reference,
        "seeds": [args.seed + k for k in range(args.replicas)],
        "start_from": args.start_from,
        "start_frames": {str(k): index for k, (index, _) in starts.items()} or None,
        "versions": {
            "lammps": lammps_version(),
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "host": platform.node(),
        "replicas": [],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    ranks_each, at_once = replica_layout(args.replicas, args.ranks)
    manifest.update(ranks_per_replica=ranks_each, replicas_at_once=at_once)
    print(
        f"lmp-bench: {system.name} with {model.label}, {args.replicas} replica(s) of "
        f"{steps} steps ({steps * system.timestep_ps:g} ps), {at_once} at a time on "
        f"{ranks_each} rank(s) each -> {folder}"
    )
    jobs = [
        ReplicaJob(
            str(deck),
            {**replica_variables[k], "seed": str(seed), "ensemble": args.ensemble},
            steps,
            system.dump_every,
            system.timestep_ps,
            watchdog,
            f"replica {k + 1}/{args.replicas}",
        )
        for k, seed in enumerate(manifest["seeds"])
    ]
    for first in range(0, len(jobs), at_once):
        wave = range(first, min(first + at_once, len(jobs)))
        statuses = run_replicas([(jobs[k], folder / f"replica-{k}") for k in wave], ranks_each)
        for k, status in zip(wave, statuses, strict=True):
            seed = manifest["seeds"][k]
            manifest["replicas"].append(
                {"replica": f"replica-{k}", "seed": seed, **status.__dict__}
            )
            print(
                f"lmp-bench: replica {k + 1}: {status.state} after {status.time_ps:g} ps, "
                f"{status.steps_per_second:.1f} steps/s ({manifest['device']}, "
                f"{ranks_each} rank(s))" + (f": {status.reason}" if status.reason else "")
            )
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    print(f"lmp-bench: results in {folder}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from lmp_bench.evaluate import evaluate, format_table

    metrics = evaluate(Path(args.run), Path(args.reference))
    print(format_table(metrics))
    print(f"lmp-bench: metrics in {Path(args.run) / 'metrics.json'}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from lmp_bench.report import make_report

    speed = Path(args.speed) if args.speed else None
    page = make_report([Path(p) for p in args.runs], Path(args.output), speed)
    print(f"lmp-bench: report in {page} (tables/ .md .csv, figures/ .png .svg)")
    return 0


def cmd_data_make(args: argparse.Namespace) -> int:
    if args.system == "lips":
        return make_lips_stand_in(args)
    if args.system == "alanine":
        return make_alanine_stand_in(args)
    if args.system == "alanine-fes":
        return make_alanine_reference_fes(args)
    if args.system != "water":
        return make_molecule_stand_in(args)
    from lmp_bench.data.make_water import make_water_dataset

    out = Path(args.output or f"water-{args.molecules}-{args.variant}-{args.dataset}.h5")
    print(
        f"lmp-bench: classical reference, variant {args.variant} (default spcfw-mdsim: how "
        "the paper's water data was made) -> " + str(out)
    )
    data = make_water_dataset(
        out,
        out.with_suffix(".runs"),
        args.molecules,
        args.variant,
        args.dataset,
        args.frames,
        args.seed,
        args.equilibrate,
        args.ranks,
    )
    report_written(data, str(out))
    return 0


def report_written(data, where: str) -> None:
    """The one line every `data make` ends with: frames, split sizes, file(s)."""
    sizes = ", ".join(f"{name} {len(idx)}" for name, idx in data.splits.items())
    print(f"lmp-bench: {len(data)} frames ({sizes}) written to {where}")


def make_molecule_stand_in(args: argparse.Namespace) -> int:
    """MD17-like data offline: GFN2-xTB (tblite) MD at 500 K, named a stand-in."""
    try:
        from lmp_bench.data.make_molecule import SOURCE, make_molecule_dataset
    except ImportError as err:
        raise RuntimeError(
            f"the MD17 stand-in needs tblite ({err}): pip install tblite==0.8.0"
        ) from err
    frames = args.frames or 1000
    out = Path(args.output or f"{args.system}-xtb-{frames}.h5")
    print(f"lmp-bench: {SOURCE}; {frames} frames -> {out}")
    data = make_molecule_dataset(out, args.system.removeprefix("md17-"), frames, args.seed)
    report_written(data, str(out))
    return 0


def make_alanine_stand_in(args: argparse.Namespace) -> int:
    """Alanine dipeptide data as the paper made it: explicit-water AMBER-03 MD (OpenMM),
    forces on the 22 peptide atoms; named a stand-in."""
    try:
        from lmp_bench.data.make_alanine import SOURCE, make_alanine_dataset
    except ImportError as err:
        raise RuntimeError(f"the alanine data needs OpenMM ({err}): pip install openmm") from err
    frames = args.frames or 1000
    out = Path(args.output or f"alanine-openmm-{frames}.h5")
    print(f"lmp-bench: {SOURCE}; {frames} frames, one every 1 ps -> {out}")
    data = make_alanine_dataset(out, frames, args.seed)
    report_written(data, str(out))
    return 0


def make_alanine_reference_fes(args: argparse.Namespace) -> int:
    """The reference F(phi, psi) of an alanine dataset: well-tempered metadynamics of its
    classical force field (OpenMM), stored in the dataset file for `run` and `evaluate`."""
    from lmp_bench.data.alanine_fes import make_reference_fes

    if not args.output:
        raise ValueError(
            "data make alanine-fes adds the reference FES to an alanine dataset: "
            "name it with -o alanine.h5"
        )
    print(
        f"lmp-bench: well-tempered metadynamics of AMBER-03 ({args.solvent}), {args.ns} ns "
        f"-> {args.output} (group /reference_fes, written every 100 ps)"
    )
    start = time.perf_counter()
    make_reference_fes(Path(args.output), args.ns, args.seed, args.solvent)
    print(f"lmp-bench: reference FES of {args.ns} ns in {time.perf_counter() - start:.0f} s")
    return 0


def make_lips_stand_in(args: argparse.Namespace) -> int:
    """LiPS-like data offline: periodic GFN1-xTB (tblite) MD at 520 K, named a stand-in."""
    try:
        from lmp_bench.data.make_lips import SOURCE, make_lips_dataset
    except ImportError as err:
        raise RuntimeError(
            f"the LiPS stand-in needs tblite ({err}): pip install tblite==0.8.0"
        ) from err
    frames = args.frames or 100
    out = Path(args.output or f"lips-xtb-{frames}.h5")
    print(f"lmp-bench: {SOURCE}; {frames} frames (~7 an hour on one core) -> {out}")
    data = make_lips_dataset(out, frames, args.seed)
    report_written(data, f"{out} and {out.with_suffix('.xyz')}")
    return 0


def cmd_data_export(args: argparse.Namespace) -> int:
    from lmp_bench.data.formats import write_deepmd, write_extxyz
    from lmp_bench.data.frames_file import read_frames

    frames = read_frames(args.file)
    writer = {"extxyz": write_extxyz, "deepmd": write_deepmd}[args.format]
    print(f"lmp-bench: wrote {writer(frames, Path(args.output), args.split)}")
    return 0


def read_published(path: Path):
    """A published data file as a FrameSet: the paper's .npy (water), sGDML's MD17 .npz or
    lips.xyz."""
    from lmp_bench.data.formats import read_mdsim_npy, read_sgdml_npz
    from lmp_bench.data.frames_file import DataFileError
    from lmp_bench.data.lips import read_lips_xyz

    readers = {".npy": read_mdsim_npy, ".npz": read_sgdml_npz, ".xyz": read_lips_xyz}
    if path.suffix not in readers:
        raise DataFileError(
            f"{path}: import reads the paper's .npy files (water, alanine), sGDML MD17 .npz "
            "files and lips.xyz"
        )
    return readers[path.suffix](path)


def cmd_data_import(args: argparse.Namespace) -> int:
    from lmp_bench.data.frames_file import write_frames

    frames = read_published(Path(args.file))
    print(f"lmp-bench: {len(frames)} frames -> {write_frames(frames, Path(args.output))}")
    return 0


def cmd_data_fetch(args: argparse.Namespace) -> int:
    from lmp_bench.data.fetch import DATASETS, fetch
    from lmp_bench.data.frames_file import write_frames

    path = fetch(args.name, Path(args.folder))
    if DATASETS[args.name].sha256 is None:
        print(f"lmp-bench: {path}: no published checksum to verify; its sha256 is in {path}.sha256")
    if args.name.startswith("md17-") or args.name in ("water", "lips"):
        out = path.with_suffix(".h5")
        frames = read_published(path)
        print(f"lmp-bench: {len(frames)} frames -> {write_frames(frames, out)}")
    else:
        print(
            f"lmp-bench: fetched {path} ({DATASETS[args.name].units}); lmp-bench reads it "
            "with the benchmark of that system"
        )
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from lmp_bench.frameworks import framework, framework_name
    from lmp_bench.train.config import load_config
    from lmp_bench.train.trainer import train

    if args.resume:
        overrides = dict(item.split("=", 1) for item in args.set or [] if "=" in item)
        config = load_config(None, args.set)  # checks the overrides
        kept = {key: getattr(config, key) for key in overrides}
        recorded = json.loads((Path(args.resume) / "config.json").read_text())
        folder = train(recorded["data"], config, resume=Path(args.resume), overrides=kept)
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
    from lmp_bench.frameworks import framework, framework_of_path
    from lmp_bench.train.scores import score_line
    from lmp_bench.train.trainer import test_checkpoint

    name = framework_of_path(args.checkpoint)
    if name is not None:
        result = framework(name).test(Path(args.checkpoint), args.data, args.split)
    else:
        result = test_checkpoint(args.checkpoint, args.data, args.split)
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
        default=1,
        help="MPI ranks in all: replicas share them and run at once, each on its share "
        "(LAMMPS domain decomposition within a replica)",
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
        help="where the model runs (with cuda, MPI rank k takes GPU k mod the GPU count); "
        "default: the model file's own device, cpu for the models lmp-bench exports",
    )
    run.add_argument("--output", default="results", help="folder for result folders")
    run.set_defaults(handler=cmd_run)

    evaluate = commands.add_parser("evaluate", help="score a run folder against a reference")
    evaluate.add_argument("run", help="run folder written by lmp-bench run")
    evaluate.add_argument("--reference", required=True, help="reference run folder")
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
    exported.add_argument("checkpoint", help="checkpoint file or run folder (its best.pt)")
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
