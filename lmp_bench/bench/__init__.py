"""`lmp-bench bench`: the whole benchmark of one system and a set of models in one
resumable command: data, training, test-split force MAE, export, MD replicas, evaluate,
report. Everything lives in one folder; each stage is skipped when its output is complete,
so a stopped or killed command, run again, goes on where it was."""

from lmp_bench.bench.runner import BenchOptions, run_bench

__all__ = ["BenchOptions", "run_bench"]
