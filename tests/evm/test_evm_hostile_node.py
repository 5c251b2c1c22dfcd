"""A node that lies: every answer is checked against what was asked (block number, hashes, parent links,
receipts of the block's own transactions, the chain id of every batch), malformed values are a source
error naming the method, the block and the field, and a node asking to wait an hour is waited on for a
bounded time, visibly. The store is left exactly as before the failed batch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chainsleuth.config import Settings
from chainsleuth.core.progress import NullProgress
from chainsleuth.errors import SourceError
from chainsleuth.workspace import Workspace

TABLES = ("account_blocks", "account_txs", "transfers", "tokens", "account_checkpoints", "addresses")


class Notes(NullProgress):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def note(self, message: str) -> None:
        self.seen.append(message)


def make_ws(path: Path, *, timeout: float = 2.0, retries: int = 1, max_wait: float = 30.0,
            progress: Any = None) -> Workspace:
    return Workspace(path, settings=Settings(workspace=path, rpc_timeout=timeout, rpc_retries=retries,
                                             rpc_max_wait=max_wait, progress="never"), progress=progress)


def tables(ws: Workspace) -> dict[str, list[tuple[Any, ...]]]:
    """Every stored row of the account tables (run ids and clock times aside), sorted."""
    db = ws.store.db
    out = {}
    for t in TABLES:
        cols = [c[0] for c in db.execute(f"DESCRIBE {t}").fetchall() if c[0] not in ("run_id", "updated_at")]
        rows = db.execute(f"SELECT {', '.join(cols)} FROM {t}").fetchall()
        out[t] = sorted(rows, key=repr)
    return out


def _block_of(params: list[Any]) -> int | None:
    p = params[0] if params else None
    return int(p, 16) if isinstance(p, str) and p.startswith("0x") and len(p) <= 18 else None


def test_honest_fake_node_ingests_the_true_balances(fake_nodes: Any, tmp_path: Path) -> None:
    node = fake_nodes(30)
    ws = make_ws(tmp_path / "ws")
    s = ws.ingest.evm_rpc(node.url, chain="eth-anvil", traces="parity", blocks_per_batch=10)
    assert (s.first_height, s.last_height) == (0, 29)
    bob = node.data["people"]["bob"]
    assert ws.queries.show_address(bob).balance == {"native": sum(range(30)) * 10**18}
    ws.close()


def test_a_block_answered_with_another_number_is_refused(fake_nodes: Any, tmp_path: Path) -> None:
    """Asked for block 24, the node answers ``number: 99``: refused, naming method, block and field; the
    batch 20..29 is not written, and nothing of block 24 is lost on the next run."""
    node = fake_nodes(30)

    def lie(method: str, params: list[Any], result: Any) -> Any:
        if method == "eth_getBlockByNumber" and params[0] == hex(24) and params[1]:
            result["number"] = hex(99)
        return result

    node.hook = lie
    ws = make_ws(tmp_path / "ws")
    with pytest.raises(SourceError) as e:
        ws.ingest.evm_rpc(node.url, chain="eth-anvil", traces="parity", blocks_per_batch=10)
    msg = str(e.value)
    assert "eth_getBlockByNumber block 24" in msg and "'number'" in msg and "0x63" in msg, msg
    assert e.value.details["block"] == 24 and e.value.details["field"] == "number"
    assert ws.store.account.checkpoint("eth-anvil")[0] == 19
    assert sorted(ws.store.account.block_hashes("eth-anvil", 0, 200)) == list(range(20))
    node.hook = None
    ws.ingest.evm_rpc(node.url, chain="eth-anvil", traces="parity", blocks_per_batch=10)
    assert ws.queries.show_address(node.data["people"]["bob"]).balance == {"native": sum(range(30)) * 10**18}
    ws.close()
