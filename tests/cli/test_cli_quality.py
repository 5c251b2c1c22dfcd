"""The CLI as a new user meets it: wrong arguments are named errors with the right exit code (never an
internal error), and terminal output is readable (UTC times, units, nothing cut off)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chainsleuth.core.btc.builder import BlockBuilder, KeyRing, TxSpec
from chainsleuth.training.output import write_files

CHAIN = "btc-regtest"
COIN = 50 * 100_000_000


def run(ws: Path, *args: str, expect: int | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}   # as from a shell, piped
    r = subprocess.run([sys.executable, "-m", "chainsleuth.cli.main", "--workspace", str(ws), *args],
                       capture_output=True, text=True, check=False, timeout=120, env=env)
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr, r.stderr
    if expect is not None:
        assert r.returncode == expect, f"{args}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r


@pytest.fixture(scope="module")
def btc(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A regtest peel: A's coinbase pays X 10 BTC with change back to A, then A pays Y 5 BTC, change to A."""
    root = tmp_path_factory.mktemp("cli-quality")
    keys = KeyRing(seed=5, chain=CHAIN)
    a, x, y = keys.address(0, "p2pkh"), keys.address(1, "p2wpkh"), keys.address(2, "p2wpkh")
    bb = BlockBuilder(CHAIN, seed=5)
    b1 = bb.add_block([], coinbase_to=a)
    b2 = bb.add_block([TxSpec(inputs=[(b1.txids[0], 0)], outputs=[(x, 10 * 10**8), (a, COIN - 10 * 10**8 - 1000)])])
    t1 = b2.txids[1]
    bb.add_block([TxSpec(inputs=[(t1, 1)], outputs=[(y, 5 * 10**8), (a, COIN - 15 * 10**8 - 2000)])])
    write_files(root / "blocks", bb.blk_files())
    ws = root / "ws"
    run(ws, "ingest", "btc-blocks", "--allow-invalid-pow", str(root / "blocks"), expect=0)
    run(ws, "cluster", expect=0)
    return {"ws": ws, "root": root, "a": a, "x": x, "y": y, "t1": t1, "cb": b1.txids[0]}


def test_terminal_shows_utc_times_units_and_whole_hashes(btc: dict[str, Any]) -> None:
    r = run(btc["ws"], "show", "tx", btc["t1"], expect=0)
    assert " UTC" in r.stdout and "10.00000000 rBTC" in r.stdout      # whole coins, exact, unit printed
    r = run(btc["ws"], "--base-units", "show", "tx", btc["t1"], expect=0)
    assert "1,000,000,000 sat" in r.stdout and "rBTC" not in r.stdout
    r = run(btc["ws"], "show", "address", btc["a"], expect=0)
    assert "first seen" in r.stdout and " UTC" in r.stdout and " rBTC" in r.stdout
    r = run(btc["ws"], "show", "tx", btc["cb"], expect=0)
    assert "(coinbase" in r.stdout and "None" not in r.stdout
    r = run(btc["ws"], "trace", "forward", f"{btc['t1']}:1", expect=0)   # piped: the table is not cut to 80
    assert btc["a"] in r.stdout and "…" not in r.stdout
    assert "source 39.99999000 rBTC = endpoints 39.99998000 rBTC + fees 0.00001000 rBTC" in r.stdout
    # each endpoint names the coin it rests on, the block and the UTC time of the transaction that paid it
    import re

    assert re.search(r"[0-9a-f]{64}:\d+ +│ +\d+ │ \d{4}-\d\d-\d\d \d\d:\d\d UTC", r.stdout), r.stdout


def test_numeric_limits_out_of_range_are_usage_errors(btc: dict[str, Any]) -> None:
    """--max-depth -5 was a 'no path' (exit 6); --max-hops 10^20 was accepted."""
    r = run(btc["ws"], "path", btc["a"], btc["y"], "--max-depth", "-5", expect=2)
    assert "--max-depth" in r.stderr
    run(btc["ws"], "trace", "forward", f"{btc['t1']}:1", "--max-hops", "9" * 20, expect=2)
    run(btc["ws"], "trace", "backward", btc["a"], "--max-edges", "0", expect=2)
    run(btc["ws"], "trace", "forward", f"{btc['t1']}:1", "--min-amount", "-1", expect=2)


