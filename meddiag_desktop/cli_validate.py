"""The ``validate`` command: a lesion model on studies with reference labels, with its subgroup report."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from meddiag_desktop.cli_format import ProgressLine
from meddiag_desktop.errors import MeddiagError

if TYPE_CHECKING:
    import argparse

    from meddiag_desktop.config import Settings
    from meddiag_desktop.io.index import SeriesIndex
    from meddiag_desktop.validation.results import ValidationReport
    from meddiag_desktop.validation.subgroups import SubgroupReport


def add_validate_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    validate = sub.add_parser(
        "validate",
        help="run a lesion model on studies with reference labels (RTSTRUCT, SEG, label volumes, VOC boxes) "
        "and report per lesion and per scan",
    )
    validate.add_argument("paths", nargs="+", type=Path, help="folders (or DICOMDIRs) holding the studies")
    validate.add_argument("--model", default="lung-nodule-seg", help="segmentation model id")
    validate.add_argument("--models-dir", type=Path, help="user models folder (default: the per-user one)")
    validate.add_argument("--annotations", type=Path, help="folder of PASCAL-VOC box files named <SOPInstanceUID>.xml")
    validate.add_argument("--manifest", type=Path, help="JSON or CSV listing series folders and label volumes")
    validate.add_argument(
        "--thick", type=float, action="append", default=[], metavar="MM",
        help="also evaluate each scan with its slices averaged to about MM mm (repeatable)",
    )  # fmt: skip
    validate.add_argument(
        "--reslice", type=float, action="append", default=[], metavar="MM",
        help="also evaluate each scan resliced every MM mm, interpolated between its slices as an overlapping "
        "reconstruction (repeatable)",
    )  # fmt: skip
    validate.add_argument(
        "--pixels", type=float, action="append", default=[], metavar="MM",
        help="also evaluate each scan with its pixels averaged to MM mm, as a larger field of view (repeatable)",
    )  # fmt: skip
    validate.add_argument("--out", type=Path, default=Path("validation"), help="output folder (report and cache)")
    validate.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: all cores)")
    _add_cluster_arguments(validate)


def _add_cluster_arguments(parser: argparse.ArgumentParser) -> None:
    from meddiag_desktop.batch.arguments import add_cluster_arguments

    add_cluster_arguments(parser)


def validate_command(args: argparse.Namespace, index: SeriesIndex, settings: Settings) -> int:
    from meddiag_desktop.batch.arguments import uses_cluster
    from meddiag_desktop.inference.registry import ModelRegistry
    from meddiag_desktop.validation.cases import VariantPlan, discover_cases
    from meddiag_desktop.validation.output import write_report
    from meddiag_desktop.validation.runner import RegistryAnalyser, validate_cases
    from meddiag_desktop.validation.text import format_lesion_table, format_scan_table, format_summary

    found = discover_cases(
        args.paths, index, annotations=args.annotations, manifest=args.manifest,
        variants=VariantPlan(tuple(args.thick), tuple(args.reslice), tuple(args.pixels)), progress=ProgressLine(),
    )  # fmt: skip
    print(file=sys.stderr)
    if not found.cases:
        notes = "".join(f"\n  {n}" for n in found.notes)
        raise MeddiagError(f"No CT series with reference labels found in the given folders.{notes}")
    registry = ModelRegistry(settings.builtin_models_dir, args.models_dir or settings.user_models_dir)
    analyser = RegistryAnalyser(registry, args.model, threads=args.threads)
    if uses_cluster(args):
        from meddiag_desktop.batch.console import validate_with_cluster

        report = validate_with_cluster(args, found, analyser, index)
    else:
        report = validate_cases(found.cases, analyser, args.out, progress=ProgressLine(), notes=found.notes)
    print(file=sys.stderr)
    print(format_scan_table(report), format_lesion_table(report), format_summary(report), sep="\n\n")
    subgroups = _validation_subgroups(report, index)
    files = write_report(report, args.out, subgroups)
    print(f"wrote {files.json}\nwrote {files.html}")
    return 0


def _validation_subgroups(report: ValidationReport, index: SeriesIndex) -> SubgroupReport:
    """The subgroup (fairness) figures of a validation, their flags printed in words."""
    from meddiag_desktop.core.subgroup_table import format_flags
    from meddiag_desktop.validation.subgroups import headers_from_index, subgroup_report

    subgroups = subgroup_report(report, headers_from_index(index, report))
    print(format_flags(subgroups.table))
    return subgroups
