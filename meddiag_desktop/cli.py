"""Command line: ``meddiag-desktop [PATH]`` opens the app; sub-commands work headless."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from meddiag_desktop import __version__
from meddiag_desktop.cli_format import ProgressLine
from meddiag_desktop.cli_validate import add_validate_parser, validate_command
from meddiag_desktop.config import Settings, make_private_dir
from meddiag_desktop.errors import MeddiagError
from meddiag_desktop.logs import parse_log_level, session_logging

if TYPE_CHECKING:
    from collections.abc import Sequence

    from meddiag_desktop.core.ood import InputCheck
    from meddiag_desktop.core.records import SeriesRecord
    from meddiag_desktop.core.volume import Volume
    from meddiag_desktop.inference.analyze import AnalysisResult
    from meddiag_desktop.inference.registry import ModelRegistry
    from meddiag_desktop.io.index import SeriesIndex
    from meddiag_desktop.review.model import ReviewState
    from meddiag_desktop.review.records import RunSummary
    from meddiag_desktop.review.service import ReviewService
    from meddiag_desktop.review.store import ReviewStore

log = logging.getLogger(__name__)

COMMANDS = ("scan", "info", "analyze", "export", "deidentify", "report", "validate", "batch", "audit", "stats")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``meddiag-desktop`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    settings = Settings().with_preferences()
    try:
        with session_logging(settings, parse_log_level(os.environ.get("MEDDIAG_LOG_LEVEL"))):
            _make_private_data_dir(settings)
            command = args[0] if args and args[0] in COMMANDS else "gui"
            log.debug("meddiag-desktop %s: %s", __version__, command)  # never the arguments: paths can name patients
            if command != "gui":
                return _run_command(_command_parser().parse_args(args), settings)
            return _run_gui(_gui_parser().parse_args(args), settings)
    except MeddiagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


def _make_private_data_dir(settings: Settings) -> None:
    """The index and the review store hold patient data: owner-only folder (POSIX)."""
    try:
        make_private_dir(settings.data_dir)
    except OSError as exc:
        log.warning("the data folder %s cannot be made: %s", settings.data_dir, exc.strerror)


def _gui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="meddiag-desktop",
        description="Review CT/MR studies with local AI help. Sub-commands: " + ", ".join(COMMANDS),
    )
    parser.add_argument("path", nargs="?", type=Path, help="DICOM folder or DICOMDIR to open")
    parser.add_argument("--offscreen", action="store_true", help="run without a display (Qt offscreen)")
    parser.add_argument("--screenshot", type=Path, help="save a PNG of the window once the study is shown, then quit")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def _command_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="meddiag-desktop")
    sub = parser.add_subparsers(dest="command", required=True)
    scan = sub.add_parser("scan", help="index a folder and print its studies and series")
    scan.add_argument("path", type=Path)
    info = sub.add_parser("info", help="print the geometry of an indexed series")
    info.add_argument("series", help="Series Instance UID (or a unique prefix of it)")
    analyze = sub.add_parser("analyze", help="scan, load and run the lesion models; print the findings")
    analyze.add_argument("path", type=Path, help="DICOM folder or DICOMDIR")
    analyze.add_argument("--model", default="lung-nodule-seg", help="segmentation model id")
    analyze.add_argument("--no-classifier", action="store_true", help="skip the lesion classifier")
    analyze.add_argument("--series", help="Series Instance UID (or prefix); default: the largest CT series")
    analyze.add_argument("--json", type=Path, help="also write the findings and provenance as JSON")
    analyze.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: all cores)")
    analyze.add_argument(
        "--override-ood", metavar="REASON",
        help="run on a series outside the models' validated range (spacing, kVp, kernel, gap, tilt...); "
        "the reason is recorded in the audit log and kept with the result",
    )  # fmt: skip
    analyze.add_argument(
        "--export-dir", type=Path, metavar="DIR",
        help="also write the findings as DICOM SEG + TID 1500 SR (UNVERIFIED: not yet reviewed) into DIR",
    )  # fmt: skip
    _add_export_parser(sub)
    _add_deidentify_parser(sub)
    _add_report_parser(sub)
    add_validate_parser(sub)
    _add_batch_parser(sub)
    audit = sub.add_parser("audit", help="check or export the tamper-evident audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    audit_sub.add_parser(
        "verify", help="check the chain, its authentication, the facts and the checkpoint; names what was tampered with"
    )
    export = audit_sub.add_parser("export", help="write the audit log out")
    export.add_argument("--csv", type=Path, required=True, help="output CSV file")
    stats = sub.add_parser(
        "stats", help="per model, version and month: findings shown, acceptance, rejection reasons, added, Dice"
    )
    stats.add_argument("--csv", type=Path, help="also write the table to this CSV file")
    stats.add_argument(
        "--subgroups", type=Path, metavar="DIR",
        help="also write the acceptance of AI findings per subgroup (sex, age, scanner, kernel, thickness, "
        "contrast; flagged where it is worse) as subgroups.json and subgroups.html into DIR",
    )  # fmt: skip
    return parser


def _add_export_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    export = sub.add_parser(
        "export", help="write a stored review as DICOM SEG + TID 1500 SR (VERIFIED once signed off)"
    )
    which = export.add_mutually_exclusive_group(required=True)
    which.add_argument("--review", type=int, metavar="ID", help="the review to export (see --list)")
    which.add_argument("--list", action="store_true", help="list the stored reviews and their ids")
    export.add_argument("dir", nargs="?", type=Path, help="output folder (default: meddiag-results/ beside the study)")
    export.add_argument(
        "--deidentify", metavar="PSEUDONYM",
        help="write the series with the SEG and SR, all de-identified (PS3.15 Annex E), the patient named PSEUDONYM",
    )  # fmt: skip


def _add_deidentify_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    deid = sub.add_parser(
        "deidentify",
        help="write a study or series de-identified: PS3.15 Annex E Basic Profile, dates shifted, new UIDs",
    )
    deid.add_argument("path", type=Path, help="a DICOM file or a folder holding one patient's study or series")
    deid.add_argument("out", type=Path, help="output folder (each export gets its own sub-folder)")
    deid.add_argument("--pseudonym", required=True, help="replaces the patient's name and ID in every file")
    deid.add_argument("--series", help="only this series (Series Instance UID or a unique prefix)")
    deid.add_argument(
        "--include-burned-in", action="store_true",
        help="also export US, SC and XA images that may show identifying text in their pixels (check them first)",
    )  # fmt: skip


def _add_report_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = sub.add_parser("report", help="write a stored review as one printable, self-contained HTML page")
    report.add_argument("--review", type=int, required=True, metavar="ID", help="the review (see export --list)")
    report.add_argument("out", type=Path, help="the HTML file to write (never overwritten)")
    report.add_argument("--privacy", action="store_true", help="leave the patient and study details out")


def _add_batch_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from meddiag_desktop.batch.arguments import add_batch_parser

    add_batch_parser(sub)


def _run_command(args: argparse.Namespace, settings: Settings) -> int:
    from meddiag_desktop.io.index import SeriesIndex

    if args.command == "audit":
        return _audit(args, settings)
    if args.command == "stats":
        return _stats(args, settings)
    if args.command == "deidentify":
        return _deidentify(args)
    with SeriesIndex(settings.index_path) as index:
        if args.command == "scan":
            return _scan(args.path, index)
        if args.command == "info":
            return _info(args.series, index)
        if args.command == "analyze":
            return _analyze(args, index, settings)
        if args.command == "export":
            return _export(args, index, settings)
        if args.command == "report":
            return _report(args, index, settings)
        if args.command == "validate":
            return validate_command(args, index, settings)
        if args.command == "batch":
            from meddiag_desktop.batch.console import run_batch_command

            return run_batch_command(args, index, settings, ProgressLine())
    raise MeddiagError(f"Unknown command {args.command}")


def _scan(path: Path, index: SeriesIndex) -> int:
    from meddiag_desktop.cli_format import format_problems, format_series_table
    from meddiag_desktop.io.scan import scan

    def progress(done: int, total: int, message: str) -> None:
        if total and (done == total or done % 500 == 0):
            print(f"\r{message}", end="", file=sys.stderr, flush=True)

    summary = scan(path, index, progress=progress)
    print(file=sys.stderr)
    print(
        f"{summary.files_seen} files: {summary.files_parsed} read, {summary.files_unchanged} unchanged, "
        f"{summary.files_removed} removed ({summary.seconds:.2f} s)"
    )
    print(format_series_table(index, summary.root))
    if summary.problems:
        print(format_problems(summary.problems))
    return 0


def _info(series: str, index: SeriesIndex) -> int:
    from meddiag_desktop.cli_format import format_plan
    from meddiag_desktop.io.series_loader import plan_series

    record = index.find_series(series)
    for number, plan in enumerate(plan_series(index, record.series_instance_uid), start=1):
        print(format_plan(number, plan))
    return 0


def _analyze_progress(done: int, total: int, message: str) -> None:
    if total:
        print(f"\r{message} ({done}/{total})   ", end="", file=sys.stderr, flush=True)


def _choose_series(args: argparse.Namespace, index: SeriesIndex, root: str) -> SeriesRecord:
    """The series named by --series, else the largest CT image series under ``root``."""
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


def _analyze(args: argparse.Namespace, index: SeriesIndex, settings: Settings) -> int:
    from meddiag_desktop.cli_format import format_problems
    from meddiag_desktop.inference.analyze import analyze_volume, format_findings_table
    from meddiag_desktop.inference.registry import ModelRegistry
    from meddiag_desktop.io.scan import scan
    from meddiag_desktop.io.series_loader import load_series

    summary = scan(args.path, index, progress=_analyze_progress)
    series = _choose_series(args, index, summary.root)
    volumes = load_series(
        index, series.series_instance_uid, progress=_analyze_progress, threads=settings.reader_threads
    )
    volume = max(volumes, key=lambda v: v.shape[0])
    print(file=sys.stderr)
    print(f"Series {series.series_instance_uid} ({series.description or 'no description'}), {volume.shape[0]} slices")
    if summary.problems:  # the good series is analysed; the files left out are named, with why (issue 12)
        print(f"Left out of the analysis: {format_problems(summary.problems)}")
    registry = ModelRegistry(settings.builtin_models_dir, settings.user_models_dir)
    check = _input_check(args, index, volume, registry, series.study_instance_uid, settings)
    log.debug("analyze: %d slices with %s (classifier: %s)", volume.shape[0], args.model, not args.no_classifier)
    result = analyze_volume(
        volume,
        registry,
        seg_model_id=args.model,
        cls_model_id=None if args.no_classifier else "lung-lesion-cls",
        threads=args.threads,
        progress=_analyze_progress,
        input_check=check,
    )
    print(file=sys.stderr)
    print(format_findings_table(result))
    if args.json:
        args.json.write_text(json.dumps(result.to_dict(), indent=2), encoding="utf-8")
        print(f"wrote {args.json}")
    if args.export_dir:
        _export_analysis(result, series, volume, index, settings, args.export_dir)
    return 0


def _input_check(args: argparse.Namespace, index: SeriesIndex, volume: Volume, registry: ModelRegistry,
                 study_uid: str, settings: Settings) -> InputCheck:  # fmt: skip
    """The series against the models' intended use: refused (hard issues) or run only with --override-ood (soft)."""
    from meddiag_desktop.core.ood import CheckStatus
    from meddiag_desktop.errors import OverrideRequiredError
    from meddiag_desktop.inference import ood
    from meddiag_desktop.io.acquisition import facts_for_volume
    from meddiag_desktop.review.ood_record import record_override
    from meddiag_desktop.review.store import ReviewStore

    ids = [args.model, *([] if args.no_classifier else ["lung-lesion-cls"])]
    manifests = [m for m in (registry.entry(i).manifest for i in ids) if m is not None]
    check = ood.assess(volume, facts_for_volume(index, volume), manifests)
    if check.status is CheckStatus.NEEDS_OVERRIDE and args.override_ood is not None:
        with ReviewStore(settings.review_store_path, settings.config_dir) as store:
            check = record_override(_review_service(store, settings), check, study_uid, "; ".join(check.models),
                                    args.override_ood)  # fmt: skip
        issues = "".join(f"\n  - {i.message}" for i in check.soft)
        print(f"Input check overridden (override {check.override.override_id if check.override else '?'}, "
              f"recorded in the audit log):{issues}")  # fmt: skip
    elif args.override_ood is not None and check.status is CheckStatus.IN_RANGE:
        print("note: the series is within the models' validated range; --override-ood was not needed or recorded.")
    try:
        return ood.clear(check)
    except OverrideRequiredError as exc:
        raise OverrideRequiredError(f'{exc}\nTo run anyway, give the reason: --override-ood "why"') from None


