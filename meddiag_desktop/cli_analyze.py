"""``meddiag-desktop analyze``: the headless path from a folder to a findings table."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from meddiag_desktop.errors import MeddiagError
from meddiag_desktop.inference.analyze import analyze_volume, format_findings_table
from meddiag_desktop.inference.registry import ModelRegistry
from meddiag_desktop.io.scan import scan
from meddiag_desktop.io.series_loader import load_series

if TYPE_CHECKING:
    import argparse

    from meddiag_desktop.config import Settings
    from meddiag_desktop.core.records import SeriesRecord
    from meddiag_desktop.io.index import SeriesIndex


def _progress(done: int, total: int, message: str) -> None:
    if total:
        print(f"\r{message} ({done}/{total})   ", end="", file=sys.stderr, flush=True)


def _choose_series(args: argparse.Namespace, index: SeriesIndex, root: str) -> SeriesRecord:
    if args.series:
        return index.find_series(args.series)
    under = set(index.file_stamps(root))
    candidates = [
        s
        for s in index.series()
        if s.modality == "CT"
        and s.kind.value == "image"
        and under & {r.path for r in index.instances(s.series_instance_uid)}
    ]
    if not candidates:
        raise MeddiagError(f"No CT image series found under {root}; the lesion models are for chest CT.")
    return max(candidates, key=lambda s: s.frame_count)


def run_analyze(args: argparse.Namespace, index: SeriesIndex, settings: Settings) -> int:
    summary = scan(args.path, index, progress=_progress)
    series = _choose_series(args, index, summary.root)
    volumes = load_series(index, series.series_instance_uid, progress=_progress, threads=settings.reader_threads)
    volume = max(volumes, key=lambda v: v.shape[0])
    print(file=sys.stderr)
    print(f"Series {series.series_instance_uid} ({series.description or 'no description'}), {volume.shape[0]} slices")
    for warning in volume.warnings:
        print(f"warning: {warning.message}")
    registry = ModelRegistry(settings.builtin_models_dir, settings.user_models_dir)
    result = analyze_volume(
        volume,
        registry,
        seg_model_id=args.model,
        cls_model_id=None if args.no_classifier else "lung-lesion-cls",
        threads=args.threads,
        progress=_progress,
    )
    print(file=sys.stderr)
    print(format_findings_table(result))
    if args.json:
        args.json.write_text(json.dumps(result.to_dict(), indent=2), encoding="utf-8")
        print(f"wrote {args.json}")
    return 0
