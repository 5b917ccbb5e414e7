"""Strong scaling over MPI ranks: MD steps/s of each zoo model on 1, 2, ... ranks.

For each zoo model (small size, float32, untrained with meV/A forces so MD stays near the
start) on water boxes of 64, 512 and 4,096 molecules (inputs/water.in), in one run:

- file:     `halo`: model contract 3 (pieces); `one graph`: contract 2, the model as one
            function. Every zoo model has pieces (SchNet, PaiNN, ForceNet; DimeNet++,
            SphereNet, GemNet-T/dT with edge state) and gets both, so the halo figures stand
            next to those without it; with --format pt the edge-state models get only their
            pieces (their triplet forward is not scriptable).
- path:     what the plugin did, from its log: `owner graph` (one rank), `halo` (ghosts to
            one cutoff, node features exchanged between layers), `gathered` (rank 0
            evaluates the whole system: a contract-2 file whose ghost graph would hold more
            atoms per rank than the system), `ghost graph` (ghosts out to layers x cutoff)
- steps/s:  LAMMPS's own loop time, median of --repeats segments, per rank count
- speed-up: steps/s on N ranks / steps/s on 1 rank, same file
- ceiling:  what N ranks could reach on this machine: N copies of the 1-rank run side by
            side (N <= cores), in the same rounds; N x a copy's steps/s / steps/s of one
            copy alone. Cores of one machine share caches, memory bandwidth and clock
            boost, so N copies seldom reach N x; a speed-up near the ceiling is all that
            splitting the work can give here
- RSS:      the largest peak resident memory of one rank (MiB), over the runs

--nequip RUN adds a nequip run folder (`lmp-bench train --model nequip`): its
pair_nequip-target file (gathered on several ranks, since its forces are of the whole
system's energy) and its file in pieces (contract 3, halo exchange). One thread per rank
(OMP_NUM_THREADS=1), so N ranks use N cores. A GPU section (one rank per GPU) runs when
torch sees a GPU. --format pt2 (AOTInductor, the default) or pt
(TorchScript: its pieces keep autograd graphs between forward and backward).

--size paper gives the paper's hyperparameters instead of the small test size (rows
marked `paper`); --md-steps then sets the steps per segment of every box (at least 1).

Usage: python benchmarks/scaling.py [--models schnet,painn,forcenet,dimenet++,...]
       [--molecules 64,512,4096] [--ranks 1,2] [--md-steps 100] [--rounds 3] [--format pt2|pt]
       [--size small|paper] [--nequip RUN] [--json f]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
from harness import SPECIES, fresh_model, print_table, water_md  # noqa: E402

from lmp_bench.export import export  # noqa: E402
from lmp_bench.export.halo import ScriptedPieces  # noqa: E402
from lmp_bench.lammps.snapshot import LammpsRunError  # noqa: E402
from lmp_bench.models.halo import has_halo_pieces  # noqa: E402
from lmp_bench.models.zoo import ZOO, canonical_name  # noqa: E402
from lmp_bench.systems import Model  # noqa: E402

torch.set_num_threads(1)
COLUMNS = [  # (row key, header, width, number format)
    ("model", "model", "<11", ""),
    ("size", "size", "<7", ""),
    ("file", "file", "<13", ""),
    ("path", "path", "<13", ""),
    ("molecules", "molecules", ">10", ""),
    ("atoms", "atoms", ">7", ""),
    ("device", "device", ">7", ""),
    ("ranks", "ranks", ">6", ""),
    ("steps_per_s", "steps/s", ">10", ".2f"),
    ("speedup", "speed-up", ">9", ".2f"),
    ("ceiling", "ceiling", ">8", ".2f"),
    ("peak_rss_mib", "RSS MiB", ">9", ".0f"),
]


class GraphOnly(torch.nn.Module):
    """A model without `halo_pieces`, exported as one graph (contract 2): a node-state
    model's pieces composed into one function, an edge-state model's own forward (with its
    triplet list); scriptable, so both formats work."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        pieces = model.halo_pieces()
        self.graph = model if pieces.edge_state_width else ScriptedPieces(pieces)
        self.species, self.cutoff = model.species, model.cutoff
        self.num_layers, self.direct_forces = model.num_layers, model.direct_forces

    def forward(self, species, edge_index, edge_vectors):
        return self.graph(species, edge_index, edge_vectors)


