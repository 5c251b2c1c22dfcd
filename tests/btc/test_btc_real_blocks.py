"""Every block in the shared MANIFESTs parses to its hash, height, tx count and segwit count with a valid
merkle root; txids, wtxids and values agree with python-bitcoinlib; the bitcoin-s huge transactions."""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import pytest
from bitcoin.core import CBlock, CTransaction, b2lx

from chainsleuth.core.btc.script import classify_script
from chainsleuth.core.chains import MAINNET
from chainsleuth.errors import ParseError
from chainsleuth.sources.btc.files import BlockFileSource
from chainsleuth.sources.btc.parser import BlockParser

pytestmark = pytest.mark.shared_data

_CHAIN = {"mainnet": "btc", "testnet3": "btc-testnet"}


def _manifest(shared_data: Path) -> dict[Path, list[dict[str, str]]]:
    rows: dict[Path, list[dict[str, str]]] = defaultdict(list)
    for m in sorted(shared_data.glob("btc-blocks-*/MANIFEST.csv")):
        with m.open() as fh:
            for r in csv.DictReader(fh):
                rows[m.parent / r["file"]].append(r)
    return rows


def test_btc_every_manifest_block_parses(shared_data: Path) -> None:
    rows = _manifest(shared_data)
    assert sum(len(v) for v in rows.values()) >= 700
    checked = 0
    for path, expected in rows.items():
        net = expected[0]["network"]
        chain = _CHAIN.get(net, "btc")
        src = BlockFileSource([path], chain=chain)
        batches = list(src.iter_batches())
        blocks = [b for batch in batches for b in batch.blocks.to_pylist()]
        txs = [t for batch in batches for t in batch.txs.to_pylist()]
        assert src.chain == chain, path
        assert len(blocks) == len(expected), path
        by_block: dict[str, list[dict]] = defaultdict(list)
        for t in txs:
            by_block[t["block_hash"]].append(t)
        for got, exp in zip(blocks, sorted(expected, key=lambda r: int(r["index_in_file"])), strict=True):
            assert got["hash"] == exp["block_hash"], (path, exp["index_in_file"])
            assert got["prev_hash"] == exp["prev_hash"]
            assert got["time"] == int(exp["time_unix"])
            assert got["tx_count"] == int(exp["n_tx"]) == len(by_block[got["hash"]])
            assert sum(t["has_witness"] for t in by_block[got["hash"]]) == int(exp["n_segwit_tx"])
            assert got["size"] == int(exp["block_size"])
            if exp["height_source"] in ("bip34_coinbase", "position_from_genesis"):
                # derivable from the file alone: BIP34, or linked back to genesis within the stream
                if exp["height_source"] == "position_from_genesis" and int(exp["height"]) > 0 \
                        and path.name == "blocks1-256":
                    assert got["height"] is None     # genesis is not in this file; the store links it
                else:
                    assert got["height"] == int(exp["height"]), (path, exp["block_hash"])
                    assert got["height_source"] == ("bip34" if exp["height_source"] == "bip34_coinbase"
                                                    else "genesis")
            elif exp["height_source"] in ("filename", "") or exp["height_source"] == "fork_position":
                assert got["height"] is None, (path, got)   # pre-BIP34 version-1 block: not derivable
            assert got["weight"] <= 4_000_000 and got["stripped_size"] <= got["size"]
            checked += 1
    assert checked == sum(len(v) for v in rows.values())


def test_btc_merkle_mismatch_is_a_parse_error(shared_data: Path) -> None:
    raw = bytearray((shared_data / "btc-blocks-bitcoinj" / "block169482.dat").read_bytes())
    raw[40] ^= 1                      # flip a bit of the header's merkle root
    p = BlockParser("btc")
    with pytest.raises(ParseError, match="merkle root mismatch") as ei:
        p.parse_block(bytes(raw), 0, len(raw), source_file="block169482.dat", source_offset=0)
    assert ei.value.file == "block169482.dat" and ei.value.offset == 0
    assert p.n_blocks == 0 and p.n_txs == 0 and not p.o_vpos    # nothing partial kept


_BENCH_BLOCKS = [
    "btc-blocks-rust-bitcoin/mainnet_block_000000000000000000000c835b2adcaedc20fdf6ee440009c249452c726dafae.raw",
    "btc-blocks-bitcoinj/block481815.dat",
    "btc-blocks-bitcoinj/block481829.dat",
    "btc-blocks-btcd/block-0000000000000000001602407ac49862a7bca9d00f7f402db20b7be2f5de59d2.blk",
    "btc-blocks-btcd/block-00000000000000000021868c2cefc52a480d173c849412fe81c4e5ab806f94ab.blk",
    "btc-blocks-rust-bitcoin/testnet_block_000000000000045e0b1660b6445b5e5c5ab63c9a4f956be7e1e69be04fa4497b.raw",
]


