"""Fixtures of the attribution tests: one workspace with every shared TagPack imported (built once)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chainsleuth.workspace import Workspace


@pytest.fixture(scope="session")
def packs_dir(shared_data: Path) -> Path:
    d = shared_data / "graphsense-tagpacks"
    if not (d / "packs").is_dir():
        pytest.skip("graphsense-tagpacks is not in ../shared/data")
    return d


@pytest.fixture(scope="session")
def all_packs_ws(tmp_path_factory: pytest.TempPathFactory, packs_dir: Path) -> Iterator[tuple[Workspace, dict]]:
    """A workspace with all 80 shared TagPacks (and the ActorPack) imported, and the import summary."""
    ws = Workspace(tmp_path_factory.mktemp("allpacks") / "ws")
    summary = ws.attribution.import_tags([packs_dir])
    yield ws, summary
    ws.close()
