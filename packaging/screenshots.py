"""Screenshots for the README: the real app under Xvfb on the demo lung CT.

Run: ``.venv/bin/python packaging/screenshots.py`` (needs Debian's ``xvfb``; ImageMagick's
``import`` is used for a whole-screen capture when present). Writes to docs/screenshots/:
- ``mpr_lung.png``: browser + 1×3 MPR, lung window, privacy on
- ``axial_measurements.png``: single axial view with a length and an ellipse ROI
- ``xvfb_screen.png``: the X screen as ImageMagick sees it (proves it ran on a real X server)
  (``--viewer-only`` takes just these three)
- ``review.png``: the AI review screen: findings panel, overlays in 1×3, heat map + colour bar,
  the decision-support notice (``--models DIR`` picks the models, default ``models/``;
  ``--fixture-models`` uses the tiny test fixtures instead, for when the real ones are not ready)
- ``export_actions.png``: after Run AI, File/AI review ▸ Export SEG + SR… into the pre-filled
  ``meddiag-results/`` beside a copy of the demo study: the export buttons and the result message
  (``--export-only`` takes just this one; ``--models`` / ``--fixture-models`` as above)
- ``overlay_style.png``, ``reformat_coronal.png``, ``corrupt_banner.png`` (``--reading-only`` takes
  just these): the default AI overlay look (outline, heat map only around the selected finding)
  on a finding over lung; a smooth coronal reformat of the 5 mm demo; the banner and badge on
  ``JPEGLossless_1s_1f_i_16_16_bad.dcm`` from the corpus (a crafted noisy demo slice without it)
- ``mip_slab.png`` (``--slab-only`` takes just this one): an axial 10 mm MIP over the lungs of the
  demo, set through the toolbar's slab controls
- ``reading_1280x720.png`` and ``layout_2x2.png`` (``--screen-only`` takes just these): the reading
  screen as it opens at 1280×720 (browser on its strip, 1×3, findings panel), and the 2×2 layout
  at 1600×900

``--size WxH`` sets the window size of the other shots (default 1600x900).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from meddiag_desktop.ui.main_window import MainWindow

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
DISPLAY = ":93"
ONLY_FLAGS = ("--review-only", "--export-only", "--reading-only", "--slab-only", "--screen-only", "--viewer-only")


def demo_folder() -> Path:
    demo = ROOT / "resources" / "demo"
    if any(demo.rglob("*.dcm")):
        return demo
    return ROOT.parent / "shared" / "corpus" / "lung_pet_ct_dx"


def outer() -> int:
    """Start Xvfb, run this script inside it, stop Xvfb."""
    xvfb = subprocess.Popen(["Xvfb", DISPLAY, "-screen", "0", "1680x1000x24", "-nolisten", "tcp"])
    try:
        time.sleep(1.0)
        env = {**os.environ, "DISPLAY": DISPLAY, "QT_QPA_PLATFORM": "xcb"}
        extra = [a for a in sys.argv[1:] if a not in ONLY_FLAGS]
        if "--screen-only" in sys.argv:
            return _inner(env, ["--inner-screen"])
        if "--viewer-only" in sys.argv:
            return _inner(env, ["--inner", *extra])
        if "--slab-only" in sys.argv:
            return _inner(env, ["--inner-slab", *extra])
        if "--export-only" in sys.argv:
            return _inner(env, ["--inner-export", *extra])
        if "--reading-only" in sys.argv:
            return _inner(env, ["--inner-reading", *extra])
        codes = [] if "--review-only" in sys.argv else [_inner(env, ["--inner", *extra])]
        codes.append(_inner(env, ["--inner-review", *extra]))
        codes.append(_inner(env, ["--inner-export", *extra]))
        codes.append(_inner(env, ["--inner-reading", *extra]))
        codes.append(_inner(env, ["--inner-slab", *extra]))
        codes.append(_inner(env, ["--inner-screen"]))
        return max(codes)
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=10)


def _inner(env: dict[str, str], args: list[str]) -> int:
    return subprocess.run([sys.executable, __file__, *args], env=env, cwd=ROOT, check=False).returncode


def run_under_xvfb(script: str, args: list[str], display: str) -> int:
    """Start Xvfb on ``display``, run ``script`` with ``args`` inside it (Qt on xcb), stop Xvfb."""
    xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1680x1000x24", "-nolisten", "tcp"])
    try:
        time.sleep(1.0)
        env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
        return subprocess.run([sys.executable, script, *args], env=env, cwd=ROOT, check=False).returncode
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=10)


def window_size() -> tuple[int, int]:
    """``--size WxH`` from the command line, else 1600x900."""
    if "--size" not in sys.argv:
        return (1600, 900)
    width, height = sys.argv[sys.argv.index("--size") + 1].lower().split("x")
    return (int(width), int(height))


def shoot(settings: Any, folder: Path, target: Path, before_save: Any, size: tuple[int, int] | None = None) -> int:
    """Open ``folder`` in the main window like a user; ``before_save(window)`` sets the scene of ``target``.

    The window is ``size`` (default: ``--size``, else 1600x900).
    """
    from PySide6.QtWidgets import QApplication

    from meddiag_desktop.ui.main_window import MainWindow
    from meddiag_desktop.ui.screenshot import ScreenshotDriver

    app = QApplication.instance() or QApplication(sys.argv[:1])
    window = MainWindow(settings)
    window.resize(*(size or window_size()))
    window.move(0, 0)
    driver = ScreenshotDriver(window, target, before_save=before_save)
    window.show()
    window.open_path(folder)
    app.exec()
    return driver.exit_code


def wait_until_idle(busy_changed: Any, timeout_ms: int) -> None:
    """Run the event loop until ``busy_changed`` says idle (or the timeout)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    busy_changed.connect(lambda busy: None if busy else loop.quit())
    QTimer.singleShot(timeout_ms, loop.quit)
    loop.exec()


