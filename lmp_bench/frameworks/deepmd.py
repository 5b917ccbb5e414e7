"""DeepPot-SE through deepmd-kit (PyTorch backend): trained by ``dp --pt train``, frozen by
``dp --pt freeze``, run in LAMMPS by deepmd-kit's own plugin (``pair_style deepmd``) and
tested by deepmd's Python ``DeepPot``. lmp-bench only converts the data and writes the
input file.

Hyperparameters: the paper's (Fu et al., "Forces are not enough", code kyonofx/MDsim,
``deeppot_se/water1k/input.json``; the 10k and 90k files are the same): descriptor
``se_e2_a`` with sel [46, 92], rcut 6.0 A, rcut_smth 0.5 A, embedding [25, 50, 100],
axis_neuron 16; fitting net [240, 120, 60, 30, 10] with resnet_dt; exponential learning
rate 1e-3 -> 3.51e-8 (decay_steps 20000); loss prefactors energy 1 -> 400, force 1000 -> 1,
no virial; batch size 4; 4,000,000 steps. Every number can be overridden with
``--set key=value`` (keys: SETTINGS).

A run folder holds input.json, data/{train,val}/ (deepmd npy), train.log, freeze.log,
lcurve.out, deepmd's checkpoints, frozen_model.pth (what LAMMPS runs), lmp_bench.json
(provenance) and metrics.csv (one row: the frozen model on the val split).

Threads: deepmd reads OMP_NUM_THREADS, DP_INTRA_OP_PARALLELISM_THREADS and
DP_INTER_OP_PARALLELISM_THREADS (in `dp` and in LAMMPS). On cores busy with other work, set
them to 1: the small kernels of a DeepPot-SE model then run ~10x faster than with 2 threads.
"""

from __future__ import annotations

import copy
import csv
import dataclasses
import importlib.metadata
import json
import platform
import subprocess
import sys
import time
import zipfile
from functools import cache
from pathlib import Path

import numpy as np

from lmp_bench.train.scores import energy_scores, score_line

NAME = "deeppot-se"
DEPLOYED = "frozen_model.pth"

# The paper's deepmd input (MDsim deeppot_se/water1k/input.json), data paths filled in later.
PAPER_INPUT: dict = {
    "model": {
        "type_map": ["O", "H"],
        "descriptor": {
            "type": "se_e2_a",
            "sel": [46, 92],
            "rcut_smth": 0.5,
            "rcut": 6.0,
            "neuron": [25, 50, 100],
            "resnet_dt": False,
            "axis_neuron": 16,
            "seed": 1,
        },
        "fitting_net": {"neuron": [240, 120, 60, 30, 10], "resnet_dt": True, "seed": 1},
    },
    "learning_rate": {"type": "exp", "decay_steps": 20000, "start_lr": 0.001, "stop_lr": 3.51e-8},
    "loss": {
        "type": "ener",
        "start_pref_e": 1,
        "limit_pref_e": 400,
        "start_pref_f": 1000,
        "limit_pref_f": 1,
        "start_pref_v": 0,
        "limit_pref_v": 0,
    },
    "training": {
        "training_data": {"systems": ["data/train"], "batch_size": 4},
        "validation_data": {"systems": ["data/val"], "batch_size": 4, "numb_btch": 5},
        "numb_steps": 4000000,
        "seed": 10,
        "disp_file": "lcurve.out",
        "disp_freq": 2000,
        "save_freq": 1000000,
    },
}

