"""Esplora JSON -> checked values -> the core :class:`~chainsleuth.core.records.UtxoBatch` the block parser yields.

Pure functions, no I/O. Every answer is checked before anything is built from it: the transaction returned is
the one asked for, the block is the one asked for (its header fields hash to its id), the list of a block's
txids has the header's count and merkle root, hex fields are hex of the right length, amounts are integers
between 0 and 21 million BTC, indexes are in range. Anything else is a :class:`~chainsleuth.errors.SourceError`
naming the URL, the field and the value, raised before the store sees a row.

Script types and addresses are derived from the script bytes by the same code as for blocks read from files
(:func:`chainsleuth.core.btc.addresses.script_columns`), so a transaction fetched here and the same transaction
read from a blk file give the same rows; the address the API printed must agree with it where both exist.
"""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from chainsleuth.core.btc.addresses import script_columns
from chainsleuth.core.chains import get_chain
from chainsleuth.core.records import (
    BLOCK_SCHEMA,
    INPUT_SCHEMA,
    OUTPUT_SCHEMA,
    PREVOUT_SCHEMA,
    TX_SCHEMA,
    UtxoBatch,
)
from chainsleuth.errors import SourceError

__all__ = [
    "MAX_MONEY",
    "EsploraBlock",
    "check_block",
    "check_block_txids",
    "check_outspends",
    "check_tx",
    "check_txid_list",
    "to_batch",
]

MAX_MONEY = 21_000_000 * 100_000_000
_HEX64 = re.compile(r"[0-9a-f]{64}")
_HEX = re.compile(r"(?:[0-9a-fA-F]{2})*")


def _bad(url: str, field: str, value: Any, why: str) -> SourceError:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return SourceError(f"{url} sent a bad answer: field {field} = {shown} {why}", url=url, field=field,
                       value=shown)


def _int(d: Any, key: str, url: str, path: str, lo: int = 0, hi: int = 2**63 - 1) -> int:
    v = d.get(key) if isinstance(d, dict) else None
    if not isinstance(v, int) or isinstance(v, bool):
        raise _bad(url, f"{path}{key}", v, "is not an integer")
    if not lo <= v <= hi:
        raise _bad(url, f"{path}{key}", v, f"is outside {lo}..{hi}")
    return v


def _hash(d: Any, key: str, url: str, path: str) -> str:
    v = d.get(key) if isinstance(d, dict) else None
    if not isinstance(v, str) or not _HEX64.fullmatch(v):
        raise _bad(url, f"{path}{key}", v, "is not 64 lowercase hex digits")
    return v


def _hexbytes(d: Any, key: str, url: str, path: str, *, optional: bool = False) -> bytes:
    v = d.get(key) if isinstance(d, dict) else None
    if v is None and optional:
        return b""
    if not isinstance(v, str) or not _HEX.fullmatch(v):
        raise _bad(url, f"{path}{key}", v, "is not hex")
    return bytes.fromhex(v)


def _amount(d: Any, key: str, url: str, path: str) -> int:
    return _int(d, key, url, path, 0, MAX_MONEY)


def _sha256d(b: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(b).digest()).digest()


@dataclass(frozen=True)
class EsploraBlock:
    """A checked block header (``/block/:hash``)."""

    hash: str
    height: int
    prev_hash: str
    merkle_root: str
    time: int
    version: int
    bits: int
    nonce: int
    tx_count: int
    size: int
    weight: int


def check_block(d: Any, url: str, block_hash: str) -> EsploraBlock:
    """The header at ``url``, which must be block ``block_hash``: its fields must hash to its id."""
    if not isinstance(d, dict):
        raise _bad(url, "(body)", type(d).__name__, "is not a JSON object")
    got = _hash(d, "id", url, "")
    if got != block_hash:
        raise _bad(url, "id", got, f"is not the block asked for ({block_hash})")
    height = _int(d, "height", url, "")
    prev = d.get("previousblockhash")
    prev = "0" * 64 if prev is None and height == 0 else _hash(d, "previousblockhash", url, "")
    b = EsploraBlock(hash=got, height=height, prev_hash=prev, merkle_root=_hash(d, "merkle_root", url, ""),
                     time=_int(d, "timestamp", url, "", 0, 2**32 - 1),
                     version=_int(d, "version", url, "", -(2**31), 2**32 - 1),
                     bits=_int(d, "bits", url, "", 0, 2**32 - 1), nonce=_int(d, "nonce", url, "", 0, 2**32 - 1),
                     tx_count=_int(d, "tx_count", url, "", 1, 2**31 - 1), size=_int(d, "size", url, "", 81),
                     weight=_int(d, "weight", url, "", 1))
    header = (struct.pack("<i" if b.version < 2**31 else "<I", b.version) + bytes.fromhex(b.prev_hash)[::-1]
              + bytes.fromhex(b.merkle_root)[::-1] + struct.pack("<III", b.time, b.bits, b.nonce))
    if _sha256d(header)[::-1].hex() != got:
        raise _bad(url, "id", got, "is not the hash of the header fields sent with it (version, "
                                   "previousblockhash, merkle_root, timestamp, bits, nonce)")
    if b.weight < b.size or (b.weight - b.size) % 3:
        raise _bad(url, "weight", b.weight, f"does not fit size {b.size} (weight = 3 * stripped size + size)")
    return b


