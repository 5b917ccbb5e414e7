"""Download the published data sets of "Forces are not Enough" (Fu et al. 2023, kyonofx/MDsim).

Stdlib only (urllib), so a bare install can fetch them. The files are large and their hosts
slow, so a broken download is kept as `<file>.part` and resumed with an HTTP Range request on
the next call. A file is checked against its sha256 where a published value exists; where none
does, the computed value is written next to it as `<file>.sha256` so that later copies can be
compared by hand.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

_CHUNK = 1 << 20  # bytes per read and per progress line update
_USER_AGENT = "lmp-bench (python urllib)"


@dataclass(frozen=True)
class PublishedFile:
    """One file as its authors published it."""

    url: str
    filename: str
    sha256: str | None  # None: no published sha256 (Zenodo and Materials Cloud list md5 only)
    units: str
    what: str


# sGDML's original MD17 (Chmiela et al. 2017), as used by MDsim's preprocessing/md17.py. MDsim
# names the files `<molecule>_dft.npz`; quantum-machine.org renamed them `md17_<molecule>.npz`
# by Jan 2023 (torch_geometric's datasets/md17.py and schnetpack PR #482/#483 use the new names).
_SGDML = "http://www.quantum-machine.org/gdml/data/npz/"
_MD17_UNITS = "R in A; E in kcal/mol; F in kcal/mol/A (MDsim divides E and F by 23.06052 for eV)"
# The paper's own data record (Zenodo 7196767), URLs as in MDsim's preprocessing/*.py.
_ZENODO = "https://zenodo.org/record/7196767/files/"

# No sha256 below is published anywhere we could find, so every entry carries None and fetch()
# writes the computed value to <file>.sha256 instead of checking it.
DATASETS: dict[str, PublishedFile] = {
    "md17-aspirin": PublishedFile(
        _SGDML + "md17_aspirin.npz",
        "md17_aspirin.npz",
        None,
        _MD17_UNITS,
        "original MD17 aspirin, DFT (PBE+vdW-TS) AIMD at 500 K; keys z, R, E, F",
    ),
    "md17-ethanol": PublishedFile(
        _SGDML + "md17_ethanol.npz",
        "md17_ethanol.npz",
        None,
        _MD17_UNITS,
        "original MD17 ethanol, DFT (PBE+vdW-TS) AIMD at 500 K; keys z, R, E, F",
    ),
    "md17-naphthalene": PublishedFile(
        _SGDML + "md17_naphthalene.npz",
        "md17_naphthalene.npz",
        None,
        _MD17_UNITS,
        "original MD17 naphthalene, DFT (PBE+vdW-TS) AIMD at 500 K; keys z, R, E, F",
    ),
    "md17-salicylic": PublishedFile(
        _SGDML + "md17_salicylic.npz",
        "md17_salicylic.npz",
        None,
        _MD17_UNITS,
        "original MD17 salicylic acid, DFT (PBE+vdW-TS) AIMD at 500 K; keys z, R, E, F",
    ),
    # NequIP paper's record (Materials Cloud 2022.45, record_id 1302), URL from MDsim's
    # preprocessing/lips.py.
    "lips": PublishedFile(
        "https://archive.materialscloud.org/record/file?filename=lips.xyz&record_id=1302",
        "lips.xyz",
        None,
        "extended XYZ: positions and cell in A, energy in eV, forces in eV/A",
        "LiPS (lithium phosphorus sulfide) AIMD frames, periodic; MDsim's lips-20k source",
    ),
    "alanine": PublishedFile(
        _ZENODO + "alanine_dipeptide.npy?download=1",
        "alanine_dipeptide.npy",
        None,
        "pickled dict (np.load allow_pickle=True): pos in A, force in kcal/mol/A, no energy",
        "alanine dipeptide MD (AMBER-03 force field), 50,001 frames; keys atomic_number, pos, "
        "force, lengths, angles",
    ),
    "water": PublishedFile(
        _ZENODO + "water.npy?download=1",
        "water.npy",
        None,
        "pickled dict (np.load allow_pickle=True): coords in A, energy kcal/mol, forces kcal/mol/A",
        "flexible SPC/Fw water (the paper's water-64), 100,001 frames; keys wrapped_coords, "
        "unwrapped_coords, forces, velocities, energy, lengths, angles, atom_types, ...",
    ),
}


class FetchError(RuntimeError):
    """A data set could not be fetched; the message says what to do about it."""


def fetch(name: str, folder: Path, *, timeout: float = 30.0, progress: bool = True) -> Path:
    """Download data set `name` into `folder` and return the file's path.

    A file already there returns at once (after its checksum, when one is known). A broken
    download resumes from `<file>.part`. Without a published sha256 the computed value is
    written to `<file>.sha256` and the file is returned unverified (DATASETS[name].sha256 is
    None).
    """
    entry = DATASETS.get(name)
    if entry is None:
        raise FetchError(f"unknown data set {name!r}; known: {', '.join(sorted(DATASETS))}")
    folder = Path(folder)
    target = folder / entry.filename
    if target.is_file():
        if entry.sha256 is not None:
            _verify(target, entry, file_sha256(target))
        elif not _sidecar(target).is_file():
            _write_sidecar(target, file_sha256(target))
        return target
    folder.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    _download(name, entry.url, part, target, timeout=timeout, progress=progress)
    digest = file_sha256(part)
    if entry.sha256 is not None:
        _verify(part, entry, digest)
    else:
        _write_sidecar(target, digest)
    os.replace(part, target)
    return target


def file_sha256(path: Path) -> str:
    """The sha256 of a file, read in chunks (the data sets are hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _sidecar(target: Path) -> Path:
    return target.with_name(target.name + ".sha256")


def _write_sidecar(target: Path, digest: str) -> None:
    """`sha256sum` format, so `sha256sum -c <file>.sha256` checks a copy."""
    _sidecar(target).write_text(f"{digest}  {target.name}\n")


def _verify(path: Path, entry: PublishedFile, actual: str) -> None:
    """Keep a mismatching file as `.bad` (never delete it) and say how to recover."""
    if actual == entry.sha256:
        return
    bad = path.parent / (entry.filename + ".bad")
    for n in range(1, 1000):  # an earlier .bad is evidence too: do not overwrite it
        if not bad.exists():
            break
        bad = path.parent / f"{entry.filename}.bad{n}"
    os.replace(path, bad)
    raise FetchError(
        f"checksum mismatch for {entry.url}: expected sha256 {entry.sha256}, got {actual}. "
        f"The file was moved to {bad}. Delete it and run the command again to download "
        "afresh; if it fails again the published file has changed: compare it with the "
        "record by hand."
    )


def _offline(url: str, target: Path, part: Path, reason: object) -> FetchError:
    kept = ""
    if part.is_file() and part.stat().st_size:
        kept = f" The partial download is kept in {part}; running the command again resumes it."
    return FetchError(
        f"could not reach {url} ({reason}): this machine seems offline or the host is down. "
        f"Download the file by hand into {target} (for example: curl -L -o '{target}' '{url}') "
        f"and run the command again.{kept}"
    )


def _download(
    name: str, url: str, part: Path, target: Path, *, timeout: float, progress: bool
) -> None:
    """Fill `part` with the whole body of `url`, resuming it if it already has bytes."""
    have = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have and _range_total(err.headers) == have:
            return  # the .part is already whole (an earlier run stopped before renaming it)
        raise FetchError(
            f"{url} answered HTTP {err.code} {err.reason}"
            + (f" to a resume from byte {have}; delete {part} and run again" if have else "")
        ) from err
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        raise _offline(url, target, part, getattr(err, "reason", err)) from err
    with response:
        resumed = have > 0 and response.status == 206
        if resumed and _range_start(response.headers) != have:
            raise FetchError(
                f"{url} answered a resume from byte {have} with the wrong range "
                f"({response.headers.get('Content-Range')}); delete {part} and run again"
            )
        start = have if resumed else 0  # a 200 to a Range request is the whole file again
        length = response.headers.get("Content-Length")
        expected = start + int(length) if length is not None else None
        done = start
        with open(part, "ab" if resumed else "wb") as out:
            while True:
                try:
                    chunk = response.read(_CHUNK)
                except http.client.IncompleteRead as err:
                    chunk = err.partial
                    out.write(chunk)
                    done += len(chunk)
                    break
                except (OSError, http.client.HTTPException) as err:
                    raise _offline(url, target, part, err) from err
                if not chunk:
                    break
                out.write(chunk)
                done += len(chunk)
                if progress:
                    _show(name, done, expected)
    if progress:
        print(file=sys.stderr)
    if expected is not None and done < expected:
        raise FetchError(
            f"download of {url} stopped early: {part} is truncated ({done} of {expected} "
            "bytes). Run the command again to resume it."
        )


def _range_start(headers: Message) -> int | None:
    """Start byte of `Content-Range: bytes START-END/TOTAL`."""
    value = headers.get("Content-Range", "")
    try:
        return int(value.split()[1].split("-")[0])
    except (IndexError, ValueError):
        return None


def _range_total(headers: Message) -> int | None:
    """TOTAL of `Content-Range: bytes */TOTAL` (a 416 answer)."""
    value = headers.get("Content-Range", "")
    try:
        return int(value.rsplit("/", 1)[1])
    except (IndexError, ValueError):
        return None


def _show(name: str, done: int, expected: int | None) -> None:
    total = f" / {expected / 1e6:.1f}" if expected else ""
    print(f"\r{name}: {done / 1e6:.1f}{total} MB", end="", file=sys.stderr, flush=True)
