"""Model contract 2: one graph, forces by autograd inside it, traced for AOTInductor.

torch.export cannot export autograd.grad directly, so the forward pass and its gradient are
traced together with make_fx first, then exported with dynamic atom and edge counts.
"""

from __future__ import annotations

import torch

TORCHSCRIPT_METADATA_FILE = "lmp_bench_metadata.txt"


class ExportError(RuntimeError):
    """The model could not be exported; the message says why."""


def write_torchscript(module: torch.nn.Module, path, metadata: dict[str, str], what: str) -> None:
    """Script `module` and save it with the metadata as `key=value` lines in an extra file
    (where the plugin reads them); `what` names the module in the error."""
    try:
        scripted = torch.jit.script(module)
    except Exception as err:
        raise ExportError(
            f"TorchScript cannot compile {what}: {err}. Export to .pt2 instead, or make it "
            "scriptable."
        ) from err
    text = "".join(f"{key}={value}\n" for key, value in metadata.items())
    scripted.save(str(path), _extra_files={TORCHSCRIPT_METADATA_FILE: text})


def example_inputs(
    n_species: int, dtype: torch.dtype, device: str, n_atoms: int = 7, n_edges: int = 19
) -> tuple[torch.Tensor, ...]:
    """Inputs of distinct, non-trivial sizes, so tracing keeps atom and edge counts symbolic."""
    generator = torch.Generator().manual_seed(1)
    positions = torch.rand(n_atoms, 3, generator=generator, dtype=torch.float64) * 3.0
    species = torch.randint(0, n_species, (n_atoms,), generator=generator)
    src = torch.randint(0, n_atoms, (n_edges,), generator=generator)
    dst = (src + torch.randint(1, n_atoms, (n_edges,), generator=generator)) % n_atoms
    shift = torch.rand(n_edges, 3, generator=generator, dtype=torch.float64)
    nlocal = torch.tensor(n_atoms - 2)
    edges = torch.stack([src, dst])
    return tuple(t.to(device) for t in (positions, species, edges, shift, nlocal))


def trace_graph(
    graph: torch.nn.Module, dtype: torch.dtype, device: str, n_species: int
) -> torch.export.ExportedProgram:
    """The exported program of a ConservativeGraph or DirectForceGraph (contract 2 inputs)."""
    from torch.export import Dim
    from torch.fx.experimental.proxy_tensor import make_fx

    inputs = example_inputs(n_species, dtype, device)
    try:
        with torch.enable_grad():
            traced = make_fx(graph, tracing_mode="symbolic", _allow_non_fake_inputs=True)(*inputs)
        atoms, edges = Dim("atoms", min=1), Dim("edges", min=0)
        program = torch.export.export(
            traced, inputs, dynamic_shapes=({0: atoms}, {0: atoms}, {1: edges}, {0: edges}, None)
        )
    except Exception as err:  # torch raises many exception types while tracing
        raise ExportError(
            f"tracing {type(graph.model).__name__} for AOTInductor failed: {err}. Models must "
            "avoid data-dependent Python control flow; TorchScript (.pt) is the fallback."
        ) from err
    return program
