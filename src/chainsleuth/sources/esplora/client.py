"""An HTTP client for an Esplora-compatible REST API (Blockstream's and mempool.space's explorers, or one's own).

Every answer comes back with its :class:`Fetch`: the URL asked (without credentials or query string), the UTC
time it arrived and the SHA-256 of its body, so that records stored from it can cite it. Requests run in
parallel on a small thread pool (``parallel``) and never faster than ``rate_limit`` per second across all
threads; HTTP 429 and 5xx, timeouts and connection errors are retried with exponential back-off, honouring the
server's ``Retry-After`` up to ``max_wait`` seconds (``Settings.rpc_max_wait``). The transport is injectable,
so recorded responses (:mod:`.replay`) and tests run the very same code. Errors are
:class:`~chainsleuth.errors.SourceError` naming the URL; a 404 is :class:`~chainsleuth.errors.NotFound`.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from chainsleuth.errors import NotFound, SourceError
from chainsleuth.sources.evm.rpc import redact_url, retry_after_seconds

__all__ = ["EsploraClient", "Fetch"]

_RETRY_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
T = TypeVar("T")


@dataclass(frozen=True)
class Fetch:
    """Provenance of one answer: where from, when (unix seconds, UTC), the SHA-256 of the body, what it was."""

    url: str
    fetched_at: int
    sha256: str
    kind: str


class EsploraClient:
    """GET requests to one Esplora base URL (``https://blockstream.info/api``, ``http://127.0.0.1:3000``).

    Parameters
    ----------
    url : the API's base URL.
    timeout : seconds per request (``Settings.rpc_timeout``).
    retries : retries of a failed request (``Settings.rpc_retries``).
    max_wait : longest wait before a retry, also when ``Retry-After`` asks for more (``Settings.rpc_max_wait``).
    rate_limit : at most this many requests per second over all threads (None: no limit).
    parallel : requests in flight at once for :meth:`get_many`.
    transport : an ``httpx.BaseTransport`` standing in for the network (recorded responses, tests).
    notify : called with a line before each wait, so that a wait is never silent.

    ``requests_sent`` counts HTTP requests (retries included); ``fetches`` lists the provenance of every
    answer accepted, in the order they arrived.
    """

    def __init__(self, url: str, *, timeout: float = 30.0, retries: int = 5, max_wait: float = 30.0,
                 rate_limit: float | None = None, parallel: int = 8, transport: httpx.BaseTransport | None = None,
                 backoff: float = 0.25, sleep: Callable[[float], None] = time.sleep,
                 notify: Callable[[str], None] | None = None) -> None:
        self.base = url.rstrip("/")
        self.safe_url = redact_url(self.base)
        self.retries = max(0, int(retries))
        self.max_wait = max(0.0, float(max_wait))
        self.backoff = backoff
        self.min_interval = 1.0 / rate_limit if rate_limit else 0.0
        self.parallel = max(1, int(parallel))
        self._sleep = sleep
        self._notify = notify
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self.requests_sent = 0
        self.fetches: list[Fetch] = []
        self._http = httpx.Client(transport=transport, timeout=httpx.Timeout(timeout),
                                  headers={"accept": "application/json"}, follow_redirects=False)
        self._pool: ThreadPoolExecutor | None = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self._http.close()

    def __enter__(self) -> EsploraClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- requests -----------------------------------------------------------------------------------
    def url_of(self, path: str) -> str:
        return f"{self.safe_url}{path}"

    def _throttle(self) -> None:
        """Wait for this thread's slot: slots are ``min_interval`` apart whatever the thread."""
        if not self.min_interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next_slot)
            self._next_slot = slot + self.min_interval
        if slot > now:
            self._sleep(slot - now)

    def get(self, path: str, kind: str, *, text: bool = False) -> tuple[Any, Fetch]:
        """The JSON (or with ``text`` the stripped text) at ``path`` and its provenance."""
        url = self.base + path
        shown = self.url_of(path)
        attempt = 0
        while True:
            self._throttle()
            retry_after: float | None = None
            try:
                resp = self._http.get(url)
                with self._lock:
                    self.requests_sent += 1
            except httpx.TimeoutException as e:
                with self._lock:
                    self.requests_sent += 1
                problem = f"timed out ({type(e).__name__})"
            except httpx.TransportError as e:
                problem = f"cannot be reached ({type(e).__name__}: {e})"
            else:
                if resp.status_code == 404:
                    raise NotFound(f"{shown} answered 404: {resp.text[:120]!r}", url=shown)
                if resp.status_code in _RETRY_STATUS:
                    problem = f"answered HTTP {resp.status_code}" + (
                        " (too many requests: the server limits its clients; lower --rate-limit)"
                        if resp.status_code == 429 else "")
                    retry_after = retry_after_seconds(resp.headers.get("retry-after"))
                elif resp.status_code >= 400:
                    raise SourceError(f"{shown} answered HTTP {resp.status_code}: {resp.text[:200]!r}", url=shown,
                                      status=resp.status_code)
                else:
                    body = resp.content
                    f = Fetch(shown, int(time.time()), hashlib.sha256(body).hexdigest(), kind)
                    return self._decode(body, shown, text), f
            if attempt >= self.retries:
                raise SourceError(f"{shown} {problem}; gave up after {attempt + 1} attempts", url=shown)
            delay = self.backoff * (2 ** attempt)
            wait = min(self.max_wait, max(delay, retry_after or 0.0))
            if self._notify is not None:
                asked = f"server asked to wait {retry_after:g} s" if retry_after is not None else f"{problem}"
                self._notify(f"{shown}: {asked}; waiting {wait:g} s (attempt {attempt + 2}/{self.retries + 1})")
            self._sleep(wait)
            attempt += 1

    @staticmethod
    def _decode(body: bytes, shown: str, text: bool) -> Any:
        if text:
            try:
                return body.decode("ascii").strip()
            except UnicodeDecodeError:
                raise SourceError(f"{shown} sent bytes that are not text: {body[:60]!r}", url=shown) from None
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError) as e:
            raise SourceError(f"{shown} sent malformed JSON: {e}; body starts {body[:80]!r}", url=shown) from None

    def get_many(self, items: Sequence[T], fn: Callable[[T], Any]) -> list[Any]:
        """``fn(item)`` for each item, up to ``parallel`` at once (each within the rate limit), in order;
        the first error is raised once all are done."""
        if len(items) <= 1 or self.parallel == 1:
            return [fn(x) for x in items]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.parallel, thread_name_prefix="esplora")
        futures = [self._pool.submit(fn, x) for x in items]
        out: list[Any] = []
        err: BaseException | None = None
        for fut in futures:
            try:
                out.append(fut.result())
            except BaseException as e:   # keep the first, wait for the rest
                err = err or e
                out.append(None)
        if err is not None:
            raise err
        return out