def _review_service(store: ReviewStore, settings: Settings) -> ReviewService:
    from meddiag_desktop.review.audit import Actor
    from meddiag_desktop.review.service import ReviewService

    return ReviewService(store, Actor.current(settings.reviewer_display_name))


def _export_analysis(
    result: AnalysisResult, series: SeriesRecord, volume: Volume, index: SeriesIndex, settings: Settings, folder: Path
) -> None:
    from meddiag_desktop.cli_format import format_export
    from meddiag_desktop.review.export import export_analysis
    from meddiag_desktop.review.store import ReviewStore

    if not result.findings:
        print("No findings: there is nothing to export.")
        return
    with ReviewStore(settings.review_store_path, settings.config_dir) as store:
        service = _review_service(store, settings)
        written = export_analysis(service, result, series.study_instance_uid, index, volume, folder)
    print(format_export(written, verified=False))


def _export(args: argparse.Namespace, index: SeriesIndex, settings: Settings) -> int:
    from meddiag_desktop.cli_format import format_export, format_reviews
    from meddiag_desktop.io.export_common import default_export_dir
    from meddiag_desktop.review.export import export_review
    from meddiag_desktop.review.store import ReviewStore

    with ReviewStore(settings.review_store_path, settings.config_dir) as store:
        service = _review_service(store, settings)
        if args.list:
            print(format_reviews(service.reviews()))
            return 0
        state = service.restore(args.review)
        volume = _volume_of_run(index, service.run_summary(state.run_id), settings)
        folder = args.dir or default_export_dir(index, state.series_uid)
        if args.deidentify:
            return _export_deidentified(service, state, index, volume, folder, args.deidentify)
        written = export_review(service, state, index, volume, folder)
    print(format_export(written, verified=state.signoff is not None))
    return 0


