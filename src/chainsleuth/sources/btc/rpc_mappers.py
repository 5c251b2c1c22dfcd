"""Pure mappers from Bitcoin Core JSON-RPC answers to what the block parser reads, and the checks of each
answer against what was asked.

Two shapes of block reach the source:

* ``getblock <hash> 0``: the serialized block as hex. It goes to the project's own parser
  (:class:`~chainsleuth.sources.btc.parser.BlockParser`), exactly as a block read from a ``blk*.dat`` file.
* ``getblock <hash> 2`` or ``3`` (verbose JSON, each transaction with its ``hex``; verbosity 3 adds each
  input's ``prevout``): :func:`raw_block_of` rebuilds the serialized block from the header fields and the
  transactions' hex, the parser reads it, and :func:`check_against_json` then holds every figure the node
  printed (hash, height, sizes, weight, txids, vsize, output amounts and scripts, prevouts) against what the
  parser computed from the bytes. Both shapes thus give the very same :class:`~chainsleuth.core.records.UtxoBatch`
  as a block file, and the JSON's figures are checks, not a second, hand-written mapping.

JSON amounts are parsed as :class:`~decimal.Decimal` (never float) and turned into integer satoshi exactly:
an amount with a fraction of a satoshi is an error naming the field. Errors are
:class:`~chainsleuth.errors.InvalidInput` naming the field and the value; the source turns them into a
:class:`~chainsleuth.errors.SourceError` naming the node, the method and the block.
"""

from __future__ import annotations

import struct
from decimal import Decimal, InvalidOperation
from typing import Any

import pyarrow as pa

from chainsleuth.core.records import UtxoBatch
from chainsleuth.errors import InvalidInput

__all__ = [
    "NETWORK_OF_CHAIN",
    "bad",
    "check_against_json",
    "check_block_hash",
    "check_hex_hash",
    "check_raw_hex",
    "parse_cookie",
    "prevouts_of",
    "raw_block_of",
    "satoshi",
    "script_hex",
    "with_height",
]

#: ``getblockchaininfo``'s ``chain`` for each workspace chain
NETWORK_OF_CHAIN = {"btc": "main", "btc-testnet": "test", "btc-testnet4": "testnet4", "btc-signet": "signet",
                    "btc-regtest": "regtest"}

_COIN = Decimal(100_000_000)
_HEX = frozenset("0123456789abcdef")


def bad(field: str, value: Any, why: str) -> InvalidInput:
    text = format(value, "f") if isinstance(value, Decimal) and value.is_finite() else \
        (value if isinstance(value, str) else repr(value))
    return InvalidInput(f"field {field!r} is {text[:80]}, {why}", field=field, value=text[:80])


def satoshi(value: Any, field: str) -> int:
    """A BTC amount from the node's JSON (a Decimal, or an int) as integer satoshi, exactly.

    >>> satoshi(Decimal("50.00000000"), "value"), satoshi(Decimal("0.00000001"), "value"), satoshi(3, "value")
    (5000000000, 1, 300000000)
    >>> try:
    ...     satoshi(Decimal("0.000000001"), "vout[0].value")
    ... except InvalidInput as e:
    ...     print(e.message)
    field 'vout[0].value' is 0.000000001, not a whole number of satoshi
    """
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        raise bad(field, value, "not a number")
    try:
        sats = Decimal(value) * _COIN
        if not sats.is_finite() or sats != sats.to_integral_value():
            raise bad(field, value, "not a whole number of satoshi")
    except InvalidOperation:
        raise bad(field, value, "not a number") from None
    n = int(sats)
    if n < 0:
        raise bad(field, value, "negative")
    return n


def check_hex_hash(value: Any, field: str) -> str:
    """A 32-byte hash as 64 lowercase hex digits; InvalidInput otherwise."""
    if not isinstance(value, str) or len(value) != 64 or not set(value) <= _HEX:
        raise bad(field, value, "not a 32-byte hash in hex")
    return value


def check_block_hash(value: Any, height: int) -> str:
    """``getblockhash <height>``'s answer: a block hash."""
    return check_hex_hash(value, f"getblockhash({height})")


def check_raw_hex(value: Any) -> bytes:
    """``getblock <hash> 0``'s answer: the serialized block."""
    if not isinstance(value, str) or len(value) < 162 or len(value) % 2:
        raise bad("result", value, "not a serialized block in hex")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise bad("result", value, "not hex") from None


