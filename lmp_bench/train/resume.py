"""Continue a stopped training from its run folder, changing only the settings named."""

from __future__ import annotations

import json
from pathlib import Path

from lmp_bench.train.config import load_config
from lmp_bench.train.trainer import train


def resume_training(folder: Path, settings: list[str]) -> Path:
    """Resume the training in `folder` on the dataset it recorded; `settings` ('key=value',
    as for --set) override those keys, every other setting comes from its checkpoint."""
    named = [item.split("=", 1)[0].strip() for item in settings if "=" in item]
    config = load_config(None, settings)  # checks the settings
    kept = {key: getattr(config, key) for key in named}
    recorded = json.loads((folder / "config.json").read_text())
    return train(recorded["data"], config, resume=folder, overrides=kept)
