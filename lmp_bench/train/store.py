"""The user's model store: where `lmp-bench train` puts its runs and `--model <name>` finds
them. ``$LMP_BENCH_MODELS``, else ``$XDG_DATA_HOME/lmp-bench/models``, else
``~/.local/share/lmp-bench/models``; one folder per run, ``<system>/<model>/<run>/``."""

from __future__ import annotations

import csv
import os
from pathlib import Path


def store_root() -> Path:
    if os.environ.get("LMP_BENCH_MODELS"):
        return Path(os.environ["LMP_BENCH_MODELS"])
    data_home = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data_home) / "lmp-bench" / "models"


def best_validation(run: Path) -> float:
    """Lowest validation force MAE (meV/A) in a run's metrics.csv; inf if none."""
    path = run / "metrics.csv"
    if not path.is_file():
        return float("inf")
    with path.open() as stream:
        values = [float(row["val_force_mae_meV_per_A"]) for row in csv.DictReader(stream)]
    return min(values, default=float("inf"))


def best_run(system: str, model: str, marker: str = "best.pt") -> Path | None:
    """The run of `model` trained on `system` data with the lowest validation force MAE,
    among the runs holding a file named `marker` (a checkpoint or a deployed model)."""
    runs = [p.parent for p in (store_root() / system / model).glob(f"*/{marker}")]
    return min(runs, key=best_validation, default=None)
