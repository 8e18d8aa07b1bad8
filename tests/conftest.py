"""Shared fixtures: the real corpus (skipped cleanly when absent), a network guard, isolated user dirs and keys."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
DEMO = REPO / "resources" / "demo"


@pytest.fixture
def corpus() -> Path:
    if not CORPUS.is_dir():
        pytest.skip(f"the real DICOM corpus is not at {CORPUS} (../shared is absent)")
    return CORPUS


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open an internet socket fails the test: the app never uses the network."""
    real_connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address: object) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise AssertionError(f"network access attempted: {address!r}")
        real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)


@pytest.fixture(autouse=True)
def _isolated_user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never touch the real per-user data, config or log folders."""
    base = tmp_path_factory.mktemp("userdirs")
    monkeypatch.setenv("MEDDIAG_DATA_DIR", str(base / "data"))
    monkeypatch.setenv("MEDDIAG_CONFIG_DIR", str(base / "config"))
    monkeypatch.setenv("MEDDIAG_LOG_DIR", str(base / "logs"))
    monkeypatch.delenv("MEDDIAG_LOG_LEVEL", raising=False)
    # Never the real user's keyring: keyring's "fail" backend makes the audit key a file in the tmp config dir.
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
