"""A model file names where it came from (training run, dataset and its SHA-256, test-split
force MAE in meV/Å): in its own metadata when lmp-bench writes it, in a sidecar JSON for
nequip's and deepmd's files; the report places it on the force-vs-stability plot."""

from __future__ import annotations

import hashlib
import json

import pytest
from systems import BondSprings

from lmp_bench.export import export, read_metadata
from lmp_bench.export.provenance import (
    ProvenanceError,
    read_provenance,
    sidecar_path,
    write_sidecar,
)
from lmp_bench.report import force_mae_of_model
from lmp_bench.train.records import run_provenance

RECORD = {
    "train_run": "/runs/schnet run",
    "dataset": "/data/ethanol.h5",
    "dataset_sha256": "0123456789abcdef" * 4,
    "test_force_mae_meV_per_A": 41.123456789012345,
    "test_energy_mae_meV": 12.5,
    "test_frames": 10000,
}


def test_a_torchscript_file_carries_its_provenance(tmp_path):
    path = export(BondSprings(), tmp_path / "springs.pt", provenance=RECORD)
    assert read_provenance(path) == RECORD  # numbers back as numbers, to the last digit
    metadata = read_metadata(path)
    assert metadata["provenance_test_force_mae_meV_per_A"] == repr(41.123456789012345)
    assert metadata["species"] == "C H O"  # the model's own keys are still there
    assert read_provenance(export(BondSprings(), tmp_path / "bare.pt")) is None


def test_provenance_that_a_file_cannot_store_is_refused(tmp_path):
    with pytest.raises(ProvenanceError, match="dataset.*quote"):
        export(BondSprings(), tmp_path / "x.pt", provenance={"dataset": 'a"b.h5'})
    with pytest.raises(ProvenanceError, match="unknown provenance key.*'owner'"):
        export(BondSprings(), tmp_path / "x.pt", provenance={"owner": "me"})
    assert not (tmp_path / "x.pt").exists()


def test_a_sidecar_covers_files_other_tools_wrote(tmp_path):
    frozen = tmp_path / "frozen_model.pth"
    frozen.write_bytes(b"written by dp freeze")
    assert read_provenance(frozen) is None
    write_sidecar(frozen, RECORD)
    assert sidecar_path(frozen).name == "frozen_model.pth.provenance.json"
    assert read_provenance(frozen) == RECORD


def test_a_run_folder_gives_dataset_hash_and_test_scores(tmp_path):
    dataset = tmp_path / "ethanol.h5"
    dataset.write_bytes(b"some frames")
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"data": str(dataset)}))
    assert "test_force_mae_meV_per_A" not in run_provenance(run)  # not tested yet
    scores = {"force_mae_meV_per_A": 33.0, "energy_mae_meV": None, "frames": 7}
    (run / "test.json").write_text(json.dumps(scores))
    record = run_provenance(run / "best.pt")  # a checkpoint names its run folder
    assert record == {
        "train_run": str(run),
        "dataset": str(dataset),
        "dataset_sha256": hashlib.sha256(b"some frames").hexdigest(),
        "test_force_mae_meV_per_A": 33.0,
        "test_frames": 7,
    }


def test_the_report_takes_the_test_split_mae_before_the_validation_one(tmp_path):
    (tmp_path / "metrics.csv").write_text("epoch,val_loss,val_force_mae_meV_per_A\n1,2.0,60\n")
    model = export(BondSprings(), tmp_path / "springs.pt", provenance=RECORD)
    assert force_mae_of_model({"model_file": str(model)}) == (RECORD[
        "test_force_mae_meV_per_A"], "test")  # fmt: skip
    recorded = {"model_file": "/gone.pt2", "model_provenance": {"test_force_mae_meV_per_A": 9.0}}
    assert force_mae_of_model(recorded) == (9.0, "test")  # the manifest's record suffices
    bare = export(BondSprings(), tmp_path / "bare.pt")
    assert force_mae_of_model({"model_file": str(bare)}) == (60.0, "val")
    assert force_mae_of_model({"model_file": None}) == (None, None)
