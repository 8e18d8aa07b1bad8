"""Checkpoints of the audit log kept outside the database, so an older copy put back is seen.

A checkpoint is a small JSON file beside the audit key in the per-user config folder, one per
database path: entry count, head hash, store id and time, authenticated with the audit key.
The store writes one every N entries and at each sign-off; ``audit verify`` prints the latest
and checks the database still holds that entry with that hash. A checkpoint never moves
backwards or to another store: a database that disagrees with it keeps being reported until
someone removes the file on purpose.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from meddiag_desktop.review.audit_key import AuditKey

log = logging.getLogger(__name__)

_FIELDS = ("database", "store_id", "entries", "head", "time_utc")


@dataclass(frozen=True)
class Checkpoint:
    database: str
    store_id: str
    entries: int
    head: str
    time_utc: str

    def message(self) -> str:
        return "meddiag-audit-checkpoint:" + json.dumps([getattr(self, f) for f in _FIELDS], separators=(",", ":"))


@dataclass(frozen=True)
class StoredCheckpoint:
    """A checkpoint read back: ``authentic`` is False when its MAC does not match the key."""

    checkpoint: Checkpoint
    authentic: bool
    path: Path


def checkpoint_path(config_dir: Path, database: Path) -> Path:
    name = hashlib.sha256(str(database.resolve()).encode("utf-8")).hexdigest()[:16]
    return config_dir / f"audit-checkpoint-{name}.json"


def read(path: Path, key: AuditKey) -> StoredCheckpoint | None:
    """The checkpoint at ``path``; ``None`` if there is none. An unreadable file counts as forged."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        checkpoint = Checkpoint(*(data[f] for f in _FIELDS))
        authentic = key.verifies(checkpoint.message(), str(data["mac"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("audit checkpoint %s unreadable: %s", path, exc)
        return StoredCheckpoint(Checkpoint("", "", 0, "", ""), False, path)
    return StoredCheckpoint(checkpoint, authentic, path)


def write(path: Path, key: AuditKey, checkpoint: Checkpoint) -> None:
    """Replace the file atomically (write a temporary file, then ``os.replace``)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = asdict(checkpoint) | {"mac": key.mac(checkpoint.message())}
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
