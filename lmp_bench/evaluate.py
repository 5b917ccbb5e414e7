"""Score runs against a reference: stability, structure, diffusivity, speed.

Every run is turned into replicas (frames + what its runner recorded) that one scoring
path judges (`scoring`): an lmp-bench run folder (`run_folders`), or a trajectory made
elsewhere (`foreign`: files ASE reads, DCD/XTC through MDAnalysis, MDsim run folders).
Periodic systems (water, lips) are scored against a reference run folder: RDF stability,
RDF error, diffusivity. Molecules (md17, alanine) against their dataset file: bond-length
stability and h(r) error; alanine also by the error of its metadynamics FES against the
reference FES stored in the dataset (`lmp-bench data make alanine-fes`). Results go into
the run folder (metrics.json, curves.npz); a scored foreign trajectory gets a folder of its
own (manifest.json saying where it came from), so `report` shows it next to lmp-bench runs.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from lmp_bench.foreign import ForeignOptions, benchmark_system, foreign_replicas, is_foreign
from lmp_bench.observables import RDF, Diffusivity, Frames
from lmp_bench.observables.distances import DistanceHistogram
from lmp_bench.run_folders import (
    RunFolderError,
    find_run_folders,
    read_manifest,
    replica_folders,
    replica_frames,
    run_folder_replicas,
)
from lmp_bench.scoring import MoleculeReference, PeriodicReference, Replica, score
from lmp_bench.systems import SYSTEMS, System


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


def read_dataset(path: Path) -> tuple[Frames, str | None]:
    """Every frame of a molecule dataset file as frames (the reference of h(r) and bonds),
    and the system the dataset names (md17-ethanol, alanine; None if it names none)."""
    from lmp_bench.data.frames_file import read_frames

    data = read_frames(path)
    if np.abs(data.cell).sum() > 0:
        raise RunFolderError(
            f"{path} is a periodic dataset; a molecule run is scored against its molecule dataset"
        )
    frames = Frames(data.unwrapped_positions, np.asarray(data.species), np.zeros((3, 3)), data.time)
    return frames, data.attributes.get("system")


def dataset_reference(path: Path) -> Frames:
    """Every frame of a molecule dataset file, as frames (the reference of h(r) and bonds)."""
    return read_dataset(path)[0]


def molecule_reference(path: Path, system: System) -> MoleculeReference:
    """The dataset's frames and h(r), and for alanine the reference FES it stores."""
    frames, named = read_dataset(path)
    histogram = DistanceHistogram().compute(frames)
    fes = None
    if system.name == "alanine":
        from lmp_bench.data.alanine_fes import read_reference_fes

        fes = read_reference_fes(path)
        if fes is None:
            print(
                f"lmp-bench: {path} holds no reference FES, so no FES MAE; add one with "
                f"`lmp-bench data make alanine-fes -o {path}`"
            )
    return MoleculeReference(frames, histogram.h, histogram.bin_centers, fes, named)


def load_reference(path: Path, system: System, what: str) -> PeriodicReference | MoleculeReference:
    """What a run of `system` is compared with: a reference run folder (periodic systems)
    or the molecule's dataset file. `what` names the run in errors."""
    if system.molecule:
        if not path.is_file():
            raise RunFolderError(
                f"a {system.name} run is scored against its dataset file (.h5), not {path}"
            )
        return molecule_reference(path, system)
    if path.is_file():
        raise RunFolderError(
            f"{what}: {system.name} runs are scored against a reference run folder (made by "
            f"`lmp-bench run inputs/{system.name}.in --model reference`), not the file {path}"
        )
    reference_system, rdf, diffusivity = reference_observables(path)
    if reference_system.name != system.name:
        raise RunFolderError(
            f"{what} but {path} is {reference_system.name}: compare runs of the same system"
        )
    return PeriodicReference(rdf, diffusivity)


def run_time_base(manifest: dict, system: System) -> str:
    """How a run's times were made, in words with units (tables state their time base)."""
    if manifest.get("foreign"):
        return manifest.get("time_base", "unknown")
    step = manifest.get("timestep_ps", system.timestep_ps)
    return (
        f"LAMMPS step x {step:g} ps (the deck's timestep); a frame every "
        f"{step * system.dump_every:g} ps"
    )


def run_metrics(
    folder: Path, manifest: dict, system: System, reference: Path, scores: dict
) -> dict:
    """metrics.json's content: which run, against what, on which time base, and scores."""
    return {
        "run": str(folder),
        "reference": str(reference),
        "system": system.name,
        "model": manifest.get("model"),
        "device": manifest.get("device"),
        "time_base": run_time_base(manifest, system),
        **scores,
    }


def foreign_run(
    paths: list[Path], options: ForeignOptions, reference: Path
) -> tuple[System, list[Replica], list[dict], PeriodicReference | MoleculeReference]:
    """Trajectories made elsewhere as the replicas of one run of `options.system`, and the
    reference they are scored against (checked to be of the same system)."""
    system = benchmark_system(options.system)
    what = f"--system {options.system}"
    if not system.molecule:  # the files first: their checks cost less than a reference g(r)
        replicas, described = foreign_replicas(paths, options, system)
        return system, replicas, described, load_reference(reference, system, what)
    expected = load_reference(reference, system, what)  # the dataset names the atoms
    assert isinstance(expected, MoleculeReference)
    if expected.dataset_system and expected.dataset_system != options.system:
        raise RunFolderError(
            f"wrong system: --system {options.system} but the reference dataset "
            f"{reference} is {expected.dataset_system}: score a trajectory against the "
            "dataset of its own molecule"
        )
    replicas, described = foreign_replicas(paths, options, system, expected.frames.species)
    return system, replicas, described, expected


