"""Run a LAMMPS input on N MPI ranks and bring back energies, forces and virials.

Used by tests (plugin vs LAMMPS's own styles, 1 vs N ranks), by `lmp-bench doctor` and
by benchmarks. Each call runs in a fresh process (under mpiexec for N > 1), so a crash
in LAMMPS or a model cannot take the caller down with it.

Worker protocol: ``python -m lmp_bench.lammps.snapshot SPEC.json OUT.npz``. The spec
holds the input ``commands`` (a system with pair style set up) and ``segments``, a list of
step counts: the worker runs ``run 0`` and then each segment, recording after each. Several
inputs of the same atoms (other models, other `processors` layouts) can share one process:
each after a LAMMPS ``clear``, one record each.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lmp_bench.lammps.runtime import worker_launch

PROBES = """
compute lmpb_pe all pe
compute lmpb_press all pressure NULL virial
compute lmpb_pe_atom all pe/atom
thermo_style custom step pe ke etotal press
thermo_modify norm no
"""


class LammpsRunError(RuntimeError):
    """LAMMPS stopped with an error; the message carries LAMMPS's own words."""


@dataclass
class Snapshot:
    """Results ordered by atom ID; one row per recorded point (run 0, then each segment)."""

    energy: np.ndarray  # (S,) potential energy, eV
    total_energy: np.ndarray  # (S,) kinetic + potential, eV
    pressure_virial: np.ndarray  # (S, 6) virial part of pressure, bar (xx yy zz xy xz yz)
    forces: np.ndarray  # (S, N, 3) eV/A
    positions: np.ndarray  # (S, N, 3) A, unwrapped
    atom_energy: np.ndarray  # (S, N) eV
    atom_virial: np.ndarray  # (S, N, 6) bar*A^3 (compute stress/atom NULL virial)
    log: str
    terms: dict[str, np.ndarray]  # (S,) extra thermo keywords asked for (e.g. ebond)
    peak_rss_mib: np.ndarray  # (ranks,) each rank's peak resident memory, MiB


def run_snapshot(
    commands: str | list[str],
    ranks: int = 1,
    segments: list[int] | None = None,
    timeout: float = 600,
    energy_terms: tuple[str, ...] = (),
    atom_virial: bool = True,
) -> Snapshot:
    """Run `commands` (units, box, atoms, pair style) on `ranks` MPI ranks, in a scratch
    folder (files the commands write stay there). A list of inputs gives one record each
    (row k: input k, each after a `clear`; no segments). `energy_terms` are thermo keywords
    (ebond, eangle, ...) recorded too. `atom_virial=False` skips compute stress/atom
    (NaN instead), which some pair styles refuse (deepmd's asks for centroid/stress/atom)."""
    with tempfile.TemporaryDirectory(prefix="lmpb-snap-") as scratch:
        spec_path = Path(scratch) / "spec.json"
        out_path = Path(scratch) / "out.npz"
        log_path = Path(scratch) / "log.lammps"
        inputs = [commands] if isinstance(commands, str) else list(commands)
        if len(inputs) > 1 and segments:
            raise ValueError("run_snapshot: segments need a single input")
        spec = {
            "inputs": inputs,
            "segments": segments or [],
            "log": str(log_path),
            "terms": list(energy_terms),
            "atom_virial": atom_virial,
        }
        spec_path.write_text(json.dumps(spec))
        worker, env = worker_launch(
            "lmp_bench.lammps.snapshot", [str(spec_path), str(out_path)], ranks
        )
        result = subprocess.run(
            worker, capture_output=True, text=True, timeout=timeout, env=env, cwd=scratch
        )
        log = log_path.read_text() if log_path.exists() else ""
        if result.returncode != 0 or not out_path.exists():
            raise LammpsRunError(error_lines(log, result.stdout + result.stderr))
        data = np.load(out_path)
        terms = {key[5:]: data[key] for key in data.files if key.startswith("term_")}
        fields = {key: data[key] for key in data.files if not key.startswith("term_")}
        fields["peak_rss_mib"] = fields.pop("peak_rss_kib") / 1024.0
        return Snapshot(**fields, log=log, terms=terms)


def error_lines(log: str, output: str) -> str:
    """LAMMPS's ERROR lines (or the tail of the output) for an exception message; a C++
    exception's stack frames are left out, so that its message is what remains."""
    errors = [line for line in (log + "\n" + output).splitlines() if "ERROR" in line]
    lines = [
        line
        for line in output.splitlines()
        if not line.startswith(("frame #", "<omitting python frames>"))
    ]
    return "\n".join(dict.fromkeys(errors)) or "\n".join(lines[-20:])


def _record(lmp, rows: dict[str, list], terms: list[str], atom_virial: bool) -> None:
    nat = lmp.get_natoms()

    def per_atom(values, width: int) -> np.ndarray:
        # LAMMPS's gather functions already return atoms in atom-ID order
        return np.asarray(values, dtype=float).reshape(nat, width)

    rows["energy"].append(lmp.get_thermo("pe"))
    rows["total_energy"].append(lmp.get_thermo("etotal"))
    rows["pressure_virial"].append(np.array(lmp.extract_compute("lmpb_press", 0, 1)[:6]))
    rows["forces"].append(per_atom(lmp.gather_atoms("f", 1, 3), 3))
    rows["positions"].append(per_atom(lmp.gather("c_lmpb_unwrap", 1, 3), 3))
    rows["atom_energy"].append(per_atom(lmp.gather("c_lmpb_pe_atom", 1, 1), 1)[:, 0])
    rows["atom_virial"].append(
        per_atom(lmp.gather("c_lmpb_stress_atom", 1, 6), 6)
        if atom_virial
        else np.full((nat, 6), np.nan)
    )
    for term in terms:
        rows.setdefault(f"term_{term}", []).append(lmp.get_thermo(term))


def _peak_rss_kib() -> float:
    """This process's peak resident memory (KiB): Linux's VmHWM, which starts afresh at
    exec (ru_maxrss keeps the high-water mark of the process that forked us)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return float(line.split()[1])
    except OSError:
        pass
    return float(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _worker(spec_path: str, out_path: str) -> None:
    from mpi4py import MPI

    from lmp_bench.lammps.session import start_lammps

    spec = json.loads(Path(spec_path).read_text())
    comm = MPI.COMM_WORLD
    lmp = start_lammps(["-screen", "none", "-log", spec["log"], "-nocite"], comm=comm)
    stress = "compute lmpb_stress_atom all stress/atom NULL virial\n" * spec["atom_virial"]
    not_rows = ("log", "terms", "peak_rss_mib")
    rows: dict[str, list] = {
        key: [] for key in Snapshot.__dataclass_fields__ if key not in not_rows
    }
    for k, commands in enumerate(spec["inputs"]):
        if k:
            lmp.command("clear")
        lmp.commands_string(
            commands + PROBES + stress + "compute lmpb_unwrap all property/atom xu yu zu\n"
        )
        lmp.command("run 0")
        _record(lmp, rows, spec["terms"], spec["atom_virial"])
    for steps in spec["segments"]:
        lmp.command(f"run {steps} pre no post no")
        _record(lmp, rows, spec["terms"], spec["atom_virial"])
    peak_rss = comm.gather(_peak_rss_kib(), root=0)
    if comm.rank == 0:
        arrays = {key: np.asarray(value) for key, value in rows.items()}
        np.savez(out_path, **arrays, peak_rss_kib=np.asarray(peak_rss, dtype=float))
    lmp.close()


if __name__ == "__main__":
    _worker(sys.argv[1], sys.argv[2])
