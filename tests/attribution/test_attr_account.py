"""Direct exposure on an account chain (hand-built Ethereum batch): per asset, failed txs excluded."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from chainsleuth.core.account import (
    ACCOUNT_BLOCK_SCHEMA,
    ACCOUNT_TX_SCHEMA,
    TOKEN_SCHEMA,
    TRANSFER_SCHEMA,
    AccountBatch,
)
from chainsleuth.workspace import Workspace

S = "0x" + "11" * 20       # screened
MIXER = "0x" + "22" * 20   # tagged mixing service
SCAM = "0x" + "33" * 20    # tagged scam
TOKEN = "0x" + "44" * 20   # an ERC-20 contract
ETH = 10**18


def _batch() -> AccountBatch:
    bh = "0x" + "ab" * 32
    blocks = [{"chain": "eth", "number": 1, "hash": bh, "parent_hash": "0x" + "00" * 32, "time": 1_700_000_000,
               "miner": None, "gas_used": 0, "gas_limit": 0, "base_fee_per_gas": None, "tx_count": 4,
               "withdrawal_count": 0, "size": 1, "traces": "none"}]
    # (from, to, value, status, token transfer value or None)
    spec = [(S, MIXER, 3 * ETH, 1, None), (S, MIXER, 5 * ETH, 0, None), (SCAM, S, 0, 1, 7 * 10**6),
            (S, SCAM, 2 * ETH, 1, None)]
    txs, transfers = [], []
    for i, (f, t, v, status, tok) in enumerate(spec):
        h = "0x" + f"{i:064x}"
        txs.append({"chain": "eth", "hash": h, "block_hash": bh, "block_number": 1, "tx_index": i, "from": f,
                    "to": t if tok is None else TOKEN, "value": Decimal(v), "nonce": i, "tx_type": 2, "gas": 21000,
                    "gas_price": None, "max_fee_per_gas": None, "max_priority_fee_per_gas": None, "input_size": 0,
                    "method_id": None, "status": status, "gas_used": 21000, "effective_gas_price": Decimal(1),
                    "fee": Decimal(21000), "contract_address": None})
        if tok is None:
            transfers.append({"chain": "eth", "block_hash": bh, "block_number": 1, "tx_hash": h, "tx_index": i,
                              "index": 0, "kind": "native", "from": f, "to": t, "asset": "native", "token_id": None,
                              "value": Decimal(v), "value_big": None, "trace_address": None, "log_index": None})
        else:
            transfers.append({"chain": "eth", "block_hash": bh, "block_number": 1, "tx_hash": h, "tx_index": i,
                              "index": 0, "kind": "erc20", "from": f, "to": t, "asset": TOKEN, "token_id": None,
                              "value": Decimal(tok), "value_big": None, "trace_address": None, "log_index": 0})
    return AccountBatch(pa.Table.from_pylist(blocks, ACCOUNT_BLOCK_SCHEMA), pa.Table.from_pylist(txs, ACCOUNT_TX_SCHEMA),
                        pa.Table.from_pylist(transfers, TRANSFER_SCHEMA), TOKEN_SCHEMA.empty_table())


def test_account_exposure(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    run = ws.store.runs.start(chain="eth", source_kind="test", endpoint="mem", software_version="test")
    ws.store.account.write_batch(_batch(), run)
    csv = tmp_path / "t.csv"
    csv.write_text("address,label,category,source,confidence\n"
                   f"{MIXER.upper().replace('0X', '0x')},Mixer,mixing_service,case,forensic\n"
                   f"{SCAM},Scam shop,scam,case,forensic\n")
    ws.attribution.import_tags([csv])
    s = ws.attribution.screen([S.upper().replace("0X", "0x")])
    got = {(e["category"], e["direction"]): e["amount"] for e in s["results"][0]["exposure"]}
    # the failed 5 ETH tx moved nothing; the token transfer is counted per asset
    assert got == {("mixing_service", "sent"): 3 * ETH, ("scam", "sent"): 2 * ETH,
                   ("scam", "received"): {TOKEN: 7 * 10**6}}
    assert s["results"][0]["in_workspace"] == ["eth"] and s["with_hits"] == 0
