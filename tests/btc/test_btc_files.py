"""BlockFileSource: framing, xor.dat, padding, raw and hex, directory order, and every bad-input case
(a ParseError naming file and offset; nothing partial; --skip-bad notes)."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainsleuth.core.btc.builder import BlockBuilder, TxSpec, blk_files
from chainsleuth.core.chains import MAINNET, TESTNET3
from chainsleuth.errors import ParseError
from chainsleuth.sources.btc.files import BlockFileSource
from chainsleuth.training.output import write_files


def _chain(n: int = 5, chain: str = "btc") -> BlockBuilder:
    bb = BlockBuilder(chain, seed=42)
    for i in range(n):
        txs = []
        if i:
            utxo = next(iter(bb.utxos))
            txs = [TxSpec(inputs=[utxo], outputs=[(bb.keys.address(i, "p2wpkh"), bb.utxos[utxo][0] - 1000)])]
        bb.add_block(txs)
    return bb


def _hashes(src: BlockFileSource) -> list[str]:
    return [h for b in src.iter_batches() for h in b.blocks["hash"].to_pylist()]


def _framed(bb: BlockBuilder) -> bytes:
    return b"".join(bb.network.magic + struct.pack("<I", len(r)) + r for r in bb.raw_blocks())


def test_btc_files_framed_padding_batches_and_progress(tmp_path: Path) -> None:
    bb = _chain(6)
    data = _framed(bb) + bytes(4096)           # preallocated zero padding ends the file quietly
    f = tmp_path / "blk00000.dat"
    f.write_bytes(data)
    src = BlockFileSource([f], batch_txs=2, allow_invalid_pow=True)
    batches = list(src.iter_batches())
    assert len(batches) > 2 and all(b.n_blocks >= 1 for b in batches)
    assert [h for b in batches for h in b.blocks["hash"].to_pylist()] == [b.hash for b in bb.blocks]
    assert src.bytes_done == src.total_bytes == len(data)
    assert src.skipped == [] and src.chain == "btc"
    offs = [o for b in batches for o in b.blocks["source_offset"].to_pylist()]
    assert offs[0] == 8 and data[offs[1] - 8:offs[1] - 4] == MAINNET.magic
    import hashlib
    assert src.content_hash() == hashlib.sha256(data).hexdigest()


def test_btc_files_xor_obfuscated_equals_plain(tmp_path: Path) -> None:
    bb = _chain(4, "btc-testnet")
    plain = write_files(tmp_path / "plain", bb.blk_files(max_file_size=1500))
    write_files(tmp_path / "xor", bb.blk_files(max_file_size=1500, xor_key=bytes.fromhex("a1b2c3d4e5f60718")))
    write_files(tmp_path / "zero", bb.blk_files(max_file_size=1500, xor_key=bytes(8)))
    assert (tmp_path / "xor" / "blk00000.dat").read_bytes()[:4] != TESTNET3.magic
    a, b, c = (BlockFileSource([tmp_path / d], allow_invalid_pow=True) for d in ("plain", "xor", "zero"))
    assert a.chain == b.chain == c.chain == "btc-testnet"        # magic read through the xor key
    assert _hashes(a) == _hashes(b) == _hashes(c) == [x.hash for x in bb.blocks]
    assert len(plain) > 1


def test_btc_files_directory_order(tmp_path: Path) -> None:
    bb = _chain(3)
    raws = bb.raw_blocks()
    d = tmp_path / "d"
    (d / "sub").mkdir(parents=True)
    for i, name in ((0, "blk2.dat"), (1, "blk10.dat")):
        write_files(tmp_path / f"w{i}", blk_files([raws[i + 1]], MAINNET))
        (d / name).write_bytes((tmp_path / f"w{i}" / "blk00000.dat").read_bytes())
    (d / "a.raw").write_bytes(raws[0])
    (d / "sub" / "z.hex").write_text(raws[3].hex()[:100] + "\n" + raws[3].hex()[100:] + "\n")
    for junk in ("README.md", "MANIFEST.csv", "rev00000.dat", "LOCK"):
        (d / junk).write_text("not a block")
    src = BlockFileSource([d], allow_invalid_pow=True)
    assert [p.name for p in src._files] == ["blk2.dat", "blk10.dat", "a.raw", "z.hex"]
    assert _hashes(src) == [bb.blocks[1].hash, bb.blocks[2].hash, bb.blocks[0].hash, bb.blocks[3].hash]


# -- bad input ----------------------------------------------------------------------------------------------
def _bad_cases(tmp_path: Path) -> dict[str, tuple[Path, int, str]]:
    """name -> (file, expected offset, message fragment)"""
    bb = _chain(3)
    framed = _framed(bb)
    r0 = len(bb.raw_blocks()[0]) + 8
    r1 = len(bb.raw_blocks()[1]) + 8
    cases: dict[str, tuple[bytes, int, str]] = {
        "truncated": (framed[:-10], r0 + r1, "only"),
        "wrong_magic": (framed[:r0] + TESTNET3.magic + framed[r0 + 4:], r0, "magic of btc-testnet"),
        "size_overruns": (framed[:r0 + 4] + struct.pack("<I", 10**6) + framed[r0 + 8:], r0, "declares a block of"),
        "garbage_between": (framed[:r0] + b"GARBAGE!" + framed[r0:], r0, "garbage between records"),
        "record_longer_than_block": (framed[:r0] + MAINNET.magic + struct.pack("<I", r1 - 8 + 3)
                                     + framed[r0 + 8:r0 + r1] + b"xyz" + framed[r0 + r1:], r0 + 8, "left over"),
    }
    # varint claiming more transactions than the block holds (tx count of block 1 -> 0xfe 0x00ffffff)
    raw1 = bb.raw_blocks()[1]
    bad1 = raw1[:80] + b"\xfe\xff\xff\xff\x00" + raw1[81:]
    rec = MAINNET.magic + struct.pack("<I", len(bad1)) + bad1
    cases["varint_overrun"] = (framed[:r0] + rec + framed[r0 + r1:], r0 + 8 + 81, "claims 16777215 transactions")
    out = {}
    for name, (data, off, msg) in cases.items():
        p = tmp_path / f"{name}.dat"
        p.write_bytes(data)
        out[name] = (p, off, msg)
    # raw block cut short (no framing)
    p = tmp_path / "truncated_raw.raw"
    p.write_bytes(bb.raw_blocks()[2][:-7])
    out["truncated_raw"] = (p, 0, "")
    return out


def test_btc_files_bad_input_raises_with_file_and_offset(tmp_path: Path) -> None:
    for name, (path, off, msg) in _bad_cases(tmp_path).items():
        src = BlockFileSource([path], allow_invalid_pow=True)
        with pytest.raises(ParseError) as ei:
            list(src.iter_batches())
        e = ei.value
        assert e.file == str(path), name
        assert e.offset is not None and e.offset >= off and e.offset < path.stat().st_size, (name, e.offset, off)
        assert msg in e.message, (name, e.message)
        assert str(path) in str(e) and f"offset={e.offset}" in str(e)


def test_btc_files_skip_bad_resyncs_and_reports(tmp_path: Path) -> None:
    cases = _bad_cases(tmp_path)
    bb = _chain(3)
    every = [b.hash for b in bb.blocks]
    for name in ("garbage_between", "wrong_magic", "size_overruns", "varint_overrun", "record_longer_than_block"):
        path = cases[name][0]
        src = BlockFileSource([path], skip_bad=True, allow_invalid_pow=True)
        got = _hashes(src)
        assert len(src.skipped) >= 1 and str(path) in src.skipped[0], name
        assert "offset" in src.skipped[0]
        assert got[0] == every[0] and set(got) <= set(every), name
        for batch in BlockFileSource([path], skip_bad=True, allow_invalid_pow=True).iter_batches():     # whole blocks only
            assert sum(batch.blocks["tx_count"].to_pylist()) == batch.txs.num_rows
            assert sum(batch.txs["n_out"].to_pylist()) == batch.outputs.num_rows
            assert sum(batch.txs["n_in"].to_pylist()) == batch.inputs.num_rows
        if name == "garbage_between":
            assert got == every                           # nothing lost: resynced on the next magic
        else:
            assert every[1] not in got or name == "wrong_magic"


def test_btc_files_failed_block_leaves_nothing_partial(tmp_path: Path) -> None:
    from chainsleuth.sources.btc.parser import BlockParser

    bb = _chain(3)
    good, bad = bb.raw_blocks()[1], bb.raw_blocks()[2]
    p = BlockParser("btc", check_pow=False)
    p.parse_block(good, 0, len(good), source_file="g", source_offset=0)
    before = (p.n_blocks, p.n_txs, len(p.o_vpos), len(p.o_script), len(p.i_pos), len(p.i_wit), len(p.i_sqpos))
    for cut in (90, len(bad) // 2, len(bad) - 3):          # inside the first tx, in the middle, in the locktime
        with pytest.raises(ParseError):
            p.parse_block(bad[:cut], 0, cut, source_file="b", source_offset=0)
        assert (p.n_blocks, p.n_txs, len(p.o_vpos), len(p.o_script), len(p.i_pos), len(p.i_wit), len(p.i_sqpos)) == before
    batch = p.flush()
    assert batch.blocks["hash"].to_pylist() == [bb.blocks[1].hash]
    assert sum(batch.txs["n_out"].to_pylist()) == batch.outputs.num_rows
    assert sum(batch.txs["n_in"].to_pylist()) == batch.inputs.num_rows


def test_btc_files_unreadable_paths(tmp_path: Path) -> None:
    with pytest.raises(ParseError, match="no such file") as ei:
        BlockFileSource([tmp_path / "missing.dat"], allow_invalid_pow=True)
    assert ei.value.offset == 0 and "missing.dat" in ei.value.file
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ParseError, match="not a regular file"):
        BlockFileSource([fifo], allow_invalid_pow=True)
    hexf = tmp_path / "bad.hex"
    hexf.write_text("0100zz")
    with pytest.raises(ParseError, match="not hex") as ei:
        list(BlockFileSource([hexf], allow_invalid_pow=True).iter_batches())
    assert ei.value.offset == 4


def test_btc_files_chain_conflict(tmp_path: Path) -> None:
    f = tmp_path / "blk00000.dat"
    f.write_bytes(_framed(_chain(1, "btc-regtest")))
    assert BlockFileSource([f], allow_invalid_pow=True).chain == "btc-regtest"
    with pytest.raises(ParseError, match="btc-regtest"):
        BlockFileSource([f], chain="btc", allow_invalid_pow=True)



def _fuzz_blocks() -> list[bytes]:
    bb = BlockBuilder("btc-regtest", seed=77)
    keys = bb.keys
    cb = bb.add_block([]).txids[0]
    bb.add_block([TxSpec(inputs=[(cb, 0)], outputs=[(keys.address(i, k), 1000) for i, k in
                                                    enumerate(["p2wpkh", "p2pkh", "p2tr", "p2sh"])])])
    return bb.raw_blocks()[1:]


_FUZZ = _fuzz_blocks()


@settings(max_examples=300, deadline=None, derandomize=True)
@given(st.integers(0, 1), st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=4),
       st.integers(0, 10_000))
def test_btc_parser_never_fails_otherwise_on_mutated_bytes(which: int, edits: list[tuple[int, int]],
                                                           cut: int) -> None:
    """Flipped bytes or a cut anywhere: the block parses or raises ParseError - nothing else, no hang."""
    from chainsleuth.sources.btc.parser import BlockParser

    raw = bytearray(_FUZZ[which])
    for pos, val in edits:
        raw[pos % len(raw)] = val
    data = bytes(raw[:len(raw) - cut % len(raw)])
    p = BlockParser("btc-regtest", check_pow=False)
    try:
        p.parse_block(data, 0, len(data), source_file="fuzz", source_offset=0)
    except ParseError as e:
        assert e.file == "fuzz" and e.offset is not None
        assert p.n_blocks == p.n_txs == len(p.o_vpos) == len(p.i_pos) == 0
    else:
        batch = p.flush()
        assert batch.n_blocks == 1 and sum(batch.txs["n_out"].to_pylist()) == batch.outputs.num_rows


@settings(max_examples=80, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 255)), max_size=3), st.integers(0, 3_000),
       st.booleans())
def test_btc_files_framing_fuzz(tmp_path_factory: pytest.TempPathFactory, edits: list[tuple[int, int]],
                                cut: int, skip: bool) -> None:
    """Mutated or cut blk files: ParseError (or, with skip_bad, notes) - never another exception."""
    from chainsleuth.core.chains import REGTEST

    data = bytearray(b"".join(REGTEST.magic + struct.pack("<I", len(r)) + r for r in _FUZZ * 2))
    for pos, val in edits:
        data[pos % len(data)] = val
    f = tmp_path_factory.mktemp("fz") / "blk00000.dat"
    f.write_bytes(bytes(data[:len(data) - cut % len(data)]))
    try:
        src = BlockFileSource([f], chain="btc-regtest", skip_bad=skip, allow_invalid_pow=True)
        blocks = sum(b.n_blocks for b in src.iter_batches())
    except ParseError as e:
        assert not skip or "magic" in e.message          # with skip_bad only a magic of another chain stops us
        assert e.file == str(f) and e.offset is not None
    else:
        assert blocks <= 4
        assert skip or not src.skipped
