"""The committed benchmark results (docs/results/<bench>/) can be made again: `lmp-bench
report` on their run folders (manifest, metrics.json, curves.npz: what a commit keeps of a
bench folder) writes the committed tables byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest
from systems import lmp_bench

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"
BENCHES = sorted(p for p in RESULTS.glob("*") if (p / "runs").is_dir())


def test_there_is_a_committed_result():
    assert BENCHES, f"no bench folder with runs/ under {RESULTS}"


@pytest.mark.parametrize("bench", BENCHES, ids=[p.name for p in BENCHES])
def test_committed_tables_are_regenerable(bench, tmp_path):
    again = lmp_bench("report", str(bench / "runs"), "-o", str(tmp_path / "report"))
    assert again.returncode == 0, again.stdout + again.stderr
    committed = {p.name: p.read_bytes() for p in (bench / "report" / "tables").iterdir()}
    remade = {p.name: p.read_bytes() for p in (tmp_path / "report" / "tables").iterdir()}
    assert remade == committed
    assert "(test)" in committed["md17.md"].decode()  # force MAE from the models' test split
