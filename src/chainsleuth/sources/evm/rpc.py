"""A JSON-RPC client over httpx: batched requests with an adaptive batch size, retries with exponential
back-off, timeouts and a rate limit.

The transport is injectable (``transport=``), so the replay source (:mod:`chainsleuth.sources.replay`) runs
the very same code path as a live node. Errors name the URL (without credentials), the method and its
parameters (the block): :class:`~chainsleuth.errors.SourceError` when the node is down, slow or answers
garbage; :class:`~chainsleuth.errors.Unsupported` when it lacks a method; :class:`~chainsleuth.errors.NotFound`
is left to callers that know what a ``null`` result means.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from chainsleuth.errors import SourceError, Unsupported

__all__ = ["JsonRpcClient", "RpcCall", "RpcErrorResult", "describe_call", "redact_url", "retry_after_seconds"]

RpcCall = tuple[str, list[Any]]

#: JSON-RPC error codes meaning "this node does not have that method"
_METHOD_MISSING = (-32601, -32600)
#: HTTP statuses worth retrying
_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RpcErrorResult:
    """A JSON-RPC error answer for one request of a batch (returned when ``errors='return'``)."""

    code: int
    message: str

    @property
    def method_missing(self) -> bool:
        m = self.message.lower()
        return self.code in _METHOD_MISSING or "not supported" in m or "does not exist" in m or \
            "not available" in m or "method not found" in m or "unsupported" in m


def redact_url(url: str) -> str:
    """The URL without user:password and without a query string (API keys live there).

    >>> redact_url("https://user:secret@node.example/v1?key=abc")
    'https://node.example/v1'
    """
    p = urlsplit(url)
    host = p.hostname or ""
    if p.port:
        host = f"{host}:{p.port}"
    return urlunsplit((p.scheme, host, p.path, "", ""))


def describe_call(method: str, params: Sequence[Any]) -> str:
    """``method(params)`` with hex block numbers also given in decimal.

    >>> describe_call("eth_getBlockByNumber", ["0x10", True])
    'eth_getBlockByNumber(0x10 [block 16], true)'
    """
    parts = []
    for p in params:
        if isinstance(p, str) and p.startswith("0x") and len(p) <= 18 and method.endswith(("Number", "block",
                                                                                              "Receipts")):
            parts.append(f"{p} [block {int(p, 16)}]")
        else:
            parts.append(json.dumps(p, separators=(",", ":")))
    return f"{method}({', '.join(parts)})"


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (a number or an HTTP date); None when absent or unreadable.

    >>> retry_after_seconds("3600"), retry_after_seconds("soon"), retry_after_seconds(None), retry_after_seconds("-5")
    (3600.0, None, None, 0.0)
    """
    if not value:
        return None
    try:
        secs = float(value.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.UTC)
        secs = (when - datetime.datetime.now(datetime.UTC)).total_seconds()
    if secs != secs or secs == float("inf"):   # nan, inf
        return None
    return max(0.0, secs)


