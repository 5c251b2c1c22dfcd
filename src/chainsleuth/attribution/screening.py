"""Screening: which addresses of a list are tagged (hits), and what tagged categories each one dealt with
directly (direct exposure).

- A **hit** is a tag on the screened address itself (any chain, any pack, investigator tags included).
- **Direct exposure** of an address to a category is the value it exchanged in transactions with
  counterparties that carry a tag of that category, one hop only, per direction:
  ``sent`` (UTXO: outputs to the counterparty in transactions the address spends from; account: transfers
  to it) and ``received`` (UTXO: what the address received in transactions the counterparty funds;
  account: transfers from it). A counterparty with tags of two categories counts in both; a counterparty
  counts once per category however many tags it has. On UTXO chains a multi-input transaction credits its
  whole payment to every tagged payer (an upper bound: ownership of inputs is not split).

The store supplies the flows (:meth:`TagStore.utxo_counterparties`); these functions only aggregate.

>>> import pyarrow as pa
>>> flows = pa.table({"address_id": [1, 1, 1], "direction": ["out", "out", "in"],
...                   "counterparty": ["X", "Y", "X"], "asset": ["native"] * 3, "amount": [5, 7, 2], "txs": [1, 1, 1]})
>>> tags = {"X": [{"category": "exchange", "abuse": None, "actor": "kraken", "label": "Kraken"}],
...         "Y": [{"category": None, "abuse": "ransomware", "actor": None, "label": "WannaCry"}]}
>>> [(e["category"], e["direction"], e["amount"]) for e in direct_exposure(flows, tags)[1]]
[('exchange', 'received', 2), ('exchange', 'sent', 5), ('ransomware', 'sent', 7)]
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from chainsleuth.attribution.addresses import (
    address_problem,
    chain_for,
    evm_checksum_problem,
    problem_checker,
)

__all__ = ["direct_exposure", "entry_problem", "hit_record", "tag_categories"]

_TXID_RE = re.compile(r"^(0x)?[0-9a-fA-F]{64}$")
_PLAIN_RE = re.compile(r"^[A-Za-z0-9:._-]{10,128}$")


def entry_problem(chain: str | None, text: str) -> str | None:
    """Why a screening entry is not an address (or tx hash) at all; None when it may be one.

    Checked where we know the form (Bitcoin Base58Check / Bech32, EVM hex and EIP-55 case, Tron's shape, a
    64-hex-digit hash); on another chain named by the entry, only its characters and length. The caller
    still screens an entry with a problem when tags or chain data know the text (a pack may tag a malformed
    address, kept as written).

    >>> entry_problem(None, "notanaddress")
    'not an address of a form recognised here (Bitcoin, EVM, Tron, or a 64-hex-digit hash); for another chain write CHAIN,ADDRESS'
    >>> entry_problem(None, "1BoatSLRHtKNngkdXEeobR76b53LETtpyT") is None
    True
    >>> entry_problem("btc", "1BoatSLRHtKNngkdXEeobR76b53LETtpyU")
    'Base58Check checksum or length is wrong'
    """
    a = text.strip()
    if _TXID_RE.match(a):
        return None
    guess = chain if chain else chain_for(None, None, a)
    if problem_checker(guess) is not None:
        return address_problem(guess, a) or (evm_checksum_problem(a) if a[:2] == "0x" else None)
    if not _PLAIN_RE.match(a):
        return "unexpected characters or length for an address"
    if chain:
        return None
    if guess in ("trx",):
        return None
    return ("not an address of a form recognised here (Bitcoin, EVM, Tron, or a 64-hex-digit hash); for another "
            "chain write CHAIN,ADDRESS")


def tag_categories(tag: Mapping[str, Any]) -> list[str]:
    """The categories a tag counts under: its category and its abuse; 'unknown' when it has neither."""
    out = [c for c in (tag.get("category"), tag.get("abuse")) if c]
    return out or ["unknown"]


def hit_record(tag: Mapping[str, Any]) -> dict[str, Any]:
    """The fields a screening hit reports for one tag."""
    return {"label": tag.get("label"), "category": tag.get("category") or tag.get("abuse"),
            "abuse": tag.get("abuse"), "entity": tag.get("actor_label") or tag.get("actor") or tag.get("label"),
            "confidence": tag.get("confidence"), "confidence_level": tag.get("confidence_level"),
            "source": tag.get("source"), "creator": tag.get("creator"), "pack_uri": tag.get("pack_uri"),
            "pack_sha256": tag.get("pack_sha256"),
            "chain": tag.get("chain"), "tlp": tag.get("tlp")}


def direct_exposure(flows: pa.Table, tags_by_counterparty: Mapping[str, Sequence[Mapping[str, Any]]]
                    ) -> dict[int, list[dict[str, Any]]]:
    """Aggregate counterparty flows by tagged category, per screened address.

    ``flows`` has columns address_id, direction ('in'/'out'), counterparty (text), asset, amount (int or
    decimal string), txs. Returns address_id -> entries ``{category, direction ('sent'|'received'), amount
    (int, or {asset: int} when there are several assets or a token), counterparties, txs, entities}``
    sorted by category and direction.
    """
    acc: dict[tuple[int, str, str], dict[str, Any]] = {}
    cols = flows.to_pydict() if flows.num_rows else {}
    for i in range(flows.num_rows):
        cp = cols["counterparty"][i]
        tags = tags_by_counterparty.get(cp)
        if not tags:
            continue
        aid = int(cols["address_id"][i])
        direction = "sent" if cols["direction"][i] == "out" else "received"
        amount = int(cols["amount"][i])
        asset = cols["asset"][i]
        cats: dict[str, set[str]] = {}
        for t in tags:
            for c in tag_categories(t):
                cats.setdefault(c, set()).add(str(t.get("actor") or t.get("label")))
        for c, ents in cats.items():
            e = acc.setdefault((aid, c, direction), {"category": c, "direction": direction, "amounts": {},
                                                     "counterparties": set(), "txs": 0, "entities": set()})
            e["amounts"][asset] = e["amounts"].get(asset, 0) + amount
            e["counterparties"].add(cp)
            e["txs"] += int(cols["txs"][i])
            e["entities"] |= ents
    out: dict[int, list[dict[str, Any]]] = {}
    for (aid, _c, _d), e in sorted(acc.items()):
        amounts = e.pop("amounts")
        e["amount"] = amounts["native"] if set(amounts) == {"native"} else dict(sorted(amounts.items()))
        e["counterparties"] = len(e["counterparties"])
        e["entities"] = sorted(e["entities"])
        out.setdefault(aid, []).append(e)
    return out
