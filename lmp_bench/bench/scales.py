"""The two scales of `lmp-bench bench`: what each model is trained with, how long its
replicas run, and what that is expected to cost.

- ``paper``: design.md. Zoo models at the paper's size (the zoo's defaults), design.md's
  schedule (MD17: patience 5, up to 2,000 epochs, stop at lr < 1e-6); NequIP with the
  paper code's MD17 settings; DeepPot-SE with the paper's network and 4,000,000 steps;
  replicas of 300 ps.
- ``cpu``: the same protocol for a 2-core workstation. Every model gets the same
  wall-clock training budget (default 15 min) and a size whose 300 ps of ethanol take
  minutes, not hours, on one core: the zoo's paper architectures at about half width and
  at most half depth with MD17's 5 Å cutoff; NequIP with 3 layers and l_max 1 (paper 5
  and 3); DeepPot-SE at the paper's size (its cost on 9 atoms is deepmd-kit's per-step
  overhead, not its width) with its step count set to fill the budget. Replicas run the
  full 300 ps.

Cost figures are measurements on this project's 2-core CPU (one thread a job, float32,
AOTInductor files, ethanol, other work on the cores); they make the printed estimate,
nothing else. The paper-scale figures are rougher (nequip's and deepmd's guessed).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

ZOO_MODELS = ("schnet", "painn", "dimenet++", "spherenet", "gemnet-t", "gemnet-dt", "forcenet")
FRAMEWORK_MODELS = ("nequip", "deeppot-se")
ALL_MODELS = ZOO_MODELS + FRAMEWORK_MODELS

# cpu scale: the paper's architecture (size=paper) with these constructor arguments
CPU_ARCHITECTURES = {
    "schnet": "interactions=3,cutoff=5.0",
    "painn": "features=64,cutoff=5.0",
    "dimenet++": "hidden_channels=64,out_emb_channels=128,int_emb_size=32,num_blocks=2",
    "spherenet": "hidden_channels=64,out_emb_channels=128,int_emb_size=32,num_blocks=2",
    "gemnet-t": "emb_size_atom=64,emb_size_edge=64,emb_size_trip=32,emb_size_bil_trip=32,"
    "num_blocks=2",
    "gemnet-dt": "emb_size_atom=64,emb_size_edge=64,emb_size_trip=32,emb_size_bil_trip=32,"
    "num_blocks=2",
    "forcenet": "num_interactions=3,hidden_channels=64,decoder_hidden_channels=64,"
    "num_freqs=25,cutoff=5.0",
}
# MDsim's MD17 NequIP: 5 layers, l_max 3 (its compile alone took over 25 min here, and
# l_max 2 ran 320 steps/s against 1,380 for l_max 1)
CPU_NEQUIP = ["num_layers=3", "l_max=1"]
# DeepPot-SE's training steps per second on ethanol (batch 4, one thread, 2026-11-30): its
# budget in steps, since deepmd-kit has no wall-clock limit
DEEPMD_STEPS_PER_S = 16.0


@dataclass(frozen=True)
class ModelCost:
    """Measured on the 2-core CPU (one thread, ethanol): seconds to export the model file,
    LAMMPS steps/s of MD, and seconds per training frame (paper scale's estimate)."""

    export_s: float
    md_steps_per_s: float
    train_s_per_frame: float = 0.0


@dataclass(frozen=True)
class Scale:
    name: str
    length_ps: float  # per replica
    train_minutes: float | None  # the same budget for every model; None: design.md's rules
    costs: dict[str, ModelCost] = field(default_factory=dict)


CPU_COSTS = {  # 2026-11-30, the cpu architectures above, AOTInductor float32, ethanol
    "schnet": ModelCost(170, 3000),
    "painn": ModelCost(250, 1580),
    "dimenet++": ModelCost(150, 450),
    "spherenet": ModelCost(180, 380),
    "gemnet-t": ModelCost(150, 530),
    "gemnet-dt": ModelCost(70, 750),
    "forcenet": ModelCost(175, 2650),
    "nequip": ModelCost(60, 1380),  # nequip-compile runs at the end of its training job
    "deeppot-se": ModelCost(0, 87),  # deepmd-kit's own LAMMPS plugin; no export
}
PAPER_COSTS = {
    "schnet": ModelCost(120, 1450, 0.008),
    "painn": ModelCost(120, 700, 0.013),
    "dimenet++": ModelCost(150, 87, 0.062),
    "spherenet": ModelCost(150, 80, 0.063),
    "gemnet-t": ModelCost(90, 97, 0.066),
    "gemnet-dt": ModelCost(90, 150, 0.038),
    "forcenet": ModelCost(120, 700, 0.012),
    "nequip": ModelCost(1800, 60, 0.15),  # rough: its compile did not end in 25 min
    "deeppot-se": ModelCost(0, 87, 0.06),
}
SCALES = {
    "cpu": Scale("cpu", 300.0, 15.0, CPU_COSTS),
    "paper": Scale("paper", 300.0, None, PAPER_COSTS),
}


def scale_named(name: str) -> Scale:
    if name not in SCALES:
        raise ValueError(f"unknown scale {name!r}: use one of {sorted(SCALES)}")
    return SCALES[name]


def deepmd_sel(species: list[str]) -> str:
    """DeepPot-SE's neighbour counts per type for one molecule: every atom of each species
    (in type_map order, the dataset's first appearance) can be a neighbour."""
    counts = Counter(species)
    return ",".join(str(counts[s]) for s in dict.fromkeys(species))


def train_settings(scale: Scale, model: str, species: list[str]) -> list[str]:
    """The `--set key=value` items that train `model` at `scale` on a molecule made of
    `species` (one entry per atom): the scale's sizes, and its wall-clock budget if any."""
    cpu, minutes = scale.name == "cpu", scale.train_minutes
    budget = [f"max_minutes={minutes:g}"] if minutes else []
    if model in ZOO_MODELS:
        return ["size=paper", *([f"arch={CPU_ARCHITECTURES[model]}"] if cpu else []), *budget]
    if model == "nequip":
        return [*(CPU_NEQUIP if cpu else []), *budget]
    if model == "deeppot-se":
        sel = f"sel={deepmd_sel(species)}"
        if not minutes:
            return [sel]
        steps = int(DEEPMD_STEPS_PER_S * 60 * minutes)
        # the learning rate decays from 1e-3 to 3.51e-8 over the steps, as in the paper
        decay = max(1, steps // 200)
        return [sel, f"numb_steps={steps}", f"decay_steps={decay}", f"save_freq={steps}"]
    raise ValueError(f"unknown model {model!r}: the bench runs {', '.join(ALL_MODELS)}")
