"""The benchmark's metrics, computed on frames: one scoring path for every trajectory.

A `Replica` is one trajectory as `Frames` (positions in A, times in ps) plus what its
runner said about it. An lmp-bench run folder is one way of getting replicas
(`run_folders`), a trajectory written by another code another (`foreign`); both are
scored here, against a reference already in memory, so the numbers cannot differ by
source. Rules (design.md): every observable uses only the stable part of a replica;
diffusivity only for replicas stable for the dropped start + the diffusion time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from lmp_bench.observables import RDF, Diffusivity, Frames, RDFStability
from lmp_bench.observables.distances import BondStability, DistanceHistogram
from lmp_bench.observables.energy import EnergyDrift
from lmp_bench.observables.fes import FreeEnergySurface, Hills
from lmp_bench.systems import System


@dataclass(frozen=True)
class Replica:
    """One trajectory to score and what its runner recorded about it."""

    name: str  # replica-<k>: tables and curves.npz key on it
    frames: Frames
    state: str = "unknown (not recorded)"  # completed, unstable, failed, ...
    steps_per_second: float | None = None
    total_energy: tuple[np.ndarray, np.ndarray] | None = None  # NVE runs: (ps, eV)
    hills: Hills | None = None  # metadynamics Gaussians it deposited (alanine)
    hill_times_ps: np.ndarray | None = None  # when each hill was laid, on the frames' clock


@dataclass(frozen=True)
class PeriodicReference:
    """What periodic runs are compared with: g(r) of the reference and its D (m^2/s;
    NaN when no reference replica ran long enough)."""

    rdf: RDF
    diffusivity_m2_s: float


@dataclass(frozen=True)
class MoleculeReference:
    """What molecule runs are compared with: the dataset's frames (bonds), its h(r) on
    the bins `h_r` (A), for alanine its reference FES (None without one), and the system
    the dataset names (md17-ethanol, alanine; None if it names none)."""

    frames: Frames
    h: np.ndarray
    h_r: np.ndarray
    fes: FreeEnergySurface | None = None
    dataset_system: str | None = None


def mean_std(values: list) -> dict | None:
    present = [v for v in values if v is not None]
    if not present:
        return None
    return {"mean": float(np.mean(present)), "std": float(np.std(present)), "n": len(present)}


def nve_metrics(replica: Replica, stable_ps: float) -> dict:
    """The energy drift (meV/atom/ps, a line fitted over the stable part) of a replica
    that carries its total energy (an NVE run); nothing otherwise."""
    if replica.total_energy is None:
        return {}
    times, energy = replica.total_energy
    keep = times <= times[0] + stable_ps + 1e-9
    keep[:2] = True
    atoms = len(replica.frames.species)
    drift = EnergyDrift().compute(times[keep], energy[keep], atoms)
    return {"nve_drift_meV_atom_ps": drift.drift_meV_per_atom_per_ps}


def score_periodic(
    replica: Replica, system: System, reference: PeriodicReference, curves: dict
) -> dict:
    """RDF stability, RDF error and diffusivity of one replica; its g(r) and MSD curves go
    into `curves` (for reports)."""
    frames = replica.frames
    stability = RDFStability(reference.rdf, system.rdf_threshold, system.window_ps)
    stability.compute(frames)
    stable = frames.head(max(stability.stable_frames, 1))
    stable_rdf = stability.rdf.first(len(stable.times))
    rdf_mae = stable_rdf.mae(reference.rdf)
    for (a, b), g in stable_rdf.rdf.items():
        curves[f"g/{replica.name}/{a}-{b}"] = g
    d = None  # only for runs stable for the dropped start + the diffusion time (design.md)
    if stability.stable_time_ps >= system.diffusion_skip_ps + system.diffusion_time_ps:
        msd_frames = stable.since(system.diffusion_skip_ps)
        msd = Diffusivity(system.diffusion_element, system.diffusion_time_ps).compute(msd_frames)
        curves[f"msd_t/{replica.name}"], curves[f"msd/{replica.name}"] = msd.lag_times, msd.msd
        d = msd.coefficient
    reference_d = reference.diffusivity_m2_s
    return {
        "replica": replica.name,
        "state": replica.state,
        "simulated_ps": float(frames.times[-1] - frames.times[0]),
        "stability_ps": stability.stable_time_ps,
        "rdf_mae": {f"{a}-{b}": value for (a, b), value in rdf_mae.items()},
        "diffusivity_1e-9_m2_s": None if d is None or math.isnan(d) else d * 1e9,
        "diffusivity_error_1e-9_m2_s": (
            None
            if d is None or math.isnan(d) or math.isnan(reference_d)
            else abs(d - reference_d) * 1e9
        ),
        "steps_per_second": replica.steps_per_second,
        **nve_metrics(replica, stability.stable_time_ps),
    }


def hills_laid_by(replica: Replica, end_ps: float) -> Hills:
    """The replica's hills deposited up to `end_ps` on its clock."""
    assert replica.hills is not None and replica.hill_times_ps is not None
    return replica.hills.subset(replica.hill_times_ps <= end_ps + 1e-9)


