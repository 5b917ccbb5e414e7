"""Stand-in alanine-dipeptide data made offline: AMBER-03 + TIP3P explicit-water MD (OpenMM).

The paper's alanine set (an explicit-water AMBER-03 run at 300 K whose labels are the forces
on the 22 peptide atoms) cannot be downloaded in the test suite, so this makes data of the
same kind: the built peptide (alanine.py) in a small cube of TIP3P water, PME, bonds to
hydrogen constrained, Langevin (LFMiddle) at 300 K with a 2 fs step, seeded. After an
equilibration it keeps, every `every` steps, the peptide's positions, velocities and the
force-field forces on its atoms (everything, water included, acting on them), in metal units.

Labels: `Context.getState(getForces=True)` returns the forces of the System's Force objects
only; constraint forces (SHAKE/SETTLE reactions) are never part of it, so the labels are the
full force-field forces on each peptide atom, as in the paper. There is no energy label: the
energy that goes with peptide-only forces (a potential of mean force over the water) is not
a quantity of the run, and the paper's alanine file holds no energy either, so `energy` is
NaN in every frame (the attributes say so). Every file says plainly that it is a stand-in.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lmp_bench.data.alanine import ATOMS, BONDS, SPECIES, alanine_dipeptide_topology
from lmp_bench.data.frames_file import FrameSet, small_split_sizes, split_indices, write_frames

SOURCE = "stand-in: AMBER-03 + TIP3P explicit-water MD (OpenMM), not the paper's alanine data"
FORCE_FIELD = ("amber03.xml", "tip3p.xml")
TEMPERATURE_K = 300.0
TIMESTEP_PS = 0.002
FRICTION_PER_PS = 1.0  # weak: a 1 ps velocity relaxation time, as in OpenMM's examples
CUTOFF_NM = 0.9  # real-space PME cutoff; the 2.0 nm box of the default padding allows 1.0
# 1.0 nm padding is the smallest that gives a box (2.0 nm, ~230 waters) over twice the cutoff
# with room to spare (0.9 nm padding gives exactly 1.8 nm): small, so frames are cheap.
WATER_PADDING_NM = 1.0
CHECKPOINT_FRAMES = 100  # write the file every this many frames
MINIMISE_MAX_ITERATIONS = 0  # 0: until converged (tests lower it)
MINIMISE_TOLERANCE = 10.0  # kJ/mol/nm
PEPTIDE_ATOMS = len(ATOMS)  # the peptide comes first in the solvated topology
ALANINE_TRAIN, ALANINE_VAL, ALANINE_TEST = 38_000, 2_000, 10_000  # design.md
KJ_PER_MOL_IN_EV = 1000 / 96485.33212  # 1 kJ/mol over e N_A (1 eV per particle = 96.485 kJ/mol)
KJ_PER_MOL_NM_IN_EV_PER_A = KJ_PER_MOL_IN_EV / 10  # 1 nm = 10 A


def alanine_split_sizes(frames: int) -> tuple[int, int, int]:
    """(train, val, test): design.md's 38,000/2,000 and 10,000 test for 50,000 frames or
    more; fewer (stand-in or small sets): half for train+val (95:5), half for test."""
    if frames >= ALANINE_TRAIN + ALANINE_VAL + ALANINE_TEST:
        return ALANINE_TRAIN, ALANINE_VAL, ALANINE_TEST
    return small_split_sizes(frames)


@dataclass
class SolvatedRun:
    """The solvated peptide's OpenMM System, live Context and Integrator."""

    system: object
    context: object
    integrator: object
    waters: int
    box_nm: np.ndarray  # (3, 3) box vectors as rows


def openmm_seeds(seed: int) -> tuple[int, int]:
    """(integrator seed, velocity seed) from `seed`: OpenMM reads 0 as "pick one at random",
    so the seeds are drawn (1 ... 2^31-1) rather than passed through."""
    drawn = np.random.default_rng(seed).integers(1, 2**31 - 1, size=2)
    return int(drawn[0]), int(drawn[1])


SOLVENTS = {
    "tip3p": "explicit TIP3P water (the data's own setting)",
    "obc": "OBC implicit solvent (amber03_obc.xml): fast, for tests and quick looks",
}


@dataclass
class PeptideSystem:
    """The peptide (atoms first) in its solvent, as OpenMM objects, before any Context."""

    topology: object
    system: object
    positions: object
    waters: int


