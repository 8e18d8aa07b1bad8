"""Screenshots for the README: the real app under Xvfb on the demo lung CT.

Run: ``.venv/bin/python packaging/screenshots.py`` (needs Debian's ``xvfb``; ImageMagick's
``import`` is used for a whole-screen capture when present). Writes to docs/screenshots/:
- ``mpr_lung.png``: browser + 1×3 MPR, lung window, privacy on
- ``axial_measurements.png``: single axial view with a length and an ellipse ROI
- ``xvfb_screen.png``: the X screen as ImageMagick sees it (proves it ran on a real X server)
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
DISPLAY = ":93"


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
        return subprocess.run([sys.executable, __file__, "--inner"], env=env, cwd=ROOT, check=False).returncode
    finally:
        xvfb.terminate()
        xvfb.wait(timeout=10)


def inner() -> int:
    """Inside Xvfb: open the demo like a user, take the shots."""
    sys.path.insert(0, str(ROOT))
    from PySide6.QtWidgets import QApplication

    from meddiag_desktop.config import Settings
    from meddiag_desktop.ui.main_window import MainWindow
    from meddiag_desktop.ui.screenshot import ScreenshotDriver
    from meddiag_desktop.ui.viewer.measure_model import MeasureKind
    from meddiag_desktop.ui.viewer.orientation import Plane
    from meddiag_desktop.ui.viewer.viewer_widget import Layout

    OUT.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    with tempfile.TemporaryDirectory() as tmp:
        window = MainWindow(Settings(data_dir=Path(tmp), config_dir=Path(tmp)))
        window.resize(1660, 960)
        window.move(0, 0)

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
            _settle(app)

        driver = ScreenshotDriver(window, OUT / "axial_measurements.png", before_save=before_save)
        window.show()
        window.open_path(demo_folder())
        app.exec()
        return driver.exit_code


def _settle(app: object) -> None:
    from PySide6.QtWidgets import QApplication

    for _ in range(20):
        QApplication.processEvents()
        time.sleep(0.01)


if __name__ == "__main__":
    sys.exit(inner() if "--inner" in sys.argv else outer())
