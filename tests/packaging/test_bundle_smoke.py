"""The frozen one-folder app (dist/meddiag-desktop/) runs on its own: version, headless analyze, decoder pool.

Runs when ``MEDDIAG_BUNDLE`` names a freshly built bundle: ``python3 run.py bundle`` and
``python3 run.py test`` build it and then run this file. Every run is from a temporary folder,
without PYTHONPATH, so nothing of the source tree or ../shared can stand in for the bundle.
"""

from __future__ import annotations

import configparser
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pydicom
import pytest
from pydicom.uid import JPEG2000Lossless

from meddiag_desktop import __version__
from meddiag_desktop.config import MODELS_PACKAGE, RESOURCES_PACKAGE
from meddiag_desktop.inference.manifest import load_manifest

REPO = Path(__file__).resolve().parents[2]
NAME = "meddiag-desktop"
J2K_SLICES = 24  # enough slices for both decoder processes to get work

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bundle() -> Path:
    folder = os.environ.get("MEDDIAG_BUNDLE")
    if not folder:
        pytest.skip("no bundle to check: `python3 run.py bundle` builds dist/meddiag-desktop/ and runs these tests")
    return Path(folder).resolve()


def _executable(bundle: Path) -> Path:
    return bundle / (f"{NAME}.exe" if sys.platform == "win32" else NAME)


def _contents(bundle: Path) -> Path:
    return bundle / "_internal"


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "MEDDIAG_LOG_LEVEL")}


def _run(bundle: Path, *args: str | Path, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    command = [str(_executable(bundle)), *(str(a) for a in args)]
    done = subprocess.run(command, cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


def test_the_bundle_says_its_version(bundle: Path, tmp_path: Path) -> None:
    assert _run(bundle, "--version", cwd=tmp_path).stdout.strip() == f"{NAME} {__version__}"


def test_the_bundle_holds_models_demo_and_only_the_qt_platforms_it_needs(bundle: Path) -> None:
    contents = _contents(bundle)
    assert not list(contents.glob("torch*")) and not list(contents.glob("libtorch*"))
    assert (contents / RESOURCES_PACKAGE / "demo" / "lung_ct_A0001").is_dir()
    for model in ("lung-nodule-seg", "lung-lesion-cls"):
        assert (contents / MODELS_PACKAGE / model / "model.onnx").is_file()
    if sys.platform.startswith("linux"):
        platforms = {p.name for p in (contents / "PySide6" / "Qt" / "plugins" / "platforms").iterdir()}
        assert platforms == {"libqxcb.so", "libqoffscreen.so"}
        assert not [p.name for p in contents.glob("libQt6Wayland*")] + [p.name for p in contents.glob("libgtk*")]


def test_the_desktop_entry_names_the_executable_and_its_icon(bundle: Path) -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    entry.read(bundle / "share" / "applications" / f"{NAME}.desktop", encoding="utf-8")
    section = entry["Desktop Entry"]
    assert section["Exec"].split()[0] == _executable(bundle).name == section["TryExec"]
    assert (bundle / "share" / "icons" / "hicolor" / "256x256" / "apps" / f"{section['Icon']}.png").is_file()
    assert (bundle / "share" / "icons" / "hicolor" / "scalable" / "apps" / f"{section['Icon']}.svg").is_file()


def test_the_bundle_analyses_its_own_demo_headless_with_verified_models(bundle: Path, tmp_path: Path) -> None:
    demo = _contents(bundle) / RESOURCES_PACKAGE / "demo"
    _run(bundle, "analyze", demo, "--threads", "2", "--json", tmp_path / "result.json", cwd=tmp_path)
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["findings"]
    for model in result["provenance"]["models"]:
        manifest = load_manifest(_contents(bundle) / MODELS_PACKAGE / model["id"])
        assert (model["source"], model["sha256"]) == ("builtin", manifest.files)


def test_a_compressed_series_loads_through_the_decoder_pool_without_a_fork_bomb(bundle: Path, tmp_path: Path) -> None:
    """JPEG 2000 goes to the decoder processes; each must start as a worker, not as another app.

    Without ``freeze_support()`` every worker runs the app's own command line parser instead, the
    pool breaks and the series does not load.
    """
    study = _jpeg2000_copy_of_the_demo(tmp_path / "j2k")
    shot = tmp_path / "shot.png"
    command = [str(_executable(bundle)), str(study), "--offscreen", "--screenshot", str(shot)]
    with (tmp_path / "output.txt").open("wb") as output:
        app = subprocess.Popen(command, cwd=tmp_path, env=_clean_env(), stdout=output, stderr=subprocess.STDOUT)
        children, peak = _watch_children(app, timeout_s=180)
    assert app.returncode == 0 and shot.is_file(), (tmp_path / "output.txt").read_text(errors="replace")[-3000:]
    assert any("multiprocessing.forkserver" in c or "multiprocessing-fork" in c for c in children.values()), children
    assert peak <= 8 and len(children) <= 16, f"{peak} processes at once, {len(children)} in all: {children}"
    assert _all_gone(children, within_s=10), "decoder processes outlived the app"


def _jpeg2000_copy_of_the_demo(folder: Path) -> Path:
    folder.mkdir()
    demo_series = REPO / "resources" / "demo" / "lung_ct_A0001"
    for path in sorted(demo_series.glob("*.dcm"))[:J2K_SLICES]:
        dataset = pydicom.dcmread(path)
        dataset.decompress()
        dataset.compress(JPEG2000Lossless, encoding_plugin="pylibjpeg")
        dataset.save_as(folder / path.name)
    return folder


def _watch_children(app: subprocess.Popen[bytes], timeout_s: float) -> tuple[dict[int, str], int]:
    """Every descendant's command line while ``app`` runs, and the most alive at once."""
    parent, seen, peak = psutil.Process(app.pid), {}, 0
    deadline = time.monotonic() + timeout_s
    while app.poll() is None:
        if time.monotonic() > deadline:
            app.kill()
            pytest.fail(f"the app did not finish within {timeout_s} s; children: {seen}")
        try:
            alive = parent.children(recursive=True)
        except psutil.NoSuchProcess:
            break
        peak = max(peak, len(alive))
        for child in alive:
            with contextlib.suppress(psutil.Error):  # it may have ended since it was listed
                seen[child.pid] = " ".join(child.cmdline())  # the newest: a fresh fork shows its parent's until exec
        time.sleep(0.05)
    app.wait()
    return seen, peak


def _all_gone(children: dict[int, str], within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while any(_still_running(pid, command) for pid, command in children.items()):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _still_running(pid: int, command: str) -> bool:
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and " ".join(process.cmdline()) == command
    except psutil.Error:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the xcb platform plugin is the X11 one")
def test_the_bundle_shows_the_demo_on_a_real_x_server(bundle: Path, tmp_path: Path) -> None:
    """The xcb plugin and the X libraries it needs are in the bundle (offscreen alone would not prove it)."""
    if shutil.which("xvfb-run") is None:
        pytest.skip("xvfb-run is not installed (Debian package xvfb, see packaging/ensure_system_packages.sh)")
    demo, shot = _contents(bundle) / RESOURCES_PACKAGE / "demo", tmp_path / "shot.png"
    command = ["xvfb-run", "--auto-servernum", str(_executable(bundle)), str(demo), "--screenshot", str(shot)]
    env = {**_clean_env(), "QT_QPA_PLATFORM": "xcb"}
    done = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and shot.is_file(), done.stdout[-2000:] + done.stderr[-2000:]
