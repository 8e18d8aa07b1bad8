"""Export from the GUI on the bundled demo CT: SEG + SR, de-identified, HTML report (dialogs stubbed).

The review is a stored AI run on the demo series (two hand-made spheres, as the AI would store
them); the window restores it when the series opens, as it does after a restart. Needs only
resources/demo, not ../shared.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import highdicom as hd
import numpy as np
import pydicom
import pytest
from review_helpers import open_demo_series, settle

from meddiag_desktop.core.finding import Finding
from meddiag_desktop.inference.preprocess import pixel_sha256
from meddiag_desktop.io.export_common import RESULTS_FOLDER
from meddiag_desktop.review.records import AiRun
from meddiag_desktop.ui.dialogs import export_dialogs, review_dialogs
from meddiag_desktop.ui.main_window import MainWindow

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pytestqt.qtbot import QtBot

    from meddiag_desktop.config import Settings
    from meddiag_desktop.core.volume import Volume

pytestmark = pytest.mark.slow

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"
PATIENT = "Lung_Dx-A0001"  # the demo's Patient's Name (and Patient ID)
MODEL_REF = "lung-nodule-seg@2.1.0#sha256:" + "ab" * 32
EXPORTS = ("export", "export_deid", "report")


def _ball(volume: Volume, fid: str, centre: tuple[int, int, int], radius_mm: float) -> Finding:
    """A ball of ``radius_mm`` around voxel ``centre``, stored as the AI stores a finding (mask in its box)."""
    spacing = np.asarray(volume.spacing)
    reach = np.ceil(radius_mm / spacing).astype(int)
    lo, hi = np.asarray(centre) - reach, np.asarray(centre) + reach + 1
    grid = np.stack(np.meshgrid(*[np.arange(a, b) for a, b in zip(lo, hi, strict=True)], indexing="ij"), axis=-1)
    mask = np.linalg.norm((grid - np.asarray(centre)) * spacing, axis=-1) <= radius_mm
    return Finding(
        id=fid, centroid_index=tuple(float(c) for c in centre), centroid_lps=tuple(volume.index_to_lps(centre)),
        bbox=(*(int(v) for v in lo), *(int(v) for v in hi)), volume_ml=float(mask.sum() * np.prod(spacing)) / 1000,
        long_axis_mm=2 * radius_mm, short_axis_mm=1.8 * radius_mm, mean_hu=25.0, max_hu=65.0, mean_prob=0.8,
        max_prob=0.93, mask=mask, class_probabilities={"solid": 0.8, "subsolid": 0.2}, origin="ai",
    )  # fmt: skip


@pytest.fixture
def window(qtbot: QtBot, settings: Settings) -> Iterator[MainWindow]:
    """The demo series open with a stored, unsigned review of an AI run on it."""
    main = MainWindow(replace(settings, reviewer_display_name="Dr Test"))
    main.resize(1600, 900)
    main.show()
    qtbot.waitExposed(main)
    actions = [main.review_actions[name] for name in EXPORTS]
    open_demo_series(qtbot, main, DEMO)
    assert not any(a.isEnabled() for a in actions)  # no review open yet
    volume = main.viewer.state.volume
    assert volume is not None
    findings = (_ball(volume, "F1", (46, 300, 150), 9.0), _ball(volume, "F2", (20, 250, 350), 5.0))
    run = AiRun("run-ui", volume.series_instance_uid, main.viewer.state.info.study_uid, MODEL_REF,
                pixel_sha256(volume), {}, findings)  # fmt: skip
    main.review.review.submit(lambda service: service.record_run(run))  # through the store writer, in order
    main.review.review.open_run("run-ui")
    settle(qtbot, main)
    assert all(a.isEnabled() for a in actions) and main.review.panel.export_button.isEnabled()
    yield main
    main.close()


class Dialogs:
    """Stand-ins for the static Qt dialogs; record the titles and start folders they were opened with."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, folder: Path, pseudonym: str = "", report: Path | None = None):
        self.calls: list[tuple[str, str]] = []
        qfd, qid = export_dialogs.QFileDialog, export_dialogs.QInputDialog
        monkeypatch.setattr(qfd, "getExistingDirectory", self._record(str(folder)))
        monkeypatch.setattr(qfd, "getSaveFileName", self._record((str(report), "HTML page (*.html)")))
        monkeypatch.setattr(qid, "getText", self._record((pseudonym, True)))

    def _record(self, answer: object) -> Any:
        def dialog(_parent: object, title: str, label_or_start: str, *_args: object) -> object:
            self.calls.append((title, label_or_start))
            return answer

        return staticmethod(dialog)


def _export(qtbot: QtBot, window: MainWindow, name: str) -> str:
    """Trigger an export action, wait for its worker, return the panel's result text."""
    exports = window.review.exports
    with qtbot.waitSignals([exports.controller.busy_changed, exports.controller.finished], timeout=60000):
        window.review_actions[name].trigger()
        assert exports.busy and not window.review.panel.export_button.isEnabled()  # running in the background
    qtbot.waitUntil(lambda: window.runner.active_count == 0, timeout=10000)
    assert window.review.panel.export_button.isEnabled()
    return window.review.panel.export_status.text()


