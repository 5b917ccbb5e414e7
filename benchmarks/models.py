"""Model zoo speed on water: parameters, training, Python inference and LAMMPS MD.

For each zoo model on water-64 and water-512 (CPU, and CUDA when torch sees a GPU):

- params:   trainable parameters
- train:    optimizer steps/s, one frame per step, force+energy loss: the trainer's own
            loss_and_errors (graph cached, as in training) with its Adam + clip step
- infer:    ms per energy + autograd forces of one frame in Python (trainer's predict,
            neighbour graph prebuilt)
- MD:       NVT steps/s of the exported .pt2 in LAMMPS (inputs/water.in through
            pair_style mlff, LAMMPS's own loop time)
- export:   seconds AOTInductor took to compile the model (once per model and device)

Models are untrained (seed 0), output scaled to meV/A forces so that MD cannot blow up:
atoms then drift almost freely at 300 K, the density stays uniform and the edge count
within a few % of the built box's (cost depends on atom and edge counts, not on weights).
Python inference runs the eager model, MD the AOTInductor-compiled one. All numbers come
from one run on one machine, each the median of --repeats timed calls after a warm-up call.
Threads: OMP_NUM_THREADS (default 1) for Python and LAMMPS.

Framework models (--nequip / --deepmd: run folders of `lmp-bench train --model nequip |
deeppot-se`) add rows with their own ASE calculator's inference time and an ASE MD loop
(Nose-Hoover chain, 300 K, 1 fs: how the paper's code runs MD) next to LAMMPS, in the same
run: the LAMMPS/ASE column is their ratio.

Usage: python benchmarks/models.py [--models schnet,painn] [--size small|paper]
       [--molecules 64,512] [--md-steps 200] [--device cpu|cuda] [--ranks 1] [--json out.json]
       [--nequip RUN] [--deepmd RUN]   (--models "" for the framework rows only)
Triplet models (dimenet++, spherenet, gemnet-t, gemnet-dt) take 5-15 min each to export.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from lmp_bench.data.frames_file import FrameSet  # noqa: E402
from lmp_bench.data.water import build_water  # noqa: E402
from lmp_bench.export import export  # noqa: E402
from lmp_bench.lammps.run import loop_performance  # noqa: E402
from lmp_bench.lammps.snapshot import run_snapshot  # noqa: E402
from lmp_bench.models.zoo import ZOO, canonical_name, count_parameters  # noqa: E402
from lmp_bench.systems import SYSTEMS, Model  # noqa: E402
from lmp_bench.train.batches import GraphCache, make_batch, predict, species_ids  # noqa: E402
from lmp_bench.train.checkpoint import new_model  # noqa: E402
from lmp_bench.train.config import TrainConfig  # noqa: E402
from lmp_bench.train.trainer import DTYPES, loss_and_errors  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
DECK = Path(__file__).resolve().parents[1] / "inputs" / "water.in"
SPECIES = ["O", "H"]
FORCE_SCALE = 1e-3  # eV/A: untrained forces this small keep MD near the start structure
COLUMNS = [  # (row key, header, alignment and width, number format)
    ("model", "model", "<11", ""),
    ("system", "system", "<10", ""),
    ("atoms", "atoms", ">6", ""),
    ("device", "device", ">7", ""),
    ("parameters", "params", ">10", ","),
    ("train_steps_per_s", "train (steps/s)", ">16", ".2f"),
    ("infer_ms", "infer (ms/step)", ">16", ".2f"),
    ("md_steps_per_s", "MD (steps/s)", ">13", ".2f"),
    ("ase_md_steps_per_s", "ASE MD (steps/s)", ">17", ".2f"),
    ("lammps_over_ase", "LAMMPS/ASE", ">11", ".2f"),
    ("export_s", "export (s)", ">11", ".1f"),
]


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


def python_timings(
    name: str, size: str, frame: FrameSet, dtype: str, device: str, repeats: int
) -> tuple[float, float]:
    """(training steps/s, inference ms/step) of a fresh model on one frame."""
    config = TrainConfig(model=name, size=size, dtype=dtype, device=device)
    model = fresh_model(name, size).to(DTYPES[dtype]).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)

    def step(loss: torch.Tensor) -> None:  # the trainer's optimizer step
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()

    species = species_ids(frame, SPECIES)
    graphs = GraphCache(frame, model.cutoff)
    index = np.array([0])
    model.train()
    with contextlib.redirect_stderr(io.StringIO()):  # the trainer's tty progress line
        train = median_seconds(
            lambda: loss_and_errors(
                model, frame, graphs, index, species, config, 1.0, device, step
            ),
            repeats,
            device,
        )
    model.eval()
    batch = make_batch(frame, index, species, graphs, DTYPES[dtype], device)
    infer = median_seconds(lambda: predict(model, batch, create_graph=False), repeats, device)
    return 1.0 / train, 1000.0 * infer


def fresh_model(name: str, size: str) -> torch.nn.Module:
    """The zoo network wrapped as training deploys it (ScaledModel), seeded."""
    torch.manual_seed(0)
    return new_model({"model": name, "size": size}, SPECIES, FORCE_SCALE, [0.0, 0.0])


def md_steps_per_second(
    model: Model, molecules: int, steps: int, repeats: int, ranks: int, folder: Path
) -> float:
    """Median steps/s of `repeats` segments of `steps` NVT steps (after run 0 and a 10-step
    warm-up), each from LAMMPS's Loop time line."""
    folder.mkdir(parents=True, exist_ok=True)
    variables = SYSTEMS["water"].prepare(folder, model, molecules, 0)
    commands = "".join(f"variable {k} string {v}\n" for k, v in variables.items())
    log = run_snapshot(
        commands + DECK.read_text(), ranks, segments=[10] + [steps] * repeats, atom_virial=False
    ).log
    loops = ["Loop time" + part for part in log.split("Loop time")[1:]]
    return statistics.median(loop_performance(loop)[1] for loop in loops[-repeats:])


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


