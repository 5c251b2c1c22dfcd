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

import json
import re
from collections.abc import Iterable, Sequence
from typing import Any

from chainsleuth.core.account import MAX_DECIMAL
from chainsleuth.errors import InvalidInput

__all__ = [
    "ERC1155_BATCH_TOPIC",
    "ERC1155_SINGLE_TOPIC",
    "MAX_COUNTER",
    "MAX_UINT256",
    "MAX_WEI",
    "TRANSFER_TOPIC",
    "a_list",
    "address",
    "an_object",
    "bad_field",
    "check_header",
    "check_receipt",
    "decode_abi_string",
    "decode_uint",
    "expect",
    "fee_transfers",
    "flatten_geth_traces",
    "flatten_parity_traces",
    "hash32",
    "hex_data",
    "hex_int",
    "make_transfer",
    "map_block",
    "map_receipt",
    "quantity",
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
    """``"0x1f"`` -> 31; ints pass through; None and ``"0x"`` -> None; anything else is InvalidInput.

    >>> hex_int("0x1f"), hex_int(None), hex_int(7)
    (31, None, 7)
    """
    if v is None:
        return None
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    if isinstance(v, str):
        if v in ("0x", ""):
            return None
        try:
            return int(v, 16) if v[:2] in ("0x", "0X") else int(v)
        except ValueError:
            pass
    raise InvalidInput(f"expected a hex quantity, got {str(v)[:80]!r}", value=str(v)[:80])


# -- checked fields of node answers ----------------------------------------------------------------------
#: largest counter a field may hold (block number, timestamp, gas, nonce, index, size): the store's BIGINT
MAX_COUNTER = 2**63 - 1
#: largest uint256 (token amounts in log data)
MAX_UINT256 = 2**256 - 1
#: largest amount of wei a transaction, receipt, trace or withdrawal may carry: the store's exact
#: DECIMAL(38,0). No chain comes near it (all ether is about 1.2 * 10**26 wei).
MAX_WEI = MAX_DECIMAL
_LIMIT_NAMES = {MAX_COUNTER: "2^63-1", MAX_UINT256: "2^256-1", MAX_WEI: "10^38-1 wei"}
_HEXDIGITS = frozenset("0123456789abcdefABCDEF")
# the well-formed cases, matched in C: a node's answer is checked field by field, so the common path is one
# regex match (the slow paths below only run to say what is wrong)
_QUANTITY = re.compile(r"0x[0-9a-fA-F]{1,64}").fullmatch
_HASH32 = re.compile(r"0x[0-9a-fA-F]{64}").fullmatch
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}").fullmatch
_HEXDATA = re.compile(r"0x(?:[0-9a-fA-F]{2})*").fullmatch


def _show(v: Any) -> str:
    text = json.dumps(v) if not isinstance(v, str) else repr(v)
    return text if len(text) <= 80 else text[:77] + "..."


def bad_field(name: str, v: Any, what: str) -> InvalidInput:
    """The error for field ``name`` holding ``v``: ``field 'gasUsed' is '0xZZZ', not a hex quantity``."""
    if v is _MISSING:
        return InvalidInput(f"field {name!r} is missing ({what} expected)", field=name)
    return InvalidInput(f"field {name!r} is {_show(v)}, {what}", field=name, value=_show(v))


_MISSING: Any = object()


