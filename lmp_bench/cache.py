"""The per-user cache folder that every stage shares (built plugins, exported built-in
models, framework wheels); it sits below all stages so none imports another for a path."""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """Where lmp-bench caches builds: $LMP_BENCH_CACHE, else ~/.cache/lmp-bench."""
    base = os.environ.get("LMP_BENCH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "lmp-bench"
    )
    return Path(base)
