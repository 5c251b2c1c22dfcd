"""The account store on hand-made batches: exact amounts beyond 128 bits, idempotence, refusing a block that
would silently replace another, rollback, and EIP-55 display."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chainsleuth.core.account import normalize_address, to_checksum_address
from chainsleuth.errors import Conflict, InvalidInput
from chainsleuth.sources.evm.batch import build_batch
from chainsleuth.workspace import Workspace

A, B, TOKEN = "0x" + "aa" * 20, "0x" + "bb" * 20, "0x" + "cc" * 20


def _block(n: int, h: str, parent: str) -> dict[str, Any]:
    return {"chain": "eth", "number": n, "hash": h, "parent_hash": parent, "time": 1000 + n, "miner": B,
            "gas_used": 0, "gas_limit": 1, "base_fee_per_gas": 7, "tx_count": 1, "withdrawal_count": 0, "size": 1,
            "traces": "parity"}


def _tx(n: int, bh: str, th: str) -> dict[str, Any]:
    return {"chain": "eth", "hash": th, "block_hash": bh, "block_number": n, "tx_index": 0, "from": A, "to": TOKEN,
            "value": 0, "nonce": n, "tx_type": 2, "gas": 1, "gas_price": None, "max_fee_per_gas": None,
            "max_priority_fee_per_gas": None, "input_size": 0, "method_id": None, "status": 1, "gas_used": 1,
            "effective_gas_price": 1, "fee": 1, "contract_address": None}


def _tr(n: int, bh: str, th: str, i: int, value: int, frm: str = A, to: str = B) -> dict[str, Any]:
    return {"chain": "eth", "block_hash": bh, "block_number": n, "tx_hash": th, "tx_index": 0, "index": i,
            "kind": "erc20", "from": frm, "to": to, "asset": TOKEN, "token_id": None, "value": value,
            "trace_address": None, "log_index": i}


def test_evm_store_amounts_beyond_128_bits_are_exact(tmp_path: Path) -> None:
    bh, th = "0x" + "01" * 32, "0x" + "02" * 32
    huge = [2**255 + 7, 9 * 10**37, 9 * 10**37, 10**40]
    batch = build_batch([_block(1, bh, "0x" + "00" * 32)], [_tx(1, bh, th)],
                        [_tr(1, bh, th, i, v) for i, v in enumerate(huge)],
                        [{"chain": "eth", "address": TOKEN, "standard": "erc20", "symbol": "SPAM", "name": None,
                          "decimals": 18}])
    assert batch.transfers["value_big"].null_count == 2      # two values beyond 38 digits kept as text
    ws = Workspace(tmp_path / "ws")
    run = ws.store.runs.start(chain="eth", source_kind="test", endpoint="-", software_version="0")
    res = ws.store.account.write_batch(batch, run)
    assert (res.blocks_new, res.txs_new, res.transfers_new, res.tokens_new) == (1, 1, 4, 1)
    b = ws.queries.show_address(B)
    assert isinstance(b.received, dict)
    assert b.received[to_checksum_address(TOKEN)] == sum(huge)
    a = ws.queries.show_address(A)
    assert isinstance(a.balance, dict)
    assert a.balance[to_checksum_address(TOKEN)] == -sum(huge)
    tx = ws.queries.show_tx(th)
    assert [t.value for t in tx.transfers] == huge
    # idempotent
    again = ws.store.account.write_batch(batch, run)
    assert again.blocks_new == 0 and ws.queries.stats().chains["eth"]["transfers"] == {"erc20": 4}
    # a different block at a stored height is refused until the old one is rolled back
    other = build_batch([_block(1, "0x" + "09" * 32, "0x" + "00" * 32)], [], [], [])
    with pytest.raises(Conflict):
        ws.store.account.write_batch(other, run)
    assert ws.store.account.rollback_above("eth", 0) == 1
    assert ws.queries.stats().chains == {}
    assert ws.store.account.write_batch(other, run).blocks_new == 1
    ws.close()


def test_evm_addresses_are_checked_and_shown_eip55() -> None:
    # the EIP-55 test vectors
    for a in ("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
              "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB", "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb"):
        assert to_checksum_address(a.lower()) == a
        assert normalize_address(a) == a.lower()
    with pytest.raises(InvalidInput):
        normalize_address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD")   # one letter's case wrong
    with pytest.raises(InvalidInput):
        normalize_address("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA")


def test_evm_block_repeated_inside_one_batch_is_stored_once(tmp_path: Path) -> None:
    """Two exports that overlap, read into one batch: the repeated block, its transaction and its transfers are
    stored once, exactly as when the block comes once."""
    bh, th = "0x" + "11" * 32, "0x" + "12" * 32
    block, tx, trs = _block(1, bh, "0x" + "00" * 32), _tx(1, bh, th), [_tr(1, bh, th, i, 5 + i) for i in range(3)]
    trs.append({**_tr(1, bh, th, 0, 100, frm=None, to=B), "tx_hash": None, "tx_index": None, "kind": "withdrawal",
                "asset": "native", "log_index": None})     # a block-level row: no transaction (null key part)
    once = build_batch([block], [tx], trs, [])
    twice = build_batch([block, block], [tx, tx], trs + trs, [])
    counts = []
    for name, batch in (("once", once), ("twice", twice)):
        ws = Workspace(tmp_path / name)
        run = ws.store.runs.start(chain="eth", source_kind="test", endpoint="-", software_version="0")
        res = ws.store.account.write_batch(batch, run)
        received = ws.queries.show_address(B).received
        assert isinstance(received, dict)
        counts.append((res.blocks_new, res.txs_new, res.transfers_new, ws.queries.stats().chains["eth"]["transfers"],
                       received[to_checksum_address(TOKEN)]))
        ws.close()
    assert counts[0] == counts[1] == (1, 1, 4, {"erc20": 3, "withdrawal": 1}, 18)