def test_path_prints_the_amount_in_its_unit(btc: dict[str, Any]) -> None:
    """path printed '1,000,000,000 BTC' for 10 BTC (satoshi labelled as whole coins)."""
    r = run(btc["ws"], "path", btc["a"], btc["x"], expect=0)
    assert "10.00000000 rBTC" in r.stdout and "1,000,000,000" not in r.stdout
    assert btc["t1"] in r.stdout and " UTC" in r.stdout and "block " in r.stdout


def test_trace_sources_that_cannot_parse_are_invalid_input(btc: dict[str, Any]) -> None:
    r = run(btc["ws"], "trace", "forward", "cluster:abc", expect=2)
    assert "cluster:ID" in r.stderr
    r = run(btc["ws"], "trace", "forward", f"{btc['t1']}:x", expect=2)
    assert "output index" in r.stderr
    r = run(btc["ws"], "trace", "peel", btc["a"], expect=2)
    assert "TXID:VOUT" in r.stderr
    run(btc["ws"], "trace", "peel", f"{btc['cb']}:0", "--max-hops", "9" * 20, expect=2)
    run(btc["ws"], "path", "cluster:x", btc["y"], expect=2)


def test_trace_limit_note_amounts_are_readable(btc: dict[str, Any]) -> None:
    r = run(btc["ws"], "trace", "forward", f"{btc['cb']}:0", "--max-hops", "1", expect=0)
    assert "limit hit: --max-hops 1" in r.stderr and "amount=3,999,999,000" in r.stderr, r.stderr


def test_trace_csv_into_a_missing_folder_names_the_file(btc: dict[str, Any]) -> None:
    bad = btc["root"] / "nope" / "t.csv"
    r = run(btc["ws"], "trace", "forward", f"{btc['t1']}:1", "--csv", str(bad), expect=2)
    assert str(bad) in r.stderr


def test_peel_prints_its_evidence(btc: dict[str, Any]) -> None:
    r = run(btc["ws"], "trace", "peel", f"{btc['cb']}:0", expect=0)
    assert "[peel-chain" in r.stdout, r.stdout   # once swallowed as console markup


def test_show_cluster_page_bounds_are_checked(btc: dict[str, Any]) -> None:
    run(btc["ws"], "show", "cluster", btc["a"], "--limit", "-1", expect=2)
    run(btc["ws"], "show", "cluster", btc["a"], "--offset", "-1", expect=2)
    run(btc["ws"], "show", "cluster", btc["a"], "--limit", "9" * 20, expect=2)


def test_tags_export_to_a_missing_folder_and_the_success_note(btc: dict[str, Any]) -> None:
    run(btc["ws"], "tags", "add", btc["x"], "--label", "Suspect", "--source", "case 1", "--confidence",
        "forensic_investigation", "--creator", "Det. A", "--chain", CHAIN, expect=0)
    bad = btc["root"] / "nope" / "t.yaml"
    r = run(btc["ws"], "tags", "export", "--out", str(bad), expect=2)
    assert str(bad) in r.stderr
    good = btc["root"] / "t.yaml"
    r = run(btc["ws"], "tags", "export", "--out", str(good), expect=0)
    assert good.is_file() and f"wrote 1 tag(s) to {good}" in r.stderr


def test_screen_rejects_binary_files_and_folders(btc: dict[str, Any]) -> None:
    binary = btc["root"] / "bin.txt"
    binary.write_bytes(b"\x00\x01\xff\xfe")
    r = run(btc["ws"], "screen", str(binary), expect=2)
    assert "not a text file" in r.stderr
    r = run(btc["ws"], "screen", str(btc["root"]), expect=2)
    assert "is a directory" in r.stderr


