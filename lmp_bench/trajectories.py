"""Trajectories written by other codes, read as they are: positions (A), the element of
each atom, the box, and the times (ps) where the file has them.

Readers: ASE for what ASE reads (its .traj, extxyz, LAMMPS text dumps, ...); MDAnalysis
(optional) for DCD/XTC/TRR/NetCDF, which name no atoms and need a topology file; and an
MDsim run folder (github kyonofx/MDsim, simulate.py): ``atoms.traj`` (ASE Trajectory,
a frame every `save_freq` steps) with ``thermo.log`` written by ASE's MDLogger at the
same interval, whose first column is the time in ps, plus ``test_metric.json`` (its
force errors; after a finished run ``early_stop``, ``running_time`` s and
``simulated_frames``, which counts MD steps) and, for alanine, PLUMED's ``HILLS``.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MDANALYSIS_FORMATS = {".dcd", ".xtc", ".trr", ".nc", ".ncdf"}
MDSIM_TRAJECTORY, MDSIM_LOG = "atoms.traj", "thermo.log"
MDSIM_METRICS, MDSIM_HILLS = "test_metric.json", "HILLS"


@dataclass(frozen=True)
class RawTrajectory:
    """Frames as a file holds them, before any benchmark check."""

    positions: np.ndarray  # (T, N, 3) A, as written (wrapped or not)
    species: np.ndarray  # (N,) element names
    cell: np.ndarray  # (3, 3) box vectors as rows, A; zeros without a box
    times: np.ndarray | None  # (T,) ps, only where the file records them
    time_source: str  # what the times come from ("" without times)
    reader: str  # which reader and format, for the manifest


def is_mdsim_folder(path: Path) -> bool:
    return path.is_dir() and (path / MDSIM_TRAJECTORY).is_file()


def fixed_box(cells: np.ndarray, path: Path) -> np.ndarray:
    """The one box of an NVT trajectory; an error when it changes along the run."""
    if not np.allclose(cells, cells[0], rtol=1e-6, atol=1e-6):
        raise ValueError(
            f"the box of {path} changes along the run (NPT?): the benchmark's observables "
            "need a fixed box (NVT), as the paper's protocols run"
        )
    return np.array(cells[0], dtype=float)


def from_ase_images(images: list, path: Path, reader: str) -> RawTrajectory:
    """Positions, species and box of ASE Atoms that must share one atom list."""
    first = images[0].get_chemical_symbols()
    for index, atoms in enumerate(images):
        if atoms.get_chemical_symbols() != first:
            raise ValueError(
                f"{path}: frame {index} holds other atoms than frame 0 (count or order "
                "changed): a trajectory must keep the same atoms in the same order"
            )
    positions = np.stack([atoms.positions for atoms in images]).astype(float)
    cell = fixed_box(np.stack([atoms.cell.array for atoms in images]), path)
    return RawTrajectory(positions, np.array(first), cell, None, "", reader)


def dump_columns(path: Path) -> list[str]:
    """Column names of a LAMMPS text dump's first ITEM: ATOMS line."""
    with path.open() as stream:
        for line in stream:
            if line.startswith("ITEM: ATOMS"):
                return line.split()[2:]
    return []


def is_lammps_dump(path: Path) -> bool:
    with path.open("rb") as stream:
        return stream.read(15) == b"ITEM: TIMESTEP\n"


