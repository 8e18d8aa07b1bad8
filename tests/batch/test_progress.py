"""The batch progress line: bar, failures, rate and ETA from a fake clock."""

from __future__ import annotations

import io

from meddiag_desktop.batch.progress import BatchProgress, format_duration


def test_format_duration() -> None:
    assert [format_duration(s) for s in (4.4, 200, 7500)] == ["4 s", "3 min 20 s", "2 h 05 min"]


def test_line_shows_counts_rate_and_eta() -> None:
    now = [100.0]
    stream = io.StringIO()
    bar = BatchProgress(40, stream, clock=lambda: now[0])
    assert bar.line() == "[------------------------] 0/40 series"
    now[0] += 60.0
    for failed in (False, False, True, False):
        bar.advance(failed=failed)
    line = bar.line()
    assert line.startswith("[##----------------------] 4/40 series  1 failed  4.0/min")
    assert line.endswith("ETA 9 min 00 s")  # 36 left at 4 a minute
    assert "\r" in stream.getvalue() and not stream.getvalue().endswith("\n")
    for _ in range(36):
        bar.advance(failed=False)
    assert stream.getvalue().endswith("\n")  # the finished bar stays on its line