# --set key -> (kind, places in the input JSON it sets)
_DESCRIPTOR, _FITTING = ("model", "descriptor"), ("model", "fitting_net")
_TRAINING = ("training",)
SETTINGS: dict[str, tuple[str, tuple[tuple[str, ...], ...]]] = {
    "numb_steps": ("int", (_TRAINING + ("numb_steps",),)),
    "batch_size": (
        "int",
        (
            _TRAINING + ("training_data", "batch_size"),
            _TRAINING + ("validation_data", "batch_size"),
        ),
    ),
    "numb_btch": ("int", (_TRAINING + ("validation_data", "numb_btch"),)),
    "disp_freq": ("int", (_TRAINING + ("disp_freq",),)),
    "save_freq": ("int", (_TRAINING + ("save_freq",),)),
    "seed": (
        "int",
        (_TRAINING + ("seed",), _DESCRIPTOR + ("seed",), _FITTING + ("seed",)),
    ),
    "type_map": ("words", (("model", "type_map"),)),
    "sel": ("ints", (_DESCRIPTOR + ("sel",),)),
    "rcut": ("float", (_DESCRIPTOR + ("rcut",),)),
    "rcut_smth": ("float", (_DESCRIPTOR + ("rcut_smth",),)),
    "neuron": ("ints", (_DESCRIPTOR + ("neuron",),)),
    "axis_neuron": ("int", (_DESCRIPTOR + ("axis_neuron",),)),
    "fitting_neuron": ("ints", (_FITTING + ("neuron",),)),
    "start_lr": ("float", (("learning_rate", "start_lr"),)),
    "stop_lr": ("float", (("learning_rate", "stop_lr"),)),
    "decay_steps": ("int", (("learning_rate", "decay_steps"),)),
    "start_pref_e": ("float", (("loss", "start_pref_e"),)),
    "limit_pref_e": ("float", (("loss", "limit_pref_e"),)),
    "start_pref_f": ("float", (("loss", "start_pref_f"),)),
    "limit_pref_f": ("float", (("loss", "limit_pref_f"),)),
}
METRICS = (
    "step",
    "val_energy_mae_meV",
    "val_energy_mae_meV_per_atom",
    "val_force_mae_meV_per_A",
    "train_seconds",
)


class DeepmdMissingError(RuntimeError):
    """deepmd-kit is not importable with the installed torch."""


def require_deepmd():
    """deepmd's ``DeepPot`` class; a clear error naming the setup command if unavailable."""
    from lmp_bench.frameworks.deepmd_setup import DEEPMD_VERSION, SETUP_COMMAND

    try:
        import deepmd.pt  # noqa: F401  (loads deepmd's PyTorch operators)
        from deepmd.infer import DeepPot
    except Exception as err:  # ImportError, or OSError/RuntimeError of a torch mismatch
        raise DeepmdMissingError(
            f"deepmd-kit (PyTorch backend) cannot be imported ({type(err).__name__}: {err}). "
            f"Install deepmd-kit {DEEPMD_VERSION} built for this torch with `{SETUP_COMMAND}`"
        ) from err
    return DeepPot


# --- settings and the input file ------------------------------------------------------


def _parse(key: str, kind: str, text: str):
    try:
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
        if kind == "ints":
            return [int(v) for v in text.replace(",", " ").split()]
        return text.replace(",", " ").split()  # words
    except ValueError as err:
        raise ValueError(f"setting {key}={text!r}: {err}") from err


def deepmd_input(settings: list[str], type_map: list[str]) -> dict:
    """The paper's input with `type_map` (the dataset's species) and `settings` applied."""
    config = copy.deepcopy(PAPER_INPUT)
    config["model"]["type_map"] = list(type_map)
    for item in settings:
        if "=" not in item:
            raise ValueError(f"setting {item!r} is not of the form key=value")
        key, text = (part.strip() for part in item.split("=", 1))
        if key not in SETTINGS:
            raise ValueError(
                f"unknown deeppot-se setting {key!r}: known settings are {sorted(SETTINGS)}"
            )
        kind, places = SETTINGS[key]
        value = _parse(key, kind, text)
        for place in places:
            node = config
            for name in place[:-1]:
                node = node[name]
            node[place[-1]] = copy.deepcopy(value)
    sel, type_map = config["model"]["descriptor"]["sel"], config["model"]["type_map"]
    if len(sel) != len(type_map):
        raise ValueError(
            f"sel {sel} needs one neighbour count per species of type_map {type_map}: "
            f"give --set sel=... with {len(type_map)} numbers"
        )
    return config


# --- training ----------------------------------------------------------------------------


