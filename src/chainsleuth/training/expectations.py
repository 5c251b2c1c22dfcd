"""What a correct trace from a case's starting point reaches, computed from the world's own ledgers.

A trace stops at attributed services (``--stop-at``: exchanges, mixers, CoinJoin coordinators, bridges, DEX
pools, OTC desks). So from the case's start it can reach, on each laundering path, the *first* service and the
amount that entered it, or the cash-out when no service intervenes. This module follows the start's value
through the ledger the generator wrote, transaction by transaction in chain order, as long as the value stays
*pure* (every input of a Bitcoin transaction, or the whole balance of an account, comes from the start):
there every allocation policy gives the same answer, so the amounts are exact and policy-independent.

- A Bitcoin output or an EVM transfer paid to an address of a service entity is an endpoint (the amount
  that entered the service). Value is not followed beyond it.
- A CoinJoin (a transaction joining the start's value with other people's coins) is a ``coinjoin`` endpoint
  with the amount of the start's value that entered it: beyond it, amounts depend on the policy and are
  diluted by design. Custodial mixers and mixing pools break the link by construction (they pay out of
  their own reserve), so their deposit is the endpoint.
- Anything else that would mix the start's value with other value raises: the generators are written so that
  a perpetrator's wallets hold only the proceeds, and a world that breaks this is a bug here.

Each expectation also carries what stays unspent and what went to fees, so that the endpoints, unspent value
and fees add up to the source amount (value conservation, checked here).
"""

from __future__ import annotations

from typing import Any

from chainsleuth.errors import InternalError
from chainsleuth.training.ledger_evm import NATIVE
from chainsleuth.training.world import Ref, WorldBuilder

__all__ = ["SERVICE_KINDS", "btc_expectation", "evm_expectation"]

#: entity kinds that are services a trace stops at (when attributed) and whose category is their tag's
SERVICE_KINDS = frozenset({"exchange", "mixer", "coinjoin", "bridge", "otc", "nested_exchange", "mixing_pool",
                           "dex", "mining_pool", "payment_processor"})

#: policies under which a pure path's amounts are determined (they all coincide there)
_POLICIES_BTC = ["haircut", "fifo", "lifo", "tiho"]
_POLICIES_EVM = ["haircut", "fifo", "lifo"]


def _is_service(w: WorldBuilder, entity: int) -> bool:
    return w.entities[entity].kind in SERVICE_KINDS


def btc_expectation(w: WorldBuilder, seeds: list[int] | None = None, *, address: int | None = None,
                    note: str) -> dict[str, Any]:
    """Follow the Bitcoin outputs ``seeds`` (ledger output ids), or every output paid to ``address``, forward
    through the ledger."""
    btc = w.btc
    if address is not None:
        seeds = [o for o, x in enumerate(btc.out_addr) if x == address]
    assert seeds is not None
    tainted = {o: btc.out_value[o] for o in seeds}
    source_amount = sum(tainted.values())
    endpoints: dict[tuple[str, int, int], dict[str, Any]] = {}
    fees = 0

    def add(kind: str, entity: int, addr: int, tx: int, amount: int, via: list[tuple[int, int]]) -> None:
        k = (kind, entity, addr if kind != "coinjoin" else tx)
        e = endpoints.setdefault(k, {"kind": kind, "entity": Ref("entity", entity), "address": Ref("btc-addr", addr),
                                     "txids": [], "amount": 0, "via": []})
        if Ref("btc-tx", tx) not in e["txids"]:
            e["txids"].append(Ref("btc-tx", tx))
        e["amount"] += amount
        for vt, va in via:
            v = {"txid": Ref("btc-tx", vt), "address": Ref("btc-addr", va)}
            if v not in e["via"]:
                e["via"].append(v)

    frontier = sorted({btc.out_spent[o] for o in seeds if btc.out_spent[o] >= 0})
    pending = set(frontier)
    while pending:
        t = min(pending)
        pending.discard(t)
        ins = btc.tx_inputs[t]
        t_in = sum(tainted.get(o, 0) for o in ins)
        v_in = sum(btc.out_value[o] for o in ins)
        kind = btc.tx_kind[t]
        if t_in < v_in:
            if not kind.startswith("coinjoin"):
                raise InternalError(f"{w.typology}: the traced value meets other value in tx {t} ({kind}); "
                                    "its amounts would depend on the policy")
            # the start's value enters a CoinJoin: this is where a trace's amounts stop being determined
            mine = [o for o in ins if o in tainted]
            add("coinjoin", btc.addr_owner[btc.out_addr[mine[0]]], btc.out_addr[mine[0]], t, t_in,
                [(btc.out_tx[o], btc.out_addr[o]) for o in mine])
            for o in mine:
                del tainted[o]
            continue
        for o in ins:
            del tainted[o]
        fees += v_in - btc.tx_out_value(t)
        for o in btc.tx_outputs[t]:
            a = btc.out_addr[o]
            owner = btc.addr_owner[a]
            if _is_service(w, owner):
                add("service", owner, a, t, btc.out_value[o], [(t, a)])
                continue
            tainted[o] = btc.out_value[o]
            if btc.out_spent[o] >= 0:
                pending.add(btc.out_spent[o])
    unspent = sum(tainted.values())
    eps = list(endpoints.values())
    if sum(e["amount"] for e in eps) + unspent + fees != source_amount:
        raise InternalError(f"{w.typology}: expectation does not conserve value")
    return {"chain": "btc", "asset": "BTC", "direction": "forward", "note": note,
            "source": [{"address": Ref("btc-addr", address)}] if address is not None else [
                {"txid": Ref("btc-tx", btc.out_tx[o]), "index": btc.out_n[o], "address": Ref("btc-addr", btc.out_addr[o]),
                 "amount": btc.out_value[o]} for o in seeds],
            "source_amount": source_amount, "policies": list(_POLICIES_BTC),
            "endpoints": eps, "unspent": unspent, "fees": fees,
            "closed": all(e["kind"] == "service" for e in eps)}


