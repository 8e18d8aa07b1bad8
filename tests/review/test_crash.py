"""SIGKILL in the middle of a review loses nothing that was decided, and the chain verifies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from meddiag_desktop.review import audit
from meddiag_desktop.review.model import Decision
from meddiag_desktop.review.service import ReviewService
from meddiag_desktop.review.store import ReviewStore

REPO = Path(__file__).resolve().parents[2]

DRIVER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, {repo!r})
    from meddiag_desktop.review import audit
    from meddiag_desktop.review.service import ReviewService
    from meddiag_desktop.review.store import ReviewStore
    from tests.review.helpers import ai_run
    service = ReviewService(ReviewStore(Path({path!r})), audit.Actor("radiologist1"))
    service.record_run(ai_run(count=40))
    state = service.open_review("run-1")
    for i in range(40):
        state = service.accept(state, f"F{{i + 1}}")
        print(f"decided F{{i + 1}}", flush=True)
        time.sleep(0.01)
    """
)


def test_sigkill_mid_review_loses_no_decision(tmp_path: Path) -> None:
    path = tmp_path / "review.sqlite"
    process = subprocess.Popen(
        [sys.executable, "-c", DRIVER.format(repo=str(REPO), path=str(path))],
        stdout=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    assert process.stdout is not None
    confirmed = []
    for line in process.stdout:
        confirmed.append(line.split()[1])
        if len(confirmed) == 7:
            os.kill(process.pid, signal.SIGKILL)
            break
    process.wait(timeout=30)
    process.stdout.close()
    assert process.returncode == -signal.SIGKILL

    with ReviewStore(path) as store:
        service = ReviewService(store, audit.Actor("radiologist1"))
        review_id = store.db.execute("SELECT review_id FROM reviews").fetchone()[0]
        state = service.restore(review_id)
        accepted = {f.id for f in state.findings if f.decision is Decision.ACCEPTED}
        assert set(confirmed) <= accepted  # everything confirmed before the kill survived
        report = store.verify_audit()
        assert report.ok, report.reason
