"""From a checkpoint to the file pair_style mlff loads, and `--model <zoo name>` lookup."""

from __future__ import annotations

from pathlib import Path

from lmp_bench.models.zoo import canonical_name
from lmp_bench.train.checkpoint import load_checkpoint, model_from_checkpoint
from lmp_bench.train.records import TEST_RECORD, run_provenance
from lmp_bench.train.store import best_run, store_root


def export_checkpoint(
    checkpoint: str | Path, output: str | Path | None = None, device: str = "cpu"
) -> Path:
    """Export a checkpoint (file or run folder: its best.pt) in its training dtype; the
    file carries its provenance (run folder, dataset and SHA-256, test-split force MAE).
    A nequip run folder or .ckpt becomes a contract-3 file of nequip's own modules."""
    from lmp_bench.export import export
    from lmp_bench.frameworks import nequip

    if nequip.owns(Path(checkpoint)) and not str(checkpoint).endswith((".pt2", ".pth")):
        return nequip.export_pieces(Path(checkpoint), Path(output) if output else None, device)
    state = load_checkpoint(checkpoint)
    source = Path(state["path"])
    path = Path(output) if output else source.with_name(f"{source.stem}-{device}.pt2")
    provenance = run_provenance(source.parent)
    if "test_force_mae_meV_per_A" not in provenance:
        print(
            f"lmp-bench: {source.parent} has no {TEST_RECORD}, so {path.name} carries no "
            f"test-split force MAE: run `lmp-bench test {source.parent} --data <dataset>` "
            "before exporting",
            flush=True,
        )
    print(f"lmp-bench: exporting {source} -> {path} (about a minute)", flush=True)
    model = model_from_checkpoint(state)
    return export(model, path, dtype=state["config"]["dtype"], device=device, provenance=provenance)


def trained_model_file(name: str, system: str, device: str = "cpu") -> Path:
    """The exported best checkpoint of zoo model `name` for `system` in the model store,
    exported on first use (again when the checkpoint is newer than the file)."""
    model = canonical_name(name)
    run = best_run(system, model)
    if run is None:
        raise LookupError(
            f"no trained {model} for {system} in the model store {store_root()}: train one "
            f"with `lmp-bench train --model {model} --data <{system} dataset .h5>` "
            "(or give a model file)"
        )
    checkpoint = run / "best.pt"
    path = run / f"best-{device}.pt2"
    if not path.exists() or path.stat().st_mtime < checkpoint.stat().st_mtime:
        export_checkpoint(checkpoint, path, device)
    return path
