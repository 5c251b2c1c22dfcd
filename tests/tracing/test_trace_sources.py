"""Trace sources resolve to typed seeds on the tracing service's graphs, and the graph cache keeps a graph
until the chain's data changes. Blocks written by the block builder, ingested by the real adapter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chainsleuth.core.btc.builder import BlockBuilder, KeyRing, TxSpec
from chainsleuth.errors import InvalidInput, NotFound
from chainsleuth.training.output import write_files
from chainsleuth.workspace import Workspace
from chainsleuth.workspace.assets import Asset
from chainsleuth.workspace.tracing import UtxoFlow

COIN = 100_000_000


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    """block 1 pays A; block 2: tx1 spends A -> B, C; block 3 (written apart): tx2 spends [B, C] -> D."""
    keys = KeyRing(seed=5, chain="btc")
    a, b, c, d = (keys.address(i) for i in range(4))
    bb = BlockBuilder("btc", seed=5)
    b1 = bb.add_block([], coinbase_to=a)
    b2 = bb.add_block([TxSpec(inputs=[(b1.txids[0], 0)], outputs=[(b, 30 * COIN), (c, 20 * COIN - 1_000)])])
    write_files(tmp_path / "first", {"blk00000.dat": bb.blk_files()["blk00000.dat"]})
    bb.add_block([TxSpec(inputs=[(b2.txids[1], 0), (b2.txids[1], 1)], outputs=[(d, 50 * COIN - 3_000)])])
    write_files(tmp_path / "all", bb.blk_files())
    return {"dir": tmp_path, "a": a, "b": b, "c": c, "d": d, "cb1": b1.txids[0], "tx1": b2.txids[1]}


def test_sources_resolve_to_typed_seeds(world: dict[str, Any]) -> None:
    with Workspace(world["dir"] / "ws") as ws:
        ws.ingest.btc_blocks([world["dir"] / "first"], allow_invalid_pow=True)
        one = ws.trace_sources.resolve(f"{world['tx1']}:1")
        every = ws.trace_sources.resolve(world["tx1"])
        paid_to_b = ws.trace_sources.resolve(world["b"])
        both = ws.trace_sources.resolve(f"{world['cb1']}:0, {world['tx1']}:1")
        assert isinstance(one.flow, UtxoFlow)
        assert (one.chain, one.asset, one.asset_label) == ("btc", Asset.NATIVE, "BTC")
        g = one.flow.graph
        assert [int(g.out_value[r]) for r in one.rows] == [20 * COIN - 1_000]
        assert [int(g.out_value[r]) for r in every.rows] == [30 * COIN, 20 * COIN - 1_000]
        assert paid_to_b.rows == every.rows[:1]
        assert len(both.rows) == 2 and both.rows[1] == one.rows[0] and both.flow is one.flow
        with pytest.raises(TypeError):
            one.amounts()                       # seed amounts are for account chains
        with pytest.raises(InvalidInput, match="output index 2 is out of range"):
            ws.trace_sources.resolve(f"{world['tx1']}:2")
        with pytest.raises(NotFound, match="not in this workspace"):
            ws.trace_sources.resolve("ab" * 32)
        with pytest.raises(InvalidInput, match="BTC"):
            ws.trace_sources.resolve(world["b"], asset="USDT")


def test_graph_cache_is_kept_until_the_chain_data_changes(world: dict[str, Any]) -> None:
    with Workspace(world["dir"] / "ws") as ws:
        ws.ingest.btc_blocks([world["dir"] / "first"], allow_invalid_pow=True)
        first = ws.tracing.graphs.utxo("btc")
        assert ws.trace_sources.resolve(world["b"]).flow is first       # resolver and tracing share it
        ws.tracing.trace(world["b"])
        assert ws.tracing.graphs.utxo("btc") is first
        before = ws.tracing.trace(f"{world['tx1']}:0")
        assert [e["address"] for e in before["endpoints"]] == [world["b"]]     # unspent so far
        ws.ingest.btc_blocks([world["dir"] / "all"], allow_invalid_pow=True)                    # block 3 spends B and C
        second = ws.tracing.graphs.utxo("btc")
        assert second is not first and second.graph.n_tx == first.graph.n_tx + 2
        after = ws.tracing.trace(f"{world['tx1']}:0")
        assert [e["address"] for e in after["endpoints"]] == [world["d"]]
