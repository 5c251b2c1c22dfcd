"""Block validation on ingest: proof of work, weight, amounts, merkle root, wrong magic; --allow-invalid-pow."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from chainsleuth.core.btc.builder import BlockBuilder, compact_size, genesis_block
from chainsleuth.core.btc.encoding import sha256d
from chainsleuth.core.chains import get_chain
from chainsleuth.errors import ParseError
from chainsleuth.sources.btc.files import BlockFileSource
from chainsleuth.sources.btc.parser import MAX_MONEY, POW_LIMITS, BlockParser, bits_to_target, pow_error
from chainsleuth.store.runs import POW_UNCHECKED_NOTE
from chainsleuth.training.output import write_files
from chainsleuth.workspace import Workspace

REGTEST = get_chain("btc-regtest").btc_network
assert REGTEST is not None
GENESIS = genesis_block(REGTEST)
GENESIS_HASH = sha256d(GENESIS[:80])


def _coinbase(values: list[int], tag: int) -> bytes:
    script = bytes([1, tag & 0x7F or 1]) + b"\x00" * 3
    out = b"".join(struct.pack("<q", v) + b"\x01\x51" for v in values)    # OP_TRUE outputs
    return (struct.pack("<i", 1) + b"\x01" + bytes(32) + b"\xff" * 4 + compact_size(len(script)) + script
            + b"\xff" * 4 + compact_size(len(values)) + out + bytes(4))


def _block(values: list[int], *, prev: bytes = GENESIS_HASH, tag: int = 1, mine: bool = False,
           bits: int = 0x207FFFFF, extra_script: int = 0) -> bytes:
    """One coinbase-only regtest block paying ``values`` (sat, any int64); ``mine`` grinds a valid nonce."""
    tx = _coinbase(values, tag)
    if extra_script:     # one more output with a big script: a heavy block
        tx = tx[:-4 - 1 - 10 * len(values) - 0]  # cut outputs and locktime, rebuild them
        tx = (tx + compact_size(len(values) + 1) + b"".join(struct.pack("<q", v) + b"\x01\x51" for v in values)
              + struct.pack("<q", 0) + compact_size(extra_script) + b"\x6a" * extra_script + bytes(4))
    root = sha256d(tx)
    for nonce in range(1 << 16):
        header = struct.pack("<i", 2) + prev + root + struct.pack("<III", 1_700_000_000 + tag, bits, nonce)
        ok = pow_error(sha256d(header), bits, "regtest") is None
        if ok == mine:
            break
    return header + b"\x01" + tx


def _framed(blocks: list[bytes]) -> bytes:
    return b"".join(REGTEST.magic + struct.pack("<I", len(b)) + b for b in blocks)


def test_compact_targets_and_pow_limits() -> None:
    assert bits_to_target(0x1D00FFFF) == (0xFFFF << 208, None)
    assert bits_to_target(0x01003456)[1] is not None            # zero
    assert "negative" in str(bits_to_target(0x04923456)[1])
    assert "2**256" in str(bits_to_target(0xFF123456)[1])
    assert bits_to_target(0x207FFFFF)[0] <= POW_LIMITS["regtest"]
    easy = (0x1D00FFFF, "mainnet")
    assert pow_error(bytes(32), *easy) is None                   # hash 0 meets any target
    assert "above the target" in str(pow_error(b"\xff" * 32, *easy))
    assert "proof-of-work limit" in str(pow_error(bytes(32), 0x1E0FFFFF, "mainnet"))


def test_regtest_blocks_need_their_easy_target_met(tmp_path: Path) -> None:
    good, bad = _block([50_0000_0000], mine=True), _block([50_0000_0000], tag=2, mine=False)
    p = BlockParser("btc-regtest")
    p.parse_block(good, 0, len(good), source_file="g", source_offset=0)
    with pytest.raises(ParseError, match="fails its proof of work") as ei:
        p.parse_block(bad, 0, len(bad), source_file="b", source_offset=0)
    assert ei.value.details["block_hash"] == sha256d(bad[:80])[::-1].hex()
    assert p.flush().blocks.num_rows == 1
    lenient = BlockParser("btc-regtest", check_pow=False)
    lenient.parse_block(bad, 0, len(bad), source_file="b", source_offset=0)
    assert lenient.flush().blocks.num_rows == 1


@pytest.mark.parametrize(("values", "words"), [
    ([-1], "carries -1 sat"),
    ([2**63 - 1], "carries 9,223,372,036,854,775,807 sat"),
    ([MAX_MONEY + 1], "outside 0..2,100,000,000,000,000 sat"),
    ([MAX_MONEY, 1], "add up to 2,100,000,000,000,001 sat"),
    ([MAX_MONEY] * 5000, "add up to 10,500,000,000,000,000,000 sat"),    # beyond int64 in sum
])
def test_out_of_range_amounts_are_refused(tmp_path: Path, values: list[int], words: str) -> None:
    blocks = [GENESIS, _block([1000], mine=True), _block(values, prev=GENESIS_HASH, tag=3, mine=True)]
    write_files(tmp_path / "blk", {"blk00000.dat": _framed(blocks)})
    with Workspace(tmp_path / "ws") as ws:
        with pytest.raises(ParseError, match=r"fails|carries|add up") as ei:
            ws.ingest.btc_blocks([tmp_path / "blk"], allow_invalid_pow=True)   # amounts are checked regardless
        assert words in ei.value.message
        assert ei.value.file == str(tmp_path / "blk" / "blk00000.dat")
        assert ei.value.offset == len(_framed(blocks[:2])) + 8
        assert ei.value.details["block_hash"] == sha256d(blocks[2][:80])[::-1].hex()
        assert ws.queries.stats().chains == {}                  # the batch holding it was not written
        s = ws.ingest.btc_blocks([tmp_path / "blk"], skip_bad=True)
        assert (s.blocks_new, len(s.skipped)) == (2, 1) and words in s.skipped[0]
        assert ws.store.runs.list()[-1].skipped == 1 and words in ws.store.runs.list()[-1].notes


def test_amounts_at_the_limit_are_accepted() -> None:
    blk = _block([MAX_MONEY // 2, MAX_MONEY - MAX_MONEY // 2, 0], mine=True)
    p = BlockParser("btc-regtest")
    p.parse_block(blk, 0, len(blk), source_file="m", source_offset=0)
    assert p.flush().txs["output_value"].to_pylist() == [MAX_MONEY]


def test_overweight_block_is_refused() -> None:
    blk = _block([1], mine=True, extra_script=1_000_050)
    with pytest.raises(ParseError, match="above the consensus limit of 4,000,000"):
        BlockParser("btc-regtest").parse_block(blk, 0, len(blk), source_file="m", source_offset=0)


def test_bare_file_skips_just_the_invalid_block(tmp_path: Path) -> None:
    blocks = [GENESIS, _block([5], tag=4, mine=False), _block([6], tag=5, mine=True)]
    (tmp_path / "x.raw").write_bytes(b"".join(blocks))
    src = BlockFileSource([tmp_path / "x.raw"], chain="btc-regtest", skip_bad=True)
    assert sum(b.blocks.num_rows for b in src.iter_batches()) == 2
    assert len(src.skipped) == 1 and "proof of work" in src.skipped[0] and "skipped to the next" in src.skipped[0]


def test_wrong_magic_is_named_at_its_offset(tmp_path: Path) -> None:
    bb = BlockBuilder("btc", seed=4)
    bb.add_block([])
    blk = bb.blk_files()["blk00000.dat"]
    for name in ("blk00000.dat", "blocks.dat"):
        f = tmp_path / name
        f.write_bytes(b"\xf9\xbe\xb4\xd8" + blk[4:])
        with pytest.raises(ParseError, match="magic") as ei:
            list(BlockFileSource([f], chain="btc", allow_invalid_pow=True).iter_batches())
        assert ei.value.offset == 0 and "f9beb4d8" in ei.value.message and "transactions" not in ei.value.message
        src = BlockFileSource([f], chain="btc", allow_invalid_pow=True, skip_bad=True)
        assert sum(b.blocks.num_rows for b in src.iter_batches()) == 1     # resynced on the second record
        assert "magic" in src.skipped[0]


def _flip(shared_data: Path, tmp_path: Path) -> tuple[Path, Path]:
    real = shared_data / "btc-blocks-bitcoinj" / "first-100k-blocks.dat"
    data = bytearray(real.read_bytes())
    data[30_000] ^= 0x01
    (tmp_path / "flipped").mkdir()
    bad = tmp_path / "flipped" / "first-100k-blocks.dat"
    bad.write_bytes(bytes(data))
    return real, bad


def test_flipped_header_byte_of_real_block_is_refused(shared_data: Path, tmp_path: Path) -> None:
    real, bad = _flip(shared_data, tmp_path)
    with Workspace(tmp_path / "ws") as ws:
        ws.ingest.btc_blocks([real])
        before = ws.queries.stats()
        with pytest.raises(ParseError, match="proof of work") as ei:
            ws.ingest.btc_blocks([bad])
        assert ei.value.file == str(bad) and ei.value.offset is not None and ei.value.offset <= 30_000
        assert ws.queries.stats() == before
        s = ws.ingest.btc_blocks([bad], skip_bad=True)
        assert (s.blocks_new, len(s.skipped)) == (0, 1) and "proof of work" in s.skipped[0]
        assert ws.queries.stats() == before
        assert ws.queries.stats().chains["btc"]["proof_of_work"] == "checked"


def _cli(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "chainsleuth.cli.main", "--workspace", str(ws), *args],
                          capture_output=True, text=True, check=False, timeout=300)


def test_cli_refuses_flipped_block_and_records_allow_invalid_pow(shared_data: Path, tmp_path: Path) -> None:
    real, bad = _flip(shared_data, tmp_path)
    ws = tmp_path / "ws"
    assert _cli(ws, "ingest", "btc-blocks", str(real)).returncode == 0
    r = _cli(ws, "ingest", "btc-blocks", str(bad))
    assert r.returncode == 2, r.stderr
    assert "fails its proof of work" in r.stderr and str(bad) in r.stderr and "block_hash" in r.stderr
    bb = BlockBuilder("btc-regtest", seed=6)
    bb.add_block([])
    write_files(tmp_path / "synthetic", bb.blk_files())
    r = _cli(ws, "ingest", "btc-blocks", "--allow-invalid-pow", "--json", str(tmp_path / "synthetic"))
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["proof_of_work"] == "not checked"
    doc = json.loads(_cli(ws, "stats", "--json").stdout)
    assert doc["chains"]["btc"]["proof_of_work"] == "checked"
    assert doc["chains"]["btc-regtest"]["proof_of_work"].startswith("not checked for 1 of 1 ingest runs that stored blocks")
    text = _cli(ws, "stats").stdout
    assert "not checked for 1 of 1" in text
    with Workspace(ws) as w:
        assert POW_UNCHECKED_NOTE in w.store.runs.list()[-1].notes
