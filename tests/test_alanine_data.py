"""Stand-in alanine-dipeptide data (AMBER-03 + TIP3P through OpenMM): the built peptide is
what amber03.xml's templates and OpenMM's own bond table call ACE-ALA-NME, phi/psi agree with
an independent formula, and a 3-frame set holds what OpenMM computes, in metal units. The
checks avoid the maker's own code paths: hand-typed constants, OpenMM's Reference platform
(double precision, not the CPU platform the maker runs on) on the serialised full-system
state, and a dihedral formula written here."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

openmm = pytest.importorskip("openmm")
from openmm import app  # noqa: E402

from lmp_bench.data import make_alanine  # noqa: E402
from lmp_bench.data.alanine import (  # noqa: E402
    PHI_ATOMS,
    PSI_ATOMS,
    alanine_dipeptide_topology,
    build_positions,
    dihedrals,
)
from lmp_bench.data.frames_file import read_frames  # noqa: E402
from lmp_bench.observables.distances import covalent_bonds  # noqa: E402

EV_PER_KJ_MOL_NM_IN_A = 0.001036427  # 1 kJ/mol/nm in eV/A: (1000 / 96485.332) / 10, by hand
NAMES = {  # amber03.xml's templates, typed from the file
    "ACE": ["HH31", "CH3", "HH32", "HH33", "C", "O"],
    "ALA": ["N", "H", "CA", "HA", "CB", "HB1", "HB2", "HB3", "C", "O"],
    "NME": ["N", "H", "CH3", "HH31", "HH32", "HH33"],
}
# ACE: 3 C-H, CH3-C, C=O; peptide C-N; ALA: N-H, N-CA, CA-HA, CA-CB, 3 C-H, CA-C, C=O;
# peptide C-N; NME: N-H, N-CH3, 3 C-H
CHEMICAL_BONDS = {"CH": 10, "CC": 3, "CN": 4, "CO": 2, "HN": 2}  # 21


@pytest.fixture(scope="module")
def peptide():
    topology, positions = alanine_dipeptide_topology()
    return topology, positions.value_in_unit(openmm.unit.angstrom)


def test_topology_has_amber03_names_and_templates(peptide):
    topology, positions = peptide
    assert [r.name for r in topology.residues()] == ["ACE", "ALA", "NME"]
    assert {r.name: [a.name for a in r.atoms()] for r in topology.residues()} == NAMES
    system = app.ForceField("amber03.xml", "tip3p.xml").createSystem(topology)
    assert system.getNumParticles() == 22 == len(positions)
    # OpenMM's own bond table (residues.xml, after its PDB name mapping) on the peptide
    # written as PDB text without CONECT records gives the same bonds
    text = io.StringIO()
    app.PDBFile.writeFile(topology, positions * openmm.unit.angstrom, text)
    bare = "\n".join(x for x in text.getvalue().splitlines() if not x.startswith("CONECT"))
    reread = app.PDBFile(io.StringIO(bare)).topology
    pairs = {tuple(sorted((b[0].index, b[1].index))) for b in topology.bonds()}
    assert {tuple(sorted((b[0].index, b[1].index))) for b in reread.bonds()} == pairs


def test_minimised_peptide_has_its_21_chemical_bonds_and_is_l_alanine(peptide):
    topology, positions = peptide
    species = np.array([atom.element.symbol for atom in topology.atoms()])
    bonds = covalent_bonds(positions, species)
    assert dict(Counter("".join(sorted(species[pair])) for pair in bonds)) == CHEMICAL_BONDS
    pairs = {tuple(sorted((b[0].index, b[1].index))) for b in topology.bonds()}
    assert {tuple(pair) for pair in bonds.tolist()} == pairs

    # chirality against the alanines of OpenMM's own test.pdb (L-amino acids)
    def signed_volume(named):
        n, ca, c, cb = (np.asarray(named[k]) for k in ("N", "CA", "C", "CB"))
        return np.dot(n - ca, np.cross(c - ca, cb - ca))

    reference = app.PDBFile(str(Path(app.__file__).parent / "data" / "test.pdb"))
    alanine = next(r for r in reference.topology.residues() if r.name == "ALA")
    ref_xyz = reference.getPositions(asNumpy=True).value_in_unit(openmm.unit.angstrom)
    ours = next(r for r in topology.residues() if r.name == "ALA")
    volume_ref = signed_volume({a.name: ref_xyz[a.index] for a in alanine.atoms()})
    volume = signed_volume({a.name: positions[a.index] for a in ours.atoms()})
    assert np.sign(volume) == np.sign(volume_ref) != 0
    names = [(a.residue.name, a.name) for a in topology.atoms()]
    assert [names[i] for i in PHI_ATOMS] == [
        ("ACE", "C"),
        ("ALA", "N"),
        ("ALA", "CA"),
        ("ALA", "C"),
    ]
    assert [names[i] for i in PSI_ATOMS] == [
        ("ALA", "N"),
        ("ALA", "CA"),
        ("ALA", "C"),
        ("NME", "N"),
    ]


def dihedral_by_normals(p: np.ndarray) -> float:
    """Angle between the planes (p0 p1 p2) and (p1 p2 p3), signed by the right-hand rule
    about p1 -> p2: written here, apart from the package's formula."""
    n1 = np.cross(p[1] - p[0], p[2] - p[1])
    n2 = np.cross(p[2] - p[1], p[3] - p[2])
    angle = np.arccos(np.clip(n1 @ n2 / np.linalg.norm(n1) / np.linalg.norm(n2), -1, 1))
    return float(angle * np.sign(np.cross(n1, n2) @ (p[2] - p[1])))


