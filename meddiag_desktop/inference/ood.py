"""The out-of-distribution guard: is this series what the models are meant for? Pure, no Qt.

:func:`assess` compares the volume (modality, units, slice and pixel spacing, the loader's
geometry warnings) and the acquisition facts read from its headers (body part, kVp, kernel,
slice thickness, contrast, age) with each model's manifest (``acceptable_ranges`` and the
optional ``input_contract``). :func:`clear` lets a run start: it raises
:class:`~meddiag_desktop.errors.OutOfDistributionError` for a hard issue and
:class:`~meddiag_desktop.errors.OverrideRequiredError` for soft issues without an override.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from meddiag_desktop.core.ood import InputCheck, OodIssue, SeriesFacts, Severity
from meddiag_desktop.core.volume import PIXEL_PROBLEMS, WarningKind
from meddiag_desktop.errors import InferenceError, OutOfDistributionError, OverrideRequiredError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from meddiag_desktop.core.volume import Volume
    from meddiag_desktop.inference.manifest import ModelManifest

GEOMETRY_HARD = PIXEL_PROBLEMS | {WarningKind.SINGLE_SLICE}
"""Loader warnings that refuse a run: pixels that are not the image, or no volume at all."""
_TOL = 1e-3
_MODEL = "{model}"  # replaced by "the AI (<model ids>)" once identical issues of several models are merged


@dataclass(frozen=True)
class _Issue:
    check: str
    severity: Severity
    template: str  # the message with ``_MODEL`` where the model is named
    model: str


def assess(volume: Volume, facts: SeriesFacts, manifests: Sequence[ModelManifest]) -> InputCheck:
    """Every way ``volume`` differs from what ``manifests`` (segmentation first) are meant for."""
    found: list[_Issue] = []
    for manifest in manifests:
        found += _model_issues(volume, facts, manifest)
    issues = [*_merge(found), *_geometry_issues(volume)]
    return InputCheck(
        series_uid=volume.series_instance_uid,
        models=tuple(f"{m.id}@{m.version}" for m in manifests),
        issues=tuple(issues),
        geometry_warnings=tuple(w.message for w in volume.warnings),
        facts=_compared(volume, facts),
    )


def clear(check: InputCheck) -> InputCheck:
    """``check`` if the run may start; otherwise the plain-words reason it may not."""
    if check.hard:
        raise OutOfDistributionError(refusal_text(check))
    if check.soft and check.override is None:
        raise OverrideRequiredError(override_text(check))
    return check


def require_for(check: InputCheck, volume: Volume, manifest: ModelManifest) -> InputCheck:
    """:func:`clear`, after making sure the check was made for this series and this model."""
    if check.series_uid != volume.series_instance_uid or f"{manifest.id}@{manifest.version}" not in check.models:
        raise InferenceError(
            f"The input check was made for another series or model than {manifest.id} {manifest.version} on series "
            f"{volume.series_instance_uid}; check the series again before running the AI."
        )
    return clear(check)


def refusal_text(check: InputCheck) -> str:
    bullets = "".join(f"\n  - {i.message}" for i in check.hard)
    return f"Not analysed: this series is outside what the AI is meant for.{bullets}"


def override_text(check: InputCheck) -> str:
    bullets = "".join(f"\n  - {i.message}" for i in check.soft)
    return (
        f"This series is outside the range the AI was validated for:{bullets}\n"
        "It is analysed only if you type why (an override, kept in the audit log and shown beside every finding)."
    )


# -- per model -------------------------------------------------------------------------------------


def _model_issues(volume: Volume, facts: SeriesFacts, m: ModelManifest) -> list[_Issue]:
    raw = [*_kind(volume, m), *_spacing(volume, facts, m), *_acquisition(facts, m), *_patient(facts, m)]
    return [_Issue(check, severity, text, m.id) for check, severity, text in raw]


Raw = tuple[str, Severity, str]


def _kind(volume: Volume, m: ModelManifest) -> list[Raw]:
    if volume.array.ndim != 3:
        return [("colour", Severity.HARD, f"The series is in colour; {_MODEL} needs greyscale {m.modality}.")]
    if not volume.modality:
        return [("modality", Severity.SOFT, f"The series does not state its modality; {_MODEL} is for {m.modality}.")]
    if volume.modality != m.modality:
        return [("modality", Severity.HARD, f"The series is {volume.modality}; {_MODEL} is for {m.modality} only.")]
    units = volume.display.units
    if units not in ("", "HU"):
        return [("units", Severity.HARD, f"The series holds {units!r}, not Hounsfield units; {_MODEL} needs HU.")]
    return []


def _spacing(volume: Volume, facts: SeriesFacts, m: ModelManifest) -> list[Raw]:
    dz, dy, dx = volume.spacing
    ranges, trained = m.acceptable_ranges, m.input_contract.training_slice_thickness_mm
    out = _outside("slice_spacing", f"Slice spacing {dz:.2f} mm", [dz], ranges.slice_thickness_mm, trained, "mm")
    odd = [t for t in facts.slice_thickness_mm if abs(t - dz) > 0.1]  # overlapping or gapped reconstructions
    out += _outside("slice_thickness", "Slice thickness {v} mm (header)", odd, ranges.slice_thickness_mm, None, "mm")
    lo, hi = ranges.pixel_spacing_mm
    if not (_within(dy, lo, hi) and _within(dx, lo, hi)):
        text = f"Pixel spacing {dy:.2f} × {dx:.2f} mm is outside the {_span(lo, hi, 'mm')} {_MODEL} accepts."
        out.append(("pixel_spacing", Severity.SOFT, text))
    return out


def _acquisition(facts: SeriesFacts, m: ModelManifest) -> list[Raw]:
    contract = m.input_contract
    out = _outside("kvp", "Tube voltage {v} kVp", facts.kvp, m.acceptable_ranges.kvp, contract.training_kvp, "kVp")
    known = {k.strip().upper() for k in contract.training_kernels}
    for kernel in facts.kernels if known else ():
        if kernel.strip().upper() not in known:
            text = (f"Reconstruction kernel {kernel!r} differs from the kernels of the training scans "
                    f"({', '.join(contract.training_kernels)}) of {_MODEL}.")  # fmt: skip
            out.append(("kernel", Severity.NOTE, text))
    out += _body_part(facts, m)
    out += _contrast(facts, contract.contrast)
    return out


def _body_part(facts: SeriesFacts, m: ModelManifest) -> list[Raw]:
    if not facts.body_part:
        return []
    allowed = m.input_contract.body_parts_examined or (m.body_part,)
    if _plain(facts.body_part) in {_plain(a) for a in allowed}:
        return []
    text = f"The series is tagged body part {facts.body_part!r}; {_MODEL} is meant for {m.body_part}."
    return [("body_part", Severity.SOFT, text)]


def _contrast(facts: SeriesFacts, wanted: str) -> list[Raw]:
    if wanted == "without" and facts.contrast_agent:
        return [("contrast", Severity.SOFT, f"The series names a contrast agent; {_MODEL} is meant for CT without.")]
    if wanted == "with" and not facts.contrast_agent:
        return [("contrast", Severity.SOFT, f"The series names no contrast agent; {_MODEL} is meant for contrast CT.")]
    return []


def _patient(facts: SeriesFacts, m: ModelManifest) -> list[Raw]:
    least = m.input_contract.min_patient_age_years
    age = facts.patient_age_years
    if least is None or age is None or age >= least:
        return []
    # The age itself is left out: these words go into exports, de-identified ones too.
    return [("patient_age", Severity.SOFT, f"The patient is younger than the {least:g} years {_MODEL} is meant for.")]


def _outside(check: str, what: str, values: Iterable[float], accepted: tuple[float, float] | None,
             trained: tuple[float, float] | None, unit: str) -> list[Raw]:  # fmt: skip
    """Values outside what the model accepts, or inside it but outside what its training scans covered."""
    out: list[Raw] = []
    for value in sorted(set(values)):
        label = what.replace("{v}", f"{value:g}")
        if accepted is not None and not _within(value, *accepted):
            out.append((check, Severity.SOFT, f"{label} is outside the {_span(*accepted, unit)} {_MODEL} accepts."))
        elif trained is not None and not _within(value, *trained):
            covered = _span(*trained, unit)
            text = f"{label} is outside the {covered} of the real training and validation scans of {_MODEL}."
            out.append((check, Severity.NOTE, text))
    return out


def _within(value: float, lo: float, hi: float) -> bool:
    return lo - _TOL <= value <= hi + _TOL


def _span(lo: float, hi: float, unit: str) -> str:
    return f"{lo:g} {unit}" if lo == hi else f"{lo:g}–{hi:g} {unit}"


def _plain(text: str) -> str:
    return re.sub(r"[^A-Z0-9]", "", text.upper())


# -- series-wide -----------------------------------------------------------------------------------


def _geometry_issues(volume: Volume) -> list[OodIssue]:
    """The loader's warnings: pixels that are not the image refuse the run, odd geometry needs an override."""
    return [
        OodIssue(f"geometry:{w.kind.value}", Severity.HARD if w.kind in GEOMETRY_HARD else Severity.SOFT, w.message)
        for w in volume.warnings
    ]


def _merge(found: list[_Issue]) -> list[OodIssue]:
    """One issue per distinct message, naming every model it concerns."""
    models: dict[tuple[str, Severity, str], list[str]] = {}
    for issue in found:
        names = models.setdefault((issue.check, issue.severity, issue.template), [])
        if issue.model not in names:
            names.append(issue.model)
    return [
        OodIssue(check, severity, template.replace(_MODEL, f"the AI ({', '.join(names)})"))
        for (check, severity, template), names in models.items()
    ]


def _compared(volume: Volume, facts: SeriesFacts) -> dict[str, Any]:
    """The values the check compared, kept with the run (the patient's age is not kept)."""
    dz, dy, dx = volume.spacing
    return {
        "modality": volume.modality, "slice_spacing_mm": round(dz, 3), "pixel_spacing_mm": [round(dy, 4), round(dx, 4)],
        "slice_thickness_mm": list(facts.slice_thickness_mm), "kvp": list(facts.kvp), "kernels": list(facts.kernels),
        "body_part": facts.body_part, "contrast_agent": facts.contrast_agent,
        "patient_age_stated": facts.patient_age_years is not None, "headers_read": facts.headers_read,
    }  # fmt: skip