def framework_rows(args: argparse.Namespace, frames: dict[int, FrameSet]) -> list[dict]:
    """nequip and deeppot-se (--nequip / --deepmd run folders): Python inference through
    the framework's own ASE calculator, MD in LAMMPS and in an ASE loop, side by side.
    nequip gets two LAMMPS rows: its pair_nequip compile (what `train` deploys) and its ase
    compile (the very file the ASE loop runs), so the LAMMPS/ASE ratio compares engines."""
    from ase import Atoms

    from lmp_bench.frameworks import framework

    rows = []
    for name, run in (("nequip", args.nequip), ("deeppot-se", args.deepmd)):
        if run is None:
            continue
        tools = framework(name)
        start = time.perf_counter()
        calculator = tools.ase_calculator(run)
        setup_s = time.perf_counter() - start
        files = {name: tools.deployed_file(run)}
        if name == "nequip":
            files["nequip-ase"] = Path(run) / tools.ASE_DEPLOYED
        for molecules, frame in frames.items():
            atoms = Atoms(
                symbols=list(frame.species), positions=frame.positions[0], cell=frame.cell[0]
            )
            atoms.pbc = True
            atoms.calc = calculator

            def forces(atoms=atoms) -> None:
                atoms.calc.reset()
                atoms.get_forces()

            infer = 1000 * median_seconds(forces, args.repeats, "cpu")
            ase_md = ase_md_steps_per_second(atoms, calculator, args.md_steps, args.repeats)
            for label, model_file in files.items():
                model = Model(model_file, tools.species_of(model_file), framework=name)
                scratch = Path(tempfile.mkdtemp(prefix=f"lmpb-{label}-"))
                md = md_steps_per_second(
                    model, molecules, args.md_steps, args.repeats, args.ranks, scratch
                )
                rows.append(
                    {
                        "model": label,
                        "system": f"water-{molecules}",
                        "atoms": 3 * molecules,
                        "device": "cpu",
                        "parameters": tools.parameter_count(run),
                        "train_steps_per_s": float("nan"),
                        "infer_ms": infer,
                        "md_steps_per_s": md,
                        "ase_md_steps_per_s": ase_md,
                        "lammps_over_ase": md / ase_md,
                        "export_s": setup_s,
                    }
                )
    return rows


