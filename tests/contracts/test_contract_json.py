"""The JSON contracts of DESIGN.md ("Contracts other components rely on"), pinned through the real CLI.

Each test runs ``python -m chainsleuth.cli.main ... --json`` on a small workspace built here and checks that
stdout is exactly one JSON document with the contract's key set (plus the additions listed below, which
scripts may rely on too), the value types, and amounts as JSON integers (never floats or strings). Floats
are allowed only where DESIGN.md allows them (proportions: taint, confidence, shares) and for timings.

The court-grade contract (CHANGELOG.md, 0.2.0, has the migration note) is pinned here too: every amount
object says its ``asset`` and ``unit``; edges and endpoints cite the exact outpoint or transfer; endpoints carry
their reason inline; outputs say whether they are spent, unspent in the data, unknown beyond the data or
unspendable; coverage is a list of height ranges with gaps; a trace says what it could not see.

Additions beyond DESIGN.md that these tests pin (a change to them needs a migration note):
- account-chain Tx JSON: block_hash, gas_used, effective_gas_price, contract_address, traces; transfers carry
  token_id, trace_address, log_index, and kind may also be selfdestruct, fee, burn, reward, withdrawal,
  genesis or daofork (docs/evm.md);
- Cluster JSON: ``set`` (the cluster set's name) and ``page`` ({limit, offset}); links carry ``from``/``to``;
- Block JSON: size, stripped_size, weight, segwit_txs, version, bits, nonce, chainwork, height_source, best,
  confirmations_in_data (null on account chains).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chainsleuth.core.btc.builder import BlockBuilder, KeyRing, TxSpec
from chainsleuth.training.output import write_files

CHAIN = "btc-regtest"
COIN = 50 * 100_000_000

BLOCK_KEYS = {"chain", "hash", "height", "prev_hash", "time", "merkle_root", "tx_count"}
BLOCK_EXTRA = {"size", "stripped_size", "weight", "segwit_txs", "version", "bits", "nonce", "chainwork",
               "height_source", "best", "confirmations_in_data"}
UTXO_TX_KEYS = {"txid", "chain", "block_height", "block_hash", "time", "fee", "inputs", "outputs", "asset", "unit",
                "best", "inputs_outside_data"}
UTXO_IN_KEYS = {"n", "address", "value", "prev_txid", "prev_n", "outpoint", "script_type", "asset", "unit"}
UTXO_OUT_KEYS = {"n", "address", "value", "script_type", "spent_by", "outpoint", "status", "unspendable", "asset",
                 "unit"}
OUTPUT_STATUS = {"spent", "unspent_in_data", "unknown_beyond_data", "unspendable"}
ACCOUNT_TX_KEYS = {"txid", "chain", "block_height", "time", "status", "from", "to", "value", "fee", "transfers"}
ACCOUNT_TX_EXTRA = {"block_hash", "gas_used", "effective_gas_price", "contract_address", "traces", "asset", "unit"}
TRANSFER_KEYS = {"index", "kind", "from", "to", "asset", "value"}
TRANSFER_EXTRA = {"token_id", "trace_address", "log_index", "transfer", "unit", "decimals", "symbol"}
TRANSFER_KINDS = {"native", "internal", "selfdestruct", "erc20", "erc721", "erc1155", "fee", "burn", "reward",
                  "withdrawal", "genesis", "daofork"}   # docs/evm.md
ADDRESS_KEYS = {"address", "chain", "cluster", "tags", "received", "sent", "balance", "tx_count", "first_seen",
                "last_seen", "in_data", "asset", "unit", "units", "script_types", "unspendable", "provenance",
                "transactions", "transactions_page"}
ADDRESS_TX_KEYS = {"txid", "height", "time", "index", "received", "sent"}
CLUSTER_KEYS = {"id", "chain", "size", "addresses", "tags", "links"}
CLUSTER_EXTRA = {"set", "page"}
LINK_KEYS = {"txid", "heuristic", "confidence"}
LINK_EXTRA = {"from", "to"}
TRACE_KEYS = {"source", "direction", "policy", "max_hops", "edges", "endpoints", "provenance"}
EDGE_KEYS = {"txid", "from", "to", "amount", "taint", "asset", "time", "height", "hop", "unit", "value"}
UTXO_EDGE_EXTRA = {"outpoint"}           # plus "inputs" (forward) or "outputs" (backward)
ACCOUNT_EDGE_EXTRA = {"transfer"}
ENDPOINT_KEYS = {"address", "cluster", "entity", "category", "amount", "hops", "reason", "asset", "unit", "coins"}
ENDPOINT_REASONS = {"service", "unspent_in_data", "unknown_beyond_data", "unspendable", "balance_in_data",
                    "hop_limit", "paged", "edge_limit", "coinbase", "unknown_origin"}
# the only JSON numbers that may be floats: proportions and timings
FLOAT_FIELDS = {"taint", "confidence", "share", "seconds"}


def cli(ws: Path, *args: str, expect: int = 0) -> Any:
    """Run the CLI; return the parsed stdout (exactly one JSON document) for ``expect == 0``."""
    r = subprocess.run([sys.executable, "-m", "chainsleuth.cli.main", "--workspace", str(ws), *args],
                       capture_output=True, text=True, check=False, timeout=120)
    assert "Traceback" not in r.stderr, r.stderr
    assert r.returncode == expect, f"{args}: exit {r.returncode}\n{r.stderr}"
    if expect:
        assert r.stdout == "", "an error prints nothing on stdout"
        return None
    doc = json.loads(r.stdout)   # raises on a second document or trailing text
    _no_stray_floats(doc, args)
    return doc


def _no_stray_floats(obj: Any, where: Any, key: str = "") -> None:
    if isinstance(obj, float):
        assert key in FLOAT_FIELDS, f"{where}: float {obj!r} in field {key!r} (amounts are integers)"
    elif isinstance(obj, dict):
        for k, v in obj.items():
            _no_stray_floats(v, where, str(k))
    elif isinstance(obj, list):
        for v in obj:
            _no_stray_floats(v, where, key)


def is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_hex64(v: Any, prefix: str = "") -> bool:
    return isinstance(v, str) and v.startswith(prefix) and len(v) == 64 + len(prefix) and \
        all(c in "0123456789abcdef" for c in v[len(prefix):])


@pytest.fixture(scope="module")
def btc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A regtest chain: two coinbases co-spent (A, B -> C + change E), then C -> D; ingested and clustered."""
    root = tmp_path_factory.mktemp("contract-btc")
    keys = KeyRing(seed=11, chain=CHAIN)
    a, b, c, d, e = (keys.address(i, k) for i, k in enumerate(["p2wpkh", "p2pkh", "p2wpkh", "p2tr", "p2wpkh"]))
    bb = BlockBuilder(CHAIN, seed=11)
    b1 = bb.add_block([], coinbase_to=a)
    b2 = bb.add_block([], coinbase_to=b)
    b3 = bb.add_block([TxSpec(inputs=[(b1.txids[0], 0), (b2.txids[0], 0)],
                              outputs=[(c, 60 * 100_000_000), (e, 2 * COIN - 60 * 100_000_000 - 10_000)])])
    b4 = bb.add_block([TxSpec(inputs=[(b3.txids[1], 0)], outputs=[(d, 60 * 100_000_000 - 5_000)])])
    write_files(root / "blocks", bb.blk_files())
    ws = root / "ws"
    cli(ws, "ingest", "btc-blocks", "--allow-invalid-pow", str(root / "blocks"), "--json")
    cli(ws, "cluster", "--json")
    return {"ws": ws, "a": a, "b": b, "c": c, "d": d, "e": e, "spend": b3.txids[1], "pay": b4.txids[1],
            "height": b3.height, "hash": b3.hash}


