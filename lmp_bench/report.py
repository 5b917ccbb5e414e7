"""`lmp-bench report`: the paper's tables and figures, made from run folders.

Run folders are found at any depth under the folders given; each is read as `evaluate`
left it (metrics.json, curves.npz), and one not yet scored is scored here against the
reference its manifest names. Scored trajectories made elsewhere (their manifest says
"foreign") are runs like any other. Runs are grouped by system (one table and one set of
figures each, and the Spearman rank correlation of force MAE with stability and with h(r)
MAE over its runs); a metric a run lacks (an unstable replica, a system without it) is
shown as missing, never as zero. Outputs: tables as Markdown and CSV, figures as PNG and
SVG, and one self-contained HTML page that holds them all.
"""

from __future__ import annotations

import base64
import csv
import html
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MISSING = "—"


@dataclass
class RunResult:
    folder: Path
    manifest: dict
    metrics: dict | None = None
    curves: dict[str, np.ndarray] = field(default_factory=dict)
    problem: str | None = None  # why there are no metrics
    force_mae: float | None = None  # meV/A, the model's test split (else validation split)
    force_mae_split: str | None = None  # "test" or "val": where force_mae comes from

    @property
    def system(self) -> str:
        return self.manifest.get("system", "unknown")

    @property
    def label(self) -> str:
        """Model and the run's start time (HHMMSS of its folder name): short for legends."""
        return f"{self.manifest.get('model', '?')} · {self.folder.name[-6:]}"


def find_runs(paths: list[Path]) -> list[Path]:
    """Run folders (holding manifest.json: lmp-bench runs and scored foreign trajectories)
    among `paths` and at any depth under them."""
    from lmp_bench.run_folders import find_run_folders

    runs = find_run_folders(paths)
    if not runs:
        raise ValueError(
            f"no lmp-bench run folders in {', '.join(map(str, paths))}: give run folders "
            "(each with a manifest.json, made by `lmp-bench run` or `lmp-bench evaluate`) or "
            "folders that hold them"
        )
    return runs


def force_mae_of_model(manifest: dict) -> tuple[float | None, str | None]:
    """(force MAE in meV/A, split) of the run's model: the test-split MAE its provenance
    names (recorded in the manifest when the run started, else read from the model file or
    its sidecar), else the validation MAE of the training run the file sits in."""
    from lmp_bench.export.provenance import read_provenance

    provenance = manifest.get("model_provenance")
    if provenance is None and manifest.get("model_file"):
        provenance = read_provenance(manifest["model_file"])
    if provenance and provenance.get("test_force_mae_meV_per_A") is not None:
        return float(provenance["test_force_mae_meV_per_A"]), "test"
    validation = model_force_mae(manifest)
    return validation, None if validation is None else "val"


def model_force_mae(manifest: dict) -> float | None:
    """Validation force MAE (meV/A) from the training run that made the run's model file,
    when the file sits in one: its metrics.csv's row of the lowest val_loss (the epoch of
    the best checkpoint), or its only/last row (nequip, deepmd)."""
    model_file = manifest.get("model_file")
    metrics = Path(model_file).parent / "metrics.csv" if model_file else None
    if metrics is None or not metrics.is_file():
        return None
    rows = [r for r in csv.DictReader(metrics.open()) if r.get("val_force_mae_meV_per_A")]
    if not rows:
        return None
    if all(r.get("val_loss") for r in rows):
        rows = [min(rows, key=lambda r: float(r["val_loss"]))]
    return float(rows[-1]["val_force_mae_meV_per_A"])


