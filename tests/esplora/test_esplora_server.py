"""Against a local Esplora-compatible server (127.0.0.1) serving a generated world: rate limits, timeouts and
garbage give clear errors and leave the store consistent; records fetched one at a time and the blocks
ingested whole later are one set of records; show answers on demand and says where it rests on partial data."""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import pytest

from chainsleuth.errors import SourceError
from chainsleuth.workspace import Workspace


def _counts(ws: Workspace) -> tuple[int, ...]:
    q = ("SELECT count(*) FROM blocks", "SELECT count(*) FROM txs", "SELECT count(*) FROM outputs",
         "SELECT count(*) FROM inputs", "SELECT count(*) FROM addresses", "SELECT count(*) FROM source_fetches",
         "SELECT count(*) FROM source_outspends", "SELECT count(*) FROM address_history")
    return tuple(int(ws.store.db.one(s)[0]) for s in q)


def _tx_of(world: Any, hop: int = 0) -> str:
    return world.starts[0].split(":")[0]


def test_rate_limited_answers_are_waited_for_within_the_cap(tmp_path: Path, world: Any, server: Any,
                                                             esplora_ws: Any) -> None:
    server.refuse_first = 3
    server.retry_after = "3600"          # an hour: the client waits rpc_max_wait instead
    with esplora_ws(tmp_path / "ws", server.url, rpc_max_wait=0.05, rpc_retries=5) as ws:
        t0 = time.perf_counter()
        tx = ws.queries.show_tx(_tx_of(world))
        assert time.perf_counter() - t0 < 5
        assert tx.txid == _tx_of(world) and server.refused == 3
        assert any("asked to wait 3600 s; waiting 0.05 s" in n for n in ws.progress.notes)   # type: ignore[attr-defined]


def test_rate_limit_that_never_lifts_fails_clearly(tmp_path: Path, world: Any, server: Any, esplora_ws: Any) -> None:
    server.refuse_first = 1000
    with esplora_ws(tmp_path / "ws", server.url, rpc_retries=2) as ws:
        with pytest.raises(SourceError, match=r"http://127\.0\.0\.1:\d+/tx/[0-9a-f]{64} answered HTTP 429 \(too many "
                                              r"requests.*lower --rate-limit\); gave up after 3 attempts"):
            ws.queries.show_tx(_tx_of(world))
        assert _counts(ws)[:2] == (0, 0)


def test_client_rate_limit_spaces_requests(world: Any, server: Any) -> None:
    from chainsleuth.sources.esplora import EsploraClient

    txids = list(world.esplora.txs)[:12]
    with EsploraClient(server.url, rate_limit=20, parallel=6) as c:
        t0 = time.perf_counter()
        c.get_many(txids, lambda t: c.get(f"/tx/{t}", "tx"))
        took = time.perf_counter() - t0
    assert c.requests_sent == 12 and took >= 11 / 20 * 0.95


def test_timeouts_give_a_clear_error_and_store_nothing(tmp_path: Path, world: Any, server: Any,
                                                       esplora_ws: Any) -> None:
    server.stall = lambda path: "/txids" in path
    server.stall_seconds = 1.0
    with esplora_ws(tmp_path / "ws", server.url, rpc_timeout=0.2, rpc_retries=1) as ws:
        with pytest.raises(SourceError, match=r"/block/[0-9a-f]{64}/txids timed out .*gave up after 2 attempts"):
            ws.queries.show_tx(_tx_of(world))
        assert _counts(ws) == (0, 0, 0, 0, 0, 0, 0, 0)
    server.stall = None
    with esplora_ws(tmp_path / "ws", server.url) as ws:     # the next run stores it
        assert ws.queries.show_tx(_tx_of(world)).block_height is not None


def _set(path: list[Any], value: Any) -> Any:
    def f(doc: Any) -> Any:
        d = copy.deepcopy(doc)
        x = d
        for k in path[:-1]:
            x = x[k]
        x[path[-1]] = value
        return d
    return f


GARBAGE = [
    ("/tx/", _set(["txid"], "00" * 32), r"field txid = '0{64}' is not the transaction asked for"),
    ("/tx/", _set(["vout", 0, "value"], -5), r"field tx [0-9a-f]{64}: vout\[0\]\.value = -5 is outside"),
    ("/tx/", _set(["vout", 0, "value"], 21_000_000 * 10**8 + 1), r"vout\[0\]\.value = 2100000000000001 is outside"),
    ("/tx/", _set(["vout", 0, "value"], 1.5), r"vout\[0\]\.value = 1\.5 is not an integer"),
    ("/tx/", _set(["vout", 0, "scriptpubkey"], "zz"), r"vout\[0\]\.scriptpubkey = 'zz' is not hex"),
    ("/tx/", _set(["vin", 0, "prevout", "value"], None), r"vin\[0\]\.prevout\.value = None is not an integer"),
    ("/tx/", lambda d: b"<html>busy</html>", r"sent malformed JSON"),
    ("/tx/", _set(["status", "block_height"], 3), r"status\.block_height = 3 but block"),
    ("/txids", lambda d: list(reversed(d)) if len(d) > 1 else ["00" * 32], r"do not hash to the block's merkle root"),
    ("/block/", _set(["nonce"], 7), r"field id = '[0-9a-f]{64}' is not the hash of the header"),
    ("/block/", _set(["id"], "11" * 32), r"field id = '1{64}' is not the block asked for"),
    ("/outspends", lambda d: d[:-1], r"is not a list of \d+ entries \(one per output\)"),
    ("/outspends", _set([0, "txid"], "xyz"), r"field \[0\]\.txid = 'xyz' is not 64 lowercase hex"),
]


