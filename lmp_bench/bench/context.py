"""What every stage of a bench run is handed, and what it hands back."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lmp_bench.bench.plan import BenchFolder


@dataclass
class Bench:
    """A bench run in progress: its plan, folder, how many jobs run at once, and the
    models dropped so far (a model whose stage failed skips the later stages)."""

    plan: dict
    folder: BenchFolder
    jobs: int
    heartbeat: float
    dropped: dict[str, str] = field(default_factory=dict)  # model -> stage and reason

    @property
    def data(self) -> Path:
        return Path(self.plan["data"]["path"])

    def models(self) -> list[str]:
        """The plan's models that are still in the benchmark."""
        return [m for m in self.plan["models"] if m not in self.dropped]


@dataclass
class Outcome:
    """What a stage did: how many of its pieces ran or were already complete, and which
    failed (name -> why)."""

    ran: int = 0
    skipped: int = 0
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def status(self) -> str:
        if self.failed:
            return "failed" if not self.ran else "partly failed"
        return "ran" if self.ran else "skipped (complete)"
