"""The ``batch`` command's arguments and the cluster options shared with ``validate``.

Light on purpose: building the command line imports this, and neither dask nor the models.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from meddiag_desktop.batch.cluster import ClusterSpec

if TYPE_CHECKING:
    import argparse

DEFAULT_SEG_MODEL = "lung-nodule-seg"


def add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("where the tasks run (dask.distributed)")
    group.add_argument(
        "--scheduler", metavar="tcp://HOST:PORT",
        help="use this existing Dask cluster (starts nothing; connects nowhere else)",
    )  # fmt: skip
    group.add_argument("--workers", type=int, metavar="N", help="local cluster: worker processes (default: cores)")
    group.add_argument("--threads-per-worker", type=int, metavar="N", help="local cluster: threads (default: 1)")
    group.add_argument(
        "--memory-limit", metavar="SIZE", help="local cluster: per worker, e.g. 4GiB (default: the RAM shared evenly)"
    )


def uses_cluster(args: argparse.Namespace) -> bool:
    return any(getattr(args, name, None) for name in ("scheduler", "workers", "threads_per_worker", "memory_limit"))


def cluster_spec(args: argparse.Namespace) -> ClusterSpec:
    return ClusterSpec(args.scheduler, args.workers, args.threads_per_worker, args.memory_limit)


def add_batch_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    batch = sub.add_parser(
        "batch", help="analyse every chest CT series under the folders, one Dask task each; resumable"
    )
    batch.add_argument("paths", nargs="+", type=Path, help="folders (or DICOMDIRs) on a path every worker can read")
    batch.add_argument("--out", type=Path, default=Path("batch-results"), help="results folder (results.sqlite)")
    batch.add_argument("--model", default=DEFAULT_SEG_MODEL, help="segmentation model id")
    batch.add_argument("--no-classifier", action="store_true", help="skip the lesion classifier")
    batch.add_argument("--models-dir", type=Path, help="user models folder (default: each worker's per-user one)")
    batch.add_argument(
        "--export-seg-sr", action="store_true",
        help="also write each series' findings as DICOM SEG + TID 1500 SR (UNVERIFIED) into OUT/exports/",
    )  # fmt: skip
    add_cluster_arguments(batch)
