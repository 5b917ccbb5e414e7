"""`lmp-bench run`: plan a benchmark run, then run its replicas in waves.

Planning sits above lmp_bench.lammps (as evaluate.py does): it resolves the model, picks
each replica's start (test frames, FES minima), writes the watchdog's references and the
manifest, and shares the MPI ranks out among the replicas. `run_waves` is the one place
that launches replicas, so how they are launched changes in one spot; `replica_command`
hands one replica to a scheduler of its own (lmp_bench.bench runs replicas of several
models side by side). Each run folder keeps its replicas' jobs (jobs.json), so a replica
that was killed or deleted can be run again alone.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lmp_bench.data.frames_file import read_frames
from lmp_bench.evaluate import dataset_reference, reference_observables
from lmp_bench.export.provenance import read_provenance
from lmp_bench.lammps.plugin_build import ensure_plugin
from lmp_bench.lammps.run import ReplicaJob, WatchdogSpec, run_replicas, sha256_of, write_job
from lmp_bench.lammps.runtime import lammps_version, mpi_job_world, worker_launch
from lmp_bench.model_choice import model_for_run
from lmp_bench.observables import BondStability
from lmp_bench.observables.rdf import save_rdf
from lmp_bench.systems import Model, StartFrame, System, system_for_deck


@dataclass(frozen=True)
class RunOptions:
    """What `lmp-bench run` was asked for; the fields are its options (see `--help`)."""

    deck: str
    model: str
    variant: str
    replicas: int
    length: float | None  # ps per replica; None: the system's default length
    steps: int | None  # instead of length
    molecules: int
    reference: str | None  # reference run folder: turns the RDF watchdog on
    start_from: str | None  # dataset: replicas start from its test frames
    ranks: int | None  # MPI ranks in all; None: 1, or the size of the MPI job we are in
    launcher: str | None  # the user's MPI launcher command ({ranks} = ranks); None: mpiexec
    seed: int
    ensemble: str  # nvt | nve
    device: str | None
    output: str


@dataclass
class RunPlan:
    """Everything decided before the first replica starts."""

    folder: Path
    manifest: dict
    jobs: list[ReplicaJob]
    ranks_each: int
    at_once: int
    launcher: str | None = None


def run_benchmark(options: RunOptions) -> Path:
    """Plan the run, run every replica, and return its result folder.

    Started as one rank of an MPI job (`srun -n 8 lmp-bench run ...`), rank 0 plans and
    every rank runs its share of the replicas in this process."""
    world = mpi_job_world()
    if world is None:
        plan = plan_run(replace(options, ranks=options.ranks or 1))
        run_waves(plan)
        return plan.folder
    if options.launcher:
        raise ValueError(
            "lmp-bench run was started as an MPI job and given --launcher: use one or the other"
        )
    if options.ranks not in (None, world.size):
        raise ValueError(
            f"this MPI job has {world.size} ranks but --ranks says {options.ranks}: leave "
            "--ranks out inside an MPI job"
        )
    plan = plan_run(replace(options, ranks=world.size)) if world.rank == 0 else None
    ensure_plugin()  # built by rank 0 during planning; loaded by all
    plan = world.bcast(plan)
    run_waves(plan, world)
    return plan.folder


def plan_run(options: RunOptions) -> RunPlan:
    """Make the result folder with each replica's inputs, the watchdog's references and the
    manifest; the replicas are ready to run but not started."""
    deck = Path(options.deck)
    system = system_for_deck(deck)
    ensure_plugin(verbose=True)
    model = model_for_run(
        options.model, store_system(system, options.start_from), options.variant, options.device
    )
    steps = options.steps or round(
        (options.length or system.default_length_ps) / system.timestep_ps
    )
    stamp = time.strftime("%Y%m%d-%H%M%S")
    ensemble = "" if options.ensemble == "nvt" else f"-{options.ensemble}"
    folder = (Path(options.output) / f"{system.name}-{model.label}{ensemble}-{stamp}").resolve()
    folder.mkdir(parents=True)
    if options.ensemble == "nve" and not options.start_from:
        print(
            "lmp-bench: an NVE run from a built box converts its start-up strain into heat in "
            "the first 0.1 ps; start it from dataset frames (--start-from) for a drift that "
            "measures the model"
        )
    starts = (
        test_frame_starts(options.start_from, options.replicas, options.seed)
        if options.start_from
        else {}
    )
    variables = replica_variables(folder, system, model, options, starts)
    watchdog = watchdog_for(options, system, folder)
    manifest = run_manifest(options, system, model, steps, variables[0], starts)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    ranks_each, at_once = replica_layout(options.replicas, options.ranks)
    manifest.update(ranks_per_replica=ranks_each, replicas_at_once=at_once)
    print(
        f"lmp-bench: {system.name} with {model.label}, {options.replicas} replica(s) of "
        f"{steps} steps ({steps * system.timestep_ps:g} ps), {at_once} at a time on "
        f"{ranks_each} rank(s) each -> {folder}"
    )
    jobs = [
        ReplicaJob(
            str(deck),
            {**variables[k], "seed": str(seed), "ensemble": options.ensemble},
            steps,
            system.dump_every,
            system.timestep_ps,
            watchdog,
            f"replica {k + 1}/{options.replicas}",
        )
        for k, seed in enumerate(manifest["seeds"])
    ]
    save_jobs(folder, jobs)
    return RunPlan(folder, manifest, jobs, ranks_each, at_once, options.launcher)


JOBS_FILE = "jobs.json"


def save_jobs(folder: Path, jobs: list[ReplicaJob]) -> None:
    """Every replica's job (deck, variables, steps, watchdog) in the run folder, written
    last when planning: a folder with jobs.json is planned completely."""
    payload = [{**job.__dict__, "watchdog": job.watchdog and job.watchdog.__dict__} for job in jobs]
    partial = folder / (JOBS_FILE + ".partial")
    partial.write_text(json.dumps(payload, indent=2))
    partial.replace(folder / JOBS_FILE)


def load_jobs(folder: Path) -> list[ReplicaJob]:
    """The replica jobs a run folder was planned with (save_jobs)."""
    payload = json.loads((folder / JOBS_FILE).read_text())
    return [
        ReplicaJob(**{**job, "watchdog": job["watchdog"] and WatchdogSpec(**job["watchdog"])})
        for job in payload
    ]


def replica_command(folder: Path, k: int) -> tuple[list[str], dict[str, str], Path]:
    """(command, environment, replica folder) that run replica `k` of a planned run folder
    on one rank, for a scheduler that starts it; its folder is made fresh (an unfinished
    one is removed first). `record_statuses` then puts its status into the manifest."""
    import shutil

    job = load_jobs(folder)[k]
    replica = folder / f"replica-{k}"
    if replica.exists():
        shutil.rmtree(replica)
    path = write_job(job, replica)
    command, env = worker_launch("lmp_bench.lammps.run", ["--ranks", "1", str(path)], 1)
    return command, env, replica


def finished_replicas(folder: Path) -> list[int]:
    """Replicas of a run folder that ended (completed, unstable or failed: status.json)."""
    count = len(load_jobs(folder))
    return [k for k in range(count) if (folder / f"replica-{k}" / "status.json").is_file()]


def record_statuses(folder: Path) -> dict:
    """The manifest with every finished replica's status.json (rebuilt from the replica
    folders, so it is right however the replicas were run or rerun); written and returned."""
    text = (folder / "manifest.json").read_text()
    manifest = json.loads(text)
    manifest["replicas"] = [
        {
            "replica": f"replica-{k}",
            "seed": manifest["seeds"][k],
            **json.loads((folder / f"replica-{k}" / "status.json").read_text()),
        }
        for k in finished_replicas(folder)
    ]
    if json.dumps(manifest, indent=2) == text:  # nothing new: the file stays as it was
        return manifest
    partial = folder / "manifest.json.partial"
    partial.write_text(json.dumps(manifest, indent=2))
    partial.replace(folder / "manifest.json")
    return manifest


def run_waves(plan: RunPlan, world: Any = None) -> None:
    """Run the replicas `at_once` at a time, each on `ranks_each` ranks, recording every
    replica's status in the manifest as its wave ends. `world`: the MPI job this process
    is one rank of (all ranks call this; rank 0 keeps the books)."""
    manifest, folder, jobs = plan.manifest, plan.folder, plan.jobs
    for first in range(0, len(jobs), plan.at_once):
        wave = range(first, min(first + plan.at_once, len(jobs)))
        statuses = run_replicas(
            [(jobs[k], folder / f"replica-{k}") for k in wave],
            plan.ranks_each,
            plan.launcher,
            world,
        )
        if world is not None and world.rank:
            continue
        for k, status in zip(wave, statuses, strict=True):
            seed = manifest["seeds"][k]
            manifest["replicas"].append(
                {"replica": f"replica-{k}", "seed": seed, **status.__dict__}
            )
            print(
                f"lmp-bench: replica {k + 1}: {status.state} after {status.time_ps:g} ps, "
                f"{status.steps_per_second:.1f} steps/s ({manifest['device']}, "
                f"{plan.ranks_each} rank(s))" + (f": {status.reason}" if status.reason else "")
            )
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    if world is None or world.rank == 0:
        print(f"lmp-bench: results in {folder}")


def store_system(system: System, start_from: str | None) -> str:
    """Which models fit this run: the deck's system, or for molecules the dataset's
    (md17-ethanol: a model trained on one molecule runs that molecule only)."""
    if not (system.molecule and start_from):
        return system.name
    return read_frames(start_from).attributes.get("system", system.name)


def test_frame_starts(dataset: str, replicas: int, seed: int) -> dict[int, tuple[int, StartFrame]]:
    """{replica: (frame index, StartFrame)}: distinct random frames of the test split, or,
    for an alanine dataset holding a reference FES, the test frames nearest to its lowest
    minima (design.md: one replica from each FES minimum)."""
    frames = read_frames(dataset)
    test = frames.splits.get("test", np.arange(len(frames)))
    if len(test) < replicas:
        raise ValueError(f"{dataset} has {len(test)} test frames for {replicas} replicas")
    chosen = np.random.default_rng(seed).choice(test, replicas, replace=False)
    if frames.attributes.get("system") == "alanine":
        from lmp_bench.data.alanine_fes import fes_minima, frames_at_minima, read_reference_fes

        reference = read_reference_fes(dataset)
        if reference is None:
            print(
                f"lmp-bench: {dataset} has no reference FES, so replicas start from random "
                "test frames; add one with `lmp-bench data make alanine-fes -o "
                f"{dataset}` to start one replica at each FES minimum"
            )
        else:
            minima = fes_minima(reference, replicas)
            nearest = frames_at_minima(frames.unwrapped_positions, frames.species, test, minima)
            chosen = np.resize(nearest, replicas)  # more replicas than minima: cycle them
    return {
        k: (int(i), StartFrame(frames.unwrapped_positions[i], frames.species, frames.cell[i]))
        for k, i in enumerate(chosen)
    }


def replica_variables(
    folder: Path,
    system: System,
    model: Model,
    options: RunOptions,
    starts: dict[int, tuple[int, StartFrame]],
) -> list[dict[str, str]]:
    """The deck variables of each replica: one start structure per replica (distinct test
    frames of a dataset), or every replica from the same built box."""
    if not starts:  # each replica gets its own velocity seed later
        return [system.prepare(folder, model, options.molecules, options.seed)] * options.replicas
    variables = []
    for k, (_, start) in sorted(starts.items()):
        (folder / f"start-{k}").mkdir()
        variables.append(
            system.prepare(folder / f"start-{k}", model, options.molecules, options.seed, start)
        )
    return variables


def watchdog_for(options: RunOptions, system: System, folder: Path) -> WatchdogSpec | None:
    """The stability watchdog and its reference written into `folder`: the reference run's
    RDF (periodic systems), the dataset's bonds (molecules), or None (says what is lost)."""
    if options.reference and system.rdf_pairs:
        save_rdf(reference_observables(Path(options.reference))[1], folder / "reference_rdf.npz")
        window = round(system.window_ps / (system.timestep_ps * system.dump_every))
        return WatchdogSpec(
            str(folder / "reference_rdf.npz"),
            list(system.type_species),
            system.rdf_threshold,
            window,
        )
    if system.rdf_pairs:
        print(
            "lmp-bench: no --reference run given: the watchdog only stops on LAMMPS errors "
            "(NaN forces, lost atoms), not on a melted or frozen structure"
        )
    elif system.molecule and options.start_from:  # bonds and their lengths from the dataset
        return bond_watchdog(Path(options.start_from), folder / "reference_bonds.npz")
    return None


