"""Models: the interface every model follows, reference modules, Python evaluation."""

from lmp_bench.models.interface import ModelInterfaceError, model_properties, validate_model
from lmp_bench.models.reference import LennardJones, MessagePassingToy, StillingerWeber

__all__ = [
    "LennardJones",
    "MessagePassingToy",
    "ModelInterfaceError",
    "StillingerWeber",
    "model_properties",
    "validate_model",
]