def load_run(folder: Path) -> RunResult:
    """The run's metrics and curves; scored now if `evaluate` has not been run on it."""
    from lmp_bench.evaluate import evaluate

    manifest = json.loads((folder / "manifest.json").read_text())
    force_mae, split = force_mae_of_model(manifest)
    result = RunResult(folder, manifest, force_mae=force_mae, force_mae_split=split)
    if (folder / "metrics.json").is_file() and (folder / "curves.npz").is_file():
        result.metrics = json.loads((folder / "metrics.json").read_text())
    else:
        reference = manifest.get("reference") or manifest.get("start_from")
        if not reference:
            result.problem = "no metrics and no reference in its manifest: run lmp-bench evaluate"
            return result
        try:
            result.metrics = evaluate(folder, Path(reference))
        except (ValueError, OSError) as err:
            result.problem = f"cannot be scored: {err}"
            return result
    with np.load(folder / "curves.npz") as curves:
        result.curves = {key: curves[key] for key in curves.files}
    return result


def summary_cell(metrics: dict, key: str, digits: str = ".3g") -> str:
    """'mean ± std (n=replicas with the metric)', or MISSING."""
    value = metrics["summary"].get(key)
    if value is None:
        return MISSING
    return f"{value['mean']:{digits}} ± {value['std']:.2g} (n={value['n']})"


def table(results: list[RunResult]) -> tuple[list[str], list[list[str]]]:
    """One row per run of one system: (header, rows), every header with its unit."""
    scored = [r for r in results if r.metrics]
    pairs = sorted({p for r in scored for p in r.metrics["replicas"][0].get("rdf_mae", {})})
    columns = [("stability (ps)", "stability_ps")]
    columns += [(f"RDF MAE {p} (Å)", f"rdf_mae {p}") for p in pairs]
    if any("h_mae" in r.metrics["summary"] for r in scored):
        columns.append(("h(r) MAE (dimensionless)", "h_mae"))
    if any("diffusivity_1e-9_m2_s" in r.metrics["summary"] for r in scored):
        columns += [
            ("D (1e-9 m²/s)", "diffusivity_1e-9_m2_s"),
            ("|ΔD| (1e-9 m²/s)", "diffusivity_error_1e-9_m2_s"),
        ]
    if any("fes_mae_kJ_mol" in r.metrics["summary"] for r in scored):
        columns.append(("FES MAE (kJ/mol)", "fes_mae_kJ_mol"))
    columns += [
        ("NVE drift (meV/atom/ps)", "nve_drift_meV_atom_ps"),
        ("steps/s", "steps_per_second"),
    ]
    header = ["model", "run", "force MAE (meV/Å)", "replicas finished", "length (ps)"]
    header += [title for title, _ in columns] + ["device"]
    rows = []
    for r in results:
        force = MISSING if r.force_mae is None else f"{r.force_mae:.1f} ({r.force_mae_split})"
        length = r.manifest.get("length_ps")  # planned per replica (foreign runs: none)
        length = MISSING if length is None else f"{length:g}"
        if r.metrics is None:
            cells = [f"not scored: {r.problem}"] + [MISSING] * (len(columns) - 1)
            rows.append([r.manifest.get("model", "?"), r.folder.name, force, MISSING, length,
                         *cells, r.manifest.get("device", MISSING)])  # fmt: skip
            continue
        replicas = r.metrics["replicas"]
        finished = sum(x["state"] == "completed" for x in replicas)
        cells = [summary_cell(r.metrics, key) for _, key in columns]
        rows.append([r.manifest.get("model", "?"), r.folder.name, force,
                     f"{finished}/{len(replicas)}", length, *cells,
                     r.metrics.get("device") or MISSING])  # fmt: skip
    return header, rows


