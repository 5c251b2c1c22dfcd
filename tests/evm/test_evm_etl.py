"""ethereum-etl exports: the reader agrees with the JSON-RPC source on the same blocks, accounts for
withdrawals and fees exactly, and ingesting twice changes nothing."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from chainsleuth.errors import InvalidInput
from chainsleuth.sources.etl.ethereum import EthereumEtlSource
from chainsleuth.sources.registry import open_evm_source
from chainsleuth.workspace import Workspace

pytestmark = pytest.mark.shared_data


@pytest.fixture(scope="module")
def stream(shared_data: Path) -> Path:
    d = shared_data / "ethereum-etl-tests" / "resources" / "test_stream"
    if not d.is_dir():
        pytest.skip("ethereum-etl-tests is not in ../shared/data")
    return d


def _key(rows: list[dict[str, Any]]) -> Counter[tuple[Any, ...]]:
    return Counter((r["block_number"], r["tx_hash"], r["kind"], r["from"], r["to"], r["asset"], r["token_id"],
                    str(r["value"]), r["value_big"]) for r in rows)


def test_evm_etl_export_agrees_with_rpc_source(stream: Path) -> None:
    d = stream / "blocks_1755634_1755635"
    etl = EthereumEtlSource(d, "eth").read()
    rpc = open_evm_source(f"replay:{d}", "eth", traces="none", retries=0).fetch([1755634, 1755635])
    assert etl.blocks.num_rows == rpc.blocks.num_rows == 2
    assert _key(etl.transfers.to_pylist()) == _key(rpc.transfers.to_pylist())
    assert sorted(etl.txs.column("fee").to_pylist()) == sorted(rpc.txs.column("fee").to_pylist())


def test_evm_etl_withdrawals_and_fees_are_exact(stream: Path) -> None:
    d = stream / "blocks_17173049_17173050"
    batch = EthereumEtlSource(d, "eth").read()
    blocks = [json.loads(x) for x in (d / "expected_blocks.json").read_text().splitlines() if x.strip()]
    txs = [json.loads(x) for x in (d / "expected_transactions.json").read_text().splitlines() if x.strip()]
    rows = batch.transfers.to_pylist()
    w = [r for r in rows if r["kind"] == "withdrawal"]
    assert len(w) == sum(len(b["withdrawals"]) for b in blocks) > 0
    assert sum(int(r["value"]) for r in w) == sum(x["amount"] for b in blocks for x in b["withdrawals"]) * 10**9
    base = {b["number"]: b["base_fee_per_gas"] for b in blocks}
    miner = {b["number"]: b["miner"] for b in blocks}
    for t in txs:
        mine = [r for r in rows if r["tx_hash"] == t["hash"] and r["kind"] in ("fee", "burn")]
        paid = t["receipt_gas_used"] * t["receipt_effective_gas_price"]
        assert sum(int(r["value"]) for r in mine) == paid
        burn = [int(r["value"]) for r in mine if r["kind"] == "burn"]
        assert burn == [t["receipt_gas_used"] * base[t["block_number"]]]
        assert all(r["to"] == miner[t["block_number"]] for r in mine if r["kind"] == "fee")
        natives = [r for r in rows if r["tx_hash"] == t["hash"] and r["kind"] == "native"]
        assert len(natives) == (1 if t["value"] and t["receipt_status"] == 1 else 0)
    # ethereum-etl extracts ERC-20/721 Transfer logs only; the ERC-1155 TransferSingle mint is ours alone
    tokens = [r for r in rows if r["kind"] in ("erc20", "erc721")]
    e1155 = [(r["log_index"], r["from"], r["to"], r["token_id"], int(r["value"])) for r in rows if r["kind"] == "erc1155"]
    assert e1155 == [(336, "0x" + "0" * 40, "0x17c72771bb6b283bade0c07e0901744c37ff8c41", "0", 1)]
    expected = [json.loads(x) for x in (d / "expected_token_transfers.json").read_text().splitlines() if x.strip()]
    assert Counter((r["tx_hash"], r["log_index"], r["from"], r["to"]) for r in tokens) == \
        Counter((e["transaction_hash"], e["log_index"], e["from_address"], e["to_address"]) for e in expected)


def test_evm_etl_ingest_is_idempotent_and_shows_addresses(stream: Path, tmp_path: Path) -> None:
    d = stream / "blocks_17173049_17173050"
    ws = Workspace(tmp_path / "ws")
    s = ws.ingest.etl(d, chain="eth")
    blocks = [json.loads(x) for x in (d / "expected_blocks.json").read_text().splitlines() if x.strip()]
    assert s.blocks_new == 2 and s.txs_new == sum(b["transaction_count"] for b in blocks) and s.traces == "none"
    before = ws.queries.stats().chains["eth"]
    assert ws.ingest.etl(d, chain="eth").blocks_new == 0
    assert ws.queries.stats().chains["eth"] == before
    target = blocks[0]["withdrawals"][0]["address"]
    got = ws.queries.show_address(target).received
    assert isinstance(got, dict)
    assert got["native"] >= sum(x["amount"] for b in blocks for x in b["withdrawals"] if x["address"] == target) * 10**9
    with pytest.raises(InvalidInput):
        ws.ingest.etl(tmp_path, chain="eth")
    ws.close()
