"""Overlapping block files in one ingest run, as users hand them over (whole ``blocks/`` folders that repeat
what was ingested before): the figures equal those of each file ingested once, in separate clean runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from chainsleuth.store import DB_FILENAME, Store

from ..store._canon import canonical_tables

GENESIS_ADDRESS = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
HAL = "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3"       # received 10 BTC from Satoshi in block 170


def cli(ws: Path, *args: str) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([sys.executable, "-m", "chainsleuth.cli.main", "--workspace", str(ws), *args],
                       capture_output=True, text=True, check=False, timeout=300)
    assert r.returncode == 0, r.stderr
    return r


def address(ws: Path, addr: str) -> dict:
    """Address JSON without its provenance (which names the ingest runs: one run, or one per file)."""
    doc = json.loads(cli(ws, "show", "address", addr, "--json").stdout)
    doc["provenance"].pop("ingest_runs")
    return doc


def tables(ws: Path) -> dict:
    s = Store(ws / DB_FILENAME, read_only=True)
    try:
        return canonical_tables(s)
    finally:
        s.close()


def test_genesis_file_with_btcd_side_chain_in_one_run(shared_data: Path, tmp_path: Path) -> None:
    a = shared_data / "btc-blocks-bitcoinj/first-100k-blocks.dat"
    b = shared_data / "btc-blocks-btcd/blk_0_to_4.dat"            # holds the genesis block again
    cli(tmp_path / "one", "ingest", "btc-blocks", "--allow-invalid-pow", str(a), str(b))
    cli(tmp_path / "sep", "ingest", "btc-blocks", "--allow-invalid-pow", str(a))
    cli(tmp_path / "sep", "ingest", "btc-blocks", "--allow-invalid-pow", str(b))
    got = address(tmp_path / "one", GENESIS_ADDRESS)
    assert (got["received"], got["tx_count"]) == (50_0000_0000, 1)   # the side chain's coinbases are stale
    assert got == address(tmp_path / "sep", GENESIS_ADDRESS)
    assert tables(tmp_path / "one") == tables(tmp_path / "sep")


def test_genesis_file_blocks_1_256_and_single_blocks_in_one_run(shared_data: Path, tmp_path: Path) -> None:
    files = [shared_data / p for p in (
        "btc-blocks-bitcoinj/first-100k-blocks.dat", "btc-blocks-btcd/blocks1-256", "btc-blocks-btcd/277647.dat",
        "btc-blocks-bitcoinj/block169482.dat", "btc-blocks-bitcoinj/block227835.dat",
        "btc-blocks-bitcoinj/block227836.dat", "btc-blocks-bitcoinj/block363703.dat",
        "btc-blocks-rust-bitcoin/block_13b8a.hex")]
    cli(tmp_path / "one", "ingest", "btc-blocks", "--allow-invalid-pow", *map(str, files))
    for f in files:
        cli(tmp_path / "sep", "ingest", "btc-blocks", "--allow-invalid-pow", str(f))
    hal = address(tmp_path / "one", HAL)
    assert (hal["received"], hal["balance"]) == (10_0000_0000, 10_0000_0000)
    assert hal == address(tmp_path / "sep", HAL)
    stats = json.loads(cli(tmp_path / "one", "stats", "--json").stdout)["chains"]["btc"]
    assert (stats["blocks"], stats["stale_blocks"], stats["txs"]) == (439 + 6, 0, 446 + 213 + 14 + 122 + 100 + 587 + 9)
    assert stats["inputs_resolved"] + 0 == json.loads(cli(tmp_path / "sep", "stats", "--json").stdout)[
        "chains"]["btc"]["inputs_resolved"]
    assert tables(tmp_path / "one") == tables(tmp_path / "sep")
