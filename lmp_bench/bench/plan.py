"""What a bench run is (plan.json) and where everything of it lives (one folder).

The plan is fixed by the first call: which data, which models, their training settings,
replicas and length. A later call in the same folder continues that plan; options it
leaves out are taken from the plan, and options that contradict the plan are refused
(changing them would mix two benchmarks in one table).
"""

from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path

from lmp_bench.bench.scales import (
    ALL_MODELS,
    FRAMEWORK_MODELS,
    ZOO_MODELS,
    scale_named,
    train_settings,
)

PLAN_FILE = "plan.json"
STAND_IN_FRAMES = 20_000  # design.md's MD17 splits: 9,500 train, 500 val, 10,000 test
# what a git commit of the bench folder leaves out: large and remade from the rest
GITIGNORE = """# written by lmp-bench bench: large files that the metrics do not need
*.lammpstrj
*.h5
*.h5.partial
*.pt
*.pt2
*.pth
*.ckpt
*.xyz
*.npy
*.partial
train/*/data/
# LAMMPS's own log: ~4 MB a 300-ps replica (a `run` per 100-step chunk); status.json and
# metrics.json keep what it measures
log.lammps
"""


@dataclass(frozen=True)
class BenchOptions:
    """What `lmp-bench bench` was asked for (see its --help); None: the plan's value when
    the folder has a plan, else the scale's default."""

    system: str  # md17-<molecule>
    scale: str  # cpu | paper
    models: str | None = None  # "all" or a comma list
    output: str | None = None  # bench folder; default bench/<system>-<scale>
    data: str | None = None  # a dataset file to use instead of the fetched or stand-in one
    frames: int | None = None  # stand-in frames
    replicas: int | None = None
    length: float | None = None  # ps per replica
    train_minutes: float | None = None  # cpu scale: training budget per model
    export: str | None = None  # pt2 (AOTInductor) | pt (TorchScript pieces)
    set: list[str] | None = None  # MODEL:KEY=VALUE or zoo:KEY=VALUE training settings
    seed: int | None = None
    device: str | None = None  # zoo training: cpu | cuda; default cuda when torch sees a GPU
    jobs: int | None = None  # jobs at once; default: the CPU cores
    heartbeat: float = 300.0  # seconds between progress lines of running jobs


class BenchFolder:
    """The layout of a bench folder."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()

    plan = property(lambda self: self.root / PLAN_FILE)
    state = property(lambda self: self.root / "state.json")
    data = property(lambda self: self.root / "data")
    logs = property(lambda self: self.root / "logs")
    report = property(lambda self: self.root / "report")
    runs = property(lambda self: self.root / "runs")

    def train(self, model: str) -> Path:
        return self.root / "train" / model

    def exported(self, model: str, suffix: str) -> Path:
        """Where a zoo model's exported file goes."""
        return self.root / "models" / f"{model}.{suffix}"

    def run_parent(self, model: str) -> Path:
        return self.runs / model

    def log(self, stage: str, name: str) -> Path:
        return self.logs / f"{stage}-{name.replace(' ', '-')}.log"


def parse_models(text: str) -> list[str]:
    """'all', or a comma list of the bench's model names (aliases of the zoo and the
    frameworks accepted), in the bench's order."""
    from lmp_bench.frameworks import framework_name
    from lmp_bench.models.zoo import ALIASES

    if text.strip().lower() == "all":
        return list(ALL_MODELS)
    chosen = []
    for item in filter(None, (part.strip().lower() for part in text.split(","))):
        name = framework_name(item) or ALIASES.get(item, item)
        if name not in ALL_MODELS:
            raise ValueError(
                f"unknown model {item!r}: --models takes 'all' or some of {', '.join(ALL_MODELS)}"
            )
        chosen.append(name)
    if not chosen:
        raise ValueError("--models names no model: give 'all' or a comma list")
    return [m for m in ALL_MODELS if m in chosen]


def model_settings(items: list[str], models: list[str]) -> dict[str, list[str]]:
    """--set MODEL:KEY=VALUE (or zoo:KEY=VALUE for every zoo model) as {model: items}."""
    from lmp_bench.frameworks import framework_name
    from lmp_bench.models.zoo import ALIASES

    settings: dict[str, list[str]] = {m: [] for m in models}
    for item in items:
        target, sep, setting = item.partition(":")
        if not sep or "=" not in setting:
            raise ValueError(
                f"--set {item!r}: use MODEL:KEY=VALUE (e.g. schnet:max_epochs=10) or "
                "zoo:KEY=VALUE for every zoo model"
            )
        target = target.strip().lower()
        if target == "zoo":
            names = [m for m in models if m in ZOO_MODELS]
        else:
            name = framework_name(target) or ALIASES.get(target, target)
            if name not in models:
                raise ValueError(f"--set {item!r}: {target} is not among the models {models}")
            names = [name]
        for name in names:
            settings[name].append(setting.strip())
    return settings


def choose_data(options: BenchOptions, folder: BenchFolder, frames: int) -> dict:
    """The dataset of a new plan: --data, else the fetched file (`lmp-bench data fetch`
    writes data/md17_<molecule>.h5), else a GFN2-xTB stand-in made in the bench folder."""
    molecule = options.system.removeprefix("md17-")
    if options.data:
        path = Path(options.data).resolve()
        if not path.is_file():
            raise FileNotFoundError(f"--data {options.data} does not exist")
        return {"path": str(path), "source": "given (--data)", "make": False}
    fetched = Path("data") / f"md17_{molecule}.h5"
    if fetched.is_file():
        return {"path": str(fetched.resolve()), "source": "published MD17 (fetched)", "make": False}
    path = folder.data / f"{options.system}-xtb-{frames}.h5"
    return {
        "path": str(path),
        "source": f"GFN2-xTB stand-in, {frames} frames (no {fetched} from "
        f"`lmp-bench data fetch {options.system}`)",
        "make": True,
        "frames": frames,
    }


