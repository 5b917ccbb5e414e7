"""Well-tempered metadynamics through LAMMPS's COLVARS package (`fix colvars`).

Writes the COLVARS configuration (colvars + one `metadynamics` bias) and the LAMMPS line
that loads it. Parameters are given in the protocol's units (design.md: kJ/mol, radians
for dihedrals); COLVARS wants the energy unit of the LAMMPS `units` style in use and
degrees for angles, so the conversions happen here and nowhere else.

COLVARS conventions used (colvars reference manual, "metadynamics" and "Units"):

- hills are W exp(-(x - c)^2 / (2 sigma^2)); ``hillWidth`` is 2 sigma in grid points, so
  sigma = hillWidth x width / 2 with ``width`` the colvar's grid spacing;
- ``wellTempered on`` + ``biasTemperature`` = Delta T = (bias factor - 1) T: each new
  hill is scaled by exp(-V/(k Delta T)) and the scaled weight is what the
  ``.hills.traj`` file records;
- ``newHillFrequency`` is in MD steps; dihedrals are periodic over [-180, 180] degrees.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

# one kJ/mol in the energy unit of each LAMMPS units style COLVARS supports
KJ_PER_MOL_IN_UNITS = {
    "metal": 1.0 / 96.48533212,  # eV
    "real": 1.0 / 4.184,  # kcal/mol
}


@dataclass(frozen=True)
class Dihedral:
    """Torsion over four LAMMPS atom IDs (COLVARS: degrees in [-180, 180], periodic).

    `bins` sets the grid COLVARS stores the bias on (width = 360 / bins degrees)."""

    name: str
    atoms: tuple[int, int, int, int]
    bins: int = 60

    @property
    def width(self) -> float:
        return 360.0 / self.bins

    def sigma_in_colvar_units(self, sigma: float) -> float:
        """`sigma` in radians -> degrees, the unit COLVARS uses for angles."""
        return math.degrees(sigma)

    def block(self) -> str:
        groups = "".join(
            f"    group{i + 1} {{ atomNumbers {atom} }}\n" for i, atom in enumerate(self.atoms)
        )
        return (
            f"colvar {{\n  name {self.name}\n  width {self.width!r}\n"
            f"  lowerBoundary -180.0\n  upperBoundary 180.0\n"
            f"  dihedral {{\n{groups}  }}\n}}\n"
        )


@dataclass(frozen=True)
class Distance:
    """Distance between two LAMMPS atom IDs (Angstrom), with its bias grid
    [lower, upper] in steps of `width`. Keep the sampled range several sigma inside the
    grid: COLVARS treats hills near a soft boundary one by one (slow)."""

    name: str
    atoms: tuple[int, int]
    lower: float
    upper: float
    width: float = 0.02

    def sigma_in_colvar_units(self, sigma: float) -> float:
        return sigma

    def block(self) -> str:
        first, second = self.atoms
        return (
            f"colvar {{\n  name {self.name}\n  width {self.width!r}\n"
            f"  lowerBoundary {self.lower!r}\n  upperBoundary {self.upper!r}\n"
            f"  distance {{\n    group1 {{ atomNumbers {first} }}\n"
            f"    group2 {{ atomNumbers {second} }}\n  }}\n}}\n"
        )


Colvar = Dihedral | Distance


@dataclass(frozen=True)
class WellTemperedMetadynamics:
    """One well-tempered metadynamics bias on one or two colvars.

    height: initial Gaussian height, kJ/mol; sigma: Gaussian standard deviation in the
    colvar's protocol unit (radians for dihedrals, Angstrom for distances); pace: MD steps
    between hills; bias_factor gamma = (T + Delta T) / T; temperature: K (the thermostat's).
    Defaults are design.md's alanine dipeptide protocol.
    """

    colvars: tuple[Colvar, ...]
    height: float = 1.2
    sigma: float = 0.35
    pace: int = 500
    bias_factor: float = 6.0
    temperature: float = 300.0
    units: str = "metal"
    name: str = "metad"
    output_every: int = 0  # steps between COLVARS trajectory/state/PMF writes; 0: pace x 10

    def __post_init__(self):
        if self.units not in KJ_PER_MOL_IN_UNITS:
            raise ValueError(
                f"units {self.units!r}: COLVARS metadynamics here supports "
                f"{sorted(KJ_PER_MOL_IN_UNITS)}"
            )
        if not 1 <= len(self.colvars) <= 2:
            raise ValueError(f"1 or 2 colvars, got {len(self.colvars)}")
        if self.bias_factor <= 1.0:
            raise ValueError(f"bias factor must be > 1 (well-tempered), got {self.bias_factor}")

    @property
    def bias_temperature(self) -> float:
        """COLVARS's biasTemperature Delta T = (gamma - 1) T, K."""
        return (self.bias_factor - 1.0) * self.temperature

    @property
    def hill_weight(self) -> float:
        """Initial hill height in the LAMMPS energy unit (metal: eV)."""
        return self.height * KJ_PER_MOL_IN_UNITS[self.units]

    def hill_width(self) -> float:
        """COLVARS hillWidth = 2 sigma / width (grid points). It is one number for all
        colvars of the bias, so their sigma/width ratios must agree."""
        ratios = [2.0 * cv.sigma_in_colvar_units(self.sigma) / cv.width for cv in self.colvars]
        if not all(math.isclose(r, ratios[0], rel_tol=1e-12) for r in ratios):
            raise ValueError(f"hillWidth differs between colvars ({ratios}): match their widths")
        return ratios[0]

    def config(self) -> str:
        """The COLVARS configuration file's text."""
        every = self.output_every or 10 * self.pace
        names = " ".join(cv.name for cv in self.colvars)
        return (
            f"units {self.units}\n"
            f"colvarsTrajFrequency {every}\ncolvarsRestartFrequency {every}\n\n"
            + "".join(cv.block() for cv in self.colvars)
            + "\nmetadynamics {\n"
            f"  name {self.name}\n  colvars {names}\n"
            f"  hillWeight {self.hill_weight!r}\n  hillWidth {self.hill_width()!r}\n"
            f"  newHillFrequency {self.pace}\n"
            f"  wellTempered on\n  biasTemperature {self.bias_temperature!r}\n"
            f"  writeHillsTrajectory on\n}}\n"
        )

    def write(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.config())
        return path


def fix_colvars(
    config: str | Path,
    output_prefix: str | Path,
    thermostat: str,
    seed: int = 1966,
    fix_id: str = "colvars",
    group: str = "all",
) -> str:
    """The `fix colvars` line. `thermostat` is the ID of the thermostat fix (e.g. the
    `fix langevin`): COLVARS reads its target temperature from it (`tstat`), which the
    PMF it writes needs for the well-tempered factor (T + Delta T) / Delta T. It looks
    the fix up when this line runs, so the thermostat fix must be defined before it."""
    return (
        f"fix {fix_id} {group} colvars {config} output {output_prefix} "
        f"seed {seed} tstat {thermostat}\n"
    )


def hills_path(output_prefix: str | Path, bias: str = "metad") -> Path:
    """Where COLVARS writes the hills of bias `bias` (writeHillsTrajectory)."""
    return Path(f"{output_prefix}.colvars.{bias}.hills.traj")


def pmf_path(output_prefix: str | Path) -> Path:
    """Where COLVARS writes the PMF of the (single) metadynamics bias."""
    return Path(f"{output_prefix}.pmf")


def alanine_metadynamics(
    phi: tuple[int, int, int, int], psi: tuple[int, int, int, int], **overrides
) -> WellTemperedMetadynamics:
    """design.md's alanine dipeptide bias: phi (C-N-CA-C) and psi (N-CA-C-N) atom IDs."""
    return WellTemperedMetadynamics((Dihedral("phi", phi), Dihedral("psi", psi)), **overrides)