def _dp_command() -> list[str]:
    """deepmd's `dp` command of this Python environment."""
    beside = Path(sys.executable).parent / "dp"
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "deepmd"]


def _run_logged(args: list[str], folder: Path, log_name: str) -> float:
    """Run `dp args` in `folder`, streaming its output to the terminal and to `log_name`;
    the seconds it took. A failure raises with the tail of the log."""
    command = [*_dp_command(), *args]
    start = time.perf_counter()
    with (folder / log_name).open("w") as log:
        log.write("$ " + " ".join(command) + "\n")
        log.flush()
        process = subprocess.Popen(
            command, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert process.stdout is not None
        for line in process.stdout:
            log.write(line)
            print(line, end="", flush=True)
        code = process.wait()
    if code != 0:
        tail = "\n".join((folder / log_name).read_text().splitlines()[-12:])
        raise RuntimeError(
            f"`dp {' '.join(args)}` failed (exit code {code}; log {folder / log_name}):\n{tail}"
        )
    return time.perf_counter() - start


def train(data: str | Path, settings: list[str], output: Path | None = None) -> Path:
    """Train DeepPot-SE on the dataset's train split (validated on val) with deepmd's own
    tools, freeze it and score it on val; returns the run folder."""
    from lmp_bench.data.formats import write_deepmd
    from lmp_bench.data.frames_file import read_frames
    from lmp_bench.frameworks.deepmd_setup import installed_version
    from lmp_bench.train.config import dataset_key
    from lmp_bench.train.store import store_root

    frames = read_frames(data)
    for split in ("train", "val"):
        if len(frames.splits.get(split, [])) == 0:
            raise ValueError(f"dataset {data} has no '{split}' split: make it with lmp-bench data")
    species = list(dict.fromkeys(str(s) for s in frames.species))
    config = deepmd_input(settings, species)
    missing = sorted(set(species) - set(config["model"]["type_map"]))
    if missing:
        raise ValueError(
            f"type_map {config['model']['type_map']} lacks the dataset's species {missing}"
        )
    require_deepmd()  # fail before making a run folder
    system = frames.attributes.get("system", "unknown")
    folder = output or store_root() / system / NAME / time.strftime("%Y%m%d-%H%M%S")
    folder = Path(folder).resolve()
    if folder.exists():
        raise ValueError(f"run folder {folder} already exists: give a new --output")
    folder.mkdir(parents=True)
    labels = frames
    if not np.isfinite(frames.energy).all():
        # forces-only data (alanine): deepmd's output statistics need energies, so it gets
        # zeros with the energy loss switched off; a constant per-type energy shift is all
        # they can set, and forces do not depend on it
        labels = dataclasses.replace(frames, energy=np.zeros_like(frames.energy))
        config["loss"]["start_pref_e"] = config["loss"]["limit_pref_e"] = 0
        print("lmp-bench: forces-only data: deepmd fits forces alone (energy loss off)")
    for split in ("train", "val"):
        write_deepmd(labels, folder / "data" / split, split)
    (folder / "input.json").write_text(json.dumps(config, indent=2) + "\n")
    record = {
        "model": NAME,
        "data": str(Path(data).resolve()),
        "dataset": dataset_key(frames.attributes),
        "system": system,
        "settings": list(settings),
        "versions": {
            "deepmd-kit": installed_version(),
            "torch": importlib.metadata.version("torch"),
            "python": platform.python_version(),
        },
    }
    (folder / "lmp_bench.json").write_text(json.dumps(record, indent=2) + "\n")
    print(
        f"lmp-bench: training DeepPot-SE (deepmd-kit) on {len(frames.splits['train'])} frames "
        f"of {data}, validating on {len(frames.splits['val'])} -> {folder}",
        flush=True,
    )
    seconds = _run_logged(["--pt", "train", "input.json"], folder, "train.log")
    _run_logged(["--pt", "freeze", "-o", DEPLOYED], folder, "freeze.log")
    result = evaluate(folder / DEPLOYED, frames, frames.splits["val"])
    with (folder / "metrics.csv").open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(METRICS)
        writer.writerow(
            (
                config["training"]["numb_steps"],
                result["energy_mae_meV"],
                result["energy_mae_meV_per_atom"],
                result["force_mae_meV_per_A"],
                round(seconds, 2),
            )
        )
    record["train_seconds"] = round(seconds, 2)
    record["val"] = result
    (folder / "lmp_bench.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"lmp-bench: trained in {seconds:.0f} s; frozen model on val: {score_line(result)}")
    return folder


# --- files -------------------------------------------------------------------------------


def deployed_file(run: Path) -> Path:
    """The frozen model of a run folder (or the file itself)."""
    run = Path(run)
    path = run / DEPLOYED if run.is_dir() else run
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: a deeppot-se run folder holds {DEPLOYED} once "
            "`dp --pt freeze` has run"
        )
    return path


def owns(path: Path) -> bool:
    """A ``.pth`` file (deepmd's PyTorch frozen-model suffix; lmp-bench writes .pt2/.pt, nequip
    .nequip.pt2/.nequip.pth) or a run folder holding frozen_model.pth."""
    path = Path(path)
    if path.is_dir():
        return (path / DEPLOYED).is_file()
    return path.suffix == ".pth" and not path.name.endswith(".nequip.pth")


def check_frozen_model(path: Path) -> Path:
    """`path` is a deepmd-kit PyTorch frozen model (a TorchScript archive of deepmd's model
    classes), else a ValueError that says what it is not."""
    if not path.is_file():
        raise FileNotFoundError(f"deepmd model file {path} does not exist")
    problem = ""
    if not zipfile.is_zipfile(path):
        problem = "it is not a TorchScript archive"
    else:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
        if not any("/code/__torch__/deepmd/" in name for name in names):
            problem = "it is a zip archive without deepmd-kit's TorchScript model code"
            if any(name.endswith("/data/aotinductor/") or "aotinductor" in name for name in names):
                problem = "it is an AOTInductor package (an lmp-bench or nequip .pt2 model)"
    if problem:
        raise ValueError(
            f"{path} is not a deepmd-kit frozen model ({problem}): --model deeppot-se takes a "
            f"{DEPLOYED} made by `dp --pt freeze` (e.g. by `lmp-bench train --model deeppot-se`)"
        )
    return path


@cache
def _deep_pot(path: str, mtime: float):
    DeepPot = require_deepmd()
    return DeepPot(path)


def deep_pot(path: Path):
    """deepmd's ``DeepPot`` for a frozen model (loaded once per file version)."""
    path = check_frozen_model(Path(path)).resolve()
    return _deep_pot(str(path), path.stat().st_mtime)


def ase_calculator(path: Path):
    """deepmd-kit's own ASE calculator on the frozen model: how deepmd users run MD in ASE,
    for the LAMMPS-vs-ASE speed comparison."""
    require_deepmd()
    from deepmd.calculator import DP

    return DP(model=str(check_frozen_model(deployed_file(path))))


def parameter_count(path: Path) -> int:
    import torch

    model = torch.jit.load(str(check_frozen_model(deployed_file(path))), map_location="cpu")
    return sum(p.numel() for p in model.parameters())


def species_of(file: Path) -> tuple[str, ...]:
    """The frozen model's type_map, as deepmd reads it."""
    return tuple(deep_pot(file).get_type_map())


def pair_lines(file: Path, type_species: tuple[str, ...]) -> str:
    """LAMMPS lines running `file` through deepmd's plugin for atom types `type_species`."""
    from lmp_bench.frameworks.deepmd_setup import SETUP_COMMAND, plugin_library

    known = species_of(file)
    missing = [s for s in type_species if s not in known]
    if missing:
        raise ValueError(
            f"deepmd model {file} knows species {list(known)} (its type_map) but this system "
            f"needs {list(type_species)} (missing {missing}): train one on this system's data "
            f"with `lmp-bench train --model deeppot-se --data <dataset.h5>`"
        )
    plugin = plugin_library()
    if plugin is None:
        raise DeepmdMissingError(
            f"deepmd-kit's LAMMPS plugin (libdeepmd_lmpplugin.so) is not installed: run "
            f"`{SETUP_COMMAND}`"
        )
    # the Python lammps module does not auto-load entry-point plugins: load it here
    return (
        f"plugin load {plugin}\n"
        f"pair_style deepmd {Path(file).resolve()}\n"
        f"pair_coeff * * {' '.join(type_species)}\n"
    )


def model_file(arg: str, system: str, device: str) -> Path:
    """The frozen model `--model arg` names: the store's best deeppot-se run on `system`
    data, or a file / run folder."""
    from lmp_bench.frameworks import framework_name
    from lmp_bench.frameworks.deepmd_setup import SETUP_COMMAND
    from lmp_bench.train.store import best_run, store_root

    if device != "cpu":
        raise ValueError(
            f"deeppot-se runs on the CPU here: `{SETUP_COMMAND}` builds deepmd-kit's CPU "
            "variant; use --device cpu"
        )
    if framework_name(arg) == NAME:
        run = best_run(system, NAME, DEPLOYED)
        if run is None:
            raise FileNotFoundError(
                f"no trained deeppot-se model for {system} in the model store "
                f"({store_root() / system / NAME}): train one with "
                f"`lmp-bench train --model deeppot-se --data <{system} dataset.h5>`"
            )
        return check_frozen_model(run / DEPLOYED)
    return check_frozen_model(deployed_file(Path(arg)))


# --- testing -----------------------------------------------------------------------------


def predict(file: Path, frames, indices: np.ndarray, chunk: int = 16):
    """deepmd's energies (T,) and forces (T, N, 3) for frames `indices`, through DeepPot."""
    dp = deep_pot(file)
    type_map = dp.get_type_map()
    species = [str(s) for s in frames.species]
    missing = sorted(set(species) - set(type_map))
    if missing:
        raise ValueError(
            f"deepmd model {file} (type_map {type_map}) cannot evaluate species {missing}"
        )
    atype = np.array([type_map.index(s) for s in species], dtype=np.int32)
    n = len(species)
    energies, forces = [], []
    for start in range(0, len(indices), chunk):
        part = indices[start : start + chunk]
        periodic = np.abs(frames.cell[part]).sum() > 0  # a molecule: no box (cells None)
        energy, force, _ = dp.eval(
            frames.positions[part].reshape(len(part), 3 * n),
            frames.cell[part].reshape(len(part), 9) if periodic else None,
            atype,
        )
        energies.append(np.asarray(energy).reshape(len(part)))
        forces.append(np.asarray(force).reshape(len(part), n, 3))
    return np.concatenate(energies), np.concatenate(forces)


def evaluate(file: Path, frames, indices: np.ndarray) -> dict:
    energy, forces = predict(file, frames, indices)
    energy_mae = 1000 * float(np.abs(energy - frames.energy[indices]).mean())
    return {
        "frames": len(indices),
        **energy_scores(energy_mae, len(frames.species)),
        "force_mae_meV_per_A": 1000 * float(np.abs(forces - frames.forces[indices]).mean()),
    }


def test(path: Path, data: str | Path, split: str = "test") -> dict:
    """Energy and force MAE of a frozen model (or run folder) on a split, through deepmd's
    Python DeepPot; the keys of lmp-bench's own test_checkpoint."""
    from lmp_bench.data.frames_file import read_frames

    file = check_frozen_model(deployed_file(Path(path)))
    frames = read_frames(data)
    indices = frames.splits.get(split)
    if indices is None or len(indices) == 0:
        raise ValueError(f"dataset {data} has no '{split}' split")
    result = evaluate(file, frames, indices)
    return {
        "checkpoint": str(file),
        "data": str(data),
        "split": split,
        "frames": result["frames"],
        "energy_mae_meV": result["energy_mae_meV"],
        "energy_mae_meV_per_atom": result["energy_mae_meV_per_atom"],
        "force_mae_meV_per_A": result["force_mae_meV_per_A"],
    }


test.__test__ = False  # not a pytest test when imported into a test module
