"""Checkpoints: everything needed to rebuild the trained model, test it, export it, or
resume training where it stopped (optimizer, scheduler and random states included)."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from lmp_bench.models.scaled import ScaledModel
from lmp_bench.models.zoo import build

FORMAT = "lmp-bench-checkpoint"


class CheckpointError(ValueError):
    """A missing or foreign checkpoint file."""


def save_checkpoint(state: dict, path: Path) -> None:
    """Write atomically: a kill mid-write leaves the previous checkpoint intact."""
    partial = path.with_name(path.name + ".partial")
    torch.save({"format": FORMAT, **state}, partial)
    os.replace(partial, path)


def load_checkpoint(path: str | Path) -> dict:
    path = Path(path)
    if path.is_dir():
        path = path / "best.pt"
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist: train one with `lmp-bench train`")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as err:  # torch raises several types for a corrupt file
        raise CheckpointError(f"{path} cannot be read as a checkpoint: {err}") from err
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an lmp-bench checkpoint")
    state["path"] = str(path)
    return state


def new_model(config: dict, species: list[str], scale: float, shifts: list[float]) -> ScaledModel:
    from lmp_bench.train.config import architecture_settings

    arch = architecture_settings(config["model"], config.get("arch", ""))  # older: no arch
    network = build(config["model"], species, size=config["size"], **arch)
    return ScaledModel(network, scale, shifts)


def model_from_checkpoint(state: dict) -> ScaledModel:
    """The trained model (weights of the checkpoint), in eval mode, float64 buffers kept."""
    model = new_model(state["config"], state["species"], state["scale"], state["shifts"])
    model.load_state_dict(state["model"])
    dtype = {"float32": torch.float32, "float64": torch.float64}[state["config"]["dtype"]]
    return model.to(dtype).eval()
