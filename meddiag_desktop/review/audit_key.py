"""The secret that authenticates the audit log, kept outside the database.

An HMAC-SHA256 key, 32 random bytes, stored in the OS keyring (``keyring``) when a usable
backend exists, else in a key file with owner-only permissions in the per-user config folder
(on Windows that folder is in the user's profile, whose ACL admits only that user). Whoever can
edit the database but not read this key cannot produce entries that verify.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import stat
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from meddiag_desktop.errors import AuditKeyError

if TYPE_CHECKING:
    from pathlib import Path

log = logging.getLogger(__name__)

KEYRING_SERVICE = "MedDiagDesktop"
KEYRING_USER = "audit-hmac-key"
KEY_FILE_NAME = "audit.key"


class KeyBackend(Protocol):
    """The part of a ``keyring`` backend this module uses (tests pass a fake)."""

    def get_password(self, service: str, username: str) -> str | None: ...

    def set_password(self, service: str, username: str, password: str) -> None: ...


@dataclass(frozen=True)
class AuditKey:
    """The key and where it lives (said in ``audit verify``), never printed itself."""

    secret: bytes = field(repr=False)
    source: str
    created: bool = False

    def mac(self, message: str) -> str:
        return hmac.new(self.secret, message.encode("utf-8"), hashlib.sha256).hexdigest()

    def verifies(self, message: str, mac: str) -> bool:
        return hmac.compare_digest(self.mac(message), mac)


def system_keyring() -> KeyBackend | None:
    """The OS keyring if ``keyring`` finds a usable backend (priority > 0), else ``None``."""
    try:
        import keyring  # slow to import: only when a store opens
        from keyring.errors import KeyringError
    except ImportError:
        return None
    try:
        backend = keyring.get_keyring()
    except KeyringError:
        return None
    return backend if float(backend.priority) > 0 else None


def load_key(config_dir: Path, backend: KeyBackend | None) -> AuditKey:
    """This account's audit key, created on first use.

    Parameters
    ----------
    config_dir
        The per-user config folder (outside the data folder); the key file lives here.
    backend
        A keyring to try first (``system_keyring()``), or ``None`` for the key file only.
    """
    key_file = config_dir / KEY_FILE_NAME
    if backend is not None:
        key = _from_keyring(backend, key_file)
        if key is not None:
            return key
    return _from_file(key_file)


def _from_keyring(backend: KeyBackend, key_file: Path) -> AuditKey | None:
    from keyring.errors import KeyringError

    source = f"the OS keyring ({type(backend).__name__}, service {KEYRING_SERVICE})"
    try:
        stored = backend.get_password(KEYRING_SERVICE, KEYRING_USER)
        if stored:
            secret = bytes.fromhex(stored)
            if len(secret) == 32:
                return AuditKey(secret, source)
            raise ValueError("the stored audit key is not 32 bytes")
        if key_file.exists():  # made before a keyring was available: keep using it
            return None
        secret = secrets.token_bytes(32)
        backend.set_password(KEYRING_SERVICE, KEYRING_USER, secret.hex())
    except (KeyringError, ValueError) as exc:
        log.warning("audit key: the OS keyring cannot be used (%s); using the key file", exc)
        return None
    return AuditKey(secret, source, created=True)


def _from_file(path: Path) -> AuditKey:
    source = f"the key file {path}"
    try:
        if path.exists():
            _check_owner_only(path)
            secret = bytes.fromhex(path.read_text(encoding="ascii").strip())
            if len(secret) != 32:
                raise ValueError(f"it holds {len(secret)} bytes instead of 32")
            return AuditKey(secret, source)
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        secret = secrets.token_bytes(32)
        # O_EXCL: two app instances starting at once must not each write a different key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secret.hex())
    except FileExistsError:
        return _from_file(path)
    except (OSError, ValueError) as exc:
        raise AuditKeyError(f"The audit key file {path} cannot be read or created: {exc}") from exc
    return AuditKey(secret, source, created=True)


def _check_owner_only(path: Path) -> None:
    """POSIX: refuse a key others can read (like ssh). Windows: the profile folder's ACL applies."""
    if os.name != "posix":
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise AuditKeyError(
            f"The audit key file {path} can be read by other accounts (mode {mode:o}); "
            f"restrict it with `chmod 600 {path}` and check that nobody else copied it."
        )
