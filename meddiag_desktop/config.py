"""Settings: one frozen object built at start-up and passed in. No Qt here."""

from __future__ import annotations

import enum
import importlib.resources
import json
import logging
import os
import sys
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import platformdirs

log = logging.getLogger(__name__)

APP_NAME = "MedDiagDesktop"
PACKAGE_ROOT = Path(__file__).resolve().parent
PROJECT_ROOT = PACKAGE_ROOT.parent
MODELS_PACKAGE = "meddiag_desktop_models"  # the top-level models/ folder, installed as package data
RESOURCES_PACKAGE = "meddiag_desktop_resources"  # the top-level resources/ folder (demo study, annotations)


def shipped_folder(package: str, source_folder: str) -> Path:
    """The folder of a data package shipped beside the app (wheel, editable install or bundle).

    Located with importlib.resources, so it is wherever the installer put it. A source checkout
    that was never installed falls back to its own ``source_folder``. Data that is not a plain
    folder on disk (a zipped install, a bundle built without the package) is not used: said in
    the log, and the app goes on without it (e.g. "no model installed").
    """
    try:
        root = importlib.resources.files(package)
    except ModuleNotFoundError:
        return PROJECT_ROOT / source_folder
    if isinstance(root, Path):
        return root
    log.error("the app's %s are not a folder on disk (%s): reinstall the app unpacked", source_folder, root)
    return PROJECT_ROOT / source_folder


def shipped_models_dir() -> Path:
    """The built-in models: ``<model-id>/manifest.json``, ``model.onnx``, ``MODEL_CARD.md``."""
    return shipped_folder(MODELS_PACKAGE, "models")


def demo_dir() -> Path:
    """The bundled demo study (a real chest CT, RLE compressed); ``demo_dir().parent`` holds its annotations."""
    return shipped_folder(RESOURCES_PACKAGE, "resources") / "demo"


class ReadingMode(enum.Enum):
    """When the AI's findings are shown: at once, or after the radiologist's own read (automation bias)."""

    CONCURRENT = "concurrent"
    READ_FIRST = "read first"


def os_account(platform: str = sys.platform) -> str:
    """The OS account running the app, from the OS itself, not from ``LOGNAME`` / ``USER``.

    ``getpass.getuser()`` trusts the environment, so ``LOGNAME=someone`` would sign as someone.
    POSIX: the password-database entry of the real user id. Windows: ``GetUserNameW`` (the
    account of the process token), else ``os.getlogin()`` (the console session's account).
    """
    if platform != "win32":
        import pwd  # POSIX only

        return pwd.getpwuid(os.getuid()).pw_name
    return _windows_account()


def _windows_account() -> str:
    try:
        import ctypes

        size = ctypes.c_ulong(257)
        buffer = ctypes.create_unicode_buffer(size.value)
        if ctypes.windll.advapi32.GetUserNameW(buffer, ctypes.byref(size)):  # type: ignore[attr-defined]
            return str(buffer.value)
    except (AttributeError, OSError):
        pass
    try:
        return os.getlogin()
    except OSError:
        return f"{os.environ.get('USERNAME', 'unknown')} (unverified)"  # named as such on every sign-off


def _env_or(variable: str, default: str) -> Path:
    """Per-user folder, unless an administrator (or a test) points it elsewhere."""
    return Path(os.environ.get(variable) or default)


def make_private_dir(path: Path, platform: str = sys.platform) -> None:
    """Create ``path`` (and parents) and make it owner-only (0700) where the OS has POSIX modes.

    Windows: the per-user folders already inherit the user's profile ACL; no chmod there.
    A folder owned by someone else (an administrator's shared location) keeps its mode.
    """
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if platform == "win32":
        return
    try:
        path.chmod(0o700)
    except PermissionError:
        log.warning("%s is not owned by this account; its permissions are left as they are", path)


@dataclass(frozen=True)
class Settings:
    """Where things live and how the app behaves. Paths default to the per-user folders."""

    data_dir: Path = field(default_factory=lambda: _env_or("MEDDIAG_DATA_DIR", platformdirs.user_data_dir(APP_NAME)))
    config_dir: Path = field(
        default_factory=lambda: _env_or("MEDDIAG_CONFIG_DIR", platformdirs.user_config_dir(APP_NAME))
    )
    log_dir: Path = field(default_factory=lambda: _env_or("MEDDIAG_LOG_DIR", platformdirs.user_log_dir(APP_NAME)))
    builtin_models_dir: Path = field(default_factory=shipped_models_dir)
    reader_threads: int = 4
    inference_threads: int = 2
    reviewer_display_name: str = ""
    auto_run_ai: bool = False  # honoured in concurrent reading mode only
    reading_mode: ReadingMode = ReadingMode.CONCURRENT
    recent_folders: tuple[str, ...] = ()

    @property
    def index_path(self) -> Path:
        return self.data_dir / "index.sqlite"

    @property
    def review_store_path(self) -> Path:
        return self.data_dir / "review.sqlite"

    @property
    def user_models_dir(self) -> Path:
        return self.data_dir / "models"

    @property
    def os_user(self) -> str:
        return os_account()

    @property
    def preferences_path(self) -> Path:
        return self.config_dir / "preferences.json"

    def with_preferences(self) -> Settings:
        """A copy with the user's saved preferences applied (missing or broken file: defaults)."""
        try:
            saved = json.loads(self.preferences_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return self
        except (OSError, ValueError) as exc:
            log.warning("preferences ignored: %s", exc)
            return self
        return replace(
            self,
            reviewer_display_name=str(saved.get("reviewer_display_name", "")),
            auto_run_ai=bool(saved.get("auto_run_ai", False)),
            reading_mode=_reading_mode(saved.get("reading_mode")),
            recent_folders=tuple(str(p) for p in saved.get("recent_folders", []))[:10],
            reader_threads=int(saved.get("reader_threads", self.reader_threads)),
            inference_threads=int(saved.get("inference_threads", self.inference_threads)),
        )

    def save_preferences(self) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        keys = ("reviewer_display_name", "auto_run_ai", "recent_folders", "reader_threads", "inference_threads")
        data = {k: v for k, v in asdict(self).items() if k in keys}
        data["recent_folders"] = list(self.recent_folders)
        data["reading_mode"] = self.reading_mode.value
        self.preferences_path.write_text(json.dumps(data, indent=2), encoding="utf-8")


def _reading_mode(value: object) -> ReadingMode:
    try:
        return ReadingMode(value)
    except ValueError:
        return ReadingMode.CONCURRENT
