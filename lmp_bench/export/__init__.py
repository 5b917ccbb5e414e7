"""Turn a model (see lmp_bench.models.interface) into the file pair_style mlff loads.

A model that offers ``halo_pieces()`` (lmp_bench.models.halo) is written under model
contract 3, as pieces the plugin calls layer by layer with a halo exchange between them
(lmp_bench/export/halo.py); any other model under contract 2, as one graph. Two formats:

- ``.pt2`` (default): an AOTInductor package. The forward pass *and* the autograd
  forces are traced together with make_fx (torch.export cannot export autograd.grad
  directly), exported with dynamic atom/edge counts and compiled ahead of time.
  A .pt2 runs only on the device kind (and CPU instruction set) it was compiled for.
- ``.pt``: TorchScript, for as long as the installed torch still supports it. The module
  must be scriptable.

Metadata travels inside the file; pair_styles/README.md lists the keys.
"""

from __future__ import annotations

import json
import tempfile
import uuid
import warnings
import zipfile
from pathlib import Path

import torch

from lmp_bench.export.graph import (
    TORCHSCRIPT_METADATA_FILE,
    ExportError,
    trace_graph,
    write_torchscript,
)
from lmp_bench.export.halo import export_halo, named_program_options
from lmp_bench.export.provenance import provenance_metadata
from lmp_bench.models.deployed import ConservativeGraph, DirectForceGraph
from lmp_bench.models.halo import has_halo_pieces
from lmp_bench.models.interface import validate_model

CONTRACT_GRAPH = "2"  # one graph: forces by autograd inside it
CONTRACT_HALO = "3"  # per-layer pieces and their vector-Jacobian products
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def export(
    module: torch.nn.Module,
    path: str | Path,
    *,
    dtype: str = "float64",
    device: str = "cpu",
    units: str = "metal",
    provenance: dict | None = None,
) -> Path:
    """Write `module` to `path` (.pt2: AOTInductor, .pt: TorchScript) and return the path.
    `provenance` (keys: lmp_bench.export.provenance.KEYS: training run, dataset and its
    SHA-256, test-split force MAE in meV/Å) travels in the metadata as provenance_<key>."""
    path = Path(path)
    provenance_entries = provenance_metadata(provenance or {})  # refuse bad values first
    if dtype not in DTYPES:
        raise ExportError(f"dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
    if device not in ("cpu", "cuda"):
        raise ExportError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise ExportError("device='cuda' needs a visible CUDA GPU and a CUDA build of torch")
    torch_dtype = DTYPES[dtype]
    module = module.to(dtype=torch_dtype).eval()
    props = validate_model(module, torch_dtype)
    module = module.to(device)
    metadata = {
        "lmp_bench_contract": CONTRACT_HALO if has_halo_pieces(module) else CONTRACT_GRAPH,
        "cutoff": repr(props["cutoff"]),
        "species": " ".join(props["species"]),
        "layers": str(props["num_layers"]),
        "forces": "direct" if props["direct_forces"] else "conservative",
        "dtype": dtype,
        "units": units,
        "device": device,
        "torch_version": torch.__version__,
        **provenance_entries,
    }
    if path.suffix not in (".pt2", ".pt"):
        raise ExportError(f"model file must end in .pt2 (AOTInductor) or .pt (TorchScript): {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if has_halo_pieces(module):
        pieces = module.halo_pieces()
        metadata["halo_widths"] = " ".join(str(w) for w in pieces.halo_widths)
        metadata["edge_state_width"] = str(pieces.edge_state_width)
        export_halo(module, path, metadata, torch_dtype, device, len(props["species"]))
        return path
    graph = (DirectForceGraph if props["direct_forces"] else ConservativeGraph)(module, torch_dtype)
    if path.suffix == ".pt2":
        _export_aoti(graph, path, metadata, torch_dtype, device, len(props["species"]))
    else:
        write_torchscript(graph, path, metadata, type(graph.model).__name__)
    return path


def _export_aoti(
    graph: torch.nn.Module,
    path: Path,
    metadata: dict[str, str],
    dtype: torch.dtype,
    device: str,
    n_species: int,
) -> None:
    program = trace_graph(graph, dtype, device, n_species)
    with tempfile.TemporaryDirectory() as scratch, warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)  # torch-internal notices
        # files named after this export: two processes compiling the same graph at once
        # would otherwise write the same files in inductor's cache folder, and one package
        # could take the other's half-written metadata (an empty JSON)
        options = named_program_options("graph", uuid.uuid4().hex[:12])
        options["aot_inductor.metadata"] = metadata
        written = torch._inductor.aoti_compile_and_package(
            program, package_path=str(Path(scratch) / "model.pt2"), inductor_configs=options
        )
        Path(written).replace(path)


def read_metadata(path: str | Path) -> dict[str, str]:
    """The lmp-bench metadata stored in a .pt2 or .pt model file."""
    path = Path(path)
    if path.suffix == ".pt2":
        return aoti_metadata(path)
    extra = {TORCHSCRIPT_METADATA_FILE: ""}
    torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    text = extra[TORCHSCRIPT_METADATA_FILE]
    text = text.decode() if isinstance(text, bytes) else text
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def aoti_metadata(path: Path) -> dict[str, str]:
    """Metadata of an AOTInductor package, read from its JSON inside the zip: loading the
    package would need the device it was compiled for (and crashed on a CUDA package)."""
    try:
        with zipfile.ZipFile(path) as package:
            names = [n for n in package.namelist() if n.endswith("wrapper_metadata.json")]
            # contract 3 packages hold one program per piece; "first" carries the metadata
            names.sort(key=lambda name: "/first/" not in name)
            text = package.read(names[0]) if names else None
    except zipfile.BadZipFile:
        text = None
    if text is None:
        raise ExportError(f"{path} is not an AOTInductor model package (.pt2): re-export it")
    return {key: str(value) for key, value in json.loads(text).items()}
