"""The expected wall time of each stage of a bench plan, printed before any work starts.

From the scale's cost figures (measured on this project's 2-core CPU with ethanol: one
thread a job; larger molecules cost more) and the plan's numbers: every replica is assumed
to run its full length, so the MD figure is an upper bound (unstable replicas end at their
first broken bond)."""

from __future__ import annotations

import math

from lmp_bench.bench.scales import DEEPMD_STEPS_PER_S, PAPER_COSTS, ZOO_MODELS, scale_named

# GFN2-xTB stand-in frames an hour on one core (README, benchmarks/molecule_data.py)
STAND_IN_FRAMES_PER_HOUR = {
    "md17-ethanol": 75_000,
    "md17-naphthalene": 35_000,
    "md17-salicylic": 32_000,
    "md17-aspirin": 12_000,
}
TEST_S_PER_MODEL = 120.0  # 10,000 test frames through each model's own Python (rough)
MD17_TIMESTEP_PS = 0.0005
# design.md allows 2,000 epochs; training stops when lr < 1e-6, often far sooner (a guess)
PAPER_EPOCHS_PER_MODEL = 300
TRAIN_FRAMES = 9_500


def _packed(durations: list[float], width: int) -> float:
    """Wall time of jobs run `width` at a time, longest first (an estimate)."""
    lanes = [0.0] * max(1, width)
    for seconds in sorted(durations, reverse=True):
        lanes[lanes.index(min(lanes))] += seconds
    return max(lanes)


def setting(items: list[str], key: str) -> str | None:
    """The last value `key` is given in a model's `--set` items (later ones win)."""
    values = [item.split("=", 1)[1] for item in items if item.split("=", 1)[0] == key]
    return values[-1] if values else None


def training_seconds(items: list[str], model: str, train_frames: float) -> float:
    """A model's training time: its budget (checked between epochs: a tenth more), else
    its epochs at the paper size's cost per frame (deepmd: steps at its measured rate)."""
    minutes = setting(items, "max_minutes")
    if minutes and float(minutes) > 0:
        return 60 * 1.1 * float(minutes)
    if model == "deeppot-se":
        return int(setting(items, "numb_steps") or 4_000_000) / DEEPMD_STEPS_PER_S
    epochs = int(setting(items, "max_epochs") or PAPER_EPOCHS_PER_MODEL)
    return epochs * train_frames * PAPER_COSTS[model].train_s_per_frame


def stage_estimates(plan: dict, width: int) -> dict[str, float]:
    """{stage: seconds} for the whole plan on `width` jobs at once."""
    scale = scale_named(plan["scale"])
    models = plan["models"]
    costs = {m: scale.costs[m] for m in models}
    data = plan["data"]
    rate = STAND_IN_FRAMES_PER_HOUR.get(plan["system"], 12_000)
    estimates = {"data": 3600 * data["frames"] / rate if data["make"] else 0.0}
    train_frames = min(TRAIN_FRAMES, 0.475 * data.get("frames", 2 * TRAIN_FRAMES))
    # nequip-compile runs at the end of nequip's training job
    train = [
        training_seconds(plan["train_settings"][m], m, train_frames)
        + (costs[m].export_s if m == "nequip" else 0)
        for m in models
    ]
    estimates["train"] = _packed(train, width)
    test_frames = min(10_000, 0.5 * data.get("frames", 20_000))
    test = TEST_S_PER_MODEL * test_frames / 10_000 + 15  # 15 s: starting the process
    estimates["test"] = _packed([test] * len(models), width)
    estimates["export"] = _packed([costs[m].export_s for m in models if m in ZOO_MODELS], width)
    steps = math.ceil(plan["length_ps"] / MD17_TIMESTEP_PS)
    replicas = [steps / costs[m].md_steps_per_s for m in models for _ in range(plan["replicas"])]
    estimates["md"] = _packed(replicas, width)
    estimates["evaluate"] = 10.0 * len(models)
    estimates["report"] = 30.0
    return estimates
