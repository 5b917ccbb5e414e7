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

LAMMPS against an ASE MD loop, and nequip / deeppot-se: benchmarks/md_speed.py.

Usage: python benchmarks/models.py [--models schnet,painn] [--size small|paper]
       [--molecules 64,512] [--md-steps 200] [--device cpu|cuda] [--ranks 1] [--format pt2|pt]
       [--json out.json]
Triplet models (dimenet++, spherenet, gemnet-t, gemnet-dt) take 5-15 min each to export.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from harness import (  # noqa: E402
    SPECIES,
    fresh_model,
    md_steps_per_second,
    median_seconds,
    print_table,
    water_frame,
)

from lmp_bench.data.frames_file import FrameSet  # noqa: E402
from lmp_bench.export import export  # noqa: E402
from lmp_bench.models.zoo import ZOO, canonical_name, count_parameters  # noqa: E402
from lmp_bench.systems import Model  # noqa: E402
from lmp_bench.train.batches import GraphCache, make_batch, predict, species_ids  # noqa: E402
from lmp_bench.train.config import TrainConfig  # noqa: E402
from lmp_bench.train.trainer import DTYPES, loss_and_errors  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))
COLUMNS = [  # (row key, header, alignment and width, number format)
    ("model", "model", "<11", ""),
    ("system", "system", "<10", ""),
    ("atoms", "atoms", ">6", ""),
    ("device", "device", ">7", ""),
    ("parameters", "params", ">10", ","),
    ("train_steps_per_s", "train (steps/s)", ">16", ".2f"),
    ("infer_ms", "infer (ms/step)", ">16", ".2f"),
    ("md_steps_per_s", "MD (steps/s)", ">13", ".2f"),
    ("export_s", "export (s)", ">11", ".1f"),
]


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
    parser.add_argument("--format", choices=("pt2", "pt"), default="pt2", help="model files")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
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
                model_file = Path(scratch) / f"{name}-{device}.{args.format}"
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
    header = (
        f"model zoo speed, size {args.size}, {args.dtype}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} thread(s), LAMMPS {args.ranks} rank(s), "
        f"MD {args.md_steps} steps x {args.repeats}, medians of {args.repeats}"
    )
    print_table(rows, header, COLUMNS)
    if args.json:
        args.json.write_text(
            json.dumps(
                {"settings": vars(args) | {"header": header}, "rows": rows}, indent=2, default=str
            )
            + "\n"
        )


if __name__ == "__main__":
    main()
