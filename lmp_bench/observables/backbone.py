"""Backbone dihedrals of alanine dipeptide (ACE-ALA-NME), found from the bonds alone, so
that any atom order (the paper's file, OpenMM's topology, a user's PDB) works."""

from __future__ import annotations

import numpy as np

from lmp_bench.observables.distances import covalent_bonds


def backbone_atoms(positions: np.ndarray, species: np.ndarray) -> dict[str, int]:
    """0-based indices of the atoms of phi (C-N-CA-C) and psi (N-CA-C-N'):

    carbonyl carbons are the carbons bonded to an oxygen; CA is the only other carbon
    bonded to both a nitrogen and a carbonyl carbon; N is CA's nitrogen, C is CA's
    carbonyl carbon, C' (ACE) is N's other carbonyl neighbour, N' (NME) is C's nitrogen.
    """
    species = np.asarray(species)
    neighbours: dict[int, set[int]] = {k: set() for k in range(len(species))}
    for i, j in covalent_bonds(positions, species):
        neighbours[int(i)].add(int(j))
        neighbours[int(j)].add(int(i))

    def of(atom: int, element: str) -> list[int]:
        return sorted(n for n in neighbours[atom] if species[n] == element)

    carbonyl = {c for c in np.flatnonzero(species == "C") if of(int(c), "O")}
    ca = [
        int(c)
        for c in np.flatnonzero(species == "C")
        if c not in carbonyl and of(int(c), "N") and set(of(int(c), "C")) & carbonyl
    ]
    if len(ca) != 1:
        raise ValueError(
            f"found {len(ca)} alpha carbons: the structure is not alanine dipeptide "
            "(ACE-ALA-NME) with intact bonds"
        )
    (alpha,) = ca
    (n,) = of(alpha, "N")
    (c,) = [x for x in of(alpha, "C") if x in carbonyl]
    (c_prev,) = [x for x in of(n, "C") if x in carbonyl]
    (n_next,) = of(c, "N")
    return {"C'": c_prev, "N": n, "CA": alpha, "C": c, "N'": n_next}


def dihedral(positions: np.ndarray, atoms: tuple[int, int, int, int]) -> np.ndarray:
    """Torsion angle (radians, in (-pi, pi]) of four atoms over frames (T, N, 3) or one
    frame (N, 3): IUPAC sign convention."""
    p = np.asarray(positions)[..., list(atoms), :]
    b0, b1, b2 = (
        p[..., 0, :] - p[..., 1, :],
        p[..., 2, :] - p[..., 1, :],
        p[..., 3, :] - p[..., 2, :],
    )
    b1 = b1 / np.linalg.norm(b1, axis=-1, keepdims=True)
    v = b0 - np.sum(b0 * b1, axis=-1, keepdims=True) * b1
    w = b2 - np.sum(b2 * b1, axis=-1, keepdims=True) * b1
    x = np.sum(v * w, axis=-1)
    y = np.sum(np.cross(b1, v) * w, axis=-1)
    return np.arctan2(y, x)


def phi_psi_atoms(positions: np.ndarray, species: np.ndarray) -> tuple[tuple, tuple]:
    """((C', N, CA, C), (N, CA, C, N')) as 0-based atom indices."""
    b = backbone_atoms(positions, species)
    return (b["C'"], b["N"], b["CA"], b["C"]), (b["N"], b["CA"], b["C"], b["N'"])
