"""Start geometries of the four MD17 molecules, built by the project (no download).

Ethanol comes from ASE's G2 set. ASE has no naphthalene, aspirin or salicylic acid, so they
are built here from internal coordinates (Z-matrices) with textbook bond lengths and angles:
a flat aromatic ring with in-plane substituents, the acetoxy group of aspirin turned out of
the ring plane as in its crystal structure. These are start points only: the dataset maker
relaxes them with GFN2-xTB before MD. Names follow design.md's systems (md17-<name>).
"""

from __future__ import annotations

import numpy as np
from ase import Atoms

# (symbol, bonded-to, length A, angle-to, angle deg, dihedral-to, dihedral deg); atom 0 takes
# no references, atom 1 only a bond, atom 2 a bond and an angle.
ZRow = tuple

CC_AROMATIC, CH_AROMATIC = 1.40, 1.08
RING = [  # a flat hexagon, atoms 0-5 in ring order
    ("C",),
    ("C", 0, CC_AROMATIC),
    ("C", 1, CC_AROMATIC, 0, 120.0),
    ("C", 2, CC_AROMATIC, 1, 120.0, 0, 0.0),
    ("C", 3, CC_AROMATIC, 2, 120.0, 1, 0.0),
    ("C", 4, CC_AROMATIC, 3, 120.0, 2, 0.0),
]


def ring_hydrogen(atom: int, neighbour: int, beyond: int) -> ZRow:
    """An in-plane aromatic H on `atom`; `neighbour`, `beyond` continue its ring."""
    return ("H", atom, CH_AROMATIC, neighbour, 120.0, beyond, 180.0)


NAPHTHALENE = [
    *RING,  # ring A; atoms 0 and 1 are the fused pair
    ("C", 1, CC_AROMATIC, 0, 120.0, 5, 180.0),  # ring B on the far side of the 0-1 bond
    ("C", 6, CC_AROMATIC, 1, 120.0, 0, 0.0),
    ("C", 7, CC_AROMATIC, 6, 120.0, 1, 0.0),
    ("C", 8, CC_AROMATIC, 7, 120.0, 6, 0.0),
    *(ring_hydrogen(a, n, b) for a, n, b in [(2, 1, 0), (3, 2, 1), (4, 3, 2), (5, 4, 3)]),
    *(ring_hydrogen(a, n, b) for a, n, b in [(6, 1, 0), (7, 6, 1), (8, 7, 6), (9, 8, 7)]),
]

RING_HYDROGENS = [ring_hydrogen(a, a - 1, a - 2) for a in (2, 3, 4, 5)]

SALICYLIC = [  # 2-hydroxybenzoic acid: COOH on ring atom 0, OH on ring atom 1
    *RING,
    ("C", 0, 1.48, 1, 120.0, 2, 180.0),  # 6: carboxyl C, in plane
    ("O", 6, 1.22, 0, 123.0, 1, 0.0),  # 7: C=O towards the phenol
    ("O", 6, 1.34, 0, 114.0, 1, 180.0),  # 8: acid O
    ("H", 8, 0.97, 6, 106.0, 0, 180.0),  # 9: acid H, syn to C=O
    ("O", 1, 1.36, 0, 120.0, 5, 180.0),  # 10: phenol O
    ("H", 10, 0.97, 1, 109.0, 0, 0.0),  # 11: phenol H, H-bonded to the C=O
    *RING_HYDROGENS,
]

ASPIRIN = [  # 2-acetoxybenzoic acid: COOH on ring atom 0, acetoxy on ring atom 1
    *RING,
    ("C", 0, 1.48, 1, 120.0, 2, 180.0),  # 6: carboxyl C
    ("O", 6, 1.22, 0, 123.0, 1, 180.0),  # 7: C=O away from the ester
    ("O", 6, 1.34, 0, 114.0, 1, 0.0),  # 8: acid O
    ("H", 8, 0.97, 6, 106.0, 0, 180.0),  # 9: acid H, syn to C=O
    ("O", 1, 1.40, 0, 120.0, 5, 180.0),  # 10: ester O on the ring
    ("C", 10, 1.36, 1, 117.0, 0, 90.0),  # 11: acyl C, out of the ring plane
    ("O", 11, 1.20, 10, 123.0, 1, 0.0),  # 12: ester C=O, cis to the aryl (Z ester)
    ("C", 11, 1.50, 10, 111.0, 1, 180.0),  # 13: methyl C
    *(("H", 13, 1.09, 11, 109.5, 10, dihedral) for dihedral in (180.0, 60.0, -60.0)),
    *RING_HYDROGENS,
]

ZMATRICES = {"naphthalene": NAPHTHALENE, "salicylic": SALICYLIC, "aspirin": ASPIRIN}
FROM_ASE = {"ethanol": "CH3CH2OH"}
MOLECULES = sorted([*ZMATRICES, *FROM_ASE])
FORMULAS = {
    "aspirin": "C9H8O4",
    "ethanol": "C2H6O",
    "naphthalene": "C10H8",
    "salicylic": "C7H6O3",
}


def place(
    a: np.ndarray, b: np.ndarray, c: np.ndarray, length: float, angle: float, dihedral: float
) -> np.ndarray:
    """The point d with |cd| = length, angle bcd and dihedral abcd (degrees): the NeRF rule."""
    bc = (c - b) / np.linalg.norm(c - b)
    normal = np.cross(b - a, bc)
    normal /= np.linalg.norm(normal)
    theta, phi = np.radians(angle), np.radians(dihedral)
    local = length * np.array(
        [-np.cos(theta), np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi)]
    )
    return c + local @ np.stack([bc, np.cross(normal, bc), normal])


def zmatrix_atoms(rows: list[ZRow]) -> Atoms:
    """Cartesian atoms (A) from Z-matrix rows; atom 1 on +x, atom 2 in the xy plane."""
    positions: list[np.ndarray] = []
    for row in rows:
        if len(row) == 1:
            positions.append(np.zeros(3))
        elif len(row) == 3:
            positions.append(positions[row[1]] + np.array([row[2], 0.0, 0.0]))
        elif len(row) == 5:
            _, bond, length, ref, angle = row
            # a dummy reference off the axis puts the third atom in the xy plane
            dummy = positions[ref] + np.array([0.0, 0.0, 1.0])
            positions.append(place(dummy, positions[ref], positions[bond], length, angle, 90.0))
        else:
            _, bond, length, ref, angle, far, dihedral = row
            positions.append(
                place(positions[far], positions[ref], positions[bond], length, angle, dihedral)
            )
    return Atoms([row[0] for row in rows], positions=np.array(positions))


def start_geometry(name: str) -> Atoms:
    """The unrelaxed start structure of an MD17 molecule, its centre of mass at the origin."""
    if name in FROM_ASE:
        from ase.build import molecule

        atoms = molecule(FROM_ASE[name])
    elif name in ZMATRICES:
        atoms = zmatrix_atoms(ZMATRICES[name])
    else:
        raise ValueError(f"unknown molecule {name!r}: use one of {MOLECULES}")
    atoms.translate(-atoms.get_center_of_mass())
    return atoms