@pytest.mark.parametrize("rel", _BENCH_BLOCKS)
def test_btc_agrees_with_python_bitcoinlib(shared_data: Path, rel: str) -> None:
    raw = (shared_data / rel).read_bytes()
    chain = "btc-testnet" if "testnet" in rel else "btc"
    p = BlockParser(chain)
    p.parse_block(raw, 0, len(raw), source_file=rel, source_offset=0)
    b = p.flush()
    ref = CBlock.deserialize(raw)
    assert b.blocks["hash"][0].as_py() == b2lx(ref.GetHash())
    assert b.blocks["merkle_root"][0].as_py() == b2lx(ref.calc_merkle_root())
    assert b.txs["txid"].to_pylist() == [b2lx(t.GetTxid()) for t in ref.vtx]
    assert b.txs["wtxid"].to_pylist() == [b2lx(t.GetHash()) for t in ref.vtx]
    assert b.txs["has_witness"].to_pylist() == [t.has_witness() for t in ref.vtx]
    assert b.txs["n_in"].to_pylist() == [len(t.vin) for t in ref.vtx]
    assert b.outputs["value"].to_pylist() == [o.nValue for t in ref.vtx for o in t.vout]
    assert b.outputs["script"].to_pylist() == [bytes(o.scriptPubKey) for t in ref.vtx for o in t.vout]
    assert b.txs["output_value"].to_pylist() == [sum(o.nValue for o in t.vout) for t in ref.vtx]
    ins = [i for t in ref.vtx[1:] for i in t.vin]
    got_prev = b.inputs["prev_txid"].to_pylist()
    assert got_prev[0] is None and b.txs["is_coinbase"].to_pylist()[0]
    assert got_prev[len(ref.vtx[0].vin):] == [b2lx(i.prevout.hash) for i in ins]
    assert b.inputs["prev_n"].to_pylist()[len(ref.vtx[0].vin):] == [i.prevout.n for i in ins]
    assert b.inputs["sequence"].to_pylist() == [i.nSequence for t in ref.vtx for i in t.vin]
    # sizes: stripped size from bitcoinlib's serialization without witness
    sizes = [len(t.serialize()) for t in ref.vtx]
    assert b.txs["size"].to_pylist() == sizes
    stripped = [len(CTransaction(t.vin, t.vout, t.nLockTime, t.nVersion).serialize()) for t in ref.vtx]
    assert b.txs["weight"].to_pylist() == [3 * s + f for s, f in zip(stripped, sizes, strict=True)]
    assert b.blocks["size"][0].as_py() == len(raw)
    # output n restarts per transaction; txids repeat per output
    first = b.outputs.slice(0, len(ref.vtx[0].vout) + 1).to_pylist()
    assert [o["n"] for o in first] == [*range(len(ref.vtx[0].vout)), 0]


_HUGE = {
    "a536e7f60a493a258d9adc77d913f7798baf60c808c16898b04579d8c0652681": (69_420, {"op_return": 69_418, "p2tr": 2}),
    "73be398c4bdc43709db7398106609eea2a7841aaf3a4fa2000dc18184faa2a7e": (1, {"op_return": 1}),
    "7393096d97bfee8660f4100ffd61874d62f9a65de9fb6acf740c4c386990ef73": (1, {"p2wpkh": 1}),
}


@pytest.mark.parametrize("txid", sorted(_HUGE))
def test_btc_bitcoin_s_huge_transactions(shared_data: Path, txid: str) -> None:
    raw = (shared_data / "btc-txs-bitcoin-s" / f"{txid}.bin").read_bytes()
    p = BlockParser("btc")
    assert p.parse_transactions(raw, 1, source_file=f"{txid}.bin") == len(raw)
    b = p.flush()
    assert b.txs["txid"].to_pylist() == [txid]
    assert b.txs["has_witness"][0].as_py()
    n_out, types = _HUGE[txid]
    assert b.outputs.num_rows == n_out == b.txs["n_out"][0].as_py()
    got: dict[str, int] = defaultdict(int)
    for t in b.outputs["script_type"].to_pylist():
        got[t] += 1
    assert dict(got) == types
    ref = CTransaction.deserialize(raw)
    assert b2lx(ref.GetTxid()) == txid
    assert b.outputs["value"].to_pylist() == [o.nValue for o in ref.vout]
    addrs = b.outputs["address"].to_pylist()
    scripts = b.outputs["script"].to_pylist()
    for i in sorted({0, 1, n_out - 2, n_out - 1} & set(range(n_out))):
        assert (b.outputs["script_type"][i].as_py(), addrs[i]) == classify_script(scripts[i], MAINNET)
    if n_out == 69_420:
        total = b.txs["output_value"][0].as_py()
        assert total == sum(b.outputs["value"].to_pylist())
        assert abs(total - 9_487_800_000) < 50_000   # SOURCE.md: 94.878 BTC (rounded)
        assert all(a.startswith("bc1p") for a, t in zip(addrs, b.outputs["script_type"].to_pylist(), strict=True)
                   if t == "p2tr")
        assert all(a is None for a, t in zip(addrs, b.outputs["script_type"].to_pylist(), strict=True)
                   if t == "op_return")
