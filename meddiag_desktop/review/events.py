"""Typed audit events that are not review decisions (those live in ``service``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from meddiag_desktop.core.export_model import ExportedObject

EXPORT_EVENT = "results_exported"


@dataclass(frozen=True)
class ExportEvent:
    """What the audit log keeps of one export: UIDs and file names, never the folder.

    A folder name may hold a patient's name, and the audit log never does.
    """

    study_uid: str
    series_uid: str
    source: str  # "review 3 v2" or "unreviewed AI run"
    model_ref: str
    verified: bool
    findings: int
    lesions: int
    objects: tuple[ExportedObject, ...]

    def details(self) -> dict[str, Any]:
        files = [
            {"kind": o.kind.value, "file": PurePath(o.path).name, "sop_instance_uid": o.sop_instance_uid}
            for o in self.objects
        ]
        return {"source": self.source, "verified": self.verified, "findings": self.findings,
                "lesions": self.lesions, "files": files}  # fmt: skip