def read_lammps_text_dump(path: Path, type_species: list[str]) -> RawTrajectory:
    """A LAMMPS text dump (complete frames). Atom types are named by `type_species` (type 1
    first) unless the dump has an element or mass column; its step numbers must be evenly
    spaced, but carry no time: the MD timestep is not in a dump."""
    from lmp_bench.observables.readers import read_dump_images, type_names

    images, steps = read_dump_images(path)
    if len(steps) > 2 and len(set(np.diff(steps).tolist())) > 1:
        raise ValueError(f"{path}: frames at uneven step intervals; the observables need one")
    raw = from_ase_images(images, path, "ASE lammps-dump-text")
    columns = dump_columns(path)
    if "element" in columns or "mass" in columns:
        return raw
    top = int(images[0].get_atomic_numbers().max())  # ASE gives a type as atomic number
    if top > len(type_species):
        raise ValueError(
            f"{path} has atom types up to {top} but only {len(type_species)} are named "
            f"({' '.join(type_species)}): name the element of every type, type 1 first, with "
            "--type-species (e.g. --type-species 'O H')"
        )
    species = type_names(images, list(type_species), path)
    return RawTrajectory(raw.positions, species, raw.cell, None, "", raw.reader)


def read_with_ase(path: Path) -> RawTrajectory:
    from ase.io import read

    try:
        images = read(path, index=":")
    except Exception as err:  # ASE raises many kinds for files it cannot parse
        raise ValueError(
            f"cannot read {path} as a trajectory with ASE ({type(err).__name__}: {err}): give "
            "a file ASE reads (.traj, .xyz/.extxyz, LAMMPS text dump), DCD/XTC with "
            "--topology, or an MDsim run folder"
        ) from err
    if not images:
        raise ValueError(f"{path} holds no frames")
    return from_ase_images(images, path, f"ASE ({path.suffix.lstrip('.') or 'format guessed'})")


def import_mdanalysis():
    try:
        import MDAnalysis
    except ImportError as err:
        raise RuntimeError(
            "reading DCD/XTC/TRR/NetCDF trajectories needs MDAnalysis: pip install MDAnalysis "
            "(or pip install 'lmp-bench[mdanalysis]')"
        ) from err
    return MDAnalysis


def universe_elements(universe, topology: Path) -> np.ndarray:
    """Element of each atom: the topology's own, else guessed from atom names/types."""
    from MDAnalysis.exceptions import NoDataError

    try:
        elements = np.asarray(universe.atoms.elements)
    except NoDataError:
        universe.guess_TopologyAttrs(to_guess=["elements"])
        elements = np.asarray(universe.atoms.elements)
    elements = np.array([str(e).strip().capitalize() for e in elements])
    if (elements == "").any():
        raise ValueError(
            f"{topology} names no element for some atoms: give a topology with elements "
            "(e.g. a PDB with its element column)"
        )
    return elements


def read_with_mdanalysis(path: Path, topology: Path | None) -> RawTrajectory:
    """DCD/XTC/... through MDAnalysis: positions A, times ps (its own units); a file whose
    header gives no time step has no time axis here (MDAnalysis would assume 1 ps)."""
    mda = import_mdanalysis()
    if topology is None:
        raise ValueError(
            f"{path} is a {path.suffix} trajectory, which names no atoms: give its topology "
            "with --topology (a PDB, GRO, PSF, ... that MDAnalysis reads)"
        )
    if not Path(topology).is_file():
        raise FileNotFoundError(f"topology {topology} does not exist")
    universe = mda.Universe(str(topology), str(path))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        universe.trajectory.dt  # noqa: B018  (MDAnalysis warns when it falls back to 1 ps)
    timed = not any("dt information" in str(w.message) for w in caught)
    positions, cells, times = [], [], []
    for ts in universe.trajectory:
        positions.append(ts.positions.astype(float))
        box = ts.triclinic_dimensions
        cells.append(np.zeros((3, 3)) if box is None else np.asarray(box, dtype=float))
        times.append(float(ts.time))
    return RawTrajectory(
        np.stack(positions),
        universe_elements(universe, Path(topology)),
        fixed_box(np.stack(cells), path),
        np.asarray(times) if timed else None,
        f"{path.suffix} frame times (MDAnalysis, ps)" if timed else "",
        f"MDAnalysis ({path.suffix.lstrip('.')})",
    )


