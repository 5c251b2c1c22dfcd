"""Bad answers from a Bitcoin node, served through the same client code path (recorded answers, altered one
field at a time, and a local HTTP server that fails first): each gives a clear error naming the node, the
method, the height and the field, and leaves the store as it was."""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chainsleuth.core.progress import NullProgress
from chainsleuth.errors import InvalidInput, SourceError, Unsupported
from chainsleuth.sources.btc import rpc_mappers as m
from chainsleuth.sources.btc.rpc import BitcoinRpcClient, open_btc_replay_source, split_credentials
from chainsleuth.workspace import Workspace

H1 = "000000001c920d495e1eeef2452b6d1c6c229a919b28196c103ecffebabee141"   # block 50001


@pytest.fixture
def case(shared_data: Path, tmp_path: Path) -> Path:
    src = shared_data / "bitcoin-etl-tests" / "resources" / "test_export_blocks_job" / "bitcoin" / \
        "block_with_transactions"
    if not src.is_dir():
        pytest.skip("bitcoin-etl-tests is not in ../shared/data")
    d = tmp_path / "rec"
    shutil.copytree(src, d)
    return d


def _edit(d: Path, name: str, fn: object) -> None:
    """Change one recording; amounts stay JSON numbers written exactly (strings "__D__x__D__" become x)."""
    p = d / name
    doc = fn(json.loads(p.read_text(), parse_float=Decimal))  # type: ignore[operator]

    def plain(x: object) -> object:
        if isinstance(x, Decimal):
            return f"__D__{x}__D__"
        if isinstance(x, dict):
            return {k: plain(v) for k, v in x.items()}
        if isinstance(x, list):
            return [plain(v) for v in x]
        return x
    p.write_text(json.dumps(plain(doc)).replace('"__D__', "").replace('__D__"', ""))


def _ingest(d: Path, tmp_path: Path, **kw: object) -> Workspace:
    ws = Workspace(tmp_path / "ws", progress=NullProgress())
    ws.ingest.btc_rpc(f"replay:{d}", chain="btc", from_=50001, to=50002, **kw)  # type: ignore[arg-type]
    return ws


def _blocks(tmp_path: Path) -> int:
    ws = Workspace(tmp_path / "ws", progress=NullProgress())
    try:
        return int(ws.store.db.one("SELECT count(*) FROM blocks")[0])
    finally:
        ws.close()


def test_satoshi_exact() -> None:
    assert m.satoshi(Decimal("20999999.97690000"), "v") == 2099999997690000
    assert m.satoshi(Decimal("0E-8"), "v") == 0
    for bad in (Decimal("0.123456789"), 1.5, "1.0", Decimal("-1"), Decimal("NaN"), True, None):
        with pytest.raises(InvalidInput):
            m.satoshi(bad, "vout[0].value")


def test_sub_satoshi_amount_is_a_source_error(case: Path, tmp_path: Path) -> None:
    def f(doc: dict) -> dict:
        doc["tx"][1]["vout"][0]["value"] = "__D__100.000000001__D__"
        return doc
    _edit(case, f"rpc_response_getblock_{H1}_2.json", f)
    with pytest.raises(SourceError) as e:
        _ingest(case, tmp_path).close()
    msg = str(e.value)
    assert "getblock block 50001" in msg and "tx[1].vout[0].value" in msg and "whole number of satoshi" in msg
    assert _blocks(tmp_path) == 0


def test_amount_that_disagrees_with_the_hex(case: Path, tmp_path: Path) -> None:
    def f(doc: dict) -> dict:
        doc["tx"][1]["vout"][0]["value"] = "__D__100.00000001__D__"
        return doc
    _edit(case, f"rpc_response_getblock_{H1}_2.json", f)
    with pytest.raises(SourceError, match=r"tx\[1\]\.vout\[0\]\.value.*10000000000 satoshi"):
        _ingest(case, tmp_path).close()
    assert _blocks(tmp_path) == 0


def test_wrong_block_for_the_hash(case: Path, tmp_path: Path) -> None:
    h2 = json.loads((case / "rpc_response_getblockhash_50002.json").read_text())
    (case / f"rpc_response_getblock_{H1}_2.json").write_text((case / f"rpc_response_getblock_{h2}_2.json").read_text())
    with pytest.raises(SourceError, match=f"getblock block 50001 .{H1}.: the block's header hashes to {h2}"):
        _ingest(case, tmp_path).close()
    assert _blocks(tmp_path) == 0