def _export_deidentified(
    service: ReviewService, state: ReviewState, index: SeriesIndex, volume: Volume, folder: Path, pseudonym: str
) -> int:
    from meddiag_desktop.cli_format import format_deidentified
    from meddiag_desktop.core.deid_model import DeidentifyOptions
    from meddiag_desktop.review.export import export_review_deidentified

    options = DeidentifyOptions(pseudonym)
    result = export_review_deidentified(service, state, index, volume, folder, options, ProgressLine())
    print(file=sys.stderr)
    print(format_deidentified(result, include_burned_in=False))
    return 0 if result.files else 1


def _deidentify(args: argparse.Namespace) -> int:
    from meddiag_desktop.cli_format import format_deidentified
    from meddiag_desktop.core.deid_model import DeidentifyOptions
    from meddiag_desktop.io.deid_export import deidentify_path

    options = DeidentifyOptions(args.pseudonym, include_burned_in=args.include_burned_in)
    result = deidentify_path(args.path, args.out, options, series=args.series, progress=ProgressLine())
    print(file=sys.stderr)
    print(format_deidentified(result, include_burned_in=args.include_burned_in))
    return 0 if result.files else 1


def _report(args: argparse.Namespace, index: SeriesIndex, settings: Settings) -> int:
    from meddiag_desktop.review.report_html import header_from_index, write_review_report
    from meddiag_desktop.review.store import ReviewStore

    with ReviewStore(settings.review_store_path, settings.config_dir) as store:
        service = _review_service(store, settings)
        state = service.restore(args.review)
        volume = _volume_of_run(index, service.run_summary(state.run_id), settings)
        header = None if args.privacy else header_from_index(index, state.series_uid)
        path = write_review_report(service, state, volume, args.out, header)
    print(f"wrote {path}" + (" (patient and study details omitted)" if args.privacy else ""))
    if state.signoff is None:
        print("The review is not signed off: the page says DRAFT.")
    return 0


