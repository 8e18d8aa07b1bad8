"""Oversight in the GUI (synthetic chest, no corpus): sign-off confirmation, amendment on Run AI, history,
read-first mode, auto-run, both model cards, statistics view."""

from __future__ import annotations

import csv
import os
import pwd
from dataclasses import replace
from typing import TYPE_CHECKING

import pytest
from review_helpers import chest_volume, settle, wait_saved, write_model

from meddiag_desktop.config import ReadingMode
from meddiag_desktop.review.model import Decision, ReviewStatus, SignOffSummary
from meddiag_desktop.review.store import ReviewStore
from meddiag_desktop.ui.dialogs import review_dialogs
from meddiag_desktop.ui.main_window import MainWindow
from meddiag_desktop.ui.viewer.state import SeriesInfo

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from pytestqt.qtbot import QtBot

    from meddiag_desktop.config import Settings

STUDY = "1.2.3.9"


@pytest.fixture
def make_window(qtbot: QtBot, settings: Settings, tmp_path: Path) -> Iterator[Callable[..., MainWindow]]:
    for task, model_id in (("segmentation", "lung-nodule-seg"), ("classification", "lung-lesion-cls")):
        write_model(tmp_path / "models", model_id, task)
    opened: list[MainWindow] = []

    def make(**changes: object) -> MainWindow:
        base = replace(settings, builtin_models_dir=tmp_path / "models", inference_threads=1,
                       reviewer_display_name="Dr Who")  # fmt: skip
        main = MainWindow(replace(base, **changes))  # type: ignore[arg-type]
        opened.append(main)
        main.resize(1400, 800)
        main.show()
        qtbot.waitExposed(main)
        volume = chest_volume()
        main.viewer.state.set_volume(volume, SeriesInfo(series_uid=volume.series_instance_uid, study_uid=STUDY))
        main.viewer.state.finish_loading(volume)
        return main

    yield make
    for main in opened:
        main.close()


@pytest.fixture
def window(make_window: Callable[..., MainWindow]) -> MainWindow:
    return make_window()


def _run(qtbot: QtBot, window: MainWindow) -> None:
    with qtbot.waitSignal(window.review.analysis.finished, timeout=30000):
        window.review_actions["run"].trigger()
    settle(qtbot, window)


def _decide_all_and_sign(window: MainWindow, monkeypatch: pytest.MonkeyPatch) -> None:
    screen = window.review
    while screen.review.state is not None and screen.review.state.undecided:
        screen.review.select(screen.review.state.undecided[0])
        window.review_actions["accept"].trigger()
    monkeypatch.setattr(review_dialogs, "confirm_sign_off", lambda *_args: True)
    window.review_actions["sign"].trigger()
    wait_saved(window)
    assert screen.review.state is not None and screen.review.state.status is ReviewStatus.SIGNED


def _audit_events(window: MainWindow) -> list[str]:
    settings = window.studies.settings
    with ReviewStore(settings.review_store_path, settings.config_dir) as store:
        return [row[0] for row in store.db.execute("SELECT event FROM audit ORDER BY seq")]


# -- sign-off -------------------------------------------------------------------------------------


def test_sign_off_dialog_shows_summary_and_needs_the_box_ticked(qtbot: QtBot) -> None:
    summary = SignOffSummary(accepted=2, rejected=1, edited=1, added=1, undecided=0, mask_edits=2,
                             reasons=(("artefact", 1),))  # fmt: skip
    dialog = review_dialogs.SignOffDialog(summary, 3, "alice", "Dr Alice")
    qtbot.addWidget(dialog)
    text = dialog.summary.text()
    for part in ("version 3", "Accepted: 2", "Rejected: 1 (1 artefact)", "Edited (accepted with a corrected mask): 1",
                 "Lesions you added: 1", "Mask edits saved: 2", "Undecided: 0", "Dr Alice",
                 "OS account <b>alice"):  # fmt: skip
        assert part in text
    assert not dialog.sign_button.isEnabled()
    dialog.confirm.setChecked(True)
    assert dialog.sign_button.isEnabled()
    dialog.confirm.setChecked(False)
    assert not dialog.sign_button.isEnabled()


