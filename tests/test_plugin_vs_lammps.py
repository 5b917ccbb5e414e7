"""pair_style mlff against LAMMPS's own pair styles on the same atoms (float64)."""

from __future__ import annotations

import numpy as np
import pytest
from systems import argon_fcc, deck, silicon_diamond, write_data

from lmp_bench.lammps.snapshot import run_snapshot

LJ_CUT = "pair_style lj/cut 8.5\npair_coeff * * 0.0103 3.405\n"


def assert_close(actual: np.ndarray, expected: np.ndarray, rtol: float, what: str) -> None:
    """|a - e| <= rtol * max|e| (relative to the largest value, as force fields compare)."""
    scale = np.abs(expected).max()
    error = np.abs(actual - expected).max()
    assert error <= rtol * scale, f"{what}: max error {error:.3e} vs scale {scale:.3e}"


@pytest.mark.parametrize("triclinic", [False, True], ids=["orthogonal", "triclinic"])
@pytest.mark.parametrize("shifted", [False, True], ids=["plain", "shifted"])
@pytest.mark.parametrize("suffix", [".pt2", ".pt"], ids=["aoti", "torchscript"])
def test_lj_module_equals_lj_cut(tmp_path, lj_files, triclinic, shifted, suffix):
    data = write_data(argon_fcc(repeat=5, triclinic=triclinic), tmp_path / "argon.data")
    model = lj_files[("shifted" if shifted else "plain") + suffix]
    shift = "pair_modify shift yes\n" if shifted else ""
    ours = run_snapshot(deck(data, f"pair_style mlff {model}\npair_coeff * * Ar\n"))
    theirs = run_snapshot(deck(data, LJ_CUT + shift))
    assert ours.forces.shape == (1, 500, 3)
    assert_close(ours.energy, theirs.energy, 1e-8, "energy")
    assert_close(ours.forces, theirs.forces, 1e-8, "forces")
    assert_close(ours.pressure_virial, theirs.pressure_virial, 1e-8, "virial")
    assert_close(ours.atom_energy, theirs.atom_energy, 1e-8, "per-atom energy")
    assert_close(ours.atom_virial, theirs.atom_virial, 1e-8, "per-atom virial")


def test_float32_model_close_to_lj_cut(tmp_path, lj_float32_file):
    data = write_data(argon_fcc(repeat=4), tmp_path / "argon.data")
    ours = run_snapshot(deck(data, f"pair_style mlff {lj_float32_file}\npair_coeff * * Ar\n"))
    theirs = run_snapshot(deck(data, LJ_CUT))
    assert_close(ours.forces, theirs.forces, 1e-5, "float32 forces")
    assert_close(ours.energy, theirs.energy, 1e-5, "float32 energy")


def sw_parameter_file(path) -> str:
    """LAMMPS sw file with the module's default (original silicon) parameters."""
    path.write_text(
        "Si Si Si 2.1683 2.0951 1.80 21.0 1.20 -0.33333333333333333 "
        "7.049556277 0.6022245584 4.0 0.0 0.0\n"
    )
    return f"pair_style sw\npair_coeff * * {path} Si\n"


def test_stillinger_weber_module_equals_pair_sw(tmp_path, sw_file):
    data = write_data(silicon_diamond(repeat=3), tmp_path / "si.data")
    ours = run_snapshot(deck(data, f"pair_style mlff {sw_file}\npair_coeff * * Si\n", (28.0855,)))
    theirs = run_snapshot(deck(data, sw_parameter_file(tmp_path / "Si.sw"), (28.0855,)))
    assert_close(ours.energy, theirs.energy, 1e-8, "energy")
    assert_close(ours.forces, theirs.forces, 1e-8, "forces")
    assert_close(ours.pressure_virial, theirs.pressure_virial, 1e-8, "virial")


def test_three_body_forces_are_energy_finite_differences(tmp_path, sw_file):
    """Move single atoms by +-h through LAMMPS (displace_atoms + run 0) and difference the
    plugin's energy; compare with the plugin's force on that atom."""
    data = write_data(silicon_diamond(repeat=2, seed=3), tmp_path / "si.data")
    base = deck(data, f"pair_style mlff {sw_file}\npair_coeff * * Si\n", (28.0855,))
    reference = run_snapshot(base)
    h = 1e-4
    for atom_id, axis in [(1, "x"), (5, "y"), (12, "z"), (33, "x")]:
        moves = {sign: [0.0, 0.0, 0.0] for sign in (1, -1)}
        energies = {}
        for sign in (1, -1):
            moves[sign]["xyz".index(axis)] = sign * h
            dx, dy, dz = moves[sign]
            shifted = base + (
                f"group moved id {atom_id}\ndisplace_atoms moved move {dx} {dy} {dz} units box\n"
            )
            energies[sign] = run_snapshot(shifted).energy[0]
        numeric = -(energies[1] - energies[-1]) / (2 * h)
        analytic = reference.forces[0, atom_id - 1, "xyz".index(axis)]
        assert abs(numeric - analytic) < 1e-6 * max(1.0, abs(analytic)), (atom_id, axis)


@pytest.mark.parametrize("ranks", [1, 2])
def test_direct_force_model_equals_lj_cut_forces(tmp_path, direct_force_file, ranks):
    """Direct-force models: the plugin takes their forces on owned atoms as they are."""
    data = write_data(argon_fcc(repeat=4), tmp_path / "argon.data")
    ours = run_snapshot(
        deck(data, f"pair_style mlff {direct_force_file}\npair_coeff * * Ar\n"), ranks
    )
    theirs = run_snapshot(deck(data, LJ_CUT))
    assert_close(ours.forces, theirs.forces, 1e-8, "forces")
    assert_close(ours.energy, theirs.energy, 1e-8, "energy")
    assert np.all(ours.pressure_virial == 0.0), "direct-force models have no virial"
