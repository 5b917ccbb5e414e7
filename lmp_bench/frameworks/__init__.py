"""Models trained and deployed by their own frameworks: NequIP (``nequip``) and DeepPot-SE
(``deepmd-kit``). Each framework module offers the same few functions:

- ``train(data, settings, output) -> run folder`` (in the model store unless `output`)
- ``deployed_file(run) -> Path``: the file LAMMPS runs, made by the framework's own tools
- ``owns(path) -> bool``: whether a model file or run folder belongs to this framework
- ``species_of(file) -> tuple[str, ...]``: the chemical species the deployed file knows
- ``pair_lines(file, type_species) -> str``: the LAMMPS lines that run it
- ``test(path, data, split) -> dict``: energy/force MAE through the framework's own Python

A run folder holds ``metrics.csv`` with a ``val_force_mae_meV_per_A`` column, so the model
store picks the best run of every model the same way.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

FRAMEWORKS = {
    "nequip": "lmp_bench.frameworks.nequip",
    "deeppot-se": "lmp_bench.frameworks.deepmd",
}
ALIASES = {"deepmd": "deeppot-se", "deeppot": "deeppot-se", "dp": "deeppot-se"}


def framework_name(name: str) -> str | None:
    """The framework model called `name` ('nequip', 'deeppot-se' or an alias), else None."""
    key = name.lower()
    key = ALIASES.get(key, key)
    return key if key in FRAMEWORKS else None


def framework(name: str) -> ModuleType:
    canonical = framework_name(name)
    if canonical is None:
        raise LookupError(f"unknown framework model {name!r}: known {sorted(FRAMEWORKS)}")
    return importlib.import_module(FRAMEWORKS[canonical])


def framework_of_path(path: str | Path) -> str | None:
    """The framework a model file or run folder belongs to, or None (an lmp-bench file)."""
    for name in FRAMEWORKS:
        if framework(name).owns(Path(path)):
            return name
    return None
