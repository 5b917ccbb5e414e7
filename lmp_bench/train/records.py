"""What a training run folder records besides its checkpoints: its test scores
(``test.json``, written by `lmp-bench test`) and, from them, the provenance its exported
model file carries (lmp_bench.export.provenance). Works for zoo runs and for nequip and
deepmd runs alike, so every model file can name its force error."""

from __future__ import annotations

import json
from pathlib import Path

from lmp_bench.data.fetch import file_sha256

TEST_RECORD = "test.json"


def run_folder_of(path: str | Path) -> Path:
    """The training run folder of a run folder, a checkpoint in one, or a model file in one."""
    path = Path(path)
    return path if path.is_dir() else path.parent


def test_and_record(path: str | Path, data: str | Path, split: str = "test") -> dict:
    """Energy and force MAE of a checkpoint, run folder or framework model on `split`, by
    the model's own trainer; kept in the run folder (test.json, or test-<split>.json) so
    that an export later carries the test-split force MAE."""
    from lmp_bench.frameworks import framework, framework_of_path
    from lmp_bench.train.trainer import test_checkpoint

    name = framework_of_path(path)
    if name is not None:
        result = framework(name).test(Path(path), data, split)
    else:
        result = test_checkpoint(path, data, split)
    result = {**result, "data": str(Path(data).resolve())}
    record = run_folder_of(path) / (TEST_RECORD if split == "test" else f"test-{split}.json")
    partial = record.with_name(record.name + ".partial")
    partial.write_text(json.dumps(result, indent=2) + "\n")
    partial.replace(record)
    return result


test_and_record.__test__ = False  # not a pytest test when imported into a test module


def training_data(run: Path) -> str | None:
    """The dataset a run trained on, as its own record names it: config.json (zoo),
    lmp_bench.json (deepmd) or settings.yaml (nequip)."""
    if (run / "config.json").is_file():
        return json.loads((run / "config.json").read_text()).get("data")
    if (run / "lmp_bench.json").is_file():
        return json.loads((run / "lmp_bench.json").read_text()).get("data")
    if (run / "settings.yaml").is_file():
        import yaml  # PyYAML comes with nequip, the only trainer that writes settings.yaml

        return yaml.safe_load((run / "settings.yaml").read_text()).get("data")
    return None


def run_provenance(run: str | Path) -> dict:
    """The provenance record of a training run folder: the folder, its dataset and the
    dataset's SHA-256 now, and its test-split scores if `lmp-bench test` recorded them."""
    run = run_folder_of(run).resolve()
    record: dict = {"train_run": str(run)}
    data = training_data(run)
    if data:
        dataset = Path(data).resolve()
        record["dataset"] = str(dataset)
        if dataset.is_file():
            record["dataset_sha256"] = file_sha256(dataset)
    test = run / TEST_RECORD
    if test.is_file():
        scores = json.loads(test.read_text())
        record["test_force_mae_meV_per_A"] = float(scores["force_mae_meV_per_A"])
        if scores.get("energy_mae_meV") is not None:
            record["test_energy_mae_meV"] = float(scores["energy_mae_meV"])
        record["test_frames"] = int(scores["frames"])
    return record