def read_trajectory_file(
    path: Path, type_species: list[str], topology: Path | None = None
) -> RawTrajectory:
    """Any supported trajectory file, by its suffix and first bytes."""
    if not path.is_file():
        raise FileNotFoundError(f"trajectory {path} does not exist")
    if path.suffix.lower() in MDANALYSIS_FORMATS:
        return read_with_mdanalysis(path, topology)
    if is_lammps_dump(path):
        return read_lammps_text_dump(path, type_species)
    return read_with_ase(path)


def thermo_log_times(path: Path) -> np.ndarray:
    """The Time[ps] column of an ASE MDLogger log (MDsim's thermo.log)."""
    lines = [line.split() for line in path.read_text().splitlines() if line.strip()]
    if not lines or "Time[ps]" not in lines[0]:
        raise ValueError(
            f"{path} has no Time[ps] column: not a log of ASE's MDLogger (MDsim's thermo.log)"
        )
    column = lines[0].index("Time[ps]")
    try:
        return np.array([float(row[column]) for row in lines[1:]])
    except (IndexError, ValueError) as err:
        raise ValueError(f"{path}: a row without a readable time ({err})") from err


@dataclass(frozen=True)
class MDsimRun:
    """An MDsim run folder: its trajectory (times from thermo.log) and what it recorded."""

    trajectory: RawTrajectory
    state: str
    steps_per_second: float | None
    hills: Path | None  # PLUMED HILLS of an alanine metadynamics run


def mdsim_status(folder: Path) -> tuple[str, float | None]:
    """(state, MD steps/s) from test_metric.json, written when simulate.py finished: it
    stops early when the temperature leaves its allowed range."""
    path = folder / MDSIM_METRICS
    metrics = json.loads(path.read_text()) if path.is_file() else {}
    if "early_stop" not in metrics:
        return "unknown (MDsim recorded no end)", None
    early = metrics["early_stop"]
    state = "stopped early (MDsim: temperature out of range)" if early else "completed"
    seconds, steps = metrics.get("running_time"), metrics.get("simulated_frames")
    speed = steps / seconds if seconds and steps else None
    return state, speed


def read_mdsim_folder(folder: Path) -> MDsimRun:
    """atoms.traj with the times of thermo.log (one row per saved frame). A run killed
    between writing a frame and its log row leaves one frame more: it is dropped."""
    from ase.io import read

    images = read(folder / MDSIM_TRAJECTORY, index=":")
    log = folder / MDSIM_LOG
    if not log.is_file():
        raise ValueError(
            f"{folder} has atoms.traj but no thermo.log, so no time axis: pass "
            f"{folder / MDSIM_TRAJECTORY} itself with --timestep (ps between its frames)"
        )
    times = thermo_log_times(log)
    if len(images) == len(times) + 1:
        images = images[:-1]
    if len(images) != len(times):
        raise ValueError(
            f"{folder}: atoms.traj holds {len(images)} frames but thermo.log {len(times)} "
            "rows (a restarted run?): pass atoms.traj itself with --timestep"
        )
    raw = from_ase_images(images, folder / MDSIM_TRAJECTORY, "MDsim run folder (ASE .traj)")
    trajectory = RawTrajectory(
        raw.positions, raw.species, raw.cell, times, "MDsim thermo.log Time[ps]", raw.reader
    )
    state, speed = mdsim_status(folder)
    hills = folder / MDSIM_HILLS
    return MDsimRun(trajectory, state, speed, hills if hills.is_file() else None)


def unwrap_jumps(positions: np.ndarray, cell: np.ndarray) -> np.ndarray:
    """Undo periodic wrapping: an atom that moves more than half a box between saved
    frames crossed a face, and is shifted back by whole box vectors. Positions that are
    already unwrapped come back unchanged, bit for bit."""
    steps = np.diff(positions, axis=0) @ np.linalg.inv(cell)
    jumps = np.round(steps)
    if not jumps.any():
        return positions
    unwrapped = positions.copy()
    unwrapped[1:] -= np.cumsum(jumps, axis=0) @ cell
    return unwrapped
