"""Training settings: design.md's protocol as defaults, a file and the CLI on top.

Precedence: defaults (per dataset where design.md gives them) < --config file (TOML or
JSON) < --set key=value on the command line.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path


class ConfigError(ValueError):
    """A bad training setting; the message names it and what is allowed."""


@dataclass
class TrainConfig:
    model: str = "schnet"  # zoo name (lmp_bench.models.zoo)
    size: str = "paper"  # paper: the paper's hyperparameters; small: a tiny network
    arch: str = ""  # architecture settings over `size`: "name=value,name=value" (constructor)
    lr: float = 1e-3  # Adam, initial learning rate
    lr_factor: float = 0.8  # ReduceLROnPlateau factor
    lr_patience: int = 0  # epochs without improvement; 0: design.md's value for the dataset
    min_lr: float = 1e-6  # stop once the learning rate falls below this
    max_epochs: int = 0  # 0: design.md's value for the dataset
    max_minutes: float = 0.0  # wall-time budget, minutes; 0: none
    batch_size: int = 1  # frames per step (design.md: 1 for water and lips)
    force_weight: float = 1000.0  # loss = force_weight x force MSE + energy_weight x energy MSE
    energy_weight: float = 1.0
    grad_clip: float = 10.0  # gradient-norm clip (MDsim's clip_grad_norm)
    dtype: str = "float32"
    device: str = "cpu"
    seed: int = 0

    def to_dict(self) -> dict:
        return asdict(self)


# design.md's "Training defaults": (patience, max epochs) per dataset
DATASET_DEFAULTS = {
    "water-1k": (50, 10_000),
    "water-10k": (5, 2_000),
    "water-90k": (3, 400),
}
GENERIC_DEFAULTS = (5, 2_000)


def dataset_key(attributes: dict[str, str]) -> str:
    """'water-1k' etc. from a dataset file's attributes."""
    return f"{attributes.get('system', 'unknown')}-{attributes.get('dataset', '')}".rstrip("-")


def resolve_defaults(config: TrainConfig, attributes: dict[str, str]) -> TrainConfig:
    """Fill the dataset-dependent settings left at 0."""
    patience, epochs = DATASET_DEFAULTS.get(dataset_key(attributes), GENERIC_DEFAULTS)
    if config.lr_patience == 0:
        config.lr_patience = patience
    if config.max_epochs == 0:
        config.max_epochs = epochs
    return config


def parse_value(name: str, text: str, kind: type):
    try:
        if kind is bool:
            return text.lower() in ("1", "true", "yes")
        return kind(text)
    except ValueError as err:
        raise ConfigError(f"setting {name} needs a {kind.__name__}, got {text!r}") from err


def load_config(file: str | Path | None = None, overrides: list[str] | None = None) -> TrainConfig:
    """Defaults, then `file`, then `overrides` ('key=value' strings)."""
    kinds = {f.name: type(getattr(TrainConfig(), f.name)) for f in fields(TrainConfig)}
    values: dict = {}
    if file is not None:
        path = Path(file)
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        text = path.read_text()
        try:
            values.update(_parse_toml(text) if path.suffix == ".toml" else json.loads(text))
        except ValueError as err:  # JSONDecodeError and TOMLDecodeError are ValueErrors
            raise ConfigError(f"config file {path} cannot be parsed: {err}") from err
    for item in overrides or []:
        if "=" not in item:
            raise ConfigError(f"--set takes key=value, got {item!r}")
        key, text = item.split("=", 1)
        values[key.strip()] = text.strip()
    unknown = sorted(set(values) - set(kinds))
    if unknown:
        raise ConfigError(f"unknown training setting(s) {unknown}; known: {sorted(kinds)}")
    config = TrainConfig(
        **{
            key: parse_value(key, value, kinds[key])
            if isinstance(value, str) and kinds[key] is not str
            else value
            for key, value in values.items()
        }
    )
    check(config)
    return config


def _parse_toml(text: str) -> dict:
    try:
        import tomllib
    except ImportError as err:  # Python 3.10
        raise ConfigError("TOML config files need Python >= 3.11; use JSON") from err
    return tomllib.loads(text)


def architecture_settings(model: str, text: str) -> dict[str, int | float | bool]:
    """The `arch` setting ("hidden_channels=64,num_blocks=2") as constructor arguments of
    zoo model `model`; a ConfigError names an unknown argument and lists the known ones."""
    import inspect

    from lmp_bench.models.zoo import architecture

    known = inspect.signature(architecture(model).__init__).parameters
    settings: dict[str, int | float | bool] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in known or name in ("self", "species"):
            choices = sorted(set(known) - {"self", "species"})
            raise ConfigError(
                f"arch setting {item!r} of {model}: use name=value with name one of {choices}"
            )
        default = known[name].default
        kind = type(default) if default is not inspect.Parameter.empty else float
        settings[name] = parse_value(f"arch {name}", value.strip(), kind)
    return settings


def check(config: TrainConfig) -> None:
    from lmp_bench.models.zoo import canonical_name

    config.model = canonical_name(config.model)
    if config.size not in ("paper", "small"):
        raise ConfigError(f"size must be 'paper' or 'small', got {config.size!r}")
    architecture_settings(config.model, config.arch)
    if config.dtype not in ("float32", "float64"):
        raise ConfigError(f"dtype must be float32 or float64, got {config.dtype!r}")
    if config.device not in ("cpu", "cuda"):
        raise ConfigError(f"device must be cpu or cuda, got {config.device!r}")
    if config.batch_size < 1 or config.lr <= 0:
        raise ConfigError("batch_size must be >= 1 and lr > 0")