def write_table(header: list[str], rows: list[list[str]], stem: Path) -> tuple[Path, Path]:
    """<stem>.md (for papers) and <stem>.csv."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    stem.with_suffix(".md").write_text("\n".join(lines) + "\n")
    with stem.with_suffix(".csv").open("w", newline="") as stream:
        csv.writer(stream).writerows([header, *rows])
    return stem.with_suffix(".md"), stem.with_suffix(".csv")


SPEED_COLUMNS = [  # (header, key in benchmarks/md_speed.py's JSON rows, format)
    ("model", "model", ""),
    ("system", "system", ""),
    ("atoms", "atoms", ""),
    ("device", "device_name", ""),
    ("ranks", "ranks", ""),
    ("LAMMPS (steps/s)", "lammps_steps_per_s", ".2f"),
    ("ASE (steps/s)", "ase_steps_per_s", ".2f"),
    ("LAMMPS/ASE", "lammps_over_ase", ".2f"),
]


def speed_table(path: Path) -> tuple[list[str], list[list[str]]]:
    """The rows of a `benchmarks/md_speed.py --json` file as a table."""
    try:
        rows = json.loads(path.read_text())["rows"]
    except (OSError, ValueError, KeyError) as err:
        raise ValueError(f"{path} is not a JSON file of benchmarks/md_speed.py ({err})") from err

    def cell(value, spec: str) -> str:
        missing = value is None or (isinstance(value, float) and np.isnan(value))
        return MISSING if missing else f"{value:{spec}}"

    return [title for title, _, _ in SPEED_COLUMNS], [
        [cell(row.get(key), spec) for _, key, spec in SPEED_COLUMNS] for row in rows
    ]


def save_figure(figure, stem: Path) -> Path:
    """<stem>.png (150 dpi) and <stem>.svg; the PNG's path."""
    figure.savefig(stem.with_suffix(".svg"))
    figure.savefig(stem.with_suffix(".png"), dpi=150)
    return stem.with_suffix(".png")


def html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def html_image(png: Path, title: str) -> str:
    data = base64.b64encode(png.read_bytes()).decode()
    return (
        f'<figure><img alt="{html.escape(title)}" src="data:image/png;base64,{data}">'
        f"<figcaption>{html.escape(title)}</figcaption></figure>"
    )


STYLE = (
    "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:90%}"
    "td,th{border:1px solid #bbb;padding:3px 6px}img{max-width:100%}"
)


def make_report(paths: list[Path], out: Path, speed: Path | None = None) -> Path:
    """Tables, figures and report.html in `out` for the runs in `paths` (and the MD speed
    table of a benchmarks/md_speed.py JSON file); the page's path."""
    from lmp_bench.report_correlation import correlation_table, rank_correlations
    from lmp_bench.report_figures import force_vs_stability_figure, system_figures

    results = [load_run(folder) for folder in find_runs(paths)]  # before making anything
    out.mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(exist_ok=True)
    (out / "tables").mkdir(exist_ok=True)
    systems = sorted({r.system for r in results})
    sections = []
    for system in systems:
        runs = [r for r in results if r.system == system]
        header, rows = table(runs)
        write_table(header, rows, out / "tables" / system)
        images = []
        for name, figure in system_figures(runs).items():
            png = save_figure(figure, out / "figures" / f"{system}-{name}")
            images.append(html_image(png, f"{system}: {name}"))
        problems = [f"<li>{html.escape(r.folder.name)}: {html.escape(r.problem)}</li>"
                    for r in runs if r.problem]  # fmt: skip
        ranks_header, ranks_rows = correlation_table(rank_correlations(runs))
        write_table(ranks_header, ranks_rows, out / "tables" / f"{system}-rank-correlation")
        sections.append(
            f"<h2>{html.escape(system)}</h2>{html_table(header, rows)}"
            + (f"<ul>{''.join(problems)}</ul>" if problems else "")
            + "<h3>Rank correlation over the runs</h3>"
            + html_table(ranks_header, ranks_rows)
            + "".join(images)
        )
    if speed is not None:
        header, rows = speed_table(speed)
        write_table(header, rows, out / "tables" / "md-speed")
        sections.append(f"<h2>MD speed: LAMMPS against an ASE loop</h2>{html_table(header, rows)}")
    headline = force_vs_stability_figure(results)
    if headline is not None:
        png = save_figure(headline, out / "figures" / "force-mae-vs-stability")
        sections.insert(0, html_image(png, "force MAE against stability, all systems"))
    page = out / "report.html"
    page.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>lmp-bench report</title>"
        f"<style>{STYLE}</style></head><body><h1>lmp-bench report</h1>"
        f"<p>{len(results)} run(s), systems: {', '.join(systems)}. Missing metrics are shown "
        f"as {MISSING}.</p>{''.join(sections)}</body></html>\n"
    )
    return page
