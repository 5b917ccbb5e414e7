"""Where a model file came from: its training run, the dataset and its SHA-256, and the
model's test-split force MAE (meV/Å), so a report can place any model file on the force-MAE
against stability plot without finding the training run again.

Files lmp-bench writes carry it in their own metadata (keys ``provenance_<name>``, strings,
see `export`); files written by other tools (nequip-compile, ``dp freeze``) get a sidecar
JSON next to them (``<file>.provenance.json``), since we do not rewrite their files.
"""

from __future__ import annotations

import json
from pathlib import Path

PREFIX = "provenance_"
SIDECAR_SUFFIX = ".provenance.json"
# what a provenance record holds (all optional), with units in the names
KEYS = (
    "train_run",  # training run folder (absolute path)
    "dataset",  # dataset file the model was trained and tested on (absolute path)
    "dataset_sha256",  # of that file when the record was made
    "test_force_mae_meV_per_A",  # test-split force MAE, meV/Å
    "test_energy_mae_meV",  # test-split energy MAE per frame, meV (absent: forces-only data)
    "test_frames",  # frames in the test split
)
# AOTInductor writes metadata values into generated C++ string literals: keep them plain
FORBIDDEN = ('"', "\\", "\n", "\r")


class ProvenanceError(ValueError):
    """A provenance record that cannot be stored; the message says which key and why."""


def provenance_metadata(provenance: dict) -> dict[str, str]:
    """`provenance` as metadata entries (``provenance_<key>``: str); None values dropped."""
    unknown = sorted(set(provenance) - set(KEYS))
    if unknown:
        raise ProvenanceError(f"unknown provenance key(s) {unknown}; known: {list(KEYS)}")
    entries = {}
    for key, value in provenance.items():
        if value is None:
            continue
        text = repr(value) if isinstance(value, float) else str(value)
        if any(c in text for c in FORBIDDEN):
            raise ProvenanceError(
                f"provenance {key}={text!r} holds a quote, backslash or line break, which a "
                "model file's metadata cannot store: rename the file or folder"
            )
        entries[PREFIX + key] = text
    return entries


def sidecar_path(model_file: str | Path) -> Path:
    return Path(str(model_file) + SIDECAR_SUFFIX)


def write_sidecar(model_file: str | Path, provenance: dict) -> Path:
    """`<model_file>.provenance.json` for a file another tool wrote (nequip, deepmd)."""
    entries = provenance_metadata(provenance)  # the same checks as for metadata
    path = sidecar_path(model_file)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(_parsed(entries), indent=2, sort_keys=True) + "\n")
    partial.replace(path)
    return path


def read_provenance(model_file: str | Path) -> dict | None:
    """The provenance of a model file: from its lmp-bench metadata, else from its sidecar
    JSON, else None. Numbers come back as numbers (force MAE in meV/Å)."""
    from lmp_bench.export import read_metadata

    path = Path(model_file)
    if not path.is_file():
        return None
    found: dict[str, str] = {}
    if path.suffix in (".pt2", ".pt") and not path.name.endswith(".nequip.pt2"):
        try:
            found = {k: v for k, v in read_metadata(path).items() if k.startswith(PREFIX)}
        except Exception:  # not an lmp-bench file (a foreign .pt/.pt2): try the sidecar
            found = {}
    if found:
        return _parsed(found)
    sidecar = sidecar_path(path)
    if sidecar.is_file():
        return json.loads(sidecar.read_text())
    return None


def _parsed(entries: dict[str, str]) -> dict:
    """Metadata entries back to a provenance record: prefix dropped, numbers as numbers."""
    record: dict = {}
    for key, text in entries.items():
        name = key.removeprefix(PREFIX)
        if name == "test_frames":
            record[name] = int(text)
        elif name.startswith("test_"):
            record[name] = float(text)
        else:
            record[name] = text
    return record
