"""Records from an Esplora-compatible API, fetched on demand and stored like ingested blocks.

:class:`EsploraFetcher` is the one service that talks to the API. ``ingest esplora`` uses it for the
addresses and transactions given (and, with ``--hops``, their neighbourhood); with the ``esplora_url``
setting, ``show`` and ``trace`` hand it what they are about to read, and it fetches what the store lacks
before they answer. What is stored is never asked for again: a transaction stored (whichever way it came), an
address whose history was fetched to its end, a transaction whose outspends were fetched, a block header.

Each fetch step is one store transaction (:meth:`chainsleuth.store.fetched.FetchedStore.write`): the loose
batch of transactions with their blocks' headers, the provenance of every answer it rests on (URL, UTC time,
SHA-256 of the body), outspends and address histories. A bad answer raises before anything of its step is
written, so the store stays as it was after the previous step. All the steps of one fetcher are one ingest run
(``source_kind`` 'esplora', the API's URL as its endpoint), finished when the fetcher is closed.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from chainsleuth import __version__
from chainsleuth.config import Settings
from chainsleuth.core.chains import CHAINS, get_chain
from chainsleuth.core.models import IngestSummary
from chainsleuth.core.progress import Progress
from chainsleuth.errors import InvalidInput, SourceError
from chainsleuth.sources.esplora import (
    EsploraBlock,
    EsploraClient,
    Fetch,
    check_block,
    check_outspends,
    check_tx,
    check_txid_list,
    to_batch,
)
from chainsleuth.store import Store
from chainsleuth.store.runs import POW_UNCHECKED_NOTE

__all__ = ["EsploraFetcher"]

#: transactions per page of ``/address/:a/txs/chain/:last_seen_txid`` (the API's documented page size)
PAGE = 25


class EsploraFetcher:
    """Fetches from one Esplora API into the workspace's store (see the module docstring).

    Parameters
    ----------
    store : callable returning Store
        The workspace's store (opened writable).
    settings : Settings
        Timeout, retries and the longest wait before a retry.
    progress : Progress
        Where waits and notes go.
    url : str
        The API's base URL.
    chain : str, optional
        The Bitcoin chain the API serves; default: found from its genesis block (one request, made only when
        something is to be fetched).
    rate_limit, parallel, transport
        Requests per second, requests in flight, an httpx transport standing in for the network.
    """

    def __init__(self, store: Callable[[], Store], settings: Settings, progress: Progress, url: str, *,
                 chain: str | None = None, rate_limit: float | None = None, parallel: int = 8,
                 transport: Any = None) -> None:
        self._store = store
        self._progress = progress
        self.client = EsploraClient(url, timeout=settings.rpc_timeout, retries=settings.rpc_retries,
                                    max_wait=settings.rpc_max_wait, rate_limit=rate_limit, parallel=parallel,
                                    transport=transport, notify=progress.note)
        if chain is not None and get_chain(chain).btc_network is None:
            raise InvalidInput(f"chain {chain!r} is not a Bitcoin chain", field="--chain", value=chain)
        self._chain = chain
        self._chain_checked = False
        self._blocks: dict[str, EsploraBlock] = {}
        self._txids: dict[str, list[str]] = {}
        self.run_id: int | None = None
        self._t0 = time.perf_counter()
        self.counts = {"blocks_new": 0, "txs_new": 0, "outputs_new": 0, "inputs_new": 0, "inputs_resolved": 0}
        self._heights: list[int] = []
        self._sha = hashlib.sha256()
        self.notes: list[str] = []
        self._pending_fetches: list[Fetch] = []   # answers of the step under way (a failed step's are dropped)
        self._genesis: Fetch | None = None

    @property
    def endpoint(self) -> str:
        return self.client.safe_url

    @property
    def requests(self) -> int:
        """HTTP requests sent so far (retries included)."""
        return self.client.requests_sent

    # -- chain -------------------------------------------------------------------------------------------
    @property
    def chain(self) -> str:
        """The chain the API serves (asked once, from its genesis block, when not given)."""
        if self._chain is None or not self._chain_checked:
            h, f = self.client.get("/block-height/0", "genesis", text=True)
            self._genesis = f     # the chain's identity rests on it: its provenance is stored with the next step
            found = [c.name for c in CHAINS.values() if c.btc_network is not None and c.btc_network.genesis_hash == h]
            if not found:
                raise SourceError(f"{self.client.url_of('/block-height/0')} names genesis block {h!r}, which is "
                                  "not the genesis of a Bitcoin network chainsleuth knows", url=self.endpoint,
                                  value=h)
            if self._chain is not None and self._chain not in found:
                raise InvalidInput(f"the API at {self.endpoint} serves {found[0]}, not {self._chain} (its genesis "
                                   f"block is {h})", field="--chain", value=self._chain, url=self.endpoint)
            self._chain = self._chain or found[0]
            self._chain_checked = True
        return self._chain

    def known_chain(self) -> str | None:
        """The chain, without asking the API: the one given, else the store's one Bitcoin chain (checked
        against the API's genesis block before the first request), else None."""
        if self._chain is None:
            chains = [c for c in self._store().utxo.chains() if get_chain(c).btc_network is not None]
            if len(chains) == 1:
                self._chain = chains[0]
        return self._chain

    # -- public steps -----------------------------------------------------------------------------------
    def ensure_txs(self, txids: Iterable[str], chain: str | None = None) -> int:
        """Fetch and store those of ``txids`` the store lacks; the number stored."""
        want = list(dict.fromkeys(t.lower() for t in txids))
        c = chain or self.known_chain()
        if c is not None:
            want = [t for t in want if t not in self._store().fetched.stored_txids(c, [t])] if len(want) < 2 else \
                sorted(set(want) - self._store().fetched.stored_txids(c, want))
        if not want:
            return 0
        self._pending_fetches = []
        docs = self.client.get_many(want, lambda t: self._get_tx(t))
        return self._store_txs(docs, [])

    def ensure_address(self, address: str, chain: str | None = None) -> dict[str, Any]:
        """Fetch the history of ``address`` unless it was fetched to its end; its history record."""
        c = chain or self.known_chain()
        if c is not None:
            h = self._store().fetched.address_history(c, address)
            if h is not None and h["complete"]:
                return h
        self._pending_fetches = []
        path = f"/address/{address}/txs"
        docs: list[tuple[dict[str, Any], str]] = []
        fetches: list[Fetch] = []
        last: str | None = None
        complete = False
        while True:
            page_path = path if last is None else f"{path}/chain/{last}"
            body, f = self.client.get(page_path, "address_txs")
            fetches.append(f)
            if not isinstance(body, list):
                raise SourceError(f"{f.url} sent a bad answer: field (body) = {type(body).__name__} is not a list "
                                  "of transactions", url=f.url, field="(body)")
            page = [check_tx(d, f.url) for d in body]
            confirmed = [d for d in page if d["status"]["confirmed"]]
            docs += [(d, f.url) for d in confirmed]
            if len(confirmed) < PAGE:
                complete = True
                break
            last = confirmed[-1]["txid"]
        rec = {"address": address, "complete": complete, "txs": len(docs), "last_seen": last,
               "fetched_at": fetches[-1].fetched_at, "url": self.client.url_of(path)}
        self._store_txs(docs, fetches, addresses=[rec])
        return {"complete": complete, "txs_fetched": len(docs), "last_seen_txid": last,
                "fetched_at": rec["fetched_at"], "url": rec["url"]}

    def ensure_outspends(self, txids: Iterable[str]) -> int:
        """Who spends each output of ``txids`` (those whose outspends were not fetched yet), and the spending
        transactions the store lacks; the number of transactions stored."""
        st = self._store().fetched
        want = [t for t in dict.fromkeys(t.lower() for t in txids)]
        c = self.known_chain()
        if c is not None:
            want = [t for t in want if t not in st.outspends_known(c, want)]
        if not want:
            return 0
        c = self.chain
        counts = {t: st.outputs_count(c, t) for t in want}
        missing = [t for t, n in counts.items() if n is None]
        if missing:
            self.ensure_txs(missing, c)
            counts.update({t: st.outputs_count(c, t) for t in missing})

        def one(t: str) -> tuple[str, list[tuple[bool, str | None, int | None]], Fetch]:
            path = f"/tx/{t}/outspends"
            body, f = self.client.get(path, "outspends")
            n = counts[t]
            assert n is not None
            return t, check_outspends(body, f.url, n), f

        self._pending_fetches = []
        got = self.client.get_many(want, one)
        rows = [(t, n, s, sp, vin, f.fetched_at) for t, outs, f in got for n, (s, sp, vin) in enumerate(outs)]
        spenders = list(dict.fromkeys(sp for _, _, s, sp, _, _ in rows if s and sp is not None))
        spenders = sorted(set(spenders) - st.stored_txids(c, spenders))
        docs = self.client.get_many(spenders, lambda t: self._get_tx(t)) if spenders else []
        return self._store_txs(docs, [f for _, _, f in got], outspends=rows)

    def ensure_funding(self, txids: Iterable[str]) -> int:
        """The transactions whose outputs the inputs of ``txids`` spend, those the store lacks."""
        c = self.known_chain()
        if c is None:
            return 0          # nothing stored: nothing funds it in the data
        return self.ensure_txs(self._store().fetched.funding(c, list(txids)), c)

    def expand(self, txids: Sequence[str], hops: int) -> int:
        """``hops`` rounds around ``txids``: each round fetches the funding transactions of the last round's
        inputs (backward) and the spending transactions of its outputs (forward); transactions stored."""
        c = self.chain
        st = self._store().fetched
        frontier = list(dict.fromkeys(txids))
        seen = set(frontier)
        new = 0
        for _ in range(hops):
            if not frontier:
                break
            back = st.funding(c, frontier)
            new += self.ensure_txs(back, c)
            new += self.ensure_outspends(frontier)
            fwd = [str(r[0]) for r in self._store().db.all(
                "SELECT DISTINCT spending_txid FROM source_outspends WHERE chain = ? AND spent AND txid IN "
                "(SELECT unnest(?))", [c, frontier])]
            frontier = [t for t in dict.fromkeys([*back, *fwd]) if t not in seen]
            seen.update(frontier)
        return new

    # -- fetching ---------------------------------------------------------------------------------------
    def _get_tx(self, txid: str) -> tuple[dict[str, Any], str]:
        body, f = self.client.get(f"/tx/{txid}", "tx")
        self._pending_fetches.append(f)
        return check_tx(body, f.url, txid), f.url

    def _block(self, h: str) -> tuple[EsploraBlock, list[Fetch]]:
        fetches: list[Fetch] = []
        b = self._blocks.get(h)
        if b is None:
            body, f = self.client.get(f"/block/{h}", "block")
            fetches.append(f)
            b = self._blocks[h] = check_block(body, f.url, h)
        if h not in self._txids:
            body, f = self.client.get(f"/block/{h}/txids", "block_txids")
            fetches.append(f)
            self._txids[h] = check_txid_list(body, f.url, b)
        return b, fetches

    def _store_txs(self, docs: Sequence[tuple[dict[str, Any], str]], fetches: list[Fetch], *,
                   outspends: Sequence[tuple[str, int, bool, str | None, int | None, int]] = (),
                   addresses: Sequence[dict[str, Any]] = ()) -> int:
        """Check, map and store fetched transactions with their blocks and the provenance; stored count."""
        c = self.chain
        fetches = [*([self._genesis] if self._genesis else []), *fetches, *self._pending_fetches]
        self._pending_fetches = []
        uniq: dict[str, tuple[dict[str, Any], str]] = {}
        unconfirmed = 0
        for d, url in docs:
            if not d["status"]["confirmed"]:
                unconfirmed += 1
                continue
            uniq.setdefault(d["txid"], (d, url))
        if unconfirmed:
            self._note(f"{unconfirmed} unconfirmed transaction(s) from {self.endpoint} left out: only confirmed "
                       "transactions are stored")
        hashes = list(dict.fromkeys(d["status"]["block_hash"] for d, _ in uniq.values()))
        got = self.client.get_many(hashes, self._block)
        blocks: dict[str, EsploraBlock] = {}
        for h, (b, fs) in zip(hashes, got, strict=True):
            blocks[h] = b
            fetches += fs
        rows = []
        for d, url in uniq.values():
            h = d["status"]["block_hash"]
            b = blocks[h]
            if d["status"]["block_height"] != b.height:
                raise SourceError(f"{url} sent a bad answer: field status.block_height = {d['status']['block_height']} "
                                  f"but block {h} is at height {b.height}", url=url, field="status.block_height",
                                  value=d["status"]["block_height"])
            try:
                index = self._txids[h].index(d["txid"])
            except ValueError:
                raise SourceError(f"{url} sent a bad answer: transaction {d['txid']} is not among the txids of "
                                  f"its block {h}", url=url, field="status.block_hash", value=h) from None
            rows.append((d, index, url))
        batch = to_batch(c, blocks, rows, source=self.endpoint) if rows else None
        store = self._store()
        run_id = self._run()
        res = store.fetched.write(store.utxo, c, run_id, batch, fetches, outspends=outspends, addresses=addresses)
        self._genesis = None
        for f in fetches:
            self._sha.update(f.sha256.encode())
        if res is not None:
            for k in self.counts:
                self.counts[k] += getattr(res, k)
            self._heights += [h for h in (res.first_height, res.last_height) if h is not None]
        return 0 if res is None else res.txs_new

    def _note(self, msg: str) -> None:
        if msg not in self.notes:
            self.notes.append(msg)
            self._progress.note(msg)

    # -- the run ----------------------------------------------------------------------------------------
    def _run(self) -> int:
        if self.run_id is None:
            self.run_id = self._store().runs.start(chain=self.chain, source_kind="esplora", endpoint=self.endpoint,
                                                   software_version=__version__)
        return self.run_id

    def summary(self) -> IngestSummary:
        c = self.counts
        return IngestSummary(chain=self._chain or "btc", run_id=self.run_id or 0, blocks_seen=len(self._blocks),
                             blocks_new=c["blocks_new"], txs_new=c["txs_new"], outputs_new=c["outputs_new"],
                             inputs_new=c["inputs_new"], inputs_resolved=c["inputs_resolved"], skipped=list(self.notes),
                             first_height=min(self._heights) if self._heights else None,
                             last_height=max(self._heights) if self._heights else None,
                             seconds=round(time.perf_counter() - self._t0, 3), proof_of_work="not checked")

    def close(self) -> None:
        """Finish the run (when anything was written) and close the HTTP client."""
        try:
            if self.run_id is not None:
                self._store().runs.finish(
                    self.run_id, first_height=min(self._heights) if self._heights else None,
                    last_height=max(self._heights) if self._heights else None, blocks=self.counts["blocks_new"],
                    txs=self.counts["txs_new"], skipped=0, content_hash=self._sha.hexdigest(),
                    notes="; ".join([f"{self.requests} requests to {self.endpoint}",
                                     "records fetched one at a time: blocks stored partial until ingested whole",
                                     POW_UNCHECKED_NOTE + ": the API's headers are checked against their hashes, "
                                     "merkle roots and txid lists only",
                                     *self.notes]))
        finally:
            self.client.close()



