"""Alanine dipeptide (ACE-ALA-NME, 22 atoms): an OpenMM topology built offline, and phi/psi.

The stand-in alanine data (make_alanine.py) needs a start structure without a download, so
this places the atoms from textbook internal coordinates (a small Z-matrix placer) in the
C7eq conformation, with the residue and atom names of OpenMM's amber03.xml templates, and
relaxes it with AMBER-03 in vacuum. Atom order is the usual alanine-dipeptide PDB order, so
phi = C(ACE)-N-CA-C = atoms 4-6-8-14 and psi = N-CA-C-N(NME) = atoms 6-8-14-16, as in the
paper's files and design.md's metadynamics collective variables.
"""

from __future__ import annotations

import numpy as np

from lmp_bench.observables.backbone import dihedral

# (residue, atom name, element) in file order; indices below refer to this order.
ATOMS: tuple[tuple[str, str, str], ...] = (
    ("ACE", "HH31", "H"),  # 0
    ("ACE", "CH3", "C"),  # 1
    ("ACE", "HH32", "H"),  # 2
    ("ACE", "HH33", "H"),  # 3
    ("ACE", "C", "C"),  # 4
    ("ACE", "O", "O"),  # 5
    ("ALA", "N", "N"),  # 6
    ("ALA", "H", "H"),  # 7
    ("ALA", "CA", "C"),  # 8
    ("ALA", "HA", "H"),  # 9
    ("ALA", "CB", "C"),  # 10
    ("ALA", "HB1", "H"),  # 11
    ("ALA", "HB2", "H"),  # 12
    ("ALA", "HB3", "H"),  # 13
    ("ALA", "C", "C"),  # 14
    ("ALA", "O", "O"),  # 15
    ("NME", "N", "N"),  # 16
    ("NME", "H", "H"),  # 17
    ("NME", "CH3", "C"),  # 18
    ("NME", "HH31", "H"),  # 19
    ("NME", "HH32", "H"),  # 20
    ("NME", "HH33", "H"),  # 21
)
SPECIES = np.array([element for _, _, element in ATOMS])
PHI_ATOMS = (4, 6, 8, 14)  # C(ACE) - N - CA - C
PSI_ATOMS = (6, 8, 14, 16)  # N - CA - C - N(NME)
BONDS: tuple[tuple[int, int], ...] = (
    (0, 1), (1, 2), (1, 3), (1, 4), (4, 5), (4, 6),  # ACE and the first peptide bond
    (6, 7), (6, 8), (8, 9), (8, 10), (10, 11), (10, 12), (10, 13), (8, 14), (14, 15),  # ALA
    (14, 16), (16, 17), (16, 18), (18, 19), (18, 20), (18, 21),  # second peptide bond, NME
)  # fmt: skip
C7EQ_DEG = (-83.0, 73.0)  # (phi, psi) of the gas-phase C7eq minimum

# Z-matrix in placing order: atom, then (bonded atom, angle atom, dihedral atom), bond
# length A, angle deg, dihedral deg or (backbone angle "phi"/"psi", offset deg).
# Lengths and angles are AMBER-like equilibrium values (Engh & Huber); the minimiser
# refines them. Trans peptide bonds (omega 180), H(N) anti to O, staggered methyls.
_ZMATRIX: tuple[tuple[int, tuple[int, int, int], float, float, float | tuple[str, float]], ...] = (
    (4, (1, 0, 0), 1.522, 0.0, 0.0),  # C(ACE) on CH3 (first two atoms: a line)
    (6, (4, 1, 0), 1.335, 116.6, 0.0),  # N: fixes the plane
    (8, (6, 4, 1), 1.458, 121.9, 180.0),  # CA: omega(ACE-ALA) trans
    (5, (4, 6, 8), 1.229, 122.9, 0.0),  # O(ACE) cis to CA across C-N
    (7, (6, 4, 5), 1.010, 119.8, 180.0),  # H(N) anti to O
    (0, (1, 4, 6), 1.090, 109.5, 180.0),  # ACE methyl H
    (2, (1, 4, 6), 1.090, 109.5, 60.0),
    (3, (1, 4, 6), 1.090, 109.5, -60.0),
    (14, (8, 6, 4), 1.525, 111.2, ("phi", 0.0)),  # C(ALA): phi
    (10, (8, 6, 4), 1.530, 110.4, ("phi", -120.0)),  # CB: L-alanine
    (9, (8, 6, 4), 1.090, 109.5, ("phi", 120.0)),  # HA
    (11, (10, 8, 6), 1.090, 109.5, 60.0),
    (12, (10, 8, 6), 1.090, 109.5, 180.0),
    (13, (10, 8, 6), 1.090, 109.5, -60.0),
    (16, (14, 8, 6), 1.335, 116.2, ("psi", 0.0)),  # N(NME): psi
    (15, (14, 8, 6), 1.229, 120.5, ("psi", 180.0)),  # O(ALA)
    (18, (16, 14, 8), 1.449, 121.9, 180.0),  # CH3(NME): omega(ALA-NME) trans
    (17, (16, 14, 8), 1.010, 119.8, 0.0),  # H(NME) cis to CA, anti to O
    (19, (18, 16, 14), 1.090, 109.5, 60.0),
    (20, (18, 16, 14), 1.090, 109.5, 180.0),
    (21, (18, 16, 14), 1.090, 109.5, -60.0),
)


