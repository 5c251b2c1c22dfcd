"""Exercises of a world: the case brief and the questions, built from the answer key, in three languages.

Every text a trainee reads is a message of :data:`MESSAGES` (English msgids; Thai and Korean in the
catalogs under ``locales/``). Questions have machine-checkable answers of five kinds:

- ``amounts``: which services received proceeds and how much (``{"Orca Exchange": "0.5 BTC"}``);
- ``set``: a set of addresses (deposit addresses to request records for, a perpetrator's cluster);
- the mixer question is a ``set`` of options (a world can combine two kinds of mixing);
- ``txid``: a transaction (the cross-chain hop's arrival).

Hints are specific to the world (they point at a transaction or address of the case) and cost points.
"""

from __future__ import annotations

import base64
import contextlib
import re
from dataclasses import dataclass
from typing import Any

from chainsleuth.training.i18n import format_amount, format_date, translator
from chainsleuth.training.world import AnswerKey

__all__ = ["MESSAGES", "MIXER_TYPES", "Question", "brief_markdown", "questions_for", "questions_json"]

MESSAGES: list[str] = []


def _m(msg: str) -> str:
    MESSAGES.append(msg)
    return msg


MIXER_TYPES = ("none", "custodial", "coinjoin-wasabi", "coinjoin-whirlpool", "coinjoin-joinmarket", "mixing-pool")

# -- brief ----------------------------------------------------------------------------------------------------
T_CASE = _m("Case brief")
T_TRAINING = _m("Training case. All addresses, transactions and services are generated; any resemblance to real ones is chance.")
T_DATA = _m("Your data")
T_DATA_BTC = _m("Bitcoin blocks (Bitcoin Core blk files): btc/")
T_DATA_ETH = _m("Ethereum exports (ethereum-etl CSV): eth/")
T_DATA_TAGS = _m("Tags an analyst would have (TagPack): tags/training-tags.yaml")
T_QUESTIONS = _m("Questions")
T_POINTS = _m("{points} points")
T_HINTS = _m("Hints available: {n} (each costs {cost} points)")
T_FORMAT = _m("Answer format: {fmt}")
T_DIFFICULTY = _m("Difficulty: {level} of 3")
STORY = {
    "ransomware": _m("The {strain} ransomware encrypted the systems of {n} organisations. Each paid the ransom in "
                     "bitcoin to an address shown in its ransom note. The group works as ransomware-as-a-service: "
                     "the operators keep a share and the affiliate who ran the attack receives the rest. Find where "
                     "the money went."),
    "darknet_market": _m("{market} is a darknet market. Buyers pay into deposit addresses of the market; the market "
                         "holds the funds in escrow, pays its vendors and keeps a commission. An undercover purchase "
                         "from the vendor \"{vendor}\" was paid to the market address below. Identify the vendor's "
                         "wallet and where the vendor cashed out."),
    "investment_scam": _m("{n} people were persuaded by an online contact to invest in the trading platform "
                          "\"{platform}\". They bought USDT and sent it to the deposit addresses the platform gave "
                          "them. The platform does not exist. Follow the money from the victims' payments."),
    "exchange_hack": _m("The exchange {victim} lost funds from its hot wallet on Ethereum. The attackers are "
                        "believed to be a state-sponsored group known for laundering through swaps, mixers, bridges "
                        "and CoinJoin. The theft transaction is below."),
    "sanctions_evasion": _m("{entity} is on a sanctions list; its address is tagged. Intelligence suggests it still "
                            "moves funds through a small exchange that itself holds accounts at larger exchanges. "
                            "Find the service it uses and the accounts that should be frozen."),
}
T_FACT_PAYMENT = _m("{date}: {who} paid {amount} to {address} (transaction {txid}).")
T_FACT_THEFT = _m("{date}: {amount} left the exchange's hot wallet {address} (transaction {txid}).")
T_FACT_SANCTIONED = _m("Sanctioned address: {address}")
T_START = _m("Starting points")
T_VICTIM = _m("Victim {n}")
T_OFFICER = _m("Undercover officer")

