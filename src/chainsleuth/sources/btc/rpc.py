"""The Bitcoin Core JSON-RPC source: blocks from a node (or recorded answers) as the same
:class:`~chainsleuth.core.records.UtxoBatch` es the block-file source yields.

Per batch of heights it sends ``getblockhash`` for each height (one batched HTTP request), then
``getblock <hash> 0`` (the serialized block) for each, on a few connections side by side, and reads the bytes
with the project's own parser (:mod:`chainsleuth.sources.btc.parser`: merkle root, proof of work, weight and
amounts checked). A node or recording that does not serve verbosity 0 gets ``getblock <hash> 3`` (Bitcoin Core
23+, with prevouts) or ``2``: the block is rebuilt from its header fields and transactions' hex, parsed the
same way, and every figure of the JSON is checked against the bytes (:mod:`.rpc_mappers`). Inputs carry no
amounts in a batch: the store resolves them from the outputs they spend, ``(prev_txid, prev_n)``, whichever
verbosity was read. docs/bitcoin.md says why the raw block is the default (it is exact by construction and
measured faster).

Every answer is checked against what was asked: ``getblockhash`` answers a hash, the block's bytes hash to it,
the verbose block says it is that height and hash. Parent links are checked by the ingest job, which tells a
reorg from an inconsistent node.

Credentials come from a cookie file, the URL's ``user:password@`` or a user and password given apart; they are
sent as HTTP basic auth and never appear in a message, the provenance (``endpoint`` is the URL without them)
or the store. The transport is injectable (``transport=``): :class:`EtlReplayTransport` serves bitcoin-etl's
recorded responses through the very same client code path.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from hashlib import sha256
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from chainsleuth.core.btc.addresses import script_columns
from chainsleuth.core.chains import get_chain
from chainsleuth.core.records import UtxoBatch
from chainsleuth.errors import InvalidInput, NotFound, ParseError, SourceError, Unsupported
from chainsleuth.sources.btc import rpc_mappers as m
from chainsleuth.sources.btc.parser import BlockParser
from chainsleuth.sources.evm.rpc import describe_call, redact_url, retry_after_seconds

__all__ = ["BLOCK_FORMATS", "BitcoinRpcClient", "BtcRpcSource", "EtlReplayTransport", "NodeInfo",
           "open_btc_replay_source", "open_btc_rpc_source", "split_credentials"]

#: how blocks are read: 'raw' (getblock 0 + our parser), 'json' (getblock 3, else 2), 'auto' (raw when served)
BLOCK_FORMATS = ("auto", "raw", "json")
_RETRY_STATUS = frozenset({408, 425, 429, 502, 503, 504})
#: Bitcoin Core's RPC_IN_WARMUP: the node is starting (loading the block index); worth waiting for
_IN_WARMUP = -28
_METHOD_MISSING = -32601
#: RPC_INVALID_PARAMETER: getblockhash of a height above the tip
_OUT_OF_RANGE = -8


@dataclass(frozen=True)
class RpcError:
    """One JSON-RPC error answer (returned in place of a result when ``errors='return'``)."""

    code: int
    message: str


def split_credentials(url: str, user: str | None = None, password: str | None = None,
                      cookie: str | Path | None = None) -> tuple[str, tuple[str, str] | None]:
    """The URL without ``user:password@`` and the credentials to send: a cookie file wins, then ``user`` and
    ``password``, then the URL's own.

    >>> split_credentials("http://alice:s%40cret@127.0.0.1:8332/")
    ('http://127.0.0.1:8332/', ('alice', 's@cret'))
    >>> split_credentials("http://127.0.0.1:8332", "bob", "pw")
    ('http://127.0.0.1:8332', ('bob', 'pw'))
    """
    p = urlsplit(url)
    auth: tuple[str, str] | None = None
    if p.username is not None:
        auth = (unquote(p.username), unquote(p.password or ""))
        host = p.hostname or ""
        if p.port:
            host = f"{host}:{p.port}"
        url = urlunsplit((p.scheme, host, p.path, p.query, p.fragment))
    if user is not None or password is not None:
        auth = (user or (auth[0] if auth else ""), password if password is not None else (auth[1] if auth else ""))
    if cookie is not None:
        path = Path(cookie)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise InvalidInput(f"cannot read the cookie file {path}: {e.strerror or e}", file=str(path),
                               field="--rpc-cookie") from None
        auth = m.parse_cookie(text, str(path))
    return url, auth


class BitcoinRpcClient:
    """JSON-RPC to one Bitcoin node: batched requests, retries with exponential back-off, timeouts.

    As :class:`~chainsleuth.sources.evm.rpc.JsonRpcClient`: connection errors, timeouts, HTTP 429/5xx and a
    node still warming up are retried (``backoff`` * 2**attempt, at most ``max_wait``; a ``Retry-After`` is
    honoured up to ``max_wait``), each wait told to ``notify``. Different for Bitcoin: errors may come back as
    HTTP 500/404 with a JSON-RPC error body (nodes before JSON-RPC 2.0), HTTP 401/403 means wrong credentials
    (InvalidInput naming the flags, never the secret), and numbers with a fraction are parsed as Decimal.
    """

    def __init__(self, url: str, *, auth: tuple[str, str] | None = None, timeout: float = 30.0, retries: int = 5,
                 max_batch: int = 50, transport: httpx.BaseTransport | None = None, backoff: float = 0.25,
                 max_wait: float = 30.0, sleep: Callable[[float], None] = time.sleep,
                 notify: Callable[[str], None] | None = None) -> None:
        self.url = url
        self.safe_url = redact_url(url)
        self.retries = max(0, int(retries))
        self.max_batch = max(1, int(max_batch))
        self.backoff = backoff
        self.max_wait = max(0.0, float(max_wait))
        self._sleep = sleep
        self._notify = notify
        self._ids = iter(range(1, 2**62))
        self._lock = threading.Lock()
        self.requests_sent = 0
        self.bytes_received = 0
        self._http = httpx.Client(transport=transport, timeout=httpx.Timeout(timeout), auth=auth,
                                  headers={"content-type": "application/json"})

    def close(self) -> None:
        self._http.close()

    def call(self, method: str, params: list[Any] | None = None) -> Any:
        return self.batch([(method, list(params or []))])[0]

    def batch(self, calls: Sequence[tuple[str, list[Any]]], *, errors: str = "raise") -> list[Any]:
        """Results in order (``max_batch`` requests per HTTP POST); ``errors='return'`` puts an
        :class:`RpcError` in place of a failed request's result instead of raising."""
        out: list[Any] = []
        for i in range(0, len(calls), self.max_batch):
            chunk = calls[i:i + self.max_batch]
            for (method, params), r in zip(chunk, self._post(chunk), strict=True):
                if isinstance(r, RpcError) and errors == "raise":
                    self.raise_error(method, params, r)
                out.append(r)
        return out

    def raise_error(self, method: str, params: Sequence[Any], r: RpcError) -> None:
        what = describe_call(method, params)
        if r.code == _METHOD_MISSING:
            raise Unsupported(f"the node at {self.safe_url} does not support {method}: {r.message}",
                              url=self.safe_url, method=method, code=r.code)
        raise SourceError(f"the node at {self.safe_url} answered {what} with error {r.code}: {r.message}",
                          url=self.safe_url, method=method, call=what, code=r.code)

    def _post(self, chunk: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        with self._lock:
            ids = [next(self._ids) for _ in chunk]
        reqs = [{"jsonrpc": "1.0", "id": i, "method": meth, "params": p} for i, (meth, p) in zip(ids, chunk,
                                                                                                 strict=True)]
        body = json.dumps(reqs, separators=(",", ":")).encode()
        first = describe_call(*chunk[0]) + (f" and {len(chunk) - 1} more" if len(chunk) > 1 else "")
        attempt = 0
        while True:
            retry_after: float | None = None
            try:
                resp = self._http.post(self.url, content=body)
                self.requests_sent += 1
            except httpx.TimeoutException as e:
                problem = f"timed out ({type(e).__name__})"
            except httpx.TransportError as e:
                problem = f"cannot be reached ({type(e).__name__}: {e})"
            else:
                status = resp.status_code
                if status in (401, 403):
                    raise InvalidInput(
                        f"the node at {self.safe_url} refused the credentials (HTTP {status}): give the node's "
                        "cookie file with --rpc-cookie, or --rpc-user with CHAINSLEUTH_RPC_PASSWORD (or "
                        "user:password in the URL)", url=self.safe_url, field="credentials", status=status)
                results = self._parse(resp, ids, first) if status not in _RETRY_STATUS else None
                if results is not None:
                    if any(isinstance(r, RpcError) and r.code == _IN_WARMUP for r in results):
                        problem = "is starting up (RPC in warm-up)"
                    else:
                        self.bytes_received += len(resp.content)
                        return results
                elif status in _RETRY_STATUS:
                    problem = f"answered HTTP {status}"
                    retry_after = retry_after_seconds(resp.headers.get("retry-after"))
                else:
                    raise SourceError(f"the node at {self.safe_url} answered HTTP {status} to {first}: "
                                      f"{resp.text[:200]!r}", url=self.safe_url, method=chunk[0][0], status=status)
            if attempt >= self.retries:
                raise SourceError(f"the node at {self.safe_url} {problem} for {first}; gave up after "
                                  f"{attempt + 1} attempts", url=self.safe_url, method=chunk[0][0], call=first)
            wait = min(self.max_wait, max(self.backoff * (2 ** attempt), retry_after or 0.0))
            if self._notify is not None:
                asked = f"node asked to wait {retry_after:g} s" if retry_after is not None else \
                    f"the node at {self.safe_url} {problem}"
                self._notify(f"{asked}; waiting {wait:g} s (attempt {attempt + 2}/{self.retries + 1}) for {first}")
            self._sleep(wait)
            attempt += 1

    def _parse(self, resp: httpx.Response, ids: list[int], first: str) -> list[Any] | None:
        """Results by id; None when the body is not a JSON-RPC answer and the status is an error."""
        try:
            doc = json.loads(resp.content, parse_float=Decimal)
        except (ValueError, UnicodeDecodeError) as e:
            if resp.status_code >= 400:
                return None
            raise SourceError(f"the node at {self.safe_url} sent malformed JSON for {first}: {e}; body starts "
                              f"{resp.content[:80]!r}", url=self.safe_url, call=first) from None
        docs = doc if isinstance(doc, list) else [doc]
        by_id: dict[Any, Any] = {}
        for d in docs:
            if not isinstance(d, dict) or ("result" not in d and "error" not in d):
                if resp.status_code >= 400:
                    return None
                raise SourceError(f"the node at {self.safe_url} sent a malformed JSON-RPC answer for {first}: "
                                  f"{str(d)[:120]}", url=self.safe_url, call=first)
            err = d.get("error")
            if err is not None:
                code = err.get("code", 0) if isinstance(err, dict) else 0
                msg = err.get("message", str(err)) if isinstance(err, dict) else str(err)
                by_id[d.get("id")] = RpcError(int(code) if isinstance(code, int) else 0, str(msg))
            else:
                by_id[d.get("id")] = d.get("result")
        if len(ids) == 1 and len(docs) == 1 and ids[0] not in by_id:
            return [next(iter(by_id.values()))]
        missing = [i for i in ids if i not in by_id]
        if missing:
            if resp.status_code >= 400 and len(docs) == 1:
                return None
            raise SourceError(f"the node at {self.safe_url} left {len(missing)} of {len(ids)} requests unanswered "
                              f"({first})", url=self.safe_url, call=first)
        return [by_id[i] for i in ids]


@dataclass(frozen=True)
class NodeInfo:
    """What ``getblockchaininfo`` says: the network, the tip, and the oldest block a pruned node keeps."""

    network: str
    blocks: int
    best_hash: str
    pruned: bool
    prune_height: int | None
    software: str | None


class BtcRpcSource:
    """Blocks of one Bitcoin network from a node, as :class:`UtxoBatch` es.

    ``block_format``: 'raw' (``getblock <hash> 0`` and the project's parser), 'json' (``getblock <hash> 3``
    on Bitcoin Core 23+, else ``2``, rebuilt and checked field by field), 'auto' (raw, or json when the node
    or recording does not serve raw blocks). ``workers`` requests run side by side.
    """

    kind = "btc-rpc"

    def __init__(self, client: BitcoinRpcClient, chain: str, *, block_format: str = "auto",
                 blocks_per_batch: int = 50, workers: int = 4) -> None:
        if block_format not in BLOCK_FORMATS:
            raise InvalidInput(f"unknown block format {block_format!r}; choose one of: {', '.join(BLOCK_FORMATS)}",
                               field="--block-format", value=block_format)
        c = get_chain(chain)
        if c.btc_network is None:
            raise InvalidInput(f"chain {chain!r} is not a Bitcoin chain", field="--chain", value=chain)
        self.client = client
        self.chain = chain
        self.endpoint = client.safe_url
        self.block_format = block_format
        self.blocks_per_batch = max(1, blocks_per_batch)
        self.workers = max(1, workers)
        self._pool: ThreadPoolExecutor | None = None
        self._verbosity = 2           # the JSON verbosity: 3 on Bitcoin Core 23+ (with prevouts)
        self.prune_height: int | None = None
        #: heights a recording answers getblockhash for (None for a live node)
        self.recorded_heights: set[int] | None = None
        #: prevouts of the last verbosity-3 batch: (txid, n) -> (satoshi, script hex)
        self.prevouts: dict[tuple[str, int], tuple[int, str]] = {}

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self.client.close()

    @contextmanager
    def _answer(self, method: str, height: int | None, block_hash: str | None = None) -> Iterator[None]:
        """A malformed or mismatched answer (InvalidInput/ParseError from the mappers and the parser) as a
        SourceError naming the node, the method, the height and the field."""
        try:
            yield
        except InvalidInput as e:
            where = f"{method} block {height}" if height is not None else method
            if block_hash:
                where += f" ({block_hash})"
            raise SourceError(f"{where}: {e.message} (the node at {self.endpoint})", url=self.endpoint, method=method,
                              block=height, field=e.details.get("field"), value=e.details.get("value")) from None

    # -- node facts --------------------------------------------------------------------------------
    def info(self) -> NodeInfo:
        """``getblockchaininfo`` (and the node's software from ``getnetworkinfo`` when it has it)."""
        try:
            r = self.client.call("getblockchaininfo")
        except Unsupported:
            if self.recorded_heights is None:
                raise
            # a recording without it (bitcoin-etl records only blocks): the blocks' own checks remain
            return NodeInfo(m.NETWORK_OF_CHAIN[self.chain], max(self.recorded_heights, default=0), "", False, None,
                            "recorded responses (network not recorded)")
        with self._answer("getblockchaininfo", None):
            if not isinstance(r, dict) or not isinstance(r.get("chain"), str):
                raise m.bad("chain", r, "missing: not a getblockchaininfo answer")
            blocks = r.get("blocks")
            if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 0:
                raise m.bad("blocks", blocks, "not a block count")
            best = m.check_hex_hash(r.get("bestblockhash"), "bestblockhash")
            pruned = bool(r.get("pruned", False))
            ph = r.get("pruneheight") if pruned else None
            if ph is not None and (isinstance(ph, bool) or not isinstance(ph, int) or ph < 0):
                raise m.bad("pruneheight", ph, "not a height")
        software = None
        net = self.client.batch([("getnetworkinfo", [])], errors="return")[0]
        if isinstance(net, dict):
            software = str(net.get("subversion") or "") or None
            version = net.get("version")
            if software and "/Satoshi:" in software and isinstance(version, int) and version >= 230000:
                self._verbosity = 3
        self.prune_height = ph
        return NodeInfo(r["chain"], blocks, best, pruned, ph, software)

    def check_network(self, info: NodeInfo) -> None:
        """The node must serve the workspace chain's network, with that network's genesis block."""
        want = m.NETWORK_OF_CHAIN.get(self.chain)
        if info.network != want:
            names = {v: k for k, v in m.NETWORK_OF_CHAIN.items()}
            other = names.get(info.network)
            hint = f" (ingest it with --chain {other})" if other else ""
            raise InvalidInput(f"the node at {self.endpoint} serves the {info.network!r} network{hint}, but the "
                               f"chain given is {self.chain!r} (network {want!r}); nothing was ingested",
                               field="--chain", value=self.chain, url=self.endpoint, network=info.network)
        net = get_chain(self.chain).btc_network
        assert net is not None
        if self.recorded_heights is not None and 0 not in self.recorded_heights:
            return
        genesis = self.hashes([0]).get(0)
        if genesis != net.genesis_hash:
            raise InvalidInput(f"the node at {self.endpoint} has block {genesis} at height 0, not the genesis block "
                               f"of {self.chain} ({net.genesis_hash}); nothing was ingested", field="--chain",
                               value=self.chain, url=self.endpoint)

    def check_available(self, start: int) -> None:
        """A pruned node serves blocks from its prune height on: refuse a range that starts below it."""
        if self.prune_height is not None and start < self.prune_height:
            raise Unsupported(f"the node at {self.endpoint} is pruned: it keeps blocks from height {self.prune_height} "
                              f"on, so block {start} cannot be read; start at --from {self.prune_height} or use an "
                              "unpruned node", url=self.endpoint, block=start, field="pruneheight",
                              value=self.prune_height)

    def head(self) -> int:
        try:
            r = self.client.call("getblockcount")
        except Unsupported:
            if not self.recorded_heights:
                raise
            return max(self.recorded_heights)
        with self._answer("getblockcount", None):
            if isinstance(r, bool) or not isinstance(r, int) or r < 0:
                raise m.bad("result", r, "not a block count")
        return r

    def hashes(self, heights: Sequence[int], *, allow_missing: bool = False) -> dict[int, str]:
        """height -> hash of the node's current best chain; heights above its tip are left out with
        ``allow_missing``, else NotFound."""
        res = self.client.batch([("getblockhash", [h]) for h in heights], errors="return")
        out: dict[int, str] = {}
        for h, r in zip(heights, res, strict=True):
            if isinstance(r, RpcError):
                if r.code == _OUT_OF_RANGE:
                    if allow_missing:
                        continue
                    raise NotFound(f"block {h} is beyond the tip of the node at {self.endpoint}: {r.message}",
                                   url=self.endpoint, method="getblockhash", block=h)
                self.client.raise_error("getblockhash", [h], r)
            with self._answer("getblockhash", h):
                out[h] = m.check_block_hash(r, h)
        return out

    def prevouts_by_txindex(self, outpoints: Sequence[tuple[str, int]]) -> dict[tuple[str, int], tuple[int, str, str | None]]:
        """(txid, n) -> (satoshi, script type, address) of outputs the store does not hold, read with
        ``getrawtransaction <txid> 1`` (a node with ``-txindex``), as bitcoin-etl's input enrichment does.
        Each answer must be the transaction asked for, with that output."""
        txids = sorted({t for t, _ in outpoints})
        res = self.client.batch([("getrawtransaction", [t, 1]) for t in txids])
        by_txid = dict(zip(txids, res, strict=True))
        rows: list[tuple[tuple[str, int], int, bytes]] = []
        for txid, n in outpoints:
            doc = by_txid[txid]
            with self._answer("getrawtransaction", None, txid):
                if not isinstance(doc, dict) or doc.get("txid") != txid:
                    raise m.bad("txid", doc.get("txid") if isinstance(doc, dict) else doc, f"not {txid}")
                vout = doc.get("vout")
                if not isinstance(vout, list) or not 0 <= n < len(vout) or not isinstance(vout[n], dict):
                    raise m.bad(f"vout[{n}]", None, "missing")
                rows.append(((txid, n), m.satoshi(vout[n].get("value"), f"vout[{n}].value"),
                             bytes.fromhex(m.script_hex(vout[n].get("scriptPubKey"), f"vout[{n}].scriptPubKey"))))
        net = get_chain(self.chain).btc_network
        assert net is not None
        types, addresses, _ = script_columns([r[2] for r in rows], net)
        return {k: (v, str(t), a) for (k, v, _), t, a in zip(rows, types.to_pylist(), addresses.to_pylist(),
                                                             strict=True)}

    # -- blocks ------------------------------------------------------------------------------------
    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="btc-rpc")
        return self._pool

    def _getblocks(self, hashes: list[str], verbosity: int) -> list[Any]:
        """``getblock <hash> <verbosity>`` for each hash, split over the worker connections."""
        size = max(1, -(-len(hashes) // self.workers))
        chunks = [hashes[i:i + size] for i in range(0, len(hashes), size)]

        def get(chunk: list[str]) -> list[Any]:
            return self.client.batch([("getblock", [h, verbosity]) for h in chunk], errors="return")

        if len(chunks) == 1:
            return get(chunks[0])
        out: list[Any] = []
        for part in self._executor().map(get, chunks):
            out.extend(part)
        return out

    def _check_errors(self, res: list[Any], heights: Sequence[int], hashes: list[str], verbosity: int) -> None:
        for h, bh, r in zip(heights, hashes, res, strict=True):
            if isinstance(r, RpcError):
                if "prun" in r.message.lower():
                    raise Unsupported(f"getblock block {h} ({bh}): the node at {self.endpoint} no longer has it "
                                      f"(pruned: {r.message}); start at a height the node keeps (its prune height"
                                      f"{'' if self.prune_height is None else ' ' + str(self.prune_height)})",
                                      url=self.endpoint, method="getblock", block=h)
                self.client.raise_error("getblock", [bh, verbosity], r)

    def fetch(self, heights: list[int]) -> UtxoBatch:
        """The blocks at ``heights`` of the node's best chain, parsed, each checked against what was asked.
        The batch's blocks carry the node's heights; ``source_file`` is the endpoint (no credentials)."""
        by_height = self.hashes(heights)
        hashes = [by_height[h] for h in heights]
        parser = BlockParser(self.chain, check_pow=True)
        if self.block_format in ("auto", "raw"):
            res = self._getblocks(hashes, 0)
            errs = [r for r in res if isinstance(r, RpcError)]
            if errs and self.block_format == "auto" and all("prun" not in r.message.lower() for r in errs) and \
                    len(errs) == len(res):
                self.block_format = "json"   # the node or recording does not serve raw blocks
            else:
                self._check_errors(res, heights, hashes, 0)
                for h, bh, r in zip(heights, hashes, res, strict=True):
                    with self._answer("getblock", h, bh):
                        raw = m.check_raw_hex(r)
                        self._parse(parser, raw, h, bh, "getblock")
                        self.block_format = "raw"
                with self._answer("getblock", heights[0]):
                    return m.with_height(parser.flush(), heights)   # amounts checked in flush
        docs = self._getblocks(hashes, self._verbosity)
        self._check_errors(docs, heights, hashes, self._verbosity)
        self.prevouts = {}
        for h, bh, d in zip(heights, hashes, docs, strict=True):
            with self._answer("getblock", h, bh):
                self._parse(parser, m.raw_block_of(d), h, bh, "getblock")
        with self._answer("getblock", heights[0]):
            batch = parser.flush()   # amounts checked here
        for pos, (h, bh, d) in enumerate(zip(heights, hashes, docs, strict=True)):
            with self._answer("getblock", h, bh):
                m.check_against_json(_block_slice(batch, pos), d, h, bh)
                self.prevouts.update(m.prevouts_of(d))
        return m.with_height(batch, heights)

    def _parse(self, parser: BlockParser, raw: bytes, height: int, block_hash: str, method: str) -> None:
        got = sha256(sha256(raw[:80]).digest()).digest()[::-1].hex()
        if got != block_hash:
            raise InvalidInput(f"the block's header hashes to {got}, not the hash asked for ({block_hash})",
                               field="hash", value=got)
        try:
            parser.parse_block(raw, 0, len(raw), source_file=self.endpoint, source_offset=0, exact=True)
        except ParseError as e:
            raise InvalidInput(f"the block's bytes do not parse: {e.message}", field="result") from None


def _block_slice(batch: UtxoBatch, k: int) -> UtxoBatch:
    """Block ``k`` of a batch with its rows (the rows of each block are contiguous)."""
    ntx = batch.blocks["tx_count"].to_pylist()
    t0, t1 = sum(ntx[:k]), sum(ntx[:k + 1])
    n_out = batch.txs["n_out"].to_pylist()
    n_in = batch.txs["n_in"].to_pylist()
    o0, o1 = sum(n_out[:t0]), sum(n_out[:t1])
    i0, i1 = sum(n_in[:t0]), sum(n_in[:t1])
    return UtxoBatch(batch.blocks.slice(k, 1), batch.txs.slice(t0, t1 - t0), batch.outputs.slice(o0, o1 - o0),
                     batch.inputs.slice(i0, i1 - i0))


class EtlReplayTransport(httpx.BaseTransport):
    """Answer Bitcoin JSON-RPC requests from recordings in bitcoin-etl's naming:
    ``rpc_response_<method>[_<param>...].json``, each parameter as Python's ``str`` (``2``, ``True``,
    ``None``), each file holding the bare ``result``. The file's text is passed through as it is, so its
    amounts reach the client's Decimal parser untouched. A request without a recording gets error -32601
    (method not found) when nothing at all is recorded for its method, else -32000 naming the missing file."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise InvalidInput(f"no recording directory at {self.directory}", file=str(self.directory))
        self._names = {p.name for p in self.directory.iterdir()}
        self.served: list[str] = []

    @staticmethod
    def name(method: str, params: Sequence[Any]) -> str:
        """The recording's file name.

        >>> EtlReplayTransport.name("getblock", ["00ab", 2]), EtlReplayTransport.name("getblockcount", [])
        ('rpc_response_getblock_00ab_2.json', 'rpc_response_getblockcount.json')
        """
        if method == "getrawtransaction":   # bitcoin-etl names these by the txid alone
            params = params[:1]
        return "rpc_response_" + "_".join([method, *(str(p) for p in params)]) + ".json"

    def heights(self) -> set[int]:
        """The heights ``getblockhash`` is recorded for."""
        pre, out = "rpc_response_getblockhash_", set()
        for n in self._names:
            if n.startswith(pre) and n.endswith(".json") and n[len(pre):-5].isdigit():
                out.add(int(n[len(pre):-5]))
        return out

    def _answer(self, req: dict[str, Any]) -> str:
        method = str(req.get("method"))
        name = self.name(method, list(req.get("params") or []))
        rid = json.dumps(req.get("id"))
        if name in self._names:
            self.served.append(name)
            text = (self.directory / name).read_text(encoding="utf-8")
            return f'{{"result": {text}, "error": null, "id": {rid}}}'
        if not any(n.startswith(f"rpc_response_{method}_") or n == f"rpc_response_{method}.json" for n in self._names):
            err = {"code": _METHOD_MISSING, "message": f"Method not found ({method} is not recorded)"}
        else:
            err = {"code": -32000, "message": f"no recorded response {name}"}
        return json.dumps({"result": None, "error": err, "id": req.get("id")})

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        try:
            body = json.loads(request.read())
        except ValueError:
            return httpx.Response(500, json={"result": None, "error": {"code": -32700, "message": "Parse error"},
                                             "id": None})
        out = "[" + ",".join(self._answer(r) for r in body) + "]" if isinstance(body, list) else self._answer(body)
        return httpx.Response(200, content=out.encode(), headers={"content-type": "application/json"})


def open_btc_rpc_source(uri: str, chain: str, *, rpc_user: str | None = None, rpc_password: str | None = None,
                        rpc_cookie: str | Path | None = None, timeout: float = 30.0, retries: int = 5,
                        max_wait: float = 30.0, transport: httpx.BaseTransport | None = None,
                        block_format: str = "auto", blocks_per_batch: int = 50, workers: int = 4,
                        max_batch: int = 50, notify: Callable[[str], None] | None = None) -> BtcRpcSource:
    """A live node at ``uri`` (or whatever ``transport`` answers in its place)."""
    url, auth = split_credentials(uri, rpc_user, rpc_password, rpc_cookie)
    client = BitcoinRpcClient(url, auth=auth, timeout=timeout, retries=retries, max_wait=max_wait,
                              transport=transport, max_batch=max_batch, notify=notify)
    return BtcRpcSource(client, chain, block_format=block_format, blocks_per_batch=blocks_per_batch, workers=workers)


def open_btc_replay_source(uri: str, chain: str, *, transport: httpx.BaseTransport | None = None,
                           **options: Any) -> BtcRpcSource:
    """bitcoin-etl's recorded responses in the directory of ``replay:DIR``, served to the same client as a
    live node's."""
    if transport is None:
        transport = EtlReplayTransport(uri.split(":", 1)[1].removeprefix("//"))
    keep = {k: v for k, v in options.items() if k in ("timeout", "retries", "max_wait", "block_format",
                                                      "blocks_per_batch", "workers", "max_batch", "notify")}
    src = open_btc_rpc_source("http://replay.invalid/", chain, transport=transport, **keep)
    src.client.safe_url = src.endpoint = uri
    if isinstance(transport, EtlReplayTransport):
        src.recorded_heights = transport.heights()
    return src
