"""Record a live node's answers, replay them through the same client code, and get the same store; the
client's rate limit; a node that reorganises while a batch is being read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from chainsleuth.sources.evm.rpc import JsonRpcClient
from chainsleuth.sources.replay import RecordingTransport
from chainsleuth.workspace import Workspace

ETH = 10**18


def _rows(ws: Workspace) -> list[tuple[Any, ...]]:
    return sorted(ws.store.db.execute(
        "SELECT x.block_hash, x.tx_index, x.\"index\", x.kind, f.address, o.address, x.value::VARCHAR FROM transfers x "
        "LEFT JOIN addresses f ON f.chain = x.chain AND f.id = x.from_id "
        "LEFT JOIN addresses o ON o.chain = x.chain AND o.id = x.to_id").fetchall(), key=str)


@pytest.mark.anvil
def test_evm_recorded_node_replays_to_the_same_store(anvil: Any, compiled: dict[str, str], tmp_path: Path) -> None:
    n = anvil
    a0, a1, a2 = n.accounts[:3]
    fwd = n.deploy(a0, compiled["Forwarder"])
    n.send(a1, fwd, 2 * ETH + 1, n.calldata("forward(address,address)", a2, a0), gas=200_000)
    n.send(a2, a1, ETH)
    n.mine(2)
    rec = tmp_path / "rec"
    live = Workspace(tmp_path / "live")
    live.ingest.evm_rpc(n.url, chain="eth-anvil", traces="parity",
                        transport=RecordingTransport(httpx.HTTPTransport(), rec))
    assert any(p.name.startswith("web3_response.trace_block_") for p in rec.iterdir())
    n.rpc("evm_mine")   # the live node moves on; the recording does not
    replayed = Workspace(tmp_path / "replayed")
    s = replayed.ingest.evm_rpc(f"replay:{rec}", chain="eth-anvil", traces="parity")
    assert s.blocks_new == live.queries.stats().chains["eth-anvil"]["blocks"]
    assert _rows(replayed) == _rows(live) and any(r[3] == "internal" for r in _rows(live))
    live.close()
    replayed.close()


def test_evm_rate_limit_spaces_requests() -> None:
    slept: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        return httpx.Response(200, json={"jsonrpc": "2.0", "id": body["id"], "result": "0x1"})

    client = JsonRpcClient("http://node.invalid/", transport=httpx.MockTransport(handler), rate_limit=5,
                           sleep=slept.append)
    for _ in range(4):
        assert client.call("eth_blockNumber") == "0x1"
    assert len(slept) == 3 and all(0.1 < s <= 0.2 for s in slept)


@pytest.mark.anvil
def test_evm_node_reorganising_during_a_read_is_read_again(anvil: Any, tmp_path: Path) -> None:
    n = anvil
    for i in range(5):
        n.send(n.accounts[0], n.accounts[1], ETH + i)
        n.mine()
    inner = httpx.HTTPTransport()
    state = {"broken": 1}

    def flaky(request: httpx.Request) -> httpx.Response:
        resp = inner.handle_request(request)
        resp.read()
        body = json.loads(request.content)
        reqs = body if isinstance(body, list) else [body]
        if not any(r["method"] == "eth_getBlockByNumber" and r["params"] == ["0x3", True] for r in reqs) \
                or not state["broken"]:
            return httpx.Response(resp.status_code, content=resp.content, headers=resp.headers)
        state["broken"] -= 1
        doc = json.loads(resp.content)
        for d in doc if isinstance(doc, list) else [doc]:
            if isinstance(d.get("result"), dict) and d["result"]["number"] == "0x3":
                d["result"]["parentHash"] = "0x" + "ee" * 32   # as if block 3 came from another branch
        return httpx.Response(200, json=doc)

    ws = Workspace(tmp_path / "ws")
    s = ws.ingest.evm_rpc(n.url, chain="eth-anvil", traces="parity", transport=httpx.MockTransport(flaky))
    assert state["broken"] == 0 and s.blocks_new == 6
    stored = ws.store.account.block_hashes("eth-anvil", 0, 9)
    assert all(n.rpc("eth_getBlockByNumber", [hex(k), False])["hash"] == h for k, h in stored.items())
    assert ws.store.db.execute("SELECT count(*) FROM account_blocks WHERE parent_hash = ?",
                               ["0x" + "ee" * 32]).fetchall()[0][0] == 0
    ws.close()