def check_txid_list(d: Any, url: str, block: EsploraBlock) -> list[str]:
    """``/block/:hash/txids``: the header's count of txids whose merkle root is the header's."""
    if not isinstance(d, list) or not all(isinstance(x, str) and _HEX64.fullmatch(x) for x in d):
        raise _bad(url, "(body)", d if not isinstance(d, list) else next(
            (x for x in d if not (isinstance(x, str) and _HEX64.fullmatch(x))), None), "is not a list of txids")
    if len(d) != block.tx_count:
        raise _bad(url, "(length)", len(d), f"is not the block's tx_count {block.tx_count}")
    level = [bytes.fromhex(x)[::-1] for x in d]
    while len(level) > 1:
        if len(level) & 1:
            level.append(level[-1])
        level = [_sha256d(level[i] + level[i + 1]) for i in range(0, len(level), 2)]
    if level[0][::-1].hex() != block.merkle_root:
        raise _bad(url, "(txids)", f"{len(d)} txids", f"do not hash to the block's merkle root {block.merkle_root}")
    return list(d)


check_block_txids = check_txid_list


def check_tx(d: Any, url: str, txid: str | None = None) -> dict[str, Any]:
    """A transaction (``/tx/:txid`` or one of a list), checked; ``txid`` is the one asked for, if any.
    Returns the JSON object itself (every field used later has been checked)."""
    if not isinstance(d, dict):
        raise _bad(url, "(body)", type(d).__name__, "is not a JSON object")
    got = _hash(d, "txid", url, "")
    if txid is not None and got != txid:
        raise _bad(url, "txid", got, f"is not the transaction asked for ({txid})")
    p = f"tx {got}: "
    _int(d, "version", url, p, -(2**31), 2**32 - 1)
    _int(d, "locktime", url, p, 0, 2**32 - 1)
    size = _int(d, "size", url, p, 10)
    weight = _int(d, "weight", url, p, 40)
    if weight < size:
        raise _bad(url, f"{p}weight", weight, f"is below size {size}")
    vin, vout = d.get("vin"), d.get("vout")
    if not isinstance(vin, list) or not vin:
        raise _bad(url, f"{p}vin", vin, "is not a non-empty list")
    if not isinstance(vout, list) or not vout:
        raise _bad(url, f"{p}vout", vout, "is not a non-empty list")
    for i, x in enumerate(vin):
        q = f"{p}vin[{i}]."
        if not isinstance(x, dict):
            raise _bad(url, q[:-1], x, "is not an object")
        cb = x.get("is_coinbase")
        if not isinstance(cb, bool):
            raise _bad(url, f"{q}is_coinbase", cb, "is not true or false")
        if cb and (len(vin) != 1 or i):
            raise _bad(url, f"{q}is_coinbase", cb, "but the transaction has other inputs")
        _int(x, "sequence", url, q, 0, 2**32 - 1)
        _hexbytes(x, "scriptsig", url, q, optional=cb)
        w = x.get("witness")
        if w is not None and (not isinstance(w, list) or not all(isinstance(y, str) and _HEX.fullmatch(y) for y in w)):
            raise _bad(url, f"{q}witness", w, "is not a list of hex strings")
        if not cb:
            _hash(x, "txid", url, q)
            _int(x, "vout", url, q, 0, 2**32 - 1)
            pv = x.get("prevout")
            if not isinstance(pv, dict):
                raise _bad(url, f"{q}prevout", pv, "is not an object (the output the input spends)")
            _hexbytes(pv, "scriptpubkey", url, f"{q}prevout.")
            _amount(pv, "value", url, f"{q}prevout.")
    total = 0
    for i, y in enumerate(vout):
        q = f"{p}vout[{i}]."
        if not isinstance(y, dict):
            raise _bad(url, q[:-1], y, "is not an object")
        _hexbytes(y, "scriptpubkey", url, q)
        total += _amount(y, "value", url, q)
    if total > MAX_MONEY:
        raise _bad(url, f"{p}vout", total, "sum above 21 million BTC")
    st = d.get("status")
    if not isinstance(st, dict) or not isinstance(st.get("confirmed"), bool):
        raise _bad(url, f"{p}status", st, "has no confirmed flag")
    if st["confirmed"]:
        _hash(st, "block_hash", url, f"{p}status.")
        _int(st, "block_height", url, f"{p}status.")
    return d


