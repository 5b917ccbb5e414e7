"""`evaluate` on trajectories made elsewhere (ASE .traj, extxyz, LAMMPS dumps, DCD through
MDAnalysis, MDsim run folders) gives what it gives on an lmp-bench run folder of the same
frames; missing information gets a named error; `report` finds runs at any depth.

Frames are made here, cheaply: water-64 molecules (lmp-bench's own grid builder) rattling
about slowly wandering, drifting sites, a frame every 1 ps so that 110 frames reach the
100 ps a diffusivity needs; ethanol from ASE with noise; an MDsim folder
from a real (short) ASE MD run of ethanol with ASE's EMT, logged by ASE's MDLogger.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms
from ase.build import molecule
from ase.io import write

from lmp_bench.data.frames_file import FrameSet, write_frames
from lmp_bench.data.water import build_water
from lmp_bench.evaluate import evaluate, evaluate_paths
from lmp_bench.foreign import ForeignOptions
from lmp_bench.report import find_runs, make_report

WATER_INTERVAL_PS = 1.0  # ps between the synthetic water frames
MOLECULE_INTERVAL_PS = 0.05  # md17's saved-frame interval (100 steps of 0.5 fs)


def water_frames(count: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(positions (T, 192, 3) unwrapped A, species, cell): 64 rigid molecules rattling by
    0.1 A about lattice sites that wander by 0.05 A per frame and axis, all drifting 0.1 A
    per frame along the diagonal (so atoms cross box faces); atoms jittered by 0.02 A."""
    start, length = build_water(64, seed)
    rng = np.random.default_rng(seed)
    sites = np.cumsum(rng.normal(scale=0.05, size=(count, 64, 1, 3)), axis=0)
    sites += 0.1 * np.arange(count)[:, None, None, None]
    rattle = rng.normal(scale=0.1, size=(count, 64, 1, 3))
    moved = start.reshape(64, 3, 3)[None] + sites + rattle
    positions = moved.reshape(count, 192, 3) + rng.normal(scale=0.02, size=(count, 192, 3))
    return positions, np.array(["O", "H", "H"] * 64), np.eye(3) * length