def fes_mae(
    replica: Replica, stable_ps: float, reference: FreeEnergySurface | None, curves: dict
) -> float | None:
    """FES MAE (kJ/mol, design.md's x 2 pi) of the hills a replica deposited while stable
    (its F goes into `curves`); None without a reference FES or hills (an NVE run, or one
    that failed before its first hill)."""
    if reference is None or replica.hills is None:
        return None
    hills = hills_laid_by(replica, float(replica.frames.times[0]) + stable_ps)
    fes = FreeEnergySurface().compute(hills)
    curves[f"fes/{replica.name}"] = fes.free_energy
    return fes.mae(reference)


def score_molecule(
    replica: Replica, system: System, reference: MoleculeReference, curves: dict
) -> dict:
    """Bond-length stability and h(r) error (alanine: and FES error) of one replica."""
    frames = replica.frames
    if list(frames.species) != list(reference.frames.species):
        raise ValueError(
            f"{replica.name} holds atoms {''.join(frames.species)} but the reference dataset "
            f"has {''.join(reference.frames.species)}: score a run against the dataset of "
            "its own molecule"
        )
    stability = BondStability(reference.frames).compute(frames)
    stable = frames.head(max(stability.stable_frames, 1))
    histogram = DistanceHistogram().compute(stable)
    curves[f"h/{replica.name}"] = histogram.h
    fes = (
        {"fes_mae_kJ_mol": fes_mae(replica, stability.stable_time_ps, reference.fes, curves)}
        if system.name == "alanine"
        else {}
    )
    return {
        "replica": replica.name,
        "state": replica.state,
        "simulated_ps": float(frames.times[-1] - frames.times[0]),
        "stability_ps": stability.stable_time_ps,
        "h_mae": histogram.mae(reference.h),
        **fes,
        "steps_per_second": replica.steps_per_second,
        **nve_metrics(replica, stability.stable_time_ps),
    }


MOLECULE_KEYS = ("stability_ps", "h_mae", "fes_mae_kJ_mol", "steps_per_second")
PERIODIC_KEYS = (
    "stability_ps",
    "diffusivity_1e-9_m2_s",
    "diffusivity_error_1e-9_m2_s",
    "steps_per_second",
)


def score(
    replicas: list[Replica], system: System, reference: PeriodicReference | MoleculeReference
) -> tuple[dict, dict[str, np.ndarray]]:
    """Metrics of every replica and their mean/std ({"replicas", "summary"}, periodic
    systems also the reference D), and the curves behind them: g(r) or h(r) of the
    reference and of each replica's stable part, MSDs, FES grids."""
    if not replicas:
        raise ValueError("no replica to score")
    curves: dict[str, np.ndarray] = {}
    if isinstance(reference, MoleculeReference):
        curves["h_r"], curves["h/reference"] = reference.h_r, reference.h
        if reference.fes is not None:
            curves["fes/reference"] = reference.fes.free_energy
        rows = [score_molecule(r, system, reference, curves) for r in replicas]
        keys = [*MOLECULE_KEYS, "nve_drift_meV_atom_ps"]
        summary = {key: mean_std([r[key] for r in rows]) for key in keys if key in rows[0]}
        return {"replicas": rows, "summary": summary}, curves
    curves["g_r"] = reference.rdf.bin_centers
    for (a, b), g in reference.rdf.rdf.items():
        curves[f"g/reference/{a}-{b}"] = g
    rows = [score_periodic(r, system, reference, curves) for r in replicas]
    pairs = list(rows[0]["rdf_mae"])
    summary = {
        "stability_ps": mean_std([r["stability_ps"] for r in rows]),
        **{f"rdf_mae {p}": mean_std([r["rdf_mae"][p] for r in rows]) for p in pairs},
        **{key: mean_std([r[key] for r in rows]) for key in PERIODIC_KEYS[1:]},
    }
    if "nve_drift_meV_atom_ps" in rows[0]:
        summary["nve_drift_meV_atom_ps"] = mean_std([r["nve_drift_meV_atom_ps"] for r in rows])
    d = reference.diffusivity_m2_s
    return {
        "reference_diffusivity_1e-9_m2_s": None if math.isnan(d) else d * 1e9,
        "replicas": rows,
        "summary": summary,
    }, curves