def fetch_refs(store: Callable[[], Store], settings: Settings, progress: Progress, url: str, refs: Sequence[str],
               *, hops: int = 0, chain: str | None = None, rate_limit: float | None = None, parallel: int = 8,
               transport: Any = None) -> IngestSummary:
    """The ``ingest esplora`` job: addresses and txids, then ``hops`` rounds around them."""
    from chainsleuth.workspace.tracing.sources import tx_reference

    if hops < 0:
        raise InvalidInput("--hops must be 0 or more", field="--hops", value=hops)
    if rate_limit is not None and rate_limit <= 0:
        raise InvalidInput("--rate-limit must be above 0 requests per second", field="--rate-limit",
                           value=rate_limit)
    if parallel < 1:
        raise InvalidInput("--parallel must be 1 or more", field="--parallel", value=parallel)
    if not refs:
        raise InvalidInput("give at least one address or transaction id", field="ADDRESS|TXID")
    f = EsploraFetcher(store, settings, progress, url, chain=chain, rate_limit=rate_limit, parallel=parallel,
                       transport=transport)
    try:
        progress.start(f"fetch from {f.endpoint}", total=None, unit="refs")
        txids: list[str] = []
        for r in refs:
            ref = tx_reference(r)
            if ref is not None:
                txids.append(ref[0])
            else:
                f.ensure_address(r.strip())
                c = f.known_chain()
                txids += store().fetched.address_txids(c, r.strip()) if c is not None else []
            progress.advance(1)
        f.ensure_txs(txids, f.known_chain())
        if hops:
            f.expand(txids, hops)
        progress.finish()
        return f.summary()
    finally:
        f.close()
