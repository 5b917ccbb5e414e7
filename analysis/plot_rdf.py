"""Plot one run's g(r) (periodic systems, per element pair) or h(r) (molecules) against
its reference: the mean over the replicas' stable parts, as `lmp-bench evaluate` scores it.

Usage: python analysis/plot_rdf.py RUN_FOLDER [-o rdf.png]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lmp_bench.report import load_run
from lmp_bench.report_figures import structure_figure


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("-o", "--output", type=Path, default=Path("rdf.png"))
    args = parser.parse_args()
    run = load_run(args.run)  # scores the run first if evaluate has not
    if run.problem:
        raise SystemExit(f"{args.run}: {run.problem}")
    structure_figure([run]).savefig(args.output, dpi=150)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
