"""Built-in reference models, exported on first use into the user's cache."""

from __future__ import annotations

import hashlib
import inspect
import os
from collections.abc import Callable
from pathlib import Path

import torch

from lmp_bench.cache import cache_root
from lmp_bench.models.bonded import BondedOrganic
from lmp_bench.models.reference import LennardJones, MessagePassingToy, StillingerWeber

BUILTIN_MODELS: dict[str, Callable[[], torch.nn.Module]] = {
    "lj": LennardJones,  # argon, eps 0.0103 eV, sigma 3.405 A, cutoff 8.5 A
    "sw": StillingerWeber,  # silicon, original Stillinger-Weber parameters
    "mp-toy": MessagePassingToy,  # 2 message-passing layers, random fixed weights
    "ala-bonded": BondedOrganic,  # C H N O bonds found from distances: alanine test model
}


class UnknownModelError(LookupError):
    """A --model value that is neither a file nor a known model name."""


def builtin_model_file(name: str, device: str = "cpu") -> Path:
    """Path of the exported built-in model `name` (.pt2), exporting it if needed."""
    from lmp_bench.export import export

    if name not in BUILTIN_MODELS:
        raise UnknownModelError(
            f"unknown model {name!r}: give a model file (.pt2/.pt) or one of "
            f"{sorted(BUILTIN_MODELS)}"
        )
    key = _export_key(device)
    path = cache_root() / "models" / f"{name}-{device}-{key}.pt2"
    if not path.exists():
        print(
            f"lmp-bench: exporting built-in model {name!r} for {device} (about 30 s) ...",
            flush=True,
        )
        # per process: two runs exporting at once must not write the same partial file
        tmp = path.with_name(f"{path.stem}.{os.getpid()}.partial.pt2")
        export(BUILTIN_MODELS[name](), tmp, device=device)
        tmp.replace(path)
    return path


def _export_key(device: str) -> str:
    """Changes when the reference models, the export code, torch or the device change."""
    import importlib

    # the export package itself (the attribute lmp_bench.export is the function export)
    names = ["models.reference", "models.bonded", "models.deployed", "models.halo", "export"]
    names += ["export.graph", "export.halo"]
    modules = [importlib.import_module(f"lmp_bench.{name}") for name in names]
    digest = hashlib.sha256(f"{torch.__version__}|{device}".encode())
    for module in modules:
        digest.update(inspect.getsource(module).encode())
    return digest.hexdigest()[:12]


def resolve_model(model: str, device: str = "cpu") -> Path:
    """A --model argument (file path or built-in name) -> model file."""
    candidate = Path(model)
    if candidate.suffix in (".pt2", ".pt"):
        if not candidate.is_file():
            raise UnknownModelError(f"model file {candidate} does not exist")
        return candidate.resolve()
    return builtin_model_file(model, device)
