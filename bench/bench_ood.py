"""The AI input check's cost next to what every run already pays: loading the series.

    .venv/bin/python bench/bench_ood.py [--repeats 7]

On the bundled demo CT (64 x 512^2, RLE) it times, as medians of repeats in one run:
* the input check: three header reads (``io.acquisition.facts_for_volume``) and the comparison
  with both shipped manifests (``inference.ood.assess``);
* its peer: ``load_series`` of the same series (decode and rescale every slice).
and prints their ratio (the check's share of the load).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from meddiag_desktop.inference import ood
from meddiag_desktop.inference.registry import ModelRegistry
from meddiag_desktop.io.acquisition import facts_for_volume
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.scan import scan
from meddiag_desktop.io.series_loader import load_series


def _median_ms(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    registry = ModelRegistry(REPO / "models")
    manifests = [registry.verify(m).manifest for m in ("lung-nodule-seg", "lung-lesion-cls")]
    with tempfile.TemporaryDirectory() as tmp, SeriesIndex(Path(tmp) / "index.sqlite") as index:
        scan(REPO / "resources" / "demo", index)
        uid = max(index.series(), key=lambda s: s.frame_count).series_instance_uid
        volume = load_series(index, uid, threads=1)[0]
        check_ms = _median_ms(lambda: ood.assess(volume, facts_for_volume(index, volume), manifests), args.repeats)
        load_ms = _median_ms(lambda: load_series(index, uid, threads=1), args.repeats)
    print(f"input check (3 headers + both manifests): {check_ms:7.1f} ms")
    print(f"load_series of the same series (peer):     {load_ms:7.1f} ms")
    print(f"check / load: {check_ms / load_ms:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
