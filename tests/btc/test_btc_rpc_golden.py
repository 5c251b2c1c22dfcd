"""Golden tests against bitcoin-etl's own test suite: its recorded Bitcoin Core answers (getblockhash,
getblock verbosity 2, getrawtransaction) served by the replay source through the same client code path as a
live node, ingested into a workspace, and compared field by field with bitcoin-etl's expected exports.

The trap in ``block_with_transactions`` (../shared/data/bitcoin-etl-tests/SOURCE.md): that expected export
was made without input enrichment, so its inputs carry value 0, its ``input_value`` is 0 and its fees are
negative. Those are not real amounts: the case is compared on everything else, and its input values are
checked to be unknown in the store (the spent outputs are in blocks that were not ingested), never 0.
``stream_50001_50002`` is the same two blocks exported with enrichment: there the real input amounts,
addresses and script types, ``input_value`` and ``fee`` are compared, ours read through the source's
``getrawtransaction`` lookup of the spent outputs (the recorded answers).

bitcoin_cash, dogecoin and zcash cases are for chains this project does not have (checked against the chain
registry), so they are skipped, each by name.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chainsleuth.core.chains import CHAINS
from chainsleuth.core.progress import NullProgress
from chainsleuth.sources.btc.rpc import open_btc_replay_source
from chainsleuth.workspace import Workspace

pytestmark = pytest.mark.shared_data

#: bitcoin-etl's output types -> ours
ETL_TYPES = {"pubkey": "p2pk", "pubkeyhash": "p2pkh", "scripthash": "p2sh", "multisig": "multisig",
             "nulldata": "op_return", "nonstandard": "nonstandard", "witness_v0_keyhash": "p2wpkh",
             "witness_v0_scripthash": "p2wsh", "witness_v1_taproot": "p2tr", "witness_unknown": "witness_unknown"}
#: case -> (heights, whether the expected export was made with input enrichment)
CASES = {"block_0": ([0], True), "block_1": ([1], True), "block_without_transactions": ([50000], True),
         "block_with_transactions": ([50001, 50002], False), "stream_50001_50002": ([50001, 50002], True)}
#: bitcoin-etl's chain directories -> the chain this project would store them as (None: not supported)
ETL_CHAINS = {"bitcoin": "btc", "bitcoin_cash": "bch", "dogecoin": "doge", "zcash": "zec"}


@pytest.fixture(scope="module")
def etl_dir(shared_data: Path) -> Path:
    d = shared_data / "bitcoin-etl-tests" / "resources" / "test_export_blocks_job"
    if not d.is_dir():
        pytest.skip("bitcoin-etl-tests is not in ../shared/data")
    return d


def _lines(p: Path) -> list[dict]:
    return [json.loads(x) for x in p.read_text().splitlines() if x.strip()]


def test_every_bitcoin_case_with_inputs_is_covered(etl_dir: Path) -> None:
    recorded = {c.name for c in (etl_dir / "bitcoin").iterdir() if any(c.glob("rpc_response_getblock_*"))}
    assert recorded == set(CASES)


@pytest.mark.parametrize("case", sorted(CASES))
def test_bitcoin_etl_case(case: str, etl_dir: Path, tmp_path: Path) -> None:
    heights, enriched = CASES[case]
    d = etl_dir / "bitcoin" / case
    ws = Workspace(tmp_path / "ws", progress=NullProgress())
    try:
        s = ws.ingest.btc_rpc(f"replay:{d}", chain="btc", from_=heights[0], to=heights[-1])
        assert (s.source, s.block_format, s.first_height, s.last_height) == ("btc-replay", "json", heights[0],
                                                                             heights[-1])
        assert s.endpoint == f"replay:{d}"
        utxo = ws.store.utxo
        exp_blocks = _lines(d / "expected_blocks.json")
        assert len(exp_blocks) == len(heights) == s.blocks_new
        for e in exp_blocks:
            b = utxo.block("btc", hash=e["hash"])
            assert b is not None, e["hash"]
            got = {"hash": b["hash"], "size": b["size"], "stripped_size": b["stripped_size"], "weight": b["weight"],
                   "number": b["height"], "version": b["version"], "merkle_root": b["merkle_root"],
                   "timestamp": b["time"], "nonce": f"{b['nonce']:x}", "bits": f"{b['bits']:08x}",
                   "transaction_count": b["tx_count"]}
            assert got == {k: e[k] for k in got}
        exp_txs = _lines(d / "expected_transactions.json")
        rows = {r[0]: r for r in ws.store.db.all(
            "SELECT txid, size, vsize, version, locktime, is_coinbase, block_index, n_in, n_out, output_value, "
            "block_hash FROM txs WHERE chain = 'btc'")}
        assert len(rows) == len(exp_txs)
        src = open_btc_replay_source(f"replay:{d}", "btc")
        for e in exp_txs:
            r = rows[e["hash"]]
            assert r[1:] == (e["size"], e["virtual_size"], e["version"], e["lock_time"], e["is_coinbase"], e["index"],
                             max(e["input_count"], 1 if e["is_coinbase"] else 0), e["output_count"],
                             e["output_value"], e["block_hash"])
            tx = utxo.tx("btc", e["hash"])
            assert tx is not None and tx["block_height"] == e["block_number"] and tx["time"] == e["block_timestamp"]
            assert [(o["n"], o["value"], o["script_type"], [o["address"]] if o["address"] else [])
                    for o in tx["outputs"]] == \
                   [(o["index"], o["value"], ETL_TYPES[o["type"]], o["addresses"]) for o in e["outputs"]]
            if e["is_coinbase"]:
                assert e["inputs"] == [] and tx["fee"] == e["fee"] == 0
                continue
            ins = tx["inputs"]
            assert [(i["n"], i["prev_txid"], i["prev_n"]) for i in ins] == \
                   [(i["index"], i["spent_transaction_hash"], i["spent_output_index"]) for i in e["inputs"]]
            # the spent outputs are in blocks not ingested: the store says so, and never makes up a value
            assert all(i["value"] is None for i in ins) and tx["fee"] is None
            if not enriched:
                assert all(i["value"] in (0, None) for i in e["inputs"]) and e["input_value"] == 0  # the trap
                continue
            prev = src.prevouts_by_txindex([(i["prev_txid"], i["prev_n"]) for i in ins])
            ours = [prev[(i["prev_txid"], i["prev_n"])] for i in ins]
            assert [(v, t, [a] if a else []) for v, t, a in ours] == \
                   [(i["value"], ETL_TYPES[i["type"]], i["addresses"]) for i in e["inputs"]]
            assert sum(v for v, _, _ in ours) == e["input_value"]
            assert sum(v for v, _, _ in ours) - r[9] == e["fee"]
        src.close()
    finally:
        ws.close()


@pytest.mark.parametrize("etl_chain", ["bitcoin_cash", "dogecoin", "zcash"])
def test_other_chains_are_not_supported(etl_chain: str, etl_dir: Path) -> None:
    assert (etl_dir / etl_chain).is_dir()
    ours = ETL_CHAINS[etl_chain]
    assert ours not in CHAINS and not any(c.startswith(ours) for c in CHAINS)
    pytest.skip(f"bitcoin-etl's {etl_chain} cases: the chain registry has no {ours!r} chain")
