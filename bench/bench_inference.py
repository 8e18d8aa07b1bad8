"""Inference speed: pipeline overhead, onnxruntime vs PyTorch eager, int8, whole demo CT.

    .venv/bin/python bench/bench_inference.py [--threads 2] [--work-dir /tmp/meddiag_training_work]

Prints ratios measured in one run (medians of repeats):
* pipeline overhead: segmentation as the app runs it (neighbour stacks or sliding windows,
  padding, sigmoid, blending) vs bare ``session.run`` over the same network inputs;
* onnxruntime (all graph optimisations) vs PyTorch eager on the same weights and patch
  (needs torch and the training checkpoint ``seg.pt`` from ``python -m training.build_models``);
* int8 dynamic quantisation: speed and accuracy delta on the demo CT;
* the whole demo CT (64 x 512^2) segmented + classified, wall time and peak RSS (child process).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from meddiag_desktop.inference import analyze
from meddiag_desktop.inference.preprocess import normalise, to_model_input
from meddiag_desktop.inference.registry import ModelRegistry
from meddiag_desktop.inference.session import ModelSession, SessionOptions
from meddiag_desktop.inference.slice_stack import ALIGN, slice_stack
from meddiag_desktop.inference.sliding_window import sliding_window, window_starts

SEG, CLS = "lung-nodule-seg", "lung-lesion-cls"


def _median_time(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def _demo_volume():  # type: ignore[no-untyped-def]
    from training.evaluate import load_real_volume

    return load_real_volume()[0]


def _segment(image, spec, run):  # type: ignore[no-untyped-def]
    if spec.layout == "NSHW":
        return slice_stack(image, spec.slice_offsets, spec.patch_size, spec.overlap, run, 0.0)
    return sliding_window(image, spec.patch_size, spec.overlap, run, 0.0)


def _raw_inputs(image, spec) -> list[np.ndarray]:  # type: ignore[no-untyped-def]
    """The exact network inputs the pipeline builds (single in-plane tile for NSHW)."""
    patch = spec.patch_size
    if spec.layout == "NSHW":
        d, h, w = image.shape
        idx = np.clip(np.arange(d)[:, None] + np.asarray(spec.slice_offsets)[None, :], 0, d - 1)
        ph, pw = (-h) % ALIGN, (-w) % ALIGN
        return [
            np.ascontiguousarray(np.pad(image[idx[z : z + patch[0]]], ((0, 0), (0, 0), (0, ph), (0, pw))))
            for z in range(0, d, patch[0])
        ]
    starts = [window_starts(max(n, p), p, o) for n, p, o in zip(image.shape, patch, spec.overlap, strict=True)]
    padded = np.pad(image, [(0, max(0, p - n)) for n, p in zip(image.shape, patch, strict=True)])
    return [
        np.ascontiguousarray(padded[z : z + patch[0], y : y + patch[1], x : x + patch[2]][None, None])
        for z in starts[0]
        for y in starts[1]
        for x in starts[2]
    ]


def bench_overhead(session: ModelSession, volume, repeats: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    spec = session.manifest.input
    prep = to_model_input(volume, session.manifest)
    image = normalise(prep.hu[prep.crop_slices], spec)
    inputs = _raw_inputs(image, spec)
    run = analyze._patch_fn(session)
    raw = _median_time(lambda: [session.run(p) for p in inputs], repeats)
    pipe = _median_time(lambda: _segment(image, spec, run), repeats)
    return {
        "windows": len(inputs),
        "raw_session_run_s": raw,
        "pipeline_s": pipe,
        "overhead_pct": 100 * (pipe / raw - 1),
    }


def bench_torch(session: ModelSession, work: Path, threads: int, repeats: int) -> dict[str, float] | None:
    try:
        import torch

        from training.net25d import OFFSETS, Ensemble, UNet2D
    except ImportError:
        return None
    if not (work / "seg.pt").exists():
        return None
    torch.set_num_threads(threads)
    state = torch.load(work / "seg.pt", weights_only=True)
    members = len({key.split(".")[1] for key in state if key.startswith("members.")})
    model = Ensemble([UNet2D() for _ in range(members)])
    model.load_state_dict(state)
    model.eval()
    rng = np.random.default_rng(0)
    batch = session.manifest.input.patch_size[0]
    x = rng.random((batch, len(OFFSETS), 288, 288), dtype=np.float32)
    with torch.no_grad():
        xt = torch.from_numpy(x)
        model(xt)
        t_torch = _median_time(lambda: model(xt), repeats)
        diff = float(np.abs(model(xt).numpy() - session.run(x)).max())
    session.run(x)
    t_ort = _median_time(lambda: session.run(x), repeats)
    return {"torch_eager_s": t_torch, "onnxruntime_s": t_ort, "speedup": t_torch / t_ort, "max_abs_logit_diff": diff}


def bench_int8(registry: ModelRegistry, volume, threads: int) -> dict[str, float] | None:  # type: ignore[no-untyped-def]
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        return None
    verified = registry.verify(SEG)
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(verified.model_bytes)
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8)
        q = ModelSession(verified.manifest, dst.read_bytes(), SessionOptions(threads=threads))
    f = registry.session(SEG, SessionOptions(threads=threads))
    prep = to_model_input(volume, f.manifest)
    spec = f.manifest.input
    image = normalise(prep.hu[prep.crop_slices], spec)
    results = {}
    for name, s in (("fp32", f), ("int8", q)):
        t0 = time.perf_counter()
        results[name] = _segment(image, spec, analyze._patch_fn(s))
        results[name + "_s"] = time.perf_counter() - t0  # type: ignore[assignment]
    a, b = results["fp32"] >= 0.5, results["int8"] >= 0.5
    dice = 2 * (a & b).sum() / max(a.sum() + b.sum(), 1)
    return {
        "fp32_s": float(results["fp32_s"]),
        "int8_s": float(results["int8_s"]),  # type: ignore[arg-type]
        "speedup": float(results["fp32_s"]) / float(results["int8_s"]),  # type: ignore[arg-type]
        "max_abs_prob_diff": float(np.abs(results["fp32"] - results["int8"]).max()),
        "mask_dice_int8_vs_fp32": float(dice),
    }


def demo_child(threads: int) -> None:
    """Run in a fresh process: load + analyse the demo CT, print JSON with time and peak RSS."""
    t0 = time.perf_counter()
    volume = _demo_volume()
    t_load = time.perf_counter() - t0
    registry = ModelRegistry(REPO / "models")
    t1 = time.perf_counter()
    result = analyze.analyze_volume(volume, registry, threads=threads)
    t_an = time.perf_counter() - t1
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "load_s": t_load,
                "analyze_s": t_an,
                "findings": len(result.findings),
                "peak_rss_mb": rss,
                "table": analyze.format_findings_table(result),
            }
        )
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/meddiag_training_work"))
    parser.add_argument("--demo-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.demo_child:
        demo_child(args.threads)
        return 0
    out = subprocess.run(
        [sys.executable, __file__, "--demo-child", "--threads", str(args.threads)],
        capture_output=True,
        text=True,
        check=True,
    )
    demo = json.loads(out.stdout.strip().splitlines()[-1])
    print(demo.pop("table"))
    print(
        f"whole demo CT: load {demo['load_s']:.1f} s + segment/classify {demo['analyze_s']:.1f} s "
        f"({args.threads} threads), {demo['findings']} findings, peak RSS {demo['peak_rss_mb']:.0f} MB"
    )
    registry = ModelRegistry(REPO / "models")
    session = registry.session(SEG, SessionOptions(threads=args.threads))
    volume = _demo_volume()
    ov = bench_overhead(session, volume, args.repeats)
    print(
        f"pipeline overhead: {ov['pipeline_s']:.2f} s vs raw session.run {ov['raw_session_run_s']:.2f} s "
        f"over {ov['windows']} windows -> {ov['overhead_pct']:+.1f} %"
    )
    tr = bench_torch(session, args.work_dir, args.threads, args.repeats)
    if tr is None:
        print("onnxruntime vs torch: skipped (needs torch and seg.pt from training.build_models)")
    else:
        print(
            "onnxruntime vs torch eager (one network input of the pipeline's size): "
            f"{tr['onnxruntime_s'] * 1000:.0f} ms vs {tr['torch_eager_s'] * 1000:.0f} ms -> "
            f"{tr['speedup']:.2f}x (max |logit diff| {tr['max_abs_logit_diff']:.1e})"
        )
    q = bench_int8(registry, volume, args.threads)
    if q is not None:
        print(
            f"int8 dynamic quantisation: {q['int8_s']:.2f} s vs fp32 {q['fp32_s']:.2f} s -> "
            f"{q['speedup']:.2f}x; max |prob diff| {q['max_abs_prob_diff']:.3f}, "
            f"mask Dice vs fp32 {q['mask_dice_int8_vs_fp32']:.3f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
