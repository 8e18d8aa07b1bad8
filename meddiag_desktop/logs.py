"""Where log records go: warnings to stderr, a rotating file in the per-user log folder. No Qt here.

Records never carry a patient name, ID or birth date (tests/test_logs_phi.py proves it on the
demo). Other libraries' records below WARNING are dropped: their debug output is not ours to vet.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING

from meddiag_desktop.config import make_private_dir
from meddiag_desktop.errors import MeddiagError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from meddiag_desktop.config import Settings

log = logging.getLogger(__name__)

LOG_FILE_NAME = "meddiag-desktop.log"
LOG_FILE_BYTES = 5_000_000
LOG_FILE_BACKUPS = 5
_FILE_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"
_STDERR_FORMAT = "%(levelname)s %(name)s: %(message)s"
_OWN_PACKAGE = "meddiag_desktop"


def parse_log_level(value: str | None) -> int | None:
    """``DEBUG`` / ``info`` / ``20`` -> a logging level; empty -> None (the defaults apply)."""
    if not value or not value.strip():
        return None
    text = value.strip().upper()
    level = int(text) if text.isdigit() else logging.getLevelName(text)
    if not isinstance(level, int):
        raise MeddiagError(f"Log level {value!r} is unknown; use DEBUG, INFO, WARNING or ERROR.")
    return level


def _own_or_warning(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING or record.name.split(".")[0] == _OWN_PACKAGE


@contextmanager
def session_logging(settings: Settings, level: int | None = None) -> Iterator[Path | None]:
    """Log to stderr (WARNING, or ``level``) and to the rotating file (INFO, or ``level``) until exit.

    Yields the log file's path, or None when the log folder cannot be made (said on stderr).
    """
    stderr = logging.StreamHandler(sys.stderr)
    stderr.setLevel(logging.WARNING if level is None else level)
    stderr.setFormatter(logging.Formatter(_STDERR_FORMAT))
    handlers: list[logging.Handler] = [stderr]
    file_handler = _file_handler(settings.log_dir, logging.INFO if level is None else level)
    if file_handler is not None:
        handlers.append(file_handler)
    root = logging.getLogger()
    previous_level = root.level
    root.setLevel(min(h.level for h in handlers))
    for handler in handlers:
        handler.addFilter(_own_or_warning)
        root.addHandler(handler)
    if file_handler is None:
        log.warning("no log file: the log folder %s cannot be made", settings.log_dir)
    try:
        yield None if file_handler is None else settings.log_dir / LOG_FILE_NAME
    finally:
        for handler in handlers:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(previous_level)


def _file_handler(folder: Path, level: int) -> logging.Handler | None:
    try:
        make_private_dir(folder)
        path = folder / LOG_FILE_NAME
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=LOG_FILE_BYTES, backupCount=LOG_FILE_BACKUPS, encoding="utf-8"
        )
        if os.name == "posix":
            path.chmod(0o600)
    except OSError:
        return None
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter(_FILE_FORMAT))
    return handler
