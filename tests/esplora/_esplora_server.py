"""A local Esplora-compatible HTTP server for tests and benchmarks, on 127.0.0.1.

It serves the transactions of Bitcoin blk files (a generated training world's) in Esplora's JSON, built by
reading the files' bytes here (a small deserializer of its own, so that the code under test is not used to
make its own test data): ``/tx/:txid``, ``/tx/:txid/outspends``, ``/block/:hash``, ``/block/:hash/txids``,
``/block-height/:h``, ``/blocks/tip/height``, ``/address/:a/txs`` with its paging
``/address/:a/txs/chain/:last_seen_txid`` (25 per page, newest first). Misbehaviour on request: a latency per
request, a rate limit (HTTP 429 with Retry-After), answers that never come (timeouts) and garbage for
chosen paths. Every request is counted per path.
"""

from __future__ import annotations

import hashlib
import json
import struct
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from chainsleuth.core.btc.script import classify_script
from chainsleuth.core.chains import get_chain

__all__ = ["EsploraServer", "EsploraWorld"]


def _sha256d(b: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(b).digest()).digest()


def _varint(b: bytes, p: int) -> tuple[int, int]:
    x = b[p]
    if x < 0xFD:
        return x, p + 1
    n = {0xFD: 2, 0xFE: 4, 0xFF: 8}[x]
    return int.from_bytes(b[p + 1:p + 1 + n], "little"), p + 1 + n


def _tx(b: bytes, p: int) -> tuple[dict[str, Any], int]:
    start = p
    version = struct.unpack_from("<i", b, p)[0]
    p += 4
    segwit = b[p] == 0 and b[p + 1] == 1
    if segwit:
        p += 2
    body_start = p
    nin, p = _varint(b, p)
    vin = []
    for _ in range(nin):
        prev = b[p:p + 32][::-1].hex()
        n = struct.unpack_from("<I", b, p + 32)[0]
        ln, p = _varint(b, p + 36)
        script = b[p:p + ln]
        p += ln
        seq = struct.unpack_from("<I", b, p)[0]
        p += 4
        vin.append({"txid": prev, "vout": n, "scriptsig": script.hex(), "sequence": seq, "witness": []})
    nout, p = _varint(b, p)
    vout = []
    for _ in range(nout):
        value = struct.unpack_from("<q", b, p)[0]
        ln, p = _varint(b, p + 8)
        vout.append({"scriptpubkey": b[p:p + ln].hex(), "value": value})
        p += ln
    body_end = p
    wit_len = 0
    if segwit:
        w0 = p
        for x in vin:
            k, p = _varint(b, p)
            for _ in range(k):
                ln, p = _varint(b, p)
                x["witness"].append(b[p:p + ln].hex())
                p += ln
        wit_len = p - w0 + 2
    locktime = struct.unpack_from("<I", b, p)[0]
    p += 4
    stripped = b[start:start + 4] + b[body_start:body_end] + b[p - 4:p]
    size = p - start
    txid = _sha256d(stripped)[::-1].hex()
    for x in vin:
        if not x["witness"]:
            del x["witness"]
    return {"txid": txid, "version": version, "locktime": locktime, "size": size,
            "weight": (size - wit_len) * 3 + size, "vin": vin, "vout": vout}, p