def _volume_of_run(index: SeriesIndex, run: RunSummary, settings: Settings) -> Volume:
    """The volume the AI run saw, recognised by its pixel hash (the masks are on its grid)."""
    from meddiag_desktop.errors import ExportError, StudyIndexError
    from meddiag_desktop.inference.preprocess import pixel_sha256
    from meddiag_desktop.io.series_loader import load_series

    try:
        index.find_series(run.series_uid)
    except StudyIndexError as exc:
        raise ExportError(
            f"Series {run.series_uid} is not in the study index; scan its folder first (meddiag-desktop scan PATH)."
        ) from exc
    for volume in load_series(index, run.series_uid, threads=settings.reader_threads):
        if pixel_sha256(volume) == run.input_pixel_sha256:
            return volume
    raise ExportError(
        f"The images of series {run.series_uid} differ from those the AI analysed (pixel hash), so the masks "
        "would not fit them; nothing was exported."
    )


def _audit(args: argparse.Namespace, settings: Settings) -> int:
    from meddiag_desktop.review.store import ReviewStore

    with ReviewStore(settings.review_store_path, settings.config_dir) as store:
        if args.audit_command == "export":
            count = store.export_audit_csv(args.csv)
            print(f"wrote {count} audit entries to {args.csv}")
            return 0
        report = store.verify_audit((settings.builtin_models_dir, settings.user_models_dir))
    store_id = f"store {report.store_id[:8]}…, " if report.store_id else ""
    if report.ok:
        print(f"OK: {report.reason} ({store_id}{settings.review_store_path})")
    else:
        where = f" at entry {report.first_broken}" if report.first_broken is not None else ""
        print(f"BROKEN{where}: {report.reason} ({store_id}{settings.review_store_path})")
        for problem in report.problems[1:]:
            print(f"  - {problem}")
    for note in report.notes:
        print(f"  {note}")
    return 0 if report.ok else 1


