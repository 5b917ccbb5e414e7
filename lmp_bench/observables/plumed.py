"""PLUMED's metadynamics files, NumPy only: HILLS (METAD's hills) and `sum_hills` grids.

Both are PLUMED tables: `#! FIELDS name ...` names the columns, `#! SET key value` gives
constants (periodic domains as `min_<cv>`/`max_<cv>`, `multivariate`, `kerneltype`), and a
restarted run appends a new header before its rows.

Conventions kept here (read from PLUMED's MetaD, Grid and sum_hills):
- well-tempered heights are written already scaled by biasf/(biasf - 1), so F = -sum of the
  hills (`Hills.convention = "plumed"`), with no further factor;
- the files record no energy unit (UNITS in plumed.dat sets it, kJ/mol by default), so the
  caller names it and heights are stored in kJ/mol;
- `sum_hills` writes F on grid points at bin edges, min + i (max - min)/bins: `bins` points
  for a periodic CV, `bins` + 1 (its header's nbins) otherwise. lmp-bench's own grid uses
  bin centres, half a bin away, so compare a published fes.dat with hills evaluated on the
  fes.dat's own axes: `FreeEnergySurface(reference.axes).compute(hills)`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lmp_bench.observables.fes import KERNELS, KJ_PER_MOL, Axis, FreeEnergySurface, Hills

# columns MetaD writes besides the CVs and their sigmas
HILL_BOOKKEEPING = ("time", "height", "biasf", "clock", "lower_int", "upper_int")
PI_MULTIPLE = re.compile(r"^([+-]?)(\d+\.?\d*|\.\d+)?\*?pi(?:/(\d+\.?\d*|\.\d+))?$")


@dataclass
class PlumedTable:
    """One header's worth of a PLUMED file: column names, `#! SET` constants, rows."""

    fields: list[str]
    constants: dict[str, str] = field(default_factory=dict)
    rows: list[list[float]] = field(default_factory=list)

    def column(self, name: str) -> np.ndarray:
        return np.asarray(self.rows, dtype=float)[:, self.fields.index(name)]


def plumed_number(text: str) -> float:
    """A bound as PLUMED writes it in a header: a number, or a multiple of pi ("-pi", "2pi",
    "pi/2", "2*pi")."""
    match = PI_MULTIPLE.match(text.strip().lower())
    if match:
        sign, factor, divisor = match.groups()
        value = float(factor or 1.0) * math.pi / float(divisor or 1.0)
        return -value if sign == "-" else value
    try:
        return float(text)
    except ValueError:
        raise ValueError(
            f"cannot read {text!r} as a number: PLUMED bounds are numbers or multiples of pi"
        ) from None


def read_plumed_tables(path: str | Path) -> list[PlumedTable]:
    """Every header-and-rows section of a PLUMED file, in file order (a restart appends one)."""
    tables: list[PlumedTable] = []
    pending: dict[str, str] = {}  # SET lines seen before their FIELDS line
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        words = line.split()
        if not words:
            continue
        if words[:2] == ["#!", "FIELDS"]:
            tables.append(PlumedTable(words[2:], pending))
            pending = {}
        elif words[:2] == ["#!", "SET"] and len(words) >= 4:
            in_header = tables and not tables[-1].rows
            (tables[-1].constants if in_header else pending)[words[2]] = words[3]
        elif words[0].startswith("#"):
            continue
        elif not tables:
            raise ValueError(
                f"{path}:{number}: data before any '#! FIELDS' header: not a PLUMED file"
            )
        elif len(words) != len(tables[-1].fields):
            raise ValueError(
                f"{path}:{number}: {len(words)} values but '#! FIELDS' names "
                f"{len(tables[-1].fields)} ({' '.join(tables[-1].fields)}); a truncated last "
                "line (a killed run) can be deleted"
            )
        else:
            try:
                tables[-1].rows.append([float(word) for word in words])
            except ValueError:
                raise ValueError(f"{path}:{number}: non-numeric value in {line!r}") from None
    return tables


def check_energy_unit(energy_unit: str) -> float:
    """kJ/mol per unit of `energy_unit`, or an error naming the choices."""
    if energy_unit not in KJ_PER_MOL:
        raise ValueError(
            f"energy_unit {energy_unit!r} is not one of {sorted(KJ_PER_MOL)}: pass the energy "
            "unit of the run's plumed.dat (UNITS ENERGY=...; PLUMED's default is kJ/mol)"
        )
    return KJ_PER_MOL[energy_unit]


def hill_cvs(table: PlumedTable, path: str | Path) -> list[str]:
    """The CV columns of a HILLS header, after checking it describes diagonal hills."""
    if table.constants.get("multivariate", "false") != "false":
        raise ValueError(
            f"{path} holds multivariate hills (#! SET multivariate "
            f"{table.constants['multivariate']}: ADAPTIVE=DIFF/GEOM, a sigma matrix per hill); "
            "only diagonal hills (one sigma_<cv> column per CV) are supported"
        )
    for needed in ("time", "height"):
        if needed not in table.fields:
            raise ValueError(f"{path}: no {needed!r} column in '#! FIELDS': not a METAD HILLS file")
    cvs = [
        name
        for name in table.fields
        if name not in HILL_BOOKKEEPING and not name.startswith("sigma_")
    ]
    if not cvs:
        raise ValueError(f"{path}: '#! FIELDS' names no CV column")
    for cv in cvs:
        if f"sigma_{cv}" not in table.fields:
            raise ValueError(
                f"{path}: no sigma_{cv} column for CV {cv}; a multivariate file (columns like "
                f"sigma_{cv}_{cv}) is not supported: only one sigma per CV"
            )
    return cvs