# -- questions ------------------------------------------------------------------------------------------------
Q_TEXT = {
    "exchanges": _m("Which exchanges or OTC desks received the proceeds, and how much did each receive?"),
    "deposit_addresses": _m("List the deposit addresses at those services for which you would request customer "
                            "records."),
    "mixer": _m("What kind of mixing, if any, did the proceeds pass through?"),
    "cluster": _m("List the addresses that belong to the wallet of the person or group named in the question."),
    "hop": _m("The proceeds crossed to another chain. Give the transaction in which they arrived on the other "
              "chain."),
}
Q_CLUSTER_WHO = {
    "affiliate": _m("Whose wallet: the ransomware affiliate."),
    "vendor": _m("Whose wallet: the vendor."),
    "platform": _m("Whose wallet: the scam platform's collection and pool addresses."),
    "nested": _m("Whose wallet: the nested exchange used by the sanctioned entity."),
    "hacker": _m("Whose wallet: the attackers."),
}
Q_FORMAT = {
    "amounts": _m("one line per service: NAME = AMOUNT ASSET, e.g. \"Orca Exchange = 0.5 BTC\""),
    "set": _m("one address per line"),
    "choice": _m("one or more of: {options}"),
    "txid": _m("a transaction id (hex)"),
}
HINTS = {
    "exchanges": [_m("Exchanges sweep their customers' deposit addresses into hot wallets: an address swept "
                     "together with others into a tagged wallet belongs to that exchange."),
                  _m("One of the cash-out deposits is transaction {txid}.")],
    "deposit_addresses": [_m("A deposit address is used by one customer only and is emptied into the "
                             "exchange's hot wallet."),
                          _m("One of them is {address}.")],
    "mixer": [_m("Look at the shape of the transactions the funds pass through: many equal outputs suggest a "
                 "CoinJoin; funds that vanish into a service and come back from unrelated coins suggest a "
                 "custodial mixer."),
              _m("Count the equal-valued outputs and the participants of the transaction {txid}.")],
    "cluster": [_m("Addresses spent together as inputs of one transaction usually share an owner (except in "
                   "CoinJoins)."),
                _m("The wallet includes {address}.")],
    "hop": [_m("Bridges pay out on the other chain shortly after the deposit; compare amounts and times."),
            _m("The deposit into the bridge is transaction {txid}.")],
}
HINT_COST = 2

# -- feedback (used by grading) -------------------------------------------------------------------------------
F_CORRECT = _m("Correct.")
F_PARTIAL = _m("Partly correct.")
F_WRONG = _m("Not correct.")
F_EXCHANGES = _m("The proceeds reached: {items}.")
F_DEPOSITS = _m("The deposit addresses were: {items}.")
F_MIXER = _m("The mixing was: {answer}.")
F_CLUSTER = _m("The wallet held {n} addresses; you found {found} of them and listed {extra} that are not in it.")
F_HOP = _m("The value arrived on {chain} in transaction {txid} ({amount}).")
F_NO_HOP = _m("There was no cross-chain hop.")
F_HINTS_USED = _m("Hints used: {n} (-{cost} points)")
F_SCORE = _m("Score: {score} of {total}")
F_NOT_ANSWERED = _m("Not answered.")
F_YOUR_ANSWER = _m("Your answer")
F_TRUTH = _m("What happened")
F_DEBRIEF = _m("Debrief")
MIXER_LABEL = {
    "none": _m("no mixing"),
    "custodial": _m("a custodial mixer"),
    "coinjoin-wasabi": _m("a Wasabi-style CoinJoin (equal denominations)"),
    "coinjoin-whirlpool": _m("a Whirlpool-style CoinJoin (5 inputs, 5 outputs)"),
    "coinjoin-joinmarket": _m("a JoinMarket-style CoinJoin (maker and taker)"),
    "mixing-pool": _m("a fixed-denomination mixing pool on Ethereum"),
}


@dataclass(frozen=True)
class Question:
    id: str
    kind: str
    points: int
    text: str
    fmt: str
    hints: tuple[str, ...]
    options: tuple[str, ...] = ()