def peptide_system(solvent: str = "tip3p", water_padding_nm: float = WATER_PADDING_NM):
    """AMBER-03 alanine dipeptide in `solvent` (SOLVENTS): a TIP3P cube, `water_padding_nm`
    around the peptide, PME, or OBC implicit solvent with no cutoff; bonds to H constrained."""
    from openmm import app, unit

    if solvent not in SOLVENTS:
        raise ValueError(f"solvent {solvent!r}: choose one of {', '.join(SOLVENTS)}")
    topology, positions = alanine_dipeptide_topology()
    if solvent == "obc":
        forcefield = app.ForceField(FORCE_FIELD[0], "amber03_obc.xml")
        system = forcefield.createSystem(
            topology, nonbondedMethod=app.NoCutoff, constraints=app.HBonds
        )
        return PeptideSystem(topology, system, positions, 0)
    forcefield = app.ForceField(*FORCE_FIELD)
    modeller = app.Modeller(topology, positions)
    modeller.addSolvent(forcefield, model="tip3p", padding=water_padding_nm * unit.nanometer)
    peptide = [atom.name for atom in list(modeller.topology.atoms())[:PEPTIDE_ATOMS]]
    if peptide != [name for _, name, _ in ATOMS]:
        raise RuntimeError(f"solvation reordered the peptide atoms: {peptide}")
    system = forcefield.createSystem(
        modeller.topology,
        nonbondedMethod=app.PME,
        nonbondedCutoff=CUTOFF_NM * unit.nanometer,
        constraints=app.HBonds,
        rigidWater=True,
    )
    waters = sum(residue.name == "HOH" for residue in modeller.topology.residues())
    return PeptideSystem(modeller.topology, system, modeller.positions, waters)


def langevin_integrator(seed: int):
    """design.md's thermostat for the peptide: LangevinMiddle, 300 K, 1/ps, 2 fs, seeded."""
    import openmm
    from openmm import unit

    integrator = openmm.LangevinMiddleIntegrator(
        TEMPERATURE_K * unit.kelvin, FRICTION_PER_PS / unit.picosecond, TIMESTEP_PS
    )
    integrator.setRandomNumberSeed(openmm_seeds(seed)[0])
    return integrator


def minimise_and_heat(context, seed: int) -> None:
    """Minimise (MINIMISE_TOLERANCE) and draw seeded Maxwell-Boltzmann velocities at 300 K."""
    import openmm
    from openmm import unit

    openmm.LocalEnergyMinimizer.minimize(context, MINIMISE_TOLERANCE, MINIMISE_MAX_ITERATIONS)
    context.setVelocitiesToTemperature(TEMPERATURE_K * unit.kelvin, openmm_seeds(seed)[1])


def cpu_platform(threads: int):
    import openmm

    return openmm.Platform.getPlatformByName("CPU"), {"Threads": str(threads)}


def solvated_run(
    seed: int = 0, water_padding_nm: float = WATER_PADDING_NM, threads: int = 1
) -> SolvatedRun:
    """The peptide in TIP3P (cube, `water_padding_nm` around it), minimised, with seeded
    Maxwell-Boltzmann velocities at 300 K, on OpenMM's CPU platform with `threads` threads."""
    import openmm
    from openmm import unit

    peptide = peptide_system("tip3p", water_padding_nm)
    integrator = langevin_integrator(seed)
    context = openmm.Context(peptide.system, integrator, *cpu_platform(threads))
    context.setPositions(peptide.positions)
    minimise_and_heat(context, seed)
    box = context.getState().getPeriodicBoxVectors(asNumpy=True).value_in_unit(unit.nanometer)
    return SolvatedRun(peptide.system, context, integrator, peptide.waters, np.asarray(box))


def make_whole(positions: np.ndarray, box: np.ndarray) -> np.ndarray:
    """(22, 3) peptide positions with every bond (in BONDS' tree order) shortened to its
    minimum image in the (3, 3) `box`. OpenMM never wraps a Context's positions, so this is
    only a guard: the peptide arrives whole and leaves unchanged."""
    whole = positions.copy()
    inverse = np.linalg.inv(box)
    for i, j in BONDS:  # every atom j is placed after its partner i (a spanning tree)
        fractional = (whole[j] - whole[i]) @ inverse
        whole[j] -= np.round(fractional) @ box
    return whole


def snapshot(run: SolvatedRun) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The peptide's (positions A, velocities A/ps, forces eV/A) now, from OpenMM's
    nm, nm/ps, kJ/mol/nm; velocities are LFMiddle's half-step (leapfrog) velocities."""
    state = run.context.getState(getPositions=True, getVelocities=True, getForces=True)
    positions = state.getPositions(asNumpy=True)._value[:PEPTIDE_ATOMS] * 10
    velocities = state.getVelocities(asNumpy=True)._value[:PEPTIDE_ATOMS] * 10
    forces = state.getForces(asNumpy=True)._value[:PEPTIDE_ATOMS] * KJ_PER_MOL_NM_IN_EV_PER_A
    return make_whole(positions, run.box_nm * 10), velocities, forces


def write_side_files(run: SolvatedRun, out: Path) -> None:
    """`<out stem>.system.xml` (the full solvated System) and `<out stem>.state.xml` (its
    State at the last stored frame): a stopped run can be continued, and anyone can
    re-label a stored frame with OpenMM; each written to a temporary file renamed into place."""
    import openmm

    state = run.context.getState(getPositions=True, getVelocities=True, getParameters=True)
    for suffix, thing in ((".system.xml", run.system), (".state.xml", state)):
        target = out.with_name(out.stem + suffix)
        temporary = target.with_name(target.name + ".partial")
        temporary.write_text(openmm.XmlSerializer.serialize(thing))
        os.replace(temporary, target)


