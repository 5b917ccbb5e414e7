"""The export helper and the model interface check (fast: TorchScript or no export)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lmp_bench import export
from lmp_bench.export import ExportError, read_metadata
from lmp_bench.models import LennardJones, ModelInterfaceError, StillingerWeber, validate_model
from lmp_bench.models.graph import evaluate


class NotRotationInvariant(torch.nn.Module):
    species = ["Ar"]
    cutoff = 5.0
    num_layers = 1

    def forward(self, species, edge_index, edge_vectors):
        out = torch.zeros(species.shape[0], dtype=edge_vectors.dtype)
        return out.index_add(0, edge_index[0], edge_vectors[:, 0])


class NoCutoff(torch.nn.Module):
    species = ["Ar"]
    num_layers = 1


def test_interface_rejects_missing_attributes():
    with pytest.raises(ModelInterfaceError, match=r"lacks the attribute\(s\) \['cutoff'\]"):
        validate_model(NoCutoff())


def test_interface_rejects_a_model_that_is_not_rotation_invariant():
    with pytest.raises(ModelInterfaceError, match="rotation"):
        validate_model(NotRotationInvariant())


def test_export_rejects_unknown_suffix_and_dtype(tmp_path):
    with pytest.raises(ExportError, match=r"must end in \.pt2"):
        export(LennardJones(), tmp_path / "model.onnx")
    with pytest.raises(ExportError, match="dtype must be one of"):
        export(LennardJones(), tmp_path / "model.pt", dtype="float16")
    with pytest.raises(ExportError, match="needs a visible CUDA GPU"):
        export(LennardJones(), tmp_path / "model.pt", device="cuda")


def test_metadata_written_into_the_file(lj_files, message_passing_file):
    meta = read_metadata(lj_files["plain.pt"])
    assert meta["cutoff"] == "8.5" and meta["species"] == "Ar" and meta["layers"] == "1"
    assert meta["forces"] == "conservative" and meta["units"] == "metal"
    meta = read_metadata(message_passing_file)
    assert meta["layers"] == "2" and meta["dtype"] == "float64" and meta["device"] == "cpu"


def test_python_evaluation_of_lj_matches_the_analytic_pair_sum():
    """Independent check of the edge-gradient forces: a 2-atom LJ dimer by hand."""
    r, eps, sigma = 3.7, 0.0103, 3.405
    positions = np.array([[0.0, 0.0, 0.0], [r, 0.0, 0.0]])
    result = evaluate(LennardJones(), positions, np.zeros(2, dtype=int), None, (False,) * 3)
    sr6 = (sigma / r) ** 6
    energy = 4 * eps * (sr6 * sr6 - sr6)
    force_on_2 = 24 * eps * (2 * sr6 * sr6 - sr6) / r  # +x when repulsive
    assert result["energy"] == pytest.approx(energy, rel=1e-12)
    assert result["forces"][1, 0] == pytest.approx(force_on_2, rel=1e-12)
    assert result["forces"][0, 0] == pytest.approx(-force_on_2, rel=1e-12)
    assert result["virial"][0, 0] == pytest.approx(force_on_2 * r, rel=1e-12)


def test_stillinger_weber_three_body_expansion_matches_triplet_sum():
    """The triplet-free angular sum equals an explicit loop over neighbour pairs."""
    rng = np.random.default_rng(2)
    positions = rng.uniform(0, 3.0, size=(6, 3))
    model = StillingerWeber()
    model.big_a = 0.0  # switch the two-body term off: only the angular term remains
    result = evaluate(model, positions, np.zeros(6, dtype=int), None, (False,) * 3)
    cut, expected = model.cutoff, 0.0
    for i in range(6):
        for j in range(6):
            for k in range(j + 1, 6):
                if i in (j, k):
                    continue
                rij, rik = positions[j] - positions[i], positions[k] - positions[i]
                dij, dik = np.linalg.norm(rij), np.linalg.norm(rik)
                if dij >= cut or dik >= cut:
                    continue
                cos = rij @ rik / (dij * dik)
                expected += (
                    model.lam
                    * model.epsilon
                    * (cos + 1 / 3) ** 2
                    * np.exp(model.gamma * model.sigma / (dij - cut))
                    * np.exp(model.gamma * model.sigma / (dik - cut))
                )
    assert expected > 0
    assert result["energy"] == pytest.approx(expected, rel=1e-10)