def test_block_json(btc: dict[str, Any]) -> None:
    for ref in (str(btc["height"]), btc["hash"]):
        doc = cli(btc["ws"], "show", "block", ref, "--json")
        assert set(doc) == BLOCK_KEYS | BLOCK_EXTRA
        assert doc["best"] is True and doc["height_source"] == "genesis" and doc["confirmations_in_data"] == 2
        assert all(is_int(doc[k]) for k in ("size", "stripped_size", "weight", "segwit_txs"))
        assert doc["weight"] == 3 * doc["stripped_size"] + doc["size"] and doc["segwit_txs"] == 2
        assert is_hex64(doc["chainwork"])
        assert doc["chain"] == CHAIN and doc["hash"] == btc["hash"] and doc["height"] == btc["height"]
        assert is_hex64(doc["prev_hash"]) and is_hex64(doc["merkle_root"])
        assert is_int(doc["time"]) and doc["tx_count"] == 2


def test_utxo_tx_json(btc: dict[str, Any]) -> None:
    doc = cli(btc["ws"], "show", "tx", btc["spend"], "--json")
    assert set(doc) == UTXO_TX_KEYS
    assert (doc["asset"], doc["unit"], doc["best"], doc["inputs_outside_data"]) == ("rBTC", "sat", True, 0)
    assert all((x["asset"], x["unit"]) == ("rBTC", "sat") for x in doc["inputs"] + doc["outputs"])
    assert all(i["outpoint"] == f"{i['prev_txid']}:{i['prev_n']}" for i in doc["inputs"])
    assert [o["outpoint"] for o in doc["outputs"]] == [f"{btc['spend']}:0", f"{btc['spend']}:1"]
    assert [o["status"] for o in doc["outputs"]] == ["spent", "unspent_in_data"]
    assert all(o["unspendable"] is None for o in doc["outputs"])
    assert doc["txid"] == btc["spend"] and doc["chain"] == CHAIN and doc["block_hash"] == btc["hash"]
    assert is_int(doc["block_height"]) and is_int(doc["time"])
    assert is_int(doc["fee"]) and doc["fee"] == 10_000
    assert [set(i) for i in doc["inputs"]] == [UTXO_IN_KEYS] * 2
    assert [set(o) for o in doc["outputs"]] == [UTXO_OUT_KEYS] * 2
    assert {i["address"] for i in doc["inputs"]} == {btc["a"], btc["b"]}
    assert all(is_int(i["value"]) and is_int(i["n"]) and is_int(i["prev_n"]) and is_hex64(i["prev_txid"])
               for i in doc["inputs"])
    assert all(is_int(o["value"]) and isinstance(o["script_type"], str) for o in doc["outputs"])
    assert doc["outputs"][0]["address"] == btc["c"] and doc["outputs"][0]["value"] == 60 * 100_000_000
    assert doc["outputs"][0]["spent_by"] is not None and doc["outputs"][0]["spent_by"].startswith(btc["pay"])
    assert doc["outputs"][1]["spent_by"] is None
    assert sum(i["value"] for i in doc["inputs"]) == sum(o["value"] for o in doc["outputs"]) + doc["fee"]


