"""Helpers shared by the bench scripts: timing medians and locating the corpus."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
WORK = REPO / "bench" / "_work"


def require_corpus() -> Path:
    if not CORPUS.is_dir():
        sys.exit(f"bench needs the real corpus at {CORPUS}")
    return CORPUS


def median_seconds(fn: Callable[[], object], repeats: int = 5, setup: Callable[[], object] | None = None) -> float:
    times = []
    for _ in range(repeats):
        if setup is not None:
            setup()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def row(name: str, seconds: float, reference: float | None = None, unit: str = "ms") -> str:
    value = seconds * 1000 if unit == "ms" else seconds
    ratio = f"  {reference / seconds:6.2f}x faster than peer" if reference else ""
    return f"  {name:52} {value:9.1f} {unit}{ratio}"
