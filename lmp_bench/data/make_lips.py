"""Stand-in LiPS data made offline: GFN1-xTB (tblite) Langevin MD of the 83-atom
Li6.75P3S11 cell at 520 K, 0.25 fs.

The published lips.xyz (DFT AIMD) cannot be downloaded in the test suite, so this makes data
of the same kind with a real semi-empirical method: partly relax the start cell (BFGS at fixed
cell), draw Maxwell-Boltzmann velocities, equilibrate, then keep a frame every `every` steps
with positions (wrapped and unwrapped), velocities, forces and potential energy in metal
units, and design.md's LiPS splits. Every file says plainly that it is a stand-in.

Method: GFN1-xTB. GFN2-xTB's SCF did not converge in tblite's 250 cycles on this cell (nor
after 16 BFGS steps of GFN1 relaxation); GFN1-xTB converges in ~20 cycles.
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

from lmp_bench.data.frames_file import FrameSet, split_indices, write_frames
from lmp_bench.data.lips import lips_cell, lips_split_sizes, unwrap, wrap, write_lips_xyz

METHOD = "GFN1-xTB"
SOURCE = f"stand-in: {METHOD} (tblite) MD of the Li6.75P3S11 cell, not the published LiPS data"
# Langevin, not Nose-Hoover (the published AIMD and the benchmark runs use NVT Nose-Hoover):
# the start is a perturbed crystal with a vacancy whose strain must be bled off, and a
# stochastic thermostat does that without Nose-Hoover's slow energy oscillations and samples
# a stiff 83-atom solid ergodically from a seeded, reproducible random stream. 0.01/fs is a
# 100 fs velocity relaxation time: weak against the lattice vibrations (every mode above
# ~27 cm^-1 stays underdamped), five relaxation times in the default 0.5 ps equilibration.
FRICTION_PER_FS = 0.01
RELAX_FMAX, RELAX_STEPS = 0.5, 100  # eV/A, BFGS steps: strain relief, not a full minimum
EVERY = 50  # 12.5 fs between frames: the spacing assumed for lips.xyz (LIPS_FRAME_PS)
CHECKPOINT_FRAMES = 10  # write the files every this many frames (~1.5 h of MD here)


class LipsTBLite(TBLite):
    """tblite's calculator, warm-started during MD, fresh for labels.

    Each SCF starts from the previous step's density (about half the cycles of a fresh
    start on this cell); setting `fresh_next` makes the next call start from the
    superposition-of-atoms guess instead, so the labels of a kept frame are a function of its
    positions alone (the warm start shifts forces by ~1e-4 eV/A). Counts calls and time."""

    fresh_next = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.calls = {"warm": 0, "fresh": 0}
        self.seconds = {"warm": 0.0, "fresh": 0.0}
        self.has_density = False  # no SCF yet: the first call starts fresh anyway

    def calculate(self, atoms=None, properties=None, system_changes=all_changes):
        kind = "warm" if self.has_density and not self.fresh_next else "fresh"
        if self.fresh_next:
            self.parameters.cache_api = False
            self.reset()  # with cache_api off this drops the API object and its density
            self.parameters.cache_api = True
            self.fresh_next = False
        start = time.perf_counter()
        super().calculate(atoms, properties, system_changes)
        self.has_density = True
        self.calls[kind] += 1
        self.seconds[kind] += time.perf_counter() - start


def xtb_calculator() -> LipsTBLite:
    """The labelling method: GFN1-xTB, neutral, periodic (the cell's pbc), quiet."""
    return LipsTBLite(method=METHOD, verbosity=0)


def relaxed_start(fmax: float = RELAX_FMAX, steps: int = RELAX_STEPS) -> tuple[Atoms, str]:
    """lips_cell() after at most `steps` BFGS steps at fixed cell, wrapped into the cell, and
    what was reached (the published-derived positions are strained, see lips.py)."""
    from ase.optimize import BFGS

    atoms = lips_cell()
    atoms.calc = xtb_calculator()
    reached = "not relaxed"
    if steps > 0:
        optimizer = BFGS(atoms, logfile=None, maxstep=0.1)
        optimizer.run(fmax=fmax, steps=steps)
        force = np.linalg.norm(atoms.get_forces(), axis=1).max()
        reached = f"BFGS {optimizer.nsteps} steps at fixed cell, max force {force:.2f} eV/A"
    atoms.wrap()
    return atoms, reached


def start_md(
    temperature_K: float,
    timestep_fs: float,
    seed: int,
    relax_steps: int = RELAX_STEPS,
) -> tuple[Atoms, object, str]:
    """The start cell with seeded Maxwell-Boltzmann velocities (no net momentum), its
    centre of mass held (ASE's FixCom), and its Langevin integrator."""
    from ase.constraints import FixCom
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import Stationary

    try:  # ASE >= 3.29
        from ase.md.velocitydistribution import thermalize_momenta
    except ImportError:
        from ase.md.velocitydistribution import MaxwellBoltzmannDistribution as thermalize_momenta

    atoms, reached = relaxed_start(steps=relax_steps)
    rng = np.random.default_rng(seed)
    thermalize_momenta(atoms, temperature_K=temperature_K, rng=rng)
    Stationary(atoms)
    atoms.set_constraint(FixCom())
    dynamics = Langevin(
        atoms,
        timestep_fs * units.fs,
        temperature_K=temperature_K,
        friction=FRICTION_PER_FS / units.fs,
        fixcm=False,
        rng=rng,
    )
    return atoms, dynamics, reached


def labelled_step(atoms: Atoms, dynamics, steps: int) -> None:
    """`steps` MD steps whose last force call is a fresh SCF (the kept frame's labels)."""
    if steps > 1:
        dynamics.run(steps - 1)
    atoms.calc.fresh_next = True
    if steps > 0:
        dynamics.run(1)
    else:
        atoms.calc.reset()  # forget any cached (warm) result at these positions
        atoms.get_forces()
    atoms.calc.fresh_next = False


def make_lips_dataset(
    out: Path,
    frames: int,
    seed: int = 0,
    every: int = EVERY,
    equilibrate_ps: float = 0.5,
    temperature_K: float = 520.0,
    timestep_fs: float = 0.25,
    relax_steps: int = RELAX_STEPS,
) -> FrameSet:
    """Run the stand-in MD and write the dataset to `out` (.h5) and its lips.xyz-layout copy
    (`out` with suffix .xyz), also every CHECKPOINT_FRAMES frames on the way (temporary files
    renamed into place), so a stopped run keeps its frames."""
    lips_split_sizes(frames)  # refuse too few frames before any work
    out = Path(out)
    atoms, dynamics, reached = start_md(temperature_K, timestep_fs, seed, relax_steps)
    dynamics.run(round(equilibrate_ps * 1000 / timestep_fs))
    attributes = {
        "source": SOURCE,
        "system": "lips",
        "method": f"{METHOD} (tblite {version('tblite')}), fresh SCF for each kept frame",
        "thermostat": f"Langevin, friction {FRICTION_PER_FS}/fs, centre of mass fixed",
        "temperature_K": str(temperature_K),
        "timestep_fs": str(timestep_fs),
        "seed": str(seed),
        "equilibration_ps": str(equilibrate_ps),
        "frame_interval_ps": str(every * timestep_fs / 1000),
        "start": f"lmp_bench.data.lips.lips_cell() (Li7P3S11, ICSD 157654 via OBELiX); {reached}",
        "frames_planned": str(frames),
    }
    start_ps = dynamics.get_time() / (1000 * units.fs)
    record: dict[str, list[np.ndarray]] = {k: [] for k in ("x", "v", "f", "e", "t", "c")}
    for frame in range(frames):
        labelled_step(atoms, dynamics, every if frame else 0)
        record["x"].append(atoms.get_positions())
        record["c"].append(atoms.cell.array.copy())
        record["v"].append(atoms.get_velocities() * 1000 * units.fs)  # A/(ASE time) -> A/ps
        record["f"].append(atoms.get_forces(apply_constraint=False))
        record["e"].append(atoms.get_potential_energy())
        record["t"].append(dynamics.get_time() / (1000 * units.fs) - start_ps)
        done = frame + 1
        if done == frames or (done % CHECKPOINT_FRAMES == 0 and done >= 2):
            data = frame_set(atoms, record, seed, {**attributes, "complete": str(done == frames)})
            save(data, out)
    return data


def save(data: FrameSet, out: Path) -> None:
    """The .h5 dataset and its .xyz copy, each written aside and renamed into place."""
    for target, writer in ((out, write_frames), (out.with_suffix(".xyz"), write_lips_xyz)):
        temporary = target.with_name(target.name + ".partial")
        writer(data, temporary)
        os.replace(temporary, target)


def frame_set(
    atoms: Atoms, record: dict[str, list], seed: int, attributes: dict[str, str]
) -> FrameSet:
    """The recorded frames so far, split, as the project's dataset type."""
    positions, cells = np.array(record["x"]), np.array(record["c"])
    count = len(positions)
    return FrameSet(
        species=np.array(atoms.get_chemical_symbols()),
        cell=cells,
        positions=wrap(positions, cells),
        unwrapped_positions=unwrap(positions, cells),
        velocities=np.array(record["v"]),
        forces=np.array(record["f"]),
        energy=np.array(record["e"]),
        time=np.array(record["t"]),
        splits=split_indices(count, *lips_split_sizes(count), seed=seed),
        attributes=attributes,
    )


def frames_per_hour(
    steps: int = 4, every: int = EVERY, timestep_fs: float = 0.25, seed: int = 0
) -> dict[str, float]:
    """Measured speed of the maker on this machine (no relaxation; the first, fresh call not
    in the warm figure): seconds per warm and per fresh force call, and dataset frames per
    hour at one frame every `every` steps (every - 1 warm calls and one fresh call a frame).
    Threads: whatever OpenMP is set to."""
    atoms, dynamics, _ = start_md(520.0, timestep_fs, seed, relax_steps=0)
    labelled_step(atoms, dynamics, 0)  # one fresh call at the start
    dynamics.run(steps)  # warm calls
    calc = atoms.calc
    warm = calc.seconds["warm"] / calc.calls["warm"]
    fresh = calc.seconds["fresh"] / calc.calls["fresh"]
    return {
        "atoms": len(atoms),
        "seconds_per_warm_call": warm,
        "seconds_per_fresh_call": fresh,
        "every": every,
        "frames_per_hour": 3600 / ((every - 1) * warm + fresh),
    }
