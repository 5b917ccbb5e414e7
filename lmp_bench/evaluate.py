"""Score a run folder against a reference run: stability, RDF error, diffusivity, speed.

Every observable uses only the stable part of a replica (design.md); diffusivity only
for replicas stable for at least the system's diffusion time.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from lmp_bench.observables import RDF, Diffusivity, Frames, RDFStability, read_lammps_dump
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


def replica_frames(replica: Path, system: System) -> Frames:
    return read_lammps_dump(
        replica / "trajectory.lammpstrj", list(system.type_species), system.timestep_ps
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
    diffusion = [
        Diffusivity(system.diffusion_element, system.diffusion_time_ps).compute(f)
        for f in all_frames
    ]
    values = [d.coefficient for d in diffusion if d.available]
    return system, rdf, float(np.mean(values)) if values else float("nan")


def score_replica(replica: Path, system: System, reference_rdf: RDF, reference_d: float) -> dict:
    frames = replica_frames(replica, system)
    stability = RDFStability(reference_rdf, system.rdf_threshold, system.window_ps)
    stability.compute(frames)
    stable = frames.head(max(stability.stable_frames, 1))
    rdf_mae = stability.rdf.first(len(stable.times)).mae(reference_rdf)
    d = None  # only for runs stable for the whole diffusion time (design.md)
    if stability.stable_time_ps >= system.diffusion_time_ps:
        d = Diffusivity(system.diffusion_element, system.diffusion_time_ps).compute(stable)
        d = d.coefficient
    status_path = replica / "status.json"
    status = json.loads(status_path.read_text()) if status_path.exists() else {}
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
    }


def mean_std(values: list) -> dict | None:
    present = [v for v in values if v is not None]
    if not present:
        return None
    return {"mean": float(np.mean(present)), "std": float(np.std(present)), "n": len(present)}


def evaluate(folder: Path, reference: Path) -> dict:
    """Metrics of every replica in `folder` and their mean/std; written to metrics.json."""
    manifest = read_manifest(folder)
    system, reference_rdf, reference_d = reference_observables(reference)
    if manifest["system"] != system.name:
        raise RunFolderError(
            f"{folder} is a {manifest['system']} run but {reference} is "
            f"{system.name}: compare runs of the same system"
        )
    replicas = [
        score_replica(r, system, reference_rdf, reference_d) for r in replica_folders(folder)
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
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics


def format_table(metrics: dict) -> str:
    """Per replica and mean +- std, every number with its unit."""
    pairs = list(metrics["replicas"][0]["rdf_mae"])
    header = (
        ["replica", "state", "stability (ps)"]
        + [f"RDF MAE {p}" for p in pairs]
        + ["D (1e-9 m2/s)", "|dD| (1e-9 m2/s)", "steps/s"]
    )

    def cell(value) -> str:
        if value is None:
            return "n/a"
        if isinstance(value, dict):
            return f"{value['mean']:.3g} ± {value['std']:.2g}"
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    rows = [
        [
            r["replica"],
            r["state"],
            cell(r["stability_ps"]),
            *[cell(r["rdf_mae"][p]) for p in pairs],
            cell(r["diffusivity_1e-9_m2_s"]),
            cell(r["diffusivity_error_1e-9_m2_s"]),
            cell(r["steps_per_second"]),
        ]
        for r in metrics["replicas"]
    ]
    s = metrics["summary"]
    rows.append(
        [
            "mean ± std",
            "",
            cell(s["stability_ps"]),
            *[cell(s[f"rdf_mae {p}"]) for p in pairs],
            cell(s["diffusivity_1e-9_m2_s"]),
            cell(s["diffusivity_error_1e-9_m2_s"]),
            cell(s["steps_per_second"]),
        ]
    )
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)]
    lines = [
        "  ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True))
        for row in [header, *rows]
    ]
    return "\n".join(lines)
