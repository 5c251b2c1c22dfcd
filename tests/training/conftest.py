"""Fixtures of the training tests: small worlds, generated once per session (they are deterministic)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainsleuth.training import generate_world
from chainsleuth.workspace import Workspace

SMALL = 300


@pytest.fixture(scope="session")
def written_worlds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[object, object, Path]]:
    """One small world per typology at difficulty 3 (every mechanism), written to disk."""
    from chainsleuth.training import TYPOLOGIES

    out = {}
    for t in TYPOLOGIES:
        world, key = generate_world(t, 3, 11, size=SMALL)
        d = tmp_path_factory.mktemp(f"world-{t}")
        world.write(d)
        out[t] = (world, key, d)
    return out


@pytest.fixture(scope="session")
def ingested(written_worlds, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Workspace]:
    """Each written world ingested into its own workspace through the real adapters."""
    wss = {}
    for t, (_w, _k, d) in written_worlds.items():
        ws = Workspace(tmp_path_factory.mktemp(f"ws-{t}"))
        ws.train_ingest(d)
        wss[t] = ws
    yield wss
    for ws in wss.values():
        ws.close()
