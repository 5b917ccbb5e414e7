"""The reference free-energy surface of alanine dipeptide: well-tempered metadynamics of the
classical force field that made the labels (AMBER-03, OpenMM's `app.Metadynamics`), with
design.md's bias: hills of 1.2 kJ/mol and 0.35 rad on phi and psi every 500 steps (1 ps),
bias factor 6, Langevin 300 K, 2 fs.

Grid: OpenMM keeps a periodic bias on `gridWidth` points spanning [min, max], the last equal
to the first. With min = -pi + h/2 (h = 2 pi / 60) and 61 points, its first 60 points are the
bin centres of design.md's 60 x 60 grid over [-pi, pi), so OpenMM's F is ours as it is.

The surface is stored in the dataset file it belongs to (HDF5 group /reference_fes): it is a
property of the force field that labelled the frames, and `run` (starts at its minima) and
`evaluate` (FES MAE) find it there without another file to pass around.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from lmp_bench.data.alanine import PHI_ATOMS, PSI_ATOMS
from lmp_bench.data.make_alanine import (
    SOLVENTS,
    TEMPERATURE_K,
    TIMESTEP_PS,
    cpu_platform,
    langevin_integrator,
    minimise_and_heat,
    peptide_system,
)
from lmp_bench.observables.fes import FreeEnergySurface

GROUP = "reference_fes"
HILL_HEIGHT_KJ_MOL = 1.2
HILL_SIGMA_RAD = 0.35
HILL_EVERY_STEPS = 500
BIAS_FACTOR = 6.0
CHECKPOINT_PS = 100.0  # the surface is written this often: a stopped run keeps its hills


def metadynamics(system):
    """design.md's well-tempered bias on phi and psi, added to `system` (before a Context)."""
    import openmm
    from openmm import app, unit

    half_bin = math.pi / 60

    def torsion(atoms: tuple[int, int, int, int]):
        force = openmm.CustomTorsionForce("theta")
        force.addTorsion(*atoms)
        return force

    variables = [
        app.BiasVariable(
            torsion(atoms), -math.pi + half_bin, math.pi + half_bin, HILL_SIGMA_RAD, True, 61
        )
        for atoms in (PHI_ATOMS, PSI_ATOMS)
    ]
    return app.Metadynamics(
        system,
        variables,
        TEMPERATURE_K * unit.kelvin,
        BIAS_FACTOR,
        HILL_HEIGHT_KJ_MOL * unit.kilojoules_per_mole,
        HILL_EVERY_STEPS,
    )


def surface_of(meta) -> FreeEnergySurface:
    """OpenMM's F (indexed [psi, phi], 61 x 61 with a repeated edge) as our 60 x 60 [phi, psi]."""
    quantity = meta.getFreeEnergy()  # kJ/mol; computed anew on every call
    free_energy = np.asarray(quantity.value_in_unit(quantity.unit))
    return FreeEnergySurface().set_free_energy(free_energy[:60, :60].T)


def metadynamics_simulation(seed: int = 0, solvent: str = "tip3p", threads: int = 1):
    """(OpenMM Simulation, Metadynamics) of the peptide in `solvent`, minimised, at 300 K."""
    from openmm import app

    peptide = peptide_system(solvent)
    meta = metadynamics(peptide.system)
    simulation = app.Simulation(
        peptide.topology, peptide.system, langevin_integrator(seed), *cpu_platform(threads)
    )
    simulation.context.setPositions(peptide.positions)
    minimise_and_heat(simulation.context, seed)
    return simulation, meta


def reference_fes(
    ns: float,
    seed: int = 0,
    solvent: str = "tip3p",
    threads: int = 1,
    checkpoint: Callable[[FreeEnergySurface, float], None] | None = None,
) -> FreeEnergySurface:
    """Run `ns` of well-tempered metadynamics and return F(phi, psi) (kJ/mol, min 0);
    `checkpoint(fes, ns_done)` is called every CHECKPOINT_PS and at the end."""
    simulation, meta = metadynamics_simulation(seed, solvent, threads)
    total = round(ns * 1000 / TIMESTEP_PS)
    chunk = round(CHECKPOINT_PS / TIMESTEP_PS)
    done = 0
    while done < total:
        steps = min(chunk, total - done)
        meta.step(simulation, steps)
        done += steps
        if checkpoint is not None:
            checkpoint(surface_of(meta), done * TIMESTEP_PS / 1000)
    return surface_of(meta)


