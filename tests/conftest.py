"""Shared fixtures. Real data lives in ../shared/data (read-only, never copied into the repository)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from chainsleuth.workspace import Workspace

REPO = Path(__file__).resolve().parents[1]


def _shared_data_dir() -> Path | None:
    env = os.environ.get("CHAINSLEUTH_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared" / "data", REPO / ".." / "shared" / "data"]
    for c in candidates:
        if c.is_dir():
            return c.resolve()
    return None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data, the real public data sets. Skips with a reason where it is absent (a user's clone)."""
    d = _shared_data_dir()
    if d is None:
        pytest.skip("real data set ../shared/data is not present next to this clone "
                    "(set CHAINSLEUTH_SHARED_DATA to its path to run these tests)")
    return d


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    """A fresh, empty workspace in a temporary directory."""
    ws = Workspace(tmp_path / "ws")
    yield ws
    ws.close()
