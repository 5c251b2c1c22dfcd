"""The seeded block writer round-trips through our parser and through python-bitcoinlib."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from bitcoin.core import CBlock, b2lx
from hypothesis import given, settings
from hypothesis import strategies as st

from chainsleuth.core.btc.builder import BlockBuilder, TxSpec, genesis_block
from chainsleuth.core.btc.script import classify_script
from chainsleuth.errors import InvalidInput
from chainsleuth.sources.btc.files import BlockFileSource
from chainsleuth.sources.btc.parser import BlockParser
from chainsleuth.training.output import write_files

KINDS = ["p2pk", "p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr", "multisig"]


def random_chain(chain: str, seed: int, n_blocks: int, max_txs: int, include_genesis: bool = True) -> BlockBuilder:
    """A chain whose transactions spend earlier outputs (segwit and legacy, every output kind)."""
    rng = random.Random(seed)
    bb = BlockBuilder(chain, seed=seed, include_genesis=include_genesis)
    keys = bb.keys
    for _ in range(n_blocks):
        txs = []
        spendable = [k for k in bb.utxos if bb.utxos[k][0] > 10_000]
        rng.shuffle(spendable)
        for _t in range(rng.randrange(max_txs + 1)):
            if not spendable:
                break
            ins = [spendable.pop() for _ in range(min(len(spendable), rng.randrange(1, 4)))]
            total = sum(bb.utxos[k][0] for k in ins)
            n_out = rng.randrange(1, 5)
            outs: list[tuple[str | bytes, int]] = []
            budget = total - rng.randrange(0, 5_000)
            for _o in range(n_out):
                kind = rng.choice(KINDS)
                v = budget // n_out
                dest = keys.script(rng.randrange(50), kind) if rng.random() < 0.5 or kind in ("p2pk", "multisig") \
                    else keys.address(rng.randrange(50), kind)
                outs.append((dest, v))
            if rng.random() < 0.2:
                outs.append((b"\x6a\x08" + rng.randbytes(8), 0))
            txs.append(TxSpec(inputs=[(t, n) for t, n in ins], outputs=outs, version=rng.choice([1, 2]),
                              locktime=rng.randrange(0, 500_000)))
        coinbase_kind = rng.choice(KINDS)
        bb.add_block(txs, coinbase_to=keys.script(rng.randrange(50), coinbase_kind))
    return bb


@settings(max_examples=12, deadline=None, derandomize=True)
@given(st.integers(0, 2**32), st.sampled_from(["btc", "btc-testnet", "btc-signet", "btc-regtest"]),
       st.integers(1, 6), st.integers(0, 6))
def test_btc_writer_roundtrip_parser_and_bitcoinlib(seed: int, chain: str, n_blocks: int, max_txs: int) -> None:
    bb = random_chain(chain, seed, n_blocks, max_txs)
    p = BlockParser(chain, check_pow=False)
    for raw in bb.raw_blocks():
        p.parse_block(raw, 0, len(raw), source_file="mem", source_offset=0)
    batch = p.flush()
    assert batch.blocks["hash"].to_pylist() == [b.hash for b in bb.blocks]
    assert batch.blocks["height"].to_pylist() == list(range(len(bb.blocks)))
    assert set(batch.blocks["height_source"].to_pylist()) == {"genesis"}
    assert batch.blocks["merkle_root"].to_pylist() == [b.merkle_root for b in bb.blocks]
    assert batch.txs["txid"].to_pylist() == [t for b in bb.blocks for t in b.txids]
    assert batch.txs["wtxid"].to_pylist()[1:] == [t for b in bb.blocks for t in b.wtxids][1:]
    net = bb.network
    ref_values = []
    ref_addrs = []
    for raw, built in zip(bb.raw_blocks(), bb.blocks, strict=True):
        blk = CBlock.deserialize(raw)                     # independent parser
        assert b2lx(blk.GetHash()) == built.hash
        assert b2lx(blk.calc_merkle_root()) == built.merkle_root
        assert [b2lx(t.GetTxid()) for t in blk.vtx] == list(built.txids)
        for t in blk.vtx:
            for o in t.vout:
                ref_values.append(o.nValue)
                ref_addrs.append(classify_script(bytes(o.scriptPubKey), net))
    assert batch.outputs["value"].to_pylist() == ref_values
    assert list(zip(batch.outputs["script_type"].to_pylist(), batch.outputs["address"].to_pylist(),
                    strict=True)) == ref_addrs
    # every non-coinbase input points at an output the writer made
    made = {(t, n) for t, n in zip(batch.outputs["txid"].to_pylist(), batch.outputs["n"].to_pylist(), strict=True)}
    for pt, pn in zip(batch.inputs["prev_txid"].to_pylist(), batch.inputs["prev_n"].to_pylist(), strict=True):
        assert pt is None or (pt, pn) in made


def test_btc_writer_is_deterministic_and_bip34(tmp_path: Path) -> None:
    a = random_chain("btc-regtest", 11, 4, 3, include_genesis=False)
    b = random_chain("btc-regtest", 11, 4, 3, include_genesis=False)
    assert a.raw_blocks() == b.raw_blocks()
    assert random_chain("btc-regtest", 12, 4, 3, include_genesis=False).raw_blocks() != a.raw_blocks()
    p = BlockParser("btc-regtest", check_pow=False)
    for raw in a.raw_blocks():
        p.parse_block(raw, 0, len(raw), source_file="mem", source_offset=0)
    batch = p.flush()
    # no genesis in the stream: heights come from the BIP34 coinbase push (OP_1..OP_16 for low heights)
    assert batch.blocks["height"].to_pylist() == [1, 2, 3, 4]
    assert set(batch.blocks["height_source"].to_pylist()) == {"bip34"}
    # high heights use a minimal little-endian push
    hb = BlockBuilder("btc", seed=1, include_genesis=False, start_height=840_000)
    hb.add_block([])
    p2 = BlockParser("btc", check_pow=False)
    p2.parse_block(hb.raw_blocks()[0], 0, len(hb.raw_blocks()[0]), source_file="m", source_offset=0)
    assert p2.flush().blocks["height"].to_pylist() == [840_000]


def test_btc_writer_files_roundtrip(tmp_path: Path) -> None:
    bb = random_chain("btc-signet", 3, 8, 4)
    files = bb.blk_files(max_file_size=4_000, xor_key=bytes.fromhex("0102030405060708"))
    write_files(tmp_path / "blk", files)
    assert len([n for n in files if n.startswith("blk")]) > 1 and (tmp_path / "blk" / "xor.dat").read_bytes() == bytes.fromhex("0102030405060708")
    raw_paths = write_files(tmp_path / "raw", bb.raw_files())
    hex_paths = write_files(tmp_path / "hex", bb.raw_files(hex_text=True))
    results = []
    for d in ("blk", "raw", "hex"):
        src = BlockFileSource([tmp_path / d], chain="btc-signet", allow_invalid_pow=True)
        batches = list(src.iter_batches())
        results.append([h for b in batches for h in b.blocks["hash"].to_pylist()])
        assert src.chain == "btc-signet" and src.bytes_done == src.total_bytes
    assert results[0] == results[1] == results[2] == [b.hash for b in bb.blocks]
    assert len(raw_paths) == len(hex_paths) == len(bb.blocks)


def test_btc_writer_rejects_bad_specs() -> None:
    bb = BlockBuilder("btc-regtest", seed=0)
    cb = bb.add_block([]).txids[0]
    before = (dict(bb.utxos), bb.tip, len(bb.blocks))
    with pytest.raises(InvalidInput, match="spends"):
        bb.add_block([TxSpec(inputs=[(cb, 0)], outputs=[(bb.keys.address(1), 60 * 10**8)])])
    assert (dict(bb.utxos), bb.tip, len(bb.blocks)) == before      # a failed add_block changes nothing
    with pytest.raises(InvalidInput, match="hex"):
        bb.add_block([TxSpec(inputs=[("zz", 0)], outputs=[(bb.keys.address(1), 1)])])
    with pytest.raises(InvalidInput):
        bb.add_block([TxSpec(inputs=[(cb, 0)], outputs=[("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", 1)])])
    assert genesis_block(bb.network)[:4] == b"\x01\x00\x00\x00"