def evm_expectation(w: WorldBuilder, *, asset: int = NATIVE, txs: list[int] | None = None,
                    address: int | None = None, note: str) -> dict[str, Any]:
    """Follow ``asset`` (``NATIVE`` for ether, else the token account) from the transfers of ``txs`` or
    everything ``address`` received, through account balances in chain order."""
    evm = w.evm
    bal: dict[int, int] = {}
    for a, wei in evm.genesis:
        if asset == NATIVE:
            bal[a] = bal.get(a, 0) + wei
    taint: dict[int, int] = {}
    seed_txs = set(txs or [])
    endpoints: dict[tuple[int, int], dict[str, Any]] = {}
    source_amount = fees = 0
    started = False
    for b in evm.blocks:
        for t in b:
            tx = evm.txs[t]
            moves: list[tuple[int, int, int, bool]] = []        # from, to, value, is_fee
            if asset == NATIVE:
                moves.append((tx.sender, -1, tx.gas_used * tx.gas_price, True))
                moves.append((tx.sender, tx.to, tx.value, False))
                moves += [(f, to, v, False) for f, to, v in tx.internal]
            else:
                moves += [(f, to, v, False) for tok, f, to, v in tx.logs if tok == asset]
            for f, to, v, is_fee in moves:
                if v == 0:
                    continue
                seed = not is_fee and f != to and (t in seed_txs or (address is not None and to == address))
                if f >= 0:
                    bal[f] = bal.get(f, 0) - v
                tv = 0
                if taint.get(f, 0) > 0 and not seed:
                    if taint[f] != bal[f] + v:         # the account holds other value too
                        raise InternalError(f"{w.typology}: traced {'ether' if asset == NATIVE else 'token'} "
                                            f"meets other value in account {f} (tx {t})")
                    tv = v
                    taint[f] -= v
                if to >= 0:
                    bal[to] = bal.get(to, 0) + v
                if seed:
                    source_amount += v
                    started = True
                    taint[to] = taint.get(to, 0) + v
                    if to in taint and taint[to] < bal[to]:
                        raise InternalError(f"{w.typology}: the start account {to} held other value before")
                    continue
                if not tv:
                    if taint.get(to, 0) > 0 and started:
                        raise InternalError(f"{w.typology}: other value enters traced account {to} (tx {t})")
                    continue
                if is_fee or to < 0:
                    fees += tv
                elif _is_service(w, evm.acct_owner[to]):
                    e = endpoints.setdefault((evm.acct_owner[to], to), {
                        "kind": "service", "entity": Ref("entity", evm.acct_owner[to]), "address": Ref("eth-addr", to),
                        "txids": [], "amount": 0, "via": []})
                    if Ref("eth-tx", t) not in e["txids"]:
                        e["txids"].append(Ref("eth-tx", t))
                        e["via"].append({"txid": Ref("eth-tx", t), "address": Ref("eth-addr", to)})
                    e["amount"] += tv
                else:
                    taint[to] = taint.get(to, 0) + tv
    unspent = sum(taint.values())
    eps = list(endpoints.values())
    if sum(e["amount"] for e in eps) + unspent + fees != source_amount:
        raise InternalError(f"{w.typology}: expectation does not conserve value")
    src: list[dict[str, Any]] = ([{"address": Ref("eth-addr", address)}] if address is not None
                                 else [{"txid": Ref("eth-tx", t)} for t in sorted(seed_txs)])
    return {"chain": "eth", "asset": "ETH" if asset == NATIVE else Ref("eth-addr", asset), "direction": "forward",
            "note": note, "source": src, "source_amount": source_amount, "policies": list(_POLICIES_EVM),
            "endpoints": eps, "unspent": unspent, "fees": fees, "closed": True}