def evaluate(folder: Path, reference: Path) -> dict:
    """Metrics of every replica of a run folder and their mean/std; written to its
    metrics.json. A scored foreign run's folder is scored again from its source files."""
    folder, reference = Path(folder), Path(reference)
    manifest = read_manifest(folder)
    if manifest.get("foreign"):
        options = ForeignOptions(**manifest["options"])
        sources = [Path(r["source"]) for r in manifest["replicas"]]
        system, replicas, _, expected = foreign_run(sources, options, reference)
    else:
        system = SYSTEMS[manifest["system"]]
        expected = load_reference(reference, system, f"{folder} is a {system.name} run")
        replicas = run_folder_replicas(folder, manifest, system)
    scores, curves = score(replicas, system, expected)
    metrics = run_metrics(folder, manifest, system, reference, scores)
    write_results(folder, metrics, curves)
    return metrics


def new_folder(output: Path, name: str) -> Path:
    """output/<name>-<YYYYmmdd-HHMMSS> (a suffix if that exists), not yet created."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    folder, count = output / f"{name}-{stamp}", 1
    while folder.exists():
        count += 1
        folder = output / f"{name}-{stamp}-{count}"
    return folder.resolve()


def evaluate_foreign(
    paths: list[Path], options: ForeignOptions, reference: Path, output: Path = Path("results")
) -> dict:
    """Score trajectories made elsewhere (the replicas of one run) and write them as a
    folder under `output`: manifest.json (foreign, sources, system, time base),
    metrics.json and curves.npz. Nothing is written when reading or scoring fails."""
    reference = Path(reference)
    system, replicas, described, expected = foreign_run(paths, options, reference)
    first = paths[0].resolve()
    label = options.label or (first.name if first.is_dir() else first.stem)
    intervals = {d["frame_interval_ps"] for d in described}
    manifest = {
        "foreign": True,
        "system": system.name,
        "benchmark_system": options.system,
        "model": label,
        "sources": [d["source"] for d in described],
        "reference": str(reference.resolve()),
        "device": None,
        "units": "positions Å, times ps",
        "frame_interval_ps": intervals.pop() if len(intervals) == 1 else None,
        "time_base": "; ".join(sorted({d["time_base"] for d in described})),
        "options": {
            key: str(Path(value).resolve()) if key in ("topology", "hills") and value else value
            for key, value in options.as_dict().items()
        },
        "replicas": described,
    }
    folder = new_folder(Path(output), f"{system.name}-foreign-{label}")
    scores, curves = score(replicas, system, expected)
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    metrics = run_metrics(folder, manifest, system, reference, scores)
    write_results(folder, metrics, curves)
    return metrics


def evaluate_paths(
    paths: list[Path],
    reference: Path,
    options: ForeignOptions | None = None,
    output: Path = Path("results"),
) -> list[dict]:
    """What `lmp-bench evaluate` scores: trajectories made elsewhere (files, MDsim
    folders) as the replicas of one new run; or every lmp-bench run folder among `paths`
    and at any depth under them."""
    options = options or ForeignOptions()
    paths = [Path(p) for p in paths]
    for path in paths:
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist")
    outside = [p for p in paths if is_foreign(p)]
    if outside:
        if len(outside) != len(paths):
            raise ValueError(
                "give either trajectories made elsewhere (files, MDsim folders) or lmp-bench "
                "run folders, not both in one evaluate"
            )
        if options.system is None:
            raise ValueError(
                f"{outside[0]} is not an lmp-bench run folder: a trajectory made elsewhere "
                "needs --system (water, lips, alanine or md17-<molecule>) and, where the file "
                "has no times, --timestep (ps between saved frames)"
            )
        return [evaluate_foreign(paths, options, reference, output)]
    runs = find_run_folders(paths)
    if not runs:
        raise RunFolderError(
            f"no lmp-bench run folders in {', '.join(map(str, paths))}: give run folders "
            "(each with a manifest.json, made by `lmp-bench run`), folders that hold them, "
            "or a trajectory made elsewhere with --system"
        )
    if options.system is not None:
        wanted = benchmark_system(options.system).name
        for run in runs:
            found = read_manifest(run).get("system")
            if found != wanted:
                raise RunFolderError(f"wrong system: {run} is a {found} run, not {wanted}")
    return [evaluate(run, reference) for run in runs]


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
        return [
            ("stability (ps)", "stability_ps"),
            ("h(r) MAE (dimensionless)", "h_mae"),
            *fes,
            *drift,
            *speed,
        ]
    return (
        [("stability (ps)", "stability_ps")]
        + [(f"RDF MAE {p} (Å)", f"rdf_mae {p}") for p in first["rdf_mae"]]
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