def print_table(rows: list[dict], header: str) -> None:
    print(f"\n{header}")
    print("".join(f"{title:{width}}" for _, title, width, _ in COLUMNS))
    for row in rows:
        print("".join(cell(row.get(key), width, spec) for key, _, width, spec in COLUMNS))


def cell(value, width: str, spec: str) -> str:
    """A table cell; '-' for what was not measured (None or NaN), never a zero."""
    missing = value is None or (isinstance(value, float) and np.isnan(value))
    return f"{'-':{width}}" if missing else f"{value:{width}{spec}}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(ZOO), help="comma list of zoo models")
    parser.add_argument("--size", choices=("small", "paper"), default="small")
    parser.add_argument("--molecules", default="64,512", help="comma list (cube numbers)")
    parser.add_argument("--md-steps", type=int, default=200, help="MD steps per timed segment")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (median)")
    parser.add_argument("--device", choices=("cpu", "cuda"), help="default: cpu, and cuda if any")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="float32")
    parser.add_argument("--ranks", type=int, default=1, help="MPI ranks for LAMMPS")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    parser.add_argument("--nequip", type=Path, help="nequip run folder (lmp-bench train)")
    parser.add_argument("--deepmd", type=Path, help="deeppot-se run folder (lmp-bench train)")
    args = parser.parse_args()
    models = [canonical_name(name) for name in args.models.split(",") if name]
    molecule_counts = [int(m) for m in args.molecules.split(",")]
    devices = [args.device] if args.device else ["cpu"] + ["cuda"] * torch.cuda.is_available()
    frames = {m: water_frame(m) for m in molecule_counts}
    rows = []
    with tempfile.TemporaryDirectory(prefix="lmpb-models-") as scratch:
        for name in models:
            parameters = count_parameters(fresh_model(name, args.size))
            for device in devices:
                start = time.perf_counter()
                model_file = Path(scratch) / f"{name}-{device}.pt2"
                export(fresh_model(name, args.size), model_file, dtype=args.dtype, device=device)
                export_s = time.perf_counter() - start
                print(f"  exported {name} ({device}) in {export_s:.0f} s", file=sys.stderr)
                for molecules in molecule_counts:
                    train, infer = python_timings(
                        name, args.size, frames[molecules], args.dtype, device, args.repeats
                    )
                    md = md_steps_per_second(
                        Model(model_file, tuple(SPECIES)),
                        molecules,
                        args.md_steps,
                        args.repeats,
                        args.ranks,
                        Path(scratch) / f"{name}-{device}-{molecules}",
                    )
                    rows.append(
                        {
                            "model": name,
                            "size": args.size,
                            "system": f"water-{molecules}",
                            "atoms": 3 * molecules,
                            "device": device,
                            "parameters": parameters,
                            "train_steps_per_s": train,
                            "infer_ms": infer,
                            "md_steps_per_s": md,
                            "export_s": export_s,
                        }
                    )
                    print(f"  measured {name} water-{molecules} ({device})", file=sys.stderr)
    rows += framework_rows(args, frames)
    header = (
        f"model zoo speed, size {args.size}, {args.dtype}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s), LAMMPS {args.ranks} rank(s), "
        f"MD {args.md_steps} steps x {args.repeats}, medians of {args.repeats}"
    )
    print_table(rows, header)
    if args.json:
        args.json.write_text(
            json.dumps(
                {"settings": vars(args) | {"header": header}, "rows": rows}, indent=2, default=str
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
