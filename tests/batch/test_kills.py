"""Kill -9 mid-batch: of a worker (the nanny replaces it, the task reruns) and of the client (rerun)."""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from batch_studies import StudySpec, write_studies

from meddiag_desktop.batch.cluster import ClusterSession, ClusterSpec
from meddiag_desktop.batch.models import ModelSpec
from meddiag_desktop.batch.outcome import OutcomeStatus
from meddiag_desktop.batch.run import BatchHooks, BatchRequest, BatchStart, run_batch
from meddiag_desktop.batch.store import STORE_NAME, ResultsStore
from meddiag_desktop.cli import main
from meddiag_desktop.io.index import SeriesIndex

SIGKILL = getattr(signal, "SIGKILL", None)
needs_sigkill = pytest.mark.skipif(
    sys.platform == "win32" or SIGKILL is None, reason="kill -9 (SIGKILL, process groups) is POSIX-only"
)
SEG_ONLY = ModelSpec("lung-nodule-seg", None)


class _WorkerKiller:
    """When the first result arrives, SIGKILLs a worker that is running a task."""

    def __init__(self) -> None:
        self.session: ClusterSession | None = None
        self.killed: list[tuple[int, tuple[str, ...]]] = []  # (pid, the keys it was running)
        self.outcomes: list[OutcomeStatus] = []

    def on_start(self, start: BatchStart) -> None:
        self.session = start.session

    def on_outcome(self, job: object, outcome: object) -> None:
        self.outcomes.append(outcome.status)  # type: ignore[attr-defined]
        if self.killed or self.session is None:
            return
        client = self.session.client
        busy = {address: keys for address, keys in client.processing().items() if keys}
        victim = next(iter(busy))
        pid = client.run(os.getpid, workers=[victim])[victim]
        os.kill(pid, SIGKILL)
        self.killed.append((pid, tuple(map(str, busy[victim]))))


@needs_sigkill
def test_a_worker_killed_mid_task_is_replaced_and_every_series_is_stored_once(tmp_path: Path) -> None:
    root, out = tmp_path / "cohort", tmp_path / "results"
    write_studies(root, [StudySpec(n) for n in range(1, 5)])
    killer = _WorkerKiller()
    request = BatchRequest((root,), out, SEG_ONLY, cluster=ClusterSpec(workers=2))
    with SeriesIndex(tmp_path / "index.sqlite") as index:
        summary = run_batch(request, index, BatchHooks(killer.on_start, killer.on_outcome))
    assert len(killer.killed) == 1 and killer.killed[0][1], "no worker was killed while running a task"
    assert summary.analysed == 4 and summary.failed == 0
    assert killer.outcomes == [OutcomeStatus.ANALYSED] * 4  # one result per series, none twice
    with ResultsStore(out) as store:
        rows = list(store.rows())
    assert len(rows) == 4 and len({r["series_uid"] for r in rows}) == 4


def _stored(out: Path) -> int:
    if not (out / STORE_NAME).is_file():
        return 0
    try:
        with sqlite3.connect(f"file:{out / STORE_NAME}?mode=ro", uri=True) as db:
            return int(db.execute("SELECT count(*) FROM studies").fetchone()[0])
    except sqlite3.OperationalError:  # created but no table yet
        return 0


def _left_in_session(session_id: int) -> list[int]:
    """Processes still in the killed batch's session (zombies are gone once reaped)."""
    left = []
    for pid in psutil.pids():
        try:
            if os.getsid(pid) == session_id and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                left.append(pid)
        except (OSError, psutil.Error):
            continue
    return left


def _kill_after_first_result(root: Path, out: Path, log: Path, timeout_s: float = 120.0) -> None:
    command = [sys.executable, "-m", "meddiag_desktop", "batch", str(root), "--out", str(out), "--workers", "2",
               "--no-classifier"]  # fmt: skip
    deadline = time.monotonic() + timeout_s
    with log.open("wb") as stderr:
        # its own session: one killpg takes the client, its nannies and workers, as a power cut would
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
        while _stored(out) == 0 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        if process.poll() is None:
            os.killpg(process.pid, SIGKILL)
        process.wait(timeout=30)
    # A process the client was spawning at the instant of the kill can miss the signal; with its
    # parent gone it must exit by itself (lost scheduler / parent), not linger.
    left = _left_in_session(process.pid)
    settle = time.monotonic() + 30
    while left and time.monotonic() < settle:
        time.sleep(0.5)
        left = _left_in_session(process.pid)
    for pid in left:  # never leak a process into the rest of the suite, even when failing
        with contextlib.suppress(OSError):
            os.kill(pid, SIGKILL)
    assert left == [], "a worker outlived the kill by more than 30 s"
    assert _stored(out), f"the batch stored nothing: {log.read_text(errors='replace')[-2000:]}"


@needs_sigkill
def test_a_killed_client_resumes_without_analysing_anything_twice(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, out, n = tmp_path / "cohort", tmp_path / "results", 5
    write_studies(root, [StudySpec(k) for k in range(1, n + 1)])
    _kill_after_first_result(root, out, tmp_path / "batch.log")
    before = _stored(out)
    assert 1 <= before < n, f"{before} of {n} stored when the client was killed"

    assert main(["batch", str(root), "--out", str(out), "--workers", "2", "--no-classifier"]) == 0
    text = capsys.readouterr().out
    assert f"{n} series found; {before} done before (not analysed again); {n - before} analysed" in text
    with ResultsStore(out) as store:
        rows, runs = list(store.rows()), store.runs()
    assert len(rows) == n and len({r["series_uid"] for r in rows}) == n
    first, second = runs
    assert first["finished_utc"] is None and second["finished_utc"]  # the killed run never finished
    per_run = {run["run_id"]: sum(r["run_id"] == run["run_id"] for r in rows) for run in runs}
    assert per_run == {first["run_id"]: before, second["run_id"]: n - before}
