"""The alanine test model (`ala-bonded`, lmp_bench.models.bonded): exact in LAMMPS on any
number of ranks, energy-conserving at 2 fs, and a 20-ps metadynamics run of the alanine
deck that keeps the peptide whole while its hills move along phi.

The MD tests run the built-in's AOTInductor file (~3,500 steps/s here, ~10x TorchScript's
speed for this many-small-ops model); it is compiled once into the user's cache (~1 min),
as `lmp-bench run --model ala-bonded` does."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from systems import alanine_dataset, deck, lmp_bench, write_data

from lmp_bench import export
from lmp_bench.data.alanine import BONDS, PHI_ATOMS, PSI_ATOMS, SPECIES, build_positions
from lmp_bench.lammps.colvars import hills_path
from lmp_bench.lammps.snapshot import run_snapshot
from lmp_bench.models.bonded import BONDS as BOND_TABLE
from lmp_bench.models.bonded import BondedOrganic
from lmp_bench.models.builtin import builtin_model_file
from lmp_bench.models.graph import evaluate
from lmp_bench.observables.backbone import dihedral
from lmp_bench.observables.fes import read_hills
from lmp_bench.observables.readers import read_lammps_dump

ALANINE = str(Path(__file__).resolve().parents[1] / "inputs" / "alanine.in")
TYPES = ("C", "H", "N", "O")  # the deck's alphabetical type order
MASSES = (12.011, 1.008, 14.007, 15.999)
BOND_PAIRS = np.array(BONDS)


@pytest.fixture(scope="module")
def torchscript_file(model_dir) -> Path:
    return export(BondedOrganic(), model_dir / "ala-bonded.pt")  # ~1 s


@pytest.fixture(scope="module")
def builtin_file(model_dir) -> Path:
    return builtin_model_file("ala-bonded")  # .pt2, cached


def strained_alanine() -> np.ndarray:
    """Alanine dipeptide where every term is at work: phi/psi where atoms clash (H..H
    1.9 A), a C-H bond stretched into its switching region, 0.05 A noise."""
    positions = build_positions(-60.0, -120.0)
    positions += np.random.default_rng(7).normal(scale=0.05, size=positions.shape)
    ch = positions[0] - positions[1]  # ACE's HH31 away from its carbon, to 1.55 A
    positions[0] = positions[1] + ch * 1.55 / np.linalg.norm(ch)
    return positions


def molecule_deck(positions: np.ndarray, model: Path, folder: Path, extra: str = "") -> str:
    """The peptide in the middle of a 40 A box with open boundaries."""
    atoms = Atoms(list(SPECIES), positions=positions, cell=[40.0, 40.0, 40.0], pbc=False)
    atoms.center()
    data = write_data(atoms, folder / "alanine.data")
    return deck(
        data, f"pair_style mlff {model}\npair_coeff * * {' '.join(TYPES)}\n", MASSES,
        boundary="f f f", extra=extra,
    )  # fmt: skip


@pytest.mark.mpi
def test_lammps_on_one_and_two_ranks_equals_python(torchscript_file, builtin_file, tmp_path):
    """Energy, per-atom energies and forces from pair_style mlff on 1 rank and on 2 (the
    ghost-graph path, the molecule cut in two), TorchScript and AOTInductor, equal the
    module evaluated in Python on ASE's neighbour list, on a frame where every term is at
    work."""
    positions = strained_alanine()
    assert 1.45 < np.linalg.norm(positions[0] - positions[1]) < BOND_TABLE[("C", "H")][3]
    for model, ranks in ((torchscript_file, 1), (builtin_file, 1), (builtin_file, 2)):
        lammps = run_snapshot(molecule_deck(positions, model, tmp_path), ranks)
        python = evaluate(
            BondedOrganic(),
            lammps.positions[0],
            np.array([TYPES.index(s) for s in SPECIES]),
            pbc=(False, False, False),
        )
        assert ranks == 1 or all_ranks_hold_atoms(lammps.log)
        assert lammps.energy[0] == pytest.approx(python["energy"], abs=1e-8)
        np.testing.assert_allclose(lammps.atom_energy[0], python["atom_energy"], atol=1e-8)
        np.testing.assert_allclose(lammps.forces[0], python["forces"], atol=1e-8)
        assert np.abs(python["forces"]).max() > 1.0  # the strained frame has real forces


def all_ranks_hold_atoms(log: str) -> bool:
    """LAMMPS's 'Nlocal: <ave> ave <max> max <min> min' line has min > 0."""
    line = next(line for line in log.splitlines() if line.startswith("Nlocal:"))
    return float(line.split()[5]) > 0


def nve_energies(model: Path, folder: Path, timestep_fs: float, picoseconds: float) -> np.ndarray:
    """Total energy every 20 fs of an NVE run from the C7eq structure at 300 K."""
    extra = (
        "velocity all create 300 4928 dist gaussian mom yes rot yes\n"
        f"fix integrate all nve\ntimestep {timestep_fs / 1000}\n"
    )
    steps_per_point = round(20 / timestep_fs)
    points = round(picoseconds * 1000 / 20)
    snap = run_snapshot(
        molecule_deck(build_positions(), model, folder, extra),
        segments=[steps_per_point] * points,
        atom_virial=False,
    )
    lengths = np.linalg.norm(
        snap.positions[:, BOND_PAIRS[:, 0]] - snap.positions[:, BOND_PAIRS[:, 1]], axis=2
    )
    assert np.abs(lengths - lengths[0]).max() < 0.3  # no bond breaks or swaps
    return snap.total_energy


