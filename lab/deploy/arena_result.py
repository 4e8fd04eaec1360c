"""What the runtime arena found: one Entry per contestant (eager torch, then every file), the Arena table.

    arena.rows()            # one dict per file: runtime, precision, KB, parity, acc_%, us@b, x@b, mem_KB
    arena.text()            # the table as plain text, with the int8 verdict and the files' notes
    save_arena(run_dir, arena, "mlp")     # run_dir/arena.json, written atomically
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..history import atomic_write_text
from ..tables import format_table
from .base import Artifact

KB = 1000
ARENA_FILE = "arena.json"


@dataclass
class Entry:
    """One contestant: eager torch (``artifact`` None) or a runtime's file."""

    runtime: str                                  # "torch" or a runtime's label
    precision: str
    artifact: Artifact | None = None
    bytes: int | None = None
    max_abs_diff: dict[str, float] = field(default_factory=dict)    # per output, against eager torch
    agreement: dict[str, float] = field(default_factory=dict)       # int8: argmax agreement per output
    metrics: dict[str, float] = field(default_factory=dict)         # test metric per task
    latency_us: dict[int, float] = field(default_factory=dict)      # batch -> median µs per call
    speedup: dict[int, float] = field(default_factory=dict)         # batch -> eager torch time / this time
    memory_bytes: int | None = None

    @property
    def metric(self) -> float | None:
        return sum(self.metrics.values()) / len(self.metrics) if self.metrics else None

    def parity(self) -> str:
        if self.artifact is None:
            return "reference"
        worst = max(self.max_abs_diff.values()) if self.max_abs_diff else float("nan")
        if self.precision == "fp32":
            return f"{worst:.1e}"
        agree = min(self.agreement.values()) if self.agreement else None
        return (f"argmax {100 * agree:.1f}%, " if agree is not None else "") + f"max {worst:.2g}"


@dataclass
class Arena:
    """The arena's result: eager torch first, then one Entry per file; ``rows()`` for tables."""

    label: str
    entries: list[Entry]
    batches: tuple[int, ...]
    threads: int
    seconds: float = 0.0

    def rows(self) -> list[dict[str, Any]]:
        rows = []
        for e in self.entries:
            row: dict[str, Any] = {"runtime": e.runtime, "precision": e.precision,
                                   "KB": None if e.bytes is None else e.bytes / KB, "parity": e.parity(),
                                   "acc_%": None if e.metric is None else 100 * e.metric}
            for b in self.batches:
                row[f"us@{b}"] = e.latency_us.get(b)
                row[f"x@{b}"] = e.speedup.get(b)
            row["mem_KB"] = None if e.memory_bytes is None else e.memory_bytes / KB
            rows.append(row)
        return rows

    def int8_verdict(self) -> list[str]:
        """Where int8 wins: each runtime's int8 time against its own fp32 and against eager torch."""
        lines = []
        by = {(e.runtime, e.precision): e for e in self.entries}
        for (runtime, precision), e in by.items():
            fp32 = by.get((runtime, "fp32"))
            if precision != "int8" or fp32 is None or not e.latency_us:
                continue
            parts = []
            for b in self.batches:
                if b in e.latency_us and b in fp32.latency_us:
                    r = fp32.latency_us[b] / e.latency_us[b]
                    parts.append(f"batch {b}: {r:.2f}x its fp32 ({'faster' if r > 1 else 'slower'}), "
                                 f"{e.speedup[b]:.1f}x eager torch")
            lines.append(f"{runtime} int8 - " + "; ".join(parts))
        return lines

    def text(self) -> str:
        head = (f"{self.label}: {len(self.entries) - 1} file(s); us: median microseconds per call, "
                f"{self.threads} thread(s), interleaved rounds; x@b: eager torch fp32 time / this time "
                f"(same round); parity: max |runtime - torch| (int8: argmax agreement, max logit difference)")
        outputs = next((list(e.max_abs_diff) for e in self.entries if len(e.max_abs_diff) > 1), None)
        if outputs:
            head += f"\noutputs: {', '.join(outputs)} (parity and argmax agreement: the worst of them)"
        notes = list(dict.fromkeys(n for e in self.entries if e.artifact is not None for n in e.artifact.notes))
        tail = self.int8_verdict() + [f"note: {n}" for n in notes]
        return head + "\n" + format_table(self.rows(), digits=3) + ("\n" + "\n".join(tail) if tail else "")


def save_arena(run_dir: str | os.PathLike, arena: Arena, exported: str) -> Path:
    """Write ``run_dir/arena.json`` (atomically): what was exported, the rows, the text, the files."""
    files = {f"{e.runtime} {e.precision}": [str(p) for p in e.artifact.files] for e in arena.entries if e.artifact}
    return atomic_write_text(Path(run_dir) / ARENA_FILE, json.dumps(
        {"exported": exported, "label": arena.label, "threads": arena.threads, "batches": list(arena.batches),
         "seconds": arena.seconds, "rows": arena.rows(), "files": files, "text": arena.text()},
        indent=1, default=str))
