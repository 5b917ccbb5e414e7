"""Bad input gets a LAMMPS error that names the problem and the fix, never a crash."""

from __future__ import annotations

import pytest
from systems import argon_fcc, deck, write_data

from lmp_bench.lammps.snapshot import LammpsRunError, run_snapshot


@pytest.fixture(scope="module")
def argon_data(tmp_path_factory):
    return write_data(argon_fcc(repeat=4), tmp_path_factory.mktemp("argon") / "argon.data")


def error_of(commands: str, ranks: int = 1) -> str:
    with pytest.raises(LammpsRunError) as caught:
        run_snapshot(commands, ranks)
    return str(caught.value)


def test_missing_model_file(argon_data, tmp_path):
    message = error_of(deck(argon_data, f"pair_style mlff {tmp_path}/nope.pt2\npair_coeff * * Ar"))
    assert "nope.pt2 cannot be read" in message and "check the path" in message


@pytest.mark.parametrize("suffix", [".pt2", ".pt"])
def test_file_that_is_not_a_model(argon_data, tmp_path, suffix):
    junk = tmp_path / f"junk{suffix}"
    junk.write_bytes(b"this is not a model" * 10)
    message = error_of(deck(argon_data, f"pair_style mlff {junk}\npair_coeff * * Ar"))
    assert f"cannot load model file {junk}" in message
    assert "lmp_bench.export" in message


def test_unknown_species_in_pair_coeff(argon_data, lj_files):
    message = error_of(
        deck(argon_data, f"pair_style mlff {lj_files['plain.pt']}\npair_coeff * * Xe")
    )
    assert "mapped to 'Xe'" in message and "knows: Ar" in message


def test_wrong_number_of_pair_coeff_elements(argon_data, lj_files):
    message = error_of(
        deck(argon_data, f"pair_style mlff {lj_files['plain.pt']}\npair_coeff * * Ar Ar")
    )
    assert "1 types need 3 arguments, got 4" in message


def test_ghost_cutoff_smaller_than_the_model_needs(tmp_path, contract2_toy_file):
    """A contract-2 file on several ranks of a box large enough for the ghost graph (6,912
    atoms on 2 x 2 x 1 ranks, 0.5 A skin) carries message passing on ghosts out to layers x
    cutoff; a smaller user ghost cutoff is an error that says what is needed."""
    data = write_data(argon_fcc(repeat=12), tmp_path / "big.data")
    pair = f"pair_style mlff {contract2_toy_file}\npair_coeff * * Ar\ncomm_modify cutoff 6.0"
    commands = deck(data, pair, extra="neighbor 0.5 bin\n")
    message = error_of(commands.replace("atom_modify", "processors 2 2 1\natom_modify"), ranks=4)
    assert "'comm_modify cutoff 6' is smaller than the 10.5 A" in message
    assert "2 layer(s) x 5 A cutoff" in message


def test_nan_forces_name_the_step(argon_data, nan_file):
    hot = "velocity all create 3000 1 loop all\nfix integrate all nve\ntimestep 0.005\n"
    commands = deck(argon_data, f"pair_style mlff {nan_file}\npair_coeff * * Ar", extra=hot)
    with pytest.raises(LammpsRunError) as caught:
        run_snapshot(commands, 2, segments=[2000])
    message = str(caught.value)
    assert "returned NaN or Inf energy/forces at step" in message
    step = int(message.split("at step ")[1].split(":")[0])
    assert 0 < step < 2000


@pytest.mark.parametrize("suffix", [".pt2", ".pt"])
def test_cuda_requested_without_a_gpu(argon_data, lj_files, suffix):
    message = error_of(
        deck(
            argon_data,
            f"pair_style mlff {lj_files['plain' + suffix]} device cuda\npair_coeff * * Ar",
        )
    )
    expected = "was compiled for 'cpu'" if suffix == ".pt2" else "sees no CUDA GPU"
    assert expected in message


def test_newton_off_is_refused(argon_data, lj_files):
    message = error_of(
        "newton off\n"
        + deck(argon_data, f"pair_style mlff {lj_files['plain.pt']}\npair_coeff * * Ar")
    )
    assert "requires 'newton on'" in message


def test_units_must_match_the_model(argon_data, lj_files):
    commands = deck(argon_data, f"pair_style mlff {lj_files['plain.pt']}\npair_coeff * * Ar")
    message = error_of(commands.replace("units metal", "units real"))
    assert "in 'metal' units but the input uses 'units real'" in message
