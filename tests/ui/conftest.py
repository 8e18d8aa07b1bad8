"""pytest-qt fixtures: offscreen Qt, isolated settings, synthetic volumes and a leak guard."""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before anything imports Qt

import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from meddiag_desktop.config import Settings
from meddiag_desktop.ui import workers

if TYPE_CHECKING:
    from collections.abc import Iterator

    from pytestqt.qtbot import QtBot

    from meddiag_desktop.ui.main_window import MainWindow


SHARED = Path(__file__).resolve().parents[2].parent / "shared"
DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo"


@pytest.fixture
def shared_corpus() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"../shared is absent ({SHARED}); corpus tests need it")
    return SHARED / "corpus"


@pytest.fixture
def demo_folder() -> Path:
    """The demo lung CT bundled in resources/demo: end-to-end tests run on it without ../shared."""
    assert any(DEMO.rglob("*.dcm")), f"the bundled demo CT is missing from {DEMO}"
    return DEMO


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", config_dir=tmp_path / "config", reader_threads=2)


@pytest.fixture
def window(qtbot: QtBot, settings: Settings) -> Iterator[MainWindow]:
    """The main window on isolated settings, shown at 1400 x 800 (a test module may define its own)."""
    from meddiag_desktop.ui.main_window import MainWindow  # after QT_QPA_PLATFORM is set

    main = MainWindow(settings)
    main.resize(1400, 800)
    main.show()
    qtbot.waitExposed(main)
    yield main
    main.close()


@pytest.fixture(autouse=True)
def _no_leaks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail a test that leaves a worker running, a Python thread alive or a window open."""
    runners: list[workers.TaskRunner] = []
    original_init = workers.TaskRunner.__init__

    def tracking_init(self: workers.TaskRunner, *args: object, **kwargs: object) -> None:
        original_init(self, *args, **kwargs)  # type: ignore[arg-type]
        runners.append(self)

    monkeypatch.setattr(workers.TaskRunner, "__init__", tracking_init)
    before = {t.ident for t in threading.enumerate()}
    yield
    from PySide6.QtGui import QGuiApplication

    app = QGuiApplication.instance()
    if app is not None:
        app.processEvents()
        # Native windows, not ``QApplication.topLevelWidgets()``: wrapping every top-level widget
        # for Python touched one that Qt was still tearing down (a segfault in QObject::property).
        open_windows = [w.title() or w.objectName() for w in QGuiApplication.topLevelWindows() if w.isVisible()]
        assert not open_windows, f"test left windows open: {open_windows}"
    busy = [r for r in runners if _alive(r) and r.active_count]
    assert not busy, "test left background tasks running (QThreadPool workers)"
    leaked = [t for t in threading.enumerate() if t.ident not in before and not isinstance(t, threading._DummyThread)]
    for thread in leaked:
        thread.join(timeout=2)
    assert not [t for t in leaked if t.is_alive()], f"test leaked threads: {leaked}"


def _alive(runner: workers.TaskRunner) -> bool:
    try:
        runner.objectName()
    except RuntimeError:  # the C++ object is already deleted: nothing can be running
        return False
    return True
