"""Privacy guards: no byte leaves the machine (watched with strace); no patient identity in logs."""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.scan import scan
from meddiag_desktop.io.series_loader import load_series

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "meddiag_desktop"
DEMO = REPO / "resources" / "demo"
NETWORK = re.compile(
    r"^\s*(import|from)\s+(requests|urllib\.request|http\.client|socket|httpx|aiohttp|ftplib|smtplib)\b", re.M
)
# onnxruntime 1.29+ (official Linux/macOS builds) writes its device id and event queue here, under the
# user's cache folder, and resolves mobile.events.data.microsoft.com about 9 s after it is imported.
TELEMETRY_DIR = Path("Microsoft", "DeveloperTools", ".onnxruntime")
# A delayed telemetry attempt comes ~9 s (and again ~14 s) after onnxruntime starts: keep the traced
# process alive this long after its first inference session exists.
WAIT_AFTER_SESSION_S = 12.0
# Runs the real CLI in-process, notes when the first session is created, then waits.
_DRIVER = textwrap.dedent(
    """
    import sys, time
    from meddiag_desktop.cli import main
    from meddiag_desktop.inference import session

    first = []
    real_init = session.ModelSession.__init__

    def timed_init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        first.append(time.monotonic())

    session.ModelSession.__init__ = timed_init
    code = main(sys.argv[1:])
    if not first:
        sys.exit("no inference session was created: the test would watch nothing")
    time.sleep(max(0.0, first[0] + float(WAIT) - time.monotonic()))
    sys.exit(code)
    """
).replace("WAIT", repr(WAIT_AFTER_SESSION_S))
_INTERNET = re.compile(r"sa_family=AF_INET6?\b|htons\(53\)")


def _isolated_env(home: Path) -> dict[str, str]:
    """The user's home, cache, data and config folders all inside ``home``."""
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}  # the app must set it itself
    env.update(
        HOME=str(home),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CONFIG_HOME=str(home / ".config"),
        MEDDIAG_DATA_DIR=str(home / "data"),
        MEDDIAG_CONFIG_DIR=str(home / "config"),
    )
    return env


def _telemetry_files(home: Path) -> list[str]:
    return sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file() and ".onnxruntime" in p.parts)


def _strace_or_skip(tmp_path: Path) -> str:
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed (packaging/ensure_system_packages.sh installs it)")
    probe = subprocess.run(
        [strace, "-f", "-qq", "-e", "trace=connect", "-o", str(tmp_path / "probe.txt"), sys.executable, "-c", "0"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    if probe.returncode != 0:
        pytest.skip(f"strace cannot trace here (ptrace not permitted?): {probe.stderr.strip()[:200]}")
    return strace


@pytest.mark.slow
def test_analyze_and_export_open_no_internet_socket_and_write_no_telemetry(tmp_path: Path) -> None:
    """Scan, load, analyze (both models) and export SEG + SR under strace: no AF_INET/AF_INET6 connect,
    no DNS (port 53) traffic, no onnxruntime telemetry file, even >10 s after the session exists."""
    strace = _strace_or_skip(tmp_path)
    home, trace = tmp_path / "home", tmp_path / "strace.txt"
    home.mkdir()
    command = [
        strace, "-f", "-qq", "-e", "trace=connect,sendto", "-o", str(trace),
        sys.executable, "-c", _DRIVER,
        "analyze", str(DEMO), "--json", str(tmp_path / "a.json"), "--export-dir", str(tmp_path / "out"),
    ]  # fmt: skip
    result = subprocess.run(
        command, capture_output=True, text=True, env=_isolated_env(home), cwd=tmp_path, check=False, timeout=240
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "wrote SEG" in result.stdout and "wrote SR" in result.stdout  # the export path really ran
    calls = trace.read_text(encoding="utf-8", errors="replace").splitlines()
    internet = [line for line in calls if _INTERNET.search(line)]
    assert internet == [], f"{len(internet)} internet/DNS calls, e.g. {internet[:3]}"
    assert _telemetry_files(home) == []


def test_importing_the_inference_layer_turns_onnxruntime_telemetry_off(tmp_path: Path) -> None:
    """Cheap check without strace: onnxruntime imported through our inference layer writes no device id
    or event queue under the user's cache folder, and the opt-out reaches child processes."""
    home = tmp_path / "home"
    home.mkdir()
    code = "import os, meddiag_desktop.inference.session, onnxruntime;print(os.environ.get('ORT_DISABLE_TELEMETRY'))"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_isolated_env(home), check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "1"
    assert not (home / ".cache" / TELEMETRY_DIR).exists(), _telemetry_files(home)


def test_onnxruntime_imported_too_early_is_reported(tmp_path: Path) -> None:
    code = "import logging, onnxruntime; logging.basicConfig(); import meddiag_desktop.inference"
    home = tmp_path / "home"
    home.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=_isolated_env(home), check=False, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "imported before its telemetry could be turned off" in result.stderr


def test_package_imports_no_network_module() -> None:
    """Extra, cheap: no module of ours imports a network client (the strace test is the real check)."""
    offenders = [str(p) for p in PACKAGE.rglob("*.py") if NETWORK.search(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_network_guard_is_active() -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock, pytest.raises(AssertionError, match="network"):
        sock.connect(("192.0.2.1", 80))


def test_scan_and_load_log_no_patient_identity(corpus: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    import pydicom

    sample = next((corpus / "lung_pet_ct_dx" / "A0001_philips_lungkernel_L").glob("*.dcm"))
    ds = pydicom.dcmread(sample, stop_before_pixels=True)
    secrets = {str(ds.PatientName), str(ds.PatientID)} - {""}
    caplog.set_level(logging.DEBUG)
    with SeriesIndex(tmp_path / "i.sqlite") as index:
        scan(corpus / "lung_pet_ct_dx", index)
        load_series(index, ds.SeriesInstanceUID)
    for secret in secrets:
        assert secret not in caplog.text
