"""SimpleITK typed as ``Any``: its partial annotations make strict mypy flag every call."""

from __future__ import annotations

from typing import Any

import SimpleITK

sitk: Any = SimpleITK