def test_wrong_height_and_bad_hex(case: Path, tmp_path: Path) -> None:
    _edit(case, f"rpc_response_getblock_{H1}_2.json", lambda d: {**d, "height": 50000})
    with pytest.raises(SourceError, match="field 'height' is 50000, not the height asked for"):
        _ingest(case, tmp_path).close()
    shutil.rmtree(tmp_path / "ws")

    def f(doc: dict) -> dict:
        doc["height"] = 50001
        h = doc["tx"][2]["hex"]
        doc["tx"][2]["hex"] = h[:-10] + ("0" if h[-10] != "0" else "1") + h[-9:]
        return doc
    _edit(case, f"rpc_response_getblock_{H1}_2.json", f)
    with pytest.raises(SourceError, match=r"getblock block 50001.*merkle"):
        _ingest(case, tmp_path).close()


def test_pruned_node_and_network(case: Path, tmp_path: Path) -> None:
    info = {"chain": "main", "blocks": 60000, "bestblockhash": "00" * 32, "pruned": True, "pruneheight": 50002}
    (case / "rpc_response_getblockchaininfo.json").write_text(json.dumps(info))
    with pytest.raises(Unsupported, match="pruned: it keeps blocks from height 50002 on, so block 50001"):
        _ingest(case, tmp_path).close()
    (case / "rpc_response_getblockchaininfo.json").write_text(json.dumps({**info, "chain": "test"}))
    with pytest.raises(InvalidInput, match=r"serves the 'test' network .ingest it with --chain btc-testnet."):
        _ingest(case, tmp_path).close()


def test_credentials_never_in_the_endpoint(tmp_path: Path) -> None:
    url, auth = split_credentials("http://u:p%3Ass@127.0.0.1:1/")
    assert (url, auth) == ("http://127.0.0.1:1/", ("u", "p:ss"))
    (tmp_path / "c").write_text("__cookie__:abc123\n")
    assert split_credentials("http://x:y@h:1/", "a", "b", tmp_path / "c")[1] == ("__cookie__", "abc123")
    with pytest.raises(InvalidInput, match="cannot read the cookie file"):
        split_credentials("http://h:1/", cookie=tmp_path / "missing")


class _Flaky(BaseHTTPRequestHandler):
    """Answers 503 with Retry-After 3600 twice, then HTTP 500 with a JSON-RPC error body (as nodes before
    JSON-RPC 2.0 do), then the result."""

    calls = 0

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        type(self).calls += 1
        n = type(self).calls
        if n <= 2:
            self.send_response(503)
            self.send_header("retry-after", "3600")
            self.end_headers()
            return
        rid = body[0]["id"]
        if n == 3:
            out = [{"result": None, "error": {"code": -5, "message": "Block not found"}, "id": rid}]
            status = 500
        else:
            out = [{"result": 7, "error": None, "id": rid}]
            status = 200
        data = json.dumps(out).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def flaky() -> Iterator[str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{srv.server_address[1]}/"
    finally:
        srv.shutdown()
        srv.server_close()


def test_retries_capped_and_legacy_error_bodies(flaky: str) -> None:
    waits: list[float] = []
    notes: list[str] = []
    c = BitcoinRpcClient(flaky, retries=3, max_wait=2.0, sleep=waits.append, notify=notes.append)
    with pytest.raises(SourceError, match=r"answered getblock\(.*\) with error -5: Block not found"):
        c.call("getblock", ["00" * 32, 0])
    assert waits == [2.0, 2.0] and "node asked to wait 3600 s; waiting 2 s" in notes[0]
    assert c.call("getblockcount") == 7


def test_replay_source_reads_decimal_amounts(case: Path) -> None:
    src = open_btc_replay_source(f"replay:{case}", "btc")
    try:
        b = src.fetch([50001])
        assert b.outputs["value"].to_pylist() == [5000000000, 10000000000, 5000000000]
        assert src.endpoint == f"replay:{case}"
    finally:
        src.close()
