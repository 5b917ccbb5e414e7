"""lmp-bench: benchmark machine-learning force fields by running them in LAMMPS."""

from lmp_bench.export import export

__version__ = "0.1.0"
__all__ = ["export"]