def test_utxo_address_json(btc: dict[str, Any]) -> None:
    doc = cli(btc["ws"], "show", "address", btc["a"], "--json")
    assert set(doc) == ADDRESS_KEYS
    assert doc["address"] == btc["a"] and doc["chain"] == CHAIN
    assert doc["transactions_page"] == {"limit": 10, "offset": 0, "total": doc["tx_count"]}
    assert all(set(x) == ADDRESS_TX_KEYS and is_hex64(x["txid"]) and is_int(x["received"]) and is_int(x["sent"])
               for x in doc["transactions"]) and len(doc["transactions"]) == doc["tx_count"]
    assert (doc["in_data"], doc["asset"], doc["unit"], doc["units"], doc["script_types"], doc["unspendable"]) == (
        True, "rBTC", "sat", None, ["p2wpkh"], 0)
    prov = doc["provenance"]
    assert prov["coverage"]["ranges"] == [[0, 4]] and prov["coverage"]["gaps"] == [] and prov["coverage"]["complete"]
    assert [r["source_kind"] for r in prov["ingest_runs"]] == ["btc-blocks"] and prov["software_version"]
    assert set(doc["cluster"]) == {"id", "size"} and is_int(doc["cluster"]["id"]) and doc["cluster"]["size"] == 2
    assert isinstance(doc["tags"], list)
    for k in ("received", "sent", "balance", "tx_count", "first_seen", "last_seen"):
        assert is_int(doc[k]), k
    assert (doc["received"], doc["sent"], doc["balance"]) == (COIN, COIN, 0)


def test_cluster_json(btc: dict[str, Any]) -> None:
    doc = cli(btc["ws"], "show", "cluster", btc["b"], "--json")
    assert set(doc) == CLUSTER_KEYS | CLUSTER_EXTRA
    assert is_int(doc["id"]) and doc["chain"] == CHAIN and doc["size"] == 2
    assert sorted(doc["addresses"]) == sorted([btc["a"], btc["b"]])
    assert isinstance(doc["tags"], list) and isinstance(doc["set"], str)
    assert doc["links"] and all(set(link) == LINK_KEYS | LINK_EXTRA for link in doc["links"])
    link = doc["links"][0]
    assert link["txid"] == btc["spend"] and link["heuristic"] == "co-spend" and 0 < link["confidence"] <= 1
    again = cli(btc["ws"], "show", "cluster", str(doc["id"]), "--json", "--limit", "1")
    assert again["id"] == doc["id"] and len(again["addresses"]) == 1 and again["page"] == {"limit": 1, "offset": 0}