def make_alanine_dataset(
    out: Path,
    frames: int,
    seed: int = 0,
    every: int = 500,
    equilibrate_ps: float = 100.0,
    water_padding_nm: float = WATER_PADDING_NM,
    threads: int = 1,
) -> FrameSet:
    """Run the stand-in MD and write the dataset to `out` (.h5), also every 100 frames on
    the way (to a temporary file renamed into place), so a stopped run keeps its frames;
    the side files of `write_side_files` are written with it."""
    import openmm

    alanine_split_sizes(frames)  # refuse too few frames before any work
    out = Path(out)
    run = solvated_run(seed, water_padding_nm, threads)
    run.integrator.step(round(equilibrate_ps / TIMESTEP_PS))
    attributes = {
        "source": SOURCE,
        "system": "alanine",
        "molecule": "alanine dipeptide (ACE-ALA-NME)",
        "method": f"OpenMM {openmm.__version__}, {' + '.join(FORCE_FIELD)}, CPU platform",
        "solvent": f"{run.waters} TIP3P waters, cube {run.box_nm[0, 0] * 10:.3f} A, "
        f"padding {water_padding_nm} nm; frames keep the {PEPTIDE_ATOMS} peptide atoms only",
        "waters": str(run.waters),
        "box_A": " ".join(f"{x:.6f}" for x in run.box_nm.ravel() * 10),
        "electrostatics": f"PME, cutoff {CUTOFF_NM} nm, ewald tolerance 5e-4, LJ dispersion "
        "correction",
        "constraints": "HBonds (rigid TIP3P); forces are the force field's, no constraint forces",
        "forces": "force-field forces on the peptide atoms from the whole solvated system",
        "energy": "none: NaN in every frame (peptide-only energy is not defined in explicit "
        "water; the paper's alanine file has forces only)",
        "velocities": "LangevinMiddleIntegrator half-step (leapfrog) velocities",
        "thermostat": f"LangevinMiddleIntegrator, friction {FRICTION_PER_PS}/ps",
        "temperature_K": str(TEMPERATURE_K),
        "timestep_fs": str(TIMESTEP_PS * 1000),
        "seed": str(seed),
        "equilibration_ps": str(equilibrate_ps),
        "frame_interval_ps": str(every * TIMESTEP_PS),
        "start": "Z-matrix C7eq peptide minimised in vacuum, then solvated and minimised to "
        f"{MINIMISE_TOLERANCE} kJ/mol/nm",
        "frames_planned": str(frames),
    }
    record: dict[str, list[np.ndarray]] = {k: [] for k in ("x", "v", "f", "t")}
    for frame in range(frames):
        if frame:
            run.integrator.step(every)
        positions, velocities, forces = snapshot(run)
        record["x"].append(positions)
        record["v"].append(velocities)
        record["f"].append(forces)
        record["t"].append(frame * every * TIMESTEP_PS)
        done = frame + 1
        if done == frames or done % CHECKPOINT_FRAMES == 0:
            data = frame_set(record, seed, {**attributes, "complete": str(done == frames)})
            temporary = out.with_name(out.name + ".partial")
            write_side_files(run, out)
            os.replace(write_frames(data, temporary), out)
    return data


def frame_set(record: dict[str, list], seed: int, attributes: dict[str, str]) -> FrameSet:
    """The recorded frames so far, split, as the project's dataset type (no box: the ML
    model runs the peptide alone; energies NaN)."""
    positions = np.array(record["x"])
    count = len(positions)
    return FrameSet(
        species=SPECIES.copy(),
        cell=np.zeros((count, 3, 3)),
        positions=positions,
        unwrapped_positions=positions.copy(),
        velocities=np.array(record["v"]),
        forces=np.array(record["f"]),
        energy=np.full(count, np.nan),
        time=np.array(record["t"]),
        splits=split_indices(count, *alanine_split_sizes(count), seed=seed),
        attributes=attributes,
    )


def frames_per_hour(
    steps: int = 500,
    every: int = 500,
    seed: int = 0,
    water_padding_nm: float = WATER_PADDING_NM,
    threads: int = 1,
) -> dict[str, float]:
    """Measured speed of the maker on this machine (setup and 20 warm-up steps not timed):
    seconds per MD step and dataset frames per hour at one frame every `every` steps."""
    run = solvated_run(seed, water_padding_nm, threads)
    run.integrator.step(20)
    start = time.perf_counter()
    run.integrator.step(steps)
    snapshot(run)
    per_step = (time.perf_counter() - start) / steps
    return {
        "atoms": run.system.getNumParticles(),
        "waters": run.waters,
        "threads": threads,
        "seconds_per_step": per_step,
        "frames_per_hour": 3600 / (per_step * every),
    }
