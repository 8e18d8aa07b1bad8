"""Privacy guards: no network-capable imports in the package; no patient identity in logs."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.scan import scan
from meddiag_desktop.io.series_loader import load_series

PACKAGE = Path(__file__).resolve().parents[1] / "meddiag_desktop"
NETWORK = re.compile(
    r"^\s*(import|from)\s+(requests|urllib\.request|http\.client|socket|httpx|aiohttp|ftplib|smtplib)\b", re.M
)


def test_package_imports_no_network_module() -> None:
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
