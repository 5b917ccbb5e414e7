"""Shared fixtures: each test model is exported once per session (an AOTInductor compile
costs ~30 s), and the plugin is built once (cached under LMP_BENCH_CACHE)."""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parent))

from lmp_bench import export  # noqa: E402
from lmp_bench.lammps.plugin_build import ensure_plugin  # noqa: E402
from lmp_bench.models import LennardJones, MessagePassingToy, StillingerWeber  # noqa: E402


class NaNAfterFirstStep(torch.nn.Module):
    """Lennard-Jones that turns into NaN once any pair comes closer than `nan_below` A."""

    def __init__(self, nan_below: float):
        super().__init__()
        self.lj = LennardJones()
        self.species = self.lj.species
        self.cutoff = self.lj.cutoff
        self.num_layers = 1
        self.nan_below = nan_below

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor
    ) -> torch.Tensor:
        energy = self.lj(species, edge_index, edge_vectors)
        r_min = torch.sqrt((edge_vectors * edge_vectors).sum(1)).min()
        poison = torch.where(
            r_min < self.nan_below, torch.full_like(r_min, float("nan")), torch.zeros_like(r_min)
        )
        return energy + poison


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory) -> Path:
    ensure_plugin()
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def lj_files(model_dir) -> dict[str, Path]:
    """LJ (argon, 8.5 A) unshifted and shifted, as .pt2 and TorchScript."""
    return {
        f"{kind}{suffix}": export(
            LennardJones(shift=kind == "shifted"), model_dir / f"lj-{kind}{suffix}"
        )
        for kind in ("plain", "shifted")
        for suffix in (".pt2", ".pt")
    }


@pytest.fixture(scope="session")
def lj_float32_file(model_dir) -> Path:
    return export(LennardJones(), model_dir / "lj-float32.pt", dtype="float32")


@pytest.fixture(scope="session")
def sw_file(model_dir) -> Path:
    return export(StillingerWeber(), model_dir / "sw.pt2")


@pytest.fixture(scope="session")
def message_passing_file(model_dir) -> Path:
    """The two-layer toy as AOTInductor pieces (model contract 3)."""
    return export(MessagePassingToy(), model_dir / "mp-toy.pt2")


class GraphOnlyToy(torch.nn.Module):
    """The two-layer toy's energy written as one function without pieces: exported as one
    graph (model contract 2)."""

    def __init__(self):
        super().__init__()
        toy = MessagePassingToy()
        self.species, self.cutoff, self.num_layers = toy.species, toy.cutoff, 2
        self.embedding, self.centres, self.readout = toy.embedding, toy.centres, toy.readout
        self.self_weights, self.message_weights = toy.self_weights, toy.message_weights

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor
    ) -> torch.Tensor:
        r = torch.sqrt((edge_vectors * edge_vectors).sum(dim=1))
        envelope = 0.5 * (torch.cos(torch.pi * r / self.cutoff) + 1.0) * (r < self.cutoff)
        radial = envelope.unsqueeze(1) * torch.exp(-((r.unsqueeze(1) - self.centres) ** 2))
        h = self.embedding[species]
        for self_w, message_w in zip(self.self_weights, self.message_weights, strict=True):
            messages = radial * (h @ message_w).index_select(0, edge_index[1])
            pooled = torch.zeros_like(h).index_add(0, edge_index[0], messages)
            h = torch.tanh(h @ self_w + pooled)
        return (h @ self.readout).squeeze(1)


@pytest.fixture(scope="session")
def contract2_toy_file(model_dir) -> Path:
    return export(GraphOnlyToy(), model_dir / "mp-toy-contract2.pt")


@pytest.fixture(scope="session")
def nan_file(model_dir) -> Path:
    return export(NaNAfterFirstStep(nan_below=3.0), model_dir / "nan.pt")


class DirectForceLJ(torch.nn.Module):
    """Lennard-Jones that returns its forces directly (like GemNet-dT or ForceNet do),
    computed pairwise from the analytic derivative rather than by autograd."""

    def __init__(self):
        super().__init__()
        self.lj = LennardJones()
        self.species = self.lj.species
        self.cutoff = self.lj.cutoff
        self.num_layers = 1
        self.direct_forces = True

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        energy = self.lj(species, edge_index, edge_vectors)
        r2 = (edge_vectors * edge_vectors).sum(1)
        s6 = (self.lj.sigma * self.lj.sigma / r2) ** 3
        # F_i = sum_j phi'(r) (r_j - r_i) / r, with phi'(r)/r = -24 eps (2 s12 - s6) / r^2
        scale = -24.0 * self.lj.epsilon * (2.0 * s6 * s6 - s6) / r2
        scale = torch.where(r2 < self.cutoff * self.cutoff, scale, torch.zeros_like(scale))
        forces = torch.zeros(species.shape[0], 3, dtype=edge_vectors.dtype)
        forces = forces.index_add(0, edge_index[0], scale.unsqueeze(1) * edge_vectors)
        return energy, forces


@pytest.fixture(scope="session")
def direct_force_file(model_dir) -> Path:
    return export(DirectForceLJ(), model_dir / "direct-lj.pt")


class RepulsiveWater(torch.nn.Module):
    """A deliberately broken water model: pure r^-12 repulsion between all atoms, so
    molecules fly apart (the watchdog must catch it)."""

    species = ["O", "H"]
    cutoff = 3.0
    num_layers = 1

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor
    ) -> torch.Tensor:
        r2 = (edge_vectors * edge_vectors).sum(1)
        pair = 0.05 * (1.2 * 1.2 / r2) ** 6
        out = torch.zeros(species.shape[0], dtype=edge_vectors.dtype)
        return out.index_add(0, edge_index[0], 0.5 * pair)


class NaNWater(torch.nn.Module):
    """Returns NaN energies from the first step."""

    species = ["O", "H"]
    cutoff = 3.0
    num_layers = 1

    def __init__(self):
        super().__init__()
        self.repulsive = RepulsiveWater()

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor
    ) -> torch.Tensor:
        energy = self.repulsive(species, edge_index, edge_vectors)
        return energy + torch.full_like(energy, float("nan"))


@pytest.fixture(scope="session")
def repulsive_water_file(model_dir) -> Path:
    return export(RepulsiveWater(), model_dir / "repulsive-water.pt")


@pytest.fixture(scope="session")
def nan_water_file(model_dir) -> Path:
    return export(NaNWater(), model_dir / "nan-water.pt")


@pytest.fixture(scope="session")
def water_dataset(tmp_path_factory) -> Path:
    """120 classical water-64 frames (train 57, val 3, test 60), for training tests."""
    from lmp_bench.data.make_water import make_water_dataset

    folder = tmp_path_factory.mktemp("water-dataset")
    make_water_dataset(folder / "water.h5", folder / "runs", frames=120, equilibrate_ps=1.0, seed=5)
    return folder / "water.h5"


@pytest.fixture(scope="module")
def one_openmp_thread():
    """tblite parallelises with OpenMP; one thread on the shared machine (the library is
    already initialised, so OMP_NUM_THREADS set now would be ignored)."""
    try:
        gomp = ctypes.CDLL("libgomp.so.1")  # the runtime tblite is linked to
    except OSError:
        yield
        return
    before = gomp.omp_get_max_threads()
    gomp.omp_set_num_threads(1)
    yield
    gomp.omp_set_num_threads(before)
