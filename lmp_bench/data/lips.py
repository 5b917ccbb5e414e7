"""LiPS (Li6.75P3S11): the published lips.xyz reader and the 83-atom start cell.

lips.xyz (NequIP's Materials Cloud record 2022.45) is extended XYZ that every known reader
(MDsim's preprocessing/lips.py, matsciml's LiPSStructure, colabfit's NequIP script) reads
with ASE alone: `atoms.get_potential_energy()` (eV), `atoms.get_forces()` (eV/A),
`atoms.get_cell()` and pbc. So a frame is ASE's own extxyz layout: `Lattice=`, `pbc="T T T"`,
`energy=` in the comment line and `Properties=species:S:1:pos:R:3:forces:R:3` (the layout is
inferred from those readers; the file itself could not be opened here).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from ase import Atoms

from lmp_bench.data.frames_file import DataFileError, FrameSet, small_split_sizes, split_indices

LIPS_TRAIN, LIPS_VAL, LIPS_TEST = 19_000, 1_000, 5_000  # design.md: test = the rest, capped
# Frame spacing of lips.xyz: not stated in the sources reached (record 2022.45's file, the
# NequIP and MDsim code). Assumed: design.md's lips sampling, every 50 steps of 0.25 fs.
LIPS_FRAME_PS = 50 * 0.25e-3

# --- Li7P3S11 crystal structure -------------------------------------------------------------
# Yamane et al., Solid State Ionics 178 (2007) 1163, doi:10.1016/j.ssi.2007.05.020, ICSD 157654;
# triclinic P-1, Z = 2 (Li14P6S22 per cell). Taken from the OBELiX data set (github.com/NRC-Mila/
# OBELiX, commit 4eaac889, data/downloads/all_cifs.tar.gz -> all_randomized_cifs/mdp.cif; its
# data/downloads/all.csv row "mdp" names ICSD 157654 and the DOI above). Cell and the 21
# asymmetric-unit sites below are that file's, verbatim (pymatgen's reduced setting).
# CAVEAT: OBELiX publishes ICSD-derived CIFs with Gaussian noise of sigma 0.01 (fractional)
# added to each site (data/scripts/randomize_cifs.py), so positions are the published ones to
# ~0.1 A only (P-S 1.86-2.32 A here against ~2.0-2.1 A in the crystal). The lattice is exact:
# it is the published a 12.5009, b 6.0316, c 12.5303 A, alpha 102.845, beta 113.2024,
# gamma 74.467 deg (all.csv), reached below by SETTING.
OBELIX_CELLPAR = (6.0316, 12.33974205, 12.5303, 106.88548416, 102.845, 102.56246805)
OBELIX_SITES = (  # element, fractional x, y, z of the asymmetric unit (+ inversion)
    ("Li", 0.03858780, 0.65320058, 0.85015368),
    ("Li", 0.04757082, 0.64963122, 0.66302503),
    ("Li", 0.19687553, 0.33263590, 0.90447467),
    ("Li", 0.26194139, 0.78342330, 0.24268984),
    ("Li", 0.27931372, 0.06833189, 0.72411596),
    ("Li", 0.36025158, 0.65859644, 0.49005005),
    ("Li", 0.42238601, 0.11488924, 0.14113944),
    ("P", 0.11520279, 0.82605938, 0.06205490),
    ("P", 0.17796951, 0.17232724, 0.53062240),
    ("P", 0.45630249, 0.50451693, 0.72038997),
    ("S", 0.06815703, 0.17998189, 0.66374750),
    ("S", 0.08792860, 0.88175238, 0.61884482),
    ("S", 0.15293522, 0.82998235, 0.90679033),
    ("S", 0.16846251, 0.67249404, 0.07791762),
    ("S", 0.20654476, 0.50647767, 0.30280984),
    ("S", 0.21595401, 0.36657190, 0.54203123),
    ("S", 0.24606822, 0.16849423, 0.96209799),
    ("S", 0.33991763, 0.96470272, 0.19266405),
    ("S", 0.42041781, 0.47227157, 0.85332079),
    ("S", 0.43351462, 0.65299718, 0.70873341),
    ("S", 0.49764679, 0.18060819, 0.55085815),
)
# Published (ICSD) cell vectors from OBELiX's: a = -(a' + b'), b = -a', c = -c' (det +1).
SETTING = np.array([[-1, -1, 0], [-1, 0, 0], [0, 0, -1]])
PUBLISHED_CELLPAR = (12.5009, 6.0316, 12.5303, 102.845, 113.2024, 74.467)


def li7p3s11_cell() -> Atoms:
    """The 42-atom Li14P6S22 unit cell in the published setting and lattice (a along x)."""
    from ase.geometry import cellpar_to_cell

    symbols = [site[0] for site in OBELIX_SITES]
    fractional = np.array([site[1:] for site in OBELIX_SITES])
    fractional = np.concatenate([fractional, -fractional])  # P-1: x, y, z and -x, -y, -z
    atoms = Atoms(
        symbols=symbols * 2,
        scaled_positions=fractional @ np.linalg.inv(SETTING) % 1.0,
        cell=cellpar_to_cell(PUBLISHED_CELLPAR),
        pbc=True,
    )
    order = np.argsort([("Li", "P", "S").index(s) for s in atoms.symbols], kind="stable")
    return atoms[order]


def lips_cell() -> Atoms:
    """The 83-atom Li27P12S44 (4 x Li6.75P3S11) start cell: the unit cell doubled along its
    short b axis (6.03 -> 12.06 A, so the box is near-cubic, ~12.1-12.5 A each way, as the
    NequIP LiPS cell), less one Li.

    Which Li: the one closest to any other atom (lowest index on a tie). The NequIP paper does
    not say which site its vacancy sits on; this takes away the most crowded Li, which in
    OBELiX's perturbed copy is also its shortest Li-S contact (1.99 A), and is reproducible."""
    atoms = li7p3s11_cell().repeat((1, 2, 1))
    distances = atoms.get_all_distances(mic=True)
    np.fill_diagonal(distances, np.inf)
    lithium = np.flatnonzero(atoms.symbols == "Li")
    del atoms[int(lithium[np.argmin(distances[lithium].min(axis=1))])]
    return atoms