def ns_per_hour(solvent: str, steps: int = 2000, threads: int = 1) -> float:
    """Measured metadynamics speed on this machine (setup and 100 warm-up steps untimed)."""
    simulation, meta = metadynamics_simulation(0, solvent, threads)
    meta.step(simulation, 100)
    start = time.perf_counter()
    meta.step(simulation, steps)
    return steps * TIMESTEP_PS / 1000 * 3600 / (time.perf_counter() - start)


def write_reference_fes(dataset: Path, fes: FreeEnergySurface, attributes: dict) -> None:
    """Put F into `dataset`'s /reference_fes group (replacing one there), with provenance."""
    import h5py

    with h5py.File(dataset, "a") as data:
        if GROUP in data:
            del data[GROUP]
        group = data.create_group(GROUP)
        group.create_dataset("free_energy", data=fes.free_energy)
        group.attrs.update(
            {
                "units": "kJ/mol",
                "grid": "[phi, psi], 60 x 60 bin centres of [-pi, pi) rad",
                **{k: str(v) for k, v in attributes.items()},
            }
        )


def read_reference_fes(dataset: str | Path) -> FreeEnergySurface | None:
    """The reference surface stored in `dataset`, or None when it has none."""
    import h5py

    with h5py.File(dataset, "r") as data:
        if GROUP not in data:
            return None
        return FreeEnergySurface().set_free_energy(data[GROUP]["free_energy"][()])


def make_reference_fes(
    dataset: Path, ns: float, seed: int = 0, solvent: str = "tip3p", threads: int = 1
) -> FreeEnergySurface:
    """Run `reference_fes` and store it in `dataset` as it goes (every CHECKPOINT_PS)."""
    import openmm

    from lmp_bench.data.frames_file import read_frames

    if read_frames(dataset).attributes.get("system") != "alanine":
        raise ValueError(f"{dataset} is not an alanine dataset: its reference FES is alanine's")
    started = time.perf_counter()

    def store(fes: FreeEnergySurface, ns_done: float) -> None:
        write_reference_fes(
            dataset,
            fes,
            {
                "method": f"well-tempered metadynamics, OpenMM {openmm.__version__}, AMBER-03, "
                f"{SOLVENTS[solvent]}",
                "solvent": solvent,
                "bias": f"hills {HILL_HEIGHT_KJ_MOL} kJ/mol, sigma {HILL_SIGMA_RAD} rad, every "
                f"{HILL_EVERY_STEPS} steps, bias factor {BIAS_FACTOR}",
                "temperature_K": TEMPERATURE_K,
                "timestep_fs": TIMESTEP_PS * 1000,
                "seed": seed,
                "simulated_ns": round(ns_done, 6),
                "planned_ns": ns,
                "complete": ns_done >= ns - 1e-9,
                "wall_seconds": round(time.perf_counter() - started, 1),
            },
        )

    return reference_fes(ns, seed, solvent, threads, checkpoint=store)


def fes_minima(fes: FreeEnergySurface, count: int = 6, size: int = 7) -> np.ndarray:
    """(phi, psi) in radians of the `count` lowest local minima of F (lowest first): grid
    points lowest within a periodic `size` x `size` neighbourhood (7 bins = 0.7 rad, about
    two hill widths, so that metadynamics noise does not count as a basin)."""
    from scipy.ndimage import minimum_filter

    free_energy = fes.free_energy
    local = free_energy == minimum_filter(free_energy, size=size, mode="wrap")
    i, j = np.nonzero(local)
    order = np.argsort(free_energy[i, j])[:count]
    phi, psi = fes.points
    return np.stack([phi[i[order]], psi[j[order]]], axis=1)


def frames_at_minima(
    positions: np.ndarray, species: np.ndarray, candidates: np.ndarray, minima: np.ndarray
) -> np.ndarray:
    """For each (phi, psi) minimum (radians), the candidate frame index whose backbone is
    nearest to it (periodic distance): design.md's one replica from each FES minimum."""
    from lmp_bench.observables.backbone import dihedral, phi_psi_atoms

    phi_atoms, psi_atoms = phi_psi_atoms(positions[candidates[0]], species)
    angles = np.stack(
        [dihedral(positions[candidates], phi_atoms), dihedral(positions[candidates], psi_atoms)],
        axis=1,
    )  # (C, 2)
    delta = angles[None, :, :] - minima[:, None, :]  # (M, C, 2)
    delta -= 2 * np.pi * np.round(delta / (2 * np.pi))
    return candidates[np.argmin((delta**2).sum(-1), axis=1)]
