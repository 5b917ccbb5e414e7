"""The model zoo: the paper's models, written from their papers in plain PyTorch.

Every model follows lmp_bench.models.interface (species, cutoff, num_layers, direct_forces;
``forward(species, edge_index, edge_vectors)``), so the same module trains in Python and
runs in LAMMPS through pair_style mlff. Constructor defaults are the paper's water
settings (Fu et al., Table 2 / MDsim configs, else the model paper); ``small(species)``
builds a tiny instance of the same architecture for tests and quick demonstrations.
"""

from __future__ import annotations

import importlib

import torch

# name -> "module:class"; imported on demand so one broken model cannot break the others.
ZOO: dict[str, str] = {
    "schnet": "lmp_bench.models.zoo.schnet:SchNet",
    "painn": "lmp_bench.models.zoo.painn:PaiNN",
    "dimenet++": "lmp_bench.models.zoo.dimenet:DimeNetPlusPlus",
    "spherenet": "lmp_bench.models.zoo.spherenet:SphereNet",
    "gemnet-t": "lmp_bench.models.zoo.gemnet:GemNetT",
    "gemnet-dt": "lmp_bench.models.zoo.gemnet:GemNetDT",
    "forcenet": "lmp_bench.models.zoo.forcenet:ForceNet",
}
ALIASES: dict[str, str] = {"gemnet": "gemnet-t", "dimenet": "dimenet++", "dpp": "dimenet++"}


class UnknownArchitectureError(LookupError):
    """A model name that is not in the zoo."""


def canonical_name(name: str) -> str:
    """Zoo name of `name` (aliases resolved, case-insensitive)."""
    key = ALIASES.get(name.lower(), name.lower())
    if key not in ZOO:
        known = ", ".join(sorted(ZOO) + [f"{a} (= {t})" for a, t in sorted(ALIASES.items())])
        raise UnknownArchitectureError(f"unknown model architecture {name!r}; the zoo has: {known}")
    return key


def architecture(name: str) -> type[torch.nn.Module]:
    """The model class of zoo name `name`."""
    module_name, class_name = ZOO[canonical_name(name)].split(":")
    return getattr(importlib.import_module(module_name), class_name)


def build(name: str, species: list[str], size: str = "paper", **overrides) -> torch.nn.Module:
    """A fresh model: the paper's hyperparameters (size 'paper') or the tiny test size."""
    cls = architecture(name)
    if size == "small":
        return cls.small(species, **overrides)
    if size != "paper":
        raise ValueError(f"size must be 'paper' or 'small', got {size!r}")
    return cls(species, **overrides)


def count_parameters(module: torch.nn.Module) -> int:
    """Trainable parameters (what the papers' tables count)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def zoo_table(species: list[str]) -> list[dict]:
    """One row per zoo model at the paper's size: what `lmp-bench models` prints."""
    rows = []
    for name in ZOO:
        model = build(name, species)
        rows.append(
            {
                "model": name,
                "forces": "direct" if getattr(model, "direct_forces", False) else "-dE/dx",
                "cutoff_A": model.cutoff,
                "layers": model.num_layers,
                "parameters": count_parameters(model),
            }
        )
    return rows