def _check_trace(doc: dict[str, Any], direction: str, policy: str, utxo: bool = True) -> None:
    assert set(doc) == TRACE_KEYS
    assert doc["direction"] == direction and doc["policy"] == policy and is_int(doc["max_hops"])
    assert doc["edges"] and doc["endpoints"]
    side = "inputs" if direction == "forward" else "outputs"
    for e in doc["edges"]:
        assert set(e) == EDGE_KEYS | ((UTXO_EDGE_EXTRA | {side}) if utxo else ACCOUNT_EDGE_EXTRA)
        assert (is_hex64(e["txid"]) or is_hex64(e["txid"], "0x")) and is_int(e["amount"]) and is_int(e["hop"]) and is_int(e["height"])
        assert isinstance(e["taint"], (int, float)) and 0 <= e["taint"] <= 1 and isinstance(e["unit"], str)
        coin = e["outpoint"] if utxo else e["transfer"]
        assert isinstance(coin, str) and coin.startswith(e["txid"] if utxo and direction == "forward" else "")
        if utxo:       # the other side: the coins whose taint came through, each cited and with its unit
            assert all(set(o) == {"outpoint", "address", "amount", "asset", "unit"} for o in e[side])
            assert isinstance(e["from" if direction == "forward" else "to"], list)
    for ep in doc["endpoints"]:
        assert set(ep) == ENDPOINT_KEYS and ep["reason"] in ENDPOINT_REASONS
        assert is_int(ep["amount"]) and is_int(ep["hops"]) and ep["coins"]
        assert sum(c["amount"] for c in ep["coins"]) == ep["amount"]
        assert ep["cluster"] is None or is_int(ep["cluster"])
    prov = doc["provenance"]
    assert isinstance(prov, dict) and "endpoint_reasons" not in prov and "data_range" not in prov
    assert {"ranges", "gaps"} <= set(prov["coverage"])
    assert all(is_int(v) for k, v in prov["totals"].items() if k not in ("asset", "unit"))


def test_trace_forward_json(btc: dict[str, Any]) -> None:
    doc = cli(btc["ws"], "trace", "forward", f"{btc['spend']}:0", "--policy", "fifo", "--json")
    _check_trace(doc, "forward", "fifo")
    assert doc["source"] == f"{btc['spend']}:0"
    assert [(ep["address"], ep["amount"], ep["reason"]) for ep in doc["endpoints"]] == [
        (btc["d"], 60 * 100_000_000 - 5_000, "unspent_in_data")]
    assert doc["endpoints"][0]["coins"] == [{"outpoint": f"{btc['pay']}:0", "amount": 60 * 100_000_000 - 5_000,
                                             "hop": 1}]
    edge = doc["edges"][0]
    assert edge["outpoint"] == f"{btc['pay']}:0" and edge["to"] == btc["d"] and edge["from"] == [btc["c"]]
    assert edge["inputs"] == [{"outpoint": f"{btc['spend']}:0", "address": btc["c"], "amount": 60 * 100_000_000,
                               "asset": "rBTC", "unit": "sat"}]
    totals = doc["provenance"]["totals"]
    assert (totals["asset"], totals["unit"]) == ("rBTC", "sat")
    assert totals["source_amount"] == totals["endpoints"] + totals["fees"] + totals["cut_off"]
    assert doc["provenance"]["unseen_inputs"]["transactions"] == 0


def test_trace_backward_json(btc: dict[str, Any]) -> None:
    doc = cli(btc["ws"], "trace", "backward", btc["d"], "--policy", "haircut", "--json")
    _check_trace(doc, "backward", "haircut")
    assert sum(ep["amount"] for ep in doc["endpoints"]) <= 60 * 100_000_000
    assert {ep["reason"] for ep in doc["endpoints"]} <= {"coinbase", "unknown_origin"}
    first = [e for e in doc["edges"] if e["hop"] == 1]
    assert {e["outpoint"] for e in first} == {f"{btc['spend']}:0"} and first[0]["to"] == [btc["d"]]


def test_stats_json(btc: dict[str, Any]) -> None:
    doc = cli(btc["ws"], "stats", "--json")
    assert set(doc) == {"schema_version", "chains"} and is_int(doc["schema_version"])
    s = doc["chains"][CHAIN]
    assert s["model"] == "utxo" and (s["asset"], s["unit"]) == ("rBTC", "sat")
    assert s["coverage"]["ranges"] == [[0, 4]] and s["stale_blocks"] == 0 and s["segments"] == 1
    for k in ("blocks", "txs", "outputs", "inputs", "addresses", "unspent_value"):
        assert is_int(s[k]), k
    assert s["blocks"] == 5 and s["txs"] == 7   # genesis + 4 blocks; 5 coinbases + 2


