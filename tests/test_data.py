"""Datasets: the classical water reference data, its file format, exporters, the paper's
.npy reader."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from ase.io import read

from lmp_bench.data.formats import read_mdsim_npy, write_deepmd, write_extxyz
from lmp_bench.data.frames_file import DataFileError, read_frames
from lmp_bench.data.make_water import make_water_dataset, split_sizes


@pytest.fixture(scope="module")
def water_set(tmp_path_factory):
    folder = tmp_path_factory.mktemp("water-data")
    make_water_dataset(folder / "water.h5", folder / "runs", frames=30, equilibrate_ps=1.0, seed=3)
    return read_frames(folder / "water.h5")


def test_water_reference_data_is_complete_and_in_metal_units(water_set):
    assert len(water_set) == 30 and list(water_set.species[:3]) == ["O", "H", "H"]
    assert water_set.positions.shape == (30, 192, 3) == water_set.forces.shape
    assert np.allclose(water_set.time, np.arange(30) * 0.1)
    # SPC/Fw liquid: about -9.5 kcal/mol = -0.41 eV per molecule; forces of order 1 eV/A
    assert -0.6 < water_set.energy.mean() / 64 < -0.25
    assert 0.3 < np.abs(water_set.forces).mean() < 3.0
    # wrapped positions lie in the box and equal the unwrapped ones modulo the box
    length = water_set.cell[0, 0, 0]
    assert length == pytest.approx(12.4429)
    assert (water_set.positions >= 0).all() and (water_set.positions < length).all()
    shift = (water_set.unwrapped_positions - water_set.positions) / length
    assert np.allclose(shift, np.round(shift), atol=1e-8)
    # O-H bonds intact in a classical run
    o, h = water_set.unwrapped_positions[:, 0::3], water_set.unwrapped_positions[:, 1::3]
    assert np.abs(np.linalg.norm(h - o, axis=-1) - 1.012).max() < 0.2


def test_splits_are_disjoint_and_follow_the_design():
    assert split_sizes("1k", None) == (950, 50, 10_000)
    assert split_sizes("10k", None) == (9500, 500, 10_000)
    assert split_sizes("90k", None) == (85500, 4500, 10_000)
    with pytest.raises(ValueError, match="unknown water dataset '5k'"):
        split_sizes("5k", None)


def test_water_set_splits(water_set):
    train, val, test = (set(water_set.splits[k]) for k in ("train", "val", "test"))
    assert (len(train), len(val), len(test)) == (14, 1, 15)
    assert not (train & val or train & test or val & test)


def test_extxyz_export_reads_back_with_ase(water_set, tmp_path):
    path = write_extxyz(water_set, tmp_path / "train.xyz", split="train")
    images = read(path, index=":")
    assert len(images) == 14
    first = water_set.splits["train"][0]
    assert np.allclose(images[0].positions, water_set.positions[first])
    assert images[0].get_potential_energy() == pytest.approx(water_set.energy[first])
    assert np.allclose(images[0].get_forces(), water_set.forces[first])


def test_deepmd_export_layout(water_set, tmp_path):
    folder = write_deepmd(water_set, tmp_path / "deepmd", split="test")
    assert (folder / "type_map.raw").read_text().split() == ["O", "H"]
    types = (folder / "type.raw").read_text().split()
    assert types[:3] == ["0", "1", "1"] and len(types) == 192
    coord = np.load(folder / "set.000" / "coord.npy")
    assert coord.shape == (15, 576)
    first = water_set.splits["test"][0]
    assert np.allclose(coord[0].reshape(192, 3), water_set.positions[first])
    assert np.allclose(np.load(folder / "set.000" / "box.npy")[0], water_set.cell[first].ravel())


def test_paper_npy_reader_converts_kcal_to_ev(tmp_path):
    """A small file in the exact layout of the paper's water files (pickled dict)."""
    frames, atoms = 3, 6
    rng = np.random.default_rng(0)
    data = {
        "wrapped_coords": rng.uniform(0, 12.4429, (frames, atoms, 3)),
        "unwrapped_coords": rng.uniform(0, 12.4429, (frames, atoms, 3)),
        "forces": np.ones((frames, atoms, 3)),  # 1 kcal/mol/A
        "velocities": rng.normal(size=(frames, atoms, 3)),
        "lengths": np.full((frames, 3), 12.4429),
        "angles": np.full((frames, 3), 90.0),
        "raw_types": np.array([0, 1, 1, 0, 1, 1]),
        "atom_types": np.array([8, 1, 1, 8, 1, 1]),
        "energy": np.full((frames, 1), -100.0),  # kcal/mol
    }
    path = tmp_path / "water.npy"
    np.save(path, data, allow_pickle=True)
    loaded = read_mdsim_npy(path)
    assert list(loaded.species) == ["O", "H", "H", "O", "H", "H"]
    assert loaded.forces[0, 0, 0] == pytest.approx(0.0433641043)  # 1 kcal/mol = 0.04336 eV
    assert loaded.energy[0] == pytest.approx(-4.33641043)
    assert np.allclose(loaded.cell[0], np.eye(3) * 12.4429)
    del data["energy"]  # the paper's alanine file: forces only
    np.save(tmp_path / "forces-only.npy", data, allow_pickle=True)
    assert np.isnan(read_mdsim_npy(tmp_path / "forces-only.npy").energy).all()
    del data["forces"]
    np.save(tmp_path / "broken.npy", data, allow_pickle=True)
    with pytest.raises(DataFileError, match=r"lacks the keys \['forces'\]"):
        read_mdsim_npy(tmp_path / "broken.npy")


def test_missing_and_corrupt_dataset_files(tmp_path):
    with pytest.raises(DataFileError, match="does not exist: make one with"):
        read_frames(tmp_path / "nope.h5")
    corrupt = tmp_path / "corrupt.h5"
    corrupt.write_bytes(pickle.dumps({"not": "hdf5"}))
    with pytest.raises(DataFileError, match="corrupt or truncated"):
        read_frames(corrupt)


def test_observables_on_real_frames_equal_numpy(water_set):
    """The RDF and MSD of real water frames against the NumPy formulas of
    test_observables (independent implementations)."""
    from test_observables import numpy_msd, numpy_rdf

    from lmp_bench.observables import RDF, Diffusivity, Frames
    from lmp_bench.observables.rdf import WATER_PAIRS

    frames = Frames(
        water_set.unwrapped_positions, water_set.species, water_set.cell[0], water_set.time
    )
    rdf = RDF(WATER_PAIRS).compute(frames)
    for a, b in WATER_PAIRS:
        expected = numpy_rdf(
            frames.positions, frames.species, water_set.cell[0, 0, 0], a, b, rdf.bin_edges
        )
        assert np.abs(rdf.rdf[(a, b)] - expected).max() < 1e-6, (a, b)
    oxygen = frames.positions[:, frames.species == "O"]
    msd = Diffusivity("O", time_ps=1.0).compute(frames).msd
    assert np.abs(msd - numpy_msd(oxygen)).max() < 1e-6
