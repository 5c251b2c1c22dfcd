"""End to end through Workspace.ingest_btc_blocks and the store: the chain from genesis, every MANIFEST
block, Satoshi -> Hal Finney, idempotence, xor.dat, the 69,420-output transaction, bad input."""

from __future__ import annotations

import csv
import shutil
import struct
from pathlib import Path

import pytest

from chainsleuth.core.btc.builder import BlockBuilder
from chainsleuth.core.chains import MAINNET
from chainsleuth.errors import ParseError
from chainsleuth.training.output import write_files
from chainsleuth.workspace import Workspace

pytestmark = pytest.mark.shared_data

HAL_TX = "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"
BLOCK9_COINBASE = "0437cd7f8525ceed2324359c2d0ba26006d92d856a9c20fa0241106ee5a597c9"


def _rows(shared_data: Path) -> list[dict[str, str]]:
    out = []
    for m in sorted(shared_data.glob("btc-blocks-*/MANIFEST.csv")):
        with m.open() as fh:
            out += [dict(r, path=str(m.parent / r["file"])) for r in csv.DictReader(fh)]
    return out


def test_btc_ingest_genesis_chain_and_hal_finney(shared_data: Path, workspace: Workspace) -> None:
    f = shared_data / "btc-blocks-bitcoinj" / "first-100k-blocks.dat"
    s = workspace.ingest.btc_blocks([f])
    assert (s.chain, s.blocks_new, s.first_height, s.last_height, s.skipped) == ("btc", 439, 0, 438, [])
    tx = workspace.queries.show_tx(HAL_TX)
    assert tx.block_height == 170 and tx.fee == 0
    assert [(i.prev_txid, i.prev_n, i.address, i.value) for i in tx.inputs] == [
        (BLOCK9_COINBASE, 0, "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S", 50 * 10**8)]
    assert [(o.address, o.value, o.script_type) for o in tx.outputs] == [
        ("1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3", 10 * 10**8, "p2pk"),      # Hal Finney
        ("12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S", 40 * 10**8, "p2pk")]      # change back to Satoshi
    cb = workspace.queries.show_tx(BLOCK9_COINBASE)
    assert cb.block_height == 9 and cb.outputs[0].value == 50 * 10**8
    assert cb.outputs[0].spent_by == f"{HAL_TX}:0"
    hal = workspace.queries.show_address("1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3")
    assert hal.received >= 10 * 10**8
    # re-ingest changes nothing
    before = workspace.queries.stats()
    again = workspace.ingest.btc_blocks([f])
    assert again.blocks_new == again.txs_new == 0 and workspace.queries.stats() == before
    # btcd's blocks 1-255 overlap: nothing new either
    assert workspace.ingest.btc_blocks([shared_data / "btc-blocks-btcd" / "blocks1-256"]).blocks_new == 0
    assert workspace.queries.stats() == before


B227835 = "00000000000001aa077d7aa84c532a4d69bdbff519609d1da0835261b7a74eb6"


def test_btc_ingest_every_manifest_block(shared_data: Path, tmp_path: Path) -> None:
    rows = _rows(shared_data)
    ws = Workspace(tmp_path / "all")
    try:
        files: dict[str, str] = {}
        for r in rows:
            files.setdefault(r["path"], "btc-testnet" if r["network"] == "testnet3" else "btc")
        # the genesis chain first so that later files link to stored parents
        order = sorted(files, key=lambda p: (not p.endswith("first-100k-blocks.dat"),
                                             not p.endswith("blk_0_to_4.dat"), p))
        for p in order:
            ws.ingest.btc_blocks([p], chain=files[p])
        for r in rows:
            chain = "btc-testnet" if r["network"] == "testnet3" else "btc"
            b = ws.queries.show_block(r["block_hash"], chain=chain)
            assert (b.hash, b.tx_count, b.prev_hash) == (r["block_hash"], int(r["n_tx"]), r["prev_hash"])
            if r["height_source"] in ("bip34_coinbase", "position_from_genesis", "fork_position"):
                assert b.height == int(r["height"]), r
            elif r["block_hash"] == B227835:
                assert b.height == 227835, r        # no height of its own, but its child 227836 carries BIP34's
            else:
                assert b.height is None, r          # version-1 blocks without their chain: not derivable
        stats = ws.queries.stats().chains
        stored = sum(stats[c]["blocks"] + stats[c]["stale_blocks"] for c in ("btc", "btc-testnet"))
        assert stored == len({r["block_hash"] for r in rows})
        # btcd's blocks 1-4 of blk_0_to_4.dat and its fork 3A-5A are not mainnet's: the real chain has more work
        assert stats["btc"]["stale_blocks"] == 7
        by_height = ws.queries.show_block("170", chain="btc")
        assert by_height.hash == "00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee"
    finally:
        ws.close()


