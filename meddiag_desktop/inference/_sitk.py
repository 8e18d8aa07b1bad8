"""SimpleITK typed as ``Any``: it ships without annotations, so strict mypy would flag every call."""

from __future__ import annotations

from typing import Any

import SimpleITK

sitk: Any = SimpleITK
