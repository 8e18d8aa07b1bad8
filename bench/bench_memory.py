"""Peak memory of `analyze` on a 275-slice 512² chest CT, against the volume it analyses.

    .venv/bin/python bench/bench_memory.py [--threads 2]

The volume is the real NSCLC-Radiomics LUNG1-001 scan (134 x 3 mm) interpolated to 275 slices
(1.46 mm): a thin-slice chest CT of the size radiologists read. Each measurement runs in a
fresh child process (peak RSS is per process):

* ``baseline``: imports + the volume in memory, nothing analysed (the floor);
* ``analyze``: the same, then ``analyze_volume`` with the shipped models (or those in ``--models``,
  e.g. a copy whose manifest turns on the coarse pass, ``postprocess.coarse_zoom``).

Target (issue 8): peak RSS <= 2.5 x the float32 volume + 400 MB.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO, WORK, require_corpus

SLICES = 275


def _volume(slices):  # type: ignore[no-untyped-def]
    from meddiag_desktop.core.volume import Volume
    from meddiag_desktop.inference.resample import Grid, from_grid
    from meddiag_desktop.io.index import SeriesIndex
    from meddiag_desktop.io.scan import scan
    from meddiag_desktop.io.series_loader import load_series

    folder = require_corpus() / "nsclc_radiomics" / "LUNG1-001" / "ct"
    WORK.mkdir(parents=True, exist_ok=True)
    with SeriesIndex(WORK / "memory_index.sqlite") as index:
        scan(folder, index)
        [series] = index.series()
        [thick] = load_series(index, series.series_instance_uid)
    step = thick.spacing[0] * (thick.shape[0] - 1) / (slices - 1)
    affine = thick.affine.copy()
    affine[:3, 0] = thick.affine[:3, 0] / thick.spacing[0] * step
    shape = (slices, thick.shape[1], thick.shape[2])
    origin = thick.affine[:3, 3]
    grid = Grid((float(origin[0]), float(origin[1]), float(origin[2])), thick.spacing, thick.shape)
    array = from_grid(np.asarray(thick.array, dtype=np.float32), grid, affine, shape, fill=-1024.0)
    return Volume(array, affine, thick.frame_of_reference_uid, thick.series_instance_uid, "CT")


def _saved_volume(slices=SLICES):  # type: ignore[no-untyped-def]
    """The bench volume, built once and kept as .npy so children load just the array."""
    from meddiag_desktop.core.volume import Volume

    suffix = "" if slices == SLICES else f"_{slices}"
    array_path, meta_path = WORK / f"memory_volume{suffix}.npy", WORK / f"memory_volume{suffix}.json"
    if not array_path.exists():
        volume = _volume(slices)
        np.save(array_path, volume.array)
        meta_path.write_text(json.dumps({"affine": volume.affine.tolist(), "uid": volume.series_instance_uid}))
    meta = json.loads(meta_path.read_text())
    return Volume(np.load(array_path), np.asarray(meta["affine"]), series_instance_uid=meta["uid"], modality="CT")


def child(mode: str, threads: int, slices: int, models: Path) -> None:
    import meddiag_desktop.inference.analyze  # noqa: F401  (imports count in the floor)

    volume = _saved_volume(slices)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {"volume_mb": volume.array.astype(np.float32, copy=False).nbytes / 2**20, "baseline_mb": before}
    if mode == "analyze":
        from meddiag_desktop.inference.analyze import analyze_volume
        from meddiag_desktop.inference.registry import ModelRegistry

        registry = ModelRegistry(models)
        check = _bench_override(volume, registry)
        t0 = time.perf_counter()
        result = analyze_volume(volume, registry, threads=threads, input_check=check)
        out["seconds"] = time.perf_counter() - t0
        out["findings"] = len(result.findings)
    out["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(out))


def _bench_override(volume, registry):  # type: ignore[no-untyped-def]
    """Slices thinner than the model accepts (e.g. 1,000 over a 400 mm chest) run by override, as a user would."""
    from meddiag_desktop.core.ood import OodOverride, SeriesFacts
    from meddiag_desktop.inference import ood

    check = ood.assess(volume, SeriesFacts(), [registry.entry("lung-nodule-seg").manifest])
    return check.with_override(OodOverride("memory bench: thin slices", "bench")) if check.soft else check


def _run(mode: str, threads: int, slices: int, models: Path) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--child", mode, "--threads", str(threads), "--slices", str(slices)]
    cmd += ["--models", str(models)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--slices", type=int, default=SLICES, help="interpolate the scan to this many slices")
    parser.add_argument("--models", type=Path, default=REPO / "models", help="the built-in models folder to use")
    parser.add_argument("--child", choices=("build", "baseline", "analyze"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "build":
        _saved_volume(args.slices)
        return 0
    if args.child:
        child(args.child, args.threads, args.slices, args.models)
        return 0
    # Linux keeps ru_maxrss across fork + exec: a child would inherit the peak of a big parent,
    # so even building the volume happens in a child, and this parent stays small.
    subprocess.run([sys.executable, __file__, "--child", "build", "--slices", str(args.slices)], check=True)
    base = _run("baseline", args.threads, args.slices, args.models)
    run = _run("analyze", args.threads, args.slices, args.models)
    vol = run["volume_mb"]
    target = 2.5 * vol + 400
    print(f"volume: {args.slices} x 512 x 512 float32 = {vol:.0f} MB")
    print(f"  imports + volume only (peer floor): peak {base['peak_mb']:.0f} MB = {base['peak_mb'] / vol:.2f}x volume")
    print(
        f"  analyze ({args.threads} threads, {run['seconds']:.1f} s, {run['findings']:.0f} findings): peak "
        f"{run['peak_mb']:.0f} MB = {run['peak_mb'] / vol:.2f}x volume; added by analysis "
        f"{run['peak_mb'] - base['peak_mb']:.0f} MB"
    )
    verdict = "meets" if run["peak_mb"] <= target else "misses"
    print(f"  target 2.5 x volume + 400 MB = {target:.0f} MB: {verdict} it ({run['peak_mb'] / target:.2f}x of target)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
