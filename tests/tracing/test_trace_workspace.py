"""Tracing through the workspace and the CLI, on blocks written by the block writer and ingested by the real
adapter, with a TagPack: hand-computed amounts, the Trace JSON contract, bad inputs and limits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chainsleuth.core.btc.builder import BlockBuilder, KeyRing, TxSpec
from chainsleuth.errors import InvalidInput, LimitExceeded, NotFound
from chainsleuth.training.output import write_files
from chainsleuth.workspace import Workspace

COIN = 100_000_000


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """block 1: coinbase -> A 50 BTC (the source)
    block 2: coinbase -> X 50 BTC + tx1's fee = 5,000,010,000 (clean); tx1 spends A -> B 30 BTC,
             C 19.9999 BTC (fee 10,000 sat)
    block 3: tx2 spends [C, X] -> D 40 BTC (tagged exchange), E 29.9998 BTC (fee 20,000 sat)"""
    d = tmp_path_factory.mktemp("trace-world")
    keys = KeyRing(seed=3, chain="btc")
    a, b, c, dd, e, x = (keys.address(i) for i in range(6))
    bb = BlockBuilder("btc", seed=3)
    b1 = bb.add_block([], coinbase_to=a)
    tx1 = TxSpec(inputs=[(b1.txids[0], 0)], outputs=[(b, 30 * COIN), (c, 20 * COIN - 10_000)])
    b2 = bb.add_block([tx1], coinbase_to=x)
    tx2 = TxSpec(inputs=[(b2.txids[1], 1), (b2.txids[0], 0)], outputs=[(dd, 40 * COIN), (e, 30 * COIN - 20_000)])
    b3 = bb.add_block([tx2], coinbase_to=keys.address(7))
    write_files(d / "blocks", bb.blk_files())
    (d / "tags.yaml").write_text(
        "title: test tags\ncreator: tests\nlastmod: 2024-01-01\nconfidence: service_data\nis_public: true\n"
        f"tags:\n- address: '{dd}'\n  currency: BTC\n  label: Test Exchange\n  category: exchange\n"
        "  source: https://example.org/tests\n", encoding="utf-8")
    ws_dir = d / "ws"
    with Workspace(ws_dir) as ws:
        ws.ingest.btc_blocks([d / "blocks"], chain="btc", allow_invalid_pow=True)
        ws.attribution.import_tags([d / "tags.yaml"])
        ws.clustering.cluster("btc")                   # co-spend: C and X (both inputs of tx2) share a cluster
    return {"ws": ws_dir, "a": a, "b": b, "c": c, "d": dd, "e": e, "x": x, "cb1": b1.txids[0],
            "tx1": b2.txids[1], "tx2": b3.txids[1]}


def _eps(doc: dict[str, Any]) -> dict[str, tuple[int, str, str | None]]:
    return {ep["address"]: (ep["amount"], ep["reason"], ep["category"]) for ep in doc["endpoints"]}


def test_trace_json_contract_and_hand_computed_haircut(world: dict[str, Any]) -> None:
    with Workspace(world["ws"], read_only=True) as ws:
        doc = ws.tracing.trace(f"{world['cb1']}:0", "forward", "haircut")
    assert list(doc) == ["source", "direction", "policy", "max_hops", "edges", "endpoints", "provenance"]
    assert set(doc["edges"][0]) == {"txid", "from", "to", "amount", "taint", "asset", "time", "height", "hop",
                                    "outpoint", "inputs", "value", "unit"}
    assert set(doc["endpoints"][0]) == {"address", "cluster", "entity", "category", "amount", "hops", "reason",
                                        "coins", "asset", "unit"}
    # tx1: one fully tainted input -> B 3,000,000,000 and C 1,999,990,000, fee 10,000
    # tx2: T = 1,999,990,000 of V = 1,999,990,000 + 5,000,010,000 = 7,000,000,000
    #   D: T*4,000,000,000/V = 1,142,851,428 r 4,000,000,000   <- largest remainder gets the 1 left
    #   E: T*2,999,980,000/V =   857,132,857 r 1,200,000,000
    #   fee: T*20,000/V      =         5,714 r 1,800,000,000
    #   floors sum to 1,999,989,999: one unit short
    eps = _eps(doc)
    assert eps[world["b"]] == (3_000_000_000, "unspent_in_data", None)
    assert eps[world["d"]] == (1_142_851_429, "service", "exchange")
    assert eps[world["e"]] == (857_132_857, "unspent_in_data", None)
    t = doc["provenance"]["totals"]
    assert t == {"source_amount": 5_000_000_000, "endpoints": 4_999_984_286, "fees": 10_000 + 5_714, "cut_off": 0,
                 "asset": "BTC", "unit": "sat"}
    assert doc["provenance"]["conserved"] is True
    d_edge = next(e for e in doc["edges"] if e["to"] == world["d"])
    assert d_edge["txid"] == world["tx2"] and d_edge["hop"] == 2 and d_edge["height"] == 3
    assert d_edge["taint"] == pytest.approx(1_142_851_429 / 4_000_000_000, abs=1e-6)
    ent = next(ep for ep in doc["endpoints"] if ep["address"] == world["d"])
    assert ent["entity"] == "Test Exchange" and ent["hops"] == 2
    assert doc["provenance"]["tag_sources"] and doc["provenance"]["ingest_runs"][0]["source_kind"] == "btc-blocks"


def test_fifo_and_compare_policies(world: dict[str, Any]) -> None:
    with Workspace(world["ws"], read_only=True) as ws:
        doc = ws.tracing.trace(world["a"], "forward", "fifo")          # the address as source: its one output
        cmp = ws.tracing.compare_policies(f"{world['cb1']}:0")
    # fifo in tx2: C's 1,999,990,000 tainted units come first -> all of it lands in D (40 BTC)
    assert _eps(doc)[world["d"]] == (1_999_990_000, "service", "exchange")
    assert world["e"] not in _eps(doc)
    rows = {r["address"]: r["amounts"] for r in cmp["rows"]}
    assert cmp["policies"] == ["fifo", "haircut", "lifo", "poison", "tiho"]
    assert rows[world["d"]]["fifo"] == 1_999_990_000 and rows[world["d"]]["haircut"] == 1_142_851_429
    # lifo: X (clean) first at [0, 5,000,010,000), then C's taint at [5,000,010,000, 7e9) -> E
    # [4e9, 6,999,980,000) gets 1,999,970,000 and the fee tail [6,999,980,000, 7e9) the last 20,000
    assert rows[world["e"]]["lifo"] == 1_999_970_000
    # tiho: the tainted total fills the largest output (D, 40 BTC) first
    assert rows[world["d"]]["tiho"] == 1_999_990_000
    # poison: D and E tainted in full
    assert rows[world["d"]]["poison"] == 4_000_000_000 and rows[world["e"]]["poison"] == 2_999_980_000


def test_backward_from_exchange_deposit(world: dict[str, Any]) -> None:
    with Workspace(world["ws"], read_only=True) as ws:
        doc = ws.tracing.trace(f"{world['tx2']}:0", "backward", "fifo", stop_at="")
    # D = [0, 4e9) on tx2's line; inputs C [0, 1,999,990,000) and X [.., 7e9): C gives 1,999,990,000
    # (back through tx1 to A's coinbase), X gives 2,000,010,000 (coinbase)
    assert doc["provenance"]["totals"] == {"source_amount": 4_000_000_000, "endpoints": 4_000_000_000, "fees": 0,
                                           "cut_off": 0, "asset": "BTC", "unit": "sat"}
    assert {(e["from"], e["amount"]) for e in doc["edges"] if e["hop"] == 1} == {
        (world["c"], 1_999_990_000), (world["x"], 2_000_010_000)}
    assert all(e["to"] == [world["d"]] for e in doc["edges"] if e["hop"] == 1)    # both fund D's output
    assert {ep["reason"] for ep in doc["endpoints"]} == {"coinbase"}


def test_clusters_in_endpoints_and_cluster_paths(world: dict[str, Any]) -> None:
    with Workspace(world["ws"], read_only=True) as ws:
        doc = ws.tracing.trace(f"{world['cb1']}:0", "forward", "fifo")
        cid = ws.store.clusters.cluster_of("btc", ws.store.utxo.address_id("btc", world["c"]))
        p = ws.tracing.find_path(f"cluster:{cid}", world["d"])
        from_cluster = ws.tracing.trace(f"cluster:{cid}", "forward", "fifo", stop_at="")
    assert cid is not None and cid == ws_cluster_of(world, "x")
    assert doc["provenance"]["cluster_set"]["name"] == "co-spend"
    assert all(ep["cluster"] is not None for ep in doc["endpoints"] if ep["address"])
    # the cluster {C, X} received C (1,999,990,000) and X (5,000,010,000); tx2 spends both into D and E
    assert from_cluster["provenance"]["totals"]["source_amount"] == 7_000_000_000
    assert {e["address"]: e["amount"] for e in from_cluster["endpoints"]} == {world["d"]: 4_000_000_000,
                                                                              world["e"]: 2_999_980_000}
    # from the cluster {C, X} one spend (tx2) reaches D
    assert [(s["txid"], s["to"]) for s in p["steps"]] == [(world["tx2"], world["d"])]


def ws_cluster_of(world: dict[str, Any], who: str) -> int | None:
    with Workspace(world["ws"], read_only=True) as ws:
        return ws.store.clusters.cluster_of("btc", ws.store.utxo.address_id("btc", world[who]))


def test_exposure_sankey_path_and_peel(world: dict[str, Any]) -> None:
    with Workspace(world["ws"], read_only=True) as ws:
        ex = ws.tracing.exposure(f"{world['cb1']}:0")
        sk = ws.tracing.sankey(f"{world['cb1']}:0")
        p = ws.tracing.find_path(world["a"], world["d"])
        peel = ws.tracing.peel_chain(f"{world['cb1']}:0", max_hops=5)
    assert ex["by_category"] == [{"category": "exchange", "direct": 0, "indirect": 1_142_851_429,
                                  "total": 1_142_851_429, "share": round(1_142_851_429 / 5_000_000_000, 6),
                                  "asset": "BTC", "unit": "sat"}]
    assert ex["by_entity"][0]["entity"] == "Test Exchange" and (ex["asset"], ex["unit"]) == ("BTC", "sat")
    assert sum(link["value"] for link in sk["links"]) > 0 and sk["nodes"]
    assert all((link["asset"], link["unit"]) == ("BTC", "sat") for link in sk["links"])
    # what leaves the source column is the source amount: every satoshi is in the diagram once
    source_col = {n["id"] for n in sk["nodes"] if n["column"] == "0"}
    assert sum(link["value"] for link in sk["links"] if link["source"] in source_col) == 5_000_000_000
    assert [(s["txid"], s["from"], s["to"]) for s in p["steps"]] == [
        (world["tx1"], world["a"], world["c"]), (world["tx2"], world["c"], world["d"])]
    assert all((s["asset"], s["unit"]) == ("BTC", "sat") and s["outpoint"].startswith(s["txid"]) for s in p["steps"])
    assert peel["steps"][0]["txid"] == world["tx1"] and peel["steps"][0]["evidence"]["confidence"] > 0
    change = peel["steps"][0]["change"]
    assert (change["asset"], change["unit"]) == ("BTC", "sat") and change["outpoint"] == f"{world['tx1']}:{change['n']}"


@pytest.mark.parametrize(("source", "kw", "err", "text"), [
    ("ab" * 32, {}, NotFound, "not in this workspace"),
    ("ab" * 32 + ":0", {}, NotFound, "not in this workspace"),
    ("bc1qnotanaddressatallxxxxxxxxxxxxxxxxxxxxx", {}, InvalidInput, "outside the Bech32 alphabet"),
    ("1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm4", {}, InvalidInput, "bad Base58Check checksum"),   # Hal's, one typo
    ("1BoatSLRHtKNngkdXEeobR76b53LETtpyT", {}, NotFound, "not in this workspace"),          # valid, not stored
    ("{cb1}:5", {}, InvalidInput, "output index 5 is out of range"),
    ("{cb1}:0", {"policy": "fofi"}, InvalidInput, "choose one of: fifo, haircut, lifo, poison, tiho"),
    ("{cb1}:0", {"stop_at": "exchnage"}, InvalidInput, "unknown --stop-at category exchnage"),
    ("{cb1}:0", {"direction": "sideways"}, InvalidInput, "forward or backward"),
    ("{cb1}:0", {"asset": "0x" + "11" * 20}, InvalidInput, "one asset"),
])
def test_bad_inputs_say_what_is_wrong(world: dict[str, Any], source: str, kw: dict[str, Any], err: type,
                                      text: str) -> None:
    with Workspace(world["ws"], read_only=True) as ws, pytest.raises(err, match=text):
        ws.tracing.trace(source.format(cb1=world["cb1"]), **kw)


def test_limits_are_reported(world: dict[str, Any]) -> None:
    with Workspace(world["ws"], read_only=True) as ws:
        doc = ws.tracing.trace(f"{world['cb1']}:0", max_hops=1)
        paged = ws.tracing.trace(f"{world['cb1']}:0", max_degree=3)
        with pytest.raises(LimitExceeded, match="raise --max-depth"):
            ws.tracing.find_path(world["a"], world["d"], max_depth=1)
    hit = doc["provenance"]["limits_hit"]
    # B (3e9) is unspent; C (1,999,990,000) would go on: it stops at the hop limit
    assert hit[0]["limit"] == "max_hops" and hit[0]["amount"] == 1_999_990_000
    assert {ep["reason"] for ep in doc["endpoints"]} == {"unspent_in_data", "hop_limit"}
    # tx2 has 2 inputs + 2 outputs = 4 > 3: C's taint stops there, paged
    assert paged["provenance"]["limits_hit"][0]["limit"] == "max_degree"
    assert {e["address"]: e["reason"] for e in paged["endpoints"]}[world["c"]] == "paged"


def _cli(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chainsleuth.cli.main", "--workspace", str(ws), *args],
                          capture_output=True, text=True, check=False, timeout=120)


def test_cli_trace_json_csv_and_errors(world: dict[str, Any], tmp_path: Path) -> None:
    r = _cli(world["ws"], "trace", "forward", f"{world['cb1']}:0", "--policy", "fifo", "--json", "--csv",
             str(tmp_path / "t.csv"))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["policy"] == "fifo" and doc["endpoints"]
    assert (tmp_path / "t.csv").read_text().count("\n") == 1 + len(doc["edges"]) + len(doc["endpoints"])
    r = _cli(world["ws"], "trace", "forward", f"{world['cb1']}:9")
    assert r.returncode == 2 and "output index 9 is out of range" in r.stderr
    r = _cli(world["ws"], "trace", "backward", world["d"], "--policy", "nope")
    assert r.returncode == 2 and "choose one of" in r.stderr
    r = _cli(world["ws"], "trace", "forward", f"{world['cb1']}:0", "--max-hops", "1")
    assert r.returncode == 0 and "limit hit: --max-hops 1" in r.stderr
    r = _cli(world["ws"], "path", world["a"], world["d"], "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["hops"] == 2