def test_btc_ingest_xor_copy_is_identical(shared_data: Path, tmp_path: Path) -> None:
    src = (shared_data / "btc-blocks-bitcoinj" / "first-100k-blocks.dat").read_bytes()
    key = bytes.fromhex("5a1c0ffee0ddba11")
    d = tmp_path / "blocks"
    d.mkdir()
    rep = (key * (len(src) // 8 + 1))[:len(src)]
    (d / "blk00000.dat").write_bytes(bytes(a ^ b for a, b in zip(src, rep, strict=True)))
    (d / "xor.dat").write_bytes(key)
    plain = Workspace(tmp_path / "plain")
    obf = Workspace(tmp_path / "obf")
    try:
        a = plain.ingest.btc_blocks([shared_data / "btc-blocks-bitcoinj" / "first-100k-blocks.dat"])
        b = obf.ingest.btc_blocks([d])
        assert (a.blocks_new, a.txs_new, a.outputs_new, a.inputs_resolved) == \
               (b.blocks_new, b.txs_new, b.outputs_new, b.inputs_resolved)
        assert plain.queries.stats().chains == obf.queries.stats().chains
        assert obf.queries.show_tx(HAL_TX).outputs[0].address == "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3"
    finally:
        plain.close()
        obf.close()


def test_btc_ingest_69420_output_transaction(shared_data: Path, tmp_path: Path, workspace: Workspace) -> None:
    txid = "a536e7f60a493a258d9adc77d913f7798baf60c808c16898b04579d8c0652681"
    raw = (shared_data / "btc-txs-bitcoin-s" / f"{txid}.bin").read_bytes()
    bb = BlockBuilder("btc", seed=1, include_genesis=False, start_height=780_000)
    bb.add_block([], raw_txs=[raw])
    write_files(tmp_path / "blk", bb.blk_files())
    s = workspace.ingest.btc_blocks([tmp_path / "blk"], allow_invalid_pow=True)
    assert s.blocks_new == 1 and s.txs_new == 2 and s.outputs_new == 69_420 + 2   # coinbase: reward + witness commitment
    tx = workspace.queries.show_tx(txid)
    assert len(tx.outputs) == 69_420 and tx.block_height == 780_000
    kinds = {o.script_type for o in tx.outputs}
    assert kinds == {"op_return", "p2tr"}
    assert sum(1 for o in tx.outputs if o.script_type == "p2tr") == 2


def _write_bad(tmp_path: Path) -> dict[str, Path]:
    bb = BlockBuilder("btc", seed=9)
    for _ in range(3):
        bb.add_block([])
    framed = b"".join(MAINNET.magic + struct.pack("<I", len(r)) + r for r in bb.raw_blocks())
    r0 = len(bb.raw_blocks()[0]) + 8
    cases = {
        "truncated": framed[:-5],
        "wrong_magic": framed[:r0] + b"\x0b\x11\x09\x07" + framed[r0 + 4:],
        "size_overrun": framed[:r0 + 4] + struct.pack("<I", 1 << 30) + framed[r0 + 8:],
        "garbage": framed[:r0] + b"\x00garbage" + framed[r0:],
        "varint": framed[:r0 + 8 + 80] + b"\xff" + b"\xff" * 8 + framed[r0 + 8 + 81:],
    }
    out = {}
    for k, v in cases.items():
        out[k] = tmp_path / f"{k}" / "blk00000.dat"
        out[k].parent.mkdir()
        out[k].write_bytes(v)
    return out


def test_btc_ingest_bad_input_changes_nothing(shared_data: Path, tmp_path: Path, workspace: Workspace) -> None:
    workspace.ingest.btc_blocks([shared_data / "btc-blocks-btcd" / "blk_0_to_4.dat"])
    before = workspace.queries.stats()
    bad = _write_bad(tmp_path)
    for name, path in bad.items():
        with pytest.raises(ParseError) as ei:
            workspace.ingest.btc_blocks([path], allow_invalid_pow=True)
        assert ei.value.file == str(path) and ei.value.offset is not None, name
        assert ei.value.exit_code != 0
        assert workspace.queries.stats() == before, name
    with pytest.raises(ParseError, match="no such file"):
        workspace.ingest.btc_blocks([tmp_path / "nope"], allow_invalid_pow=True)
    assert workspace.queries.stats() == before
    # with skip_bad the good records go in and the summary says what was skipped
    s = workspace.ingest.btc_blocks([bad["garbage"]], skip_bad=True, allow_invalid_pow=True)
    assert s.blocks_new == 3 and len(s.skipped) == 1 and "offset" in s.skipped[0]
    shutil.rmtree(tmp_path / "garbage")
