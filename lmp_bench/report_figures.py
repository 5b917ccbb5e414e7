"""The paper's figures from scored runs (matplotlib, no display needed): each function
returns a Figure, or None when no run has what it plots."""

from __future__ import annotations

import numpy as np

from lmp_bench.report import RunResult


def _figure(*args, **kwargs):
    from matplotlib.figure import Figure

    return Figure(*args, **kwargs, layout="constrained")


def _replica_curves(result: RunResult, kind: str, suffix: str = "") -> list[np.ndarray]:
    """The per-replica curves of one kind (e.g. 'g', 'h', 'msd', 'fes') of a run."""
    return [
        value
        for key, value in sorted(result.curves.items())
        if key.startswith(f"{kind}/replica-") and key.endswith(suffix)
    ]


def survival_figure(results: list[RunResult]):
    """Fraction of a run's replicas still stable at time t, one step line per run."""
    scored = [r for r in results if r.metrics]
    if not scored:
        return None
    figure = _figure(figsize=(5, 3.5))
    ax = figure.add_subplot()
    for r in scored:
        times = np.sort([x["stability_ps"] for x in r.metrics["replicas"]])
        fraction = 1.0 - np.arange(len(times) + 1) / len(times)
        ax.step(np.concatenate([[0.0], times]), fraction, where="post", label=r.label)
    ax.set_xlabel("time (ps)")
    ax.set_ylabel("replicas stable (fraction)")
    ax.set_ylim(-0.05, 1.05)
    ax.set_title("stability over replicas")
    ax.legend(fontsize="small")
    return figure


def structure_figure(results: list[RunResult]):
    """g(r) per element pair (periodic systems) or h(r) (molecules): each run's mean over
    its replicas' stable parts against the reference (black, dashed)."""
    scored = [r for r in results if r.metrics and ("g_r" in r.curves or "h_r" in r.curves)]
    if not scored:
        return None
    if "h_r" in scored[0].curves:
        panels = [("h", "", "h(r)")]
        r_key = "h_r"
    else:
        pairs = sorted(
            k.rsplit("/", 1)[1] for k in scored[0].curves if k.startswith("g/reference/")
        )
        panels = [("g", f"/{pair}", f"g(r) {pair}") for pair in pairs]
        r_key = "g_r"
    figure = _figure(figsize=(4.5 * len(panels), 3.5))
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for ax, (kind, suffix, ylabel) in zip(axes, panels, strict=True):
        reference = scored[0].curves[f"{kind}/reference{suffix}"]
        ax.plot(scored[0].curves[r_key], reference, "k--", label="reference")
        for r in scored:
            curves = _replica_curves(r, kind, suffix)
            if curves:
                ax.plot(r.curves[r_key], np.mean(curves, axis=0), label=r.label)
        ax.set_xlabel("r (Å)")
        ax.set_ylabel(ylabel)
    axes[0].legend(fontsize="small")
    return figure


def msd_figure(results: list[RunResult]):
    """Mean squared displacement of each run's replicas that lasted long enough for it."""
    with_msd = [r for r in results if _replica_curves(r, "msd")]
    if not with_msd:
        return None
    figure = _figure(figsize=(5, 3.5))
    ax = figure.add_subplot()
    for r in with_msd:
        times, msds = _replica_curves(r, "msd_t"), _replica_curves(r, "msd")
        length = min(len(m) for m in msds)
        ax.plot(times[0][:length], np.mean([m[:length] for m in msds], axis=0), label=r.label)
    ax.set_xlabel("lag time (ps)")
    ax.set_ylabel("MSD (Å²)")
    ax.legend(fontsize="small")
    return figure


def fes_figure(results: list[RunResult]):
    """F(phi, psi) maps (kJ/mol) of the reference and of each run (its first replica with
    hills), and the 1-D marginals F(phi), F(psi) underneath."""
    from lmp_bench.observables.fes import FreeEnergySurface

    with_fes = [r for r in results if _replica_curves(r, "fes")]
    if not with_fes:
        return None
    surfaces = []
    if "fes/reference" in with_fes[0].curves:
        surfaces.append(("reference", with_fes[0].curves["fes/reference"]))
    surfaces += [(r.label, _replica_curves(r, "fes")[0]) for r in with_fes]
    figure = _figure(figsize=(3.6 * len(surfaces), 6.4))
    grid = figure.subplots(2, len(surfaces), squeeze=False)
    for column, (label, free_energy) in enumerate(surfaces):
        fes = FreeEnergySurface().set_free_energy(free_energy)
        fes.plot(grid[0, column])
        grid[0, column].set_title(label, fontsize="small")
        grid[0, column].set_xlabel("phi (rad)")
        grid[0, column].set_ylabel("psi (rad)")
        phi, psi = fes.points
        grid[1, column].plot(phi, fes.marginal(0), label="F(phi)")
        grid[1, column].plot(psi, fes.marginal(1), label="F(psi)")
        grid[1, column].set_xlabel("angle (rad)")
        grid[1, column].set_ylabel("F (kJ/mol)")
        grid[1, column].legend(fontsize="small")
    return figure


def force_vs_stability_figure(results: list[RunResult]):
    """The paper's headline: force MAE (meV/Å) against stability (ps), one point per run
    whose model has a force MAE; error bars = std over replicas."""
    points = [
        (r.force_mae, r.metrics["summary"]["stability_ps"], r)
        for r in results
        if r.metrics and r.force_mae is not None and r.metrics["summary"].get("stability_ps")
    ]
    if not points:
        return None
    figure = _figure(figsize=(5, 3.5))
    ax = figure.add_subplot()
    for force, stability, r in points:
        ax.errorbar(force, stability["mean"], yerr=stability["std"], fmt="o", label=r.label)
    ax.set_xlabel("force MAE (meV/Å)")
    ax.set_ylabel("stability (ps)")
    ax.set_title("force MAE against stability")
    if len({p[0] for p in points}) > 1 and min(p[0] for p in points) > 0:
        spread = max(p[0] for p in points) / min(p[0] for p in points)
        if spread > 10:
            ax.set_xscale("log")
    ax.legend(fontsize="small")
    return figure


FIGURES = {
    "stability": survival_figure,
    "structure": structure_figure,
    "msd": msd_figure,
    "fes": fes_figure,
}


def system_figures(results: list[RunResult]) -> dict:
    """{name: Figure} of every figure this system's runs can make."""
    made = {name: make(results) for name, make in FIGURES.items()}
    return {name: figure for name, figure in made.items() if figure is not None}