def run_ai(win: Any, timeout_ms: int) -> None:
    """Run AI on the open series and wait for its result (the input check before it is busy on its own)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    win.review.analysis.finished.connect(lambda _outcome: loop.quit())
    QTimer.singleShot(timeout_ms, loop.quit)
    win.review.actions["run"].trigger()
    loop.exec()
    wait_for(lambda: win.review.review.state is not None, 60_000)  # the store writer opens the review


def wait_for(condition: Any, timeout_ms: int) -> bool:
    """Process events until ``condition()`` holds (or the timeout); returns whether it held."""
    from PySide6.QtWidgets import QApplication

    deadline = time.monotonic() + timeout_ms / 1000.0
    while not condition() and time.monotonic() < deadline:
        QApplication.processEvents()
        time.sleep(0.01)
    return bool(condition())


def inner() -> int:
    """Inside Xvfb: open the demo like a user, take the shots."""
    sys.path.insert(0, str(ROOT))
    from PySide6.QtWidgets import QApplication

    from meddiag_desktop.config import Settings
    from meddiag_desktop.ui.viewer.measure_model import MeasureKind
    from meddiag_desktop.ui.viewer.orientation import Plane
    from meddiag_desktop.ui.viewer.viewer_widget import Layout

    OUT.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", config_dir=Path(tmp) / "config")

        def before_save(win: MainWindow) -> None:
            win.view_actions["preset1"].trigger()  # lung window
            win.view_actions["privacy"].trigger()
            _settle(app)
            if shutil.which("import"):
                subprocess.run(["import", "-window", "root", str(OUT / "xvfb_screen.png")], check=False)
            win.grab().save(str(OUT / "mpr_lung.png"))
            win.viewer.set_layout(Layout.SINGLE)
            _settle(app)
            axial = win.viewer.views[Plane.AXIAL]
            axial.go_to_slice(40)
            axial.measure.add(MeasureKind.LENGTH, (150.0, 200.0), (260.0, 200.0))
            axial.measure.add(MeasureKind.ELLIPSE, (250.0, 170.0), (300.0, 215.0))
            _raise_dock(win, "Measurements")
            _settle(app)

        return shoot(settings, demo_folder(), OUT / "axial_measurements.png", before_save)


def _models_dir(tmp: Path) -> Path:
    """``--models DIR``, ``--fixture-models`` (tiny test graphs, built in ``tmp``) or the shipped ``models/``."""
    if "--fixture-models" in sys.argv:
        sys.path.insert(0, str(ROOT / "tests" / "ui"))
        from review_helpers import fixture_models

        return fixture_models(tmp / "fixture-models")
    if "--models" in sys.argv:
        return Path(sys.argv[sys.argv.index("--models") + 1]).resolve()
    return ROOT / "models"


def tumour_centre(volume: Any) -> tuple[float, float, float] | None:
    """Centre ``(z, row, col)`` of the radiologists' boxes (PASCAL-VOC XML per SOP Instance UID).

    The demo files were re-encoded with new SOP Instance UIDs; the boxes name the original ones,
    so their slice is found through the corpus copy (same UIDs as the boxes) by position.
    """
    import xml.etree.ElementTree as ET

    import pydicom

    boxes = {}
    for path in sorted((ROOT / "resources" / "demo_annotations").glob("*/*.xml")):
        box = ET.parse(path).getroot().find("object/bndbox")
        if box is not None:
            x0, y0, x1, y1 = (float(box.findtext(k) or 0) for k in ("xmin", "ymin", "xmax", "ymax"))
            boxes[path.stem] = ((y0 + y1) / 2, (x0 + x1) / 2)
    found = []
    for path in sorted((ROOT.parent / "shared" / "corpus" / "lung_pet_ct_dx").rglob("*")):
        if path.is_file():
            try:
                header = pydicom.dcmread(path, stop_before_pixels=True)
            except (pydicom.errors.InvalidDicomError, OSError):
                continue
            if header.get("SOPInstanceUID", "") in boxes:
                z = float(volume.lps_to_index([float(v) for v in header.ImagePositionPatient])[0])
                found.append((z, *boxes[header.SOPInstanceUID]))
    if not found:
        return None
    found.sort()
    return found[len(found) // 2]


def _zoom_on(win: Any, index: tuple[float, float, float], width_mm: float = 150.0) -> None:
    from PySide6.QtCore import QRectF

    for view in win.viewer.shown_viewports():
        x, y = view.geometry.to_display(index)
        height_mm = width_mm * view.box.height() / max(view.box.width(), 1.0)
        view.box.setRange(QRectF(x - width_mm / 2, y - height_mm / 2, width_mm, height_mm), padding=0)


def inner_review() -> int:
    """Inside Xvfb: open the demo, run the AI, show the finding nearest the annotated tumour, save review.png."""
    import numpy as np
    from PySide6.QtWidgets import QApplication

    from meddiag_desktop.config import Settings

    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            data_dir=Path(tmp) / "data", config_dir=Path(tmp) / "config", builtin_models_dir=_models_dir(Path(tmp))
        )

        def before_save(win: MainWindow) -> None:
            win.view_actions["preset1"].trigger()  # lung window
            win.view_actions["privacy"].trigger()
            run_ai(win, 300_000)
            volume, state = win.viewer.state.volume, win.review.review.state
            target = tumour_centre(volume)
            print(f"tumour centre (z, row, col): {target}")
            if state is not None and state.findings and target is not None:
                nearest = min(state.findings, key=lambda f: float(np.linalg.norm(
                    (np.asarray(f.finding.centroid_index) - target) * np.asarray(volume.spacing))))  # fmt: skip
                win.review.review.select(nearest.id)
                print(f"{len(state.findings)} findings; nearest the tumour: {nearest.id} at {nearest.finding.bbox}")
            elif target is not None:
                win.viewer.state.set_position(target)
                print("no findings; showing the annotated tumour slice")
            win.browser_dock.hide()
            _raise_dock(win, "AI review")
            panel = win.review.panel
            panel.style_box.setCurrentIndex(panel.style_box.findText("outline"))  # heat map visible inside
            for _ in range(5):
                _settle(app)
            _zoom_on(win, win.viewer.state.position)
            _settle(app)

        name = "review.png" if "--fixture-models" not in sys.argv else "review_fixture_models.png"
        return shoot(settings, demo_folder(), OUT / name, before_save)


def inner_export() -> int:
    """Inside Xvfb: a copy of the demo, Run AI, accept a finding, export SEG + SR to the default folder."""
    from PySide6.QtWidgets import QApplication, QFileDialog

    from meddiag_desktop.config import Settings

    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        study = Path(tmp) / "studies" / "chest-ct"
        shutil.copytree(demo_folder(), study)
        settings = Settings(data_dir=Path(tmp) / "data", config_dir=Path(tmp) / "config",
                            builtin_models_dir=_models_dir(Path(tmp)), reviewer_display_name="Dr Demo")  # fmt: skip

        def before_save(win: MainWindow) -> None:
            win.view_actions["preset1"].trigger()  # lung window
            win.view_actions["privacy"].trigger()
            run_ai(win, 300_000)
            win.review.actions["accept"].trigger()
            # The user presses OK on the folder dialog, which opens on meddiag-results/ beside the study.
            QFileDialog.getExistingDirectory = staticmethod(lambda _parent, _title, start: start)  # type: ignore[method-assign]
            win.review.actions["export"].trigger()
            wait_until_idle(win.review.exports.controller.busy_changed, 120_000)
            win.browser_dock.hide()
            _raise_dock(win, "AI review")
            for _ in range(5):
                _settle(app)
            print(win.review.panel.export_status.text())
            _show_menu_and_grab(app, win, "AI review", OUT / "export_actions.png")

        return shoot(settings, study.parent, Path(tmp) / "window.png", before_save)


def inner_reading() -> int:
    """Inside Xvfb: overlay look on a finding over lung, a coronal reformat, the corrupt-image banner."""
    import numpy as np
    from PySide6.QtWidgets import QApplication

    from meddiag_desktop.config import Settings
    from meddiag_desktop.ui.viewer.orientation import Plane
    from meddiag_desktop.ui.viewer.viewer_widget import Layout

    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", config_dir=Path(tmp) / "config",
                            builtin_models_dir=_models_dir(Path(tmp)))  # fmt: skip

        def before_save(win: MainWindow) -> None:
            win.view_actions["preset1"].trigger()  # lung window
            win.view_actions["privacy"].trigger()
            win.browser_dock.hide()
            coronal = win.viewer.views[Plane.CORONAL]
            win.viewer.active = coronal
            win.viewer.set_layout(Layout.SINGLE)
            for _ in range(3):
                _settle(app)
            win.grab().save(str(OUT / "reformat_coronal.png"))
            win.viewer.set_layout(Layout.MPR)
            run_ai(win, 600_000)
            volume, state = win.viewer.state.volume, win.review.review.state
            target = tumour_centre(volume)
            if state is not None and state.findings and target is not None:
                # review.png shows the tumour; this one the look on a small finding away from it
                farthest = max(state.findings, key=lambda f: float(np.linalg.norm(
                    (np.asarray(f.finding.centroid_index) - target) * np.asarray(volume.spacing))))  # fmt: skip
                win.review.review.select(farthest.id)
                print(f"{len(state.findings)} findings; shown: {farthest.id} at {farthest.finding.bbox}")
            _raise_dock(win, "AI review")
            for _ in range(5):
                _settle(app)
            _zoom_on(win, win.viewer.state.position)
            _settle(app)

        code = shoot(settings, demo_folder(), OUT / "overlay_style.png", before_save)
    return max(code, _corrupt_banner_shot(app))


def inner_slab() -> int:
    """Inside Xvfb: one axial view of the demo as a 10 mm MIP over the lungs, lung window."""
    from PySide6.QtWidgets import QApplication

    from meddiag_desktop.config import Settings
    from meddiag_desktop.core.slab import SlabMode
    from meddiag_desktop.ui.viewer.orientation import Plane
    from meddiag_desktop.ui.viewer.viewer_widget import Layout

    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", config_dir=Path(tmp) / "config")

        def before_save(win: MainWindow) -> None:
            win.view_actions["preset1"].trigger()  # lung window
            win.view_actions["privacy"].trigger()
            win.browser_dock.hide()
            axial = win.viewer.views[Plane.AXIAL]
            win.viewer.active = axial
            win.viewer.set_layout(Layout.SINGLE)
            axial.go_to_slice(40)
            win.slab_mm_box.setValue(10)
            win.slab_mode_box.setCurrentIndex(win.slab_mode_box.findData(SlabMode.MIP))
            for _ in range(3):
                _settle(app)

        return shoot(settings, demo_folder(), OUT / "mip_slab.png", before_save)


def inner_screen() -> int:
    """Inside Xvfb: the reading screen as it opens at 1280x720, and the 2x2 layout at 1600x900."""
    from PySide6.QtWidgets import QApplication

    from meddiag_desktop.config import Settings

    app = QApplication.instance() or QApplication(sys.argv[:1])

    def as_opened(win: MainWindow) -> None:
        win.view_actions["preset1"].trigger()  # lung window
        win.view_actions["privacy"].trigger()
        for _ in range(3):
            _settle(app)

    def grid(win: MainWindow) -> None:
        win.view_actions["grid"].trigger()
        as_opened(win)

    codes = []
    for name, scene, size in (("reading_1280x720.png", as_opened, (1280, 720)), ("layout_2x2.png", grid, (1600, 900))):
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(data_dir=Path(tmp) / "data", config_dir=Path(tmp) / "config")
            codes.append(shoot(settings, demo_folder(), OUT / name, scene, size=size))
    return max(codes)


def _corrupt_banner_shot(app: Any) -> int:
    """The corpus's broken JPEG Lossless CT (else a demo slice with noise for pixels) with its banner."""
    from meddiag_desktop.config import Settings

    bad = ROOT.parent / "shared" / "corpus" / "codec_zoo/pylibjpeg_data/JPEGLossless/JPEGLossless_1s_1f_i_16_16_bad.dcm"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "study"
        if bad.is_file():
            folder.mkdir()
            shutil.copy(bad, folder)
        else:
            sys.path.insert(0, str(ROOT / "tests" / "io"))
            from test_pixel_plausibility import write_noise_slice

            write_noise_slice(folder)
        settings = Settings(data_dir=Path(tmp) / "data", config_dir=Path(tmp) / "config")

        def before_save(win: MainWindow) -> None:
            win.view_actions["privacy"].trigger()
            _raise_dock(win, "Notifications")
            for _ in range(3):
                _settle(app)

        return shoot(settings, folder, OUT / "corrupt_banner.png", before_save)


