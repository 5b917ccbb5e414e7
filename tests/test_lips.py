"""LiPS: the lips.xyz reader on files written in its layout (ASE extxyz: Lattice, pbc,
energy=, species/pos/forces), the 83-atom Li6.75P3S11 start cell against its published
lattice, and a two-frame GFN1-xTB stand-in whose labels a fresh tblite call reproduces."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.geometry import cellpar_to_cell
from ase.io import write
from tblite.ase import TBLite

from lmp_bench.data.frames_file import DataFileError, read_frames
from lmp_bench.data.lips import (
    PUBLISHED_CELLPAR,
    density_g_cm3,
    lips_cell,
    lips_split_sizes,
    read_lips_xyz,
)
from lmp_bench.data.make_lips import SOURCE, make_lips_dataset

FRAMES = 10
AMU_A2_PER_PS2_EV, KB_EV = 1.0364269e-4, 8.617333e-5  # 1 amu A^2/ps^2 in eV; k_B in eV/K
# Li7P3S11, Z = 2, in the published cell (a, b, c, alpha, beta, gamma), by hand:
# mass 2 x (7 x 6.94 + 3 x 30.974 + 11 x 32.06) g/mol over N_A x V.
LI7P3S11_G_MOL = 7 * 6.94 + 3 * 30.974 + 11 * 32.06


pytestmark = pytest.mark.usefixtures("one_openmp_thread")


def lips_frames(count: int, seed: int = 0) -> list[Atoms]:
    """Random-displaced lips_cell() frames with random energies (eV) and forces (eV/A),
    positions folded into the cell as in lips.xyz."""
    rng = np.random.default_rng(seed)
    images = []
    for _ in range(count):
        atoms = lips_cell()
        atoms.positions += rng.normal(scale=0.05, size=atoms.positions.shape)
        atoms.wrap()
        atoms.calc = SinglePointCalculator(
            atoms, energy=rng.normal(-5600.0, 2.0), forces=rng.normal(size=(len(atoms), 3))
        )
        images.append(atoms)
    return images


@pytest.fixture(scope="module")
def lips_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("lips") / "lips.xyz"
    images = lips_frames(FRAMES)
    write(path, images, format="extxyz")
    return path, images


def test_the_file_has_the_lips_layout(lips_file):
    path, _ = lips_file
    lines = path.read_text().splitlines()
    assert lines[0].strip() == "83"
    header = lines[1]
    for key in ("Lattice=", "Properties=species:S:1:pos:R:3:forces:R:3", "energy=", 'pbc="T T T"'):
        assert key in header


def test_reader_keeps_units_shapes_species_and_cell(lips_file):
    path, images = lips_file
    frames = read_lips_xyz(path, frame_interval_ps=0.0125)
    assert frames.positions.shape == frames.forces.shape == (FRAMES, 83, 3)
    assert frames.unwrapped_positions.shape == frames.velocities.shape == (FRAMES, 83, 3)
    assert frames.cell.shape == (FRAMES, 3, 3) and frames.energy.shape == (FRAMES,)
    assert Counter(frames.species) == {"Li": 27, "P": 12, "S": 44}
    np.testing.assert_array_equal(frames.energy, [a.get_potential_energy() for a in images])
    # as written: extxyz keeps 8 decimals (eV/A, A), the energy in full (eV)
    np.testing.assert_allclose(frames.forces, [a.get_forces() for a in images], atol=1e-8)
    np.testing.assert_allclose(frames.positions, [a.positions for a in images], atol=1e-7)
    assert not frames.velocities.any()
    np.testing.assert_allclose(frames.time, np.arange(FRAMES) * 0.0125)
    angles = images[0].cell.cellpar()[3:]
    assert np.all(np.abs(angles - 90) > 10)  # triclinic
    np.testing.assert_allclose(frames.cell[0], images[0].cell.array)
    assert frames.attributes["system"] == "lips"
    assert "lips.xyz" in frames.attributes["source"]


def test_splits_follow_the_design():
    assert lips_split_sizes(25_000) == (19_000, 1_000, 5_000)
    assert lips_split_sizes(20_500) == (19_000, 1_000, 500)
    assert lips_split_sizes(20_000) == (9_500, 500, 10_000)  # small-file rule below 20,001
    assert lips_split_sizes(10) == (4, 1, 5)
    assert lips_split_sizes(2) == (1, 0, 1)
    with pytest.raises(ValueError):
        lips_split_sizes(1)


def test_reader_splits_are_disjoint(lips_file):
    frames = read_lips_xyz(lips_file[0], seed=3)
    parts = [frames.splits[name] for name in ("train", "val", "test")]
    assert [len(p) for p in parts] == [4, 1, 5]
    assert sorted(np.concatenate(parts)) == list(range(FRAMES))


def test_unwrapping_follows_an_atom_across_the_boundary(tmp_path):
    images = lips_frames(3, seed=1)
    cell = images[0].cell.array
    for image, x in zip(images, (0.990, 0.997, 1.004), strict=True):
        image.cell = cell
        fractional = image.get_scaled_positions(wrap=False)
        fractional[0] = (x, 0.5, 0.5)
        image.set_scaled_positions(fractional % 1.0)  # the file holds it wrapped
    path = tmp_path / "cross.xyz"
    write(path, images, format="extxyz")
    frames = read_lips_xyz(path)
    step = np.diff(frames.unwrapped_positions[:, 0], axis=0)
    np.testing.assert_allclose(step, [0.007 * cell[0]] * 2, atol=1e-6)  # not a whole a back
    wrapped = frames.positions[:, 0] @ np.linalg.inv(cell)
    assert np.all((wrapped >= 0) & (wrapped < 1))
    assert wrapped[2, 0] == pytest.approx(0.004, abs=1e-6)


def test_reader_errors_are_named(lips_file, tmp_path):
    path, images = lips_file
    with pytest.raises(DataFileError, match="does not exist"):
        read_lips_xyz(tmp_path / "missing.xyz")
    text = path.read_text()
    truncated = tmp_path / "truncated.xyz"
    truncated.write_text(text[: len(text) - 500])
    with pytest.raises(DataFileError, match="truncated or corrupt"):
        read_lips_xyz(truncated)
    corrupt = tmp_path / "corrupt.xyz"
    corrupt.write_bytes(b"\x00\x01 not xyz\n")
    with pytest.raises(DataFileError, match="truncated or corrupt"):
        read_lips_xyz(corrupt)
    unlabelled = tmp_path / "unlabelled.xyz"
    write(unlabelled, [lips_cell(), lips_cell()], format="extxyz")
    with pytest.raises(DataFileError, match="no energy= and forces"):
        read_lips_xyz(unlabelled)
    open_box = tmp_path / "open.xyz"
    molecule = images[0].copy()
    molecule.pbc = False
    molecule.calc = SinglePointCalculator(molecule, energy=-1.0, forces=np.zeros((83, 3)))
    write(open_box, [molecule, molecule], format="extxyz")
    with pytest.raises(DataFileError, match="not periodic"):
        read_lips_xyz(open_box)


def test_lips_cell_is_the_published_li7p3s11_less_one_li():
    atoms = lips_cell()
    assert Counter(atoms.get_chemical_symbols()) == {"Li": 27, "P": 12, "S": 44}
    published = cellpar_to_cell(PUBLISHED_CELLPAR)
    np.testing.assert_allclose(atoms.cell.array, published * [[1], [2], [1]], atol=1e-9)
    volume = abs(np.linalg.det(published))
    assert volume == pytest.approx(829.35, abs=0.01)
    li7p3s11 = 2 * LI7P3S11_G_MOL / 6.02214076e23 / (volume * 1e-24)
    assert li7p3s11 == pytest.approx(1.979, abs=0.002)  # published lattice, Z = 2
    removed_li = 6.94 / (4 * LI7P3S11_G_MOL)  # one Li of 4 formula units
    assert density_g_cm3(atoms) == pytest.approx(li7p3s11 * (1 - removed_li), rel=1e-3)
    distances = atoms.get_all_distances(mic=True)
    np.fill_diagonal(distances, np.inf)
    assert distances.min() > 1.8


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory):
    """Two frames one 0.25 fs step apart, no relaxation or equilibration (~3 xTB calls)."""
    out = tmp_path_factory.mktemp("lips-stand-in") / "lips.h5"
    made = make_lips_dataset(out, frames=2, seed=5, every=1, equilibrate_ps=0.0, relax_steps=0)
    return out, made


@pytest.mark.slow  # periodic GFN1-xTB: ~17 s a force call on one core
def test_stand_in_is_labelled_as_such_and_split(stand_in):
    out, made = stand_in
    frames = read_frames(out)
    assert frames.attributes["source"] == SOURCE
    assert "not the published LiPS data" in SOURCE and "GFN1-xTB" in SOURCE
    assert frames.attributes["system"] == "lips" and frames.attributes["complete"] == "True"
    assert Counter(frames.species) == {"Li": 27, "P": 12, "S": 44}
    assert {k: len(v) for k, v in frames.splits.items()} == {"train": 1, "val": 0, "test": 1}
    np.testing.assert_allclose(frames.time, [0.0, 0.25e-3])
    np.testing.assert_array_equal(frames.forces, made.forces)


@pytest.mark.slow  # periodic GFN1-xTB: ~17 s a force call on one core
def test_stand_in_velocities_are_a_per_ps_and_near_520_k(stand_in):
    _, frames = stand_in
    # the step moves atoms by v dt to within dt^2 |F|/2m + Langevin's small noise (<1e-3 A)
    step = frames.unwrapped_positions[1] - frames.unwrapped_positions[0]
    np.testing.assert_allclose(step, frames.velocities[0] * 0.25e-3, atol=1e-3)
    masses = lips_cell().get_masses()[:, None]
    kinetic = 0.5 * (masses * frames.velocities[0] ** 2).sum() * AMU_A2_PER_PS2_EV
    temperature = 2 * kinetic / ((3 * 83 - 3) * KB_EV)
    assert 300 < temperature < 800  # one 83-atom draw at 520 K


@pytest.mark.slow  # periodic GFN1-xTB: ~17 s a force call on one core
def test_stand_in_labels_are_a_fresh_tblite_calculation(stand_in):
    _, frames = stand_in
    atoms = Atoms(frames.species, positions=frames.positions[1], cell=frames.cell[1], pbc=True)
    atoms.calc = TBLite(method="GFN1-xTB", verbosity=0, cache_api=False)
    np.testing.assert_allclose(frames.forces[1], atoms.get_forces(), atol=1e-5)
    assert frames.energy[1] == pytest.approx(atoms.get_potential_energy(), abs=1e-5)


@pytest.mark.slow  # periodic GFN1-xTB: ~17 s a force call on one core
def test_stand_in_xyz_copy_reads_back(stand_in):
    out, made = stand_in
    again = read_lips_xyz(out.with_suffix(".xyz"), frame_interval_ps=0.25e-3)
    assert SOURCE in again.attributes["source"]
    np.testing.assert_allclose(again.positions, made.positions, atol=1e-7)
    np.testing.assert_allclose(again.unwrapped_positions, made.unwrapped_positions, atol=1e-7)
    np.testing.assert_allclose(again.forces, made.forces, atol=1e-7)
    np.testing.assert_allclose(again.energy, made.energy, atol=1e-7)
    np.testing.assert_allclose(again.cell, made.cell, atol=1e-7)
    np.testing.assert_allclose(again.time, made.time)
    assert list(again.species) == list(made.species)
