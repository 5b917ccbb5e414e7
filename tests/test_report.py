"""`lmp-bench report` on small real runs: tables, figures (checked through matplotlib's
objects), the HTML page, and runs that cannot be scored."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from ase.build import molecule
from systems import BondSprings, lmp_bench

from lmp_bench.data.frames_file import FrameSet, write_frames
from lmp_bench.export import export
from lmp_bench.report import find_runs, load_run, make_report, table
from lmp_bench.report_figures import force_vs_stability_figure, structure_figure, survival_figure

MD17 = str(Path(__file__).resolve().parents[1] / "inputs" / "md17.in")


@pytest.fixture(scope="module")
def runs(tmp_path_factory, lj_files) -> Path:
    """Two md17 runs of 2 replicas (a model that holds ethanol, one that does not), one
    scored by `evaluate` and one left for the report to score, a half-written run, and an
    argon run (another system, no reference) in the same folder."""
    folder = tmp_path_factory.mktemp("report")
    ethanol = molecule("CH3CH2OH")
    rng = np.random.default_rng(2)
    x = ethanol.positions + rng.normal(scale=0.02, size=(20, 9, 3))
    frames = FrameSet(
        species=np.array(ethanol.get_chemical_symbols()), cell=np.zeros((20, 3, 3)),
        positions=x, unwrapped_positions=x, velocities=np.zeros_like(x),
        forces=np.zeros_like(x), energy=np.zeros(20), time=np.arange(20.0),
        splits={"train": np.arange(10), "test": np.arange(10, 20)},
        attributes={"system": "md17-ethanol"},
    )  # fmt: skip
    dataset = write_frames(frames, folder / "ethanol.h5")
    results = folder / "results"
    for name, depth in (("whole", 4.0), ("broken", 0.0)):
        model_folder = folder / name
        model_folder.mkdir()
        model = export(BondSprings(depth), model_folder / f"springs-{name}.pt")
        # as a training run leaves it: the model's validation force MAE (meV/A)
        (model_folder / "metrics.csv").write_text(
            f"epoch,val_force_mae_meV_per_A\n1,{40.0 if depth else 400.0}\n"
        )
        result = lmp_bench(
            "run", MD17, "--model", str(model), "--start-from", str(dataset),
            "--replicas", "2", "--steps", "400", "--output", str(results),
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
    argon = lmp_bench(
        "run", str(Path(MD17).with_name("argon.in")), "--model", str(lj_files["plain.pt2"]),
        "--steps", "100", "--output", str(results),
    )  # fmt: skip
    assert argon.returncode == 0, argon.stdout + argon.stderr
    scored = sorted(p for p in results.iterdir() if "springs" in p.name)[0]
    assert lmp_bench("evaluate", str(scored), "--reference", str(dataset)).returncode == 0
    half = results / "md17-half-written"
    half.mkdir()
    (half / "manifest.json").write_text(json.dumps({"system": "md17", "model": "x"}))
    return results


def test_report_writes_tables_figures_and_a_page(runs, tmp_path):
    speed = tmp_path / "speed.json"  # the layout benchmarks/md_speed.py --json writes
    speed.write_text(json.dumps({"rows": [
        {"model": "schnet", "system": "lips", "atoms": 83, "device_name": "x86_64", "ranks": 1,
         "lammps_steps_per_s": 40.0, "ase_steps_per_s": 10.0, "lammps_over_ase": 4.0},
        {"model": "nequip", "system": "water-64", "atoms": 192, "device_name": "x86_64",
         "ranks": 2, "lammps_steps_per_s": 5.0, "ase_steps_per_s": None},
    ]}))  # fmt: skip
    result = lmp_bench("report", str(runs), "-o", str(tmp_path / "report"), "--speed", str(speed))
    assert result.returncode == 0, result.stdout + result.stderr
    out = tmp_path / "report"
    markdown = (out / "tables" / "md17.md").read_text()
    assert (
        "stability (ps)" in markdown and "h(r) MAE" in markdown and "force MAE (meV/Å)" in markdown
    )
    rows = (out / "tables" / "md17.csv").read_text().splitlines()
    assert len(rows) == 4  # header + 3 runs
    half = next(row for row in rows if row.startswith("x,"))
    assert "not scored" in half and ",0," not in half  # missing, never zero
    for name in ("md17-stability", "md17-structure", "force-mae-vs-stability"):
        for suffix in (".png", ".svg"):
            assert (out / "figures" / f"{name}{suffix}").stat().st_size > 1000
    speed_rows = (out / "tables" / "md-speed.csv").read_text().splitlines()
    assert speed_rows[1].endswith(",40.00,10.00,4.00") and speed_rows[2].endswith(",5.00,—,—")
    argon = (out / "tables" / "argon.md").read_text()  # another system: a table of its own
    assert "not scored" in argon and "springs" not in argon
    # 2 md17 runs with a force MAE: too few for a rank correlation, shown as missing
    correlation = (out / "tables" / "md17-rank-correlation.csv").read_text().splitlines()
    assert correlation[1:] == ["stability (ps),—,—,2", "h(r) MAE (dimensionless),—,—,2"]
    page = (out / "report.html").read_text()
    assert page.count("<img") == 3 and page.count("data:image/png;base64,") == 3
    assert "md17-half-written" in page


def test_figures_show_the_runs(runs):
    results = [load_run(folder) for folder in find_runs([runs]) if "argon" not in folder.name]
    scored = [r for r in results if r.metrics]
    assert len(scored) == 2 and sum(r.problem is not None for r in results) == 1
    survival = survival_figure(results).axes[0]
    assert survival.get_xlabel() == "time (ps)" and len(survival.lines) == 2
    for line, r in zip(survival.lines, scored, strict=True):
        stability = sorted(x["stability_ps"] for x in r.metrics["replicas"])
        assert np.allclose(line.get_xdata()[1:], stability)
        assert line.get_ydata()[0] == 1.0 and line.get_ydata()[-1] == 0.0
    structure = structure_figure(results).axes[0]
    assert structure.get_ylabel() == "h(r)" and structure.get_xlabel() == "r (Å)"
    reference, *models = structure.lines
    assert reference.get_label() == "reference" and len(models) == 2
    for line, r in zip(models, scored, strict=True):
        mean = np.mean([r.curves[f"h/{x['replica']}"] for x in r.metrics["replicas"]], axis=0)
        assert np.allclose(line.get_ydata(), mean)
    headline = force_vs_stability_figure(results).axes[0]
    assert headline.get_xlabel() == "force MAE (meV/Å)"
    assert sorted(r.force_mae for r in scored) == [40.0, 400.0]
    header, rows = table(results)
    assert header[:4] == ["model", "run", "force MAE (meV/Å)", "replicas finished"]


def test_report_of_a_folder_without_runs(tmp_path):
    result = lmp_bench("report", str(tmp_path), "-o", str(tmp_path / "report"))
    assert result.returncode == 2 and "no lmp-bench run folders" in result.stderr


def test_analysis_scripts_run_on_a_run_folder(runs, tmp_path):
    """The analysis/ scripts, as README shows them, on the md17 runs."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    whole, broken = sorted(p for p in runs.iterdir() if "springs" in p.name)[::-1]
    commands = [
        ["plot_rdf.py", str(whole), "-o", str(tmp_path / "rdf.png")],
        ["stability_timeline.py", str(broken), "-o", str(tmp_path / "timeline.png")],
        ["compare_models.py", str(whole), str(broken), "-o", str(tmp_path / "compare")],
    ]
    for script, *args in commands:
        result = subprocess.run(
            [sys.executable, str(root / "analysis" / script), *args],
            capture_output=True, text=True, cwd=tmp_path,
        )  # fmt: skip
        assert result.returncode == 0, script + result.stdout + result.stderr
    for name in ("rdf.png", "timeline.png", "compare-structure.png", "compare-stability.png"):
        assert (tmp_path / name).stat().st_size > 1000
    assert "springs-whole" in result.stdout and "springs-broken" in result.stdout


