"""The AI input check (out-of-distribution guard) as plain records every layer passes around.

Before an AI run, ``inference.ood`` compares the series with what each model's manifest says
the model is for. A HARD issue (wrong modality, unreadable slices) refuses the run. A SOFT
issue (spacing or kVp outside the validated range, a gap, a tilt) lets it run only with an
override: a reason the radiologist typed, kept in the review store's audit log, with the run,
beside each of its findings and in every export. A NOTE (a kernel, kVp or slice thickness the
model accepts but its few training scans did not cover) is shown with the results and does not
block: asking for a reason on most scanners' ordinary series would teach users to click
through. The loader's geometry warnings are copied into every result, whatever the outcome.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from typing import Any

MIN_REASON_CHARS = 10
"""An override reason shorter than this is not a reason ("ok", "x")."""


class Severity(enum.Enum):
    HARD = "hard"  # the run is refused
    SOFT = "soft"  # the run needs an override with a typed reason
    NOTE = "note"  # shown with the results, does not block: accepted, but unlike the training scans


class CheckStatus(enum.Enum):
    """The input check of one run, as shown beside its findings and written into exports."""

    IN_RANGE = "in range"
    OVERRIDDEN = "run by override"
    NEEDS_OVERRIDE = "needs an override"
    REFUSED = "refused"
    NOT_RECORDED = "not recorded"  # a run stored before the input check existed


@dataclass(frozen=True)
class SeriesFacts:
    """Acquisition facts from the DICOM headers that the volume alone does not hold.

    Empty tuples and ``None`` mean "not stated in the headers": such a fact is not checked.
    Several values mean the series mixes them (e.g. two kernels).
    """

    body_part: str = ""
    kvp: tuple[float, ...] = ()
    kernels: tuple[str, ...] = ()
    slice_thickness_mm: tuple[float, ...] = ()
    contrast_agent: bool | None = None  # True: a contrast agent is named (PS3.3 C.7.6.4)
    patient_age_years: float | None = None
    headers_read: int = 0  # 0: no header was available (a volume built in memory)


@dataclass(frozen=True)
class OodIssue:
    """One way the series differs from what a model is meant for, in plain words."""

    check: str  # e.g. "modality", "slice_spacing", "kvp", "geometry:uneven_spacing"
    severity: Severity
    message: str


def reason_problem(text: str) -> str | None:
    """Why ``text`` cannot serve as an override reason, or ``None`` when it can."""
    if len(text.strip()) < MIN_REASON_CHARS:
        return (
            f"Type why the AI should run on this series anyway (at least {MIN_REASON_CHARS} characters); "
            "the reason is kept with the run and shown beside every finding."
        )
    return None


@dataclass(frozen=True)
class OodOverride:
    """The radiologist's decision to run the AI despite soft issues, and why."""

    reason: str
    os_user: str
    display_name: str = ""
    time_utc: str = ""
    override_id: int = 0  # the review store's row; 0 when it is not stored

    def __post_init__(self) -> None:
        problem = reason_problem(self.reason)
        if problem is not None:
            raise ValueError(problem)
        if not self.os_user:
            raise ValueError("an override needs the OS account that made it")

    @property
    def who(self) -> str:
        """ "Name (account)", or the account alone."""
        return f"{self.display_name} ({self.os_user})" if self.display_name else self.os_user


@dataclass(frozen=True)
class InputCheck:
    """What the guard found for one series and set of models, and the override that let it run."""

    series_uid: str
    models: tuple[str, ...]  # "id@version", segmentation first
    issues: tuple[OodIssue, ...] = ()
    geometry_warnings: tuple[str, ...] = ()
    override: OodOverride | None = None
    facts: dict[str, Any] = field(default_factory=dict)  # what was compared (values, not patient identity)

    @property
    def hard(self) -> tuple[OodIssue, ...]:
        return tuple(i for i in self.issues if i.severity is Severity.HARD)

    @property
    def soft(self) -> tuple[OodIssue, ...]:
        return tuple(i for i in self.issues if i.severity is Severity.SOFT)

    @property
    def notes(self) -> tuple[OodIssue, ...]:
        return tuple(i for i in self.issues if i.severity is Severity.NOTE)

    @property
    def status(self) -> CheckStatus:
        if self.hard:
            return CheckStatus.REFUSED
        if not self.soft:
            return CheckStatus.IN_RANGE
        return CheckStatus.NEEDS_OVERRIDE if self.override is None else CheckStatus.OVERRIDDEN

    def with_override(self, override: OodOverride) -> InputCheck:
        return replace(self, override=override)

    def lines(self) -> list[str]:
        """Status, override and every issue and warning, one plain sentence each (for reports and tooltips)."""
        out = [f"AI input check: {self.status.value}."]
        if self.override is not None:
            o = self.override
            out.append(f"Overridden by {o.who} at {o.time_utc[:19].replace('T', ' ')} UTC: {o.reason}")
        out += [f"{i.severity.value}: {i.message}" for i in self.issues]
        shown = {i.message for i in self.issues}
        out += [f"series: {w}" for w in self.geometry_warnings if w not in shown]
        return out

    def to_dict(self) -> dict[str, Any]:
        o = self.override
        return {
            "status": self.status.value,
            "series_uid": self.series_uid,
            "models": list(self.models),
            "issues": [{"check": i.check, "severity": i.severity.value, "message": i.message} for i in self.issues],
            "geometry_warnings": list(self.geometry_warnings),
            "override": None if o is None else {
                "reason": o.reason, "os_user": o.os_user, "display_name": o.display_name, "time_utc": o.time_utc,
                "override_id": o.override_id,
            },
            "facts": dict(self.facts),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InputCheck:
        """The inverse of :meth:`to_dict` (raises ``KeyError``/``ValueError`` on a malformed record)."""
        raw = data.get("override")
        override = None if raw is None else OodOverride(
            str(raw["reason"]), str(raw["os_user"]), str(raw.get("display_name", "")), str(raw.get("time_utc", "")),
            int(raw.get("override_id", 0)),
        )  # fmt: skip
        issues = tuple(OodIssue(str(i["check"]), Severity(i["severity"]), str(i["message"])) for i in data["issues"])
        return cls(
            str(data["series_uid"]), tuple(str(m) for m in data["models"]), issues,
            tuple(str(w) for w in data.get("geometry_warnings", ())), override, dict(data.get("facts", {})),
        )  # fmt: skip
