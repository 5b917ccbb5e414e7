"""Trajectories made elsewhere as replicas to score: the checks and the time base.

A file from another code (or an MDsim run folder) becomes one `Replica`: its frames
checked against the benchmark system (a box for periodic systems, the system's elements,
the molecule's atoms in the dataset's order) and put on a time axis in ps: the file's own
times where it has them (MDsim's thermo.log, DCD/XTC headers), else frame k at k x
--timestep. Periodic positions written wrapped into the box are unwrapped (for the MSD).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from ase.data import chemical_symbols

from lmp_bench.observables import Frames
from lmp_bench.scoring import Replica
from lmp_bench.systems import SYSTEMS, System
from lmp_bench.trajectories import (
    RawTrajectory,
    is_mdsim_folder,
    read_mdsim_folder,
    read_trajectory_file,
    unwrap_jumps,
)

SYSTEM_CHOICES = "water, lips, alanine or md17-<molecule> (e.g. md17-ethanol)"
# a saved time may be off by the 4 decimals MDLogger prints (0.5e-4 ps) or float32 rounding
TIME_ROUNDING_PS = 0.51e-4


@dataclass(frozen=True)
class ForeignOptions:
    """What a trajectory from elsewhere may lack, given on the command line."""

    system: str | None = None  # water, lips, alanine, md17-<molecule>
    timestep_ps: float | None = None  # ps between saved frames, where the file has no times
    type_species: tuple[str, ...] | None = None  # LAMMPS dumps: element of type 1, 2, ...
    topology: str | None = None  # DCD/XTC/...: the file that names the atoms
    hills: str | None = None  # alanine: the run's PLUMED HILLS file
    hills_unit: str = "kJ/mol"  # energy unit of the HILLS heights
    label: str | None = None  # the model's name in tables; default: the file's name

    def as_dict(self) -> dict:
        return asdict(self)


def is_foreign(path: Path) -> bool:
    """A trajectory file or an MDsim run folder (not an lmp-bench run folder)."""
    return path.is_file() or is_mdsim_folder(path)


def benchmark_system(name: str | None) -> System:
    """The lmp-bench system that scores `name` (md17-<molecule> is scored as md17)."""
    if name in ("water", "lips", "alanine"):
        return SYSTEMS[name]
    if name and name.startswith("md17-") and len(name) > len("md17-"):
        return SYSTEMS["md17"]
    raise ValueError(
        f"unknown system {name!r} for a trajectory made elsewhere: give --system {SYSTEM_CHOICES}"
    )


def check_species(raw: RawTrajectory, system: System, expected: np.ndarray | None, source):
    """The file's elements against the system's: valid element names, and for periodic
    systems exactly the system's elements, for molecules the dataset's atoms in order."""
    unknown = sorted({str(s) for s in raw.species if s not in chemical_symbols[1:]})
    if unknown:
        raise ValueError(
            f"{source} holds unknown species {unknown}: name the elements (LAMMPS dumps: "
            "--type-species, e.g. 'O H'; DCD/XTC: a topology with elements)"
        )
    found = sorted({str(s) for s in raw.species})
    if system.molecule:
        assert expected is not None
        if list(raw.species) != list(expected):
            raise ValueError(
                f"{source} holds atoms {''.join(raw.species)} but the reference dataset has "
                f"{''.join(expected)}: wrong --system or reference, or the atoms are in "
                "another order than the dataset's"
            )
    elif found != sorted(system.type_species):
        raise ValueError(
            f"{source} holds species {found} but {system.name} has "
            f"{sorted(system.type_species)}: wrong --system (or, for a LAMMPS dump, name its "
            "types with --type-species)"
        )


def check_box(raw: RawTrajectory, system: System, source) -> None:
    if not system.molecule and abs(np.linalg.det(raw.cell)) < 1e-6:
        raise ValueError(
            f"{source} has no cell, but {system.name} is periodic: its RDF and minimum "
            "images need the box; write the trajectory with its cell (extxyz Lattice=, "
            "ASE .traj of periodic Atoms, a DCD/XTC with box dimensions)"
        )


def time_axis(raw: RawTrajectory, system: System, timestep_ps: float | None, source):
    """(times ps, how they were found): the file's own evenly spaced times, else frame k
    at k x `timestep_ps`. The two must agree when both are given."""
    count = len(raw.positions)
    if raw.times is not None:
        times = raw.times
        if count < 2:
            return times.astype(float), raw.time_source
        interval = (times[-1] - times[0]) / (count - 1)
        even = times[0] + interval * np.arange(count)
        if (
            interval <= 0
            or np.abs(times - even).max() > TIME_ROUNDING_PS + 1e-6 * np.abs(times).max()
        ):
            raise ValueError(
                f"{source}: frames are not evenly spaced in time ({raw.time_source}); the "
                "observables need one frame interval"
            )
        if timestep_ps is not None and abs(timestep_ps - interval) > 1e-3 * interval:
            raise ValueError(
                f"{source}: {raw.time_source} puts frames {interval:.6g} ps apart but "
                f"--timestep says {timestep_ps:g} ps: drop --timestep or correct it"
            )
        return even, f"{raw.time_source}: {interval:.6g} ps between frames"
    if timestep_ps is None:
        saved = system.timestep_ps * system.dump_every
        raise ValueError(
            f"{source} has no time axis: give --timestep, the ps between its saved frames "
            f"(the {system.name} protocol saves a frame every {saved:g} ps)"
        )
    if timestep_ps <= 0:
        raise ValueError(f"--timestep must be a positive number of ps, not {timestep_ps}")
    return (
        np.arange(count) * timestep_ps,
        f"frame k at k x {timestep_ps:g} ps (--timestep)",
    )


def plumed_hills(path: Path, unit: str):
    """(hills, deposition times ps) of a PLUMED HILLS file: its time column, in ps with
    MDsim's UNITS line as in PLUMED's default, counts from the run's start like the frames."""
    from lmp_bench.observables import read_plumed_hills

    if not path.is_file():
        raise FileNotFoundError(f"HILLS file {path} does not exist")
    hills = read_plumed_hills(path, energy_unit=unit)
    return hills, np.asarray(hills.time_ps, dtype=float)