def _int(doc: dict[str, Any], field: str, *, lo: int = 0, hi: int = 2**32 - 1) -> int:
    v = doc.get(field)
    if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
        raise bad(field, v, f"not an integer in {lo}..{hi}")
    return v


def _varint(n: int) -> bytes:
    if n < 0xFD:
        return bytes([n])
    if n <= 0xFFFF:
        return b"\xfd" + struct.pack("<H", n)
    if n <= 0xFFFFFFFF:
        return b"\xfe" + struct.pack("<I", n)
    return b"\xff" + struct.pack("<Q", n)


def raw_block_of(doc: Any) -> bytes:
    """The serialized block a verbose ``getblock`` answer (verbosity 2 or 3) describes: the 80-byte header
    from ``version``, ``previousblockhash``, ``merkleroot``, ``time``, ``bits``, ``nonce``, then the
    transaction count and each transaction's ``hex``. The parser then checks the merkle root and proof of
    work of these bytes, and :func:`check_against_json` the hash and every other figure."""
    if not isinstance(doc, dict):
        raise bad("result", doc, "not a block object")
    txs = doc.get("tx")
    if not isinstance(txs, list) or not txs:
        raise bad("tx", txs, "not a list of transactions")
    prev = doc.get("previousblockhash")
    prev_raw = bytes(32) if prev is None and doc.get("height") == 0 else \
        bytes.fromhex(check_hex_hash(prev, "previousblockhash"))[::-1]
    bits = doc.get("bits")
    if not isinstance(bits, str) or len(bits) != 8 or not set(bits) <= _HEX:
        raise bad("bits", bits, "not 8 hex digits")
    version = doc.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or not -2**31 <= version < 2**31:
        raise bad("version", version, "not a 32-bit integer")
    header = struct.pack("<i32s32sIII", version, prev_raw,
                         bytes.fromhex(check_hex_hash(doc.get("merkleroot"), "merkleroot"))[::-1],
                         _int(doc, "time"), int(bits, 16), _int(doc, "nonce"))
    parts = [header, _varint(len(txs))]
    for i, t in enumerate(txs):
        h = t.get("hex") if isinstance(t, dict) else None
        if not isinstance(h, str) or len(h) % 2:
            raise bad(f"tx[{i}].hex", h, "missing or not hex: verbose blocks need each transaction's hex")
        try:
            parts.append(bytes.fromhex(h))
        except ValueError:
            raise bad(f"tx[{i}].hex", h, "not hex") from None
    return b"".join(parts)


def script_hex(spk: Any, field: str) -> str:
    h = spk.get("hex") if isinstance(spk, dict) else None
    if not isinstance(h, str):
        raise bad(field, h, "missing")
    return h.lower()


