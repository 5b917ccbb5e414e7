"""A PyTorch model of the lmp-bench interface as an ASE calculator.

How the paper's code (MDsim) runs MD: an ASE integrator calls the eager model every step,
with a fresh neighbour list. lmp-bench runs MD in LAMMPS instead; this calculator is the
other side of that comparison (benchmarks/md_speed.py) and lets users drive a zoo model
from ASE. Units: eV, eV/A, eV/A^3 (ASE's).
"""

from __future__ import annotations

import numpy as np
import torch
from ase.calculators.calculator import Calculator, all_changes

from lmp_bench.models.graph import evaluate


class ModelCalculator(Calculator):
    """Energy, forces and stress of `module` (species names in `module.species`) on `device`.

    The neighbour list (ASE's) is built on the CPU every call; the model runs on `device`
    in `dtype`. Stress is the virial over the volume (periodic cells only; zero for models
    that predict forces directly).
    """

    implemented_properties = ("energy", "free_energy", "forces", "stress")

    def __init__(
        self, module: torch.nn.Module, device: str = "cpu", dtype: torch.dtype = torch.float32
    ):
        super().__init__()
        self.module = module.to(device=device, dtype=dtype).eval()
        self.device, self.dtype = device, dtype
        self.species = list(module.species)

    def calculate(self, atoms=None, properties=("energy",), system_changes=all_changes) -> None:
        super().calculate(atoms, properties, system_changes)
        symbols = self.atoms.get_chemical_symbols()
        unknown = sorted(set(symbols) - set(self.species))
        if unknown:
            raise ValueError(
                f"the structure has element(s) {unknown} that the model's species "
                f"{self.species} do not include: use a model trained on this system"
            )
        result = evaluate(
            self.module,
            self.atoms.positions,
            np.array([self.species.index(s) for s in symbols]),
            self.atoms.cell.array,
            tuple(bool(p) for p in self.atoms.pbc),
            self.dtype,
            self.device,
        )
        self.results = {
            "energy": result["energy"],
            "free_energy": result["energy"],
            "forces": result["forces"],
        }
        if self.atoms.pbc.all():
            # LAMMPS-sign virial W = sum r (x) f; ASE stress = -W / V
            self.results["stress"] = -result["virial"].ravel()[[0, 4, 8, 5, 2, 1]] / (
                self.atoms.get_volume()
            )
