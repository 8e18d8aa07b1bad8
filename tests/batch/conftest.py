"""Batch fixtures: loopback-only network (the local cluster talks over 127.0.0.1), small studies."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import pytest
from batch_studies import StudySpec, write_studies


def _is_loopback(address: object) -> bool:
    host = address[0] if isinstance(address, tuple) else None
    try:
        return host is not None and (host == "localhost" or ipaddress.ip_address(host).is_loopback)
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Replaces the suite's guard: the local cluster's own loopback sockets are allowed, nothing else."""
    real_connect = socket.socket.connect

    def guarded_connect(self: socket.socket, address: object) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address):
            raise AssertionError(f"network access attempted: {address!r}")
        real_connect(self, address)  # type: ignore[arg-type]

    monkeypatch.setattr(socket.socket, "connect", guarded_connect)


@pytest.fixture(scope="session")
def four_studies(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four analysable 10-slice studies (written once; tests copy them when they change them)."""
    root = tmp_path_factory.mktemp("four") / "cohort"
    write_studies(root, [StudySpec(n) for n in range(1, 5)])
    return root