def check_outspends(d: Any, url: str, n_out: int) -> list[tuple[bool, str | None, int | None]]:
    """``/tx/:txid/outspends``: per output (spent, spending txid, its input index)."""
    if not isinstance(d, list) or len(d) != n_out:
        raise _bad(url, "(body)", d if not isinstance(d, list) else f"{len(d)} entries",
                   f"is not a list of {n_out} entries (one per output)")
    out: list[tuple[bool, str | None, int | None]] = []
    for i, x in enumerate(d):
        q = f"[{i}]."
        if not isinstance(x, dict) or not isinstance(x.get("spent"), bool):
            raise _bad(url, f"{q}spent", x, "is not true or false")
        if x["spent"]:
            out.append((True, _hash(x, "txid", url, q), _int(x, "vin", url, q, 0, 2**32 - 1)))
        else:
            out.append((False, None, None))
    return out


def to_batch(chain: str, blocks: dict[str, EsploraBlock], txs: Sequence[tuple[dict[str, Any], int, str]],
             *, source: str) -> UtxoBatch:
    """A loose :class:`UtxoBatch` of checked transactions ``(tx JSON, index in its block, url)`` with their
    blocks' headers; rows grouped by block (in ``blocks`` order), each block's by index.

    Addresses the API printed are checked against the ones the scripts give; ``source`` names the API in
    the blocks' ``source_file`` column.
    """
    net = get_chain(chain).btc_network
    assert net is not None
    by_block: dict[str, list[tuple[dict[str, Any], int, str]]] = {h: [] for h in blocks}
    for t in txs:
        h = t[0]["status"]["block_hash"]
        if h not in by_block:
            raise SourceError(f"{t[2]}: transaction {t[0]['txid']} is in block {h}, whose header was not fetched",
                              url=t[2], field="status.block_hash", value=h)
        by_block[h].append(t)
    order = [h for h in blocks if by_block[h]]
    rows = [t for h in order for t in sorted(by_block[h], key=lambda t: t[1])]
    bl = [blocks[h] for h in order]
    nb = len(bl)
    blocks_t = pa.table({
        "chain": pa.array([chain] * nb, pa.string()), "hash": pa.array([b.hash for b in bl], pa.string()),
        "height": pa.array([b.height for b in bl], pa.int64()), "height_source": pa.array(["source"] * nb),
        "prev_hash": pa.array([b.prev_hash for b in bl], pa.string()),
        "merkle_root": pa.array([b.merkle_root for b in bl], pa.string()),
        "time": pa.array([b.time for b in bl], pa.int64()), "version": pa.array([b.version for b in bl], pa.int64()),
        "bits": pa.array([b.bits for b in bl], pa.int64()), "nonce": pa.array([b.nonce for b in bl], pa.int64()),
        "tx_count": pa.array([b.tx_count for b in bl], pa.int32()), "size": pa.array([b.size for b in bl], pa.int64()),
        "stripped_size": pa.array([(b.weight - b.size) // 3 for b in bl], pa.int64()),
        "weight": pa.array([b.weight for b in bl], pa.int64()),
        "source_file": pa.array([source] * nb, pa.string()), "source_offset": pa.array([None] * nb, pa.int64()),
        "bip34_height": pa.array([None] * nb, pa.int64()),
    }, schema=BLOCK_SCHEMA)
    t_txid, t_block, t_index, t_ver, t_lock, t_size, t_weight, t_cb, t_wit, t_nin, t_nout, t_outv = (
        [] for _ in range(12))
    o_script: list[bytes] = []
    o_value: list[int] = []
    o_api_addr: list[tuple[int, str | None, str]] = []
    i_prev: list[str | None] = []
    i_prev_n: list[int | None] = []
    i_seq: list[int] = []
    i_sslen: list[int] = []
    i_wit: list[int] = []
    p_script: list[bytes] = []
    p_value: list[int | None] = []
    p_api_addr: list[tuple[int, str | None, str]] = []
    for d, index, url in rows:
        vin, vout = d["vin"], d["vout"]
        cb = bool(vin[0]["is_coinbase"])
        if cb != (index == 0):
            raise _bad(url, f"tx {d['txid']}: vin[0].is_coinbase", cb, f"but the transaction is at index {index} "
                       "of its block (only the first transaction is the coinbase)")
        t_txid.append(d["txid"])
        t_block.append(d["status"]["block_hash"])
        t_index.append(index)
        t_ver.append(d["version"])
        t_lock.append(d["locktime"])
        t_size.append(d["size"])
        t_weight.append(d["weight"])
        t_cb.append(cb)
        t_wit.append(any(x.get("witness") for x in vin))
        t_nin.append(len(vin))
        t_nout.append(len(vout))
        t_outv.append(sum(int(y["value"]) for y in vout))
        for y in vout:
            o_api_addr.append((len(o_script), y.get("scriptpubkey_address"), url))
            o_script.append(bytes.fromhex(y["scriptpubkey"]))
            o_value.append(int(y["value"]))
        for x in vin:
            w = x.get("witness") or []
            i_seq.append(int(x["sequence"]))
            i_sslen.append(len(x.get("scriptsig") or "") // 2)
            i_wit.append(len(w))
            if x["is_coinbase"]:
                i_prev.append(None)
                i_prev_n.append(None)
                p_script.append(b"")
                p_value.append(None)
            else:
                i_prev.append(x["txid"])
                i_prev_n.append(int(x["vout"]))
                pv = x["prevout"]
                p_api_addr.append((len(p_script), pv.get("scriptpubkey_address"), url))
                p_script.append(bytes.fromhex(pv["scriptpubkey"]))
                p_value.append(int(pv["value"]))
    types, addrs, scripts = script_columns(o_script, net)
    p_types, p_addrs, _ = script_columns(p_script, net)
    for got, api in ((addrs, o_api_addr), (p_addrs, p_api_addr)):
        mine = got.to_pylist()
        for row, said, url in api:
            m = mine[row]
            if said is not None and m is not None and not m.startswith(("nonstandard", "multisig")) and m != said:
                raise _bad(url, "scriptpubkey_address", said, f"does not match its scriptpubkey, which pays {m}")
    coin = np.asarray([v is None for v in p_value], dtype=bool)
    p_types = pa.array([None if c else t for c, t in zip(coin.tolist(), p_types.to_pylist(), strict=True)],
                       pa.string())
    p_addrs = pa.array([None if c else a for c, a in zip(coin.tolist(), p_addrs.to_pylist(), strict=True)],
                       pa.string())
    n_out = np.asarray(t_nout, dtype=np.int64)
    n_in = np.asarray(t_nin, dtype=np.int64)
    tx_of_out = np.repeat(np.arange(len(t_txid)), n_out)
    tx_of_in = np.repeat(np.arange(len(t_txid)), n_in)
    txid_a = pa.array(t_txid, pa.string())
    block_a = pa.array(t_block, pa.string())
    weight = np.asarray(t_weight, dtype=np.int64)
    nt = len(t_txid)
    txs_t = pa.table({
        "chain": pa.array([chain] * nt, pa.string()), "txid": txid_a,
        # the wtxid is not in the API's JSON: the txid stands for it (equal without witness data)
        "wtxid": txid_a, "block_hash": block_a, "block_index": pa.array(t_index, pa.int32()),
        "version": pa.array(t_ver, pa.int64()), "locktime": pa.array(t_lock, pa.int64()),
        "size": pa.array(t_size, pa.int64()), "vsize": pa.array((weight + 3) // 4, pa.int64()),
        "weight": pa.array(weight, pa.int64()), "is_coinbase": pa.array(t_cb, pa.bool_()),
        "has_witness": pa.array(t_wit, pa.bool_()), "n_in": pa.array(n_in, pa.int32()),
        "n_out": pa.array(n_out, pa.int32()), "output_value": pa.array(t_outv, pa.int64()),
    }, schema=TX_SCHEMA)
    out_n = np.arange(len(o_value)) - np.repeat(np.cumsum(n_out) - n_out, n_out)
    outs_t = pa.table({
        "chain": pa.array([chain] * len(o_value), pa.string()), "txid": txid_a.take(pa.array(tx_of_out)),
        "block_hash": block_a.take(pa.array(tx_of_out)), "n": pa.array(out_n, pa.int32()),
        "value": pa.array(o_value, pa.int64()), "script_type": types, "address": addrs, "script": scripts,
    }, schema=OUTPUT_SCHEMA)
    in_n = np.arange(len(i_seq)) - np.repeat(np.cumsum(n_in) - n_in, n_in)
    ins_t = pa.table({
        "chain": pa.array([chain] * len(i_seq), pa.string()), "txid": txid_a.take(pa.array(tx_of_in)),
        "block_hash": block_a.take(pa.array(tx_of_in)), "n": pa.array(in_n, pa.int32()),
        "prev_txid": pa.array(i_prev, pa.string()), "prev_n": pa.array(i_prev_n, pa.int64()),
        "sequence": pa.array(i_seq, pa.int64()), "script_sig_size": pa.array(i_sslen, pa.int32()),
        "witness_items": pa.array(i_wit, pa.int32()),
    }, schema=INPUT_SCHEMA)
    prev_t = pa.table({"value": pa.array(p_value, pa.int64()), "script_type": p_types, "address": p_addrs},
                      schema=PREVOUT_SCHEMA)
    return UtxoBatch(blocks_t, txs_t, outs_t, ins_t, prevouts=prev_t, loose=True)