def test_malformed_evm_address_and_block_hash_are_invalid_input(btc: dict[str, Any]) -> None:
    r = run(btc["ws"], "show", "address", "0xde0B295669a9FD93d5F28D9Ec85E40f4cb697BA", expect=2)
    assert "not an EVM address" in r.stderr
    run(btc["ws"], "show", "block", "0x00", expect=2)


def test_ingest_of_nothing_says_so(tmp_path: Path) -> None:
    empty = tmp_path / "empty.dat"
    empty.write_bytes(b"")
    r = run(tmp_path / "ws", "ingest", "btc-blocks", "--allow-invalid-pow", str(empty), expect=2)
    assert "no block data" in r.stderr
    r = run(tmp_path / "ws", "ingest", "evm-rpc", "replay:/nowhere", "--chain", "eth", "--from", "5", "--to", "2",
            expect=2)
    assert "--from 5 is above --to 2" in r.stderr


def test_etl_export_without_required_columns_is_a_parse_error(tmp_path: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    (export / "blocks.csv").write_text("number,hash,timestamp\n1,0xab,1000\n", encoding="utf-8")
    r = run(tmp_path / "ws", "ingest", "etl", str(export), expect=2)
    assert "parent_hash" in r.stderr and str(export) in r.stderr


def test_account_chain_tx_in_the_terminal_and_default_clustering(shared_data: Path, tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    export = shared_data / "ethereum-etl-tests" / "resources" / "test_stream" / "blocks_1755634_1755635"
    run(ws, "ingest", "etl", str(export), expect=0)
    r = run(ws, "show", "tx", "0x2e3dcd051a91d3a694f6b8de2ac4b5fe7acdba55f58bcf8471ff00d4a430074d", expect=0)
    assert "erc20" in r.stdout and "0.00072836 ETH" in r.stdout and " UTC" in r.stdout
    assert "base units of 0x" in r.stdout                   # a token without known decimals: base units
    r = run(ws, "cluster", "--chain", "eth")   # default heuristics on an account chain: deposit-address
    assert "only clustering heuristic" not in r.stderr
    assert r.returncode == 5 and "exchange wallets" in r.stderr
    holder = "0x8B3B3b624c3c0397D3da8Fd861512393d51DCbac"
    run(ws, "tags", "add", holder.lower(), "--label", "Exchange X", "--source", "case 3", "--confidence",
        "forensic_investigation", "--creator", "Det. A", "--chain", "eth", "--category", "exchange", expect=0)
    run(ws, "cluster", "--chain", "eth", expect=0)
    doc = json.loads(run(ws, "show", "cluster", holder.lower(), "--json", expect=0).stdout)
    assert doc["addresses"] == [holder]   # as the chain writes it (EIP-55), like show address
    page = json.loads(run(ws, "show", "address", holder, "--json", "--limit", "50", expect=0).stdout)
    assert page["transactions"] and len(page["transactions"]) == page["transactions_page"]["total"] == page["tx_count"]
    heights = [(x["height"], x["index"]) for x in page["transactions"]]
    assert heights == sorted(heights, reverse=True) and all(x["txid"].startswith("0x") for x in page["transactions"])


def test_address_typos_are_invalid_input_and_unknown_addresses_not_found(btc: dict[str, Any]) -> None:
    a = btc["a"]
    typo = a[:-1] + ("2" if a[-1] != "2" else "3")
    r = run(btc["ws"], "show", "address", typo, expect=2)
    assert "checksum" in r.stderr
    run(btc["ws"], "show", "address", "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq", expect=3)   # valid, absent


def test_unknown_progress_mode_is_named(btc: dict[str, Any]) -> None:
    r = run(btc["ws"], "--progress", "bogus", "stats", expect=2)
    assert "unknown progress mode 'bogus'" in r.stderr


def test_etl_export_in_two_formats_is_refused_not_stored_twice(shared_data: Path, tmp_path: Path) -> None:
    both = shared_data / "ethereum-etl-tests" / "resources" / "test_export_blocks_job" / \
        "blocks_with_transactions_and_withdrawals"   # the same two blocks as CSV and as JSON lines
    r = run(tmp_path / "ws", "ingest", "etl", str(both), expect=2)
    assert "both as CSV and as JSON" in r.stderr


def test_compare_with_a_missing_set_says_how_to_build_it(btc: dict[str, Any]) -> None:
    r = run(btc["ws"], "cluster", "--compare", "co-spend", "co-spend+change-consensus", expect=3)
    assert "--heuristics co-spend,change-consensus" in r.stderr


def test_cluster_summary_lists_no_singletons_as_largest(btc: dict[str, Any]) -> None:
    r = run(btc["ws"], "cluster", expect=0)   # no co-spend in this chain: every cluster is one address
    line = next(ln for ln in r.stdout.splitlines() if "largest" in ln)
    assert "none" in line and "(1)" not in line


def test_screen_shows_exposure_amounts_readably(btc: dict[str, Any]) -> None:
    run(btc["ws"], "tags", "add", btc["x"], "--label", "Some exchange", "--source", "case 2", "--confidence",
        "forensic_investigation", "--creator", "Det. A", "--chain", CHAIN, "--category", "exchange", expect=0)
    suspects = btc["root"] / "suspects.txt"
    suspects.write_text(f"{CHAIN},{btc['a']}\n", encoding="utf-8")
    r = run(btc["ws"], "screen", str(suspects), expect=0)
    assert "exchange" in r.stdout and "10.00000000 rBTC" in r.stdout, r.stdout


def test_block_height_on_several_chains_asks_for_the_chain(tmp_path: Path) -> None:
    bb = BlockBuilder(CHAIN, seed=3)
    bb.add_block([])
    write_files(tmp_path / "blocks", bb.blk_files())
    export = tmp_path / "export"
    export.mkdir()
    (export / "blocks.csv").write_text("number,hash,parent_hash,timestamp,transaction_count\n"
                                       f"1,0x{'ab' * 32},0x{'cd' * 32},1600000000,0\n", encoding="utf-8")
    ws = tmp_path / "ws"
    run(ws, "ingest", "btc-blocks", "--allow-invalid-pow", str(tmp_path / "blocks"), expect=0)
    run(ws, "ingest", "etl", str(export), "--chain", "eth", expect=0)
    r = run(ws, "show", "block", "1", expect=2)
    assert "several chains" in r.stderr and "--chain" in r.stderr
    assert f"0x{'ab' * 32}" in run(ws, "show", "block", "1", "--chain", "eth", expect=0).stdout


def test_workspace_that_is_a_file_is_named(tmp_path: Path) -> None:
    f = tmp_path / "notes.txt"
    f.write_text("x", encoding="utf-8")
    for args in (("stats",), ("ingest", "btc-blocks", "--allow-invalid-pow", str(f))):
        r = run(f, *args, expect=2)
        assert "is a file" in r.stderr


def test_demo_refuses_a_workspace_holding_other_chain_data(btc: dict[str, Any]) -> None:
    r = run(btc["ws"], "demo", "--size", "100", expect=5)
    assert "already holds chain data" in r.stderr and "--workspace" in r.stderr
    assert not (btc["ws"] / "demo").exists()


@pytest.mark.parametrize("option", [["--from", "-5"], ["--max-batch", "0"], ["--rate-limit", "0"]])
def test_evm_rpc_options_out_of_range_are_invalid_input(tmp_path: Path, option: list[str]) -> None:
    r = run(tmp_path / "ws", "ingest", "evm-rpc", "replay:/nowhere", "--chain", "eth", *option, expect=2)
    assert option[0] in r.stderr


def test_evm_address_on_a_bitcoin_chain_says_so(btc: dict[str, Any]) -> None:
    r = run(btc["ws"], "show", "address", "0x8B3B3b624c3c0397D3da8Fd861512393d51DCbac", "--chain", CHAIN, expect=2)
    assert "is an EVM address" in r.stderr


def test_tags_add_errors_name_the_option(btc: dict[str, Any]) -> None:
    base = ["tags", "add", btc["x"], "--source", "case 4", "--creator", "Det. A", "--chain", CHAIN]
    r = run(btc["ws"], *base, "--label", "X", "--confidence", "forensik", expect=2)
    assert r.stderr.startswith("error: --confidence: unknown confidence 'forensik'") and "tags add:1" not in r.stderr
    r = run(btc["ws"], *base, "--label", "", "--confidence", "ownership", expect=2)
    assert "--label: must not be empty" in r.stderr


def test_train_generate_keeps_recorded_answers(tmp_path: Path) -> None:
    case = tmp_path / "case"
    run(tmp_path / "ws", "train", "generate", "-t", "ransomware", "--size", "120", "--out", str(case), expect=0)
    run(tmp_path / "ws", "train", "generate", "-t", "ransomware", "--size", "120", "--out", str(case), expect=0)
    run(tmp_path / "ws", "train", "answer", str(case), "mixer", "Foo", expect=0)
    r = run(tmp_path / "ws", "train", "generate", "-t", "darknet_market", "--size", "120", "--out", str(case), expect=5)
    assert "answers.json" in r.stderr and (case / "trainee" / "answers.json").is_file()


def test_show_address_lists_its_transactions_newest_first_in_pages(btc: dict[str, Any]) -> None:
    a, cb, t1 = btc["a"], btc["cb"], btc["t1"]
    doc = json.loads(run(btc["ws"], "show", "address", a, "--json", expect=0).stdout)
    txs = doc["transactions"]
    assert doc["transactions_page"] == {"limit": 10, "offset": 0, "total": 3}
    assert [x["height"] for x in txs] == [3, 2, 1] and txs[1]["txid"] == t1 and txs[2]["txid"] == cb
    assert txs[2]["received"] == COIN and txs[2]["sent"] == 0                # its coinbase
    assert txs[1]["sent"] == COIN and txs[1]["received"] == COIN - 10 * 10**8 - 1000   # paid X, change back
    assert sum(x["received"] - x["sent"] for x in txs) == doc["balance"]
    page = json.loads(run(btc["ws"], "show", "address", a, "--json", "--limit", "1", "--offset", "1", expect=0).stdout)
    assert [x["txid"] for x in page["transactions"]] == [t1]
    r = run(btc["ws"], "show", "address", a, "--limit", "2", expect=0)
    assert "newest first (1-2 of 3)" in r.stdout and t1 in r.stdout and cb not in r.stdout
    assert "1 older: --offset 2" in r.stdout
    r = run(btc["ws"], "show", "address", a, "--limit", "2", "--offset", "9", expect=0)
    assert "none after the first 9 of 3" in r.stdout
    assert run(btc["ws"], "show", "address", a, "--limit", "-1").returncode == 2


def test_tables_print_no_python_values(btc: dict[str, Any], tmp_path: Path) -> None:
    """Lists, mappings, None and booleans read as words ('none', 'key: value', '-', 'yes'), never as Python."""
    python = ("[]", "{}", "None", "True", "False", "[[", "': ")
    r = run(tmp_path / "ws", "ingest", "btc-blocks", "--allow-invalid-pow", str(btc["root"] / "blocks"), expect=0)
    assert "│ skipped         │ none" in r.stdout and not [p for p in python if p in r.stdout], r.stdout
    for args in (("stats",), ("show", "block", "1"), ("show", "address", btc["a"]), ("show", "tx", btc["t1"])):
        out = run(btc["ws"], *args, expect=0).stdout
        assert not [p for p in python if p in out], (args, out)
    text = run(btc["ws"], "stats", expect=0).stdout
    assert "heights" in text and "0-3" in text and "UTC to " in text and "unspent value" in text and " rBTC" in text
