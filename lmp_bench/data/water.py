"""Start structures for flexible SPC water, built by the project (no download).

Molecules sit on a cubic grid with random orientations at the SPC/Fw equilibrium geometry;
the classical deck then minimises and equilibrates them. 64 molecules fill the paper's
12.4429 A box; other counts keep the same density.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

WATER64_BOX = 12.4429  # A, the paper's water-64 box
OH_BOND = 1.012  # A, SPC/Fw r0
HOH_ANGLE = 113.24  # degrees, SPC/Fw theta0
CHARGES = {"O": -0.82, "H": 0.41}  # e
MASSES = {"O": 15.9994, "H": 1.008}  # g/mol
VARIANTS = {
    "spcfw-mdsim": "SPC/Fw as the paper's water data was made (bond/angle constants not "
    "halved for LAMMPS's harmonic styles); the default",
    "spcfw": "SPC/Fw as published (constants halved for LAMMPS's harmonic styles)",
}
DEFAULT_VARIANT = "spcfw-mdsim"


def check_variant(name: str) -> str:
    """A water variant name, or an error that lists the choices."""
    if name not in VARIANTS:
        choices = "; ".join(f"{key}: {text}" for key, text in VARIANTS.items())
        raise ValueError(f"unknown water variant {name!r}. Choose one of: {choices}")
    return name


def box_length(molecules: int) -> float:
    """Cubic box at the density of 64 molecules in 12.4429 A."""
    return WATER64_BOX * (molecules / 64) ** (1 / 3)


def _random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def build_water(molecules: int, seed: int = 0) -> tuple[np.ndarray, float]:
    """(3 molecules, 3) positions O, H, H per molecule, and the box length (A)."""
    per_side = round(molecules ** (1 / 3))
    if molecules < 1 or per_side**3 != molecules:
        raise ValueError(
            f"cannot build {molecules} water molecules on a cubic grid: use a cube number "
            "such as 64 or 512"
        )
    length = box_length(molecules)
    spacing = length / per_side
    rng = np.random.default_rng(seed)
    half = np.radians(HOH_ANGLE) / 2
    local = np.array(
        [
            [0.0, 0.0, 0.0],
            [OH_BOND * np.sin(half), 0.0, OH_BOND * np.cos(half)],
            [-OH_BOND * np.sin(half), 0.0, OH_BOND * np.cos(half)],
        ]
    )
    local -= local.mean(axis=0)
    grid = (np.indices((per_side,) * 3).reshape(3, -1).T + 0.5) * spacing
    positions = [centre + local @ _random_rotation(rng).T for centre in grid]
    return np.concatenate(positions), length


def write_water_data(path: Path, molecules: int, seed: int = 0, atom_style: str = "full") -> Path:
    """A LAMMPS data file of a freshly built box (see write_water_frame)."""
    positions, length = build_water(molecules, seed)
    return write_water_frame(
        path, positions, length, atom_style, f"built by lmp-bench (seed {seed})"
    )


def write_water_frame(
    path: Path, positions: np.ndarray, length: float, atom_style: str = "full", origin: str = ""
) -> Path:
    """A LAMMPS data file of O, H, H-ordered molecules in a cubic box; type 1 = O, 2 = H.

    ``full`` (charges in e, bonds, angles) for the classical model; ``atomic`` (positions
    only, no topology that a dissociating molecule could break) for ML models.
    """
    if atom_style not in ("full", "atomic"):
        raise ValueError(f"atom_style must be 'full' or 'atomic', not {atom_style!r}")
    molecules = len(positions) // 3
    full = atom_style == "full"
    counts = [f"{3 * molecules} atoms"]
    types = ["2 atom types"]
    if full:
        counts += [f"{2 * molecules} bonds", f"{molecules} angles"]
        types += ["1 bond types", "1 angle types"]
    lines = [
        f"flexible SPC water, {molecules} molecules, {origin}",
        "",
        *counts,
        "",
        *types,
        "",
    ]
    lines += [f"0 {length:.10f} {axis}lo {axis}hi" for axis in "xyz"]
    lines += [
        "",
        "Masses",
        "",
        f"1 {MASSES['O']}",
        f"2 {MASSES['H']}",
        "",
        f"Atoms # {atom_style}",
        "",
    ]
    for atom, (x, y, z) in enumerate(positions % length):
        molecule, element = atom // 3 + 1, "O" if atom % 3 == 0 else "H"
        atom_type = 1 if element == "O" else 2
        prefix = f"{molecule} {atom_type} {CHARGES[element]}" if full else f"{atom_type}"
        lines.append(f"{atom + 1} {prefix} {x:.10f} {y:.10f} {z:.10f}")
    if full:
        lines += ["", "Bonds", ""]
        for m in range(molecules):
            lines.append(f"{2 * m + 1} 1 {3 * m + 1} {3 * m + 2}")
            lines.append(f"{2 * m + 2} 1 {3 * m + 1} {3 * m + 3}")
        lines += ["", "Angles", ""]
        lines += [f"{m + 1} 1 {3 * m + 2} {3 * m + 1} {3 * m + 3}" for m in range(molecules)]
    path.write_text("\n".join(lines) + "\n")
    return path
