"""Fixtures: a generated training world (blk files), the same world served by a local Esplora-compatible
server on 127.0.0.1, and a workspace holding the world ingested from its blk files (the reference)."""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from chainsleuth.config import load_settings
from chainsleuth.training import generate_world
from chainsleuth.workspace import Workspace

_spec = importlib.util.spec_from_file_location("_esplora_server", Path(__file__).with_name("_esplora_server.py"))
assert _spec is not None and _spec.loader is not None
server_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(server_mod)
EsploraServer = server_mod.EsploraServer
EsploraWorld = server_mod.EsploraWorld

RECORDED = Path(__file__).with_name("recorded")


@dataclasses.dataclass
class World:
    blk_dir: Path
    esplora: Any
    key: Any
    starts: list[str]
    full: Workspace


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("esplora_world")
    w, key = generate_world("ransomware", difficulty=1, seed=5, size=300)
    paths = w.write(tmp / "world")
    full = Workspace(tmp / "full")
    full.ingest.btc_blocks([paths["btc"]], allow_invalid_pow=True)
    starts = [full.demo.start_source(st) for st in full.demo.case_starts(key.facts) if st["chain"] == "btc"]
    yield World(Path(paths["btc"]), EsploraWorld(Path(paths["btc"])), key, starts, full)
    full.close()


@pytest.fixture
def server(world: World) -> Iterator[Any]:
    s = EsploraServer(world.esplora).start()
    yield s
    s.stop()


def esplora_workspace(path: Path, url: str | None, **settings: Any) -> Workspace:
    """A workspace at ``path`` whose ``esplora_url`` is ``url`` (fast retries for tests)."""
    base = load_settings(path, env={})
    s = dataclasses.replace(base, esplora_url=url, **{"rpc_max_wait": 0.05, "rpc_retries": 3, **settings})
    return Workspace(path, settings=s)


@pytest.fixture
def esplora_ws() -> Any:
    """:func:`esplora_workspace`, as a fixture."""
    return esplora_workspace


@pytest.fixture(scope="session")
def recorded() -> Path:
    return RECORDED