def quantity(obj: dict[str, Any], name: str, *, limit: int = MAX_COUNTER, required: bool = True,
             ints: bool = False) -> int | None:
    """``obj[name]`` as a JSON-RPC quantity (``0x`` and 1 to 64 hex digits; a JSON integer only with
    ``ints``, for the fields nodes send as numbers) in ``0..limit``; None when absent or null and not ``required``. Anything else raises InvalidInput naming
    the field and the value.

    >>> quantity({"gasUsed": "0x5208"}, "gasUsed")
    21000
    >>> quantity({"gasUsed": "0xZZZ"}, "gasUsed")
    Traceback (most recent call last):
    ...
    chainsleuth.errors.InvalidInput: field 'gasUsed' is '0xZZZ', not a hex quantity (field=gasUsed, value='0xZZZ')
    """
    v = obj.get(name, _MISSING)
    if type(v) is str and _QUANTITY(v):
        n = int(v, 16)
        if n <= limit:
            return n
        raise bad_field(name, v, f"above {_LIMIT_NAMES.get(limit, str(limit))}")
    if v is _MISSING or v is None:
        if required:
            raise bad_field(name, v, "a hex quantity")
        return None
    if isinstance(v, bool):
        raise bad_field(name, v, "not a hex quantity")
    if isinstance(v, int):
        if not ints:
            raise bad_field(name, v, "not a hex quantity (a JSON number)")
        n = v
    elif isinstance(v, str) and v[:2] == "0x" and len(v) > 2 and _HEXDIGITS.issuperset(v[2:]):
        if len(v[2:].lstrip("0")) > 64:
            raise bad_field(name, v, "above 2^256-1")
        n = int(v, 16)
    else:
        raise bad_field(name, v, "not a hex quantity")
    if n < 0:
        raise bad_field(name, v, "negative")
    if n > limit:
        raise bad_field(name, v, f"above {_LIMIT_NAMES.get(limit, str(limit))}")
    return n


def _fixed_hex(obj: dict[str, Any], name: str, match: Any, what: str, required: bool) -> str | None:
    """``obj[name]`` as ``0x`` and a fixed number of hex digits (``match``), lower case; None when absent or
    null and not ``required``; anything else raises InvalidInput naming the field, ``what`` it must be."""
    v = obj.get(name, _MISSING)
    if type(v) is str and match(v):
        return v.lower()
    if v is _MISSING or v is None:
        if required:
            raise bad_field(name, v, what.split(" (")[0])
        return None
    raise bad_field(name, v, f"not {what}")


