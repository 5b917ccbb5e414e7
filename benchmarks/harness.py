"""Timing helpers shared by the benchmark scripts: medians, water frames, MD steps/s in
LAMMPS and in an ASE loop, and tables that show what was not measured as '-'."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from lmp_bench.data.frames_file import FrameSet
from lmp_bench.data.water import build_water
from lmp_bench.lammps.run import loop_performance
from lmp_bench.lammps.snapshot import Snapshot, run_snapshot
from lmp_bench.systems import SYSTEMS, Model
from lmp_bench.train.checkpoint import new_model

DECK = Path(__file__).resolve().parents[1] / "inputs" / "water.in"
SPECIES = ["O", "H"]
FORCE_SCALE = 1e-3  # eV/A: untrained forces this small keep MD near the start structure


def median_seconds(call: Callable[[], object], repeats: int, device: str) -> float:
    """Median wall time of `call` after one untimed warm-up call (GPU work included)."""
    times = []
    for attempt in range(repeats + 1):
        start = time.perf_counter()
        call()
        if device == "cuda":
            torch.cuda.synchronize()
        if attempt:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def water_frame(molecules: int) -> FrameSet:
    """One built water box as a dataset frame; random labels (cost does not depend on them)."""
    positions, length = build_water(molecules)
    n = len(positions)
    rng = np.random.default_rng(0)
    return FrameSet(
        species=np.array(["O", "H", "H"] * molecules),
        cell=np.eye(3)[None] * length,
        positions=(positions % length)[None],
        unwrapped_positions=positions[None],
        velocities=np.zeros((1, n, 3)),
        forces=rng.normal(size=(1, n, 3)),
        energy=np.zeros(1),
        time=np.zeros(1),
    )


def fresh_model(name: str, size: str, species: list[str] = SPECIES) -> torch.nn.Module:
    """The zoo network wrapped as training deploys it (ScaledModel), seeded."""
    torch.manual_seed(0)
    return new_model({"model": name, "size": size}, species, FORCE_SCALE, [0.0] * len(species))


def md_steps_per_second(
    model: Model, molecules: int, steps: int, repeats: int, ranks: int, folder: Path
) -> float:
    """deck_steps_per_second of inputs/water.in with `molecules` built molecules."""
    return water_md(model, molecules, steps, repeats, ranks, folder)[0]


def water_md(
    model: Model, molecules: int, steps: int, repeats: int, ranks: int, folder: Path
) -> tuple[float, Snapshot]:
    """(steps/s, the run's snapshot: log, peak memory per rank) of inputs/water.in with
    `molecules` built molecules."""
    folder.mkdir(parents=True, exist_ok=True)
    variables = SYSTEMS["water"].prepare(folder, model, molecules, 0)
    return deck_md(DECK, variables, steps, repeats, ranks)


def deck_steps_per_second(
    deck: Path, variables: dict[str, str], steps: int, repeats: int, ranks: int
) -> float:
    """Median steps/s of `repeats` segments of `steps` steps of a deck (after run 0 and a
    10-step warm-up), each from LAMMPS's Loop time line."""
    return deck_md(deck, variables, steps, repeats, ranks)[0]


def deck_md(
    deck: Path, variables: dict[str, str], steps: int, repeats: int, ranks: int
) -> tuple[float, Snapshot]:
    """(deck_steps_per_second, the run's snapshot) of one run."""
    commands = "".join(f'variable {k} string "{v}"\n' for k, v in variables.items())
    warm_up = min(10, steps)
    snapshot = run_snapshot(
        commands + deck.read_text(),
        ranks,
        segments=[warm_up] + [steps] * repeats,
        atom_virial=False,
        timeout=3600,
    )
    loops = ["Loop time" + part for part in snapshot.log.split("Loop time")[1:]]
    return statistics.median(loop_performance(loop)[1] for loop in loops[-repeats:]), snapshot


def ase_md_steps_per_second(atoms, calculator, steps: int, repeats: int) -> float:
    """Median steps/s of an ASE Nose-Hoover chain NVT loop (300 K, 1 fs) driving
    `calculator`: how the paper's code (MDsim) runs MD."""
    from ase import units
    from ase.md.nose_hoover_chain import NoseHooverChainNVT

    atoms = atoms.copy()
    atoms.calc = calculator
    dynamics = NoseHooverChainNVT(
        atoms, timestep=1.0 * units.fs, temperature_K=300.0, tdamp=100 * units.fs
    )
    dynamics.run(10)  # warm-up
    seconds = median_seconds(lambda: dynamics.run(steps), repeats, "cpu")
    return steps / seconds


def print_table(rows: list[dict], header: str, columns: list[tuple]) -> None:
    print(f"\n{header}")
    print("".join(f"{title:{width}}" for _, title, width, _ in columns))
    for row in rows:
        print("".join(cell(row.get(key), width, spec) for key, _, width, spec in columns))


def cell(value, width: str, spec: str) -> str:
    """A table cell; '-' for what was not measured (None or NaN), never a zero."""
    missing = value is None or (isinstance(value, float) and np.isnan(value))
    return f"{'-':{width}}" if missing else f"{value:{width}{spec}}"
