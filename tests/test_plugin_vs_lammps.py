"""pair_style mlff against LAMMPS's own pair styles on the same atoms (float64)."""

from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from ase.neighborlist import neighbor_list
from systems import argon_fcc, deck, silicon_diamond, write_data

from lmp_bench import export
from lmp_bench.lammps.snapshot import run_snapshot

LJ_CUT = "pair_style lj/cut 8.5\npair_coeff * * 0.0103 3.405\n"


def assert_close(actual: np.ndarray, expected: np.ndarray, rtol: float, what: str) -> None:
    """|a - e| <= rtol * max|e| (relative to the largest value, as force fields compare)."""
    scale = np.abs(expected).max()
    error = np.abs(actual - expected).max()
    assert error <= rtol * scale, f"{what}: max error {error:.3e} vs scale {scale:.3e}"


@pytest.mark.parametrize("triclinic", [False, True], ids=["orthogonal", "triclinic"])
@pytest.mark.parametrize("shifted", [False, True], ids=["plain", "shifted"])
@pytest.mark.parametrize("suffix", [".pt2", ".pt"], ids=["aoti", "torchscript"])
def test_lj_module_equals_lj_cut(tmp_path, lj_files, triclinic, shifted, suffix):
    data = write_data(argon_fcc(repeat=5, triclinic=triclinic), tmp_path / "argon.data")
    model = lj_files[("shifted" if shifted else "plain") + suffix]
    shift = "pair_modify shift yes\n" if shifted else ""
    ours = run_snapshot(deck(data, f"pair_style mlff {model}\npair_coeff * * Ar\n"))
    theirs = run_snapshot(deck(data, LJ_CUT + shift))
    assert ours.forces.shape == (1, 500, 3)
    assert_close(ours.energy, theirs.energy, 1e-8, "energy")
    assert_close(ours.forces, theirs.forces, 1e-8, "forces")
    assert_close(ours.pressure_virial, theirs.pressure_virial, 1e-8, "virial")
    assert_close(ours.atom_energy, theirs.atom_energy, 1e-8, "per-atom energy")
    assert_close(ours.atom_virial, theirs.atom_virial, 1e-8, "per-atom virial")


def test_float32_model_close_to_lj_cut(tmp_path, lj_float32_file):
    data = write_data(argon_fcc(repeat=4), tmp_path / "argon.data")
    ours = run_snapshot(deck(data, f"pair_style mlff {lj_float32_file}\npair_coeff * * Ar\n"))
    theirs = run_snapshot(deck(data, LJ_CUT))
    assert_close(ours.forces, theirs.forces, 1e-5, "float32 forces")
    assert_close(ours.energy, theirs.energy, 1e-5, "float32 energy")


def sw_parameter_file(path) -> str:
    """LAMMPS sw file with the module's default (original silicon) parameters."""
    path.write_text(
        "Si Si Si 2.1683 2.0951 1.80 21.0 1.20 -0.33333333333333333 "
        "7.049556277 0.6022245584 4.0 0.0 0.0\n"
    )
    return f"pair_style sw\npair_coeff * * {path} Si\n"


def test_stillinger_weber_module_equals_pair_sw(tmp_path, sw_file):
    data = write_data(silicon_diamond(repeat=3), tmp_path / "si.data")
    ours = run_snapshot(deck(data, f"pair_style mlff {sw_file}\npair_coeff * * Si\n", (28.0855,)))
    theirs = run_snapshot(deck(data, sw_parameter_file(tmp_path / "Si.sw"), (28.0855,)))
    assert_close(ours.energy, theirs.energy, 1e-8, "energy")
    assert_close(ours.forces, theirs.forces, 1e-8, "forces")
    assert_close(ours.pressure_virial, theirs.pressure_virial, 1e-8, "virial")


def test_three_body_forces_are_energy_finite_differences(tmp_path, sw_file):
    """Move single atoms by +-h through LAMMPS (displace_atoms + run 0) and difference the
    plugin's energy; compare with the plugin's force on that atom."""
    data = write_data(silicon_diamond(repeat=2, seed=3), tmp_path / "si.data")
    base = deck(data, f"pair_style mlff {sw_file}\npair_coeff * * Si\n", (28.0855,))
    reference = run_snapshot(base)
    h = 1e-4
    for atom_id, axis in [(1, "x"), (5, "y"), (12, "z"), (33, "x")]:
        moves = {sign: [0.0, 0.0, 0.0] for sign in (1, -1)}
        energies = {}
        for sign in (1, -1):
            moves[sign]["xyz".index(axis)] = sign * h
            dx, dy, dz = moves[sign]
            shifted = base + (
                f"group moved id {atom_id}\ndisplace_atoms moved move {dx} {dy} {dz} units box\n"
            )
            energies[sign] = run_snapshot(shifted).energy[0]
        numeric = -(energies[1] - energies[-1]) / (2 * h)
        analytic = reference.forces[0, atom_id - 1, "xyz".index(axis)]
        assert abs(numeric - analytic) < 1e-6 * max(1.0, abs(analytic)), (atom_id, axis)