def _show_menu_and_grab(app: Any, window: Any, title: str, target: Path) -> None:
    """Open a menu of the menu bar and save the screen under the window (menus are windows of their own)."""
    bar = window.menuBar()
    action = next(a for a in bar.actions() if a.text().replace("&", "") == title)
    action.menu().popup(bar.mapToGlobal(bar.actionGeometry(action).bottomLeft()))
    for _ in range(5):
        _settle(app)
    frame = window.frameGeometry()
    app.primaryScreen().grabWindow(0, frame.x(), frame.y(), frame.width(), frame.height()).save(str(target))
    action.menu().close()


def _raise_dock(window: object, name: str) -> None:
    from PySide6.QtWidgets import QDockWidget, QMainWindow

    assert isinstance(window, QMainWindow)
    dock = window.findChild(QDockWidget, name)
    if dock is not None:
        dock.raise_()


def _settle(app: object) -> None:
    from PySide6.QtWidgets import QApplication

    for _ in range(20):
        QApplication.processEvents()
        time.sleep(0.01)


if __name__ == "__main__":
    if "--inner-review" in sys.argv:
        sys.exit(inner_review())
    if "--inner-export" in sys.argv:
        sys.exit(inner_export())
    if "--inner-reading" in sys.argv:
        sys.exit(inner_reading())
    if "--inner-slab" in sys.argv:
        sys.exit(inner_slab())
    if "--inner-screen" in sys.argv:
        sys.exit(inner_screen())
    sys.exit(inner() if "--inner" in sys.argv else outer())