def density_g_cm3(atoms: Atoms) -> float:
    """Mass density from the atomic masses and the cell volume."""
    avogadro = 6.02214076e23
    return float(atoms.get_masses().sum() / avogadro / (atoms.get_volume() * 1e-24))


# --- lips.xyz reader and writer -------------------------------------------------------------


def lips_split_sizes(frames: int) -> tuple[int, int, int]:
    """(train, val, test): design.md's 19,000/1,000 and the rest (at most 5,000) for test when
    the file has more than 20,000 frames; otherwise, as for water and MD17 stand-ins, half for
    train+val (95:5) and the other half for test (val is empty below 4 frames)."""
    if frames > LIPS_TRAIN + LIPS_VAL:
        return LIPS_TRAIN, LIPS_VAL, min(frames - LIPS_TRAIN - LIPS_VAL, LIPS_TEST)
    return small_split_sizes(frames)


def unwrap(positions: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Continuous trajectory: frame 0 as given, then each frame's minimum-image displacement
    from the previous one (fractional rounding, exact while atoms move less than half a cell
    width between frames)."""
    steps = np.diff(positions, axis=0)
    fractional = np.einsum("tnj,tjk->tnk", steps, np.linalg.inv(cells[1:]))
    steps = np.einsum("tnj,tjk->tnk", fractional - np.round(fractional), cells[1:])
    return np.concatenate([positions[:1], positions[:1] + np.cumsum(steps, axis=0)])


def wrap(positions: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Positions folded into each frame's cell (fractional coordinates in [0, 1))."""
    fractional = np.einsum("tnj,tjk->tnk", positions, np.linalg.inv(cells))
    return np.einsum("tnj,tjk->tnk", fractional - np.floor(fractional), cells)


def _load_images(path: Path) -> list[Atoms]:
    from ase.io import read

    if not path.is_file():
        raise DataFileError(f"{path} does not exist: fetch it (`lmp-bench data fetch lips`)")
    try:
        images = read(path, index=":", format="extxyz")
    except (OSError, ValueError, IndexError, KeyError, StopIteration) as err:
        raise DataFileError(
            f"{path} cannot be read as extended XYZ ({err}): the file is truncated or "
            "corrupt; fetch it again"
        ) from err
    if not images:
        raise DataFileError(f"{path} holds no frames")
    return images


def _frame_labels(atoms: Atoms, index: int, path: Path) -> tuple[float, np.ndarray]:
    """A frame's energy (eV) and forces (eV/A) as ASE read them, or a DataFileError."""
    from ase.calculators.calculator import PropertyNotImplementedError

    if not atoms.pbc.all() or atoms.cell.rank < 3:
        raise DataFileError(
            f"{path}: frame {index} is not periodic in 3-D (pbc {atoms.pbc.tolist()}); "
            'LiPS frames carry Lattice= and pbc="T T T"'
        )
    try:
        if atoms.calc is None:
            raise PropertyNotImplementedError
        return float(atoms.get_potential_energy()), atoms.get_forces()
    except PropertyNotImplementedError:
        raise DataFileError(
            f"{path}: frame {index} has no energy= and forces of its own (lips.xyz carries "
            "both on every frame)"
        ) from None


def read_lips_xyz(
    path: str | Path, seed: int = 0, frame_interval_ps: float = LIPS_FRAME_PS
) -> FrameSet:
    """A lips.xyz-layout file (energy eV, forces eV/A: kept as they are), with positions
    wrapped and unwrapped along the trajectory, velocities from ASE `momenta` if present (else
    zero), time = index x frame_interval_ps, and design.md's splits (lips_split_sizes)."""
    from ase import units

    path = Path(path)
    images = _load_images(path)
    species = images[0].get_chemical_symbols()
    for index, atoms in enumerate(images):
        if atoms.get_chemical_symbols() != species:
            raise DataFileError(f"{path}: frame {index} has other atoms than frame 0")
    labels = [_frame_labels(atoms, index, path) for index, atoms in enumerate(images)]
    cells = np.stack([atoms.cell.array for atoms in images])
    raw = np.stack([atoms.positions for atoms in images])
    has_velocities = all("momenta" in atoms.arrays for atoms in images)
    velocities = (
        np.stack([atoms.get_velocities() * 1000 * units.fs for atoms in images])  # A/ps
        if has_velocities
        else np.zeros_like(raw)
    )
    frames = len(images)
    source = images[0].info.get("source")
    return FrameSet(
        species=np.array(species),
        cell=cells,
        positions=wrap(raw, cells),
        unwrapped_positions=unwrap(raw, cells),
        velocities=velocities,
        forces=np.stack([forces for _, forces in labels]),
        energy=np.array([energy for energy, _ in labels]),
        time=np.arange(frames) * frame_interval_ps,
        splits=split_indices(frames, *lips_split_sizes(frames), seed),
        attributes={
            "source": f"lips.xyz-layout extxyz {path.name}"
            + (f" ({source})" if source else " (eV, eV/A as in the file)"),
            "system": "lips",
            "seed": str(seed),
            "frame_interval_ps": str(frame_interval_ps),
            "velocities": "from the file's momenta" if has_velocities else "absent: zeros",
        },
    )


def write_lips_xyz(frames: FrameSet, path: str | Path, velocities: bool = False) -> Path:
    """Frames in lips.xyz's layout (Lattice, pbc, energy=, species/pos/forces; wrapped
    positions), the dataset's `source` added to each comment line so a stand-in stays named;
    `velocities` adds ASE's `momenta` column (not in lips.xyz)."""
    from ase import units
    from ase.calculators.singlepoint import SinglePointCalculator
    from ase.io import write

    images = []
    for t in range(len(frames)):
        atoms = Atoms(
            symbols=list(frames.species), positions=frames.positions[t], cell=frames.cell[t]
        )
        atoms.pbc = True
        if velocities:
            atoms.set_velocities(frames.velocities[t] / (1000 * units.fs))
        atoms.calc = SinglePointCalculator(
            atoms, energy=float(frames.energy[t]), forces=frames.forces[t]
        )
        if "source" in frames.attributes:
            atoms.info["source"] = frames.attributes["source"]
        images.append(atoms)
    write(Path(path), images, format="extxyz")
    return Path(path)
