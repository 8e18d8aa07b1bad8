"""Batch on dask.distributed: throughput, per-study overhead, and kill -9 of a worker and of the client.

On a generated cohort (``validation.cohort.make_cohort``; small chest CT slabs of the bundled
demo with varied headers), lung-nodule-seg without the classifier:

1. throughput of ``batch`` on a LocalCluster of 1 worker vs 2 workers (1 thread each);
2. per-study overhead of the Dask path (1 worker) vs a plain loop calling the same task function
   in this process, cluster start-up excluded and included;
3. kill -9 of one worker mid-batch (the nanny restarts it, the scheduler reruns its task), and
   of the client mid-batch, then a rerun: counts of series stored, analysed twice, lost.

Run: python bench/bench_batch.py [N_STUDIES [ROUNDS]]   (default 16 and 3; writes under bench/_work/batch)
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from _common import REPO, WORK

from meddiag_desktop.batch.cluster import ClusterSession, ClusterSpec
from meddiag_desktop.batch.jobs import scan_roots, series_jobs
from meddiag_desktop.batch.models import ModelSpec, pin_models
from meddiag_desktop.batch.outcome import OutcomeStatus, SeriesOutcome
from meddiag_desktop.batch.run import BatchHooks, BatchRequest, BatchStart, run_batch
from meddiag_desktop.batch.store import STORE_NAME, ResultsStore
from meddiag_desktop.batch.task import TaskOptions, analyse_series
from meddiag_desktop.core.progress import no_progress
from meddiag_desktop.io.index import SeriesIndex

FOLDER = WORK / "batch"
MODELS = ModelSpec("lung-nodule-seg", None)


def make_studies(n: int) -> Path:
    root = FOLDER / f"cohort{n}"
    if (root / "manifest.json").is_file():
        return root
    shutil.rmtree(root, ignore_errors=True)
    try:
        from meddiag_desktop.validation.cohort import make_cohort

        make_cohort(root, n, seed=13)
    except ImportError:  # before the cohort generator existed: the batch tests' demo slabs
        sys.path.insert(0, str(REPO / "tests" / "batch"))
        from batch_studies import StudySpec, write_studies

        write_studies(root, [StudySpec(k) for k in range(1, n + 1)])
        (root / "manifest.json").write_text("{}")
    return root


class Timer:
    """Task phase of a run: from the cluster being up to the last result."""

    def __init__(self) -> None:
        self.started = 0.0
        self.outcomes: list[SeriesOutcome] = []
        self.session: ClusterSession | None = None

    def on_start(self, start: BatchStart) -> None:
        self.session = start.session
        self.started = time.perf_counter()

    def on_outcome(self, job: object, outcome: SeriesOutcome) -> None:
        self.outcomes.append(outcome)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started


def timed_batch(root: Path, workers: int, name: str, hooks: Timer | None = None) -> Run:
    out = FOLDER / name
    shutil.rmtree(out, ignore_errors=True)
    timer = hooks or Timer()
    request = BatchRequest((root,), out, MODELS, cluster=ClusterSpec(workers=workers))
    started = time.perf_counter()
    with SeriesIndex(FOLDER / "index.sqlite") as index:
        summary = run_batch(request, index, BatchHooks(timer.on_start, timer.on_outcome))
    total = time.perf_counter() - started
    assert summary.failed == 0, summary.failures
    return Run(timer.seconds, total, sum(o.seconds for o in timer.outcomes), len(timer.outcomes))


@dataclass(frozen=True)
class Run:
    """Seconds of one run: its task phase, with start-up, and the tasks' own time summed."""

    tasks: float
    total: float
    in_tasks: float
    series: int


def plain_loop(root: Path) -> Run:
    with SeriesIndex(FOLDER / "index.sqlite") as index:
        jobs = series_jobs(index, scan_roots([root], index, no_progress)).jobs
    options = TaskOptions(MODELS, pin_models(MODELS), threads=1)
    started = time.perf_counter()
    outcomes = [analyse_series(job, options) for job in jobs]
    seconds = time.perf_counter() - started
    assert all(o.status is OutcomeStatus.ANALYSED for o in outcomes), [o.message for o in outcomes]
    return Run(seconds, seconds, sum(o.seconds for o in outcomes), len(jobs))


class WorkerKiller(Timer):
    def __init__(self) -> None:
        super().__init__()
        self.killed: list[int] = []

    def on_outcome(self, job: object, outcome: SeriesOutcome) -> None:
        super().on_outcome(job, outcome)
        if self.killed or self.session is None:
            return
        client = self.session.client
        victim = next(a for a, keys in client.processing().items() if keys)
        pid = client.run(os.getpid, workers=[victim])[victim]
        os.kill(pid, signal.SIGKILL)
        self.killed.append(pid)