def _stats(args: argparse.Namespace, settings: Settings) -> int:
    from meddiag_desktop.review.stats import format_table, model_stats, write_csv
    from meddiag_desktop.review.store import ReviewStore

    with ReviewStore(settings.review_store_path, settings.config_dir) as store:
        rows = model_stats(_review_service(store, settings))
        if args.subgroups is not None:
            _stats_subgroups(_review_service(store, settings), settings, args.subgroups)
    print(format_table(rows))
    if args.csv is not None:
        write_csv(rows, args.csv)
        print(f"wrote {len(rows)} row(s) to {args.csv}")
    return 0


def _stats_subgroups(service: ReviewService, settings: Settings, folder: Path) -> None:
    """Acceptance per subgroup: flags printed, JSON and HTML written into ``folder``."""
    from meddiag_desktop.io.index import SeriesIndex
    from meddiag_desktop.review import stats_subgroups as sg
    from meddiag_desktop.validation.report import DISCLAIMER
    from meddiag_desktop.validation.subgroup_html import subgroup_page

    counts = sg.review_counts(service)
    with SeriesIndex(settings.index_path) as index:
        models = sg.acceptance_by_subgroup(counts, sg.headers_from_index(index, counts))
    print(sg.format_subgroups(models))
    folder.mkdir(parents=True, exist_ok=True)
    sg.write_subgroups_json(models, folder / "subgroups.json")
    sections = [(f"{m.model}: {m.reviews} review(s)", m.table) for m in models]
    intro = "AI findings accepted (as is or edited) among those decided, per review's newest version."
    page = subgroup_page("Acceptance of AI findings per subgroup", sections, intro, DISCLAIMER)
    (folder / "subgroups.html").write_text(page, encoding="utf-8")
    print(f"wrote {folder / 'subgroups.json'}\nwrote {folder / 'subgroups.html'}")


def _run_gui(args: argparse.Namespace, settings: Settings) -> int:
    # Imported only here so that headless commands never load Qt.
    app = importlib.import_module("meddiag_desktop.app")
    code: int = app.run_gui(settings, path=args.path, offscreen=args.offscreen, screenshot=args.screenshot)
    return code
