"""ethereum-etl exports -> one :class:`~chainsleuth.core.account.AccountBatch`, with the same value rules as
the JSON-RPC source (docs/evm.md).

Reads every ``.csv`` and ``.json`` (newline-delimited JSON) file under a directory (or the files given) and
classifies each by its name: ``blocks``, ``transactions``, ``receipts``, ``logs``, ``token_transfers``,
``traces``, ``tokens`` (an ``expected_`` prefix, as in ethereum-etl's own tests, is ignored; so are partition
folders such as ``start_block=.../``). Transactions enriched with ``receipt_*`` fields (the ``stream``
command's output) need no separate receipts file.

Token transfers come from the logs when the export has them (so ERC-721 and ERC-1155 are told apart);
otherwise the ``token_transfers`` file is read as ERC-20 (ethereum-etl writes an ERC-721 token id into its
``value`` column, so such rows are ambiguous: a note says so). Without ``traces`` the data lacks internal
transfers and blocks are marked ``traces='none'``; without receipts, statuses and fees are unknown.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chainsleuth.core.account import AccountBatch
from chainsleuth.errors import InvalidInput, ParseError
from chainsleuth.sources.evm import mappers as m
from chainsleuth.sources.evm.batch import build_batch, native_transfer

__all__ = ["KINDS", "EthereumEtlSource"]

#: file kinds, matched against the start of a file's name (longest first)
KINDS = ("token_transfers", "transactions", "receipts", "blocks", "traces", "tokens", "logs")
#: columns a file of each kind must have (the others are read when present)
_REQUIRED = {
    "blocks": ("number", "hash", "parent_hash"),
    "transactions": ("hash", "block_hash", "block_number", "transaction_index", "from_address"),
    "receipts": ("transaction_hash",),
    "traces": ("block_number",),
    "logs": ("transaction_hash", "address"),
    "token_transfers": ("transaction_hash", "from_address", "to_address", "token_address", "value"),
    "tokens": ("address",),
}
csv.field_size_limit(1 << 30)
_RANGE = re.compile(r"_(\d+)_(\d+)$")


def _int(v: Any) -> int | None:
    if v is None or v == "":
        return None
    if isinstance(v, int):
        return v
    s = str(v)
    return int(s, 16) if s.startswith("0x") else int(float(s)) if "e" in s.lower() else int(s)


def _str(v: Any) -> str | None:
    return None if v is None or v == "" else str(v).lower()


class EthereumEtlSource:
    """An ethereum-etl export on disk."""

    kind = "etl"

    def __init__(self, path: Path, chain: str) -> None:
        self.path = Path(path)
        self.chain = chain
        self.endpoint = str(self.path)
        if not self.path.exists():
            raise InvalidInput(f"no ethereum-etl export at {self.path}", file=str(self.path))
        files = [self.path] if self.path.is_file() else sorted(
            p for p in self.path.rglob("*") if p.suffix in (".csv", ".json") and p.is_file())
        self.files: dict[str, list[Path]] = defaultdict(list)
        #: block range of a partitioned export (``blocks_00000000_00099999.csv``) -> kind -> files
        self.partitions: dict[tuple[int, int] | None, dict[str, list[Path]]] = defaultdict(lambda: defaultdict(list))
        for p in files:
            name = p.stem.removeprefix("expected_")
            kind = next((k for k in KINDS if name.startswith(k)), None)
            if kind is not None:
                self.files[kind].append(p)
                m_range = _RANGE.search(name)
                key = (int(m_range.group(1)), int(m_range.group(2))) if m_range and kind != "tokens" else None
                self.partitions[key][kind].append(p)
        for key in [k for k in self.partitions if k is not None and "blocks" not in self.partitions[k]]:
            home = next((k for k in self.partitions if k is not None and "blocks" in self.partitions[k]
                         and k[0] <= key[0] <= k[1]), None)
            if home is None:
                f = next(iter(self.partitions[key].values()))[0]
                raise InvalidInput(f"no blocks file of the export covers blocks {key[0]}..{key[1]} of {f}", file=str(f))
            for kind, ps in self.partitions.pop(key).items():
                self.partitions[home][kind].extend(ps)
        if len(self.partitions) > 1 and None in self.partitions:
            loose = self.partitions.pop(None)   # files without a block range (tokens.csv, ...) go with the first
            first = min(k for k in self.partitions if k is not None)
            for kind, ps in loose.items():
                self.partitions[first][kind].extend(ps)
        if not self.files.get("blocks"):
            raise InvalidInput(f"{self.path} holds no blocks file (blocks*.csv or blocks*.json) of an "
                               "ethereum-etl export", file=str(self.path))
        self.traces = "etl" if self.files.get("traces") else "none"

    def content_hash(self) -> str:
        h = hashlib.sha256()
        for kind in sorted(self.files):
            for p in self.files[kind]:
                h.update(p.name.encode())
                h.update(p.read_bytes())
        return h.hexdigest()

    def _rows(self, kind: str, files: dict[str, list[Path]] | None = None) -> list[dict[str, Any]]:
        """The rows of every file of ``kind``; a file without one of the kind's required columns (a
        bitcoin-etl export, a hand-made CSV) is a ParseError naming it and the column."""
        need = _REQUIRED[kind]
        out: list[dict[str, Any]] = []
        for p in (self.files if files is None else files).get(kind, []):
            text = p.read_text(encoding="utf-8")
            if p.suffix == ".csv":
                reader = csv.DictReader(text.splitlines())
                _require(p, kind, need, reader.fieldnames or ())
                out.extend(reader)
                continue
            for i, line in enumerate(text.splitlines()):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except ValueError as e:
                    raise ParseError(f"line {i + 1} of {p} is not JSON: {e}", file=p, offset=i + 1) from None
                if not isinstance(row, dict) or not all(k in row for k in need):
                    _require(p, kind, need, row if isinstance(row, dict) else (), line=i + 1)
                out.append(row)
        return out

    def iter_batches(self) -> Iterator[AccountBatch]:
        """One batch per block range of a partitioned export (``ethereumetl export_all`` writes
        ``start_block=.../end_block=...`` folders), in block order; an unpartitioned export is one batch."""
        for key in sorted(self.partitions, key=lambda k: (-1, -1) if k is None else k):
            yield self.read(self.partitions[key])

    def read(self, files: dict[str, list[Path]] | None = None) -> AccountBatch:
        """The export (or the given files of one partition) as one batch."""
        def rows(kind: str) -> list[dict[str, Any]]:
            return self._rows(kind, files)

        notes: list[str] = []
        blocks: list[dict[str, Any]] = []
        raw_withdrawals: dict[int, list[dict[str, Any]]] = {}
        for r in rows("blocks"):
            n = _int(r["number"])
            assert n is not None
            w = r.get("withdrawals") or []
            if isinstance(w, str):
                w = json.loads(w if w.startswith("[") else f"[{w}]") if w.strip() else []
            raw_withdrawals[n] = w
            blocks.append({
                "chain": self.chain, "number": n, "hash": _str(r["hash"]), "parent_hash": _str(r["parent_hash"]),
                "time": _int(r.get("timestamp")), "miner": _str(r.get("miner")), "gas_used": _int(r.get("gas_used")),
                "gas_limit": _int(r.get("gas_limit")), "base_fee_per_gas": _int(r.get("base_fee_per_gas")),
                "tx_count": _int(r.get("transaction_count")) or 0, "withdrawal_count": len(w),
                "size": _int(r.get("size")), "traces": self.traces,
                "transactions_root": _str(r.get("transactions_root")),
            })
        by_number = {b["number"]: b for b in blocks}
        receipts = {_str(r["transaction_hash"]): r for r in rows("receipts")}
        txs: list[dict[str, Any]] = []
        orphans = 0
        for r in rows("transactions"):
            bn = _int(r["block_number"])
            if bn not in by_number:
                orphans += 1
                continue
            inp = r.get("input") or "0x"
            t: dict[str, Any] = {
                "chain": self.chain, "hash": _str(r["hash"]), "block_hash": _str(r["block_hash"]), "block_number": bn,
                "tx_index": _int(r["transaction_index"]), "from": _str(r["from_address"]),
                "to": _str(r.get("to_address")), "value": _int(r.get("value")) or 0, "nonce": _int(r.get("nonce")),
                "tx_type": _int(r.get("transaction_type")) or 0, "gas": _int(r.get("gas")),
                "gas_price": _int(r.get("gas_price")), "max_fee_per_gas": _int(r.get("max_fee_per_gas")),
                "max_priority_fee_per_gas": _int(r.get("max_priority_fee_per_gas")),
                "input_size": max(0, (len(inp) - 2) // 2), "method_id": inp[:10] if len(inp) >= 10 else None,
                "status": None, "gas_used": None, "effective_gas_price": None, "fee": None, "contract_address": None,
            }
            rc = receipts.get(t["hash"])
            src = rc if rc is not None else r
            pre = "" if rc is not None else "receipt_"
            gas_used = _int(src.get(pre + "gas_used"))
            if gas_used is not None:
                m.map_receipt(t, {"status": _int(src.get(pre + "status")), "gasUsed": gas_used,
                                  "effectiveGasPrice": _int(src.get(pre + "effective_gas_price")),
                                  "contractAddress": _str(src.get(pre + "contract_address"))})
            txs.append(t)
        if orphans:
            notes.append(f"{orphans} transactions skipped: their blocks are not in the export")
        if txs and all(t["gas_used"] is None for t in txs):
            notes.append("the export has no receipts: transaction statuses and fees are unknown")
        by_block: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for t in txs:
            by_block[t["block_hash"]].append(t)
        flat_by_block: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for r in rows("traces"):
            ta = r.get("trace_address")
            if isinstance(ta, str):
                ta = [int(x) for x in ta.split(",") if x != ""]
            flat_by_block[_int(r["block_number"]) or 0].append({
                "transaction_hash": _str(r.get("transaction_hash")), "transaction_index": _int(r.get("transaction_index")),
                "trace_type": r.get("trace_type"), "call_type": r.get("call_type") or None,
                "reward_type": r.get("reward_type") or None, "from": _str(r.get("from_address")),
                "to": _str(r.get("to_address")), "value": _int(r.get("value")), "error": r.get("error") or None,
                "trace_address": list(ta or []), "status": _int(r.get("status")),
            })
        logs_by_tx: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in rows("logs"):
            topics = r.get("topics") or []
            if isinstance(topics, str):
                topics = [x for x in topics.split(",") if x]
            logs_by_tx[_str(r["transaction_hash"]) or ""].append(
                {"address": r["address"], "topics": topics, "data": r.get("data") or "0x",
                 "logIndex": _int(r.get("log_index"))})
        tt_by_tx: dict[str, list[dict[str, Any]]] = defaultdict(list)
        if not (self.files if files is None else files).get("logs"):
            for r in rows("token_transfers"):
                tt_by_tx[_str(r["transaction_hash"]) or ""].append(r)
            if tt_by_tx:
                notes.append("token transfers read from token_transfers without logs: all taken as ERC-20 "
                             "(ethereum-etl writes ERC-721 token ids as values)")
        transfers: list[dict[str, Any]] = []
        for b in blocks:
            btxs = sorted(by_block.get(b["hash"], []), key=lambda t: t["tx_index"])
            flat = flat_by_block.get(b["number"], [])
            if flat and any(f.get("status") is None for f in flat):
                m.set_trace_status(flat)
            nxt: dict[Any, int] = {}
            for t in btxs:
                nxt[t["tx_index"]] = 1
                nt = native_transfer(t)
                if nt is not None:
                    transfers.append(nt)
            transfers.extend(m.trace_transfers(flat, {t["tx_index"]: t for t in btxs}, self.chain, b["hash"],
                                               b["number"], nxt))
            for t in btxs:
                if t["status"] != 0:
                    if t["hash"] in logs_by_tx:
                        tt = m.token_transfers(sorted(logs_by_tx[t["hash"]], key=lambda x: x["logIndex"] or 0), t,
                                               nxt[t["tx_index"]])
                    else:
                        tt = [m.make_transfer(self.chain, b["hash"], b["number"], t["hash"], t["tx_index"],
                                          nxt[t["tx_index"]] + k, "erc20", _str(r["from_address"]),
                                          _str(r["to_address"]), _str(r["token_address"]) or "", _int(r["value"]) or 0,
                                          log_index=_int(r.get("log_index")))
                              for k, r in enumerate(sorted(tt_by_tx.get(t["hash"], []),
                                                           key=lambda r: _int(r.get("log_index")) or 0))]
                    nxt[t["tx_index"]] += len(tt)
                    transfers.extend(tt)
                if t["gas_used"] is not None:
                    transfers.extend(m.fee_transfers(t, b["miner"], b["base_fee_per_gas"], nxt[t["tx_index"]]))
            transfers.extend(m.withdrawal_transfers(
                {"number": hex(b["number"]), "hash": b["hash"],
                 "withdrawals": [{"address": w["address"], "amount": w["amount"]} for w in raw_withdrawals[b["number"]]]},
                self.chain, nxt.get(None, 0)))
        tokens = [{"chain": self.chain, "address": _str(r["address"]), "standard": "erc20", "symbol": r.get("symbol"),
                   "name": r.get("name") or None, "decimals": _int(r.get("decimals"))} for r in rows("tokens")]
        if self.traces == "none":
            notes.append("the export has no traces: internal and self-destruct transfers are missing")
        return build_batch(blocks, txs, transfers, tokens, tuple(notes))


def _require(path: Path, kind: str, need: tuple[str, ...], have: Any, line: int | None = None) -> None:
    """ParseError when a column of ``need`` is not in ``have`` (a header, or one JSON row's keys)."""
    missing = next((k for k in need if k not in have), None)
    if missing is not None:
        where = f"{path}" if line is None else f"line {line} of {path}"
        raise ParseError(f"{where} is not an ethereum-etl {kind} file: it lacks the column {missing!r} "
                         f"({kind} files need {', '.join(need)})", file=path, offset=line, field=missing)