def test_every_image_of_the_page_loads_in_headless_chromium(runs, tmp_path):
    """Debian's chromium opens report.html; a script added to a copy of the page (test
    instrumentation, not part of the report) records for every <img> whether it decoded."""
    import shutil
    import subprocess

    browser = shutil.which("chromium")
    if browser is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    page = make_report([runs], tmp_path / "report")
    probe = (
        "<script>window.addEventListener('load', () => document.body.setAttribute("
        "'data-images', [...document.images].map(i => i.complete && i.naturalWidth > 0)"
        ".join(',')));</script>"
    )
    checked = page.with_name("checked.html")
    checked.write_text(page.read_text().replace("</body>", probe + "</body>"))
    result = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
         "--dump-dom", checked.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    loaded = re.search(r'data-images="([^"]*)"', result.stdout)
    assert loaded, result.stdout[-2000:] + result.stderr[-2000:]
    flags = loaded.group(1).split(",")
    assert len(flags) == 3 and set(flags) == {"true"}


def test_force_mae_is_the_best_checkpoints(tmp_path):
    """A zoo training run keeps its lowest-val_loss epoch as best.pt: its force MAE counts."""
    from lmp_bench.report import model_force_mae

    (tmp_path / "metrics.csv").write_text(
        "epoch,val_loss,val_force_mae_meV_per_A\n1,5.0,90\n2,2.0,60\n3,3.0,70\n"
    )
    assert model_force_mae({"model_file": str(tmp_path / "best-cpu.pt2")}) == 60.0
    assert model_force_mae({"model_file": str(tmp_path / "elsewhere" / "m.pt2")}) is None
    assert model_force_mae({"model_file": None}) is None


