"""`lmp-bench train`: design.md's protocol on a dataset file, resumable after a kill.

Adam, ReduceLROnPlateau on the validation loss, stop at lr < min_lr, max_epochs or the
time budget. Loss = force_weight x MSE(forces / s) + energy_weight x MSE(energy / s), s the
force RMS of the training split (targets normalised, so the weights are unit-free). The
run folder holds config.json, metrics.csv (one row per epoch; epoch 0 is the untrained
model), last.pt (every epoch), best.pt (lowest validation loss) and, once training stopped
by its own rule rather than a kill, finished.json (last epoch and why it stopped).
"""

from __future__ import annotations

import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from lmp_bench.data.frames_file import FrameSet, read_frames
from lmp_bench.train.batches import GraphCache, make_batch, predict, species_ids
from lmp_bench.train.checkpoint import load_checkpoint, new_model, save_checkpoint
from lmp_bench.train.config import TrainConfig, check, dataset_key, resolve_defaults
from lmp_bench.train.scores import energy_scores
from lmp_bench.train.store import store_root

METRICS = (
    "epoch",
    "lr",
    "train_loss",
    "val_loss",
    "val_energy_mae_meV",
    "val_force_mae_meV_per_A",
    "seconds",
)
DTYPES = {"float32": torch.float32, "float64": torch.float64}
FINISHED = "finished.json"  # written when training stops by its own rule (epoch, reason)


def normalisation(frames: FrameSet, train: np.ndarray, species: np.ndarray, n_species: int):
    """Force RMS (eV/A) and per-species energy shifts (eV, least squares on the training
    frames' energies: E ~ sum_s n_s shift_s)."""
    scale = float(np.sqrt(np.mean(frames.forces[train] ** 2)))
    counts = np.bincount(species, minlength=n_species).astype(float)
    energies = frames.energy[train]
    if not np.isfinite(energies).all():  # forces-only data (the paper's alanine): no shifts
        return scale, [0.0] * n_species
    design = np.tile(counts, (len(train), 1))
    shifts, *_ = np.linalg.lstsq(design, energies, rcond=None)
    return scale, [float(s) for s in shifts]


def loss_and_errors(
    model, frames, graphs, indices, species, config, scale, device, train_step=None
):
    """Mean loss over `indices` (one batch at a time) and MAEs; `train_step` optimises."""
    dtype = DTYPES[config.dtype]
    total_loss, energy_errors, force_errors = 0.0, [], []
    batches = [
        indices[i : i + config.batch_size] for i in range(0, len(indices), config.batch_size)
    ]
    for number, chunk in enumerate(batches, 1):
        batch = make_batch(frames, chunk, species, graphs, dtype, device)
        energy, forces = predict(model, batch, create_graph=train_step is not None)
        force_error = forces - batch.forces
        energy_error = energy - batch.energy
        loss = config.force_weight * ((force_error / scale) ** 2).mean()
        labelled = torch.isfinite(batch.energy)  # forces-only frames carry NaN energies
        if labelled.any():
            loss = loss + config.energy_weight * ((energy_error[labelled] / scale) ** 2).mean()
        if train_step is not None:
            train_step(loss)
            _progress(number, len(batches), float(loss.detach()))
        total_loss += float(loss.detach()) * len(chunk)
        energy_errors.append(energy_error.detach().abs().cpu())
        force_errors.append(force_error.detach().abs().cpu())
    return (
        total_loss / len(indices),
        1000 * float(torch.cat(energy_errors).mean()),
        1000 * float(torch.cat(force_errors).mean()),
    )


def append_metrics(folder: Path, row: tuple) -> None:
    """One row of metrics.csv (columns METRICS), appended so a kill loses no earlier row."""
    with (folder / "metrics.csv").open("a", newline="") as stream:
        csv.writer(stream).writerow(row)


def _progress(done: int, total: int, loss: float) -> None:
    if sys.stderr.isatty():
        print(f"\r  batch {done}/{total}  loss {loss:.4g}   ", end="", file=sys.stderr, flush=True)