def stored(out: Path) -> list[tuple[str, int]]:
    if not (out / STORE_NAME).is_file():
        return []
    try:
        with sqlite3.connect(f"file:{out / STORE_NAME}?mode=ro", uri=True) as db:
            return list(db.execute("SELECT series_uid, run_id FROM studies"))
    except sqlite3.OperationalError:
        return []


def session_processes(session_id: int) -> int:
    import psutil

    count = 0
    for pid in psutil.pids():
        try:
            count += os.getsid(pid) == session_id and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except (OSError, psutil.Error):
            continue
    return count


def kill_client(root: Path, out: Path, after: int) -> tuple[int, int]:
    """Start the CLI batch, SIGKILL the client process alone once ``after`` series are stored.

    Returns the processes of its session still alive 10 s later, then kills them too.
    """
    command = [sys.executable, "-m", "meddiag_desktop", "batch", str(root), "--out", str(out), "--workers", "2",
               "--no-classifier"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    while len(stored(out)) < after and process.poll() is None:
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    time.sleep(10)
    orphans = session_processes(process.pid)
    if orphans:
        os.killpg(process.pid, signal.SIGKILL)
    return orphans, len(stored(out))


def resume(root: Path, out: Path) -> None:
    command = [sys.executable, "-m", "meddiag_desktop", "batch", str(root), "--out", str(out), "--workers", "2",
               "--no-classifier"]  # fmt: skip
    subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def counts(out: Path, n: int) -> str:
    rows = stored(out)
    series = {uid for uid, _ in rows}
    with ResultsStore(out) as store:
        runs = store.runs()
    per_run = ", ".join(f"run {r['run_id']}: {sum(run == r['run_id'] for _, run in rows)}" for r in runs)
    return (
        f"{n} series: {len(series)} stored, {len(rows) - len(series)} stored twice, {n - len(series)} lost ({per_run})"
    )


def throughput_and_overhead(root: Path, rounds: int) -> None:
    """Plain loop, 1 worker, 2 workers, interleaved ``rounds`` times; the fastest of each (least disturbed)."""
    plain, one, two = [], [], []
    for r in range(rounds):
        plain.append(plain_loop(root))
        one.append(timed_batch(root, 1, f"one{r}"))
        two.append(timed_batch(root, 2, f"two{r}"))
    p, o, t = (min(runs, key=lambda run: run.tasks) for runs in (plain, one, two))
    n = p.series
    print(f"1. throughput, series per minute (task phase; with cluster start-up in brackets), best of {rounds}")
    print(f"  1 worker   {n / o.tasks * 60:6.1f}/min  ({n / o.total * 60:5.1f}/min)")
    print(f"  2 workers  {n / t.tasks * 60:6.1f}/min  ({n / t.total * 60:5.1f}/min)")
    print(f"  2 workers vs 1: {o.tasks / t.tasks:.2f}x  ({o.total / t.total:.2f}x)")
    print("2. per-study cost, Dask (1 worker x 1 thread) vs a plain loop of the same task function, same thread count")
    extra, extra_total = (o.tasks / p.tasks - 1) * 100, (o.total / p.tasks - 1) * 100
    print(f"  plain loop {p.tasks / n:5.2f} s/study;  Dask {o.tasks / n:5.2f} s/study ({extra:+.1f} %);  "
          f"with start-up {o.total / n:5.2f} s/study ({extra_total:+.1f} %)")  # fmt: skip
    gap = (o.tasks - o.in_tasks) / n
    print(f"  the Dask path itself (task phase minus the tasks' own time): {gap * 1000:.0f} ms/study "
          f"= {gap / (o.in_tasks / n) * 100:.1f} % of a task")  # fmt: skip


def kills(root: Path, n: int) -> None:
    killer = WorkerKiller()
    timed_batch(root, 2, "worker-kill", killer)
    print("3. kill -9")
    print(f"  a worker (pid {killer.killed[0]}) mid-task: {len(killer.outcomes)} results received; "
          f"{counts(FOLDER / 'worker-kill', n)}")  # fmt: skip
    out = FOLDER / "client-kill"
    shutil.rmtree(out, ignore_errors=True)
    orphans, before = kill_client(root, out, after=max(1, n // 3))
    resume(root, out)
    print(f"  the client after {before} stored: {orphans} worker/nanny processes still alive 10 s later; "
          f"rerun: {counts(out, n)}")  # fmt: skip


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    FOLDER.mkdir(parents=True, exist_ok=True)
    root = make_studies(n)
    print(f"batch on {n} generated studies, lung-nodule-seg (no classifier), {os.cpu_count()} cores, {load()}")
    throughput_and_overhead(root, rounds)
    kills(root, n)
    print(f"finished at {load()}")


def load() -> str:
    """Other work on the machine distorts every figure here: say how much there was."""
    one, five, _ = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min)"


if __name__ == "__main__":
    main()
