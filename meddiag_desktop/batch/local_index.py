"""A throw-away study index of one series' files, built by the worker that analyses it.

Workers on other machines cannot open this computer's index; the files, on a shared path, are
all they need. Indexing a few hundred headers takes well under a second.
"""

from __future__ import annotations

import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from meddiag_desktop.core.records import ScanProblem
from meddiag_desktop.errors import DicomReadError
from meddiag_desktop.io.index import SeriesIndex
from meddiag_desktop.io.instance_parse import parse_instance

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from meddiag_desktop.io.instance_parse import ParsedInstance


def _parse(path: str) -> ParsedInstance | ScanProblem:
    try:
        stat = Path(path).stat()
    except OSError as exc:
        raise DicomReadError(
            f"An image of the series cannot be read any more ({exc.strerror or exc}); was the folder moved? "
            "Run the batch again to index it anew."
        ) from exc
    return parse_instance(Path(path), stat.st_size, stat.st_mtime_ns)


def index_files(index: SeriesIndex, files: Sequence[str]) -> None:
    """Add ``files`` to ``index`` (unreadable ones as problems, as a scan would)."""
    parsed, problems = [], []
    for path in files:
        result = _parse(path)
        if isinstance(result, ScanProblem):
            problems.append((result, 0, 0))
        else:
            parsed.append(result)
    index.store(parsed, problems)


@contextmanager
def local_index(files: Sequence[str]) -> Iterator[SeriesIndex]:
    """An index holding only ``files``, in a temporary folder removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="meddiag-task-") as folder, SeriesIndex(Path(folder) / "i.sqlite") as index:
        index_files(index, files)
        yield index