class JsonRpcClient:
    """Talk JSON-RPC 2.0 to one endpoint.

    Parameters
    ----------
    url : endpoint (http or https; any URL when ``transport`` serves it).
    timeout : seconds per HTTP request (``Settings.rpc_timeout``).
    retries : retries of a failed request (``Settings.rpc_retries``); connection errors, timeouts, HTTP 429
        and 5xx are retried with exponential back-off (``backoff`` * 2**attempt, at most ``max_backoff``),
        or after the node's ``Retry-After`` (seconds or an HTTP date), which is capped at ``max_wait``
        (``Settings.rpc_max_wait``): a node asking for an hour is retried after ``max_wait`` seconds, and
        after the last attempt the request fails with a SourceError.
    notify : called with a line for each wait before a retry ("node asked to wait 3600 s; waiting 30 s
        (attempt 2/6)"), so a wait is never silent (the ingest shows it as a progress note).
    max_batch : largest number of requests in one HTTP POST. The size adapts: it halves when the endpoint
        refuses or times out a batch, and grows back by half after each success, never again to a size
        that was refused.
    rate_limit : at most this many HTTP requests per second (None: no limit).
    transport : an ``httpx.BaseTransport`` (the replay source, a mock); None for the network.
    """

    def __init__(self, url: str, *, timeout: float = 30.0, retries: int = 5, max_batch: int = 100,
                 rate_limit: float | None = None, transport: httpx.BaseTransport | None = None,
                 backoff: float = 0.25, max_backoff: float = 8.0, max_wait: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep, notify: Callable[[str], None] | None = None) -> None:
        self.url = url
        self.safe_url = redact_url(url)
        self.retries = max(0, int(retries))
        self.max_batch = max(1, int(max_batch))
        self.batch_size = self.max_batch
        self._ceiling = self.max_batch
        self.min_interval = 1.0 / rate_limit if rate_limit else 0.0
        self.backoff = backoff
        self.max_backoff = min(max_backoff, max_wait)
        self.max_wait = max(0.0, float(max_wait))
        self._notify = notify
        self._sleep = sleep
        self._last_request = 0.0
        self._next_id = 1
        self.requests_sent = 0
        self.bytes_received = 0
        self._http = httpx.Client(transport=transport, timeout=httpx.Timeout(timeout),
                                  headers={"content-type": "application/json", "accept": "application/json"})

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> JsonRpcClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public ------------------------------------------------------------------------------------
    def call(self, method: str, params: list[Any] | None = None) -> Any:
        """One request; raise on a JSON-RPC error."""
        return self.batch([(method, list(params or []))])[0]

    def batch(self, calls: Sequence[RpcCall], *, errors: str = "raise") -> list[Any]:
        """Results of ``calls`` in order. ``errors='return'`` gives :class:`RpcErrorResult` in place of a
        failed request's result instead of raising."""
        out: list[Any] = []
        i = 0
        while i < len(calls):
            chunk = calls[i:i + self.batch_size]
            results = self._send_adaptive(chunk)
            for (method, params), r in zip(chunk, results, strict=True):
                if isinstance(r, RpcErrorResult) and errors == "raise":
                    self._raise_rpc_error(method, params, r)
                out.append(r)
            i += len(chunk)
        return out

    # -- internals ---------------------------------------------------------------------------------
    def _raise_rpc_error(self, method: str, params: Sequence[Any], r: RpcErrorResult) -> None:
        what = describe_call(method, params)
        if r.method_missing:
            raise Unsupported(f"the node at {self.safe_url} does not support {method}: {r.message}",
                              url=self.safe_url, method=method, call=what, code=r.code)
        raise SourceError(f"the node at {self.safe_url} answered {what} with error {r.code}: {r.message}",
                          url=self.safe_url, method=method, call=what, code=r.code)

    def _send_adaptive(self, chunk: Sequence[RpcCall]) -> list[Any]:
        """Send one chunk; split it when the endpoint refuses a batch that large."""
        results = self._post(chunk)
        if results is None:  # the endpoint refused a batch this large
            if len(chunk) == 1:
                raise SourceError(f"the node at {self.safe_url} refuses even a single request "
                                  f"{describe_call(*chunk[0])}", url=self.safe_url, method=chunk[0][0])
            self._ceiling = min(self._ceiling, len(chunk) - 1)   # never grow back to a refused size
            self.batch_size = max(1, len(chunk) // 2)
            half = len(chunk) // 2
            return self._send_adaptive(chunk[:half]) + self._send_adaptive(chunk[half:])
        if len(chunk) == self.batch_size and self.batch_size < self._ceiling:
            self.batch_size = min(self._ceiling, self.batch_size + self.batch_size // 2 + 1)
        return results

    def _throttle(self) -> None:
        if self.min_interval:
            wait = self._last_request + self.min_interval - time.monotonic()
            if wait > 0:
                self._sleep(wait)
        self._last_request = time.monotonic()

    def _post(self, chunk: Sequence[RpcCall]) -> list[Any] | None:
        """Results of one HTTP request; None when the endpoint refuses a batch this large."""
        ids = list(range(self._next_id, self._next_id + len(chunk)))
        self._next_id += len(chunk)
        single = len(chunk) == 1
        reqs = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in zip(ids, chunk, strict=True)]
        body = json.dumps(reqs[0] if single else reqs, separators=(",", ":")).encode()
        first = describe_call(*chunk[0]) + (f" and {len(chunk) - 1} more" if len(chunk) > 1 else "")
        attempt = 0
        while True:
            self._throttle()
            problem: str
            retry_after: float | None = None
            try:
                resp = self._http.post(self.url, content=body)
                self.requests_sent += 1
            except httpx.TimeoutException as e:
                if len(chunk) > 1:
                    return None
                problem = f"timed out ({type(e).__name__})"
            except httpx.TransportError as e:
                problem = f"cannot be reached ({type(e).__name__}: {e})"
            else:
                if resp.status_code == 413 and len(chunk) > 1:
                    return None
                if resp.status_code in _RETRY_STATUS:
                    problem = f"answered HTTP {resp.status_code}"
                    retry_after = retry_after_seconds(resp.headers.get("retry-after"))
                elif resp.status_code >= 400:
                    raise SourceError(f"the node at {self.safe_url} answered HTTP {resp.status_code} to {first}: "
                                      f"{resp.text[:200]!r}", url=self.safe_url, method=chunk[0][0],
                                      status=resp.status_code)
                else:
                    self.bytes_received += len(resp.content)
                    return self._parse(resp.content, ids, chunk, first)
            if attempt >= self.retries:
                raise SourceError(f"the node at {self.safe_url} {problem} for {first}; gave up after "
                                  f"{attempt + 1} attempts", url=self.safe_url, method=chunk[0][0], call=first)
            delay = min(self.max_backoff, self.backoff * (2 ** attempt))
            wait = min(self.max_wait, max(delay, retry_after or 0.0))
            if self._notify is not None:
                asked = f"node asked to wait {retry_after:g} s" if retry_after is not None else \
                    f"the node at {self.safe_url} {problem}"
                self._notify(f"{asked}; waiting {wait:g} s (attempt {attempt + 2}/{self.retries + 1}) "
                             f"for {first}")
            self._sleep(wait)
            attempt += 1

    def _parse(self, content: bytes, ids: list[int], chunk: Sequence[RpcCall], first: str) -> list[Any] | None:
        try:
            doc = json.loads(content)
        except (ValueError, UnicodeDecodeError) as e:
            raise SourceError(f"the node at {self.safe_url} sent malformed JSON for {first}: {e}; "
                              f"body starts {content[:80]!r}", url=self.safe_url, method=chunk[0][0],
                              call=first) from None
        if isinstance(doc, dict):
            if len(chunk) > 1:
                err = doc.get("error") if isinstance(doc.get("error"), dict) else None
                if err is not None and doc.get("id") is None:
                    msg = str(err.get("message", ""))
                    if any(w in msg.lower() for w in ("batch", "too large", "too many", "limit")):
                        return None
                    raise SourceError(f"the node at {self.safe_url} rejected a batch starting {first}: {msg}",
                                      url=self.safe_url, method=chunk[0][0])
            docs = [doc]
        elif isinstance(doc, list):
            docs = doc
        else:
            raise SourceError(f"the node at {self.safe_url} sent a JSON {type(doc).__name__} instead of a "
                              f"JSON-RPC response for {first}", url=self.safe_url, method=chunk[0][0])
        by_id: dict[Any, Any] = {}
        for d in docs:
            if not isinstance(d, dict) or ("result" not in d and "error" not in d):
                raise SourceError(f"the node at {self.safe_url} sent a malformed JSON-RPC response for {first}: "
                                  f"{str(d)[:120]}", url=self.safe_url, method=chunk[0][0])
            err = d.get("error")
            if err is not None:
                code = err.get("code", 0) if isinstance(err, dict) else 0
                msg = err.get("message", str(err)) if isinstance(err, dict) else str(err)
                by_id[d.get("id")] = RpcErrorResult(int(code) if isinstance(code, int) else 0, str(msg))
            else:
                by_id[d.get("id")] = d.get("result")
        if len(chunk) == 1 and len(docs) == 1:
            return [next(iter(by_id.values()))]
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise SourceError(f"the node at {self.safe_url} left {len(missing)} of {len(ids)} requests of a batch "
                              f"unanswered ({first})", url=self.safe_url, method=chunk[0][0])
        return [by_id[i] for i in ids]