def hash32(obj: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    """``obj[name]`` as a 32-byte hash (``0x`` and 64 hex digits), lower case."""
    return _fixed_hex(obj, name, _HASH32, "a 32-byte hash (0x and 64 hex digits)", required)


def address(obj: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    """``obj[name]`` as an address (``0x`` and 40 hex digits), lower case; None when absent or null."""
    return _fixed_hex(obj, name, _ADDRESS, "an address (0x and 40 hex digits)", required)


def hex_data(obj: dict[str, Any], name: str) -> str:
    """``obj[name]`` as hex bytes (``0x`` and an even number of hex digits); ``0x`` when absent."""
    v = obj.get(name, _MISSING)
    if type(v) is str and _HEXDATA(v):
        return v
    if v is _MISSING or v is None:
        return "0x"
    if not (isinstance(v, str) and v[:2] == "0x" and len(v) % 2 == 0 and _HEXDIGITS.issuperset(v[2:])):
        raise bad_field(name, v, "not hex data (0x and an even number of hex digits)")
    return v


def a_list(obj: dict[str, Any], name: str, *, required: bool = False) -> list[Any]:
    """``obj[name]`` as a JSON list ([] when absent or null and not ``required``)."""
    v = obj.get(name, _MISSING)
    if v is _MISSING or v is None:
        if required:
            raise bad_field(name, v, "a list")
        return []
    if not isinstance(v, list):
        raise bad_field(name, v, "not a list")
    return v


def an_object(v: Any, what: str, field: str | None = None) -> dict[str, Any]:
    """``v`` when it is a JSON object, else InvalidInput saying what it is instead (naming ``field``)."""
    if not isinstance(v, dict):
        if field is not None:
            raise bad_field(field, v, "not an object")
        raise InvalidInput(f"{what} is {_show(v)}, not an object", value=_show(v))
    return v


def expect(name: str, got: Any, want: Any, what: str) -> None:
    """InvalidInput naming field ``name`` unless ``got == want`` (``what``: what ``want`` is)."""
    if got != want:
        raise InvalidInput(f"field {name!r} is {_show(got)}, not {what} ({_show(want)})", field=name,
                           value=_show(got))


def _addr(v: Any) -> str | None:
    return v.lower() if isinstance(v, str) and v else None


def _word_addr(word: str) -> str:
    """The address in the low 20 bytes of a 32-byte topic or data word (hex without 0x, 64 chars)."""
    return "0x" + word[-40:].lower()


def map_block(raw: Any, chain: str, traces: str, number: int | None = None) -> tuple[dict[str, Any],
                                                                                 list[dict[str, Any]]]:
    """A block with full transactions -> (block row, tx rows without receipt fields).

    Every field read is checked (InvalidInput naming it): the block must be the one asked for (``number``),
    its transactions must say they are in it (block hash and number) at their position, with no hash twice.
    """
    raw = an_object(raw, "the answer")
    got = quantity(raw, "number")
    assert got is not None
    if number is not None and got != number:
        raise bad_field("number", raw["number"], f"not block {number}, the block asked for")
    number = got
    bhash = hash32(raw, "hash")
    assert bhash is not None
    txs_raw = a_list(raw, "transactions", required=True)
    withdrawals = a_list(raw, "withdrawals", required=raw.get("withdrawalsRoot") is not None)
    for k, w in enumerate(withdrawals):
        an_object(w, f"withdrawal {k}")
    block = {
        "chain": chain, "number": number, "hash": bhash, "parent_hash": hash32(raw, "parentHash"),
        "time": quantity(raw, "timestamp"), "miner": address(raw, "miner", required=True),
        "gas_used": quantity(raw, "gasUsed"), "gas_limit": quantity(raw, "gasLimit"),
        "base_fee_per_gas": quantity(raw, "baseFeePerGas", limit=MAX_WEI, required=False), "tx_count": len(txs_raw),
        "withdrawal_count": len(withdrawals), "size": quantity(raw, "size", required=False), "traces": traces,
        "transactions_root": hash32(raw, "transactionsRoot", required=False),
    }
    txs: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, t in enumerate(txs_raw):
        if isinstance(t, str):
            raise InvalidInput(f"block {number} lists transaction hashes only; full transactions are needed",
                               field="transactions", value=t[:80])
        try:
            txs.append(_map_tx(an_object(t, "the transaction"), chain, bhash, number, i))
        except InvalidInput as e:
            raise InvalidInput(f"transaction {i}: {e.message}", **e.details) from None
        if txs[-1]["hash"] in seen:
            raise InvalidInput(f"transaction {i}: field 'hash' is {txs[-1]['hash']!r}, listed twice in the block",
                               field="hash", value=txs[-1]["hash"])
        seen.add(txs[-1]["hash"])
    if block["base_fee_per_gas"] is None and any(t["tx_type"] >= 2 or t["max_fee_per_gas"] is not None for t in txs):
        raise bad_field("baseFeePerGas", raw.get("baseFeePerGas", _MISSING),
                        "but the block has EIP-1559 transactions, which need a base fee")
    return block, txs


def _map_tx(t: dict[str, Any], chain: str, bhash: str, number: int, i: int) -> dict[str, Any]:
    if "blockHash" in t:
        expect("blockHash", hash32(t, "blockHash"), bhash, "the hash of its block")
    if "blockNumber" in t:
        expect("blockNumber", quantity(t, "blockNumber"), number, "the number of its block")
    if "transactionIndex" in t:
        expect("transactionIndex", quantity(t, "transactionIndex"), i, "its position in the block")
    inp = hex_data(t, "input") if t.get("input") is not None else hex_data(t, "data")
    return {
        "chain": chain, "hash": hash32(t, "hash"), "block_hash": bhash, "block_number": number, "tx_index": i,
        "from": address(t, "from", required=True), "to": address(t, "to"),
        "value": quantity(t, "value", limit=MAX_WEI), "nonce": quantity(t, "nonce", required=False),
        "tx_type": quantity(t, "type", limit=255, required=False) or 0, "gas": quantity(t, "gas", required=False),
        "gas_price": quantity(t, "gasPrice", limit=MAX_WEI, required=False),
        "max_fee_per_gas": quantity(t, "maxFeePerGas", limit=MAX_WEI, required=False),
        "max_priority_fee_per_gas": quantity(t, "maxPriorityFeePerGas", limit=MAX_WEI, required=False),
        "input_size": max(0, (len(inp) - 2) // 2), "method_id": inp[:10] if len(inp) >= 10 else None,
        "status": None, "gas_used": None, "effective_gas_price": None, "fee": None, "contract_address": None,
    }


def withdrawal_transfers(raw: dict[str, Any], chain: str, start_index: int = 0, *,
                         ints: bool = True) -> list[dict[str, Any]]:
    """Beacon-chain withdrawals (amounts in Gwei, at most 2^64-1) -> ``withdrawal`` transfers in wei."""
    out = []
    number = hex_int(raw["number"])
    for k, w in enumerate(a_list(raw, "withdrawals")):
        try:
            amount = (quantity(an_object(w, "the withdrawal"), "amount", limit=2**64 - 1, ints=ints) or 0) * _GWEI
            to = address(w, "address", required=True)
        except InvalidInput as e:
            raise InvalidInput(f"withdrawal {k}: {e.message}", **e.details) from None
        if amount == 0:
            continue
        out.append(make_transfer(chain, raw["hash"].lower(), number, None, None, start_index + k, "withdrawal",
                                 None, to, "native", amount))
    return out


def make_transfer(chain: str, block_hash: str, block_number: int | None, tx_hash: str | None,
                  tx_index: int | None, index: int, kind: str, frm: str | None, to: str | None, asset: str,
                  value: int, token_id: str | None = None, trace_address: str | None = None,
                  log_index: int | None = None) -> dict[str, Any]:
    """One transfer row (a dict following TRANSFER_SCHEMA, without ``value_big``)."""
    return {"chain": chain, "block_hash": block_hash, "block_number": block_number, "tx_hash": tx_hash,
            "tx_index": tx_index, "index": index, "kind": kind, "from": frm, "to": to, "asset": asset,
            "token_id": token_id, "value": value, "trace_address": trace_address, "log_index": log_index}


def check_receipt(tx: dict[str, Any], receipt: Any) -> dict[str, Any]:
    """``receipt`` when it is the receipt of ``tx`` (hash, block, position) and its logs hold up."""
    receipt = an_object(receipt, "the receipt")
    expect("transactionHash", hash32(receipt, "transactionHash"), tx["hash"], "the hash of the transaction")
    if receipt.get("blockHash") is not None:
        expect("blockHash", hash32(receipt, "blockHash"), tx["block_hash"], "the hash of its block")
    if receipt.get("blockNumber") is not None:
        expect("blockNumber", quantity(receipt, "blockNumber"), tx["block_number"], "the number of its block")
    if receipt.get("transactionIndex") is not None:
        expect("transactionIndex", quantity(receipt, "transactionIndex"), tx["tx_index"],
               "the position of the transaction")
    if receipt.get("status") is None and receipt.get("root") is None:
        raise bad_field("status", receipt.get("status", _MISSING), "a status (or a pre-Byzantium state root)")
    for k, log in enumerate(a_list(receipt, "logs", required=True)):
        try:
            _check_log(an_object(log, "the log"), tx)
        except InvalidInput as e:
            raise InvalidInput(f"log {k}: {e.message}", **e.details) from None
    return receipt


def map_receipt(tx: dict[str, Any], receipt: Any, *, ints: bool = True) -> None:
    """Copy a receipt's status, gas used, effective price, fee and created contract into ``tx`` (in place),
    after checking its values (status 0 or 1, gas used within the transaction's gas limit, prices and the
    fee within :data:`MAX_WEI`)."""
    receipt = an_object(receipt, f"the receipt of transaction {tx['hash']}")
    status = quantity(receipt, "status", limit=1, required=False, ints=ints)
    gas_used = quantity(receipt, "gasUsed", ints=ints)
    assert gas_used is not None
    if tx.get("gas") is not None and gas_used > tx["gas"]:
        raise bad_field("gasUsed", receipt["gasUsed"], f"above the transaction's gas limit ({tx['gas']})")
    price = quantity(receipt, "effectiveGasPrice", limit=MAX_WEI, required=False, ints=ints)
    if price is None:  # old nodes: the legacy gas price is what was paid
        price = tx["gas_price"] or 0
    blob_fee = (quantity(receipt, "blobGasUsed", required=False, ints=ints) or 0) * \
        (quantity(receipt, "blobGasPrice", limit=MAX_WEI, required=False, ints=ints) or 0)
    fee = gas_used * price + blob_fee
    if fee > MAX_WEI:
        raise bad_field("gasUsed", receipt["gasUsed"], f"making a fee of {fee} wei, above 10^38-1")
    contract = address(receipt, "contractAddress")
    tx["status"] = status
    tx["gas_used"] = gas_used
    tx["effective_gas_price"] = price
    tx["fee"] = fee
    tx["_blob_fee"] = blob_fee
    tx["contract_address"] = contract


def _check_log(log: dict[str, Any], tx: dict[str, Any]) -> None:
    if log.get("transactionHash") is not None:
        expect("transactionHash", hash32(log, "transactionHash"), tx["hash"], "the hash of its transaction")
    if log.get("blockHash") is not None:
        expect("blockHash", hash32(log, "blockHash"), tx["block_hash"], "the hash of its block")
    if log.get("blockNumber") is not None:
        expect("blockNumber", quantity(log, "blockNumber"), tx["block_number"], "the number of its block")
    if log.get("transactionIndex") is not None:
        expect("transactionIndex", quantity(log, "transactionIndex"), tx["tx_index"],
               "the position of its transaction")
    address(log, "address", required=True)
    quantity(log, "logIndex", required=False)
    if "data" not in log:
        raise bad_field("data", _MISSING, "hex data")
    hex_data(log, "data")
    for t in a_list(log, "topics", required=True):
        hash32({"topics": t}, "topics")
    if not isinstance(log.get("removed", False), bool):
        raise bad_field("removed", log["removed"], "not true or false")


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
def _index_list(obj: dict[str, Any], name: str) -> list[int]:
    out = a_list(obj, name)
    if not all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= MAX_COUNTER for x in out):
        raise bad_field(name, out, "not a list of positions")
    return out


def flatten_parity_traces(traces: Any, block_number: int | None = None, block_hash: str | None = None,
                          tx_hashes: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Parity/Erigon ``trace_block`` -> flat traces (the schema of ethereum-etl's traces export).

    Each trace is checked (InvalidInput naming trace and field): an object of its block (``block_number``,
    ``block_hash``) whose ``transactionPosition`` and ``transactionHash`` are one of its ``tx_hashes``,
    with values in wei; with ``tx_hashes`` each transaction has its root trace, and each trace its parent
    and as many child traces as its ``subtraces`` says, none twice.
    """
    if traces is None and not tx_hashes:
        return []
    if not isinstance(traces, list):
        raise InvalidInput(f"the answer is {_show(traces)}, not a list of traces", value=_show(traces))
    out = []
    for k, t in enumerate(traces):
        try:
            out.append(_parity_row(an_object(t, "the trace"), block_number, block_hash, tx_hashes))
        except InvalidInput as e:
            raise InvalidInput(f"trace {k}: {e.message}", **e.details) from None
    if tx_hashes is not None:
        _check_trace_tree(out, len(tx_hashes))
    set_trace_status(out)
    return out


def _check_trace_tree(rows: list[dict[str, Any]], n_txs: int) -> None:
    keys: set[tuple[Any, tuple[int, ...]]] = set()
    for r in rows:
        if r["trace_type"] == "reward":
            continue
        key = (r["transaction_index"], tuple(r["trace_address"]))
        if key in keys:
            raise InvalidInput(f"trace {'.'.join(map(str, key[1])) or 'root'} of transaction {key[0]} is there twice",
                               field="traceAddress", value=str(list(key[1])))
        keys.add(key)
    for i in range(n_txs):
        if (i, ()) not in keys:
            raise InvalidInput(f"transaction {i} has no root trace", field="transactionPosition", value=i)
    for r in rows:
        if r["trace_type"] == "reward":
            continue
        pos, addr = r["transaction_index"], tuple(r["trace_address"])
        if addr and (pos, addr[:-1]) not in keys:
            raise InvalidInput(f"trace {'.'.join(map(str, addr))} of transaction {pos} has no parent trace",
                               field="traceAddress", value=str(list(addr)))
        missing = [k for k in range(r["subtraces"]) if (pos, (*addr, k)) not in keys]
        if missing or (pos, (*addr, r["subtraces"])) in keys:
            raise InvalidInput(f"trace {'.'.join(map(str, addr)) or 'root'} of transaction {pos} says "
                               f"{r['subtraces']} subtraces, which are not the traces below it",
                               field="subtraces", value=r["subtraces"])


_PARITY_TYPES = frozenset({"call", "create", "suicide", "reward"})
_CALL_TYPES = frozenset({"call", "callcode", "delegatecall", "staticcall"})


def _parity_row(t: dict[str, Any], block_number: int | None, block_hash: str | None,
                tx_hashes: Sequence[str] | None) -> dict[str, Any]:
    if block_number is not None and t.get("blockNumber") is not None:
        expect("blockNumber", quantity(t, "blockNumber", ints=True), block_number, "the number of its block")
    if block_hash is not None and t.get("blockHash") is not None:
        expect("blockHash", hash32(t, "blockHash"), block_hash, "the hash of its block")
    typ = t.get("type", _MISSING)
    if not isinstance(typ, str) or typ not in _PARITY_TYPES:
        raise bad_field("type", typ, f"not a trace type ({', '.join(sorted(_PARITY_TYPES))})")
    pos = quantity(t, "transactionPosition", required=False, ints=True)
    txh = hash32(t, "transactionHash", required=False)
    if tx_hashes is not None and typ != "reward":
        if pos is None or pos >= len(tx_hashes):
            raise bad_field("transactionPosition", t.get("transactionPosition", _MISSING),
                            f"not one of the block's {len(tx_hashes)} transactions")
        expect("transactionHash", txh, tx_hashes[pos], f"the hash of transaction {pos}")
    if "action" not in t:
        raise bad_field("action", _MISSING, "an object")
    a = an_object(t["action"], "", "action")
    r = an_object(t.get("result") or {}, "", "result")
    if "traceAddress" not in t and typ != "reward":
        raise bad_field("traceAddress", _MISSING, "a list of positions")
    ct = a.get("callType")
    if typ == "call" and ct is not None and (not isinstance(ct, str) or ct not in _CALL_TYPES):
        raise bad_field("callType", ct, f"not a call type ({', '.join(sorted(_CALL_TYPES))})")
    err = t.get("error")
    row: dict[str, Any] = {
        "transaction_hash": txh,
        "transaction_index": pos, "trace_type": typ, "call_type": None,
        "reward_type": None, "from": None, "to": None, "value": None, "error": None if err is None else str(err),
        "trace_address": _index_list(t, "traceAddress"), "subtraces": quantity(t, "subtraces", required=False, ints=True) or 0,
    }
    if typ == "call":
        row.update({"from": address(a, "from"), "to": address(a, "to"),
                    "value": quantity(a, "value", limit=MAX_WEI, required=False),
                    "call_type": ct})
    elif typ == "create":
        row.update({"from": address(a, "from"), "to": address(r, "address"),
                    "value": quantity(a, "value", limit=MAX_WEI, required=False)})
    elif typ == "suicide":
        row.update({"from": address(a, "address"), "to": address(a, "refundAddress"),
                    "value": quantity(a, "balance", limit=MAX_WEI, required=False)})
    elif typ == "reward":
        row.update({"to": address(a, "author"), "value": quantity(a, "value", limit=MAX_WEI, required=False),
                    "reward_type": a.get("rewardType") if isinstance(a.get("rewardType"), str) else None})
    return row


def flatten_geth_traces(results: Any, tx_hashes: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """geth ``debug_traceBlockByNumber`` with ``callTracer`` -> flat traces (same schema as Parity's).

    ``results`` has one entry per transaction in block order (``{"result": call, "txHash": ...}``); with
    ``tx_hashes`` there must be exactly one per transaction, for that transaction.
    """
    if results is None:
        results = []
    if not isinstance(results, list):
        raise InvalidInput(f"the answer is {_show(results)}, not a list of call traces", value=_show(results))
    if tx_hashes is not None and len(results) != len(tx_hashes):
        raise InvalidInput(f"the answer has {len(results)} call traces for {len(tx_hashes)} transactions",
                           value=len(results))
    out: list[dict[str, Any]] = []
    for i, entry in enumerate(results):
        try:
            entry = an_object(entry, "the call trace")
            call = an_object(entry.get("result", entry), "", "result")
            txh = hash32(entry, "txHash", required=False)
            if tx_hashes is not None:
                if txh is not None:
                    expect("txHash", txh, tx_hashes[i], f"the hash of transaction {i}")
                txh = tx_hashes[i]
            _walk_geth(call, txh, i, out)
        except InvalidInput as e:
            raise InvalidInput(f"call trace {i}: {e.message}", **e.details) from None
    set_trace_status(out)
    return out


def _walk_geth(root: dict[str, Any], txh: str | None, tx_index: int, out: list[dict[str, Any]]) -> None:
    """The call tree below ``root`` in depth-first order (a stack, not recursion: calls nest 1024 deep)."""
    stack: list[tuple[dict[str, Any], list[int]]] = [(root, [])]
    while stack:
        call, addr = stack.pop()
        typ = call.get("type")
        if typ is not None and not isinstance(typ, str):
            raise bad_field("type", typ, "not a call type")
        typ = (typ or "").upper()
        subs = a_list(call, "calls")
        err = call.get("error")
        row: dict[str, Any] = {
            "transaction_hash": txh, "transaction_index": tx_index, "trace_type": None, "call_type": None,
            "reward_type": None, "from": address(call, "from"), "to": address(call, "to"),
            "value": quantity(call, "value", limit=MAX_WEI, required=False),
            "error": None if err is None else str(err), "trace_address": addr, "subtraces": len(subs),
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
        for k in range(len(subs) - 1, -1, -1):
            sub_addr = [*addr, k]
            stack.append((an_object(subs[k], f"call {'.'.join(map(str, sub_addr))}"), sub_addr))


def check_header(raw: Any, number: int) -> tuple[str, str]:
    """(hash, parent hash) of the block header answered for block ``number``, checked."""
    raw = an_object(raw, "the answer")
    got = quantity(raw, "number")
    if got != number:
        raise bad_field("number", raw["number"], f"not block {number}, the block asked for")
    h, parent = hash32(raw, "hash"), hash32(raw, "parentHash")
    assert h is not None and parent is not None
    return h, parent


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