def questions_for(key: AnswerKey, lang: str = "en") -> list[Question]:
    """The questions of a world (which ones depends on what happened in it), in ``lang``."""
    _ = translator(lang)
    a = key.answers
    qs: list[Question] = []
    first_cash = key.cashouts[0] if key.cashouts else None

    def hints(qid: str, **kw: Any) -> tuple[str, ...]:
        out = [_(HINTS[qid][0])]
        with contextlib.suppress(KeyError, IndexError):
            out.append(_(HINTS[qid][1]).format(**kw))
        return tuple(out)

    if first_cash:
        qs.append(Question("exchanges", "amounts", 30, _(Q_TEXT["exchanges"]), _(Q_FORMAT["amounts"]),
                           hints("exchanges", txid=first_cash.txids[0])))
        qs.append(Question("deposit_addresses", "set", 20, _(Q_TEXT["deposit_addresses"]), _(Q_FORMAT["set"]),
                           hints("deposit_addresses", address=first_cash.address)))
    mtx = (key.facts.get("coinjoin_txs") or key.facts.get("mixer_txs") or [""])[0]
    qs.append(Question("mixer", "set", 10, _(Q_TEXT["mixer"]),
                       _(Q_FORMAT["choice"]).format(options=", ".join(MIXER_TYPES)),
                       hints("mixer", txid=mtx) if mtx else (_(HINTS["mixer"][0]),), MIXER_TYPES))
    if a.get("cluster"):
        who = a["cluster"]["who"]
        addrs = a["cluster"]["addresses"]
        qs.append(Question("cluster", "set", 20, _(Q_TEXT["cluster"]) + " " + _(Q_CLUSTER_WHO[who]),
                           _(Q_FORMAT["set"]), hints("cluster", address=addrs[0])))
    if key.hops:
        qs.append(Question("hop", "txid", 20, _(Q_TEXT["hop"]), _(Q_FORMAT["txid"]),
                           hints("hop", txid=key.hops[0].from_txid)))
    return qs


def questions_json(key: AnswerKey, lang: str = "en") -> dict[str, Any]:
    """The questions as the trainee folder holds them. Hints are base64-encoded so that they are read
    through ``chainsleuth train answer --hint`` (which records their use), not by accident."""
    return {"lang": lang, "hint_cost": HINT_COST, "questions": [
        {"id": q.id, "kind": q.kind, "points": q.points, "text": q.text, "format": q.fmt,
         "options": list(q.options),
         "hints": [base64.b64encode(h.encode()).decode() for h in q.hints]} for q in questions_for(key, lang)]}


def brief_markdown(key: AnswerKey, lang: str = "en") -> str:
    """The case brief a trainee reads: story, starting points, data, questions."""
    _ = translator(lang)
    f = key.facts
    L = [f"# {_(T_CASE)}", "", f"*{_(T_TRAINING)}*", "", _(T_DIFFICULTY).format(level=key.difficulty), ""]
    story = _(STORY[key.typology])
    L += [story.format(strain=f.get("strain", ""), n=len(f.get("victims", [])), market=f.get("market", ""),
                       vendor=f.get("vendor", ""), platform=f.get("platform", ""), victim=f.get("victim", ""),
                       entity=f.get("entity", "")), ""]
    L += [f"## {_(T_START)}", ""]
    for v in f.get("victims", []):
        m = re.fullmatch(r"Victim (\d+)", v["name"])
        who = _(T_VICTIM).format(n=m.group(1)) if m else _(T_OFFICER) if v["name"] == T_OFFICER else v["name"]
        L.append("- " + _(T_FACT_PAYMENT).format(date=format_date(v["time"], lang, with_time=True), who=who,
                                                 amount=format_amount(v["amount"], v.get("asset", "BTC")),
                                                 address=v["address"], txid=v["txid"]))
    if "theft" in f:
        t = f["theft"]
        L.append("- " + _(T_FACT_THEFT).format(date=format_date(t["time"], lang, with_time=True),
                                               amount=format_amount(t["amount"], t["asset"]), address=t["address"],
                                               txid=t["txid"]))
    if "sanctioned_address" in f:
        L.append("- " + _(T_FACT_SANCTIONED).format(address=f["sanctioned_address"]))
    L += ["", f"## {_(T_DATA)}", "", "- " + _(T_DATA_BTC), "- " + _(T_DATA_ETH), "- " + _(T_DATA_TAGS), "",
          "```", "chainsleuth ingest btc-blocks --allow-invalid-pow btc/", "chainsleuth ingest etl eth/",
          "chainsleuth tags import tags/", "```", ""]
    L += [f"## {_(T_QUESTIONS)}", ""]
    for i, q in enumerate(questions_for(key, lang), 1):
        L.append(f"{i}. **{q.id}** ({_(T_POINTS).format(points=q.points)}): {q.text}")
        L.append(f"   - {_(T_FORMAT).format(fmt=q.fmt)}")
        L.append(f"   - {_(T_HINTS).format(n=len(q.hints), cost=HINT_COST)}")
    return "\n".join(L) + "\n"
