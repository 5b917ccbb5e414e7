"""Stand-in MD17 data made offline: GFN2-xTB (tblite) Langevin MD of one molecule at 500 K.

The published MD17 sets (DFT, 500 K, 0.5 fs) cannot be downloaded in the test suite, so
this makes data of the same kind with a real semi-empirical method: relax the built start
geometry (BFGS, fmax 0.05 eV/A), draw Maxwell-Boltzmann velocities, equilibrate, then keep
a frame every `every` steps with positions, velocities, forces and potential energy in
metal units, and design.md's MD17 splits. Every file says plainly that it is a stand-in.
"""

from __future__ import annotations

import os
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
from ase import Atoms, units
from ase.calculators.calculator import all_changes
from tblite.ase import TBLite

from lmp_bench.data.formats import md17_split_sizes as split_sizes
from lmp_bench.data.frames_file import FrameSet, split_indices, write_frames
from lmp_bench.data.molecules import start_geometry
from lmp_bench.observables.distances import covalent_bonds

METHOD = "GFN2-xTB"
SOURCE = "stand-in: GFN2-xTB (tblite) Langevin MD, not the published MD17 data"
RELAX_FMAX = 0.05  # eV/A
# 0.01/fs: a 100 fs velocity relaxation time, so the default 0.5 ps equilibration is five of
# them (the relaxed start holds ~half of 500 K once its kinetic energy spreads into the
# potential); still weak against the molecules' vibrations: every mode above ~27 cm^-1
# (omega > friction/2; C-H stretches ~3000 cm^-1, the softest torsions ~50 cm^-1) stays
# underdamped. MD17's own runs used Nose-Hoover; stand-in data needs a canonical 500 K sample.
FRICTION_PER_FS = 0.01
CHECKPOINT_FRAMES = 100  # write the file every this many frames


class FreshTBLite(TBLite):
    """tblite's calculator with a fresh SCF (superposition-of-atoms guess) on every call.

    The stock calculator starts each SCF from the previous step's density, which makes the
    labels depend on the trajectory's history by ~1e-4 eV/A at tblite's default accuracy;
    from a fresh start each frame's labels are a function of its positions alone (anyone can
    reproduce them exactly), at no extra cost on these molecules. Also counts its calls and
    their time, for `frames_per_hour`.
    """

    calls = 0
    seconds = 0.0

    def calculate(self, atoms=None, properties=None, system_changes=all_changes):
        start = time.perf_counter()
        self.reset()  # with cache_api=False this drops the cached density and API object
        super().calculate(atoms, properties, system_changes)
        self.calls += 1
        self.seconds += time.perf_counter() - start


def xtb_calculator() -> FreshTBLite:
    """The labelling method: GFN2-xTB, neutral closed shell, quiet."""
    return FreshTBLite(method=METHOD, verbosity=0, cache_api=False)


def bond_pairs(atoms: Atoms) -> set[tuple[int, int]]:
    """Covalent bonds (radii + 0.3 A), as the bond-stability observable finds them."""
    bonds = covalent_bonds(atoms.positions, np.array(atoms.get_chemical_symbols()))
    return {(int(i), int(j)) for i, j in bonds}


def relax(atoms: Atoms, fmax: float = RELAX_FMAX) -> Atoms:
    """A GFN2-xTB minimum near `atoms` (BFGS); refuses one whose bonds changed on the way,
    which would mean a wrong start geometry rather than the molecule asked for."""
    from ase.optimize import BFGS

    relaxed = atoms.copy()
    relaxed.calc = xtb_calculator()
    if not BFGS(relaxed, logfile=None).run(fmax=fmax, steps=500):
        raise RuntimeError(f"{atoms.get_chemical_formula()} did not relax to fmax {fmax} eV/A")
    if bond_pairs(relaxed) != bond_pairs(atoms):
        raise RuntimeError(
            f"{atoms.get_chemical_formula()}: relaxation changed the covalent bonds from "
            f"{sorted(bond_pairs(atoms))} to {sorted(bond_pairs(relaxed))}"
        )
    return relaxed


def start_md(
    molecule: str, temperature_K: float, timestep_fs: float, seed: int
) -> tuple[Atoms, object]:
    """The relaxed molecule with seeded Maxwell-Boltzmann velocities, and its Langevin
    integrator; the centre of mass is held still (ASE's FixCom, not Langevin's deprecated
    fixcm) and the start carries no net momentum or rotation."""
    from ase.constraints import FixCom
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import Stationary, ZeroRotation

    try:  # ASE >= 3.29
        from ase.md.velocitydistribution import thermalize_momenta
    except ImportError:
        from ase.md.velocitydistribution import MaxwellBoltzmannDistribution as thermalize_momenta

    atoms = relax(start_geometry(molecule))
    rng = np.random.default_rng(seed)
    thermalize_momenta(atoms, temperature_K=temperature_K, rng=rng)
    Stationary(atoms)
    ZeroRotation(atoms)
    atoms.set_constraint(FixCom())
    dynamics = Langevin(
        atoms,
        timestep_fs * units.fs,
        temperature_K=temperature_K,
        friction=FRICTION_PER_FS / units.fs,
        fixcm=False,
        rng=rng,
    )
    return atoms, dynamics


