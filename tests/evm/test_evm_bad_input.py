"""Bad input: an endpoint that is down, slow or answers garbage; a node without trace support; a range beyond
the head; a failure in the middle of an ingest. Each gives a clear error naming URL, method and block, and
leaves the store exactly as it was before the failed batch."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from chainsleuth.config import Settings
from chainsleuth.errors import InvalidInput, NotFound, SourceError, Unsupported
from chainsleuth.sources.evm.rpc import JsonRpcClient
from chainsleuth.workspace import Workspace

ETH = 10**18


def _ws(tmp_path: Path, *, timeout: float = 5.0, retries: int = 1) -> Workspace:
    return Workspace(tmp_path / "ws", settings=Settings(workspace=tmp_path / "ws", rpc_timeout=timeout,
                                                        rpc_retries=retries, progress="never"))


def _snapshot(ws: Workspace) -> dict[str, Any]:
    db = ws.store.db
    return {t: db.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0]
            for t in ("account_blocks", "account_txs", "transfers", "tokens", "account_checkpoints", "addresses")}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def garbage_server() -> Iterator[tuple[str, dict[str, Any]]]:
    """A local HTTP server; ``state['mode']`` picks garbage JSON or a slow answer."""
    state: dict[str, Any] = {"mode": "garbage", "hits": 0}

    class H(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", 0)))
            state["hits"] += 1
            if state["mode"] == "slow":
                time.sleep(1.0)
            body = b"<html>not json{" if state["mode"] == "garbage" else b'{"jsonrpc":"2.0","id":1,"result":"0x1"}'
            try:
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, *a: Any) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/", state
    finally:
        srv.shutdown()
        srv.server_close()


def test_evm_endpoint_down_names_url_and_method(tmp_path: Path) -> None:
    ws = _ws(tmp_path, retries=1)
    before = _snapshot(ws)
    url = f"http://127.0.0.1:{_closed_port()}/"
    with pytest.raises(SourceError) as e:
        ws.ingest.evm_rpc(url, chain="eth-anvil")
    msg = str(e.value)
    assert url.rstrip("/") in msg and "eth_chainId" in msg and "2 attempts" in msg
    assert _snapshot(ws) == before
    ws.close()


def test_evm_malformed_json_is_a_clear_error(tmp_path: Path, garbage_server: tuple[str, dict[str, Any]]) -> None:
    url, _ = garbage_server
    ws = _ws(tmp_path)
    before = _snapshot(ws)
    with pytest.raises(SourceError) as e:
        ws.ingest.evm_rpc(url, chain="eth-anvil")
    assert "malformed JSON" in str(e.value) and "eth_chainId" in str(e.value) and url.rstrip("/") in str(e.value)
    assert _snapshot(ws) == before
    ws.close()


def test_evm_slow_endpoint_times_out_after_retries(garbage_server: tuple[str, dict[str, Any]]) -> None:
    url, state = garbage_server
    state["mode"] = "slow"
    slept: list[float] = []
    client = JsonRpcClient(url, timeout=0.2, retries=2, sleep=slept.append)
    with pytest.raises(SourceError) as e:
        client.call("eth_getBlockByNumber", ["0x10", True])
    assert "timed out" in str(e.value) and "block 16" in str(e.value)
    assert state["hits"] == 3 and slept == [0.25, 0.5]   # retried with exponential back-off
    client.close()


def test_evm_batch_size_adapts_when_the_node_refuses_large_batches() -> None:
    sizes: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        reqs = body if isinstance(body, list) else [body]
        sizes.append(len(reqs))
        if len(reqs) > 8:
            return httpx.Response(200, json={"jsonrpc": "2.0", "id": None,
                                             "error": {"code": -32600, "message": "batch too large"}})
        out = [{"jsonrpc": "2.0", "id": r["id"], "result": r["params"][0]} for r in reqs]
        return httpx.Response(200, json=out if isinstance(body, list) else out[0])

    client = JsonRpcClient("http://node.invalid/", transport=httpx.MockTransport(handler), max_batch=32)
    calls = [("eth_getBalance", [hex(i)]) for i in range(40)]
    assert client.batch(calls) == [hex(i) for i in range(40)]
    assert client.batch(calls) == [hex(i) for i in range(40)]
    refused = [s for s in sizes if s > 8]
    assert len(refused) <= 6 and 4 <= client.batch_size <= 8
    k = len(sizes)
    assert client.batch(calls) == [hex(i) for i in range(40)]
    assert max(sizes[k:]) <= 8   # learned: no refused batch any more


@pytest.mark.anvil
def test_evm_node_without_traces_refuses_unless_traces_none(anvil: Any, tmp_path: Path) -> None:
    anvil.send(anvil.accounts[0], anvil.accounts[1], ETH)
    anvil.mine(2)
    inner = httpx.HTTPTransport()

    def no_traces(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        reqs = body if isinstance(body, list) else [body]
        if any(r["method"].startswith(("debug_", "trace_")) for r in reqs):
            out = [{"jsonrpc": "2.0", "id": r["id"], "error": {"code": -32601, "message": f"the method {r['method']} "
                                                                                           "does not exist"}}
                   for r in reqs]
            return httpx.Response(200, json=out if isinstance(body, list) else out[0])
        return inner.handle_request(request)

    ws = _ws(tmp_path)
    before = _snapshot(ws)
    for mode, methods in (("geth", ["debug_traceBlockByNumber"]), ("parity", ["trace_block"]),
                          ("auto", ["trace_block", "debug_traceBlockByNumber"])):
        with pytest.raises(Unsupported) as e:
            ws.ingest.evm_rpc(anvil.url, chain="eth-anvil", traces=mode, transport=httpx.MockTransport(no_traces))
        assert all(m in str(e.value) for m in methods) and "--traces none" in str(e.value)
        assert _snapshot(ws) == before
    s = ws.ingest.evm_rpc(anvil.url, chain="eth-anvil", traces="none", transport=httpx.MockTransport(no_traces))
    assert s.blocks_new == 3 and s.traces == "none" and any("internal" in n for n in s.notes)
    assert ws.queries.stats().chains["eth-anvil"]["blocks_without_traces"] == 3
    runs = ws.store.runs.list("eth-anvil")
    assert "traces=none" in runs[-1].notes
    ws.close()


@pytest.mark.anvil
def test_evm_range_beyond_head_and_wrong_chain(anvil: Any, tmp_path: Path) -> None:
    anvil.mine(3)
    ws = _ws(tmp_path)
    before = _snapshot(ws)
    with pytest.raises(NotFound) as e:
        ws.ingest.evm_rpc(anvil.url, chain="eth-anvil", from_=0, to=50)
    assert "block 50" in str(e.value) and "head (3)" in str(e.value) and anvil.url in str(e.value)
    with pytest.raises(InvalidInput) as e2:
        ws.ingest.evm_rpc(anvil.url, chain="eth")   # anvil is chain id 31337, not mainnet
    assert "31337" in str(e2.value)
    assert _snapshot(ws) == before
    ws.close()


@pytest.mark.anvil
def test_evm_failure_mid_ingest_keeps_committed_batches_and_resumes(anvil: Any, tmp_path: Path) -> None:
    for i in range(6):
        anvil.send(anvil.accounts[0], anvil.accounts[1 + i % 3], ETH + i)
        anvil.mine()
    inner = httpx.HTTPTransport()
    state = {"fail": True}

    def flaky(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        reqs = body if isinstance(body, list) else [body]
        if state["fail"] and any(r["method"] == "eth_getBlockByNumber" and r["params"][0] == "0x4" and r["params"][1]
                                 for r in reqs):
            return httpx.Response(500, text="upstream broke")
        return inner.handle_request(request)

    ws = _ws(tmp_path, retries=0)
    src_kw: dict[str, Any] = {"chain": "eth-anvil", "traces": "geth"}
    with pytest.raises(SourceError) as e:
        ws.ingest.evm_rpc(anvil.url, transport=httpx.MockTransport(flaky), blocks_per_batch=2, **src_kw)
    assert "HTTP 500" in str(e.value) and "block 4" in str(e.value)
    assert ws.store.account.checkpoint("eth-anvil")[0] == 3          # blocks 0..3 committed, 4.. not
    assert sorted(ws.store.account.block_hashes("eth-anvil", 0, 99)) == [0, 1, 2, 3]
    assert ws.store.db.execute("SELECT count(*) FROM account_txs WHERE block_number > 3").fetchall()[0][0] == 0
    state["fail"] = False
    s = ws.ingest.evm_rpc(anvil.url, transport=httpx.MockTransport(flaky), blocks_per_batch=2, **src_kw)
    assert (s.first_height, s.last_height) == (4, 6)
    for a in anvil.accounts[:4]:
        bal = ws.queries.show_address(a).balance
        assert isinstance(bal, dict)
        assert bal["native"] == anvil.balance(a) - anvil.balance(a, 0)
    ws.close()
