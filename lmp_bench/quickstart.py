"""`lmp-bench quickstart`: the whole water benchmark, small, on a fresh machine.

The same commands as the full benchmark with smaller numbers: make a short classical
reference dataset, train a small SchNet for a few minutes, export it, run two replicas in
LAMMPS from test frames with the watchdog on, run two classical reference replicas,
evaluate both runs (the reference's own replicas as the yardstick) and write the report.
`command` runs one lmp-bench command line (the CLI's main); every step's output stays in
one folder, so each step can be redone by hand.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

DECK = str(Path(__file__).resolve().parents[1] / "inputs" / "water.in")


def only_folder(parent: Path) -> Path:
    (folder,) = [p for p in parent.iterdir() if p.is_dir()]
    return folder


def quickstart(
    command: Callable[[list[str]], int],
    output: Path,
    model: str = "schnet",
    train_minutes: float = 4.0,
    frames: int = 200,
    length_ps: float = 5.0,
    reference_ps: float = 20.0,
) -> int:
    output = output / time.strftime("quickstart-%Y%m%d-%H%M%S")
    output.mkdir(parents=True)
    data = output / "water.h5"

    def step(title: str, *argv: str) -> None:
        print(f"\n=== lmp-bench {' '.join(argv)}   # {title}", flush=True)
        if command(list(argv)) != 0:
            raise RuntimeError(f"step failed: lmp-bench {' '.join(argv)}")

    started = time.perf_counter()
    step(
        f"{frames} reference frames, classical SPC/Fw water-64",
        *("data", "make", "water", "--frames", str(frames), "--equilibrate", "5"),
        *("-o", str(data)),
    )
    step(
        f"train a small {model}, {train_minutes:g} min",
        *("train", "--model", model, "--data", str(data), "--output", str(output / "train")),
        *("--set", "size=small", "--set", f"max_minutes={train_minutes}", "--set", "lr=0.003"),
    )
    step("its test-split errors", "test", str(output / "train"), "--data", str(data))
    model_file = output / f"{model}.pt2"
    step("export for pair_style mlff", "export", str(output / "train"), "-o", str(model_file))
    step(
        "classical reference: 2 replicas",
        *("run", DECK, "--model", "reference", "--replicas", "2"),
        *("--length", str(reference_ps), "--output", str(output / "reference")),
    )
    reference = only_folder(output / "reference")
    step(
        "the model in LAMMPS: 2 replicas from test frames, watchdog against the reference",
        *("run", DECK, "--model", str(model_file), "--replicas", "2", "--length", str(length_ps)),
        *("--start-from", str(data), "--reference", str(reference)),
        *("--output", str(output / "model")),
    )
    step(
        "stability, RDF, diffusivity, speed of the model's and (a yardstick) the reference's "
        "replicas: every run folder under the quickstart's folder",
        *("evaluate", str(output), "--reference", str(reference)),
    )
    report = output / "report"
    step("tables, figures and one HTML page of both runs", "report", str(output), "-o", str(report))
    minutes = (time.perf_counter() - started) / 60
    print(
        f"\nlmp-bench quickstart: done in {minutes:.1f} min; everything is in {output}; "
        f"the report: {report / 'report.html'}"
    )
    return 0
