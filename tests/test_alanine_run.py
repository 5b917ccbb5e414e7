"""Alanine dipeptide: phi/psi found from the bonds, the deck's COLVARS bias on them, and
training on forces-only frames (the paper's alanine data has no energies)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from systems import alanine_dataset, lmp_bench

from lmp_bench.data.alanine import PHI_ATOMS, PSI_ATOMS, SPECIES, build_positions
from lmp_bench.data.frames_file import write_frames
from lmp_bench.observables.backbone import dihedral, phi_psi_atoms
from lmp_bench.systems import SYSTEMS, Model, StartFrame

ALANINE = str(Path(__file__).resolve().parents[1] / "inputs" / "alanine.in")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return alanine_dataset(tmp_path_factory.mktemp("alanine"))


def test_phi_psi_atoms_come_from_the_bonds_in_any_atom_order():
    positions = build_positions(-70.0, 140.0)
    assert phi_psi_atoms(positions, SPECIES) == (PHI_ATOMS, PSI_ATOMS)
    order = np.random.default_rng(4).permutation(22)  # new index k holds old atom order[k]
    phi, psi = phi_psi_atoms(positions[order], SPECIES[order])
    assert tuple(order[list(phi)]) == PHI_ATOMS and tuple(order[list(psi)]) == PSI_ATOMS
    atoms = Atoms(list(SPECIES), positions=positions)
    for four, expected in ((PHI_ATOMS, -70.0), (PSI_ATOMS, 140.0)):
        reference = atoms.get_dihedral(*four)  # ASE: degrees in [0, 360)
        ours = math.degrees(dihedral(positions, four)) % 360
        assert ours == pytest.approx(reference, abs=1e-9)
        assert ours == pytest.approx(expected % 360, abs=1e-6)
    with pytest.raises(ValueError, match="not alanine dipeptide"):
        phi_psi_atoms(positions[:10], SPECIES[:10])


def test_alanine_deck_biases_phi_and_psi_of_the_start_frame(tmp_path):
    """prepare_alanine writes design.md's bias on the atoms of phi and psi (1-based LAMMPS
    IDs), found from the bonds of a start frame whose atoms are shuffled."""
    order = np.random.default_rng(6).permutation(22)
    start = StartFrame(build_positions()[order], SPECIES[order], np.zeros((3, 3)))
    model = Model(tmp_path / "m.pt", ("C", "H", "N", "O"))
    variables = SYSTEMS["alanine"].prepare(tmp_path, model, 0, 1, start)
    config = Path(variables["colvars_config"]).read_text()
    position = {old: new + 1 for new, old in enumerate(order)}  # old index -> LAMMPS ID
    ids = [int(n) for n in re.findall(r"atomNumbers (\d+)", config)]  # phi's four, psi's four
    assert ids == [position[atom] for atom in (*PHI_ATOMS, *PSI_ATOMS)]
    assert "wellTempered on" in config and "biasTemperature 1500" in config
    assert variables["type_species"] == "C H N O"


def test_training_on_forces_only_frames(dataset, tmp_path):
    """The paper's alanine data has no energies (NaN here): training fits the forces."""
    from lmp_bench.data.frames_file import read_frames

    frames = read_frames(dataset)
    frames.energy[:] = np.nan
    frames.forces = np.random.default_rng(5).normal(scale=0.5, size=frames.forces.shape)
    write_frames(frames, tmp_path / "forces-only.h5")
    result = lmp_bench(
        "train", "--model", "schnet", "--data", str(tmp_path / "forces-only.h5"),
        "--set", "size=small", "--set", "max_epochs=2", "--output", str(tmp_path / "run"),
        env={"OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    rows = (tmp_path / "run" / "metrics.csv").read_text().splitlines()
    header, last = rows[0].split(","), rows[-1].split(",")
    force_mae = float(last[header.index("val_force_mae_meV_per_A")])
    assert np.isfinite(force_mae) and force_mae > 0
