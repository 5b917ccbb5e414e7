"""Observables as compute objects (freud style): parameters in the constructor,
``compute(frames)`` returns self, results as properties, ``plot(ax)``.

NumPy and freud only: observables never import LAMMPS or torch.
"""

from lmp_bench.observables.diffusivity import Diffusivity
from lmp_bench.observables.distances import BondStability, DistanceHistogram
from lmp_bench.observables.energy import EnergyDrift
from lmp_bench.observables.fes import FreeEnergySurface
from lmp_bench.observables.frames import Frames
from lmp_bench.observables.plumed import read_plumed_fes, read_plumed_hills
from lmp_bench.observables.rdf import RDF
from lmp_bench.observables.readers import read_lammps_dump
from lmp_bench.observables.stability import RDFStability

__all__ = [
    "RDF",
    "BondStability",
    "Diffusivity",
    "DistanceHistogram",
    "EnergyDrift",
    "Frames",
    "FreeEnergySurface",
    "RDFStability",
    "read_lammps_dump",
    "read_plumed_fes",
    "read_plumed_hills",
]