class EsploraWorld:
    """The blocks and transactions of blk files, indexed as an Esplora server needs them."""

    def __init__(self, blk_dir: Path, chain: str = "btc") -> None:
        net = get_chain(chain).btc_network
        assert net is not None
        self.blocks: dict[str, dict[str, Any]] = {}
        self.block_txids: dict[str, list[str]] = {}
        self.txs: dict[str, dict[str, Any]] = {}
        self.by_height: list[str] = []
        self.page = 25           # transactions per page of an address's history, as Esplora serves them
        height: dict[str, int] = {}
        for f in sorted(Path(blk_dir).glob("blk*.dat")):
            data = f.read_bytes()
            pos = 0
            while pos + 8 <= len(data) and data[pos:pos + 4] == net.magic:
                size = struct.unpack_from("<I", data, pos + 4)[0]
                blk = data[pos + 8:pos + 8 + size]
                pos += 8 + size
                h = _sha256d(blk[:80])[::-1].hex()
                version, = struct.unpack_from("<i", blk, 0)
                prev = blk[4:36][::-1].hex()
                merkle = blk[36:68][::-1].hex()
                t, bits, nonce = struct.unpack_from("<III", blk, 68)
                ntx, p = _varint(blk, 80)
                hh = 0 if prev == "0" * 64 else height[prev] + 1
                height[h] = hh
                txids = []
                stripped_total = 80 + (p - 80)
                for i in range(ntx):
                    tx, p2 = _tx(blk, p)
                    tx["index"] = i
                    tx["block"] = h
                    p = p2
                    txids.append(tx["txid"])
                    self.txs.setdefault(tx["txid"], tx)
                    stripped_total += (tx["weight"] - tx["size"]) // 3
                self.block_txids[h] = txids
                self.blocks[h] = {"id": h, "height": hh, "version": version, "timestamp": t, "bits": bits,
                                  "nonce": nonce, "merkle_root": merkle, "tx_count": ntx, "size": len(blk),
                                  "weight": stripped_total * 3 + len(blk), "mediantime": t,
                                  "previousblockhash": None if hh == 0 else prev}
                self.by_height.append(h)
        # prevouts, spends, address histories
        self.spent_by: dict[tuple[str, int], tuple[str, int]] = {}
        self.address_txs: dict[str, list[str]] = {}
        for txid, tx in self.txs.items():
            for _j, y in enumerate(tx["vout"]):
                typ, addr = classify_script(bytes.fromhex(y["scriptpubkey"]), net)
                y["scriptpubkey_type"] = typ
                if addr is not None and typ not in ("nonstandard", "multisig"):
                    y["scriptpubkey_address"] = addr
                    self.address_txs.setdefault(addr, []).append(txid)
        for txid, tx in self.txs.items():
            cb = tx["index"] == 0
            for i, x in enumerate(tx["vin"]):
                x["is_coinbase"] = cb
                if cb:
                    x["txid"], x["vout"], x["prevout"] = "0" * 64, 4294967295, None
                    continue
                prev = self.txs[x["txid"]]["vout"][x["vout"]]
                x["prevout"] = dict(prev)
                self.spent_by[(x["txid"], x["vout"])] = (txid, i)
                a = prev.get("scriptpubkey_address")
                if a is not None:
                    self.address_txs.setdefault(a, []).append(txid)
            b = self.blocks[tx["block"]]
            tx["status"] = {"confirmed": True, "block_height": b["height"], "block_hash": b["id"],
                            "block_time": b["timestamp"]}
            tx["fee"] = 0 if cb else sum(x["prevout"]["value"] for x in tx["vin"]) - sum(y["value"] for y in tx["vout"])
        for a, ts in self.address_txs.items():   # newest first, each once
            self.address_txs[a] = sorted(set(ts), key=lambda t: (-self.blocks[self.txs[t]["block"]]["height"],
                                                                  -self.txs[t]["index"]))

    def tx_json(self, txid: str) -> dict[str, Any]:
        return {k: v for k, v in self.txs[txid].items() if k not in ("index", "block")}

    def outspends(self, txid: str) -> list[dict[str, Any]]:
        out = []
        for n in range(len(self.txs[txid]["vout"])):
            s = self.spent_by.get((txid, n))
            if s is None:
                out.append({"spent": False})
            else:
                st = self.txs[s[0]]["status"]
                out.append({"spent": True, "txid": s[0], "vin": s[1], "status": st})
        return out

    def route(self, path: str) -> tuple[int, Any]:
        """(HTTP status, JSON value or text) for ``path``, as an Esplora server answers it."""
        parts = [p for p in path.split("/") if p]
        try:
            if parts[:1] == ["tx"] and len(parts) == 2:
                return 200, self.tx_json(parts[1])
            if parts[:1] == ["tx"] and len(parts) == 3 and parts[2] == "outspends":
                return 200, self.outspends(parts[1])
            if parts[:1] == ["block"] and len(parts) == 2:
                return 200, self.blocks[parts[1]]
            if parts[:1] == ["block"] and len(parts) == 3 and parts[2] == "txids":
                return 200, self.block_txids[parts[1]]
            if parts[:1] == ["block"] and len(parts) == 4 and parts[2] == "txid":
                return 200, self.block_txids[parts[1]][int(parts[3])]
            if parts[:1] == ["block-height"] and len(parts) == 2:
                return 200, self.by_height[int(parts[1])]
            if parts == ["blocks", "tip", "height"]:
                return 200, len(self.by_height) - 1
            if parts[:1] == ["address"] and len(parts) >= 3 and parts[2] == "txs":
                ts = self.address_txs.get(parts[1], [])
                if len(parts) == 5 and parts[3] == "chain":
                    ts = ts[ts.index(parts[4]) + 1:] if parts[4] in ts else []
                elif len(parts) != 3:
                    return 404, "not found"
                return 200, [self.tx_json(t) for t in ts[:self.page]]
        except (KeyError, IndexError, ValueError):
            return 404, "not found"
        return 404, "not found"