def test_nve_energy_is_conserved_at_2_fs(builtin_file, tmp_path, monkeypatch):
    """20 ps of NVE at 2 fs: the total energy stays within 0.05 eV (2 kT) and does not
    drift. Verlet's energy error scales as dt^2 for smooth forces: over the same 1 ps,
    1-fs steps fluctuate ~4x less than 2-fs steps (a force with a jump would break that)."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    two = nve_energies(builtin_file, tmp_path, 2.0, 20.0)
    deviation = np.abs(two - two[0]).max()
    drift = np.polyfit(np.arange(len(two)) * 0.02, two, 1)[0]  # eV/ps
    print(f"NVE 2 fs, 20 ps: max |E - E0| {deviation:.4f} eV, drift {drift:.2e} eV/ps")
    assert deviation < 0.05 and abs(drift) < 1e-3
    one = nve_energies(builtin_file, tmp_path, 1.0, 1.0)
    ratio = np.std(two[: len(one)]) / np.std(one)
    print(f"energy fluctuation 2 fs / 1 fs: {ratio:.2f}")
    assert 2.5 < ratio < 6.5


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return alanine_dataset(tmp_path_factory.mktemp("alanine"))


def circular_span(degrees: np.ndarray) -> float:
    """Degrees of the circle covered from the first to the last of the angles: 360 less
    the largest gap between neighbours."""
    ordered = np.sort(np.asarray(degrees) % 360.0)
    gaps = np.diff(np.concatenate([ordered, ordered[:1] + 360.0]))
    return 360.0 - float(gaps.max())


def test_metadynamics_run_keeps_the_peptide_whole(builtin_file, dataset, tmp_path):
    """`lmp-bench run inputs/alanine.in`, 20 ps (design.md's bias: 20 hills of 1.2 kJ/mol):
    the watchdog lets it complete, every bond of every frame stays within 0.3 A of its
    start, and the hills (COLVARS's own file) follow phi over more than 90 degrees."""
    result = lmp_bench(
        "run", ALANINE, "--model", "ala-bonded", "--start-from", str(dataset),
        "--length", "20", "--output", str(tmp_path / "runs"), env={"OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    (folder,) = (tmp_path / "runs").iterdir()
    (replica,) = json.loads((folder / "manifest.json").read_text())["replicas"]
    assert replica["state"] == "completed", replica["reason"]
    assert replica["steps"] == 10_000

    dump = folder / "replica-0" / "trajectory.lammpstrj"
    frames = read_lammps_dump(dump, list(TYPES), 0.002).positions
    assert len(frames) == 21  # frame 0 and one every 500 steps
    lengths = np.linalg.norm(frames[:, BOND_PAIRS[:, 0]] - frames[:, BOND_PAIRS[:, 1]], axis=2)
    assert np.abs(lengths - lengths[0]).max() < 0.3

    hills = read_hills(hills_path(folder / "replica-0" / "colvars"))
    assert len(hills.weights) == 20
    phi = np.degrees(dihedral(frames, PHI_ATOMS))
    psi = np.degrees(dihedral(frames, PSI_ATOMS))
    span = circular_span(hills.centers[:, 0])
    print(f"hills: phi over {span:.0f} deg, psi over {circular_span(hills.centers[:, 1]):.0f}")
    assert span > 90.0
    # each hill sits where the trajectory was when it was laid (frames every 500 steps)
    laid = hills.step // 500
    assert np.abs(angle_difference(hills.centers[:, 0], phi[laid])).max() < 1.0
    assert np.abs(angle_difference(hills.centers[:, 1], psi[laid])).max() < 1.0


def angle_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return (np.asarray(a) - np.asarray(b) + 180.0) % 360.0 - 180.0


@pytest.mark.slow
def test_one_nanosecond_of_metadynamics_visits_the_main_basins(builtin_file, dataset, tmp_path):
    """1 ns (~3 min): the hills cover alpha_R, beta/PPII and alpha_L (phi > 0). The model
    has no backbone torsions, so these basins come from its repulsion alone; a 2-ns run
    gave minima at (-63, -33), (-81, 117), (-147, 123) and (57, 33) degrees, the last
    2.4 kJ/mol up, with ~11 kJ/mol barriers at phi = 0 and 120 degrees."""
    result = lmp_bench(
        "run", ALANINE, "--model", "ala-bonded", "--start-from", str(dataset),
        "--length", "1000", "--output", str(tmp_path / "runs"), env={"OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    (folder,) = (tmp_path / "runs").iterdir()
    (replica,) = json.loads((folder / "manifest.json").read_text())["replicas"]
    assert replica["state"] == "completed", replica["reason"]
    phi, psi = read_hills(hills_path(folder / "replica-0" / "colvars")).centers.T
    basins = {
        "alpha_R": (phi > -120) & (phi < -30) & (psi > -90) & (psi < 0),
        "beta/PPII": (phi < -45) & (psi > 90),
        "alpha_L": (phi > 30) & (phi < 100) & (psi > -30) & (psi < 90),
    }
    visits = {name: int(inside.sum()) for name, inside in basins.items()}
    print(f"hills per basin out of {len(phi)}: {visits}")
    assert all(count >= 25 for count in visits.values()), visits
