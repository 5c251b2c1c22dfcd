"""The CLI as a user runs it: ingest evm-rpc from recorded responses, ingest etl, show tx/address, stats;
each --json prints one JSON document; errors name what was wrong and exit non-zero."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chainsleuth.cli.main import app

pytestmark = pytest.mark.shared_data

TX = "0x2e3dcd051a91d3a694f6b8de2ac4b5fe7acdba55f58bcf8471ff00d4a430074d"


@pytest.fixture(scope="module")
def stream(shared_data: Path) -> Path:
    d = shared_data / "ethereum-etl-tests" / "resources" / "test_stream"
    if not d.is_dir():
        pytest.skip("ethereum-etl-tests is not in ../shared/data")
    return d


def _run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


def test_evm_cli_ingest_replay_then_show(stream: Path, tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    rec = f"replay:{stream / 'blocks_1755634_1755635'}"
    code, out, err = _run("--workspace", ws, "ingest", "evm-rpc", rec, "--chain", "eth", "--from", "1755634",
                          "--to", "1755635", "--traces", "none", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["blocks_new"], doc["txs_new"], doc["traces"]) == (2, 2, "none")
    code, out, err = _run("--workspace", ws, "show", "tx", TX, "--json")
    assert code == 0, err
    tx = json.loads(out)
    assert tx["from"] == "0xeD059bc543141c8C93031d545079b3Da0233B27f"       # EIP-55
    assert tx["fee"] == 36418 * 20000000000
    erc20 = [t for t in tx["transfers"] if t["kind"] == "erc20"]
    assert erc20 == [{"index": 1, "kind": "erc20", "from": "0x6498077292a0921C8804924FDf47B5E91E2a215f",
                      "to": "0x8B3B3b624c3c0397D3da8Fd861512393d51DCbac",
                      "asset": "0xBB9bc244D798123fDe783fCc1C72d3Bb8C189413", "value": 5 * 10**18, "token_id": None,
                      "trace_address": None, "log_index": 0, "unit": "base unit", "decimals": None, "symbol": None,
                      "transfer": f"{tx['txid']}:1"}]
    code, out, err = _run("--workspace", ws, "show", "address", "0x8b3b3b624c3c0397d3da8fd861512393d51dcbac", "--json")
    assert code == 0, err
    addr = json.loads(out)
    assert addr["received"] == {"0xBB9bc244D798123fDe783fCc1C72d3Bb8C189413": 5 * 10**18}
    code, out, err = _run("--workspace", ws, "show", "block", "1755635", "--json")
    assert code == 0, err
    blk = json.loads(out)
    assert blk["hash"] == "0x1dec87ec1ba8e65b7773bb6f62249468948a28a427efd3d896a2ff7d7c591a67"
    assert (blk["chain"], blk["height"], blk["tx_count"]) == ("eth", 1755635, 2) and blk["merkle_root"].startswith("0x")
    code, out, err = _run("--workspace", ws, "show", "block", blk["hash"], "--json")
    assert code == 0 and json.loads(out) == blk, err
    code, out, err = _run("--workspace", ws, "stats", "--json")
    assert code == 0 and json.loads(out)["chains"]["eth"]["blocks_without_traces"] == 2


def _proc(*args: str) -> tuple[int, str, str]:
    r = subprocess.run([sys.executable, "-m", "chainsleuth.cli.main", *args], capture_output=True, text=True,
                       check=False, timeout=120)
    return r.returncode, r.stdout, r.stderr


def test_evm_cli_errors_name_the_problem(stream: Path, tmp_path: Path) -> None:
    ws = str(tmp_path / "ws")
    code, out, err = _proc("--workspace", ws, "ingest", "evm-rpc", "ws://node.invalid", "--chain", "eth")
    assert code == 4 and "ws://node.invalid" in err and out == ""
    rec = f"replay:{stream / 'blocks_1755634_1755635'}"
    code, _, err = _proc("--workspace", ws, "ingest", "evm-rpc", rec, "--chain", "eth", "--from", "1755634",
                         "--to", "1755635", "--traces", "geth")
    assert code == 4 and "debug_traceBlockByNumber" in err and "--traces none" in err
    code, out, err = _run("--workspace", ws, "ingest", "etl", str(stream / "blocks_17173049_17173050"), "--json")
    assert code == 0, err
    assert json.loads(out)["blocks_new"] == 2
    code, _, err = _proc("--workspace", ws, "show", "address", "0x8B3B3b624c3c0397D3da8Fd861512393d51DCbaC")
    assert code == 2 and "checksum" in err