@pytest.fixture(scope="module")
def evm(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """ethereum-etl's recorded mainnet blocks 1755634-1755635 (an ERC-20 transfer) as an ETL export."""
    ws = tmp_path_factory.mktemp("contract-evm") / "ws"
    export = shared_data / "ethereum-etl-tests" / "resources" / "test_stream" / "blocks_1755634_1755635"
    cli(ws, "ingest", "etl", str(export), "--chain", "eth", "--json")
    return {"ws": ws, "tx": "0x2e3dcd051a91d3a694f6b8de2ac4b5fe7acdba55f58bcf8471ff00d4a430074d",
            "holder": "0x8b3b3b624c3c0397d3da8fd861512393d51dcbac"}


def test_account_tx_json(evm: dict[str, Any]) -> None:
    doc = cli(evm["ws"], "show", "tx", evm["tx"], "--json")
    assert set(doc) == ACCOUNT_TX_KEYS | ACCOUNT_TX_EXTRA
    assert doc["txid"] == evm["tx"] and doc["chain"] == "eth" and doc["block_height"] == 1755635
    assert is_int(doc["value"]) and is_int(doc["fee"]) and is_int(doc["time"])
    assert doc["status"] in (None, 0, 1)
    assert doc["transfers"]
    assert (doc["asset"], doc["unit"]) == ("ETH", "wei")
    for t in doc["transfers"]:
        assert set(t) == TRANSFER_KEYS | TRANSFER_EXTRA
        assert t["kind"] in TRANSFER_KINDS and is_int(t["index"]) and is_int(t["value"])
        assert t["transfer"] == f"{evm['tx']}:{t['index']}" and t["unit"] in ("wei", "base unit", "token")
    erc20 = [t for t in doc["transfers"] if t["kind"] == "erc20"]
    assert erc20 and erc20[0]["value"] == 5 * 10**18 and erc20[0]["to"].lower() == evm["holder"]


def test_account_address_json(evm: dict[str, Any]) -> None:
    doc = cli(evm["ws"], "show", "address", evm["holder"].upper().replace("0X", "0x"), "--json")
    assert set(doc) == ADDRESS_KEYS
    assert doc["address"].lower() == evm["holder"] and doc["chain"] == "eth"
    assert doc["cluster"] is None or set(doc["cluster"]) == {"id", "size"}
    for k in ("received", "sent", "balance"):   # per asset: "native" or a token contract -> int
        assert isinstance(doc[k], dict) and doc[k], k
        assert all(is_int(v) for v in doc[k].values()), k
    token = "0xbb9bc244d798123fde783fcc1c72d3bb8c189413"
    assert {a.lower(): v for a, v in doc["balance"].items()}[token] == 5 * 10**18
    assert set(doc["units"]) == set(doc["balance"]) and doc["asset"] is None and doc["unit"] is None
    assert {a.lower(): u["unit"] for a, u in doc["units"].items()}[token] == "base unit"
    assert doc["units"].get("native", {"unit": "wei"})["unit"] == "wei"
    assert is_int(doc["tx_count"]) and is_int(doc["first_seen"]) and is_int(doc["last_seen"])


def test_account_trace_json(evm: dict[str, Any]) -> None:
    token = "0xBB9bc244D798123fDe783fCc1C72d3Bb8C189413"
    doc = cli(evm["ws"], "trace", "backward", evm["holder"], "--asset", token, "--policy", "fifo", "--json")
    _check_trace(doc, "backward", "fifo", utxo=False)
    assert [(e["txid"], e["amount"], e["asset"], e["unit"]) for e in doc["edges"]] == [
        (evm["tx"], 5 * 10**18, token, "base unit")]
    assert sum(ep["amount"] for ep in doc["endpoints"]) == 5 * 10**18


def test_account_block_json(evm: dict[str, Any]) -> None:
    doc = cli(evm["ws"], "show", "block", "1755635", "--json")
    assert set(doc) == BLOCK_KEYS | BLOCK_EXTRA and all(doc[k] is None for k in BLOCK_EXTRA)
    assert doc["chain"] == "eth" and doc["height"] == 1755635
    assert is_hex64(doc["hash"], "0x") and is_hex64(doc["prev_hash"], "0x") and is_int(doc["tx_count"])
    stats = cli(evm["ws"], "stats", "--json")["chains"]["eth"]
    assert stats["model"] == "account" and is_int(stats["txs"]) and is_int(stats["blocks"])


def test_errors_print_nothing_on_stdout(btc: dict[str, Any]) -> None:
    cli(btc["ws"], "show", "tx", "ab" * 32, "--json", expect=3)
    cli(btc["ws"], "show", "tx", "xyz", "--json", expect=2)
    cli(btc["ws"], "trace", "forward", f"{btc['spend']}:0", "--policy", "nope", "--json", expect=2)