@pytest.mark.parametrize("where,mangle,message", GARBAGE, ids=[m[:30] for _, _, m in GARBAGE])
def test_garbage_is_refused_naming_url_and_field(tmp_path: Path, world: Any, server: Any, esplora_ws: Any,
                                                 where: str, mangle: Any, message: str) -> None:
    tx = _tx_of(world)
    with esplora_ws(tmp_path / "ws", server.url) as ws:
        ws.ingest.esplora(server.url, [list(world.esplora.txs)[3]])     # something stored before
        if where == "/outspends":        # show tx stores the transaction first, in a step of its own
            assert ws.esplora is not None and ws.esplora.ensure_txs([tx]) == 1
        before = _counts(ws)
        server.garbage = {where: mangle} if where != "/block/" else {}
        if where == "/block/":            # only the header, not its txids
            server.garbage = {"/block/": lambda d: mangle(d) if isinstance(d, dict) else d}
        with pytest.raises(SourceError, match=message) as e:
            ws.queries.show_tx(tx)
        assert e.value.details["url"].startswith(server.url)
        assert _counts(ws) == before        # the step that met garbage wrote nothing
        server.garbage = {}
    with esplora_ws(tmp_path / "ws", server.url) as ws:
        t = ws.queries.show_tx(tx)
        assert t.txid == tx and all(o.status != "unknown_beyond_data" for o in t.outputs)


def test_fetched_then_ingested_whole_is_one_set_of_records(tmp_path: Path, world: Any, server: Any,
                                                           esplora_ws: Any) -> None:
    some = list(world.esplora.txs)[5:40:3]
    with esplora_ws(tmp_path / "ws", None) as ws:
        ws.ingest.esplora(server.url, some, hops=1)
        st = ws.queries.stats().chains["btc"]
        assert st["partial_blocks"] > 0
        ws.ingest.btc_blocks([world.blk_dir], allow_invalid_pow=True)
        got = ws.queries.stats().chains["btc"]
        want = world.full.queries.stats().chains["btc"]
        assert "partial_blocks" not in got
        for k in ("blocks", "txs", "outputs", "inputs", "inputs_resolved", "addresses", "unspent_value",
                  "segments", "min_height", "max_height"):
            assert got[k] == want[k], k
        assert ws.store.db.one("SELECT count(*), count(DISTINCT txid) FROM txs") == (want["txs"], want["txs"])
        for t in some:
            assert ws.queries.show_tx(t).model_dump() == world.full.queries.show_tx(t).model_dump()
        n = server.requests
        assert ws.ingest.esplora(server.url, some, hops=1).txs_new == 0
        assert server.requests - n <= 1 + len(some)     # the genesis check and outspends of the newly seen


def test_ingested_first_then_nothing_is_fetched(tmp_path: Path, world: Any, server: Any, esplora_ws: Any) -> None:
    with esplora_ws(tmp_path / "ws", server.url) as ws:
        ws.ingest.btc_blocks([world.blk_dir], allow_invalid_pow=True)
        tx = list(world.esplora.txs)[7]
        ws.ingest.esplora(server.url, [tx])
        ws.tracing.trace(tx, "backward", "haircut", 3, 0, "")
        assert server.requests == 0


@pytest.fixture
def small_pages(world: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Pages of 6 transactions on both sides, so that the world's busiest address takes several pages."""
    import chainsleuth.workspace.ingest.esplora as job

    monkeypatch.setattr(job, "PAGE", 6)
    world.esplora.page = 6
    yield
    world.esplora.page = 25


def test_show_address_on_demand_with_paging_and_history(tmp_path: Path, world: Any, server: Any,
                                                        esplora_ws: Any, small_pages: Any) -> None:
    hist = world.esplora.address_txs
    addr = max(hist, key=lambda a: len(hist[a]))
    assert len(hist[addr]) > 12, "the world should hold an address with several pages of history"
    with esplora_ws(tmp_path / "ws", server.url) as ws:
        a = ws.queries.show_address(addr).model_dump()
        ref = world.full.queries.show_address(addr).model_dump()
        for k in ("received", "sent", "balance", "tx_count", "first_seen", "last_seen"):
            assert a[k] == ref[k], k
        h = a["provenance"]["history"]
        assert h["complete"] and not h["partial"] and h["txs_fetched"] == len(hist[addr])
        assert server.hits[f"/address/{addr}/txs/chain/{hist[addr][5]}"] == 1
        n = server.requests
        ws.queries.show_address(addr)
        assert server.requests == n            # fetched to its end: not asked again


def test_history_not_fetched_to_its_end_is_not_recorded(tmp_path: Path, world: Any, server: Any,
                                                        esplora_ws: Any, small_pages: Any) -> None:
    hist = world.esplora.address_txs
    addr = max(hist, key=lambda a: len(hist[a]))
    server.stall = lambda path: "/txs/chain/" in path
    server.stall_seconds = 1.0
    with esplora_ws(tmp_path / "ws", server.url, rpc_timeout=0.2, rpc_retries=0) as ws:
        with pytest.raises(SourceError, match="timed out"):
            ws.queries.show_address(addr)
        assert ws.store.fetched.address_history("btc", addr) is None     # nothing half-written