def place(
    bonded: np.ndarray,
    angle: np.ndarray,
    dihedral: np.ndarray,
    length: float,
    theta: float,
    tau: float,
) -> np.ndarray:
    """The atom at `length` from `bonded`, with angle (angle, bonded, new) `theta` and
    dihedral (dihedral, angle, bonded, new) `tau`, radians (the NeRF construction)."""
    bc = bonded - angle
    bc /= np.linalg.norm(bc)
    normal = np.cross(angle - dihedral, bc)
    normal /= np.linalg.norm(normal)
    local = length * np.array(
        [-np.cos(theta), np.sin(theta) * np.cos(tau), np.sin(theta) * np.sin(tau)]
    )
    return bonded + np.column_stack([bc, np.cross(normal, bc), normal]) @ local


def build_positions(phi_deg: float = C7EQ_DEG[0], psi_deg: float = C7EQ_DEG[1]) -> np.ndarray:
    """(22, 3) positions, A, from the Z-matrix at the given backbone dihedrals."""
    positions = np.full((len(ATOMS), 3), np.nan)
    positions[1] = 0.0
    angles = {"phi": phi_deg, "psi": psi_deg}
    for atom, (b, a, d), length, theta, tau in _ZMATRIX:
        if isinstance(tau, tuple):
            tau = angles[tau[0]] + tau[1]
        if atom == 4:
            positions[4] = [length, 0.0, 0.0]
        elif atom == 6:  # third atom: in the xy plane
            reference = np.array([0.0, 1.0, 0.0])
            positions[6] = place(
                positions[4], positions[1], reference, length, np.radians(theta), 0
            )
        else:
            bonded, angle, far = positions[b], positions[a], positions[d]
            positions[atom] = place(bonded, angle, far, length, np.radians(theta), np.radians(tau))
    return positions


def chirality(positions: np.ndarray) -> float:
    """(N-CA).((C-CA) x (CB-CA)), A^3: positive for L-alanine (checked on OpenMM's
    test.pdb alanines), so a mirror-image build shows up as a negative number."""
    n, ca, c, cb = positions[[6, 8, 14, 10]]
    return float(np.dot(n - ca, np.cross(c - ca, cb - ca)))


def dihedrals(positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(phi, psi), radians, of (..., 22, 3) positions (any length unit)."""
    positions = np.asarray(positions, dtype=float)
    return dihedral(positions, PHI_ATOMS), dihedral(positions, PSI_ATOMS)


def alanine_dipeptide_topology(
    phi_deg: float = C7EQ_DEG[0], psi_deg: float = C7EQ_DEG[1], minimise: bool = True
):
    """(openmm.app.Topology, positions as an (22, 3) Quantity in nm) of ACE-ALA-NME built
    at (phi, psi) and, by default, relaxed with AMBER-03 in vacuum (no cutoff), so that
    solvating it does not start from strained bonds."""
    import openmm
    from openmm import app, unit

    topology = app.Topology()
    chain = topology.addChain()
    residues, atoms = {}, []
    for residue_name, atom_name, element in ATOMS:
        if residue_name not in residues:
            residues[residue_name] = topology.addResidue(residue_name, chain)
        atoms.append(
            topology.addAtom(atom_name, app.Element.getBySymbol(element), residues[residue_name])
        )
    for i, j in BONDS:
        topology.addBond(atoms[i], atoms[j])
    positions = build_positions(phi_deg, psi_deg)
    if chirality(positions) <= 0:
        raise RuntimeError("the Z-matrix built D-alanine")
    if minimise:
        system = app.ForceField("amber03.xml").createSystem(
            topology, nonbondedMethod=app.NoCutoff, constraints=None
        )
        context = openmm.Context(
            system, openmm.VerletIntegrator(0.001), openmm.Platform.getPlatformByName("Reference")
        )
        context.setPositions(positions * 0.1)
        openmm.LocalEnergyMinimizer.minimize(context, 1.0)  # kJ/mol/nm
        positions = context.getState(getPositions=True).getPositions(asNumpy=True)._value * 10
    return topology, unit.Quantity(positions * 0.1, unit.nanometer)