def check_against_json(batch: UtxoBatch, doc: dict[str, Any], height: int, block_hash: str) -> None:
    """Hold a verbose ``getblock`` answer's figures against the batch the parser made of its bytes: the block
    asked for (hash, height), sizes and weight, and per transaction its txid, size, vsize/weight when printed,
    input and output counts, each output's amount (exact satoshi) and script, each input's outpoint, and a
    verbosity-3 prevout's amount. InvalidInput names the first field that disagrees."""
    b = batch.blocks.slice(0, 1).to_pylist()[0]
    if doc.get("hash") != block_hash or b["hash"] != block_hash:
        raise bad("hash", doc.get("hash"), f"not the block asked for ({block_hash}); its bytes hash to {b['hash']}")
    if doc.get("height") != height:
        raise bad("height", doc.get("height"), f"not the height asked for ({height})")
    for field, ours in (("size", b["size"]), ("strippedsize", b["stripped_size"]), ("weight", b["weight"]),
                        ("nTx", b["tx_count"]), ("num_tx", b["tx_count"])):
        if field in doc and doc[field] != ours:
            raise bad(field, doc[field], f"but the block's bytes give {ours}")
    txs = batch.txs.to_pydict()
    outs = batch.outputs.to_pydict()
    ins = batch.inputs.to_pydict()
    o = i = 0
    for k, t in enumerate(doc["tx"]):
        where = f"tx[{k}]"
        if t.get("txid") != txs["txid"][k]:
            raise bad(f"{where}.txid", t.get("txid"), f"but its hex hashes to {txs['txid'][k]}")
        for field, col in (("size", "size"), ("vsize", "vsize"), ("weight", "weight"), ("version", "version"),
                           ("locktime", "locktime")):
            if field in t and t[field] != txs[col][k]:
                raise bad(f"{where}.{field}", t[field], f"but its hex gives {txs[col][k]}")
        vout, vin = t.get("vout"), t.get("vin")
        if not isinstance(vout, list) or len(vout) != txs["n_out"][k]:
            raise bad(f"{where}.vout", vout, f"not its {txs['n_out'][k]} outputs")
        if not isinstance(vin, list) or len(vin) != txs["n_in"][k]:
            raise bad(f"{where}.vin", vin, f"not its {txs['n_in'][k]} inputs")
        for j, v in enumerate(vout):
            f = f"{where}.vout[{j}]"
            if not isinstance(v, dict):
                raise bad(f, v, "not an object")
            if satoshi(v.get("value"), f"{f}.value") != outs["value"][o]:
                raise bad(f"{f}.value", v.get("value"), f"but its hex gives {outs['value'][o]} satoshi")
            if script_hex(v.get("scriptPubKey"), f"{f}.scriptPubKey.hex") != outs["script"][o].hex():
                raise bad(f"{f}.scriptPubKey.hex", v["scriptPubKey"].get("hex"), "not the script in its hex")
            o += 1
        for j, v in enumerate(vin):
            f = f"{where}.vin[{j}]"
            if not isinstance(v, dict):
                raise bad(f, v, "not an object")
            if "coinbase" not in v:
                if v.get("txid") != ins["prev_txid"][i] or v.get("vout") != ins["prev_n"][i]:
                    raise bad(f"{f}.txid", f"{v.get('txid')}:{v.get('vout')}",
                              f"but its hex spends {ins['prev_txid'][i]}:{ins['prev_n'][i]}")
                pv = v.get("prevout")
                if pv is not None:
                    if not isinstance(pv, dict):
                        raise bad(f"{f}.prevout", pv, "not an object")
                    satoshi(pv.get("value"), f"{f}.prevout.value")
                    script_hex(pv.get("scriptPubKey"), f"{f}.prevout.scriptPubKey.hex")
            elif ins["prev_txid"][i] is not None:
                raise bad(f"{f}.coinbase", v.get("coinbase"), "but its hex spends an output")
            i += 1


def prevouts_of(doc: dict[str, Any]) -> dict[tuple[str, int], tuple[int, str]]:
    """(prev txid, n) -> (satoshi, script hex) of every input's ``prevout`` in a verbosity-3 answer (empty
    for verbosity 2, which has none)."""
    out: dict[tuple[str, int], tuple[int, str]] = {}
    for k, t in enumerate(doc.get("tx") or []):
        for j, v in enumerate(t.get("vin") or []):
            pv = v.get("prevout") if isinstance(v, dict) else None
            if isinstance(pv, dict):
                f = f"tx[{k}].vin[{j}].prevout"
                out[(str(v.get("txid")), int(v.get("vout", -1)))] = (
                    satoshi(pv.get("value"), f"{f}.value"), script_hex(pv.get("scriptPubKey"), f"{f}.scriptPubKey"))
    return out


def parse_cookie(text: str, file: str) -> tuple[str, str]:
    """``user:password`` from a ``.cookie`` file's text (Bitcoin Core writes ``__cookie__:<hex>``)."""
    line = text.strip().splitlines()[0] if text.strip() else ""
    if ":" not in line:
        raise InvalidInput(f"the cookie file {file} does not hold 'user:password'", file=file, field="--rpc-cookie")
    user, _, password = line.partition(":")
    return user, password


def with_height(batch: UtxoBatch, heights: list[int]) -> UtxoBatch:
    """The batch with each block's height as the node gave it, where the parse found none (a block not
    linked to genesis in the batch, without a BIP34 height). The store takes it as the block's claimed
    height (``height_source='node'``) and refuses it when the block's place in the chain says otherwise."""
    blocks = batch.blocks
    h = blocks["height"].to_pylist()
    src = blocks["height_source"].to_pylist()
    if all(x is not None for x in h):
        return batch
    new_h = [x if x is not None else heights[k] for k, x in enumerate(h)]
    new_src = [s if x is not None else "node" for x, s in zip(h, src, strict=True)]
    blocks = blocks.set_column(blocks.schema.get_field_index("height"), "height", pa.array(new_h, pa.int64()))
    blocks = blocks.set_column(blocks.schema.get_field_index("height_source"), "height_source",
                               pa.array(new_src, pa.string()))
    return UtxoBatch(blocks, batch.txs, batch.outputs, batch.inputs, batch.skipped)
