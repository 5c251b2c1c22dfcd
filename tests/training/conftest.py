"""Fixtures of the training tests: small worlds, generated once per session (they are deterministic)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainsleuth.training import generate_world
from chainsleuth.workspace import Workspace

SMALL = 300


@pytest.fixture(scope="session")
def written_worlds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[object, object, Path]]:
    """One small world per typology and difficulty, written to disk; keyed "<typology>-<difficulty>"."""
    from chainsleuth.training import LEVELS, TYPOLOGIES

    out = {}
    for t in TYPOLOGIES:
        for lv in LEVELS:
            world, key = generate_world(t, lv, 10 + lv, size=SMALL if lv == 3 else SMALL // 2)
            d = tmp_path_factory.mktemp(f"world-{t}-{lv}")
            world.write(d)
            out[f"{t}-{lv}"] = (world, key, d)
    return out


@pytest.fixture(scope="session")
def ingested(written_worlds, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Workspace]:
    """Each written world ingested into its own workspace through the real adapters."""
    wss = {}
    for t, (_w, _k, d) in written_worlds.items():
        ws = Workspace(tmp_path_factory.mktemp(f"ws-{t}"))
        ws.training.ingest_case(d)
        wss[t] = ws
    yield wss
    for ws in wss.values():
        ws.close()