def test_dihedrals_match_known_values_and_an_independent_formula(peptide):
    for degrees in (-150.0, -83.0, 0.0, 60.0, 120.0, 179.0):
        t = np.radians(degrees)  # p0 on x, axis along z, p3 turned by t: dihedral t
        points = np.array([[1, 0, 0], [0, 0, 0], [0, 0, 1.5], [np.cos(t), np.sin(t), 1.5]])
        assert dihedral_by_normals(points) == pytest.approx(t, abs=1e-9)
    built = build_positions(-83.0, 73.0)  # the Z-matrix places exactly these
    np.testing.assert_allclose(np.degrees(dihedrals(built)), [-83.0, 73.0], atol=1e-9)

    rng = np.random.default_rng(7)
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    rotation = q * np.sign(np.diag(r))
    rotation[:, 0] *= np.linalg.det(rotation)  # a proper rotation
    frames = np.stack([peptide[1], built]) @ rotation.T + rng.normal(size=3) * 5
    phi, psi = dihedrals(frames)  # batched (2, 22, 3)
    for k, positions in enumerate(frames):
        assert phi[k] == pytest.approx(dihedral_by_normals(positions[list(PHI_ATOMS)]))
        assert psi[k] == pytest.approx(dihedral_by_normals(positions[list(PSI_ATOMS)]))
    np.testing.assert_allclose((phi[1], psi[1]), np.radians([-83.0, 73.0]), atol=1e-9)


def test_force_conversion_typed_by_hand():
    assert make_alanine.KJ_PER_MOL_NM_IN_EV_PER_A == pytest.approx(EV_PER_KJ_MOL_NM_IN_A, 1e-6)


@pytest.fixture(scope="module")
def alanine_set(tmp_path_factory):
    """3 frames 5 steps apart after 10 steps, minimised for 100 iterations only; written
    every 2 frames on the way (writes are recorded)."""
    out = tmp_path_factory.mktemp("alanine") / "alanine.h5"
    writes, write = [], make_alanine.write_frames

    def recording_write(frames, path):
        writes.append((len(frames), frames.attributes["complete"]))
        return write(frames, path)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(make_alanine, "CHECKPOINT_FRAMES", 2)
        patch.setattr(make_alanine, "MINIMISE_MAX_ITERATIONS", 100)
        patch.setattr(make_alanine, "write_frames", recording_write)
        made = make_alanine.make_alanine_dataset(out, 3, seed=2, every=5, equilibrate_ps=0.02)
    return out, made, writes