def make_molecule_dataset(
    out: Path,
    molecule: str,
    frames: int,
    seed: int = 0,
    every: int = 10,
    equilibrate_ps: float = 0.5,
    temperature_K: float = 500.0,
    timestep_fs: float = 0.5,
) -> FrameSet:
    """Run the stand-in MD and write the dataset to `out` (.h5), also every 100 frames on
    the way (to a temporary file renamed into place), so a stopped run keeps its frames."""
    split_sizes(frames)  # refuse too few frames before any work
    out = Path(out)
    atoms, dynamics = start_md(molecule, temperature_K, timestep_fs, seed)
    dynamics.run(round(equilibrate_ps * 1000 / timestep_fs))
    attributes = {
        "source": SOURCE,
        "system": f"md17-{molecule}",
        "molecule": molecule,
        "method": f"{METHOD} (tblite {version('tblite')}), fresh SCF each step",
        "thermostat": f"Langevin, friction {FRICTION_PER_FS}/fs",
        "temperature_K": str(temperature_K),
        "timestep_fs": str(timestep_fs),
        "seed": str(seed),
        "equilibration_ps": str(equilibrate_ps),
        "frame_interval_ps": str(every * timestep_fs / 1000),
        "start": f"built geometry relaxed with BFGS to fmax {RELAX_FMAX} eV/A",
        "frames_planned": str(frames),
    }
    start_ps = dynamics.get_time() / (1000 * units.fs)
    record: dict[str, list[np.ndarray]] = {k: [] for k in ("x", "v", "f", "e", "t")}
    for frame in range(frames):
        if frame:
            dynamics.run(every)
        record["x"].append(atoms.get_positions())
        record["v"].append(atoms.get_velocities() * 1000 * units.fs)  # A/(ASE time) -> A/ps
        record["f"].append(atoms.get_forces(apply_constraint=False))
        record["e"].append(atoms.get_potential_energy())
        record["t"].append(dynamics.get_time() / (1000 * units.fs) - start_ps)
        done = frame + 1
        if done == frames or done % CHECKPOINT_FRAMES == 0:
            data = frame_set(atoms, record, seed, {**attributes, "complete": str(done == frames)})
            temporary = out.with_name(out.name + ".partial")
            os.replace(write_frames(data, temporary), out)
    return data


def frame_set(
    atoms: Atoms, record: dict[str, list], seed: int, attributes: dict[str, str]
) -> FrameSet:
    """The recorded frames so far, split, as the project's dataset type (no box)."""
    positions = np.array(record["x"])
    count = len(positions)
    return FrameSet(
        species=np.array(atoms.get_chemical_symbols()),
        cell=np.zeros((count, 3, 3)),
        positions=positions,
        unwrapped_positions=positions.copy(),
        velocities=np.array(record["v"]),
        forces=np.array(record["f"]),
        energy=np.array(record["e"]),
        time=np.array(record["t"]),
        splits=split_indices(count, *split_sizes(count), seed=seed),
        attributes=attributes,
    )


def frames_per_hour(
    molecule: str,
    steps: int = 20,
    every: int = 10,
    temperature_K: float = 500.0,
    timestep_fs: float = 0.5,
    seed: int = 0,
) -> dict[str, float]:
    """Measured speed of the maker on this machine (relaxation and one warm-up step not
    timed): seconds per MD step and per force call, and dataset frames per hour at one
    frame every `every` steps. Threads: whatever OMP_NUM_THREADS says."""
    atoms, dynamics = start_md(molecule, temperature_K, timestep_fs, seed)
    dynamics.run(1)
    calculator = atoms.calc
    calls, seconds = calculator.calls, calculator.seconds
    start = time.perf_counter()
    dynamics.run(steps)
    per_step = (time.perf_counter() - start) / steps
    return {
        "atoms": len(atoms),
        "seconds_per_step": per_step,
        "seconds_per_force_call": (calculator.seconds - seconds) / (calculator.calls - calls),
        "force_calls_per_step": (calculator.calls - calls) / steps,
        "frames_per_hour": 3600 / (per_step * every),
    }
