"""``batch --scheduler``: an existing cluster (``dask scheduler`` + ``dask worker`` on loopback) is used as is."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from meddiag_desktop.batch.store import iter_study_records
from meddiag_desktop.cli import main

DASK = shutil.which("dask", path=str(Path(sys.executable).parent))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    pytest.fail(f"the dask scheduler did not listen on port {port}")


@pytest.fixture
def scheduler(tmp_path: Path) -> Iterator[str]:
    if DASK is None:
        pytest.skip("the dask command is not installed beside this Python")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = (tmp_path / "scheduler.log").open("wb"), (tmp_path / "worker.log").open("wb")
    processes = [
        subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                         stdout=logs[0], stderr=logs[0]),
    ]  # fmt: skip
    try:
        _wait_for_port(port)
        worker = [DASK, "worker", address, "--nworkers", "1", "--nthreads", "1", "--host", "127.0.0.1",
                  "--no-dashboard", "--local-directory", str(tmp_path / "worker")]  # fmt: skip
        processes.append(subprocess.Popen(worker, stdout=logs[1], stderr=logs[1]))
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
            process.wait(timeout=30)
        for log in logs:
            log.close()


def test_batch_runs_on_the_named_scheduler(
    scheduler: str, four_studies: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "results"
    study = four_studies / "study_001"
    code = main(["batch", str(study), "--out", str(out), "--no-classifier", "--scheduler", scheduler])
    captured = capsys.readouterr()
    assert code == 0, captured.out + captured.err
    assert f"cluster at {scheduler}: 1 worker(s)" in captured.err and "local cluster" not in captured.err
    assert "1 series found; 0 done before (not analysed again); 1 analysed" in captured.out
    [record] = iter_study_records(out)
    assert record["status"] == "analysed" and record["finding_count"] >= 1