def hill_periods(table: PlumedTable, cvs: list[str], path: str | Path) -> tuple[float | None, ...]:
    """max - min of each periodic CV (its `#! SET min_<cv>`/`max_<cv>`), None if not periodic."""
    periods = []
    for cv in cvs:
        low, high = table.constants.get(f"min_{cv}"), table.constants.get(f"max_{cv}")
        if (low is None) != (high is None):
            raise ValueError(f"{path}: CV {cv} has only one of min_{cv}, max_{cv} in its header")
        periods.append(None if low is None else plumed_number(high) - plumed_number(low))
    return tuple(periods)


def read_plumed_hills(path: str | Path, energy_unit: str = "kJ/mol") -> Hills:
    """A PLUMED METAD HILLS file (restarts appended) as `Hills` with convention "plumed":
    centres and sigmas in PLUMED's CV units (radians for torsions), heights converted from
    `energy_unit` (kJ/mol, kcal/mol or eV: the run's UNITS) to kJ/mol, time as written (ps
    unless UNITS TIME changed it). Kernel:
    the file's `kerneltype`; a file without one predates PLUMED 2.8, whose hills were plain
    Gaussians."""
    to_kj = check_energy_unit(energy_unit)
    tables = [table for table in read_plumed_tables(path) if table.rows]
    if not tables:
        raise ValueError(f"{path} holds no hills")
    cvs = hill_cvs(tables[0], path)
    periods = hill_periods(tables[0], cvs, path)
    kernel = tables[0].constants.get("kerneltype", "gaussian")
    for table in tables[1:]:
        if hill_cvs(table, path) != cvs or hill_periods(table, cvs, path) != periods:
            raise ValueError(f"{path}: a restart header names other CVs or periods than {cvs}")
        if table.constants.get("kerneltype", "gaussian") != kernel:
            raise ValueError(f"{path}: a restart header changes kerneltype from {kernel}")
    if kernel not in KERNELS:
        raise ValueError(f"{path}: kerneltype {kernel} is not supported (only {KERNELS})")

    def stacked(names: list[str]) -> np.ndarray:
        return np.concatenate([np.stack([t.column(n) for n in names], axis=1) for t in tables])

    return Hills(
        step=None,
        centers=stacked(cvs),
        sigmas=stacked([f"sigma_{cv}" for cv in cvs]),
        weights=stacked(["height"])[:, 0] * to_kj,
        convention="plumed",
        energy_unit="kJ/mol",
        time_ps=stacked(["time"])[:, 0],
        names=tuple(cvs),
        periods=periods,
        kernel=kernel,
    )


def fes_axis(table: PlumedTable, cv: str, path: str | Path) -> Axis:
    """The grid axis of CV `cv` from a `sum_hills` header (nbins counts the end point of a
    non-periodic CV, as PLUMED's Grid writes it)."""
    keys = [f"{key}_{cv}" for key in ("min", "max", "nbins", "periodic")]
    missing = [key for key in keys if key not in table.constants]
    if missing:
        raise ValueError(f"{path}: no '#! SET {missing[0]}' line: not a sum_hills grid")
    low, high = plumed_number(table.constants[keys[0]]), plumed_number(table.constants[keys[1]])
    count, periodic = int(table.constants[keys[2]]), table.constants[keys[3]] == "true"
    if periodic:
        return Axis(low, high, count, period=high - low, at_edges=True, name=cv)
    if count < 2:
        raise ValueError(f"{path}: non-periodic CV {cv} needs nbins >= 2, got {count}")
    spacing = (high - low) / (count - 1)
    return Axis(low, low + count * spacing, count, at_edges=True, name=cv)


def read_plumed_fes(
    path: str | Path, energy_unit: str = "kJ/mol", temperature: float = 300.0
) -> FreeEnergySurface:
    """A grid written by PLUMED's `sum_hills` (fes.dat: `#! FIELDS phi psi file.free der_phi
    der_psi`, 1-D or more) as a FreeEnergySurface on its own edge grid (axes named by CV),
    F converted from `energy_unit` to kJ/mol, min 0. `temperature` (K) is for marginals."""
    to_kj = check_energy_unit(energy_unit)
    tables = [table for table in read_plumed_tables(path) if table.rows]
    if len(tables) != 1:
        raise ValueError(f"{path}: expected one sum_hills grid, found {len(tables)}")
    table = tables[0]
    cvs = [name for name in table.fields if f"min_{name}" in table.constants]
    values = [name for name in table.fields if name not in cvs and not name.startswith("der_")]
    if not cvs or not values:
        raise ValueError(f"{path}: '#! FIELDS' has no CV with '#! SET min_<cv>' or no F column")
    axes = tuple(fes_axis(table, cv, path) for cv in cvs)
    free_energy = np.full([axis.bins for axis in axes], np.nan)
    index = []
    for cv, axis in zip(cvs, axes, strict=True):
        offset = (table.column(cv) - axis.low) / axis.spacing
        nearest = np.round(offset)
        if np.any(np.abs(offset - nearest) > 0.1):
            raise ValueError(f"{path}: {cv} values off the grid its header describes")
        nearest = nearest.astype(int)
        if axis.period is not None:
            nearest %= axis.bins
        if nearest.min() < 0 or nearest.max() >= axis.bins:
            raise ValueError(f"{path}: {cv} values outside the grid its header describes")
        index.append(nearest)
    free_energy[tuple(index)] = table.column(values[0]) * to_kj
    if len(table.rows) != free_energy.size or not np.all(np.isfinite(free_energy)):
        raise ValueError(
            f"{path}: {len(table.rows)} rows do not fill the {free_energy.shape} grid its header "
            "describes with finite values, each point once"
        )
    return FreeEnergySurface(axes, temperature=temperature).set_free_energy(free_energy)
