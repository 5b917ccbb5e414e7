"""The energy part of a test score, shared by every trainer's `test`."""

from __future__ import annotations

import math


def energy_scores(energy_mae_meV: float, atoms: int) -> dict[str, float | None]:
    """Energy MAE (meV) and per atom; None, not NaN, for forces-only data (alanine), so
    JSON stays valid and tables show the metric as missing."""
    if math.isnan(energy_mae_meV):
        return {"energy_mae_meV": None, "energy_mae_meV_per_atom": None}
    return {"energy_mae_meV": energy_mae_meV, "energy_mae_meV_per_atom": energy_mae_meV / atoms}


def score_line(result: dict) -> str:
    """'energy MAE ... meV (... meV/atom), force MAE ... meV/A' with units, n/a for
    forces-only data."""
    energy = result["energy_mae_meV"]
    energy_text = (
        "energy MAE n/a (forces-only data)"
        if energy is None
        else f"energy MAE {energy:.2f} meV ({result['energy_mae_meV_per_atom']:.3f} meV/atom)"
    )
    return f"{energy_text}, force MAE {result['force_mae_meV_per_A']:.2f} meV/A"