def write_dump(path: Path, positions, types, cell, steps, column="xu yu zu") -> Path:
    """A LAMMPS text dump as `dump custom ... id type xu yu zu` writes it, every digit kept."""
    lines = []
    for step, frame in zip(steps, positions, strict=True):
        lines += ["ITEM: TIMESTEP", str(step), "ITEM: NUMBER OF ATOMS", str(len(frame))]
        lines += ["ITEM: BOX BOUNDS pp pp pp"] + [f"0 {float(cell[k, k])!r}" for k in range(3)]
        lines.append(f"ITEM: ATOMS id type {column}")
        lines += [
            f"{i + 1} {t} {x!r} {y!r} {z!r}"
            for i, (t, (x, y, z)) in enumerate(zip(types, frame.tolist(), strict=True))
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def run_folder(folder: Path, manifest: dict, replicas: list, timestep_ps: float, every: int):
    """An lmp-bench run folder as `lmp-bench run` leaves it: manifest.json, and per
    replica its dump (steps every `every` MD steps of `timestep_ps`) and status.json.
    `replicas`: (positions, types, cell) each."""
    folder.mkdir(parents=True)
    for k, (positions, types, cell) in enumerate(replicas):
        steps = np.arange(len(positions)) * every
        write_dump(folder / f"replica-{k}" / "trajectory.lammpstrj", positions, types, cell, steps)
        status = {"state": "completed", "steps_per_second": 10.0}
        (folder / f"replica-{k}" / "status.json").write_text(json.dumps(status))
    (folder / "manifest.json").write_text(json.dumps({"timestep_ps": timestep_ps, **manifest}))
    return folder


@pytest.fixture(scope="module")
def water(tmp_path_factory) -> dict:
    """A water reference run folder (2 replicas of 109 ps), and a 'model' trajectory as an
    ASE .traj plus the same frames as an lmp-bench run folder."""
    folder = tmp_path_factory.mktemp("water")
    types = lambda species: [1 if s == "O" else 2 for s in species]  # noqa: E731
    every = round(WATER_INTERVAL_PS / 0.001)  # the water deck's 1 fs steps
    replicas = []
    for seed in (1, 2):
        positions, species, cell = water_frames(110, seed)
        replicas.append((positions, types(species), cell))
    manifest = {"system": "water", "model": "reference-spcfw-mdsim"}
    reference = run_folder(folder / "reference", manifest, replicas, 0.001, every)
    positions, species, cell = water_frames(110, 3)
    traj = folder / "model.traj"
    write(traj, [Atoms(species, p, cell=cell, pbc=True) for p in positions])
    same = run_folder(
        folder / "runs" / "water-model", {"system": "water", "model": "model"},
        [(positions, types(species), cell)], 0.001, every,
    )  # fmt: skip
    return {"reference": reference, "traj": traj, "run": same, "positions": positions,
            "species": species, "cell": cell, "folder": folder}  # fmt: skip


def ethanol_dataset(path: Path) -> Path:
    """A small md17-ethanol dataset file: 30 noisy frames of ASE's ethanol."""
    atoms = molecule("CH3CH2OH")
    x = atoms.positions + np.random.default_rng(5).normal(scale=0.02, size=(30, 9, 3))
    frames = FrameSet(
        species=np.array(atoms.get_chemical_symbols()), cell=np.zeros((30, 3, 3)),
        positions=x, unwrapped_positions=x, velocities=np.zeros_like(x),
        forces=np.zeros_like(x), energy=np.zeros(30), time=np.arange(30) * 0.05,
        splits={"train": np.arange(15), "test": np.arange(15, 30)},
        attributes={"system": "md17-ethanol"},
    )  # fmt: skip
    return write_frames(frames, path)


@pytest.fixture(scope="module")
def ethanol(tmp_path_factory) -> dict:
    """The dataset, a 40-frame trajectory whose first C-H bond breaks at frame 25 as an
    extxyz file, and the same frames as an lmp-bench md17 run folder."""
    folder = tmp_path_factory.mktemp("ethanol")
    dataset = ethanol_dataset(folder / "ethanol.h5")
    atoms = molecule("CH3CH2OH")
    species = atoms.get_chemical_symbols()
    rng = np.random.default_rng(6)
    # 6 decimals: extxyz's %.8f text gives back these very floats
    positions = np.round(atoms.positions + rng.normal(scale=0.04, size=(40, 9, 3)), 6)
    hydrogen = species.index("H")
    positions[25:, hydrogen] += 1.0  # a C-H bond 1 A too long: unstable from frame 25
    xyz = folder / "ethanol.xyz"
    write(xyz, [Atoms(species, p) for p in positions], format="extxyz")
    types = ["C", "H", "O"]  # the md17 deck's types: elements in alphabetical order
    same = run_folder(
        folder / "runs" / "md17-model",
        {"system": "md17", "model": "model", "type_species": " ".join(types)},
        [(positions, [types.index(s) + 1 for s in species], np.eye(3) * 60.0)],
        0.0005, 100,
    )  # fmt: skip
    return {"dataset": dataset, "xyz": xyz, "run": same, "folder": folder,
            "positions": positions, "species": species}  # fmt: skip


def assert_same_metrics(mine: dict, theirs: dict) -> None:
    """Every number of every replica, the summary and the reference D, to 1e-12."""

    def numbers(metrics: dict) -> dict:
        flat = {}
        for replica in metrics["replicas"]:
            for key, value in replica.items():
                if key in ("replica", "state", "steps_per_second"):
                    continue  # what the runner recorded, not a metric of the frames
                for name, number in value.items() if isinstance(value, dict) else [("", value)]:
                    flat[f"{replica['replica']}/{key}/{name}"] = number
        for key, value in metrics["summary"].items():
            if key != "steps_per_second" and value is not None:
                flat[f"summary/{key}"] = (value["mean"], value["std"], value["n"])
        flat["reference D"] = metrics.get("reference_diffusivity_1e-9_m2_s")
        return flat

    ours, expected = numbers(mine), numbers(theirs)
    assert ours.keys() == expected.keys()
    for key, value in expected.items():
        if value is None:  # a metric neither has (D of a short run, of a molecule)
            assert ours[key] is None, key
        else:
            assert ours[key] == pytest.approx(value, rel=1e-12, abs=1e-12), key


def assert_same_curves(mine: Path, theirs: Path) -> None:
    with np.load(mine / "curves.npz") as a, np.load(theirs / "curves.npz") as b:
        assert sorted(a.files) == sorted(b.files)
        for key in b.files:
            np.testing.assert_allclose(a[key], b[key], rtol=1e-12, atol=1e-12, err_msg=key)


def test_ase_traj_of_water_scores_as_its_run_folder(water, tmp_path):
    expected = evaluate(water["run"], water["reference"])
    (mine,) = evaluate_paths(
        [water["traj"]], water["reference"],
        ForeignOptions("water", timestep_ps=WATER_INTERVAL_PS), tmp_path,
    )  # fmt: skip
    assert_same_metrics(mine, expected)
    assert_same_curves(Path(mine["run"]), water["run"])
    replica = mine["replicas"][0]
    assert replica["stability_ps"] == pytest.approx(109.0)  # stable: D was computed
    assert replica["diffusivity_1e-9_m2_s"] > 0 and mine["reference_diffusivity_1e-9_m2_s"] > 0
    manifest = json.loads((Path(mine["run"]) / "manifest.json").read_text())
    assert manifest["foreign"] is True and manifest["system"] == "water"
    assert manifest["sources"] == [str(water["traj"].resolve())]
    assert manifest["frame_interval_ps"] == WATER_INTERVAL_PS
    assert "--timestep" in manifest["time_base"] and mine["time_base"] == manifest["time_base"]


def test_wrapped_extxyz_of_water_is_unwrapped_for_the_msd(water, tmp_path):
    """Positions written wrapped into the box (as most codes write them) give the D of the
    unwrapped ones; the RDFs use minimum images either way."""
    cell = water["cell"]
    wrapped = water["positions"] % np.diag(cell)
    assert np.abs(wrapped - water["positions"]).max() > 5.0  # some atoms did cross faces
    xyz = tmp_path / "wrapped.xyz"
    write(xyz, [Atoms(water["species"], p, cell=cell, pbc=True) for p in wrapped])
    options = ForeignOptions("water", timestep_ps=WATER_INTERVAL_PS)
    (mine,) = evaluate_paths([xyz], water["reference"], options, tmp_path / "out")
    expected = evaluate(water["run"], water["reference"])
    ours, theirs = mine["replicas"][0], expected["replicas"][0]
    assert ours["diffusivity_1e-9_m2_s"] == pytest.approx(theirs["diffusivity_1e-9_m2_s"], 1e-9)
    for pair, error in theirs["rdf_mae"].items():
        assert ours["rdf_mae"][pair] == pytest.approx(error, abs=1e-6)


def test_extxyz_of_a_molecule_scores_as_its_run_folder(ethanol, tmp_path):
    expected = evaluate(ethanol["run"], ethanol["dataset"])
    (mine,) = evaluate_paths(
        [ethanol["xyz"]], ethanol["dataset"],
        ForeignOptions("md17-ethanol", timestep_ps=MOLECULE_INTERVAL_PS), tmp_path,
    )  # fmt: skip
    assert_same_metrics(mine, expected)
    assert_same_curves(Path(mine["run"]), ethanol["run"])
    assert mine["replicas"][0]["stability_ps"] == pytest.approx(25 * MOLECULE_INTERVAL_PS)
    assert mine["system"] == "md17" and Path(mine["run"]).name.startswith("md17-foreign-ethanol")


def mdsim_folder(folder: Path, atoms: Atoms, temperature_k: float, steps: int = 400) -> Path:
    """An MDsim run folder as its simulate.py writes one, from a real ASE MD run of `atoms`
    (with their calculator; 0.5 fs steps, a frame every 20): an ASE Trajectory and ASE's
    MDLogger attached at the same interval, the trajectory first; test_metric.json as it
    stands after a finished run."""
    from ase import units
    from ase.io import Trajectory
    from ase.md import MDLogger
    from ase.md.velocitydistribution import thermalize_momenta
    from ase.md.verlet import VelocityVerlet

    folder.mkdir(parents=True)
    thermalize_momenta(atoms, temperature_K=temperature_k, rng=np.random.default_rng(7))
    dynamics = VelocityVerlet(atoms, timestep=0.5 * units.fs)
    trajectory = Trajectory(folder / "atoms.traj", "a", atoms)
    dynamics.attach(trajectory.write, interval=20)
    logger = MDLogger(dynamics, atoms, str(folder / "thermo.log"), mode="a")
    dynamics.attach(logger, interval=20)
    dynamics.run(steps)
    trajectory.close()
    logger.close()
    metrics = {"mae_f": 0.1, "num_params": 1, "running_time": 2.0, "early_stop": False,
               "simulated_frames": steps}  # fmt: skip
    (folder / "test_metric.json").write_text(json.dumps(metrics))
    return folder


def test_mdsim_folder_scores_as_its_traj_with_timestep(ethanol, tmp_path):
    from ase.calculators.emt import EMT

    atoms = molecule("CH3CH2OH")
    atoms.calc = EMT()
    folder = mdsim_folder(tmp_path / "md_300K_0", atoms, 300.0)
    log = (folder / "thermo.log").read_text().splitlines()
    assert log[0].split()[0] == "Time[ps]" and len(log) == 22  # header + 21 frames
    (from_folder,) = evaluate_paths(
        [folder], ethanol["dataset"], ForeignOptions("md17-ethanol"), tmp_path / "a"
    )
    (from_traj,) = evaluate_paths(
        [folder / "atoms.traj"], ethanol["dataset"],
        ForeignOptions("md17-ethanol", timestep_ps=0.01), tmp_path / "b",
    )  # fmt: skip
    assert_same_metrics(from_folder, from_traj)
    assert "thermo.log" in from_folder["time_base"] and "0.01 ps" in from_folder["time_base"]
    replica = from_folder["replicas"][0]
    assert replica["state"] == "completed" and replica["steps_per_second"] == 200.0
    assert replica["simulated_ps"] == pytest.approx(0.2)  # 400 steps of 0.5 fs
    assert from_traj["replicas"][0]["state"].startswith("unknown")
    with pytest.raises(ValueError, match="puts frames 0.01 ps apart but --timestep says 0.02"):
        evaluate_paths(
            [folder], ethanol["dataset"], ForeignOptions("md17-ethanol", timestep_ps=0.02)
        )


def alanine_dataset(path: Path) -> tuple[Path, np.ndarray]:
    """An alanine dataset (noisy frames of the C7eq conformation) holding a reference FES
    with two wells on design.md's 60 x 60 grid; the path and that F (kJ/mol)."""
    from lmp_bench.data.alanine import SPECIES, build_positions
    from lmp_bench.data.alanine_fes import write_reference_fes
    from lmp_bench.observables.fes import DIHEDRAL, FreeEnergySurface

    x = build_positions() + np.random.default_rng(8).normal(scale=0.01, size=(10, 22, 3))
    frames = FrameSet(
        species=SPECIES.copy(), cell=np.zeros((10, 3, 3)), positions=x, unwrapped_positions=x,
        velocities=np.zeros_like(x), forces=np.zeros_like(x), energy=np.zeros(10),
        time=np.arange(10.0), splits={"test": np.arange(10)}, attributes={"system": "alanine"},
    )  # fmt: skip
    write_frames(frames, path)
    phi, psi = np.meshgrid(DIHEDRAL.points, DIHEDRAL.points, indexing="ij")
    surface = -30.0 * np.exp(-((phi + 1.4) ** 2 + (psi - 1.2) ** 2) / 0.5)
    surface -= 20.0 * np.exp(-((phi - 1.0) ** 2 + (psi - 0.7) ** 2) / 0.3)
    write_reference_fes(path, FreeEnergySurface().set_free_energy(surface), {"method": "test"})
    return path, surface


def write_plumed_hills(path: Path, rows: np.ndarray) -> Path:
    """A HILLS file as PLUMED's METAD writes it for ARG=phi,psi (no kerneltype line: plain
    Gaussians, as before PLUMED 2.8). rows: time ps, phi, psi (rad), height."""
    lines = ["#! FIELDS time phi psi sigma_phi sigma_psi height biasf", "#! SET multivariate false"]
    lines += [f"#! SET {bound}_{cv} {value}" for cv in ("phi", "psi")
              for bound, value in (("min", "-pi"), ("max", "pi"))]  # fmt: skip
    lines += [f"{t:14.3f} {a:.9f} {b:.9f} 0.35 0.35 {h:.9f} 6" for t, a, b, h in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def numpy_plumed_fes_mae(rows: np.ndarray, until_ps: float, reference: np.ndarray) -> float:
    """design.md's FES MAE of PLUMED hills (heights kcal/mol) laid by `until_ps`, written out
    in NumPy: F = -sum of the Gaussians (PLUMED's heights are already well-tempered, no
    factor), each cut where half its squared scaled distance reaches 6.25 (PLUMED's
    DP2CUTOFF), on the 60 x 60 bin centres of [-pi, pi)."""
    centres = -np.pi + 2 * np.pi / 60 * (np.arange(60) + 0.5)
    bias = np.zeros((60, 60))
    for time_ps, phi, psi, height in rows:
        if time_ps > until_ps + 1e-9:
            continue
        dphi = np.angle(np.exp(1j * (centres - phi)))[:, None] / 0.35
        dpsi = np.angle(np.exp(1j * (centres - psi)))[None, :] / 0.35
        half = 0.5 * (dphi**2 + dpsi**2)
        bias += np.where(half < 6.25, height * 4.184 * np.exp(-half), 0.0)
    free_energy = -bias - (-bias).min()
    return float(np.mean(np.abs(free_energy - (reference - reference.min()))) * 2 * np.pi)


def test_alanine_mdsim_folder_with_plumed_hills(tmp_path):
    """An MDsim alanine folder brings its PLUMED HILLS; the FES MAE counts the hills laid
    while the run was stable, as a NumPy sum of them gives it, and equals that of its
    atoms.traj scored with --hills and --timestep. The run: alanine flying free at 30 K
    (ASE MD without forces), whose bonds drift past the 0.5 A rule midway."""
    from ase.calculators.lj import LennardJones

    from lmp_bench.data.alanine import SPECIES, build_positions

    dataset, surface = alanine_dataset(tmp_path / "ala.h5")
    atoms = Atoms(list(SPECIES), build_positions())
    atoms.calc = LennardJones(epsilon=0.0)
    folder = mdsim_folder(tmp_path / "md_ala_0", atoms, 30.0)
    rng = np.random.default_rng(9)
    rows = np.column_stack([0.01 * np.arange(1, 21), rng.uniform(-np.pi, np.pi, (20, 2)),
                            3.0 * 0.9 ** np.arange(20)])  # fmt: skip
    write_plumed_hills(folder / "HILLS", rows)
    (from_folder,) = evaluate_paths(
        [folder], dataset, ForeignOptions("alanine", hills_unit="kcal/mol"), tmp_path / "a"
    )
    options = ForeignOptions(
        "alanine", timestep_ps=0.01, hills=str(folder / "HILLS"), hills_unit="kcal/mol"
    )
    (from_traj,) = evaluate_paths([folder / "atoms.traj"], dataset, options, tmp_path / "b")
    assert_same_metrics(from_folder, from_traj)
    replica = from_folder["replicas"][0]
    assert 0.02 < replica["stability_ps"] < 0.15  # the hills after it do not count
    expected = numpy_plumed_fes_mae(rows, replica["stability_ps"], surface)
    assert replica["fes_mae_kJ_mol"] == pytest.approx(expected, rel=1e-9)
    everything = numpy_plumed_fes_mae(rows, 1.0, surface)
    assert abs(everything - expected) > 1.0  # the cut at the stable time mattered
    with np.load(Path(from_folder["run"]) / "curves.npz") as curves:
        assert curves["fes/replica-0"].shape == (60, 60)
    manifest = json.loads((Path(from_folder["run"]) / "manifest.json").read_text())
    assert manifest["replicas"][0]["hills"] == str((folder / "HILLS").resolve())


def test_dcd_with_a_topology_through_mdanalysis(water, tmp_path):
    """DCD (float32 positions and box, times in its header) with a PDB naming the atoms
    gives the metrics of an ASE .traj of the same float32 numbers."""
    mda = pytest.importorskip("MDAnalysis")
    positions = water["positions"].astype(np.float32)
    cell = np.eye(3) * float(np.float32(water["cell"][0, 0]))  # DCD keeps float32 boxes
    topology = tmp_path / "water.pdb"
    write(topology, Atoms(water["species"], positions[0], cell=cell, pbc=True))
    universe = mda.Universe(str(topology))
    dcd = tmp_path / "water.dcd"
    with mda.Writer(str(dcd), universe.atoms.n_atoms, dt=WATER_INTERVAL_PS) as out:
        for frame in positions:
            universe.atoms.positions = frame
            universe.dimensions = [cell[0, 0], cell[1, 1], cell[2, 2], 90.0, 90.0, 90.0]
            out.write(universe.atoms)
    traj = tmp_path / "float32.traj"
    write(traj, [Atoms(water["species"], p.astype(float), cell=cell, pbc=True) for p in positions])
    expected = evaluate_paths(
        [traj], water["reference"], ForeignOptions("water", timestep_ps=WATER_INTERVAL_PS),
        tmp_path / "a",
    )[0]  # fmt: skip
    options = ForeignOptions("water", topology=str(topology))
    (mine,) = evaluate_paths([dcd], water["reference"], options, tmp_path / "b")
    assert "MDAnalysis" in mine["time_base"]
    ours, theirs = mine["replicas"][0], expected["replicas"][0]
    assert ours["stability_ps"] == pytest.approx(theirs["stability_ps"], rel=1e-6)
    for pair, error in theirs["rdf_mae"].items():
        assert ours["rdf_mae"][pair] == pytest.approx(error, rel=1e-6), pair
    assert ours["diffusivity_1e-9_m2_s"] == pytest.approx(theirs["diffusivity_1e-9_m2_s"], 1e-5)
    with pytest.raises(ValueError, match="give its topology with --topology"):
        evaluate_paths([dcd], water["reference"], ForeignOptions("water"), tmp_path / "c")


def test_missing_information_gets_named_errors(water, ethanol, tmp_path):
    reference, dataset = water["reference"], ethanol["dataset"]
    positions, species = water["positions"][:3], water["species"]
    no_cell = tmp_path / "no-cell.xyz"
    write(no_cell, [Atoms(species, p) for p in positions])
    three_types = write_dump(
        tmp_path / "three.lammpstrj", positions, [1, 2, 3] * 64, water["cell"], [0, 100, 200],
    )  # fmt: skip
    cases = [
        ([no_cell], reference, ForeignOptions("water", timestep_ps=0.1), "has no cell, but water"),
        ([ethanol["xyz"]], reference, ForeignOptions("water", timestep_ps=0.1),
         r"holds species \['C', 'H', 'O'\] but water has \['H', 'O'\]: wrong --system"),
        ([three_types], reference, ForeignOptions("water", timestep_ps=0.1),
         "has atom types up to 3 but only 2 are named .* --type-species"),
        ([three_types], reference,
         ForeignOptions("water", timestep_ps=0.1, type_species=("O", "H", "Ow")),
         r"unknown species \['Ow'\]"),
        ([water["traj"]], reference, ForeignOptions("water"),
         "has no time axis: give --timestep, the ps between its saved frames"),
        ([water["traj"]], reference, ForeignOptions(timestep_ps=0.1), "needs --system"),
        ([water["traj"]], reference, ForeignOptions("argon", timestep_ps=0.1),
         "unknown system 'argon'"),
        ([water["traj"]], reference, ForeignOptions("lips", timestep_ps=0.1),
         r"holds species \['H', 'O'\] but lips has \['Li', 'P', 'S'\]: wrong --system"),
        ([water["traj"]], dataset, ForeignOptions("water", timestep_ps=0.1),
         "water runs are scored against a reference run folder"),
        ([ethanol["xyz"]], dataset, ForeignOptions("md17-aspirin", timestep_ps=0.05),
         "wrong system: --system md17-aspirin but the reference dataset .* is md17-ethanol"),
    ]  # fmt: skip
    for paths, against, options, message in cases:
        with pytest.raises(ValueError, match=message):
            evaluate_paths(paths, against, options, tmp_path / "out")
    assert not (tmp_path / "out").exists()  # nothing written on an error


def test_evaluate_and_report_find_runs_at_any_depth(water, tmp_path, capsys):
    """The CLI scores a .traj into a folder of its own; `evaluate` and `report` on the
    folder above find it and an lmp-bench run of the same frames two levels down, and the
    report's table lists both with the same metrics."""
    import shutil

    from lmp_bench.cli import main

    campaign = tmp_path / "results" / "campaign"
    run_copy = shutil.copytree(water["run"], campaign / "lmp-bench" / "water-model")
    code = main([
        "evaluate", str(water["traj"]), "--reference", str(water["reference"]),
        "--system", "water", "--timestep", str(WATER_INTERVAL_PS), "--label", "other-code",
        "--output", str(campaign / "foreign"),
    ])  # fmt: skip
    shown = capsys.readouterr().out
    assert code == 0 and "RDF MAE O-O" in shown and "1 ps (--timestep)" in shown
    (scored,) = (campaign / "foreign").iterdir()
    assert scored.name.startswith("water-foreign-other-code-")
    assert f"metrics in {scored / 'metrics.json'}" in shown
    assert find_runs([tmp_path / "results"]) == [scored, run_copy]
    (scored / "metrics.json").unlink()  # scored again below, from its source file
    assert (
        main(["evaluate", str(tmp_path / "results"), "--reference", str(water["reference"])]) == 0
    )
    shown = capsys.readouterr().out
    assert shown.count("mean ± std") == 2 and "LAMMPS step x 0.001 ps" in shown
    assert (scored / "metrics.json").is_file() and (run_copy / "metrics.json").is_file()
    page = make_report([tmp_path / "results"], tmp_path / "report")
    rows = (tmp_path / "report" / "tables" / "water.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[1].startswith("other-code,") and rows[2].startswith("model,")
    foreign, ours = rows[1].split(","), rows[2].split(",")
    assert foreign[3] == "0/1" and ours[3] == "1/1"  # a bare file records no end state
    assert foreign[4:-2] == ours[4:-2]  # stability, RDF MAEs, D, |dD|, NVE drift
    assert "other-code" in page.read_text()


def test_report_of_a_folder_without_runs_makes_nothing(tmp_path):
    (tmp_path / "empty" / "deeper").mkdir(parents=True)
    with pytest.raises(ValueError, match="no lmp-bench run folders"):
        make_report([tmp_path / "empty"], tmp_path / "report")
    assert not (tmp_path / "report").exists()