def default_type_species(system: System, dataset_species: np.ndarray | None) -> list[str]:
    """Element of LAMMPS type 1, 2, ... as lmp-bench's own decks number them: the system's
    order (water O H, lips Li P S), a molecule's elements in alphabetical order."""
    if system.molecule:
        assert dataset_species is not None
        return sorted(set(dataset_species))
    return list(system.type_species)


def read_foreign_replica(
    index: int,
    path: Path,
    system: System,
    options: ForeignOptions,
    dataset_species: np.ndarray | None,
) -> tuple[Replica, dict]:
    """One trajectory from elsewhere as replica-<index>, and how it was read (for the
    manifest). `dataset_species`: a molecule's atoms in the reference dataset."""
    types = list(options.type_species or ()) or default_type_species(system, dataset_species)
    state, speed, hills_file = "unknown (not recorded)", None, None
    if is_mdsim_folder(path):
        run = read_mdsim_folder(path)
        raw, state, speed, hills_file = run.trajectory, run.state, run.steps_per_second, run.hills
    else:
        topology = Path(options.topology) if options.topology else None
        raw = read_trajectory_file(path, types, topology)
    if len(raw.positions) < 2:
        raise ValueError(
            f"{path} holds {len(raw.positions)} frame: scoring a run needs two or more"
        )
    check_species(raw, system, dataset_species, path)
    check_box(raw, system, path)
    times, time_base = time_axis(raw, system, options.timestep_ps, path)
    positions = raw.positions if system.molecule else unwrap_jumps(raw.positions, raw.cell)
    frames = Frames(positions, raw.species, raw.cell, times)
    if options.hills:
        hills_file = Path(options.hills)
    hills = hill_times = None
    if system.name == "alanine" and hills_file is not None:
        hills, hill_times = plumed_hills(hills_file, options.hills_unit)
    described = {
        "replica": f"replica-{index}",
        "source": str(path.resolve()),
        "reader": raw.reader,
        "frames": len(times),
        "time_base": time_base,
        "frame_interval_ps": float(times[1] - times[0]),
        "hills": str(hills_file.resolve()) if hills is not None and hills_file else None,
    }
    replica = Replica(f"replica-{index}", frames, state, speed, None, hills, hill_times)
    return replica, described


def foreign_replicas(
    paths: list[Path],
    options: ForeignOptions,
    system: System,
    dataset_species: np.ndarray | None = None,
) -> tuple[list[Replica], list[dict]]:
    """Each trajectory (file or MDsim folder) as one replica of one run."""
    if options.hills and len(paths) > 1:
        raise ValueError(
            "--hills belongs to one trajectory: score one file with it (MDsim folders bring "
            "their own HILLS)"
        )
    if options.hills and system.name != "alanine":
        raise ValueError(f"--hills is for alanine metadynamics runs, not {system.name}")
    read = [
        read_foreign_replica(k, p, system, options, dataset_species) for k, p in enumerate(paths)
    ]
    return [replica for replica, _ in read], [described for _, described in read]
