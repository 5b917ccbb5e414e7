"""Plugin overhead: MD steps/s through pair_style mlff against the model alone.

For the LJ and Stillinger-Weber reference modules at ~500, ~4,000 and ~32,000 atoms:

- plugin:   LAMMPS NVE steps/s with pair_style mlff (LAMMPS's own loop time)
- model:    steps/s if a step cost only the model call, timed inside the plugin in the same run
- ceiling:  the same exported .pt2 called directly from Python on the same atoms, with
            periodic images as explicit ghost nodes and the same edges (forward+backward)
- native:   LAMMPS's own lj/cut or sw on the same atoms
- overhead: (plugin step time - model time) / plugin step time, both from the same run
            (the plugin logs its model time); target <= 5 % at 4,000 atoms
- edges:    the part of the overhead spent building the edge list (the plugin logs it too);
            the rest is LAMMPS's own step (integration, ghost communication) and the copies

One process, one thread (OMP_NUM_THREADS=1), all variants side by side in one run.
Usage: python benchmarks/plugin_overhead.py [--sizes 500,4000,32000] [--format pt2|pt]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from ase import Atoms  # noqa: E402
from ase.build import bulk  # noqa: E402
from ase.io import write  # noqa: E402
from ase.neighborlist import neighbor_list  # noqa: E402

from lmp_bench import export  # noqa: E402
from lmp_bench.lammps.run import loop_performance  # noqa: E402
from lmp_bench.lammps.snapshot import run_snapshot  # noqa: E402
from lmp_bench.models import LennardJones, StillingerWeber  # noqa: E402

torch.set_num_threads(1)
SYSTEMS = {
    "lj": dict(
        element="Ar",
        lattice=("fcc", 5.26),
        per_cell=4,
        mass=39.948,
        native="pair_style lj/cut 8.5\npair_coeff * * 0.0103 3.405\n",
    ),
    "sw": dict(
        element="Si",
        lattice=("diamond", 5.431),
        per_cell=8,
        mass=28.0855,
        native="pair_style sw\npair_coeff * * {sw_file} Si\n",
    ),
}
SW_FILE = (
    "Si Si Si 2.1683 2.0951 1.80 21.0 1.20 -0.33333333333333333 "
    "7.049556277 0.6022245584 4.0 0.0 0.0\n"
)


def structure(spec: dict, target_atoms: int) -> Atoms:
    repeat = round((target_atoms / spec["per_cell"]) ** (1 / 3))
    kind, a = spec["lattice"]
    atoms = bulk(spec["element"], kind, a=a, cubic=True).repeat(repeat)
    atoms.positions += np.random.default_rng(0).uniform(-0.1, 0.1, atoms.positions.shape)
    atoms.wrap()
    return atoms


SKIN = 2.0  # A, LAMMPS's default neighbour skin in metal units (--skin changes it)


def deck(data: Path, spec: dict, pair: str) -> str:
    return (
        f"units metal\natom_style atomic\natom_modify map array\nneighbor {SKIN} bin\n"
        f"read_data {data}\n"
        f"mass 1 {spec['mass']}\n{pair}velocity all create 300 5 loop geom\n"
        "fix integrate all nve\ntimestep 0.001\n"
    )


def lammps_steps_per_second(commands: str, steps: int) -> tuple[float, float, float]:
    """(steps/s, seconds in the model per step, seconds building edges per step) of the
    last run; the times are NaN without pair_style mlff."""
    log = run_snapshot(commands, 1, segments=[steps]).log
    last_run = log[log.rindex("Loop time") :]
    found = re.search(r"pair mlff: (\d+) model calls, ([\d.eE+-]+) s in the model", last_run)
    edges = re.search(r"pair mlff: ([\d.eE+-]+) s building edges", last_run)
    calls = int(found.group(1)) if found else 0
    model = float(found.group(2)) / calls if found else float("nan")
    edge_time = float(edges.group(1)) / calls if found and edges else float("nan")
    return loop_performance(last_run)[1], model, edge_time


def model_seconds_per_call(model_file: Path, atoms: Atoms, cutoff: float, repeats: int) -> float:
    """Median time of one call of the exported graph, ghosts as explicit image nodes."""
    i, j, shifts = neighbor_list("ijS", atoms, cutoff)
    images = {}
    ghost_positions = []
    dst = np.empty_like(j)
    for e, (atom, shift) in enumerate(zip(j, map(tuple, shifts), strict=True)):
        if shift == (0, 0, 0):
            dst[e] = atom
            continue
        key = (atom, shift)
        if key not in images:
            images[key] = len(atoms) + len(ghost_positions)
            ghost_positions.append(atoms.positions[atom] + np.dot(shift, atoms.cell.array))
        dst[e] = images[key]
    nodes = np.concatenate([atoms.positions, np.reshape(ghost_positions, (-1, 3))])
    if model_file.suffix == ".pt2":
        graph = torch._inductor.aoti_load_package(str(model_file))
    else:
        graph = torch.jit.load(str(model_file))
    inputs = (  # model contract 2 (lmp_bench.models.interface.GRAPH_INPUTS)
        torch.tensor(nodes),
        torch.zeros(len(nodes), dtype=torch.long),
        torch.tensor(np.stack([i, dst])),
        torch.zeros(len(i), 3, dtype=torch.float64),  # edge_shift: images are explicit nodes
        torch.tensor(len(atoms)),
    )
    graph(*inputs)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        graph(*inputs)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main() -> None:
    global SKIN
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="500,4000,32000", help="atom counts, comma list")
    parser.add_argument("--skin", type=float, default=2.0, help="neighbour skin, A (default 2.0)")
    parser.add_argument("--format", choices=("pt2", "pt"), default="pt2", help="model files")
    args = parser.parse_args()
    SKIN = args.skin
    sizes = [int(n) for n in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        (scratch / "Si.sw").write_text(SW_FILE)
        models = {"lj": LennardJones(), "sw": StillingerWeber()}
        for name, spec in SYSTEMS.items():
            model_file = export(models[name], scratch / f"{name}.{args.format}")
            for target in sizes:
                atoms = structure(spec, target)
                data = scratch / f"{name}-{target}.data"
                write(data, atoms, format="lammps-data", units="metal", atom_style="atomic")
                steps = max(20, int(1_200_000 / len(atoms)))  # 300 at 4,000 atoms
                plugin, model_time, edge_time = lammps_steps_per_second(
                    deck(
                        data,
                        spec,
                        f"pair_style mlff {model_file}\npair_coeff * * {spec['element']}\n",
                    ),
                    steps,
                )
                native, _, _ = lammps_steps_per_second(
                    deck(data, spec, spec["native"].format(sw_file=scratch / "Si.sw")), steps
                )
                ceiling = 1.0 / model_seconds_per_call(
                    model_file, atoms, models[name].cutoff, repeats=max(5, steps // 4)
                )
                step_time = 1.0 / plugin
                rows.append(
                    (
                        name,
                        len(atoms),
                        plugin,
                        1.0 / model_time,
                        ceiling,
                        native,
                        100.0 * (step_time - model_time) / step_time,
                        100.0 * edge_time / step_time,
                    )
                )
                print(f"  measured {name} {len(atoms)} atoms", file=sys.stderr, flush=True)
    print(
        f"\nplugin overhead, CPU, 1 rank, 1 thread, torch {torch.__version__}, "
        f"neighbour skin {SKIN} A"
    )
    print(
        "steps/s: MD steps per wall-clock second; overhead: share of the plugin's step time "
        "not spent in the model; edges: share spent building the edge list"
    )
    print(
        f"{'model':<6}{'atoms':>7}{'plugin':>10}{'model':>10}{'ceiling':>10}{'native':>10}"
        f"{'overhead %':>12}{'edges %':>9}"
    )
    for name, atoms, plugin, model, ceiling, native, overhead, edges in rows:
        print(
            f"{name:<6}{atoms:>7}{plugin:>10.1f}{model:>10.1f}{ceiling:>10.1f}{native:>10.1f}"
            f"{overhead:>12.1f}{edges:>9.1f}"
        )


if __name__ == "__main__":
    main()
