"""MD17 molecules end to end: sGDML files in, the md17 deck (open boundaries) run through
the plugin, bond-length stability and h(r) out; bad input gets named errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ase.build import molecule
from systems import BondSprings, lmp_bench

from lmp_bench.data.formats import read_sgdml_npz
from lmp_bench.data.frames_file import read_frames, write_frames
from lmp_bench.evaluate import evaluate
from lmp_bench.export import export
from lmp_bench.lammps.snapshot import run_snapshot
from lmp_bench.models.graph import evaluate as python_evaluate
from lmp_bench.systems import write_molecule_data

ROOT = Path(__file__).resolve().parents[1]
MD17 = str(ROOT / "inputs" / "md17.in")
KCAL = 0.0433641043  # eV per kcal/mol, by hand: 4184 J / 96485.33212 C/mol
ETHANOL = molecule("CH3CH2OH")


def write_sgdml(path: Path, frames: int, seed: int) -> dict:
    """An MD17 file in sGDML's layout (R A, E (T,1) kcal/mol, F kcal/mol/A, z, metadata)."""
    rng = np.random.default_rng(seed)
    data = {
        "R": ETHANOL.positions + rng.normal(scale=0.03, size=(frames, len(ETHANOL), 3)),
        "E": rng.normal(-97000.0, 3.0, size=(frames, 1)),
        "F": rng.normal(scale=30.0, size=(frames, len(ETHANOL), 3)),
        "z": ETHANOL.numbers,
        "name": np.array("ethanol"),
        "theory": np.array("DFT: PBE+TS"),
        "type": np.array("d"),
        "md5": np.array("0" * 32),
    }
    np.savez(path, **data)
    return data


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("md17")
    write_sgdml(folder / "md17_ethanol.npz", 40, seed=1)
    result = lmp_bench(
        "data", "import", str(folder / "md17_ethanol.npz"), "-o", str(folder / "ethanol.h5")
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return folder / "ethanol.h5"


@pytest.fixture(scope="module")
def springs(model_dir) -> dict[str, Path]:
    return {
        "whole": export(BondSprings(), model_dir / "springs.pt"),
        "broken": export(BondSprings(depth=0.0), model_dir / "springs-broken.pt"),
    }


def test_sgdml_reader_converts_units_and_splits(tmp_path):
    raw = write_sgdml(tmp_path / "md17_ethanol.npz", 50, seed=2)
    frames = read_sgdml_npz(tmp_path / "md17_ethanol.npz")
    assert frames.positions.shape == (50, 9, 3) and list(frames.species[:3]) == ["C", "C", "O"]
    assert frames.forces[3, 4, 1] == pytest.approx(raw["F"][3, 4, 1] * KCAL, rel=1e-12)
    assert frames.energy[7] == pytest.approx(raw["E"][7, 0] * KCAL, rel=1e-12)
    assert np.allclose(frames.cell, 0) and np.allclose(frames.unwrapped_positions, raw["R"])
    assert frames.time[2] == pytest.approx(0.001)  # 0.5 fs steps, in ps
    splits = frames.splits
    assert [len(splits[k]) for k in ("train", "val", "test")] == [24, 1, 25]
    assert len(set(np.concatenate(list(splits.values())))) == 50
    write_frames(frames, tmp_path / "ethanol.h5")
    back = read_frames(tmp_path / "ethanol.h5")
    assert np.array_equal(back.forces, frames.forces) and list(back.species) == list(frames.species)


def test_sgdml_reader_names_missing_keys_and_truncation(tmp_path):
    np.savez(tmp_path / "bad.npz", R=np.zeros((2, 3, 3)), z=np.ones(3))
    with pytest.raises(ValueError, match=r"lacks the keys \['E', 'F'\]"):
        read_sgdml_npz(tmp_path / "bad.npz")
    write_sgdml(tmp_path / "whole.npz", 10, seed=3)
    (tmp_path / "cut.npz").write_bytes((tmp_path / "whole.npz").read_bytes()[:5000])
    with pytest.raises(ValueError, match="not a readable .npz"):
        read_sgdml_npz(tmp_path / "cut.npz")


@pytest.mark.mpi
@pytest.mark.parametrize("boundary", ["s s s", "f f f"])
def test_plugin_on_an_open_molecule_equals_python(springs, tmp_path, boundary):
    """No box: LAMMPS (1 and 2 ranks) = the model in Python without periodic images."""
    atoms = ETHANOL.copy()
    atoms.rattle(0.05, seed=4)
    types = ("C", "H", "O")
    data = write_molecule_data(
        tmp_path / "m.data", atoms.positions, np.array(atoms.get_chemical_symbols()), types
    )
    commands = (
        f"units metal\nboundary {boundary}\natom_style atomic\nread_data {data}\n"
        f"pair_style mlff {springs['whole']}\npair_coeff * * C H O\n"
    )
    ids = np.array([types.index(s) for s in atoms.get_chemical_symbols()])
    for ranks in (1, 2):
        lammps = run_snapshot(commands, ranks)
        open_box = (False, False, False)
        python = python_evaluate(BondSprings(), lammps.positions[0], ids, None, open_box)
        assert np.abs(python["forces"]).max() > 0.1
        assert np.abs(lammps.forces[0] - python["forces"]).max() < 1e-10, ranks
        assert lammps.energy[0] == pytest.approx(python["energy"], abs=1e-10)


def test_md17_run_and_evaluate(dataset, springs, tmp_path):
    """A model that keeps ethanol whole is stable for the whole run; one that lets it fall
    apart is stopped by the online bond watchdog; both are scored against the dataset."""
    scores = {}
    for name, model in springs.items():
        result = lmp_bench(
            "run", MD17, "--model", str(model), "--start-from", str(dataset), "--replicas", "2",
            "--steps", "600", "--output", str(tmp_path / name), env={"OMP_NUM_THREADS": "1"},
        )  # fmt: skip
        assert result.returncode == 0, result.stdout + result.stderr
        (folder,) = (tmp_path / name).iterdir()
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["type_species"] == "C H O" and manifest["timestep_ps"] == 0.0005
        assert "boundary f f f" in (folder / "replica-0" / "deck.in").read_text()
        scores[name] = evaluate(folder, dataset)
        shown = lmp_bench("evaluate", str(folder), "--reference", str(dataset))
        assert shown.returncode == 0 and "h(r) MAE" in shown.stdout, shown.stderr
    for replica in scores["whole"]["replicas"]:
        assert replica["state"] == "completed"
        assert replica["stability_ps"] == pytest.approx(0.3)  # 600 steps of 0.5 fs
        assert 0 < replica["h_mae"] < 1.0
    for replica in scores["broken"]["replicas"]:  # the bond watchdog stopped them early
        assert replica["state"] == "unstable" and replica["simulated_ps"] < 0.3
        assert replica["stability_ps"] <= replica["simulated_ps"]
    assert (
        scores["broken"]["summary"]["h_mae"]["mean"] > scores["whole"]["summary"]["h_mae"]["mean"]
    )


def test_md17_bad_input(dataset, springs, tmp_path):
    no_start = lmp_bench("run", MD17, "--model", str(springs["whole"]), "--output", str(tmp_path))
    assert no_start.returncode == 2 and "--start-from" in no_start.stderr
    water = read_frames(dataset)
    water.cell[:] = np.eye(3) * 12.0
    write_frames(water, tmp_path / "periodic.h5")
    periodic = lmp_bench(
        "run", MD17, "--model", str(springs["whole"]), "--start-from",
        str(tmp_path / "periodic.h5"), "--output", str(tmp_path),
    )  # fmt: skip
    assert periodic.returncode == 2 and "periodic dataset" in periodic.stderr


def test_fetch_uses_a_file_downloaded_by_hand(tmp_path):
    """Offline, the file put where the error message says is taken and converted."""
    write_sgdml(tmp_path / "md17_ethanol.npz", 30, seed=5)
    result = lmp_bench("data", "fetch", "md17-ethanol", "--folder", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "no published checksum" in result.stdout
    assert len(read_frames(tmp_path / "md17_ethanol.h5")) == 30


def test_nve_run_has_no_thermostat_and_reports_a_drift(dataset, springs, tmp_path):
    """--ensemble nve: the deck integrates without a thermostat and evaluate adds the
    energy drift (its value is checked against the log in test_water_benchmark.py)."""
    result = lmp_bench(
        "run", MD17, "--model", str(springs["whole"]), "--start-from", str(dataset),
        "--steps", "400", "--ensemble", "nve", "--output", str(tmp_path),
        env={"OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    (folder,) = tmp_path.iterdir()
    assert folder.name.startswith("md17-springs-nve-")
    executed = (folder / "replica-0" / "log.lammps").read_text().splitlines()
    assert "fix integrate all nve" in executed
    assert not any(line.startswith("fix thermostat") for line in executed)
    (replica,) = evaluate(folder, dataset)["replicas"]
    assert np.isfinite(replica["nve_drift_meV_atom_ps"])


def test_training_graphs_and_exports_of_a_molecule_have_no_periodic_images(dataset, tmp_path):
    """A molecule dataset (zero cell) gives the trainer the open graph (every pair within the
    cutoff once per direction, counted here by hand), and exporters mark it as boxless."""
    from ase.io import read

    from lmp_bench.data.formats import write_deepmd, write_extxyz
    from lmp_bench.train.batches import GraphCache

    frames = read_frames(dataset)
    edge_index, vectors = GraphCache(frames, 4.0)(0)
    positions = frames.positions[0]
    distances = np.linalg.norm(positions[:, None] - positions[None], axis=2)
    expected = ((distances < 4.0) & (distances > 0)).sum()
    assert edge_index.shape[1] == expected and np.abs(vectors.numpy()).max() < 4.0
    (first, *_) = read(write_extxyz(frames, tmp_path / "m.xyz"), index=":")
    assert not first.pbc.any()
    assert (write_deepmd(frames, tmp_path / "dp") / "nopbc").exists()