def model_files(name: str, args, device: str, scratch: Path) -> dict[str, Path]:
    """{file kind: exported file} of zoo model `name`: halo and one graph, or one graph
    only for models without pieces."""
    model = fresh_model(name, args.size, SPECIES)
    variants = {"one graph": model}
    if has_halo_pieces(model):
        variants = {"halo": model, "one graph": GraphOnly(model)}
        if args.format == "pt" and model.halo_pieces().edge_state_width:
            del variants["one graph"]  # the triplet forward is not scriptable
    files = {}
    for path, module in variants.items():
        kind = path.replace(" ", "-")
        target = scratch / f"{name}-{args.size}-{kind}-{device}.{args.format}"
        start = time.perf_counter()
        export(module, target, dtype="float32", device=device)
        seconds = time.perf_counter() - start
        print(f"  exported {name} ({path}, {device}) in {seconds:.0f} s", file=sys.stderr)
        files[path] = target
    return files


def measure(name: str, args, device: str, rank_counts: list[int], scratch: Path) -> list[dict]:
    """Rows of one zoo model (see measure_models)."""
    models = {
        path: Model(file, tuple(SPECIES), device=device)
        for path, file in model_files(name, args, device, scratch).items()
    }
    return measure_models(name, models, args, device, rank_counts, scratch)


def nequip_models(run: Path) -> dict[str, Model]:
    """{file kind: model} of a nequip run folder (lmp-bench train --model nequip): its
    pair_nequip-target file (gathered on several ranks: its forces are of the whole
    system's energy) and its contract-3 file in pieces (halo exchange), made here if the run
    has none (lmp-bench export <run>)."""
    from lmp_bench.frameworks import framework

    tools = framework("nequip")
    run = run.resolve()
    path = tools.deployed_file(run)
    species = tools.species_of(path)
    pieces = run / tools.PIECES
    if not pieces.exists():
        tools.export_pieces(run)
    return {
        "pair_nequip": Model(path, species, framework="nequip"),
        "pieces": Model(pieces, species),
    }


def measure_models(
    name: str, models: dict[str, Model], args, device: str, rank_counts: list[int], scratch: Path
) -> list[dict]:
    """Rows of one model's files: the rank counts are measured in turn, --rounds times over
    (the machine's speed drifts: interleaving keeps the ratios fair), median of the rounds."""
    rows = []
    for path, model in models.items():
        file = model.file
        for molecules in args.molecule_counts:
            steps = max(5, round(args.md_steps * 64 / molecules))
            steps = args.md_steps if args.size == "paper" else steps
            rates: dict[int, list[float]] = {ranks: [] for ranks in rank_counts}
            copies: dict[int, list[float]] = {ranks: [] for ranks in side_by_side(rank_counts)}
            taken: dict[int, str] = {}
            peaks: dict[int, list[float]] = {ranks: [] for ranks in rank_counts}
            for turn in range(args.rounds):
                for ranks in rank_counts:
                    folder = scratch / f"{file.stem}-{molecules}-{ranks}-{turn}"
                    try:
                        rate, run = water_md(model, molecules, steps, args.repeats, ranks, folder)
                    except LammpsRunError as err:  # e.g. killed for memory: a '-' in the table
                        print(f"  {name} {path} water-{molecules} x{ranks} failed: {err}",
                              file=sys.stderr)  # fmt: skip
                        rates[ranks].append(float("nan"))
                        taken.setdefault(ranks, "failed")
                        continue
                    rates[ranks].append(rate)
                    taken[ranks] = path_taken(run.log)
                    peaks[ranks].append(float(run.peak_rss_mib.max()))
                for n in copies:
                    folder = scratch / f"{file.stem}-{molecules}-side-by-side{n}-{turn}"
                    copies[n] += side_by_side_rates(model, molecules, steps, args, folder, n)
            first = None
            for ranks in rank_counts:
                rate = statistics.median(rates[ranks])
                peak = max(peaks[ranks], default=float("nan"))
                first = first or rate
                rows.append(
                    {
                        "model": name,
                        "size": args.size if name in ZOO else "",
                        "file": path,
                        "path": taken[ranks],
                        "molecules": molecules,
                        "atoms": 3 * molecules,
                        "device": device,
                        "ranks": ranks,
                        "steps_per_s": rate,
                        "speedup": rate / first,
                        "ceiling": (
                            ranks * statistics.median(copies[ranks]) / first
                            if ranks in copies
                            else None
                        ),
                        "peak_rss_mib": peak,
                    }
                )
                print(
                    f"  {name} {path} water-{molecules} {device} x{ranks} ({taken[ranks]}): "
                    f"{rate:.2f} steps/s, {peak:.0f} MiB per rank",
                    file=sys.stderr,
                    flush=True,
                )
    return rows