def test_frames_have_the_shapes_and_metadata_of_a_stand_in(alanine_set):
    out, made, writes = alanine_set
    stored = read_frames(out)
    assert writes == [(2, "False"), (3, "True")]
    assert stored.positions.shape == stored.forces.shape == stored.velocities.shape == (3, 22, 3)
    assert stored.unwrapped_positions.shape == (3, 22, 3)
    np.testing.assert_array_equal(stored.cell, np.zeros((3, 3, 3)))
    assert list(stored.species) == [n[0] for r in NAMES.values() for n in r]
    np.testing.assert_allclose(stored.time, [0.0, 0.01, 0.02])  # 5 steps of 2 fs
    assert "stand-in" in stored.attributes["source"]
    assert stored.attributes["system"] == "alanine"
    assert 100 < int(stored.attributes["waters"]) < 400
    for positions in stored.positions:  # whole molecule in every frame
        assert len(covalent_bonds(positions, stored.species)) == 21


def test_file_round_trip_keeps_nan_energies(alanine_set):
    out, made, _ = alanine_set
    stored = read_frames(out)
    assert np.isnan(stored.energy).all() and stored.energy.shape == (3,)
    assert "NaN" in stored.attributes["energy"]
    for name in ("positions", "velocities", "forces", "time"):
        np.testing.assert_array_equal(getattr(stored, name), getattr(made, name))
    assert {k: v.tolist() for k, v in stored.splits.items()} == {
        k: v.tolist() for k, v in made.splits.items()
    }
    together = np.concatenate(list(stored.splits.values()))
    assert sorted(together.tolist()) == [0, 1, 2]


def test_last_frame_forces_equal_openmm_reference_on_the_full_state(alanine_set):
    """The serialised System and the State at the last frame, evaluated on OpenMM's
    Reference platform (double precision): the stored peptide positions are the state's
    first 22 atoms in A, the stored forces its forces in eV/A by the hand-typed factor."""
    out, _, _ = alanine_set
    stored = read_frames(out)
    system = openmm.XmlSerializer.deserialize(out.with_name("alanine.system.xml").read_text())
    state = openmm.XmlSerializer.deserialize(out.with_name("alanine.state.xml").read_text())
    assert system.getNumParticles() > 22 and system.getNumConstraints() > 0
    reference = openmm.Platform.getPlatformByName("Reference")
    context = openmm.Context(system, openmm.VerletIntegrator(0.001), reference)
    context.setState(state)
    full = context.getState(getPositions=True, getForces=True)
    positions_nm = full.getPositions(asNumpy=True).value_in_unit(openmm.unit.nanometer)
    np.testing.assert_allclose(stored.positions[-1], positions_nm[:22] * 10, rtol=0, atol=1e-6)
    forces = full.getForces(asNumpy=True).value_in_unit(
        openmm.unit.kilojoule_per_mole / openmm.unit.nanometer
    )[:22]
    expected = forces * EV_PER_KJ_MOL_NM_IN_A
    assert np.abs(expected).max() > 0.5  # real forces, not zeros (eV/A)
    # CPU platform (mixed precision) against Reference (double): ~5e-7 eV/A apart here
    np.testing.assert_allclose(stored.forces[-1], expected, rtol=0, atol=1e-4)


def test_frames_per_hour_reports_a_speed(monkeypatch):
    monkeypatch.setattr(make_alanine, "MINIMISE_MAX_ITERATIONS", 20)
    speed = make_alanine.frames_per_hour(steps=10, every=500)
    assert speed["frames_per_hour"] > 0 and speed["atoms"] == 22 + 3 * speed["waters"]
