"""Grading a trainee's answers against the answer key: tolerance, partial credit, hint costs, feedback.

Scoring per question kind (credit in [0, 1], times the question's points, minus ``HINT_COST`` per hint
used, never below zero):

- ``amounts``: per true (service, asset): 1 when the amount is within 1% (or 10,000 base units), 0.5
  within 10%, 0.25 when the service is named with a wrong amount; each wrongly named service takes 0.25
  off; divided by the number of true (service, asset) pairs.
- ``set``: the F1 score of the listed set against the true set (precision and recall both count).
- the mixer question: the F1 score of the named kinds of mixing against the true ones (``none`` when
  there was no mixing).
- ``txid``: 1 for the arrival transaction of the hop, 0.5 for its departure transaction.

>>> _parse_amount("1.5 BTC")
(150000000, 'BTC')
>>> _parse_amount("250 USDT")
(250000000, 'USDT')
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

from chainsleuth.errors import InvalidInput
from chainsleuth.training.exercises import (
    F_CLUSTER,
    F_CORRECT,
    F_DEPOSITS,
    F_EXCHANGES,
    F_HINTS_USED,
    F_HOP,
    F_MIXER,
    F_NO_HOP,
    F_NOT_ANSWERED,
    F_PARTIAL,
    F_WRONG,
    HINT_COST,
    MIXER_LABEL,
    questions_for,
)
from chainsleuth.training.i18n import format_amount, translator
from chainsleuth.training.world import AnswerKey

__all__ = ["AMOUNT_TOLERANCE", "check_amount_answer", "grade"]

#: relative tolerance for full credit on an amount; and the absolute floor in base units
AMOUNT_TOLERANCE = 0.01
AMOUNT_FLOOR = 10_000
_DECIMALS = {"BTC": 8, "ETH": 18, "USDT": 6, "SAT": 0, "WEI": 0}


def _parse_amount(text: str) -> tuple[int, str]:
    m = re.fullmatch(r"\s*([0-9][0-9_,]*(?:\.[0-9]+)?)\s*([A-Za-z]+)?\s*", text)
    if not m:
        raise InvalidInput(f"amount {text!r} is not a number with an asset, e.g. '0.5 BTC'", value=text)
    asset = (m.group(2) or "BTC").upper()
    if asset not in _DECIMALS:
        raise InvalidInput(f"unknown asset {asset!r} in amount {text!r}; use BTC, ETH, USDT, sat or wei",
                           value=text)
    try:
        d = Decimal(m.group(1).replace(",", "").replace("_", ""))
    except InvalidOperation:
        raise InvalidInput(f"amount {text!r} is not a number", value=text) from None
    if asset == "SAT":
        return int(d), "BTC"
    if asset == "WEI":
        return int(d), "ETH"
    return int(d * (10 ** _DECIMALS[asset])), asset


def _amount_lines(value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [(str(k), str(v)) for k, v in value.items()]
    items = value if isinstance(value, list) else re.split(r"[\n;]", str(value))
    out = []
    for it in items:
        if not str(it).strip():
            continue
        if "=" not in str(it):
            raise InvalidInput(f"answer line {str(it)!r} must look like 'NAME = AMOUNT ASSET', "
                               f'e.g. "Lotus Trade = 1.5 BTC"', value=str(it))
        name, amt = str(it).split("=", 1)
        out.append((name.strip(), amt.strip()))
    return out


def check_amount_answer(values: list[str]) -> None:
    """Refuse, when it is given, an amounts answer that grading could not read, with an example.

    >>> check_amount_answer(["Lotus Trade = 1.5 BTC"])
    >>> check_amount_answer(["Lotus Trade"])
    Traceback (most recent call last):
    ...
    chainsleuth.errors.InvalidInput: answer line 'Lotus Trade' must look like 'NAME = AMOUNT ASSET', e.g. "Lotus Trade = 1.5 BTC" (value=Lotus Trade)
    """
    for name, amt in _amount_lines(values):
        if not name:
            raise InvalidInput(f"answer line '= {amt}' names no service", value=amt)
        _parse_amount(amt)


def _as_set(value: Any) -> set[str]:
    items = value if isinstance(value, list) else re.split(r"[\s,;]+", str(value))
    return {_norm(str(x)) for x in items if str(x).strip()}


def _norm(s: str) -> str:
    s = s.strip()
    return s.lower() if s.lower().startswith("0x") or re.fullmatch(r"[0-9a-fA-F]{64}", s) else s


def _f1(got: set[str], truth: set[str]) -> tuple[float, int, int]:
    hit = len(got & truth)
    if not got or not truth or hit == 0:
        return 0.0, hit, len(got - truth)
    p, r = hit / len(got), hit / len(truth)
    return 2 * p * r / (p + r), hit, len(got - truth)


def grade(key: AnswerKey, answers: dict[str, Any], hints: dict[str, int] | None = None, *,
          lang: str = "en") -> dict[str, Any]:
    """Grade ``answers`` ({question id: value}); return score, total and per-question credit and feedback."""
    _ = translator(lang)
    hints = hints or {}
    results = []
    score = total = 0
    names = _names(key)
    for q in questions_for(key, lang):
        total += q.points
        val = answers.get(q.id)
        truth_text, credit, detail = _grade_one(q.id, q.kind, val, key, names, _)
        used = int(hints.get(q.id, 0))
        pts = max(round(q.points * credit) - used * HINT_COST, 0)
        score += pts
        verdict = _(F_NOT_ANSWERED) if val in (None, "", []) else (
            _(F_CORRECT) if credit >= 0.999 else _(F_PARTIAL) if credit > 0 else _(F_WRONG))
        fb = " ".join(x for x in (verdict, detail, truth_text) if x)
        if used:
            fb += " " + _(F_HINTS_USED).format(n=used, cost=used * HINT_COST)
        results.append({"id": q.id, "points": q.points, "credit": round(credit, 4), "hints_used": used,
                        "score": pts, "answer": val, "feedback": fb})
    return {"score": score, "total": total, "questions": results}


def _names(key: AnswerKey) -> dict[str, str]:
    """Ways a trainee may name a service: its name, entity id, or TagPack actor id, any case."""
    out: dict[str, str] = {}
    for e in key.entities.values():
        if e.kind in ("exchange", "otc", "nested_exchange"):
            out[e.name.lower()] = e.id
            out[e.id.lower()] = e.id
            out[re.sub(r"[^a-z0-9]+", "_", e.name.lower()).strip("_")] = e.id
            out[re.sub(r"[^a-z0-9]+", "", e.name.lower())] = e.id        # TagPack actor id
    return out


def _resolve_name(name: str, names: dict[str, str]) -> str | None:
    """An exact name, else the longest service name contained in what was written (a tag label such as
    "Orca Exchange hot wallet" names Orca Exchange)."""
    n = name.strip().lower()
    if n in names:
        return names[n]
    hits = [k for k in names if len(k) > 3 and k in n]
    return names[max(hits, key=len)] if hits else None


def _grade_one(qid: str, kind: str, val: Any, key: AnswerKey, names: dict[str, str],
               _: Any) -> tuple[str, float, str]:
    a = key.answers
    ents = key.entities
    if qid == "exchanges":
        truth = {(x["exchange"], asset): amt for x in a["exchanges"] for asset, amt in x["amounts"].items()}
        text = _(F_EXCHANGES).format(items="; ".join(f"{ents[e].name} {format_amount(v, s)}"
                                                      for (e, s), v in truth.items()))
        if val in (None, "", []):
            return text, 0.0, ""
        got: dict[tuple[str, str], int] = {}
        wrong = 0
        try:
            lines = _amount_lines(val)
        except InvalidInput:   # an answers file written by hand: an unreadable answer earns nothing
            return text, 0.0, ""
        for name, amt in lines:
            eid = _resolve_name(name, names)
            try:
                v, asset = _parse_amount(amt)
            except InvalidInput:
                wrong += 1
                continue
            if eid is None or (eid, asset) not in truth:
                wrong += 1
                continue
            got[(eid, asset)] = got.get((eid, asset), 0) + v
        credit = 0.0
        for k, t in truth.items():
            if k not in got:
                continue
            err = abs(got[k] - t)
            credit += 1.0 if err <= max(t * AMOUNT_TOLERANCE, AMOUNT_FLOOR) else 0.5 if err <= t * 0.1 else 0.25
        return text, max(0.0, min(1.0, (credit - 0.25 * wrong) / len(truth))), ""
    if qid == "deposit_addresses":
        truth_s = {_norm(x["address"]) for x in a["deposit_addresses"]}
        text = _(F_DEPOSITS).format(items=", ".join(sorted(truth_s)))
        f1, _h, _x = _f1(_as_set(val or []), truth_s)
        return text, f1, ""
    if qid == "mixer":
        types = set(a["mixer"]["types"]) if isinstance(a.get("mixer"), dict) else {"none"}
        text = _(F_MIXER).format(answer=", ".join(_(MIXER_LABEL[m]) for m in sorted(types)))
        f1, _h, _x = _f1({x.lower() for x in _as_set(val or [])}, types)
        return text, f1, ""
    if qid == "cluster":
        truth_s = {_norm(x) for x in a["cluster"]["addresses"]}
        f1, hit, extra = _f1(_as_set(val or []), truth_s)
        return _(F_CLUSTER).format(n=len(truth_s), found=hit, extra=extra), f1, ""
    if qid == "hop":
        if not key.hops:
            return _(F_NO_HOP), 0.0, ""
        h = key.hops[0]
        text = _(F_HOP).format(chain=h.to_chain, txid=h.to_txid, amount=format_amount(h.amount_out, h.asset_out))
        v = _norm(str(val or "")).removeprefix("0x")
        arrivals = {_norm(x.to_txid).removeprefix("0x") for x in key.hops}
        departures = {_norm(x.from_txid).removeprefix("0x") for x in key.hops}
        return text, 1.0 if v in arrivals else 0.5 if v in departures else 0.0, ""
    return "", 0.0, ""