@pytest.mark.parametrize("ranks", [1, 2])
def test_direct_force_model_equals_lj_cut_forces(tmp_path, direct_force_file, ranks):
    """Direct-force models: the plugin takes their forces on owned atoms as they are."""
    data = write_data(argon_fcc(repeat=4), tmp_path / "argon.data")
    ours = run_snapshot(
        deck(data, f"pair_style mlff {direct_force_file}\npair_coeff * * Ar\n"), ranks
    )
    theirs = run_snapshot(deck(data, LJ_CUT))
    assert_close(ours.forces, theirs.forces, 1e-8, "forces")
    assert_close(ours.energy, theirs.energy, 1e-8, "energy")
    assert np.all(ours.pressure_virial == 0.0), "direct-force models have no virial"


class EdgeCount(torch.nn.Module):
    """Each atom's energy is its number of edges (eV): the plugin's edge list made visible.
    Two layers put it on the owner graph on one rank, one layer on the ghost graph."""

    def __init__(self, num_layers: int):
        super().__init__()
        self.species, self.cutoff, self.num_layers = ["Ar"], 8.5, num_layers

    def forward(
        self, species: torch.Tensor, edge_index: torch.Tensor, edge_vectors: torch.Tensor
    ) -> torch.Tensor:
        ones = 1.0 + 0.0 * edge_vectors[:, 0]
        counts = torch.zeros(species.shape[0], dtype=edge_vectors.dtype)
        return counts.index_add(0, edge_index[0], ones)


HOT_ARGON = (
    "neigh_modify every 50 delay 0 check no\nvelocity all create 900.0 3 loop geom\n"
    "fix integrate all nve\ntimestep 0.002\n"
)


@pytest.mark.parametrize("layers", [1, 2], ids=["ghost-graph", "owner-graph"])
def test_edges_are_the_pairs_within_the_cutoff_at_every_step(tmp_path, layers):
    """Each step the plugin tests only the pairs near the cutoff among those kept from
    LAMMPS's list (pair_styles/near_pairs.h, step_edges.h), refreshed when an atom has moved
    half the margin. Hot argon, LAMMPS's list rebuilt only every 50 steps, so the kept pairs
    are refreshed between LAMMPS's builds too. LJ forces could not see an extra edge just
    beyond the cutoff (their energy is cut there); counting edges can: at every recorded
    step each atom's edges are its neighbours within the cutoff on ASE's list, no more, no
    fewer."""
    atoms = argon_fcc(repeat=4)
    data = write_data(atoms, tmp_path / "argon.data")
    model_file = export(EdgeCount(layers), tmp_path / "count.pt")
    ours = run_snapshot(
        deck(data, f"pair_style mlff {model_file}\npair_coeff * * Ar\n", extra=HOT_ARGON),
        segments=[5] * 20,
    )
    for step, positions in enumerate(ours.positions):
        atoms.positions = positions
        centres = neighbor_list("i", atoms, 8.5)
        expected = np.bincount(centres, minlength=len(atoms))
        assert np.array_equal(ours.atom_energy[step], expected), f"record {step}"
    counts = re.findall(r"refreshed (\d+) times, (\d+) of them after LAMMPS", ours.log)
    refreshes = sum(int(total) for total, _ in counts)
    after_builds = sum(int(built) for _, built in counts)
    assert refreshes > after_builds > 0, counts


def test_owner_graph_edges_follow_a_changing_box(tmp_path, contract2_toy_file):
    """On one rank a message-passing model runs the owner graph, whose edges to periodic
    images carry shifts that the plugin writes once per refresh of its kept pairs
    (pair_styles/step_edges.h). A box changed every step (fix npt, LAMMPS's list rebuilt
    only every 20 steps) changes those shifts: each recorded step must equal the
    model evaluated in Python on ASE's neighbour list in that step's box."""
    from lmp_bench.models import MessagePassingToy
    from lmp_bench.models.graph import evaluate

    atoms = argon_fcc(repeat=4)
    data = write_data(atoms, tmp_path / "argon.data")
    md = (
        "neigh_modify every 20 delay 0 check no\nvelocity all create 300.0 7 loop geom\n"
        "fix integrate all npt temp 300 300 0.1 aniso 2000 2000 0.5\ntimestep 0.002\n"
    )
    model = f"pair_style mlff {contract2_toy_file}\npair_coeff * * Ar\n"
    ours = run_snapshot(
        deck(data, model, extra=md), segments=[10] * 8, energy_terms=("lx", "ly", "lz")
    )
    lengths = np.stack([ours.terms[k] for k in ("lx", "ly", "lz")], axis=1)
    assert np.abs(lengths[-1] / lengths[0] - 1).min() > 1e-3, f"the box hardly changed: {lengths}"
    species = np.zeros(len(atoms), dtype=int)
    for step, box in enumerate(lengths):
        python = evaluate(MessagePassingToy(), ours.positions[step], species, np.diag(box))
        assert_close(ours.forces[step], python["forces"], 1e-10, f"forces at record {step}")
        assert_close(ours.energy[step], python["energy"], 1e-10, f"energy at record {step}")