class EsploraServer:
    """A threaded HTTP server on 127.0.0.1 (an ephemeral port) serving an :class:`EsploraWorld`.

    Attributes set by tests: ``latency`` (seconds added to each answer), ``rate`` (requests per second above
    which it answers 429 with ``Retry-After: retry_after``), ``stall`` (a predicate on the path: the answer
    never comes within the client's timeout), ``refuse_first`` (that many requests answered 429), ``garbage`` (path substring -> a function turning the JSON into
    garbage). ``hits`` counts requests per path.
    """

    def __init__(self, world: EsploraWorld) -> None:
        self.world = world
        self.latency = 0.0
        self.rate: float | None = None
        self.refuse_first = 0          # answer the next this many requests 429, whatever the rate
        self.retry_after = "1"
        self.stall: Callable[[str], bool] | None = None
        self.stall_seconds = 3.0
        self.garbage: dict[str, Callable[[Any], Any]] = {}
        self.hits: Counter[str] = Counter()
        self.refused = 0
        self._lock = threading.Lock()
        self._window: list[float] = []
        srv = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a: Any) -> None:
                pass

            def do_GET(self) -> None:
                srv._answer(self)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> EsploraServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    @property
    def requests(self) -> int:
        return sum(self.hits.values())

    def _limited(self) -> bool:
        with self._lock:
            if self.refuse_first > 0:
                self.refuse_first -= 1
                self.refused += 1
                return True
        if self.rate is None:
            return False
        with self._lock:
            now = time.monotonic()
            self._window = [t for t in self._window if now - t < 1.0]
            if len(self._window) >= self.rate:
                self.refused += 1
                return True
            self._window.append(now)
            return False

    def _answer(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path
        with self._lock:
            self.hits[path] += 1
        if self.latency:
            time.sleep(self.latency)
        if self._limited():
            self._send(h, 429, b"Too Many Requests", "text/plain", {"Retry-After": self.retry_after})
            return
        if self.stall is not None and self.stall(path):
            time.sleep(self.stall_seconds)
        status, doc = self.world.route(path)
        for key, fn in self.garbage.items():
            if key in path:
                doc = fn(doc)
        if isinstance(doc, bytes):
            body, ctype = doc, "application/octet-stream"
        elif isinstance(doc, (dict, list)):
            body, ctype = json.dumps(doc).encode(), "application/json"
        else:       # txids, hashes and heights come as plain text
            body, ctype = str(doc).encode(), "text/plain"
        self._send(h, status, body, ctype, {})

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str, headers: dict[str, str]) -> None:
        try:
            h.send_response(status)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
