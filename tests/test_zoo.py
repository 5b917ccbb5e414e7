"""Every zoo model: symmetries, conservative forces, and LAMMPS = Python.

Models are the tiny ``small`` instances of each architecture (same code paths as the
paper-sized ones), with random weights, on a water-64 frame built by lmp-bench.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ase import Atoms
from systems import water_commands

from lmp_bench.data.water import build_water
from lmp_bench.export import export
from lmp_bench.lammps.snapshot import run_snapshot
from lmp_bench.models.calculator import ModelCalculator
from lmp_bench.models.graph import evaluate
from lmp_bench.models.zoo import ZOO, build
from lmp_bench.units import EV_PER_A3_IN_BAR

SPECIES = ["O", "H"]
WATER_SPECIES = np.tile([0, 1, 1], 64)


def small_model(name: str, dtype: torch.dtype = torch.float64) -> torch.nn.Module:
    torch.manual_seed(0)
    return build(name, SPECIES, size="small").to(dtype).eval()


@pytest.fixture(scope="module")
def water():
    positions, length = build_water(64, seed=3)
    rng = np.random.default_rng(0)
    return positions + rng.normal(scale=0.05, size=positions.shape), length


def rotation(seed: int) -> np.ndarray:
    q, r = np.linalg.qr(np.random.default_rng(seed).normal(size=(3, 3)))
    return q * np.sign(np.diag(r))


@pytest.mark.parametrize("name", sorted(ZOO))
def test_symmetries(name, water):
    """Energy invariant, forces equivariant under rotation (of atoms and cell),
    translation, permutation and periodic image shifts, to 1e-6 (float64)."""
    model = small_model(name)
    positions, length = water
    cell = np.eye(3) * length
    base = evaluate(model, positions, WATER_SPECIES, cell)
    scale = np.abs(base["forces"]).max() + 1e-12

    def check(result, forces, what):
        assert abs(result["energy"] - base["energy"]) < 1e-6 * (abs(base["energy"]) + 1), what
        assert np.abs(result["forces"] - forces).max() < 1e-6 * scale, what

    q = rotation(1)
    check(
        evaluate(model, positions @ q.T, WATER_SPECIES, cell @ q.T),
        base["forces"] @ q.T,
        "rotation",
    )
    check(
        evaluate(model, positions + [0.3, -1.1, 2.0], WATER_SPECIES, cell),
        base["forces"],
        "translation",
    )
    images = positions.copy()
    images[::7] += length * np.array([1, -2, 1])
    check(evaluate(model, images, WATER_SPECIES, cell), base["forces"], "image shift")
    order = np.random.default_rng(2).permutation(len(positions))
    check(
        evaluate(model, positions[order], WATER_SPECIES[order], cell),
        base["forces"][order],
        "permutation",
    )
    assert np.abs(base["forces"]).max() > 1e-8, "forces are identically zero"


@pytest.mark.parametrize("name", sorted(ZOO))
def test_conservative_forces_are_energy_gradients(name, water):
    model = small_model(name)
    if model.direct_forces:
        pytest.skip("direct-force model")
    positions, length = water
    cell = np.eye(3) * length
    forces = evaluate(model, positions, WATER_SPECIES, cell)["forces"]
    h = 1e-5
    for atom, axis in [(0, 0), (1, 2), (100, 1)]:
        plus, minus = positions.copy(), positions.copy()
        plus[atom, axis] += h
        minus[atom, axis] -= h
        numeric = -(
            evaluate(model, plus, WATER_SPECIES, cell)["energy"]
            - evaluate(model, minus, WATER_SPECIES, cell)["energy"]
        ) / (2 * h)
        assert numeric == pytest.approx(forces[atom, axis], abs=1e-6 + 1e-5 * abs(numeric))


@pytest.fixture(scope="session")
def zoo_files(model_dir):
    """Each small model exported once (float32): TorchScript pieces (every zoo model has
    halo pieces; their AOTInductor programs are proved in test_halo.py)."""
    return {}


def exported(name: str, zoo_files: dict, model_dir) -> tuple[torch.nn.Module, object]:
    if name not in zoo_files:
        model = small_model(name, torch.float32)
        path = export(model, model_dir / f"zoo-{name}.pt", dtype="float32")
        zoo_files[name] = (model, path)
    return zoo_files[name]


@pytest.mark.mpi
@pytest.mark.parametrize("name", sorted(ZOO))
def test_lammps_equals_python(name, water, zoo_files, model_dir, tmp_path):
    """Forces through the plugin = the same model in Python, float32, 1 and 2 ranks."""
    model, path = exported(name, zoo_files, model_dir)
    positions, length = water
    commands = water_commands(positions, length, path, tmp_path)
    python = evaluate(
        model, positions % length, WATER_SPECIES, np.eye(3) * length, dtype=torch.float32
    )
    for ranks in (1, 2):
        lammps = run_snapshot(commands, ranks)
        assert np.abs(lammps.forces[0] - python["forces"]).max() < 1e-5, ranks
        assert lammps.energy[0] == pytest.approx(python["energy"], abs=1e-4), ranks


def test_ase_calculator_equals_lammps(water, zoo_files, model_dir, tmp_path):
    """The ASE calculator (eager model, ASE's neighbour list) = the exported model in LAMMPS:
    energy, forces, and stress = -(LAMMPS's virial pressure)."""
    model, path = exported("schnet", zoo_files, model_dir)
    positions, length = water
    atoms = Atoms("OH2" * 64, positions=positions % length, cell=np.eye(3) * length, pbc=True)
    atoms.calc = ModelCalculator(model, dtype=torch.float32)
    lammps = run_snapshot(water_commands(positions, length, path, tmp_path))
    assert np.abs(atoms.get_forces() - lammps.forces[0]).max() < 1e-5  # eV/A
    assert atoms.get_potential_energy() == pytest.approx(lammps.energy[0], abs=1e-4)  # eV
    pressure = lammps.pressure_virial[0][[0, 1, 2, 5, 4, 3]] / EV_PER_A3_IN_BAR  # xx..xy
    assert np.abs(atoms.get_stress() + pressure).max() < 1e-7  # eV/A^3
    assert np.abs(pressure).max() > 1e-5
    atoms.set_chemical_symbols(["C"] * len(atoms))
    with pytest.raises(ValueError, match="element.*'C'.*model's species"):
        atoms.get_forces()


def test_cartesian_harmonics_obey_the_addition_theorem():
    """The Y_lm of edge vectors that turn triplet sums into per-atom sums: equal to the
    angle-based real harmonics, and sum_m Y_lm(u) Y_lm(v) = (2l + 1) / (4 pi) P_l(u . v)
    with P_l from Bonnet's recurrence written here (also along the z axis, where the
    azimuth is undefined)."""
    from lmp_bench.models.zoo.spherical import CartesianHarmonics, real_spherical_harmonics

    generator = torch.Generator().manual_seed(5)
    u = torch.randn(200, 3, generator=generator, dtype=torch.float64)
    v = torch.randn(200, 3, generator=generator, dtype=torch.float64)
    u[0] = torch.tensor([0.0, 0.0, 2.0])
    harmonics = CartesianHarmonics(6)
    r = torch.linalg.norm(v, dim=1)
    angles = torch.acos(v[:, 2] / r), torch.atan2(v[:, 1], v[:, 0])
    assert torch.allclose(harmonics(v), real_spherical_harmonics(*angles, 6), atol=1e-13)
    x = (u * v).sum(1) / (torch.linalg.norm(u, dim=1) * r)
    legendre = [torch.ones_like(x), x]
    for n in range(1, 5):
        legendre.append(((2 * n + 1) * x * legendre[n] - n * legendre[n - 1]) / (n + 1))
    products = harmonics(u) * harmonics(v)
    for order in range(6):
        summed = products[:, order**2 : (order + 1) ** 2].sum(1)
        expected = (2 * order + 1) / (4 * np.pi) * legendre[order]
        assert torch.allclose(summed, expected, atol=1e-13), order


def test_wigner_matrices_rotate_harmonics_and_gaunt_expands_products():
    """SphereNet's per-atom sums (lmp_bench.models.zoo.torsion_sums) rest on two identities,
    checked here at random directions against harmonics evaluated directly:
    Y_LM(R v) = sum_M' D^L_MM'(R) Y_LM'(v) in the frame R of each edge (axes built here from
    the edge and its reference), and (sum_l A_l Y_l0)(sum_l'm' B_l'm' Y_l'm') =
    sum_LM W_LM Y_LM with W the Gaunt-expanded weights."""
    from lmp_bench.models.zoo.spherical import CartesianHarmonics
    from lmp_bench.models.zoo.torsion_sums import TorsionSums

    generator = torch.Generator().manual_seed(11)
    edges, references, v = (
        torch.randn(50, 3, generator=generator, dtype=torch.float64) for _ in range(3)
    )
    sums = TorsionSums(3)
    harmonics = CartesianHarmonics(5)
    z = -edges / torch.linalg.norm(edges, dim=1, keepdim=True)
    x = references - (references * z).sum(1, keepdim=True) * z
    x = x / torch.linalg.norm(x, dim=1, keepdim=True)
    frame = torch.stack([x, torch.linalg.cross(z, x), z], dim=1)
    in_frame = harmonics(torch.einsum("eij,ej->ei", frame, v))
    global_ = harmonics(v)
    rotations = sums.rotations(edges, references)  # blocks by L: (rows of L, 2L + 1)
    rows = [(o, m) for o in range(5) for m in range(-min(o, 2), min(o, 2) + 1)]
    expected = in_frame[:, [o * o + o + m for o, m in rows]]
    rotated, offset = [], 0
    for order in range(5):
        count = sum(1 for o, _ in rows if o == order)
        block = rotations[:, offset : offset + count * (2 * order + 1)]
        block = block.reshape(50, count, 2 * order + 1)
        rotated.append(torch.einsum("erm,em->er", block, global_[:, order**2 : (order + 1) ** 2]))
        offset += count * (2 * order + 1)
    assert offset == rotations.shape[1] == sums.num_pairs
    assert torch.allclose(torch.cat(rotated, dim=1), expected, atol=1e-12)
    zonal = torch.randn(50, 1, 3, generator=generator, dtype=torch.float64)
    torsion = torch.randn(50, 1, 9, generator=generator, dtype=torch.float64)
    product = (zonal[:, 0] * in_frame[:, [0, 2, 6]]).sum(1) * (torsion[:, 0] * in_frame[:, :9]).sum(
        1
    )
    expanded = (sums.weights(zonal, torsion)[:, 0] * expected).sum(1)
    assert torch.allclose(expanded, product, atol=1e-12)


def test_spherenet_pieces_equal_its_triplet_forward_where_references_tie():
    """SphereNet's contract-3 pieces against its own forward (triplet list, torsion
    reference per triplet), in a periodic box of symmetric waters whose two O-H distances
    are exactly equal: there the reference of an O is the H nearer the axis, a rule the
    pieces must follow too (with either H the energy differs by ~1e-5 eV)."""
    from lmp_bench.models.halo import run_pieces

    class Pieces(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model, self.cutoff, self.species = model, model.cutoff, model.species
            self.direct_forces, self.num_layers = False, model.num_layers

        def forward(self, species, edge_index, edge_vectors):
            return run_pieces(self.model.halo_pieces(), species, edge_index, edge_vectors)

    torch.manual_seed(0)
    model = build("spherenet", SPECIES, size="small", num_blocks=2).double().eval()
    centres = np.array([[2, 2, 2], [4.625, 2.25, 2.125], [2.25, 4.75, 2.5], [4.375, 4.5, 4.875]])
    positions = np.concatenate([[c, c + [0.75, 0.5, 0], c + [-0.75, 0.5, 0]] for c in centres])
    assert np.linalg.norm(positions[1] - positions[0]) == np.linalg.norm(
        positions[2] - positions[0]
    )
    species = np.tile([0, 1, 1], 4)
    cell = np.eye(3) * 7.0
    triplets = evaluate(model, positions, species, cell)
    pieces = evaluate(Pieces(model), positions, species, cell)
    assert abs(pieces["energy"] - triplets["energy"]) <= 1e-12 * abs(triplets["energy"])
    assert np.abs(pieces["forces"] - triplets["forces"]).max() <= 1e-12
    assert np.abs(triplets["forces"]).max() > 1e-3