def test_export_seg_and_sr_unverified_then_verified(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "results"
    dialogs = Dialogs(monkeypatch, out)
    text = _export(qtbot, window, "export")
    title, start = dialogs.calls[0]
    assert "UNVERIFIED" in title
    assert Path(start) == DEMO / RESULTS_FOLDER  # meddiag-results/ beside the study folder
    assert not (DEMO / RESULTS_FOLDER).exists()
    files = {p.name.split("_")[0]: p for p in out.iterdir()}
    assert sorted(files) == ["SEG", "SR"]
    assert "UNVERIFIED" in text and str(out) in text and files["SEG"].name in text
    assert text in window.notes.messages()
    seg = hd.seg.segread(files["SEG"])
    assert [i.SegmentLabel.split()[0] for i in seg.SegmentSequence] == ["F1", "F2"]
    sr = hd.sr.srread(files["SR"])
    assert sr.VerificationFlag == "UNVERIFIED"
    assert pydicom.dcmread(files["SR"]).PatientName == PATIENT

    screen = window.review
    screen.review.accept()
    screen.review.accept()
    monkeypatch.setattr(review_dialogs, "confirm_sign_off", lambda *_args: True)
    screen.actions["sign"].trigger()
    settle(qtbot, window)
    assert screen.review.state is not None and screen.review.state.signoff is not None
    signed_out = tmp_path / "signed"
    dialogs = Dialogs(monkeypatch, signed_out)
    text = _export(qtbot, window, "export")
    assert "VERIFIED (signed off by Dr Test)" in dialogs.calls[0][0]
    assert "VERIFIED (signed off by Dr Test)" in text and "UNVERIFIED" not in text
    sr = hd.sr.srread(next(signed_out.glob("SR_*.dcm")))
    assert sr.VerificationFlag == "VERIFIED"


def test_deidentified_export_names_the_pseudonym_not_the_patient(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "deid"
    Dialogs(monkeypatch, out, pseudonym="  ")  # empty: refused, nothing started
    window.review_actions["export_deid"].trigger()
    assert not window.review.exports.busy and not out.exists()
    assert "needs a pseudonym" in window.review.panel.export_status.text()

    dialogs = Dialogs(monkeypatch, out, pseudonym="Study Subject 7")
    text = _export(qtbot, window, "export_deid")
    assert "UNVERIFIED" in dialogs.calls[0][0]  # the pseudonym dialog says it
    files = sorted(out.rglob("*.dcm"))
    modalities = {pydicom.dcmread(p, stop_before_pixels=True).Modality for p in files}
    assert modalities == {"CT", "SEG", "SR"} and len(files) == 64 + 2
    assert "Study Subject 7" in text and "UNVERIFIED" in text and f"{len(files)} files" in text
    for path in files:
        assert PATIENT.encode() not in path.read_bytes(), path
        header = pydicom.dcmread(path, stop_before_pixels=True)
        assert (str(header.PatientName), header.PatientID) == ("Study Subject 7", "Study Subject 7")
    seg = hd.seg.segread(next(p for p in files if p.parent.name.startswith("SEG_")))
    assert len(seg.SegmentSequence) == 2


def test_report_with_and_without_privacy(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = tmp_path / "report.html"
    dialogs = Dialogs(monkeypatch, tmp_path, report=page)
    text = _export(qtbot, window, "report")
    assert "DRAFT" in dialogs.calls[0][0]
    assert Path(dialogs.calls[0][1]).parent == DEMO / RESULTS_FOLDER
    html = page.read_text(encoding="utf-8")
    assert PATIENT in html and "DRAFT" in html
    assert str(page) in text and "DRAFT" in text

    window.view_actions["privacy"].trigger()  # privacy on screen turns it on for the report
    assert window.review.panel.report_privacy.isChecked()
    private = tmp_path / "private.html"
    Dialogs(monkeypatch, tmp_path, report=private)
    text = _export(qtbot, window, "report")
    html = private.read_text(encoding="utf-8")
    assert PATIENT not in html and "omitted (privacy)" in html
    assert "left out (privacy)" in text and str(private) in text


def test_export_errors_are_reported_in_plain_words(
    qtbot: QtBot, window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    page = tmp_path / "report.html"
    page.write_text("an earlier report", encoding="utf-8")
    Dialogs(monkeypatch, tmp_path, report=page)
    exports = window.review.exports
    with qtbot.waitSignal(exports.controller.failed, timeout=60000):
        window.review_actions["report"].trigger()
    qtbot.waitUntil(lambda: window.runner.active_count == 0, timeout=10000)
    status = window.review.panel.export_status.text()
    assert status == "Export failed: report.html already exists in " + f"{tmp_path}; nothing was overwritten."
    assert "✖ " + status.removeprefix("Export failed: ") in window.notes.messages()
    assert "Traceback" not in status and page.read_text(encoding="utf-8") == "an earlier report"
