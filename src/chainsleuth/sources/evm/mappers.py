"""Small pure functions: raw node JSON -> account-chain rows (dicts following the schemas of
:mod:`chainsleuth.core.account`). Nothing outside this module looks at raw node JSON.

Value rules (docs/evm.md):

- a successful transaction moves its ``value`` (``native``); a failed one moves nothing but pays its fee;
- the fee is ``gasUsed * effectiveGasPrice`` paid by the sender: ``(effectiveGasPrice - baseFee) * gasUsed``
  goes to the block's fee recipient (``fee``), ``baseFee * gasUsed`` and ``blobGasUsed * blobGasPrice`` are
  burned (``burn``); before London the whole fee goes to the miner;
- a trace moves value only when it, every call above it and its transaction succeeded; DELEGATECALL,
  STATICCALL and CALLCODE move nothing to another account; the top-level call is the tx's own ``native``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from chainsleuth.errors import InvalidInput

__all__ = [
    "ERC1155_BATCH_TOPIC",
    "ERC1155_SINGLE_TOPIC",
    "TRANSFER_TOPIC",
    "decode_abi_string",
    "decode_uint",
    "fee_transfers",
    "flatten_geth_traces",
    "flatten_parity_traces",
    "hex_int",
    "make_transfer",
    "map_block",
    "map_receipt",
    "set_trace_status",
    "token_transfers",
    "trace_transfers",
    "withdrawal_transfers",
]

TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
ERC1155_SINGLE_TOPIC = "0xc3d58168c5ae7397731d063d5bbf3d657854427343f4c083240f7aacaa2d0f62"
ERC1155_BATCH_TOPIC = "0x4a39dc06d4c0dbc64b70af90fd698a233a518aa5d07e595d983b8c0526c8f7fb"
_GWEI = 10**9


def hex_int(v: Any) -> int | None:
    """``"0x1f"`` -> 31; ints pass through; None and ``"0x"`` -> None.

    >>> hex_int("0x1f"), hex_int(None), hex_int(7)
    (31, None, 7)
    """
    if v is None:
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, str):
        if v in ("0x", ""):
            return None
        return int(v, 16) if v[:2] in ("0x", "0X") else int(v)
    raise InvalidInput(f"expected a hex quantity, got {v!r}", value=repr(v))


def _addr(v: Any) -> str | None:
    return v.lower() if isinstance(v, str) and v else None


def _word_addr(word: str) -> str:
    """The address in the low 20 bytes of a 32-byte topic or data word (hex without 0x, 64 chars)."""
    return "0x" + word[-40:].lower()


def map_block(raw: dict[str, Any], chain: str, traces: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A block with full transactions -> (block row, tx rows without receipt fields)."""
    if not isinstance(raw, dict) or "hash" not in raw or "number" not in raw:
        raise InvalidInput("not a block object", value=str(raw)[:120])
    number = hex_int(raw["number"])
    bhash = raw["hash"].lower()
    txs_raw = raw.get("transactions") or []
    withdrawals = raw.get("withdrawals") or []
    block = {
        "chain": chain, "number": number, "hash": bhash, "parent_hash": raw["parentHash"].lower(),
        "time": hex_int(raw.get("timestamp")), "miner": _addr(raw.get("miner")),
        "gas_used": hex_int(raw.get("gasUsed")), "gas_limit": hex_int(raw.get("gasLimit")),
        "base_fee_per_gas": hex_int(raw.get("baseFeePerGas")), "tx_count": len(txs_raw),
        "withdrawal_count": len(withdrawals), "size": hex_int(raw.get("size")), "traces": traces,
        "transactions_root": (raw.get("transactionsRoot") or "").lower() or None,
    }
    txs: list[dict[str, Any]] = []
    for i, t in enumerate(txs_raw):
        if not isinstance(t, dict):
            raise InvalidInput(f"block {number} lists transaction hashes only; full transactions are needed",
                               field="transactions", value=str(t)[:80])
        inp = t.get("input") or t.get("data") or "0x"
        txs.append({
            "chain": chain, "hash": t["hash"].lower(), "block_hash": bhash, "block_number": number,
            "tx_index": hex_int(t.get("transactionIndex")) if t.get("transactionIndex") is not None else i,
            "from": _addr(t.get("from")), "to": _addr(t.get("to")), "value": hex_int(t.get("value")) or 0,
            "nonce": hex_int(t.get("nonce")), "tx_type": hex_int(t.get("type")) or 0, "gas": hex_int(t.get("gas")),
            "gas_price": hex_int(t.get("gasPrice")), "max_fee_per_gas": hex_int(t.get("maxFeePerGas")),
            "max_priority_fee_per_gas": hex_int(t.get("maxPriorityFeePerGas")),
            "input_size": max(0, (len(inp) - 2) // 2), "method_id": inp[:10] if len(inp) >= 10 else None,
            "status": None, "gas_used": None, "effective_gas_price": None, "fee": None, "contract_address": None,
        })
    return block, txs


def withdrawal_transfers(raw: dict[str, Any], chain: str, start_index: int = 0) -> list[dict[str, Any]]:
    """Beacon-chain withdrawals (amounts in Gwei) -> ``withdrawal`` transfers in wei, ordered by index."""
    out = []
    number = hex_int(raw["number"])
    for k, w in enumerate(raw.get("withdrawals") or []):
        amount = (hex_int(w.get("amount")) or 0) * _GWEI
        if amount == 0:
            continue
        out.append(make_transfer(chain, raw["hash"].lower(), number, None, None, start_index + k, "withdrawal",
                             None, _addr(w.get("address")), "native", amount))
    return out


def make_transfer(chain: str, block_hash: str, block_number: int | None, tx_hash: str | None,
                  tx_index: int | None, index: int, kind: str, frm: str | None, to: str | None, asset: str,
                  value: int, token_id: str | None = None, trace_address: str | None = None,
                  log_index: int | None = None) -> dict[str, Any]:
    """One transfer row (a dict following TRANSFER_SCHEMA, without ``value_big``)."""
    return {"chain": chain, "block_hash": block_hash, "block_number": block_number, "tx_hash": tx_hash,
            "tx_index": tx_index, "index": index, "kind": kind, "from": frm, "to": to, "asset": asset,
            "token_id": token_id, "value": value, "trace_address": trace_address, "log_index": log_index}


def map_receipt(tx: dict[str, Any], receipt: dict[str, Any]) -> None:
    """Copy a receipt's status, gas used, effective price, fee and created contract into ``tx`` (in place)."""
    if receipt is None:
        raise InvalidInput(f"no receipt for transaction {tx['hash']}", value=tx["hash"])
    status = receipt.get("status")
    tx["status"] = hex_int(status) if status is not None else None
    gas_used = hex_int(receipt.get("gasUsed")) or 0
    price = hex_int(receipt.get("effectiveGasPrice"))
    if price is None:  # old nodes: the legacy gas price is what was paid
        price = tx["gas_price"] or 0
    blob_fee = (hex_int(receipt.get("blobGasUsed")) or 0) * (hex_int(receipt.get("blobGasPrice")) or 0)
    tx["gas_used"] = gas_used
    tx["effective_gas_price"] = price
    tx["fee"] = gas_used * price + blob_fee
    tx["_blob_fee"] = blob_fee
    tx["contract_address"] = _addr(receipt.get("contractAddress"))


def fee_transfers(tx: dict[str, Any], miner: str | None, base_fee: int | None, start_index: int) -> list[dict[str, Any]]:
    """The fee a transaction paid: priority part to the fee recipient, base and blob fee burned."""
    out: list[dict[str, Any]] = []
    gas_used = tx.get("gas_used") or 0
    price = tx.get("effective_gas_price") or 0
    burned = gas_used * min(base_fee or 0, price)
    tip = gas_used * price - burned
    blob = tx.get("_blob_fee") or 0
    k = start_index
    args = (tx["chain"], tx["block_hash"], tx["block_number"], tx["hash"], tx["tx_index"])
    if tip:
        out.append(make_transfer(*args, k, "fee", tx["from"], miner, "native", tip))
        k += 1
    if burned + blob:
        out.append(make_transfer(*args, k, "burn", tx["from"], None, "native", burned + blob))
    return out


# -- token logs -------------------------------------------------------------------------------------------
def _words(data: str) -> list[str]:
    d = data[2:] if data.startswith("0x") else data
    return [d[i:i + 64] for i in range(0, len(d) - len(d) % 64, 64)]


def token_transfers(logs: Iterable[dict[str, Any]], tx: dict[str, Any], start_index: int) -> list[dict[str, Any]]:
    """ERC-20 / ERC-721 ``Transfer`` and ERC-1155 ``TransferSingle`` / ``TransferBatch`` logs -> transfers.

    A ``Transfer`` with 4 topics is ERC-721 (value 1, token id in topic 3); with 3 topics and one data word,
    or 1 topic and three data words (early tokens with no indexed arguments), ERC-20. Anything else with that
    topic is not a well-formed transfer and is skipped. Removed logs (reorged away) are skipped.
    """
    out: list[dict[str, Any]] = []
    k = start_index
    args = (tx["chain"], tx["block_hash"], tx["block_number"], tx["hash"], tx["tx_index"])
    for log in logs:
        if log.get("removed"):
            continue
        topics = [t.lower() for t in (log.get("topics") or [])]
        if not topics:
            continue
        t0 = topics[0]
        contract = _addr(log.get("address")) or ""
        li = hex_int(log.get("logIndex"))
        data = log.get("data") or "0x"
        if t0 == TRANSFER_TOPIC:
            words = [t[2:] for t in topics[1:]] + _words(data)
            if len(topics) == 4:
                out.append(make_transfer(*args, k, "erc721", _word_addr(topics[1]), _word_addr(topics[2]), contract, 1,
                                     token_id=str(int(topics[3], 16)), log_index=li))
            elif len(words) == 3 and len(topics) in (1, 3):
                out.append(make_transfer(*args, k, "erc20", _word_addr(words[0]), _word_addr(words[1]), contract,
                                     int(words[2], 16), log_index=li))
            else:
                continue
            k += 1
        elif t0 == ERC1155_SINGLE_TOPIC and len(topics) == 4:
            w = _words(data)
            if len(w) != 2:
                continue
            out.append(make_transfer(*args, k, "erc1155", _word_addr(topics[2]), _word_addr(topics[3]), contract,
                                 int(w[1], 16), token_id=str(int(w[0], 16)), log_index=li))
            k += 1
        elif t0 == ERC1155_BATCH_TOPIC and len(topics) == 4:
            ids, values = _decode_two_uint_arrays(data)
            for tid, v in zip(ids, values, strict=False):
                out.append(make_transfer(*args, k, "erc1155", _word_addr(topics[2]), _word_addr(topics[3]), contract,
                                     v, token_id=str(tid), log_index=li))
                k += 1
    return out


def _decode_two_uint_arrays(data: str) -> tuple[list[int], list[int]]:
    w = _words(data)
    try:
        a_off, b_off = int(w[0], 16) // 32, int(w[1], 16) // 32
        na, nb = int(w[a_off], 16), int(w[b_off], 16)
        return ([int(x, 16) for x in w[a_off + 1:a_off + 1 + na]], [int(x, 16) for x in w[b_off + 1:b_off + 1 + nb]])
    except (IndexError, ValueError):
        return [], []


# -- traces -----------------------------------------------------------------------------------------------
def flatten_parity_traces(traces: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Parity/Erigon ``trace_block`` -> flat traces (the schema of ethereum-etl's traces export)."""
    out = []
    for t in traces:
        typ = t.get("type")
        a = t.get("action") or {}
        r = t.get("result") or {}
        row: dict[str, Any] = {
            "transaction_hash": (t.get("transactionHash") or None) and t["transactionHash"].lower(),
            "transaction_index": t.get("transactionPosition"), "trace_type": typ, "call_type": None,
            "reward_type": None, "from": None, "to": None, "value": None, "error": t.get("error"),
            "trace_address": list(t.get("traceAddress") or []), "subtraces": t.get("subtraces", 0),
        }
        if typ == "call":
            row.update({"from": _addr(a.get("from")), "to": _addr(a.get("to")), "value": hex_int(a.get("value")),
                        "call_type": a.get("callType")})
        elif typ == "create":
            row.update({"from": _addr(a.get("from")), "to": _addr(r.get("address")), "value": hex_int(a.get("value"))})
        elif typ == "suicide":
            row.update({"from": _addr(a.get("address")), "to": _addr(a.get("refundAddress")),
                        "value": hex_int(a.get("balance"))})
        elif typ == "reward":
            row.update({"to": _addr(a.get("author")), "value": hex_int(a.get("value")),
                        "reward_type": a.get("rewardType")})
        out.append(row)
    set_trace_status(out)
    return out


def flatten_geth_traces(results: Sequence[dict[str, Any]], tx_hashes: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """geth ``debug_traceBlockByNumber`` with ``callTracer`` -> flat traces (same schema as Parity's).

    ``results`` has one entry per transaction in block order (``{"result": call, "txHash": ...}``).
    """
    out: list[dict[str, Any]] = []
    for i, entry in enumerate(results):
        call = entry.get("result", entry) if isinstance(entry, dict) else {}
        txh = entry.get("txHash") if isinstance(entry, dict) else None
        if txh is None and tx_hashes is not None and i < len(tx_hashes):
            txh = tx_hashes[i]
        _walk_geth(call, txh.lower() if txh else None, i, [], out)
    set_trace_status(out)
    return out


def _walk_geth(call: dict[str, Any], txh: str | None, tx_index: int, addr: list[int], out: list[dict[str, Any]]) -> None:
    typ = (call.get("type") or "").upper()
    subs = call.get("calls") or []
    row: dict[str, Any] = {
        "transaction_hash": txh, "transaction_index": tx_index, "trace_type": None, "call_type": None,
        "reward_type": None, "from": _addr(call.get("from")), "to": _addr(call.get("to")),
        "value": hex_int(call.get("value")), "error": call.get("error"), "trace_address": list(addr),
        "subtraces": len(subs),
    }
    if typ in ("CALL", "CALLCODE", "DELEGATECALL", "STATICCALL"):
        row["trace_type"], row["call_type"] = "call", typ.lower()
    elif typ in ("CREATE", "CREATE2"):
        row["trace_type"] = "create"
    elif typ == "SELFDESTRUCT":
        row["trace_type"] = "suicide"
    else:
        row["trace_type"] = typ.lower() or None
    out.append(row)
    for k, sub in enumerate(subs):
        _walk_geth(sub, txh, tx_index, [*addr, k], out)


def set_trace_status(rows: list[dict[str, Any]]) -> None:
    """status 0 for a trace with an error and for everything below it (ethereum-etl's rule)."""
    failed: set[tuple[Any, tuple[int, ...]]] = set()
    for r in rows:
        key = (r["transaction_hash"] if r["transaction_hash"] is not None else r["transaction_index"],
               tuple(r["trace_address"]))
        ta = key[1]
        bad = r.get("error") is not None or any((key[0], ta[:j]) in failed for j in range(len(ta)))
        if bad:
            failed.add(key)
        r["status"] = 0 if bad else 1


def trace_transfers(traces: Sequence[dict[str, Any]], txs_by_index: dict[int, dict[str, Any]], chain: str,
                    block_hash: str, block_number: int, next_index: dict[Any, int]) -> list[dict[str, Any]]:
    """Value-moving traces -> ``internal`` / ``selfdestruct`` / ``reward`` transfers, and the block-level
    ``genesis`` allocations and ``daofork`` balance moves of ethereum-etl's special traces.

    ``next_index`` maps a tx index (or None for block-level rows) to the next free transfer index and is
    advanced in place.
    """
    out = []
    for r in traces:
        v = r.get("value") or 0
        typ = r["trace_type"]
        if typ in ("reward", "genesis", "daofork"):   # block-level: no transaction
            if v and r["to"] is not None:
                k = next_index.get(None, 0)
                next_index[None] = k + 1
                frm = r["from"] if typ == "daofork" else None
                out.append(make_transfer(chain, block_hash, block_number, None, None, k, typ, frm, r["to"], "native", v))
            continue
        if not v or r["status"] != 1 or (not r["trace_address"] and typ != "suicide"):
            continue
        if typ == "call" and r["call_type"] not in ("call", None):
            continue  # delegatecall / staticcall carry no value of their own; callcode sends to itself
        ti = r["transaction_index"]
        tx = txs_by_index.get(ti) if ti is not None else None
        if tx is None or tx.get("status") == 0:
            continue
        kind = "selfdestruct" if typ == "suicide" else "internal"
        if r["from"] is None or (r["to"] is None and kind != "selfdestruct"):
            continue
        k = next_index.get(ti, 0)
        next_index[ti] = k + 1
        out.append(make_transfer(chain, block_hash, block_number, tx["hash"], ti, k, kind, r["from"], r["to"], "native", v,
                             trace_address=".".join(str(x) for x in r["trace_address"])))
    return out


# -- token metadata ---------------------------------------------------------------------------------------
def decode_abi_string(result: Any) -> str | None:
    """An ``eth_call`` result holding an ABI ``string`` or a ``bytes32`` (old tokens such as MKR) -> text.

    >>> decode_abi_string("0x4d4b520000000000000000000000000000000000000000000000000000000000")
    'MKR'
    """
    if not isinstance(result, str) or len(result) < 66:
        return None
    w = _words(result)
    try:
        if len(w) >= 3:
            off = int(w[0], 16)
            if off % 32 == 0 and off // 32 < len(w):
                n = int(w[off // 32], 16)
                raw = bytes.fromhex("".join(w[off // 32 + 1:]))[:n]
                if len(raw) == n:
                    return _clean_text(raw)
        return _clean_text(bytes.fromhex(w[0]).rstrip(b"\x00"))
    except ValueError:
        return None


def _clean_text(raw: bytes) -> str | None:
    text = raw.decode("utf-8", errors="replace").replace("\x00", "").strip()
    return text or None


def decode_uint(result: Any, *, max_value: int | None = None) -> int | None:
    """An ``eth_call`` uint result -> int (None when empty, not hex or above ``max_value``)."""
    if not isinstance(result, str) or len(result) < 3:
        return None
    try:
        v = int(result[:66], 16)
    except ValueError:
        return None
    return None if max_value is not None and v > max_value else v
