"""The model interface every lmp-bench model follows, and its conformance check.

A model is a ``torch.nn.Module`` with these attributes:

- ``species: list[str]``   chemical symbols; index = species id the model expects
- ``cutoff: float``        neighbour cutoff, Angstrom
- ``num_layers: int``      message-passing layers (1 for models that only look at their
                           own neighbours); LAMMPS then keeps ghosts out to layers x cutoff
- ``direct_forces: bool``  optional, default False: True if forward also returns forces

and ``forward(species, edge_index, edge_vectors)``:

- ``species``      (N,) int64, species id per node
- ``edge_index``   (2, E) int64, edge e points from node ``edge_index[0, e]`` (the centre)
                   to its neighbour ``edge_index[1, e]``; both directions are present
- ``edge_vectors`` (E, 3) float, ``r[neighbour] - r[centre]`` in Angstrom (periodic images
                   already resolved)

returning per-node energies ``atom_energy`` (N,) in eV, or ``(atom_energy, forces)`` with
forces (N, 3) in eV/Angstrom when ``direct_forces``. Energies must depend on positions
only through ``edge_vectors``: that makes them translation invariant and lets the exported
graph produce forces and the virial by differentiating with respect to the edges.
"""

from __future__ import annotations

import math

import torch

from lmp_bench.models.halo import check_pieces, has_halo_pieces

# Names of the exported graph's inputs and outputs, in order (see pair_styles/README.md).
GRAPH_INPUTS = ("positions", "species", "edge_index", "edge_shift", "nlocal")
GRAPH_OUTPUTS = ("atom_energy", "forces", "atom_virial")
VIRIAL_ORDER = ("xx", "yy", "zz", "xy", "xz", "yz")  # LAMMPS's per-atom virial order


class ModelInterfaceError(ValueError):
    """A module does not follow the lmp-bench model interface."""


def model_properties(module: torch.nn.Module) -> dict:
    """Read and check the interface attributes of `module`."""
    missing = [name for name in ("species", "cutoff", "num_layers") if not hasattr(module, name)]
    if missing:
        raise ModelInterfaceError(
            f"{type(module).__name__} lacks the attribute(s) {missing}: an lmp-bench model "
            "declares species, cutoff (Angstrom) and num_layers (see lmp_bench.models.interface)"
        )
    species = [str(s) for s in module.species]
    cutoff = float(module.cutoff)
    layers = int(module.num_layers)
    if not species or len(set(species)) != len(species) or any(" " in s for s in species):
        raise ModelInterfaceError(f"species must be unique names without spaces, got {species}")
    if not (cutoff > 0 and math.isfinite(cutoff)):
        raise ModelInterfaceError(f"cutoff must be a positive number of Angstrom, got {cutoff}")
    if layers < 1:
        raise ModelInterfaceError(f"num_layers must be >= 1, got {layers}")
    return {
        "species": species,
        "cutoff": cutoff,
        "num_layers": layers,
        "direct_forces": bool(getattr(module, "direct_forces", False)),
    }


def validate_model(module: torch.nn.Module, dtype: torch.dtype = torch.float64) -> dict:
    """Conformance check: attributes, output shapes, translation/rotation invariance.

    Run before the (slow) export so that a module that breaks the contract fails in a
    second with a message, not after a compile.
    """
    props = model_properties(module)
    generator = torch.Generator().manual_seed(0)
    n_atoms = 6
    positions = torch.rand(n_atoms, 3, generator=generator, dtype=dtype) * props["cutoff"] * 0.8
    species = torch.randint(0, len(props["species"]), (n_atoms,), generator=generator)
    src, dst = torch.meshgrid(torch.arange(n_atoms), torch.arange(n_atoms), indexing="ij")
    keep = src != dst
    edge_index = torch.stack([src[keep], dst[keep]])

    def energies(pos: torch.Tensor) -> torch.Tensor:
        vectors = pos[edge_index[1]] - pos[edge_index[0]]
        out = module(species, edge_index, vectors)
        atom_energy = out[0] if props["direct_forces"] else out
        if props["direct_forces"] and tuple(out[1].shape) != (n_atoms, 3):
            raise ModelInterfaceError(f"forces must have shape (N, 3), got {tuple(out[1].shape)}")
        return atom_energy

    reference = energies(positions)
    if tuple(reference.shape) != (n_atoms,):
        raise ModelInterfaceError(
            f"forward must return per-atom energies of shape (N,), got {tuple(reference.shape)}"
        )
    if reference.dtype not in (dtype, torch.float64):  # float64 sums: nequip's energies
        raise ModelInterfaceError(f"energies come back as {reference.dtype}, expected {dtype}")
    rotation, _ = torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=dtype))
    moved = positions @ rotation.T + 1.7
    tolerance = 1e-6 if dtype == torch.float64 else 1e-3
    scale = reference.abs().max().item() + 1.0
    if (energies(moved) - reference).abs().max().item() > tolerance * scale:
        raise ModelInterfaceError("per-atom energies change under rotation + translation")
    if has_halo_pieces(module) and dtype == torch.float64:
        try:
            check_pieces(module, dtype)
        except ValueError as err:
            raise ModelInterfaceError(f"halo_pieces() of {type(module).__name__}: {err}") from err
    return props
