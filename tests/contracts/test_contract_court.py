"""What the JSON must say so that a report built on it cannot get it wrong, on real data where it exists:
coverage with its gaps, unspendable outputs, block sizes and segwit counts, addresses known from tags only,
traces through inputs the data does not hold, and the exact coins a trace moved."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from chainsleuth.core.btc.builder import BlockBuilder, KeyRing, TxSpec

GENESIS_TX = "4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b"
GENESIS_ADDRESS = "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
BLOCK_540107 = "00000000000000000021868c2cefc52a480d173c849412fe81c4e5ab806f94ab"


def cli(ws: Path, *args: str, expect: int = 0) -> Any:
    r = subprocess.run([sys.executable, "-m", "chainsleuth.cli.main", "--workspace", str(ws), *args],
                       capture_output=True, text=True, check=False, timeout=300)
    assert r.returncode == expect, f"{args}: exit {r.returncode}\n{r.stderr}"
    return json.loads(r.stdout) if expect == 0 else r


@pytest.fixture(scope="module")
def real(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Mainnet 0-438 and three single later blocks: data with gaps."""
    ws = tmp_path_factory.mktemp("court") / "ws"
    cli(ws, "ingest", "btc-blocks", str(shared_data / "btc-blocks-bitcoinj/first-100k-blocks.dat"),
        str(shared_data / "btc-blocks-bitcoinj/block227835.dat"), str(shared_data / "btc-blocks-bitcoinj/block227836.dat"),
        str(shared_data / f"btc-blocks-btcd/block-{BLOCK_540107}.blk"), "--json")
    cli(ws, "tags", "import", str(shared_data / "ofac-sanctioned-addresses"), "--json")
    return ws


def test_coverage_lists_ranges_and_gaps(real: Path) -> None:
    cov = cli(real, "stats", "--json")["chains"]["btc"]["coverage"]
    assert cov["ranges"] == [[0, 438], [227835, 227836], [540107, 540107]]
    assert cov["gaps"] == [[439, 227834], [227837, 540106]] and cov["complete"] is False
    assert cov["segments"] == 3 and cov["blocks"] == 442


def test_genesis_output_is_unspendable(real: Path) -> None:
    out = cli(real, "show", "tx", GENESIS_TX, "--json")["outputs"][0]
    assert out["status"] == "unspendable" and "genesis" in out["unspendable"]
    addr = cli(real, "show", "address", GENESIS_ADDRESS, "--json")
    assert (addr["balance"], addr["unspendable"], addr["script_types"]) == (50_0000_0000, 50_0000_0000, ["p2pk"])


def test_unspent_before_a_gap_is_unknown_beyond_the_data(real: Path) -> None:
    hal = cli(real, "show", "tx", "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16", "--json")
    assert [o["status"] for o in hal["outputs"]] == ["unknown_beyond_data", "spent"]
    doc = cli(real, "trace", "forward", "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16:0",
              "--json")
    assert [ep["reason"] for ep in doc["endpoints"]] == ["unknown_beyond_data"]


def test_block_json_has_size_weight_and_segwit_count(real: Path) -> None:
    b = cli(real, "show", "block", BLOCK_540107, "--json")   # MANIFEST.csv: 230 txs, 104 segwit, 2,259,447 bytes
    assert (b["tx_count"], b["segwit_txs"], b["size"], b["height"]) == (230, 104, 2_259_447, 540107)
    assert b["weight"] == 3 * b["stripped_size"] + b["size"] and b["height_source"] == "bip34"
    assert b["chainwork"] is None                  # its segment does not reach genesis: no chain work to state


def test_address_known_only_from_tags_shows_its_tags(real: Path, shared_data: Path) -> None:
    addr = (shared_data / "ofac-sanctioned-addresses/sanctioned_addresses_XBT.txt").read_text().split()[0]
    doc = cli(real, "show", "address", addr, "--json")
    assert doc["in_data"] is False and doc["tx_count"] == 0
    assert doc["received"] is None and doc["balance"] is None
    assert doc["tags"] and all("OFAC" in json.dumps(t) or "ofac" in json.dumps(t).lower() for t in doc["tags"])


@pytest.fixture(scope="module")
def gen(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A regtest chain where one transaction spends two tainted coins and one coin the data does not hold."""
    root = tmp_path_factory.mktemp("court-gen")
    keys = KeyRing(seed=3, chain="btc-regtest")
    a, b, c, d = (keys.address(i, "p2wpkh") for i in range(4))
    bb = BlockBuilder("btc-regtest", seed=3)
    b1 = bb.add_block([], coinbase_to=a)
    split = bb.add_block([TxSpec(inputs=[(b1.txids[0], 0)], outputs=[(b, 20 * 10**8), (b, 29 * 10**8)])])
    outside = "ee" * 32                                   # a coin from outside the data: 0 value known
    merge = bb.add_block([TxSpec(inputs=[(split.txids[1], 0), (split.txids[1], 1), (outside, 0)],
                                 outputs=[(c, 60 * 10**8), (d, 1 * 10**8)])])
    files = bb.blk_files()
    (root / "blocks").mkdir()
    for name, data in files.items():
        (root / "blocks" / name).write_bytes(data)
    ws = root / "ws"
    cli(ws, "ingest", "btc-blocks", "--allow-invalid-pow", str(root / "blocks"), "--json")
    return {"ws": ws, "split": split.txids[1], "merge": merge.txids[1], "b": b, "c": c, "d": d}


def test_edge_names_every_tainted_input(gen: dict[str, Any]) -> None:
    doc = cli(gen["ws"], "trace", "forward", gen["split"], "--policy", "haircut", "--json")
    hop1 = [e for e in doc["edges"] if e["hop"] == 1]    # the source is both outputs of split
    assert {e["outpoint"] for e in hop1} == {f"{gen['merge']}:0", f"{gen['merge']}:1"}
    for e in hop1:
        assert [i["outpoint"] for i in e["inputs"]] == [f"{gen['split']}:1", f"{gen['split']}:0"]
        assert [i["amount"] for i in e["inputs"]] == [29 * 10**8, 20 * 10**8] and e["from"] == [gen["b"]]


def test_trace_through_an_input_outside_the_data_says_what_it_could_not_see(gen: dict[str, Any]) -> None:
    tx = cli(gen["ws"], "show", "tx", gen["merge"], "--json")
    assert tx["fee"] is None and tx["inputs_outside_data"] == 1
    doc = cli(gen["ws"], "trace", "forward", gen["split"], "--policy", "haircut", "--json")
    unseen = doc["provenance"]["unseen_inputs"]
    # 61 BTC out of 49 BTC of known inputs: at least 12 BTC came in through the input the data lacks
    assert (unseen["transactions"], unseen["value_at_least"], unseen["txids"]) == (1, 12 * 10**8, [gen["merge"]])
    assert "upper bounds" in unseen["effect"] and unseen["fees_unknown"] == 1
    poison = cli(gen["ws"], "trace", "forward", gen["split"], "--policy", "poison", "--json")
    assert "do not change" in poison["provenance"]["unseen_inputs"]["effect"]
