"""Acceptance of AI findings per subgroup (review.stats_subgroups) and `meddiag-desktop stats --subgroups`."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from meddiag_desktop.cli import main
from meddiag_desktop.config import Settings
from meddiag_desktop.core.subgroup_stats import Flag
from meddiag_desktop.core.subgroups import SubgroupHeader
from meddiag_desktop.review import audit
from meddiag_desktop.review.model import RejectReason
from meddiag_desktop.review.service import ReviewService
from meddiag_desktop.review.stats_subgroups import acceptance_by_subgroup, review_counts
from meddiag_desktop.review.store import ReviewStore
from tests.review.helpers import ai_run
from tests.validation.helpers import BIRTH_DATE, PATIENT_ID, PATIENT_NAME, ct_datasets, write_series

ACTOR = audit.Actor("radiologist1", "Dr. Test")
# (manufacturer, sex, reviews): ACME's findings are all rejected, Globex's all accepted; Initech has one review
SCANNERS = (("ACME", "F", 8), ("Globex", "M", 8), ("Initech", "M", 1))


def _series(folder: Path, manufacturer: str, sex: str) -> str:
    datasets = ct_datasets(np.full((2, 8, 8), -800, dtype=np.int16), manufacturer=manufacturer)
    for ds in datasets:
        ds.PatientSex, ds.PatientAge, ds.ConvolutionKernel = sex, "063Y", "B30f"
    write_series(folder, datasets)
    return str(datasets[0].SeriesInstanceUID)


def _review(service: ReviewService, run_id: str, series_uid: str, accept: bool) -> None:
    service.record_run(replace(ai_run(run_id), series_uid=series_uid))
    state = service.open_review(run_id)
    for fid in ("F1", "F2", "F3"):
        state = service.accept(state, fid) if accept else service.reject(state, fid, RejectReason.NOT_A_LESION, "")


@pytest.fixture
def reviewed(tmp_path: Path) -> dict[str, str]:
    """Reviews on series written to disk; returns series UID -> manufacturer."""
    uids = {}
    with ReviewStore(Settings().review_store_path) as store:
        service = ReviewService(store, ACTOR)
        for manufacturer, sex, count in SCANNERS:
            for k in range(count):
                uid = _series(tmp_path / "studies" / f"{manufacturer}{k}", manufacturer, sex)
                _review(service, f"run-{manufacturer}-{k}", uid, accept=manufacturer != "ACME")
                uids[uid] = manufacturer
    return uids


def test_acceptance_per_subgroup_flags_the_rejected_scanner(reviewed: dict[str, str]) -> None:
    with ReviewStore(Settings().review_store_path) as store:
        counts = review_counts(ReviewService(store, ACTOR))
    assert len(counts) == 17 and {c.model for c in counts} == {"lung-nodule-seg 1.0.0"}
    headers = {uid: SubgroupHeader(manufacturer=m) for uid, m in reviewed.items()}
    [model] = acceptance_by_subgroup(counts, headers)
    overall = model.table.overall.estimates["acceptance"]
    assert overall.value == pytest.approx(27 / 51) and overall.n == 51
    rows = {r.group: r for r in model.table.attribute_rows("scanner")}
    assert rows["ACME"].estimates["acceptance"].value == 0.0 and rows["ACME"].flags["acceptance"] is Flag.WORSE
    assert rows["Globex"].flags["acceptance"] is Flag.BETTER
    assert rows["Initech"].flags["acceptance"] is Flag.TOO_SMALL  # 3 findings decided
    [worse] = [w for w in model.table.worse() if w.startswith("scanner")]
    assert "scanner ACME: acceptance of AI findings 0.00" in worse and "WORSE by 0.53" in worse


def test_equal_acceptance_everywhere_is_not_flagged(reviewed: dict[str, str]) -> None:
    with ReviewStore(Settings().review_store_path) as store:
        counts = review_counts(ReviewService(store, ACTOR))
    same = [replace(c, accepted=2, decided=3) for c in counts]
    headers = {uid: SubgroupHeader(manufacturer=m) for uid, m in reviewed.items()}
    [model] = acceptance_by_subgroup(same, headers)
    assert model.table.worse() == [] and model.table.better() == []


def test_stats_cli_writes_the_subgroup_report_without_patient_identity(
    reviewed: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["scan", str(tmp_path / "studies")]) == 0  # the headers are found through the index
    out = tmp_path / "report"
    assert main(["stats", "--subgroups", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "lung-nodule-seg 1.0.0: 17 review(s)" in printed
    assert re.search(r"FLAG scanner ACME: acceptance of AI findings 0\.00 .*WORSE", printed)
    assert "FLAG sex female" in printed  # every ACME patient is a woman here
    data = json.loads((out / "subgroups.json").read_text())
    [model] = data["models"]
    scanner = {s["group"]: s for s in model["subgroups"] if s["attribute"] == "scanner"}
    assert scanner["ACME"]["metrics"]["acceptance"]["flag"] == "worse"
    assert {s["group"] for s in model["subgroups"] if s["attribute"] == "age band"} == {"60-74 y"}
    page = (out / "subgroups.html").read_text()
    assert "Acceptance of AI findings per subgroup" in page and "data:image/png;base64," in page
    for text in (page, printed, json.dumps(data)):
        assert PATIENT_NAME not in text and "Doe" not in text and PATIENT_ID not in text and BIRTH_DATE not in text