def test_sign_off_is_confirmed_every_time_and_signed_as_the_os_account(
    qtbot: QtBot, make_window: Callable[..., MainWindow], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOGNAME", "impostor")
    monkeypatch.setenv("USER", "impostor")
    window = make_window()
    account = pwd.getpwuid(os.getuid()).pw_name
    assert window.review.review.actor.os_user == account
    _run(qtbot, window)
    screen = window.review
    screen.review.select(screen.review.state.undecided[0])
    window.review_actions["accept"].trigger()
    asked: list[tuple[SignOffSummary, str, str]] = []

    def decline(_parent: object, summary: SignOffSummary, _version: int, os_user: str, name: str) -> bool:
        asked.append((summary, os_user, name))
        return False

    monkeypatch.setattr(review_dialogs, "confirm_sign_off", decline)
    window.review_actions["sign"].trigger()
    wait_saved(window)
    window.review_actions["sign"].trigger()
    wait_saved(window)
    assert len(asked) == 2  # asked every time, also after the name is known
    assert asked[0][0].accepted == 1 and asked[0][1:] == (account, "Dr Who")
    assert screen.review.state.status is ReviewStatus.OPEN
    _decide_all_and_sign(window, monkeypatch)
    signoff = screen.review.state.signoff
    assert signoff is not None and (signoff.os_user, signoff.display_name) == (account, "Dr Who")
    assert f"SIGNED by Dr Who ({account})" in screen.panel.status.text()


# -- Run AI on a signed review, history ------------------------------------------------------------


def test_run_ai_on_signed_review_asks_then_opens_an_amendment_and_history_reaches_v1(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = window.review
    _run(qtbot, window)
    _decide_all_and_sign(window, monkeypatch)
    signed = screen.review.state
    monkeypatch.setattr(review_dialogs, "ask_amend_for_run", lambda *_args: None)
    window.review_actions["run"].trigger()
    wait_saved(window)
    assert not screen.analysis.busy and screen.review.state == signed  # declined: nothing ran, nothing moved

    monkeypatch.setattr(review_dialogs, "ask_amend_for_run", lambda *_args: "new prior study")
    _run(qtbot, window)
    state = screen.review.state
    assert (state.review_id, state.version, state.status) == (signed.review_id, 2, ReviewStatus.OPEN)
    assert state.run_id != signed.run_id and all(f.decision is Decision.PENDING for f in state.findings)
    assert "amendment: new prior study" in screen.panel.status.text()

    history = screen.oversight.history
    texts = [history.table.item(r, 3).text() for r in range(history.table.rowCount())]
    assert "version 1 signed off" in texts and "amendment opened: new prior study" in texts
    assert sum(t.startswith("AI run") for t in texts) == 2
    assert any(t.endswith("accepted") for t in texts)
    who = [history.table.item(r, 4).text() for r in range(history.table.rowCount())]
    assert any(w.startswith("Dr Who (") for w in who)
    history.select_version(1)
    assert history.open_button.isEnabled()
    history.open_button.click()
    wait_saved(window)
    old = screen.review.state
    assert old.version == 1 and old.historical and old.status is ReviewStatus.SIGNED and old.run_id == signed.run_id
    assert not screen.panel.accept_button.isEnabled() and not screen.panel.amend_button.isEnabled()
    assert "v1 of 2 (from the history)" in screen.panel.status.text()
    history.current_button.click()
    wait_saved(window)
    assert screen.review.state.version == 2 and screen.panel.add_button.isEnabled()
    assert "amendment_opened" in _audit_events(window)


# -- read first --------------------------------------------------------------------------------------


def test_read_first_hides_the_ai_until_revealed(qtbot: QtBot, window: MainWindow) -> None:
    screen = window.review
    window.reading_actions[ReadingMode.READ_FIRST].trigger()
    assert window.studies.settings.with_preferences().reading_mode is ReadingMode.READ_FIRST
    assert not screen.panel.auto_run.isEnabled()
    _run(qtbot, window)
    state = screen.review.state
    assert state is not None and state.ai_hidden and len(state.findings) >= 1
    assert screen.panel.table.rowCount() == 0 and screen.overlays.available_heat() == ()
    assert not any(screen.review.visible(f) for f in state.findings)
    assert screen.panel.reveal_button.isVisible() and not screen.panel.sign_button.isEnabled()
    assert not any("found" in m and "finding(s)" in m for m in window.notes.messages())
    assert "finding" not in window.status_label.text()  # not even a count before the reveal
    assert "hidden" in screen.panel.reading_label.text()

    own = state.findings[0].finding  # the radiologist marks the same lesion the AI found
    screen.review.add(replace(own, id="R1", origin="radiologist", class_probabilities={}))
    assert screen.panel.table.rowCount() == 1
    window.review_actions["reveal"].trigger()
    wait_saved(window)
    state = screen.review.state
    assert not state.ai_hidden and screen.panel.table.rowCount() == len(state.findings)
    assert screen.overlays.available_heat() and not screen.panel.reveal_button.isVisible()
    assert "AI revealed at" in screen.panel.reading_label.text()
    assert "ai_revealed" in _audit_events(window)
    settings = window.studies.settings
    with ReviewStore(settings.review_store_path, settings.config_dir) as store:
        outcome = store.db.execute("SELECT outcome, matched_id FROM reading_outcomes WHERE finding_id = 'R1'")
        assert outcome.fetchone() == ("independent", state.findings[0].id)


def test_auto_run_is_honoured_in_concurrent_mode_only(
    qtbot: QtBot, make_window: Callable[..., MainWindow], settings: Settings
) -> None:
    window = make_window(auto_run_ai=True)
    screen = window.review
    assert screen.panel.auto_run.isChecked() and screen.auto_run
    uid = window.viewer.state.volume.series_instance_uid
    with qtbot.waitSignal(screen.analysis.finished, timeout=30000):
        screen.on_series_loaded(uid)
    window.close()

    read_first = make_window(auto_run_ai=True, reading_mode=ReadingMode.READ_FIRST,
                             data_dir=settings.data_dir / "second")  # fmt: skip
    assert read_first.review.panel.auto_run.isChecked() and not read_first.review.auto_run
    read_first.review.on_series_loaded(read_first.viewer.state.volume.series_instance_uid)
    assert not read_first.review.analysis.busy and read_first.review.review.state is None
    read_first.review.panel.auto_run.setChecked(False)
    assert read_first.studies.settings.with_preferences().auto_run_ai is False


# -- statistics ---------------------------------------------------------------------------------------


def test_statistics_view_lists_the_model_and_saves_csv(
    qtbot: QtBot, window: MainWindow, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _run(qtbot, window)
    _decide_all_and_sign(window, monkeypatch)
    screen = window.review
    with qtbot.waitSignal(screen.oversight.stats.ready, timeout=30000):
        window.review_actions["stats"].trigger()
    dialog = screen.oversight.stats_dialog
    assert dialog is not None and dialog.isVisible() and dialog.table.rowCount() == 1
    row = [dialog.table.item(0, c).text() for c in range(dialog.table.columnCount())]
    assert row[0].startswith("lung-nodule-seg") and "lung-lesion-cls" in row[0]
    assert row[7] == "100%" and row[8] == "0%"
    out = tmp_path / "stats.csv"
    screen.oversight.save_stats_csv(out)
    with out.open(encoding="utf-8") as handle:
        assert next(csv.DictReader(handle))["model"] == "lung-nodule-seg"
    dialog.close()
