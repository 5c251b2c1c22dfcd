"""Replay: serve recorded JSON-RPC responses as a real httpx transport, so the same client code runs
against recordings (golden tests, training worlds, demos) as against a live node.

Recordings use ethereum-etl's file naming: ``web3_response.<method>_<params joined by "_">.json`` where each
parameter is ``str(param).lower()``, a dict becomes ``key_value`` pairs in sorted key order and a list is
flattened. Each file holds one JSON-RPC response object; its ``id`` is replaced by the request's.
:class:`RecordingTransport` writes such files while passing requests to another transport.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx

from chainsleuth.errors import InvalidInput

__all__ = ["RecordingTransport", "ReplayTransport", "recording_name"]


def _param_str(p: Any) -> str:
    if isinstance(p, dict):
        return "_".join(f"{k}_{_param_str(p[k])}" for k in sorted(p))
    if isinstance(p, list):
        return "_".join(_param_str(x) for x in p)
    return str(p).lower()


def recording_name(method: str, params: list[Any]) -> str:
    """The file name a request is recorded under.

    >>> recording_name("debug_traceBlockByNumber", ["0xf4240", {"tracer": "callTracer"}])
    'web3_response.debug_traceBlockByNumber_0xf4240_tracer_calltracer.json'
    """
    return f"web3_response.{method}_{'_'.join(_param_str(p) for p in params)}.json"


class ReplayTransport(httpx.BaseTransport):
    """Answer JSON-RPC requests (single or batched) from a directory of recordings.

    A request without a recording gets JSON-RPC error -32601 (method not found) when nothing at all is
    recorded for its method, as a node lacking that method would answer, else -32000 naming the missing file.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise InvalidInput(f"no recording directory at {self.directory}", file=str(self.directory))
        self._names = {p.name for p in self.directory.iterdir()}
        self.served: list[str] = []

    def _answer(self, req: dict[str, Any]) -> dict[str, Any]:
        method = str(req.get("method"))
        name = recording_name(method, list(req.get("params") or []))
        rid = req.get("id")
        if name in self._names:
            doc = json.loads((self.directory / name).read_text(encoding="utf-8"))
            self.served.append(name)
            doc["id"] = rid
            doc.setdefault("jsonrpc", "2.0")
            return doc
        params = list(req.get("params") or [])
        if method == "eth_getBlockByNumber" and len(params) == 2 and params[1] is False:
            full = recording_name(method, [params[0], True])   # a header served from a full-block recording
            if full in self._names:
                doc = json.loads((self.directory / full).read_text(encoding="utf-8"))
                if isinstance(doc.get("result"), dict):
                    doc["result"]["transactions"] = [t["hash"] for t in doc["result"].get("transactions") or []]
                self.served.append(full)
                return {**doc, "id": rid, "jsonrpc": "2.0"}
        if not any(n.startswith(f"web3_response.{method}_") for n in self._names):
            return {"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": f"the method {method} does "
                                                                                        "not exist/is not available"}}
        return {"jsonrpc": "2.0", "id": rid, "error": {"code": -32000, "message": f"no recorded response {name}"}}

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            body = json.loads(request.read())
        except ValueError:
            return httpx.Response(400, json={"jsonrpc": "2.0", "id": None,
                                             "error": {"code": -32700, "message": "parse error"}})
        out: Any = [self._answer(r) for r in body] if isinstance(body, list) else self._answer(body)
        return httpx.Response(200, content=json.dumps(out).encode(), headers={"content-type": "application/json"})


class RecordingTransport(httpx.BaseTransport):
    """Pass requests to ``inner`` and write every single answer as a recording in ``directory``."""

    def __init__(self, inner: httpx.BaseTransport, directory: str | Path) -> None:
        self.inner = inner
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.read())
        resp = self.inner.handle_request(request)
        resp.read()
        answer = json.loads(resp.content)
        reqs = body if isinstance(body, list) else [body]
        answers = answer if isinstance(answer, list) else [answer]
        by_id = {a.get("id"): a for a in answers if isinstance(a, dict)}
        for r in reqs:
            a = by_id.get(r.get("id"))
            if a is not None and "result" in a:
                name = recording_name(str(r["method"]), list(r.get("params") or []))
                (self.directory / name).write_text(json.dumps(a, indent=2), encoding="utf-8")
        return httpx.Response(resp.status_code, content=resp.content, headers=resp.headers)
