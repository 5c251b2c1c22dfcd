"""Invariants every generated world must hold, checked from the world's own ledgers (no store, no files).

:func:`check_world` returns the list of violations (empty when the world is sound), each naming the chain,
the block or transaction and the figures that disagree, so a sweep can report every failing case at once.

- Bitcoin: every input spends an output created earlier in chain order, and no output is spent twice; every
  transaction pays a fee >= 0; every coinbase but the opening one (the world's premine) claims exactly the
  subsidy plus its block's fees; the unspent outputs add up exactly to what the coinbases created minus the
  fees paid (value conserves); no transaction exceeds 100,000 vB (Bitcoin Core's standardness limit) and no
  block 1,000,000 vB (the consensus weight limit, 4M weight units).
- EVM: replaying the transactions in block order from the genesis allocations never drives a balance below
  zero and ends at the ledger's balances; nonces count up from 0 per sender; the genesis allocations equal
  the balances plus the fees paid, and the minted tokens equal the token balances (exact, in wei and token
  units); a transaction pays at least the block's base fee, uses at most its gas, and a block's gas stays
  within the gas limit written into the export.
- Answer key: every path step, cash-out, cross-chain hop and victim payment is what the chain says that
  transaction paid; every trace expectation's endpoints, unspent value and fees add up to its source amount.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from chainsleuth.training.ledger_btc import SUBSIDY, VBYTES_IN, VBYTES_OUT, VBYTES_TX
from chainsleuth.training.ledger_evm import NATIVE

#: Bitcoin Core's largest standard transaction (400,000 weight units) and the consensus block limit, in vB
#: (written out here, not imported, so that a change of the generator's constants cannot loosen the check)
MAX_STANDARD_TX_VB = 100_000
MAX_BLOCK_VB = 1_000_000
#: mainnet's block gas limit, which the ethereum-etl export writes as every block's gas_limit
EVM_GAS_LIMIT = 30_000_000


def check_world(world: Any) -> list[str]:
    """Every invariant violation of ``world`` (a :class:`~chainsleuth.training.World`), as messages."""
    return [*_check_btc(world), *_check_evm(world), *_check_key(world)]


# -- Bitcoin ---------------------------------------------------------------------------------------------------
def _check_btc(world: Any) -> list[str]:
    btc = world.btc
    bad: list[str] = []
    n_tx = btc.n_txs
    value = np.asarray(btc.out_value, dtype=np.int64)
    out_tx = np.asarray(btc.out_tx, dtype=np.int64)
    spent = np.asarray(btc.out_spent, dtype=np.int64)
    n_in = np.fromiter((len(x) for x in btc.tx_inputs), dtype=np.int64, count=n_tx)
    inp = np.fromiter((o for x in btc.tx_inputs for o in x), dtype=np.int64, count=int(n_in.sum()))
    inp_tx = np.repeat(np.arange(n_tx, dtype=np.int64), n_in)
    # chain order of every transaction: (block, position), the coinbase first in its block
    order = np.full(n_tx, -1, dtype=np.int64)
    k = 0
    for b in btc.blocks:
        order[np.asarray(b, dtype=np.int64)] = np.arange(k, k + len(b))
        k += len(b)
    if (order < 0).any():
        bad.append(f"btc: {int((order < 0).sum())} transactions are in no block")
    if np.unique(inp).size != inp.size:
        bad.append("btc: an output is spent twice")
    if (spent[inp] != inp_tx).any():
        bad.append("btc: the ledger's spent-by column disagrees with the transactions' inputs")
    in_block = np.repeat(np.arange(len(btc.blocks), dtype=np.int64), [len(b) for b in btc.blocks])
    if not np.array_equal(np.asarray(btc.tx_block, dtype=np.int64)[np.concatenate(
            [np.asarray(b, dtype=np.int64) for b in btc.blocks])], in_block):
        bad.append("btc: a transaction's block number is not the block holding it")
    if (np.diff(np.asarray(btc.block_time, dtype=np.int64)) <= 0).any():
        bad.append("btc: block times do not increase")
    early = order[out_tx[inp]] >= order[inp_tx]
    if early.any():
        i = int(np.flatnonzero(early)[0])
        bad.append(f"btc: tx {int(inp_tx[i])} spends output {int(inp[i])} before the chain creates it")
    out_sum = np.zeros(n_tx, dtype=np.int64)
    np.add.at(out_sum, out_tx, value)
    in_sum = np.zeros(n_tx, dtype=np.int64)
    np.add.at(in_sum, inp_tx, value[inp])
    is_cb = n_in == 0
    fee = np.where(is_cb, 0, in_sum - out_sum)
    if (fee < 0).any():
        t = int(np.flatnonzero(fee < 0)[0])
        bad.append(f"btc: tx {t} ({btc.tx_kind[t]}) pays out {int(out_sum[t])} from inputs of {int(in_sum[t])}")
    created = 0
    for h, b in enumerate(btc.blocks):
        cb = b[0]
        if not is_cb[cb]:
            bad.append(f"btc: block {h + 1} does not start with a coinbase")
            continue
        block_fees = int(fee[np.asarray(b[1:], dtype=np.int64)].sum()) if len(b) > 1 else 0
        if btc.tx_kind[cb] == "opening":
            created += int(out_sum[cb])
        elif int(out_sum[cb]) != SUBSIDY + block_fees:
            bad.append(f"btc: block {h + 1} coinbase claims {int(out_sum[cb])}, subsidy + fees are "
                       f"{SUBSIDY + block_fees}")
        else:
            created += SUBSIDY
        if int(is_cb[np.asarray(b, dtype=np.int64)].sum()) != 1:
            bad.append(f"btc: block {h + 1} holds more than one coinbase")
    unspent = int(value[spent == -1].sum())
    if unspent != created:
        bad.append(f"btc: unspent outputs hold {unspent} sat, the coinbases created {created} net of fees")
    # sizes, from the script types the ledger records (what the block writer serialises)
    vin = np.array([VBYTES_IN[x] for x in btc.addr_type], dtype=np.int64)
    vout = np.array([VBYTES_OUT[x] for x in btc.addr_type], dtype=np.int64)
    addr = np.asarray(btc.out_addr, dtype=np.int64)
    vs = np.full(n_tx, VBYTES_TX, dtype=np.int64)
    np.add.at(vs, out_tx, vout[addr])
    np.add.at(vs, inp_tx, vin[addr[inp]])
    if (vs > MAX_STANDARD_TX_VB).any():
        t = int(np.argmax(vs))
        bad.append(f"btc: tx {t} ({btc.tx_kind[t]}) is about {int(vs[t])} vB, over the standard "
                   f"{MAX_STANDARD_TX_VB}")
    block_vs = [int(vs[np.asarray(b, dtype=np.int64)].sum()) for b in btc.blocks]
    if max(block_vs) > MAX_BLOCK_VB:
        h = int(np.argmax(block_vs))
        bad.append(f"btc: block {h + 1} is about {block_vs[h]} vB, over the {MAX_BLOCK_VB} a block may hold")
    return bad


# -- EVM -------------------------------------------------------------------------------------------------------
def _check_evm(world: Any) -> list[str]:
    evm = world.evm
    bad: list[str] = []
    bal: dict[tuple[int, int], int] = defaultdict(int)
    for a, wei in evm.genesis:
        bal[(a, NATIVE)] += wei
    genesis = sum(w for _, w in evm.genesis)
    nonce: dict[int, int] = defaultdict(int)
    fees = minted = 0

    def move(t: int, frm: int, to: int, asset: int, v: int) -> None:
        if v < 0:
            bad.append(f"eth: tx {t} moves a negative amount {v}")
        if frm >= 0:
            bal[(frm, asset)] -= v
            if bal[(frm, asset)] < 0:
                bad.append(f"eth: tx {t} ({evm.txs[t].kind}) overdraws account {frm} in asset {asset}")
        if to >= 0:
            bal[(to, asset)] += v

    if (np.diff(np.asarray(evm.block_time, dtype=np.int64)) <= 0).any():
        bad.append("eth: block times do not increase")
    for b, txs in enumerate(evm.blocks):
        gas = 0
        for t in txs:
            tx = evm.txs[t]
            if evm.acct_contract[tx.sender]:
                bad.append(f"eth: tx {t} is sent by contract account {tx.sender}")
            if tx.nonce != nonce[tx.sender]:
                bad.append(f"eth: tx {t} has nonce {tx.nonce}, its sender's next is {nonce[tx.sender]}")
            nonce[tx.sender] += 1
            if tx.block != b:
                bad.append(f"eth: tx {t} says block {tx.block}, sits in block {b}")
            if tx.gas_price < evm.block_base_fee[b]:
                bad.append(f"eth: tx {t} pays {tx.gas_price} per gas, under block {b}'s base fee")
            if tx.gas_used > tx.gas:
                bad.append(f"eth: tx {t} uses {tx.gas_used} gas of a {tx.gas} limit")
            gas += tx.gas_used
            fee = tx.gas_used * tx.gas_price
            fees += fee
            move(t, tx.sender, -1, NATIVE, fee)
            move(t, tx.sender, tx.to, NATIVE, tx.value)
            for tok, f, to, v in tx.logs:
                if f < 0:
                    minted += v
                move(t, f, to, tok, v)
            for f, to, v in tx.internal:
                move(t, f, to, NATIVE, v)
        if gas > EVM_GAS_LIMIT:
            bad.append(f"eth: block {b} uses {gas} gas, over the {EVM_GAS_LIMIT} limit it declares")
    final = {k: v for k, v in bal.items() if v}
    if final != {k: v for k, v in evm.bal.items() if v}:
        bad.append("eth: replaying the transactions does not give the ledger's balances")
    held = evm.bal              # conservation against the ledger's own balances, not the replay
    native = sum(v for (_a, asset), v in held.items() if asset == NATIVE)
    if genesis != native + fees:
        bad.append(f"eth: genesis allocated {genesis} wei, balances hold {native} and fees took {fees}")
    tokens = sum(v for (_a, asset), v in held.items() if asset != NATIVE)
    if minted != tokens:
        bad.append(f"eth: {minted} token units minted, balances hold {tokens}")
    return bad


# -- answer key against the ledgers ----------------------------------------------------------------------------
def _check_key(world: Any) -> list[str]:
    key, btc, evm = world.key, world.btc, world.evm
    bad: list[str] = []
    btc_tx = {x: i for i, x in enumerate(world.btc_txids)}
    eth_tx = {evm.tx_hash(i): i for i in range(evm.n_txs)}
    baddr = world.btc_addresses
    usdt = {evm.address(a) for a, lab in enumerate(evm.acct_label) if lab == "USDT"}
    ent = {e.id: i for i, e in enumerate(world.entities)}

    def btc_paid(txid: str, to: Any) -> int:
        """What ``txid`` paid to an address (str) or to every address of an entity (int)."""
        t = btc_tx[txid]
        if isinstance(to, int):
            return sum(btc.out_value[o] for o in btc.tx_outputs[t] if btc.addr_owner[btc.out_addr[o]] == to)
        return sum(btc.out_value[o] for o in btc.tx_outputs[t] if baddr[btc.out_addr[o]] == to)

    def eth_paid(txid: str, to: Any, asset: str) -> int:
        tx = evm.txs[eth_tx[txid]]
        moves = ([(tx.to, tx.value), *((t_, v) for _f, t_, v in tx.internal)] if asset == "ETH" else
                 [(t_, v) for tok, _f, t_, v in tx.logs if evm.address(tok) in usdt])
        if isinstance(to, int):
            return sum(v for a, v in moves if a >= 0 and evm.acct_owner[a] == to)
        return sum(v for a, v in moves if a >= 0 and evm.address(a) == to)

    def paid(chain: str, txid: str, to: Any, asset: str) -> int:
        if txid not in (btc_tx if chain == "btc" else eth_tx):
            bad.append(f"key: {chain} transaction {txid} is not on the chain")
            return -1
        return btc_paid(txid, to) if chain == "btc" else eth_paid(txid, to, asset)

    for p in key.path:
        got = paid(p.chain, p.txid, ent[p.to_entity], p.asset)
        if got < 0:
            continue
        if (got != p.amount) if p.from_entity != p.to_entity else not 0 < p.amount <= got:
            bad.append(f"key: path step {p.step} ({p.note}) says {p.amount} {p.asset}, the chain {got}")
    for c in key.cashouts:
        got = sum(paid(c.chain, x, c.address, c.asset) for x in c.txids)
        if got != c.amount:
            bad.append(f"key: cash-out at {c.entity} {c.address} says {c.amount} {c.asset}, the chain {got}")
        if key.owners.get(f"{c.chain}:{c.address}") != c.entity:
            bad.append(f"key: cash-out address {c.address} is not {c.entity}'s")
    for h in key.hops:
        # what the departure paid into the bridge service (its from_address is the bridge's deposit address
        # on Bitcoin, the sender's account on EVM), and what the arrival paid to to_address
        got_in = paid(h.from_chain, h.from_txid, ent[h.service], h.asset_in)
        got_out = paid(h.to_chain, h.to_txid, h.to_address, h.asset_out)
        if (got_in, got_out) != (h.amount_in, h.amount_out):
            bad.append(f"key: hop {h.from_txid} -> {h.to_txid} says {h.amount_in} -> {h.amount_out}, "
                       f"the chain {got_in} -> {got_out}")
    for f in key.facts.get("victims", []):
        asset = f.get("asset", "BTC")
        got = paid("btc" if asset == "BTC" else "eth", f["txid"], f["address"], asset)
        if got != f["amount"]:
            bad.append(f"key: victim payment {f['txid']} says {f['amount']} {asset}, the chain {got}")
    for e in key.answers.get("trace_expectations", []):
        total = sum(x["amount"] for x in e["endpoints"]) + e["unspent"] + e["fees"]
        if total != e["source_amount"]:
            bad.append(f"key: trace expectation '{e['note']}' accounts for {total} of {e['source_amount']}")
        for x in e["endpoints"]:
            for txid in x["txids"]:
                if txid not in (btc_tx if e["chain"] == "btc" else eth_tx):
                    bad.append(f"key: trace endpoint transaction {txid} is not on the chain")
    return bad
