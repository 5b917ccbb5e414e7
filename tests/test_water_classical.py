"""The classical water reference: start structures and both SPC/Fw variants in LAMMPS."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lmp_bench.data.water import (
    HOH_ANGLE,
    OH_BOND,
    box_length,
    build_water,
    check_variant,
)
from lmp_bench.lammps.snapshot import run_snapshot
from lmp_bench.systems import KCAL_PER_MOL_IN_EV, Model, prepare_water

DECK = Path(__file__).resolve().parents[1] / "inputs" / "water.in"

# Published SPC/Fw constants, energies 1/2 k (x - x0)^2 (kcal/mol, A, rad)
K_BOND, K_ANGLE = 1059.162, 75.90
# Energy factor on the published form: spcfw as published, spcfw-mdsim twice as stiff
STIFFNESS = {"spcfw": 1.0, "spcfw-mdsim": 2.0}


def test_built_structure_has_the_equilibrium_geometry_and_density():
    positions, length = build_water(64, seed=1)
    assert length == pytest.approx(12.4429)
    assert box_length(512) == pytest.approx(2 * 12.4429)
    o, h1, h2 = positions[0::3], positions[1::3], positions[2::3]
    assert np.allclose(np.linalg.norm(h1 - o, axis=1), OH_BOND)
    cos = np.einsum("ij,ij->i", h1 - o, h2 - o) / OH_BOND**2
    assert np.allclose(np.degrees(np.arccos(cos)), HOH_ANGLE)
    with pytest.raises(ValueError, match="cannot build 100 water molecules"):
        build_water(100)


def hand_bonded_energies(positions: np.ndarray, cell_length: float) -> tuple[float, float]:
    """Published-form bond and angle energies (kcal/mol) of O,H,H-ordered molecules."""

    def vector(a, b):
        d = b - a
        return d - cell_length * np.round(d / cell_length)

    o, h1, h2 = positions[0::3], positions[1::3], positions[2::3]
    d1, d2 = vector(o, h1), vector(o, h2)
    r1, r2 = np.linalg.norm(d1, axis=1), np.linalg.norm(d2, axis=1)
    bonds = 0.5 * K_BOND * ((r1 - OH_BOND) ** 2 + (r2 - OH_BOND) ** 2).sum()
    theta = np.arccos(np.einsum("ij,ij->i", d1, d2) / (r1 * r2))
    angles = 0.5 * K_ANGLE * ((theta - np.radians(HOH_ANGLE)) ** 2).sum()
    return float(bonds), float(angles)


def water_commands(folder: Path, variant: str) -> str:
    variables = prepare_water(folder, Model(None, variant=variant), 64, seed=2)
    lines = "".join(f"variable {name} string {value}\n" for name, value in variables.items())
    return lines + f"include {DECK}\n"


@pytest.mark.parametrize("variant", ["spcfw", "spcfw-mdsim"])
def test_bonded_energies_equal_the_hand_computed_ones(tmp_path, variant):
    """Along a short NVT run (metal units), LAMMPS's ebond/eangle = the variant's constants
    applied by hand to the positions, at three points."""
    snapshot = run_snapshot(
        water_commands(tmp_path, variant), segments=[20, 20, 20], energy_terms=("ebond", "eangle")
    )
    for k in range(1, 4):
        bonds, angles = hand_bonded_energies(snapshot.positions[k], box_length(64))
        factor = STIFFNESS[variant] * KCAL_PER_MOL_IN_EV
        assert snapshot.terms["ebond"][k] == pytest.approx(factor * bonds, rel=1e-8)
        assert snapshot.terms["eangle"][k] == pytest.approx(factor * angles, rel=1e-8)
    assert bonds > 0.1 and angles > 0.1  # the check is not trivially 0 = 0


def test_unknown_variant_is_refused():
    with pytest.raises(ValueError, match="unknown water variant 'tip3p'.*spcfw-mdsim.*default"):
        check_variant("tip3p")
