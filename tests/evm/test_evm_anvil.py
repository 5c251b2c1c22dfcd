"""A real local node: anvil runs real contracts (ERC-20, an ETH forwarder, a reverting contract, a
self-destructing one); we ingest with geth and with Parity traces and check every balance against the node
to the wei, every token balance against balanceOf, and that failed transactions move nothing but gas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from chainsleuth.cli.main import app
from chainsleuth.core.account import keccak256, to_checksum_address
from chainsleuth.workspace import Workspace

pytestmark = pytest.mark.anvil

ETH = 10**18


def _fresh(name: str) -> str:
    return "0x" + keccak256(name.encode()).hex()[:40]


@pytest.fixture(scope="module")
def world(anvil_module: Any, compiled: dict[str, str]) -> dict[str, Any]:
    n = anvil_module
    calldata, word = n.calldata, n.word
    a0, a1, a2 = n.accounts[:3]
    alice, bob, carol = _fresh("alice"), _fresh("bob"), _fresh("carol")
    w: dict[str, Any] = {"alice": alice, "bob": bob, "carol": carol, "a0": a0, "a1": a1, "a2": a2}
    # block 1: several native transfers funding fresh accounts
    n.send(a0, alice, 5 * ETH)
    n.send(a0, bob, 3 * ETH)
    n.send(a1, carol, 1 * ETH)
    n.mine()
    w["token"] = n.deploy(a0, compiled["Token"], args=word(1_000_000 * 10**6))
    w["fwd"] = n.deploy(a0, compiled["Forwarder"])
    w["rev"] = n.deploy(a0, compiled["Reverter"])
    w["doomed"] = n.deploy(a1, compiled["Doomed"], value=2 * ETH)
    # one busy block: token transfers, internal transfers, a reverted sub-call, failed txs, an internal CREATE
    n.rpc("anvil_impersonateAccount", [alice])
    w["tok1"] = n.send(a0, w["token"], data=calldata("transfer(address,uint256)", alice, 1_000_000))
    w["tok2"] = n.send(a0, w["token"], data=calldata("transfer(address,uint256)", bob, 250_000))
    w["forward"] = n.send(a2, w["fwd"], 3 * ETH + 1, calldata("forward(address,address)", alice, carol), gas=200_000)
    w["trycall"] = n.send(a2, w["fwd"], ETH // 2, calldata("tryCall(address)", w["rev"]), gas=200_000)
    w["failed"] = n.send(a1, w["rev"], ETH, calldata("boom()"), gas=100_000)
    w["spawn"] = n.send(a0, w["fwd"], ETH // 4, calldata("spawn()"), gas=300_000)
    w["alice_pay"] = n.send(alice, bob, ETH)
    w["alice_tok"] = n.send(alice, w["token"], data=calldata("transfer(address,uint256)", carol, 300_000), gas=100_000)
    w["tok_fail"] = n.send(alice, w["token"], data=calldata("transfer(address,uint256)", carol, 10**12), gas=100_000)
    n.mine()
    # self-destruct pays its balance to a beneficiary
    w["destroy"] = n.send(a2, w["doomed"], data=calldata("destroy(address)", carol), gas=100_000)
    n.mine()
    n.rpc("anvil_impersonateAccount", [bob])
    n.send(bob, carol, ETH // 3)
    n.mine(2)
    w["head"] = n.head()
    return w


def _ingest(path: Path, url: str, traces: str) -> Workspace:
    ws = Workspace(path)
    s = ws.ingest.evm_rpc(url, chain="eth-anvil", traces=traces)
    assert s.blocks_new == s.last_height + 1 - s.first_height
    return ws


@pytest.fixture(scope="module")
def ingested(world: dict[str, Any], anvil_module: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Workspace]:
    out = {t: _ingest(tmp_path_factory.mktemp(t), anvil_module.url, t) for t in ("geth", "parity", "auto")}
    assert out["auto"].queries.stats().chains["eth-anvil"]["blocks_without_traces"] == 0
    yield out
    for ws in out.values():
        ws.close()


def _addresses(ws: Workspace) -> list[str]:
    return [r[0] for r in ws.store.db.execute(
        "SELECT address FROM addresses WHERE chain = 'eth-anvil' ORDER BY id").fetchall()]


@pytest.mark.parametrize("traces", ["geth", "parity"])
def test_evm_every_native_balance_equals_the_node(ingested: dict[str, Workspace], anvil_module: Any,
                                                  world: dict[str, Any], traces: str) -> None:
    ws = ingested[traces]
    addrs = _addresses(ws)
    assert len(addrs) >= 10
    for a in addrs:
        info = ws.queries.show_address(a)
        assert info.address == to_checksum_address(a)
        got = info.balance.get("native", 0) if isinstance(info.balance, dict) else None
        # genesis allocations are not in any block: compare what the ingested blocks changed
        expected = anvil_module.balance(a, world["head"]) - anvil_module.balance(a, 0)
        assert got == expected, (a, got, expected)
    for name in ("alice", "bob", "carol"):   # funded only through ingested blocks: the full balance
        info = ws.queries.show_address(world[name])
        assert isinstance(info.balance, dict)
        assert info.balance["native"] == anvil_module.balance(world[name]) > 0


@pytest.mark.parametrize("traces", ["geth", "parity"])
def test_evm_token_balances_equal_balance_of(ingested: dict[str, Workspace], anvil_module: Any,
                                            world: dict[str, Any], traces: str) -> None:
    calldata = anvil_module.calldata
    ws = ingested[traces]
    token = to_checksum_address(world["token"])
    for name in ("a0", "alice", "bob", "carol"):
        info = ws.queries.show_address(world[name])
        onchain = int(anvil_module.call(world["token"], calldata("balanceOf(address)", world[name])), 16)
        assert isinstance(info.balance, dict)
        assert info.balance.get(token, 0) == onchain, name
    meta = ws.store.account.known_tokens("eth-anvil")
    assert world["token"].lower() in meta


def test_evm_failed_txs_move_nothing_but_pay_gas(ingested: dict[str, Workspace], anvil_module: Any,
                                                world: dict[str, Any]) -> None:
    ws = ingested["geth"]
    for key in ("failed", "tok_fail"):
        rc = anvil_module.receipt(world[key])
        assert rc["status"] == "0x0"
        tx = ws.queries.show_tx(world[key])
        assert tx.status == 0
        assert {t.kind for t in tx.transfers} <= {"fee", "burn"}
        assert sum(t.value for t in tx.transfers) == tx.fee == int(rc["gasUsed"], 16) * int(rc["effectiveGasPrice"], 16)
        assert all(t.from_ == to_checksum_address(tx.from_) for t in tx.transfers)


@pytest.mark.parametrize("traces", ["geth", "parity"])
def test_evm_internal_and_selfdestruct_transfers_have_their_kind(ingested: dict[str, Workspace],
                                                                 world: dict[str, Any], traces: str) -> None:
    ws = ingested[traces]
    cs = to_checksum_address
    fwd = ws.queries.show_tx(world["forward"])
    internal = [(t.from_, t.to, t.value) for t in fwd.transfers if t.kind == "internal"]
    half = (3 * ETH + 1) // 2
    assert internal == [(cs(world["fwd"]), cs(world["alice"]), half), (cs(world["fwd"]), cs(world["carol"]),
                                                                        3 * ETH + 1 - half)]
    # the reverted sub-call moved nothing; the top-level value stayed with the forwarder
    tc = ws.queries.show_tx(world["trycall"])
    assert tc.status == 1
    assert [t.kind for t in tc.transfers if t.kind not in ("fee", "burn")] == ["native"]
    sp = ws.queries.show_tx(world["spawn"])
    created = [t for t in sp.transfers if t.kind == "internal"]
    assert len(created) == 1 and created[0].value == ETH // 4 and created[0].from_ == cs(world["fwd"])
    sd = ws.queries.show_tx(world["destroy"])
    assert [(t.kind, t.from_, t.to, t.value) for t in sd.transfers if t.kind == "selfdestruct"] == [
        ("selfdestruct", cs(world["doomed"]), cs(world["carol"]), 2 * ETH)]


@pytest.mark.parametrize("traces", ["geth", "parity"])
def test_evm_received_and_sent_are_exact(ingested: dict[str, Workspace], world: dict[str, Any], traces: str) -> None:
    """carol only receives: funding, half of the forward, the self-destruct payout, bob's payment; tokens."""
    info = ingested[traces].queries.show_address(world["carol"])
    half = (3 * ETH + 1) // 2
    token = to_checksum_address(world["token"])
    assert info.received == {"native": 1 * ETH + (3 * ETH + 1 - half) + 2 * ETH + ETH // 3, token: 300_000}
    assert info.sent == {"native": 0, token: 0}
    bob = ingested[traces].queries.show_address(world["bob"])
    assert isinstance(bob.received, dict) and isinstance(bob.sent, dict)
    assert bob.received["native"] == 3 * ETH + ETH and bob.received[token] == 250_000
    assert bob.sent["native"] > ETH // 3   # the payment to carol plus its fee


def test_evm_geth_and_parity_traces_agree(ingested: dict[str, Workspace]) -> None:
    def rows(ws: Workspace) -> list[tuple[Any, ...]]:
        return sorted(ws.store.db.execute(
            "SELECT x.block_number, x.tx_index, x.kind, f.address, o.address, x.value::VARCHAR FROM transfers x "
            "LEFT JOIN addresses f ON f.chain = x.chain AND f.id = x.from_id "
            "LEFT JOIN addresses o ON o.chain = x.chain AND o.id = x.to_id").fetchall(), key=str)

    assert rows(ingested["geth"]) == rows(ingested["parity"]) == rows(ingested["auto"])
    traces = ingested["auto"].store.db.execute("SELECT DISTINCT traces FROM account_blocks").fetchall()
    assert traces == [("parity",)]   # anvil has trace_block: auto picks it


def test_evm_fees_split_between_fee_recipient_and_burn(ingested: dict[str, Workspace], anvil_module: Any,
                                                      world: dict[str, Any]) -> None:
    ws = ingested["geth"]
    tx = ws.queries.show_tx(world["alice_pay"])
    rc = anvil_module.receipt(world["alice_pay"])
    block = anvil_module.rpc("eth_getBlockByNumber", [rc["blockNumber"], False])
    used, price, base = int(rc["gasUsed"], 16), int(rc["effectiveGasPrice"], 16), int(block["baseFeePerGas"], 16)
    by_kind = {t.kind: t for t in tx.transfers}
    assert by_kind["burn"].value == used * base and by_kind["burn"].to is None
    assert by_kind["fee"].value == used * (price - base)
    assert by_kind["fee"].to == to_checksum_address(block["miner"])
    assert by_kind["native"].value == ETH


def test_evm_reingest_changes_nothing_and_cli_shows_address(ingested: dict[str, Workspace], anvil_module: Any,
                                                           world: dict[str, Any]) -> None:
    ws = ingested["geth"]
    before = ws.queries.stats().chains["eth-anvil"]
    s = ws.ingest.evm_rpc(anvil_module.url, chain="eth-anvil", from_=0, traces="geth")
    assert s.blocks_new == 0 and s.txs_new == 0
    assert ws.queries.stats().chains["eth-anvil"] == before
    ws.close()
    r = CliRunner().invoke(app, ["--workspace", str(ws.path), "show", "address", world["carol"], "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["address"] == to_checksum_address(world["carol"])
    assert doc["balance"]["native"] == anvil_module.balance(world["carol"])
    r = CliRunner().invoke(app, ["--workspace", str(ws.path), "show", "tx", world["forward"], "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["status"] == 1 and doc["from"] == to_checksum_address(world["a2"])
    assert {t["kind"] for t in doc["transfers"]} >= {"native", "internal", "fee", "burn"}
