"""Test-suite wiring: markers by folder (contract/ and reliability/ start real server processes)."""

from __future__ import annotations

from pathlib import Path

import pytest

MARKED_FOLDERS = {
    "contract": pytest.mark.contract,
    "reliability": pytest.mark.reliability,
    "live_loop": pytest.mark.contract,  # the UI and the metrics over one loop built by the real services
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        for folder, marker in MARKED_FOLDERS.items():
            if folder in parts:
                item.add_marker(marker)