def bond_watchdog(dataset: Path, out: Path) -> WatchdogSpec:
    """The molecule watchdog's reference: bonds on the dataset's first frame and their mean
    lengths over the dataset (evaluate's BondStability), saved for the replica workers."""
    reference = BondStability(dataset_reference(dataset))
    np.savez(out, bonds=reference.bonds, lengths=reference.reference_lengths)
    return WatchdogSpec(str(out), [], reference.tolerance, 1, kind="bonds")


def replica_layout(replicas: int, ranks: int) -> tuple[int, int]:
    """(ranks per replica, replicas run at once) for `ranks` MPI ranks in all: each replica
    gets ranks // replicas (at least 1), and as many run at once as the ranks allow."""
    ranks_each = max(1, ranks // replicas)
    return ranks_each, max(1, min(replicas, ranks // ranks_each))


def run_manifest(
    options: RunOptions,
    system: System,
    model: Model,
    steps: int,
    first_variables: dict[str, str],
    starts: dict[int, tuple[int, StartFrame]],
) -> dict:
    """manifest.json before any replica ran: what ran, from where, with which versions;
    `replicas` fills in as they finish."""
    return {
        "system": system.name,
        "deck": str(Path(options.deck)),
        "model": model.label,
        "model_file": str(model.file) if model.file else None,
        "model_sha256": sha256_of(model.file) if model.file else None,
        # training run, dataset + SHA-256, test force MAE (meV/A): what the report plots
        "model_provenance": read_provenance(model.file) if model.file else None,
        "variant": model.variant if model.file is None else None,
        "molecules": options.molecules,
        "type_species": first_variables.get("type_species", " ".join(system.type_species)),
        "steps": steps,
        "length_ps": steps * system.timestep_ps,
        "timestep_ps": system.timestep_ps,
        "ranks": options.ranks,
        "launcher": options.launcher,
        "ensemble": options.ensemble,
        "device": model.device or options.device or "cpu",
        "reference": options.reference,
        "seeds": [options.seed + k for k in range(options.replicas)],
        "start_from": options.start_from,
        "start_frames": {str(k): index for k, (index, _) in starts.items()} or None,
        "versions": {
            "lammps": lammps_version(),
            "torch": torch.__version__,
            "python": platform.python_version(),
        },
        "host": platform.node(),
        "replicas": [],
    }
