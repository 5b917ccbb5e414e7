"""What a `--model` value names: the system's classical reference, a nequip/deepmd model,
a trained zoo model from the model store, a built-in model or a model file.

One place decides this, so `lmp-bench run` and scripts that run models read the same
value the same way.
"""

from __future__ import annotations

from lmp_bench.data.water import check_variant
from lmp_bench.export import read_metadata
from lmp_bench.frameworks import framework, framework_name, framework_of_path
from lmp_bench.models.builtin import resolve_model as model_file_for
from lmp_bench.models.zoo import ALIASES, ZOO
from lmp_bench.systems import REFERENCE, Model
from lmp_bench.train.deploy import trained_model_file


def model_for_run(name: str, system: str, variant: str, device: str | None) -> Model:
    """The Model that `--model name` runs for `system` (the model store's system name);
    `variant` is the classical water variant of `--model reference`, `device` the
    `--device` asked for (None: cpu for new exports, else where the model file runs)."""
    if name == REFERENCE:
        return Model(None, variant=check_variant(variant))
    framework_found = framework_name(name) or framework_of_path(name)
    if framework_found is not None:
        tools = framework(framework_found)
        path = tools.model_file(name, system, device or "cpu")
        return Model(path, tools.species_of(path), framework=framework_found)
    if name.lower() in ZOO or name.lower() in ALIASES:
        path = trained_model_file(name, system, device or "cpu")
    else:
        path = model_file_for(name, device or "cpu")
    metadata = read_metadata(path)
    return Model(
        path,
        tuple(metadata["species"].split()),
        device=device or metadata.get("device", "cpu"),  # default: where the file runs
    )
