"""Preferences round-trip; a broken preferences file falls back to defaults."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from meddiag_desktop.config import Settings


def test_preferences_round_trip(tmp_path: Path) -> None:
    settings = replace(
        Settings(data_dir=tmp_path, config_dir=tmp_path), reviewer_display_name="Dr. A", auto_run_ai=True
    )
    settings.save_preferences()
    restored = Settings(data_dir=tmp_path, config_dir=tmp_path).with_preferences()
    assert (restored.reviewer_display_name, restored.auto_run_ai) == ("Dr. A", True)


def test_broken_preferences_give_defaults(tmp_path: Path) -> None:
    (tmp_path / "preferences.json").write_text("{ not json")
    assert Settings(data_dir=tmp_path, config_dir=tmp_path).with_preferences().auto_run_ai is False