def side_by_side(rank_counts: list[int]) -> list[int]:
    """The rank counts whose ceiling is measured: more than one, at most one per core."""
    return [ranks for ranks in rank_counts if 1 < ranks <= (os.cpu_count() or 1)]


def side_by_side_rates(
    model: Model, molecules: int, steps: int, args, folder: Path, count: int
) -> list[float]:
    """steps/s of each of `count` 1-rank runs started together (NaN for one that failed)."""

    def one_copy(index: int) -> float:
        try:
            return water_md(model, molecules, steps, args.repeats, 1, folder / str(index))[0]
        except LammpsRunError:
            return float("nan")

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one_copy, range(count)))


def path_taken(log: str) -> str:
    """How the plugin ran the file, from the line it logs."""
    for phrase, path in (  # gathered first: an edge-state file logs halo, then gathered
        ("the whole system, gathered, evaluated on rank 0", "gathered"),
        ("halo exchange: ghosts to one cutoff", "halo"),
        ("system is evaluated on rank 0 of", "gathered"),
        ("ghost graph: ghosts out to layers x cutoff", "ghost graph"),
        ("one rank: owner graph", "owner graph"),
    ):
        if phrase in log:
            return path
    return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=",".join(ZOO), help="comma list of zoo models")
    parser.add_argument("--molecules", default="64,512,4096", help="water box sizes")
    parser.add_argument("--ranks", default="1,2", help="MPI rank counts on the CPU")
    parser.add_argument("--md-steps", type=int, default=100, help="steps per segment at 64")
    parser.add_argument("--repeats", type=int, default=3, help="timed segments per run")
    parser.add_argument("--rounds", type=int, default=3, help="runs per rank count, in turn")
    parser.add_argument("--format", choices=("pt2", "pt"), default="pt2")
    parser.add_argument("--size", choices=("small", "paper"), default="small")
    parser.add_argument("--nequip", type=Path, help="also a nequip run folder (lmp-bench train)")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    args = parser.parse_args()
    names = [canonical_name(name) for name in args.models.split(",") if name]
    args.molecule_counts = [int(m) for m in args.molecules.split(",")]
    rank_counts = [int(r) for r in args.ranks.split(",")]
    gpus = torch.cuda.device_count()
    rows = []
    with tempfile.TemporaryDirectory(prefix="lmpb-scaling-") as scratch:
        for name in names:
            rows += measure(name, args, "cpu", rank_counts, Path(scratch))
        if args.nequip:
            models = nequip_models(args.nequip)
            rows += measure_models("nequip", models, args, "cpu", rank_counts, Path(scratch))
        if gpus:
            gpu_ranks = sorted({1, gpus})
            for name in names:
                rows += measure(name, args, "cuda", gpu_ranks, Path(scratch))
    header = (
        f"Strong scaling, water (inputs/water.in), zoo size {args.size}, float32, .{args.format} "
        f"files, torch {torch.__version__}, 1 thread per rank, {os.cpu_count()} cores"
        + (f", {gpus} x {torch.cuda.get_device_name()}" if gpus else "")
        + f"; steps/s = median of {args.rounds} runs (in turn) of {args.repeats} segments"
    )
    print_table(rows, header, COLUMNS)
    if args.json:
        args.json.write_text(json.dumps({"header": header, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