def test_msd_figure_shows_each_runs_mean_msd():
    """Runs stable long enough for a diffusivity carry MSD curves (none in the suite: that
    takes 100 ps of water); the figure draws each run's mean over its replicas."""
    from lmp_bench.report import RunResult
    from lmp_bench.report_figures import msd_figure

    t = np.linspace(0, 100, 11)
    curves = {"msd_t/replica-0": t, "msd/replica-0": 0.6 * t, "msd_t/replica-1": t,
              "msd/replica-1": 0.8 * t}  # fmt: skip
    run = RunResult(Path("water-schnet"), {"model": "schnet"}, curves=curves)
    assert msd_figure([RunResult(Path("x"), {})]) is None  # nothing to draw
    ax = msd_figure([run]).axes[0]
    assert ax.get_xlabel() == "lag time (ps)" and ax.get_ylabel() == "MSD (Å²)"
    (line,) = ax.lines
    assert np.allclose(line.get_xdata(), t) and np.allclose(line.get_ydata(), 0.7 * t)


def _scored_run(force_mae: float | None, stability: float, h_mae: float | None):
    from lmp_bench.report import RunResult

    summary = {"stability_ps": {"mean": stability, "std": 0.0, "n": 5}}
    if h_mae is not None:
        summary["h_mae"] = {"mean": h_mae, "std": 0.0, "n": 5}
    return RunResult(Path("run"), {"system": "md17"}, {"summary": summary}, force_mae=force_mae)


def test_rank_correlation_against_the_formula():
    """Spearman's rho against 1 - 6 sum(d^2) / (n (n^2 - 1)) (distinct values), and against
    Pearson's r of average ranks written out by hand (a tie at the length cap); runs
    without a force MAE or without the metric are left out of that pair."""
    from lmp_bench.report_correlation import rank_correlations

    force = [10.0, 20.0, 30.0, 40.0, 50.0]
    stability = [10.0, 10.0, 4.0, 7.0, 1.0]  # two runs stable to the 10 ps cap: a tie
    h_mae = [0.02, 0.01, 0.05, 0.04, 0.03]
    runs = [_scored_run(f, s, h) for f, s, h in zip(force, stability, h_mae, strict=True)]
    runs += [_scored_run(None, 3.0, 0.5), _scored_run(60.0, 0.5, None)]
    by_stability, by_h = rank_correlations(runs)

    d = np.array([2, 1, 5, 4, 3]) - np.array([1, 2, 3, 4, 5])  # ranks of h_mae, of force
    assert by_h.runs == 5
    assert abs(by_h.rho - (1 - 6 * np.sum(d**2) / (5 * (5**2 - 1)))) < 1e-12

    force_ranks = np.arange(1.0, 7.0)  # with the 60 meV/A run: stability 0.5 ps
    stability_ranks = np.array([5.5, 5.5, 3, 4, 2, 1])  # the tie shares ranks 5 and 6
    expected = np.corrcoef(force_ranks, stability_ranks)[0, 1]
    assert by_stability.runs == 6 and abs(by_stability.rho - expected) < 1e-12
    assert by_stability.rho < -0.8  # lower force error, longer stable: as ranked here
