"""The printable review: one self-contained HTML page with decisions, key images and the notice."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from meddiag_desktop.errors import ExportError
from meddiag_desktop.inference.preprocess import pixel_sha256
from meddiag_desktop.review.model import RejectReason, ReviewState
from meddiag_desktop.review.records import AiRun
from meddiag_desktop.review.report_html import (
    COLOURS,
    NOTICE,
    REPORT_EVENT,
    ReportHeader,
    header_from_index,
    write_review_report,
)
from meddiag_desktop.review.report_images import key_slice
from meddiag_desktop.review.service import ReviewService
from tests.export_helpers import MODEL_REF, DemoSeries, sphere


def _signed(service: ReviewService, demo: DemoSeries) -> ReviewState:
    v = demo.volume
    ai = (sphere(v, "F1", (46, 300, 150), 10.0), sphere(v, "F2", (20, 250, 350), 8.0),
          sphere(v, "F3", (35, 180, 200), 5.0))  # fmt: skip
    service.record_run(AiRun("run-r", v.series_instance_uid, demo.study_uid, MODEL_REF, pixel_sha256(v), {}, ai))
    state = service.open_review("run-r")
    state = service.accept(state, "F1")
    state = service.edit(state, sphere(v, "F2", (20, 250, 350), 6.0))
    state = service.add(state, sphere(v, "R1", (30, 200, 330), 7.0, origin="radiologist"))
    state = service.reject(state, "F3", RejectReason.OTHER, "calcified granuloma")
    return service.sign_off(state, threshold=0.5)


def _page(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _images(page: str) -> list[np.ndarray]:
    blobs = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    return [imread(io.BytesIO(base64.b64decode(b)), format="png") for b in blobs]


def test_a_signed_review_is_one_self_contained_page(service: ReviewService, demo: DemoSeries, tmp_path: Path) -> None:
    state = _signed(service, demo)
    header = header_from_index(demo.index, state.series_uid)
    page = _page(write_review_report(service, state, demo.volume, tmp_path / "r.html", header))
    assert page.startswith("<!DOCTYPE html>") and "<style>" in page
    assert not re.search(r"(?i)https?:|<script|<link|<iframe|@import|url\(|src=\"(?!data:image/png;base64,)", page)
    assert NOTICE in page and "DRAFT" not in page
    assert "Signed off by <b>Rita Radiologist</b>" in page and "Reviewer: Rita Radiologist" in page
    for text in ("accepted", "accepted, outline edited (version 1)", "added by the radiologist",
                 "rejected: other (calcified granuloma)"):  # fmt: skip
        assert text in page
    assert "lung-nodule-seg" in page and "2.1.0" in page and "lung-lesion-cls" in page and "1.4.0" in page
    assert "Lung_Dx-A0001" in page and demo.study_uid in page  # the header, without privacy
    images = _images(page)
    assert len(images) == len(state.findings) == 4
    for image in images:
        assert image.shape[0] > 300 and image.shape[1] > 600


def test_each_key_image_shows_its_finding_outlined_in_the_decision_colour(
    service: ReviewService, demo: DemoSeries, tmp_path: Path
) -> None:
    state = _signed(service, demo)
    page = _page(write_review_report(service, state, demo.volume, tmp_path / "r.html", None))
    for item, image in zip(state.findings, _images(page), strict=True):
        colour = np.array([int(COLOURS[item.decision][i : i + 2], 16) / 255 for i in (1, 3, 5)])
        coloured = np.all(np.abs(image[..., :3] - colour) < 0.08, axis=-1)
        half = coloured.shape[1] // 2
        assert coloured[:, :half].sum() > 40, item.id  # the box around the finding on the whole slice
        assert coloured[:, half:].sum() > 100, item.id  # its outline on the magnified view
        assert f"Axial slice {key_slice(item.finding) + 1} through its centre" in page


def test_privacy_leaves_out_the_patient_and_study(service: ReviewService, demo: DemoSeries, tmp_path: Path) -> None:
    state = _signed(service, demo)
    page = _page(write_review_report(service, state, demo.volume, tmp_path / "r.html", None))
    assert "omitted (privacy)" in page and NOTICE in page and "rejected: other" in page
    for identifying in ("Lung_Dx-A0001", demo.study_uid, state.series_uid, "2007-04-04", "Patient ID"):
        assert identifying not in page


def test_amendments_are_listed_and_an_open_review_is_marked_draft(
    service: ReviewService, demo: DemoSeries, tmp_path: Path
) -> None:
    state = service.amend(_signed(service, demo), "F3 is a nodule after all")
    page = _page(write_review_report(service, state, demo.volume, tmp_path / "r.html", None))
    assert "Amendment history" in page and "F3 is a nodule after all" in page and "(first review)" in page
    assert "DRAFT: this review is not signed off" in page and "Review 1, version 2" in page


def test_writing_a_report_is_audited_and_never_overwrites(
    service: ReviewService, demo: DemoSeries, tmp_path: Path
) -> None:
    state = _signed(service, demo)
    header = ReportHeader("Doe^Jane", "ID1", "", "F", "", "", "", "CT", "", "1.2", "1.3")
    write_review_report(service, state, demo.volume, tmp_path / "r.html", header)
    with pytest.raises(ExportError, match="already exists"):
        write_review_report(service, state, demo.volume, tmp_path / "r.html", None)
    rows = service.store.db.execute("SELECT details FROM audit WHERE event = ?", (REPORT_EVENT,)).fetchall()
    assert [json.loads(row[0]) for row in rows] == [{"file": "r.html", "privacy": False}]
    assert "Doe, Jane" in _page(tmp_path / "r.html")
