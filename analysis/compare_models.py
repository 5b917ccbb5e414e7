"""Compare runs of one system (two models, or a model against itself at another setting):
their metrics side by side as a Markdown table, and their structure and stability figures.

Usage: python analysis/compare_models.py RUN_A RUN_B [...] [-o compare]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lmp_bench.report import load_run, table
from lmp_bench.report_figures import structure_figure, survival_figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", type=Path, nargs="+")
    parser.add_argument("-o", "--output", type=Path, default=Path("compare"))
    args = parser.parse_args()
    runs = [load_run(folder) for folder in args.runs]
    systems = {run.system for run in runs}
    if len(systems) > 1:
        raise SystemExit(f"these runs are of different systems {sorted(systems)}: compare one")
    header, rows = table(runs)
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    print("\n".join("| " + " | ".join(row) + " |" for row in rows))
    for name, make in (("structure", structure_figure), ("stability", survival_figure)):
        figure = make(runs)
        if figure is not None:
            figure.savefig(f"{args.output}-{name}.png", dpi=150)
            print(f"wrote {args.output}-{name}.png")


if __name__ == "__main__":
    main()
