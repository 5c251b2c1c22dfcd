"""The EVM JSON-RPC source: blocks with full transactions, receipts, traces and token metadata from any
Ethereum-compatible endpoint, turned into :class:`~chainsleuth.core.account.AccountBatch` es.

Per batch of blocks it sends (each as one or a few batched HTTP requests): ``eth_getBlockByNumber(n, true)``,
``eth_getBlockReceipts(n)`` (falling back to ``eth_getTransactionReceipt`` per transaction on nodes without
it), ``debug_traceBlockByNumber(n, callTracer)`` or ``trace_block(n)``, and ``eth_call`` for the
``name()/symbol()/decimals()`` of tokens seen for the first time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Protocol

import httpx

from chainsleuth.core.account import AccountBatch
from chainsleuth.errors import InvalidInput, NotFound, SourceError, Unsupported
from chainsleuth.sources.evm import mappers as m
from chainsleuth.sources.evm.batch import build_batch, native_transfer
from chainsleuth.sources.evm.rpc import JsonRpcClient, RpcErrorResult

__all__ = ["TRACE_MODES", "AccountSource", "EvmRpcSource", "open_replay_source", "open_rpc_source"]

TRACE_MODES = ("auto", "parity", "geth", "none")
_SEL_NAME, _SEL_SYMBOL, _SEL_DECIMALS = "0x06fdde03", "0x95d89b41", "0x313ce567"


class AccountSource(Protocol):
    """What ingest needs from an account-chain source."""

    chain: str
    endpoint: str
    kind: str

    def iter_blocks(self, start: int, end: int) -> Iterator[AccountBatch]:
        """Batches covering blocks ``start..end`` (inclusive), in order."""
        ...


class EvmRpcSource:
    """Blocks, receipts, traces and token metadata from one JSON-RPC endpoint.

    ``traces``: 'geth' (``debug_traceBlockByNumber`` with ``callTracer``), 'parity' (``trace_block``), 'auto'
    (Parity's when the node has it, else geth's) or 'none' (no internal transfers; blocks are marked
    ``traces='none'``).
    """

    kind = "evm-rpc"

    def __init__(self, client: JsonRpcClient, chain: str, *, traces: str = "auto", blocks_per_batch: int = 20,
                 known_tokens: set[str] | None = None, workers: int = 4) -> None:
        if traces not in TRACE_MODES:
            raise InvalidInput(f"unknown trace mode {traces!r}; choose one of: {', '.join(TRACE_MODES)}",
                               field="--traces", value=traces)
        self.client = client
        self.chain = chain
        self.endpoint = client.safe_url
        self.traces = traces
        self.blocks_per_batch = max(1, blocks_per_batch)
        self.known_tokens: set[str] = set(known_tokens or ())
        self._block_receipts_ok: bool | None = None   # does the node have eth_getBlockReceipts?
        self.workers = max(1, workers)
        self._executors: dict[str, ThreadPoolExecutor] = {}
        self._chain_id: int | None = None   # the chain id the node served first; checked every batch

    # -- node facts --------------------------------------------------------------------------------
    @contextmanager
    def _answer(self, method: str, block: int | None) -> Iterator[None]:
        """Turn a malformed or mismatched answer (InvalidInput from the mappers) into a SourceError naming
        the method, the block and the field: ``eth_getBlockReceipts block 24: field 'gasUsed' is '0xZZZ',
        not a hex quantity``."""
        try:
            yield
        except InvalidInput as e:
            where = f"{method} block {block}" if block is not None else method
            raise SourceError(f"{where}: {e.message} (the node at {self.endpoint})", url=self.endpoint,
                              method=method, block=block, field=e.details.get("field"),
                              value=e.details.get("value")) from None

    def _quantity(self, method: str, value: Any, name: str = "result") -> int | None:
        with self._answer(method, None):
            return m.quantity({name: value}, name, required=False)

    def chain_id(self) -> int | None:
        """The endpoint's chain id (EIP-695); None from old nodes without ``eth_chainId``. The first answer
        is kept: every later batch (:meth:`fetch`) asks again and must get the same."""
        try:
            v = self._quantity("eth_chainId", self.client.call("eth_chainId", []))
        except Unsupported:
            return None
        if v is None:
            raise SourceError(f"the node at {self.endpoint} gave no chain id", url=self.endpoint, method="eth_chainId")
        if self._chain_id is None:
            self._chain_id = v
        return v

    def _check_chain_id(self, first: int) -> None:
        """The node must still serve the chain id it served when the ingest began."""
        want = self._chain_id
        if want is None:
            return
        got = self._quantity("eth_chainId", self.client.call("eth_chainId", []))
        if got != want:
            raise SourceError(f"eth_chainId before block {first}: the node at {self.endpoint} now serves chain id "
                              f"{got}, not {want} as when this ingest began; nothing of this batch was written",
                              url=self.endpoint, method="eth_chainId", block=first, field="chainId", value=got)

    def head(self) -> int:
        try:
            v = self._quantity("eth_blockNumber", self.client.call("eth_blockNumber", []))
        except Unsupported:
            latest = self.client.call("eth_getBlockByNumber", ["latest", False])
            with self._answer("eth_getBlockByNumber", None):
                v = m.quantity(m.an_object(latest, "the answer"), "number")
        if v is None:
            raise SourceError(f"the node at {self.endpoint} gave no block number", url=self.endpoint,
                              method="eth_blockNumber")
        return v

    def headers(self, numbers: Sequence[int], *, allow_missing: bool = False) -> dict[int, tuple[str, str]]:
        """height -> (hash, parent hash) of the node's current chain (for reorg checks); heights above the
        head are left out when ``allow_missing``, else they raise NotFound. Each answer must be the header
        asked for (number, 32-byte hashes)."""
        res = self.client.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers])
        out = {}
        for n, r in zip(numbers, res, strict=True):
            if r is None:
                if allow_missing:
                    continue
                raise NotFound(f"block {n} is beyond the head of the node at {self.endpoint}",
                               url=self.endpoint, method="eth_getBlockByNumber", block=n)
            with self._answer("eth_getBlockByNumber", n):
                out[n] = m.check_header(r, n)
        return out

    def check_traces(self, number: int) -> None:
        """Fail early, naming the method, when the node lacks the chosen trace method. ``auto`` picks
        Parity's ``trace_block`` when the node has it (cheap: no re-execution on Erigon/reth/anvil), else
        geth's ``debug_traceBlockByNumber``."""
        if self.traces == "none":
            return
        modes = ["parity", "geth"] if self.traces == "auto" else [self.traces]
        last: Unsupported | None = None
        for mode in modes:
            self.traces = mode
            try:
                self._trace_calls([number])
                return
            except Unsupported as e:
                last = e
        assert last is not None
        tried = " nor ".join("trace_block" if mm == "parity" else "debug_traceBlockByNumber" for mm in modes)
        self.traces = modes[0] if len(modes) == 1 else "auto"
        hint = ("Pass --traces parity for Erigon/Nethermind/reth/anvil-style 'trace_block', --traces geth for "
                "'debug_traceBlockByNumber', or --traces none to ingest without internal transfers (the data is "
                "then marked as lacking them)")
        if len(modes) > 1:
            hint += f"; the node has neither {tried}"
        raise Unsupported(f"{last.message}. {hint}", **last.details) from None

    # -- blocks ------------------------------------------------------------------------------------
    def iter_blocks(self, start: int, end: int) -> Iterator[AccountBatch]:
        n = start
        while n <= end:
            hi = min(end, n + self.blocks_per_batch - 1)
            yield self.fetch(list(range(n, hi + 1)))
            n = hi + 1

    def _trace_calls(self, numbers: Sequence[int]) -> list[Any]:
        if self.traces == "geth":
            calls = [("debug_traceBlockByNumber", [hex(n), {"tracer": "callTracer"}]) for n in numbers]
        else:
            calls = [("trace_block", [hex(n)]) for n in numbers]
        return self.client.batch(calls)

    def _block_receipts(self, numbers: Sequence[int]) -> list[Any] | None:
        """``eth_getBlockReceipts`` for each block; None when the node lacks the method."""
        res = self.client.batch([("eth_getBlockReceipts", [hex(n)]) for n in numbers], errors="return")
        missing = [r for r in res if isinstance(r, RpcErrorResult)]
        if not missing:
            self._block_receipts_ok = True
            return res
        if not self._block_receipts_ok and all(r.method_missing for r in missing):
            self._block_receipts_ok = False
            return None
        raise SourceError(f"the node at {self.endpoint} answered eth_getBlockReceipts with error "
                          f"{missing[0].code}: {missing[0].message}", url=self.endpoint, method="eth_getBlockReceipts")

    def _tx_receipts(self, hashes: Sequence[str]) -> list[Any]:
        return list(self.client.batch([("eth_getTransactionReceipt", [h]) for h in hashes]))

    def _parallel(self, fn: Any, items: Sequence[Any]) -> list[Any]:
        """``fn`` over chunks of ``items`` on the worker threads, results concatenated in order."""
        if not items:
            return []
        size = max(1, -(-len(items) // self.workers))
        chunks = [items[i:i + size] for i in range(0, len(items), size)]
        if len(chunks) == 1:
            return list(fn(chunks[0]))
        out: list[Any] = []
        for part in self._pool().map(fn, chunks):
            if part is None:
                return None  # type: ignore[return-value]
            out.extend(part)
        return out

    def _pool(self, outer: bool = False) -> ThreadPoolExecutor:
        """Worker threads: ``outer`` (3) runs the blocks/receipts/traces requests side by side, the inner
        pool (``workers``) their chunks; two pools so that no task waits on a task queued behind it."""
        key = "outer" if outer else "inner"
        if key not in self._executors:
            self._executors[key] = ThreadPoolExecutor(max_workers=3 if outer else self.workers,
                                                      thread_name_prefix=f"evm-rpc-{key}")
        return self._executors[key]

    def close(self) -> None:
        for ex in self._executors.values():
            ex.shutdown(wait=True)
        self._executors.clear()
        self.client.close()

    def fetch(self, numbers: list[int]) -> AccountBatch:
        """One batch: the blocks ``numbers`` with receipts, traces and new tokens' metadata.

        Every answer is checked against what was asked before anything is built (a SourceError naming
        method, block and field otherwise): each block is the one asked for, its transactions say they are
        in it, its receipts are exactly those of its transactions in order, its traces are its own, every
        value is a well-formed quantity in its field's range, and the node still serves the chain id it
        served at the start. Parent links (within the batch and to the stored blocks) are checked by the
        ingest job, which tells a reorg from an inconsistent node."""
        if self.traces == "auto":
            self.check_traces(numbers[0])

        def get_blocks(chunk: Sequence[int]) -> list[Any]:
            return list(self.client.batch([("eth_getBlockByNumber", [hex(n), True]) for n in chunk]))

        # blocks, receipts and traces are independent requests: send them side by side
        outer = self._pool(outer=True)
        jobs = {"blocks": outer.submit(self._parallel, get_blocks, numbers)}
        if self._block_receipts_ok is not False:
            jobs["receipts"] = outer.submit(self._parallel, self._block_receipts, numbers)
        if self.traces != "none":
            jobs["traces"] = outer.submit(self._parallel, self._trace_calls, numbers)
        self._check_chain_id(numbers[0])
        raw_blocks = jobs["blocks"].result()
        mapped: list[tuple[dict[str, Any], list[dict[str, Any]]]] = []
        for n, b in zip(numbers, raw_blocks, strict=True):
            if b is None:
                raise SourceError(f"eth_getBlockByNumber block {n}: the node at {self.endpoint} answered null (no "
                                  "such block), though it is at or below the head it reported: it went back or "
                                  "serves another chain", url=self.endpoint, method="eth_getBlockByNumber", block=n)
            with self._answer("eth_getBlockByNumber", n):
                mapped.append(m.map_block(b, self.chain, self.traces, n))
        by_block = jobs["receipts"].result() if "receipts" in jobs else None
        if by_block is not None:
            method = "eth_getBlockReceipts"
        else:
            method = "eth_getTransactionReceipt"
            flat_rcs = iter(self._parallel(self._tx_receipts, [t["hash"] for _, btxs in mapped for t in btxs]))
            by_block = [[next(flat_rcs) for _ in btxs] for _, btxs in mapped]
        receipts: list[dict[str, dict[str, Any]]] = []
        for (block, btxs), rs in zip(mapped, by_block, strict=True):
            with self._answer(method, block["number"]):
                receipts.append(self._match_receipts(btxs, rs, method))
        traces: list[Any] = []
        if "traces" in jobs:
            try:
                traces = jobs["traces"].result()
            except Unsupported:
                self.check_traces(numbers[0])
                raise
        trace_method = "debug_traceBlockByNumber" if self.traces == "geth" else "trace_block"
        blocks, txs, transfers = [], [], []
        for i, ((block, btxs), rcs) in enumerate(zip(mapped, receipts, strict=True)):
            flat: list[dict[str, Any]] = []
            with self._answer(trace_method, block["number"]):
                if self.traces == "geth":
                    flat = m.flatten_geth_traces(traces[i], [t["hash"] for t in btxs])
                elif self.traces == "parity":
                    flat = m.flatten_parity_traces(traces[i], block["number"], block["hash"],
                                                   [t["hash"] for t in btxs])
            roots = {r["transaction_index"]: r for r in flat if not r["trace_address"] and r["trace_type"] != "reward"}
            for t in btxs:
                if t["status"] is None and t["tx_index"] in roots:   # pre-Byzantium: the root call tells
                    t["status"] = roots[t["tx_index"]]["status"]
            blocks.append(block)
            txs.extend(btxs)
            with self._answer("eth_getBlockByNumber", block["number"]):
                transfers.extend(self.block_transfers(raw_blocks[i], block, btxs, rcs, flat))
        tokens = self._new_tokens(transfers)
        return build_batch(blocks, txs, transfers, tokens)

    @staticmethod
    def _match_receipts(btxs: list[dict[str, Any]], rs: Any, method: str) -> dict[str, dict[str, Any]]:
        """tx hash -> receipt: exactly one receipt per transaction of the block, in its order, checked and
        mapped into the transaction rows (InvalidInput naming the field otherwise)."""
        if method == "eth_getBlockReceipts":
            if not isinstance(rs, list):
                raise InvalidInput(f"the answer is {'null (no receipts)' if rs is None else type(rs).__name__}, "
                                   "not a list of receipts", value=str(rs)[:80])
            if len(rs) != len(btxs):
                raise InvalidInput(f"the answer has {len(rs)} receipts for the block's {len(btxs)} transactions",
                                   value=len(rs))
        out: dict[str, dict[str, Any]] = {}
        log_index = 0   # logs are numbered through the block
        for t, rc in zip(btxs, rs, strict=True):
            try:
                if rc is None:
                    raise InvalidInput("the answer is null (no receipt)")
                m.check_receipt(t, rc)
                m.map_receipt(t, rc, ints=False)
                for k, log in enumerate(rc.get("logs") or []):
                    if log.get("logIndex") is not None and m.hex_int(log["logIndex"]) != log_index:
                        raise m.bad_field("logIndex", log["logIndex"], f"not {log_index} (log {k}: logs are "
                                          "numbered through the block)")
                    log_index += 1
            except InvalidInput as e:
                raise InvalidInput(f"receipt of transaction {t['tx_index']} ({t['hash']}): {e.message}",
                                   **e.details) from None
            out[t["hash"]] = rc
        return out

    def block_transfers(self, raw: dict[str, Any], block: dict[str, Any], btxs: list[dict[str, Any]],
                        receipts: dict[str, dict[str, Any]], flat: list[dict[str, Any]]) -> list[dict[str, Any]]:
        nxt: dict[Any, int] = {}
        out: list[dict[str, Any]] = []
        by_index = {t["tx_index"]: t for t in btxs}
        for t in btxs:
            nt = native_transfer(t)
            nxt[t["tx_index"]] = 1
            if nt is not None:
                out.append(nt)
        out.extend(m.trace_transfers(flat, by_index, self.chain, block["hash"], block["number"], nxt))
        for t in btxs:
            rc = receipts[t["hash"]]
            if t["status"] != 0:
                tt = m.token_transfers(rc.get("logs") or [], t, nxt[t["tx_index"]])
                nxt[t["tx_index"]] += len(tt)
                out.extend(tt)
            out.extend(m.fee_transfers(t, block["miner"], block["base_fee_per_gas"], nxt[t["tx_index"]]))
        out.extend(m.withdrawal_transfers(raw, self.chain, nxt.get(None, 0), ints=False))
        return out

    def _new_tokens(self, transfers: list[dict[str, Any]]) -> list[dict[str, Any]]:
        new: dict[str, str] = {}
        for t in transfers:
            if t["kind"] in ("erc20", "erc721", "erc1155") and t["asset"] not in self.known_tokens:
                new.setdefault(t["asset"], t["kind"])
        if not new:
            return []
        calls = [("eth_call", [{"to": a, "data": sel}, "latest"]) for a in new for sel in (_SEL_NAME, _SEL_SYMBOL,
                                                                                            _SEL_DECIMALS)]
        res = self.client.batch(calls, errors="return")
        out = []
        for k, (a, std) in enumerate(new.items()):
            name, symbol, dec = (None if isinstance(r, RpcErrorResult) else r for r in res[3 * k:3 * k + 3])
            out.append({"chain": self.chain, "address": a, "standard": std, "name": m.decode_abi_string(name),
                        "symbol": m.decode_abi_string(symbol), "decimals": m.decode_uint(dec, max_value=255)})
            self.known_tokens.add(a)
        return out


def open_rpc_source(uri: str, chain: str, *, traces: str = "auto", timeout: float = 30.0, retries: int = 5,
                    transport: httpx.BaseTransport | None = None, max_batch: int = 100,
                    rate_limit: float | None = None, blocks_per_batch: int = 20,
                    known_tokens: set[str] | None = None, workers: int = 4, max_wait: float = 30.0,
                    notify: Callable[[str], None] | None = None) -> EvmRpcSource:
    """A live JSON-RPC node at ``uri`` (or whatever ``transport`` answers in its place). ``max_wait`` caps
    a wait before a retry; ``notify`` is told of each wait."""
    client = JsonRpcClient(uri, timeout=timeout, retries=retries, transport=transport, max_batch=max_batch,
                           rate_limit=rate_limit, max_wait=max_wait, notify=notify)
    return EvmRpcSource(client, chain, traces=traces, blocks_per_batch=blocks_per_batch, known_tokens=known_tokens,
                        workers=workers)


def open_replay_source(uri: str, chain: str, *, traces: str = "auto", timeout: float = 30.0, retries: int = 5,
                       transport: httpx.BaseTransport | None = None, max_batch: int = 100,
                       rate_limit: float | None = None, blocks_per_batch: int = 20,
                       known_tokens: set[str] | None = None, workers: int = 4, max_wait: float = 30.0,
                       notify: Callable[[str], None] | None = None) -> EvmRpcSource:
    """Recorded responses in the directory of ``replay:DIR``, served to the same client as a live node's."""
    from chainsleuth.sources.replay import ReplayTransport

    if transport is None:
        transport = ReplayTransport(uri.split(":", 1)[1].removeprefix("//"))
    client = JsonRpcClient("http://replay.invalid/", timeout=timeout, retries=retries, transport=transport,
                           max_batch=max_batch, rate_limit=rate_limit, max_wait=max_wait, notify=notify)
    client.safe_url = uri
    return EvmRpcSource(client, chain, traces=traces, blocks_per_batch=blocks_per_batch, known_tokens=known_tokens,
                        workers=workers)
