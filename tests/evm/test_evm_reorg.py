"""Reorgs on a real node: anvil's evm_snapshot / evm_revert mine a different branch across an ingest; the
orphaned blocks are rolled back and no data of them remains."""

from __future__ import annotations

from typing import Any

import pytest

from chainsleuth.core.account import keccak256
from chainsleuth.errors import NotFound
from chainsleuth.workspace import Workspace

pytestmark = pytest.mark.anvil

ETH = 10**18


def _fresh(name: str) -> str:
    return "0x" + keccak256(name.encode()).hex()[:40]


def _orphan_rows(ws: Workspace, hashes: set[str]) -> int:
    n = 0
    for table, col in (("account_blocks", "hash"), ("account_txs", "block_hash"), ("transfers", "block_hash")):
        rows = ws.store.db.execute(f"SELECT {col} FROM {table} WHERE chain = 'eth-anvil'").fetchall()
        n += sum(1 for (h,) in rows if h in hashes)
    return n


def _check_balances(ws: Workspace, node: Any, addrs: list[str]) -> None:
    for a in addrs:
        bal = ws.queries.show_address(a).balance
        assert isinstance(bal, dict)
        assert bal.get("native", 0) == node.balance(a) - node.balance(a, 0), a


@pytest.mark.parametrize("resume", [True, False])
def test_evm_reorg_rolls_back_orphaned_blocks(anvil: Any, tmp_path: Any, resume: bool) -> None:
    n = anvil
    a0, a1 = n.accounts[:2]
    alice, bob, carol = _fresh("r-alice"), _fresh("r-bob"), _fresh("r-carol")
    n.send(a0, alice, 5 * ETH)
    n.mine()
    n.mine()
    snap = n.rpc("evm_snapshot")
    orphan_tx = n.send(a1, bob, 2 * ETH)
    n.mine()
    n.send(a0, bob, ETH)
    n.mine()
    ws = Workspace(tmp_path / "ws")
    first = ws.ingest.evm_rpc(n.url, chain="eth-anvil", traces="geth")
    assert first.last_height == 4
    orphaned = {b[0] for b in ws.store.db.execute(
        "SELECT hash FROM account_blocks WHERE number > 2").fetchall()}
    assert len(orphaned) == 2 and ws.queries.show_tx(orphan_tx).status == 1

    assert n.rpc("evm_revert", [snap]) is True
    n.rpc("anvil_setNextBlockTimestamp", [int(n.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16) + 7])
    n.send(a1, carol, 3 * ETH)         # a different branch, longer than the orphaned one
    n.mine()
    n.mine()
    n.mine()
    n.mine()
    assert n.head() == 6
    if resume:   # resume from the checkpoint: the stored tip is no longer on the node's chain
        s = ws.ingest.evm_rpc(n.url, chain="eth-anvil", traces="geth")
    else:        # an explicit range whose first parent disagrees with the store
        s = ws.ingest.evm_rpc(n.url, chain="eth-anvil", from_=5, traces="geth")
    assert s.reorged_blocks == 2
    assert s.last_height == 6
    assert _orphan_rows(ws, orphaned) == 0
    with pytest.raises(NotFound):
        ws.queries.show_tx(orphan_tx)
    stored = ws.store.account.block_hashes("eth-anvil", 0, 10)
    assert sorted(stored) == list(range(7))
    for k, h in stored.items():
        assert n.rpc("eth_getBlockByNumber", [hex(k), False])["hash"] == h
    assert ws.store.account.checkpoint("eth-anvil") == (6, stored[6])
    _check_balances(ws, n, [a0, a1, alice, bob, carol])
    assert ws.queries.show_address(bob).balance == {}  # bob only ever received on the orphaned branch
    ws.close()


def test_evm_confirmations_keep_ingest_below_the_head(anvil: Any, tmp_path: Any) -> None:
    n = anvil
    n.send(n.accounts[0], _fresh("c-alice"), ETH)
    n.mine(6)
    ws = Workspace(tmp_path / "ws")
    s = ws.ingest.evm_rpc(n.url, chain="eth-anvil", traces="parity", confirmations=3)
    assert (s.first_height, s.last_height, s.head) == (0, 3, 6)
    n.mine(2)
    s = ws.ingest.evm_rpc(n.url, chain="eth-anvil", traces="parity", confirmations=3)
    assert (s.first_height, s.last_height) == (4, 5)
    ws.close()


def test_evm_reorg_below_a_gap_in_the_stored_range(anvil: Any, tmp_path: Any) -> None:
    """Blocks stored in two ranges (0..4 and 7..8); the chain reorganises at 3: every orphaned block goes,
    also those below the gap."""
    n = anvil
    a0, a1 = n.accounts[:2]
    n.mine(2)
    snap = n.rpc("evm_snapshot")
    for _ in range(7):
        n.send(a0, _fresh("g-bob"), ETH)
        n.mine()
    ws = Workspace(tmp_path / "ws")
    ws.ingest.evm_rpc(n.url, chain="eth-anvil", to=4, traces="parity")
    ws.ingest.evm_rpc(n.url, chain="eth-anvil", from_=7, to=8, traces="parity")
    old = set(ws.store.account.block_hashes("eth-anvil", 0, 99).values())
    assert n.rpc("evm_revert", [snap]) is True
    n.rpc("anvil_setNextBlockTimestamp", [int(n.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16) + 5])
    for _ in range(8):
        n.send(a1, _fresh("g-carol"), 2 * ETH)
        n.mine()
    s = ws.ingest.evm_rpc(n.url, chain="eth-anvil", traces="parity")
    assert s.reorged_blocks == 4       # 3, 4, 7, 8
    stored = ws.store.account.block_hashes("eth-anvil", 0, 99)
    assert sorted(stored) == list(range(11))
    assert all(n.rpc("eth_getBlockByNumber", [hex(k), False])["hash"] == h for k, h in stored.items())
    assert _orphan_rows(ws, old - set(stored.values())) == 0
    _check_balances(ws, n, [a0, a1, _fresh("g-bob"), _fresh("g-carol")])
    ws.close()