def new_plan(options: BenchOptions, folder: BenchFolder) -> dict:
    """The plan of a first call."""
    scale = scale_named(options.scale)
    models = parse_models(options.models or "all")
    export = options.export or "pt2"
    check_export(export)
    frames = options.frames or STAND_IN_FRAMES
    data = choose_data(options, folder, frames)
    species = molecule_species(options.system, data["path"] if not data["make"] else None)
    if not data["make"]:
        data["frames"] = dataset_frames(data["path"])
    minutes = options.train_minutes if options.train_minutes is not None else scale.train_minutes
    scale = scale.__class__(scale.name, scale.length_ps, minutes, scale.costs)
    extra = model_settings(options.set or [], models)
    device = options.device or training_device()
    if device == "cuda":  # before --set, which may say otherwise; MD stays on the CPU cores
        extra = {m: (["device=cuda"] if m in ZOO_MODELS else []) + extra[m] for m in models}
    return {
        "system": options.system,
        "scale": options.scale,
        "models": models,
        "data": data,
        "replicas": options.replicas or 5,
        "length_ps": options.length if options.length is not None else scale.length_ps,
        "seed": options.seed if options.seed is not None else 4928,
        "export": export,
        "train_minutes": minutes,
        "device": device,
        "train_settings": {m: train_settings(scale, m, species) + extra[m] for m in models},
        "set": list(options.set or []),  # as given, so that the same command continues it
        "created": time.strftime("%Y-%m-%d %H:%M:%S"),
        "host": platform.node(),
    }


def load_or_make_plan(options: BenchOptions, folder: BenchFolder) -> tuple[dict, bool]:
    """(plan, new): the folder's plan, checked against the options given, or a new one
    (written)."""
    if folder.plan.is_file():
        plan = json.loads(folder.plan.read_text())
        check_same_plan(plan, options, folder)
        return plan, False
    plan = new_plan(options, folder)
    folder.root.mkdir(parents=True, exist_ok=True)
    (folder.root / ".gitignore").write_text(GITIGNORE)
    write_json(folder.plan, plan)
    return plan, True


def check_same_plan(plan: dict, options: BenchOptions, folder: BenchFolder) -> None:
    asked = {
        "system": options.system,
        "scale": options.scale,
        "models": parse_models(options.models) if options.models else None,
        "replicas": options.replicas,
        "length_ps": options.length,
        "seed": options.seed,
        "export": options.export,
        "train_minutes": options.train_minutes,
        "device": options.device,
    }
    differ = [
        f"{key} {plan[key]!r} (asked: {value!r})"
        for key, value in asked.items()
        if value is not None and plan.get(key) != value
    ]
    if options.data and Path(options.data).resolve() != Path(plan["data"]["path"]):
        differ.append(f"data {plan['data']['path']} (asked: {options.data})")
    if options.set is not None and list(options.set) != plan.get("set", []):
        differ.append(f"--set {' '.join(plan.get('set', [])) or '(none)'}")
    if options.frames is not None and options.frames != plan["data"].get("frames"):
        differ.append(f"stand-in frames {plan['data'].get('frames')} (asked: {options.frames})")
    if differ:
        raise ValueError(
            f"{folder.root} holds a bench planned with " + "; ".join(differ) + ". Leave "
            "those options out to continue it, or give another --output for a new bench"
        )


def check_export(export: str) -> None:
    if export not in ("pt2", "pt"):
        raise ValueError(f"--export must be pt2 (AOTInductor) or pt (TorchScript), not {export}")


def dataset_frames(path: str) -> int:
    import h5py

    with h5py.File(path, "r") as data:
        return int(data["positions"].shape[0])


def molecule_species(system: str, dataset: str | None) -> list[str]:
    """Species of each atom: the dataset's, or for a stand-in not yet made, the built
    molecule's (the stand-in keeps its atom order)."""
    if dataset is not None:
        from lmp_bench.data.frames_file import read_frames

        return [str(s) for s in read_frames(dataset).species]
    from lmp_bench.data.molecules import start_geometry

    return start_geometry(system.removeprefix("md17-")).get_chemical_symbols()


def training_device() -> str:
    """cuda when torch sees a GPU (zoo models train there; nequip's Lightning picks it by
    itself), else cpu."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def default_folder(options: BenchOptions) -> BenchFolder:
    return BenchFolder(Path(options.output or Path("bench") / f"{options.system}-{options.scale}"))


def default_jobs(options: BenchOptions) -> int:
    if options.jobs is not None:
        if options.jobs < 1:
            raise ValueError(f"--jobs must be at least 1, got {options.jobs}")
        return options.jobs
    return max(1, len(os.sched_getaffinity(0)))


def framework_models(plan: dict) -> list[str]:
    return [m for m in plan["models"] if m in FRAMEWORK_MODELS]


def write_json(path: Path, payload: dict) -> None:
    """Atomically: a kill mid-write leaves the previous file."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(payload, indent=2) + "\n")
    partial.replace(path)
