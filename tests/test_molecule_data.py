"""Stand-in MD17 data (GFN2-xTB through tblite): the built molecules have exactly their
chemical bonds, and a short ethanol set holds what tblite computes, in metal units, with
checks that do not reuse the maker's own conversions (hand-typed constants, a fresh
calculator per frame, finite differences of the positions)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from ase import Atoms
from tblite.ase import TBLite

from lmp_bench.data import make_molecule
from lmp_bench.data.frames_file import read_frames
from lmp_bench.data.make_molecule import make_molecule_dataset, relax, split_sizes
from lmp_bench.data.molecules import MOLECULES, start_geometry
from lmp_bench.observables.distances import covalent_bonds

HARTREE_EV, BOHR_A = 27.211386, 0.52917721  # CODATA, typed by hand
AMU_A2_PER_PS2_EV, KB_EV = 1.0364269e-4, 8.617333e-5  # 1 amu A^2/ps^2 in eV; k_B in eV/K

# Bonds counted from the structural formulas, by element pair.
CHEMICAL_BONDS = {
    # CH3-CH2-OH: C-C, C-O, O-H, 3 + 2 C-H
    "ethanol": {"CC": 1, "CO": 1, "CH": 5, "HO": 1},  # 8
    # two fused rings: 11 C-C, 8 C-H
    "naphthalene": {"CC": 11, "CH": 8},  # 19
    # ring 6 + ring-COOH 1 C-C; C=O, C-OH, ring-O ester; O-C(=O)CH3: O-C, C=O, C-CH3;
    # 4 ring + 3 methyl C-H; acid O-H
    "aspirin": {"CC": 8, "CO": 5, "CH": 7, "HO": 1},  # 21
    # ring 6 + ring-COOH 1 C-C; C=O, C-OH, ring-OH; 4 ring C-H; acid and phenol O-H
    "salicylic": {"CC": 7, "CO": 3, "CH": 4, "HO": 2},  # 16
}


pytestmark = pytest.mark.usefixtures("one_openmp_thread")


def bond_counts(atoms: Atoms) -> dict[str, int]:
    symbols = np.array(atoms.get_chemical_symbols())
    bonds = covalent_bonds(atoms.positions, symbols)
    return dict(Counter("".join(sorted(symbols[pair])) for pair in bonds))


@pytest.mark.parametrize("name", sorted(CHEMICAL_BONDS))
def test_built_molecules_have_their_chemical_bonds(name):
    assert sorted(CHEMICAL_BONDS) == MOLECULES
    atoms = start_geometry(name)
    assert bond_counts(atoms) == CHEMICAL_BONDS[name]
    assert bond_counts(relax(atoms)) == CHEMICAL_BONDS[name]


@pytest.fixture(scope="module")
def ethanol_set(tmp_path_factory):
    """6 frames, 2 steps apart, written every 4 frames on the way (writes are recorded)."""
    out = tmp_path_factory.mktemp("molecule") / "ethanol.h5"
    writes, write = [], make_molecule.write_frames

    def recording_write(frames, path):
        writes.append((len(frames), frames.attributes["complete"]))
        return write(frames, path)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(make_molecule, "CHECKPOINT_FRAMES", 4)
        patch.setattr(make_molecule, "write_frames", recording_write)
        made = make_molecule_dataset(out, "ethanol", 6, seed=3, every=2, equilibrate_ps=0.005)
    return out, made, writes


def test_labels_equal_a_fresh_tblite_calculation(ethanol_set):
    stored = read_frames(ethanol_set[0])
    assert len(stored) == 6
    for positions, forces, energy in zip(
        stored.positions, stored.forces, stored.energy, strict=True
    ):
        atoms = Atoms(stored.species, positions=positions)
        atoms.calc = TBLite(method="GFN2-xTB", verbosity=0)
        np.testing.assert_allclose(forces, atoms.get_forces(), rtol=0, atol=1e-6)
        assert energy == pytest.approx(atoms.get_potential_energy(), abs=1e-6)


def test_energy_and_forces_are_ev_and_ev_per_angstrom(ethanol_set):
    from tblite.interface import Calculator

    made = read_frames(ethanol_set[0])
    numbers = Atoms(made.species).numbers
    calculator = Calculator("GFN2-xTB", numbers, made.positions[2] / BOHR_A)
    calculator.set("verbosity", 0)
    result = calculator.singlepoint()
    assert made.energy[2] == pytest.approx(result.get("energy") * HARTREE_EV, abs=1e-5)
    hand_forces = -result.get("gradient") * HARTREE_EV / BOHR_A
    np.testing.assert_allclose(made.forces[2], hand_forces, rtol=0, atol=1e-5)


def test_velocities_are_angstrom_per_ps(ethanol_set):
    made = ethanol_set[1]
    dt = np.diff(made.time)
    np.testing.assert_allclose(dt, 2 * 0.5e-3, rtol=1e-9)  # 2 steps of 0.5 fs, in ps
    # central differences of the positions follow the stored velocities (Langevin kicks and
    # the 1 fs spacing leave some tens of percent; a wrong unit would be off 10x or more)
    central = (made.positions[2:] - made.positions[:-2]) / (2 * dt[0])
    misfit = np.linalg.norm(central - made.velocities[1:-1]) / np.linalg.norm(central)
    assert misfit < 0.25
    masses = Atoms(made.species).get_masses()
    kinetic = 0.5 * np.einsum("n,tnk,tnk->t", masses, made.velocities, made.velocities)
    temperature = 2 * kinetic * AMU_A2_PER_PS2_EV / ((3 * len(masses) - 3) * KB_EV)
    assert np.all((50 < temperature) & (temperature < 1500)), temperature


def test_file_round_trips_and_says_stand_in(ethanol_set):
    out, made, writes = ethanol_set
    assert writes == [(4, "False"), (6, "True")]
    assert not out.with_name(out.name + ".partial").exists()
    back = read_frames(out)
    assert list(back.species) == ["C", "C", "O", *"HHHHHH"]
    for name in ("positions", "unwrapped_positions", "velocities", "forces", "energy", "time"):
        np.testing.assert_array_equal(getattr(back, name), getattr(made, name))
    np.testing.assert_array_equal(back.cell, np.zeros((6, 3, 3)))
    np.testing.assert_array_equal(back.unwrapped_positions, back.positions)
    assert {k: list(v) for k, v in back.splits.items()} == {
        k: list(v) for k, v in made.splits.items()
    }
    assert sorted(np.concatenate(list(back.splits.values()))) == list(range(6))
    assert back.attributes["source"].startswith("stand-in: GFN2-xTB")
    assert "not the published MD17 data" in back.attributes["source"]
    assert back.attributes["seed"] == "3" and back.attributes["temperature_K"] == "500.0"
    assert back.attributes["timestep_fs"] == "0.5" and back.attributes["units"] == "metal"


def test_split_sizes_follow_the_design():
    assert split_sizes(20_000) == (9_500, 500, 10_000)
    assert split_sizes(6) == (2, 1, 3)
    with pytest.raises(ValueError, match="too few"):
        split_sizes(1)


def test_unknown_molecule_lists_the_known_ones(tmp_path):
    with pytest.raises(ValueError, match="benzene") as error:
        start_geometry("benzene")
    assert all(name in str(error.value) for name in MOLECULES)
    with pytest.raises(ValueError, match="aspirin"):
        make_molecule_dataset(tmp_path / "x.h5", "salicylic_acid", 6)
    assert not (tmp_path / "x.h5").exists()
