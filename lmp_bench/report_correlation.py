"""Does a lower force error mean a better simulation? Spearman rank correlation, over the
runs of one system, between each run's model force MAE and its MD metrics.

The paper's question in one number a pair: rho = +1 says ranking models by force MAE
orders them exactly as the metric does (lower error, lower h(r) MAE); for stability, a
useful force error would give rho = -1 (lower error, longer stable). Ranks, not values,
because the metrics live on unrelated scales and a replica's stability is capped at the
run's length (ties, given average ranks). A run enters a pair only when both numbers
exist; with fewer than 3 such runs there is no correlation to report."""

from __future__ import annotations

from dataclasses import dataclass

from scipy.stats import spearmanr

# (metric title with its unit, summary key), each set against force MAE
METRICS = (("stability (ps)", "stability_ps"), ("h(r) MAE (dimensionless)", "h_mae"))
MIN_RUNS = 3


@dataclass
class RankCorrelation:
    metric: str
    rho: float | None  # Spearman's rho; None with fewer than MIN_RUNS runs
    p_value: float | None  # two-sided, no-correlation null (scipy's; rough for few runs)
    runs: int


def summary_mean(metrics: dict | None, key: str) -> float | None:
    """The mean over replicas of one metric, or None where the run lacks it."""
    if not metrics:
        return None
    value = metrics.get("summary", {}).get(key)
    return None if value is None else float(value["mean"])


def rank_correlations(results: list) -> list[RankCorrelation]:
    """Force MAE against each of METRICS over `results` (report.RunResult, one system)."""
    out = []
    for title, key in METRICS:
        pairs = [(r.force_mae, summary_mean(r.metrics, key)) for r in results]
        pairs = [(f, m) for f, m in pairs if f is not None and m is not None]
        if len(pairs) < MIN_RUNS:
            out.append(RankCorrelation(title, None, None, len(pairs)))
            continue
        force, metric = zip(*pairs, strict=True)
        rho, p_value = spearmanr(force, metric)
        rho = None if rho != rho else float(rho)  # NaN: one of them is constant
        p_value = None if rho is None else float(p_value)
        out.append(RankCorrelation(title, rho, p_value, len(pairs)))
    return out


def correlation_table(correlations: list[RankCorrelation]) -> tuple[list[str], list[list[str]]]:
    """(header, rows) for report.write_table; no value is shown as report's MISSING."""
    from lmp_bench.report import MISSING

    header = ["force MAE (meV/Å) against", "Spearman rho", "p-value", "runs"]
    rows = [
        [
            c.metric,
            MISSING if c.rho is None else f"{c.rho:+.2f}",
            MISSING if c.p_value is None else f"{c.p_value:.2g}",
            str(c.runs),
        ]
        for c in correlations
    ]
    return header, rows
