"""Fixtures shared by the export and report tests: the bundled demo series and a review service."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from meddiag_desktop.review import audit
from meddiag_desktop.review.service import ReviewService
from meddiag_desktop.review.store import ReviewStore
from tests.export_helpers import DemoSeries, demo_series

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoSeries:
    return demo_series(tmp_path_factory.mktemp("demo-index"))


@pytest.fixture
def service(tmp_path: Path) -> Iterator[ReviewService]:
    store = ReviewStore(tmp_path / "review.sqlite")
    yield ReviewService(store, audit.Actor("rita", "Rita Radiologist"))
    store.close()