def train(
    data: str | Path,
    config: TrainConfig,
    output: Path | None = None,
    resume: Path | None = None,
    overrides: dict | None = None,
) -> Path:
    """Train (or resume) and return the run folder."""
    frames = read_frames(data)
    for split in ("train", "val"):
        if len(frames.splits.get(split, [])) == 0:
            raise ValueError(f"dataset {data} has no '{split}' split: make it with lmp-bench data")
    state = None
    if resume is not None:
        state = load_checkpoint(Path(resume) / "last.pt")
        config = TrainConfig(**(state["config"] | (overrides or {})))
        check(config)
        folder = Path(resume)
    else:
        config = resolve_defaults(config, frames.attributes)
        system = frames.attributes.get("system", "unknown")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        folder = output or store_root() / system / config.model / stamp
        folder.mkdir(parents=True, exist_ok=False)
    if config.device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device cuda asked for, but torch sees no CUDA GPU")
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    train_idx, val_idx = frames.splits["train"], frames.splits["val"]

    if state is None:
        network_species = sorted(set(frames.species), key=list(frames.species).index)
        species = species_ids(frames, network_species)
        scale, shifts = normalisation(frames, train_idx, species, len(network_species))
    else:
        network_species, scale, shifts = state["species"], state["scale"], state["shifts"]
        species = species_ids(frames, network_species)
    model = new_model(config.to_dict(), network_species, scale, shifts)
    model = model.to(DTYPES[config.dtype]).to(config.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, factor=config.lr_factor, patience=config.lr_patience
    )
    epoch, elapsed, best = 0, 0.0, float("inf")
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["torch_rng"])
        rng.bit_generator.state = state["numpy_rng"]
        epoch, elapsed, best = state["epoch"], state["elapsed_s"], state["best_val_loss"]
        (folder / FINISHED).unlink(missing_ok=True)  # going on: not finished until it stops
        print(f"lmp-bench: resuming {folder} after epoch {epoch}", flush=True)
    else:
        record = {
            "config": config.to_dict(),
            "data": str(Path(data).resolve()),
            "dataset": dataset_key(frames.attributes),
            "species": network_species,
            "force_rms_eV_per_A": scale,
            "energy_shifts_eV": dict(zip(network_species, shifts, strict=True)),
        }
        (folder / "config.json").write_text(json.dumps(record, indent=2) + "\n")
        with (folder / "metrics.csv").open("w", newline="") as stream:
            csv.writer(stream).writerow(METRICS)

    graphs = GraphCache(frames, model.cutoff)
    if state is None:  # epoch 0: the untrained model, the starting point of the curve
        model.eval()
        val_loss, val_e, val_f = loss_and_errors(
            model, frames, graphs, val_idx, species, config, scale, config.device
        )
        append_metrics(folder, (0, config.lr, "", val_loss, val_e, val_f, 0.0))

    def step(loss: torch.Tensor) -> None:
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()

    print(
        f"lmp-bench: training {config.model} ({config.size}) on {len(train_idx)} frames of "
        f"{data}, validating on {len(val_idx)} -> {folder}",
        flush=True,
    )
    while True:
        lr = optimizer.param_groups[0]["lr"]
        stop = _stop_reason(config, epoch, lr, elapsed)
        if stop:
            print(f"lmp-bench: training stopped after epoch {epoch}: {stop}", flush=True)
            finished = {"epoch": epoch, "reason": stop, "elapsed_s": round(elapsed, 2)}
            (folder / FINISHED).write_text(json.dumps(finished, indent=2) + "\n")
            return folder
        start = time.perf_counter()
        epoch += 1
        model.train()
        order = rng.permutation(train_idx)
        train_loss, _, _ = loss_and_errors(
            model, frames, graphs, order, species, config, scale, config.device, step
        )
        model.eval()
        val_loss, val_e, val_f = loss_and_errors(
            model, frames, graphs, val_idx, species, config, scale, config.device
        )
        scheduler.step(val_loss)
        elapsed += time.perf_counter() - start
        checkpoint = {
            "config": config.to_dict(),
            "species": network_species,
            "scale": scale,
            "shifts": shifts,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "torch_rng": torch.get_rng_state(),
            "numpy_rng": rng.bit_generator.state,
            "epoch": epoch,
            "elapsed_s": elapsed,
            "best_val_loss": min(best, val_loss),
            "dataset": dataset_key(frames.attributes),
            "system": frames.attributes.get("system", "unknown"),
        }
        if val_loss < best:
            best = val_loss
            save_checkpoint(checkpoint, folder / "best.pt")
        save_checkpoint(checkpoint, folder / "last.pt")
        append_metrics(folder, (epoch, lr, train_loss, val_loss, val_e, val_f, round(elapsed, 2)))
        if sys.stderr.isatty():
            print("\r", end="", file=sys.stderr)
        print(
            f"epoch {epoch:5d}  lr {lr:.2e}  loss {train_loss:.4g}  val loss {val_loss:.4g}  "
            f"val E MAE {val_e:.1f} meV  val F MAE {val_f:.1f} meV/A  {elapsed:.0f} s",
            flush=True,
        )


def _stop_reason(config: TrainConfig, epoch: int, lr: float, elapsed: float) -> str:
    if epoch >= config.max_epochs:
        return f"max_epochs {config.max_epochs} reached"
    if lr < config.min_lr:
        return f"learning rate {lr:.2e} < min_lr {config.min_lr:.0e}"
    if config.max_minutes and elapsed >= 60 * config.max_minutes:
        return f"time budget of {config.max_minutes} min used"
    return ""


def test_checkpoint(checkpoint: str | Path, data: str | Path, split: str = "test") -> dict:
    """Energy MAE (meV per frame and per atom) and force MAE (meV/A) on a split."""
    from lmp_bench.train.checkpoint import model_from_checkpoint

    state = load_checkpoint(checkpoint)
    frames = read_frames(data)
    indices = frames.splits.get(split)
    if indices is None or len(indices) == 0:
        raise ValueError(f"dataset {data} has no '{split}' split")
    model = model_from_checkpoint(state)
    config = TrainConfig(**state["config"])
    config.device = "cpu"
    species = species_ids(frames, state["species"])
    graphs = GraphCache(frames, model.cutoff)
    _, energy_mae, force_mae = loss_and_errors(
        model, frames, graphs, indices, species, config, state["scale"], "cpu"
    )
    return {
        "checkpoint": state["path"],
        "data": str(data),
        "split": split,
        "frames": len(indices),
        **energy_scores(energy_mae, len(frames.species)),
        "force_mae_meV_per_A": force_mae,
    }
