"""Measured error rates of the clustering heuristics on worlds with ground truth, and the heuristic cards.

:func:`evaluate_world` scores every heuristic set on one world (transaction arrays + the true owner of
every address + the true CoinJoin type of every transaction); :func:`combine` pools several worlds;
:func:`render_cards` turns the pooled figures into the Markdown cards of ``docs/heuristics/``. Nothing in a
card is typed in: every number comes from these functions.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from chainsleuth.algorithms.clustering.change import (
    CHANGE_HEURISTICS,
    CONFIDENCE,
    SOURCES,
    change_consensus,
    detect_change,
)
from chainsleuth.algorithms.clustering.metrics import cluster_scores, detection_scores, pairwise_scores
from chainsleuth.algorithms.clustering.pipeline import cluster_utxo
from chainsleuth.algorithms.patterns import coinjoin as cjmod
from chainsleuth.algorithms.txarrays import TxArrays

__all__ = ["EVAL_SETS", "combine", "evaluate_world", "render_cards"]

#: heuristic sets scored: (label, heuristics, include_coinjoins)
EVAL_SETS: tuple[tuple[str, tuple[str, ...], bool], ...] = (
    ("co-spend", ("co-spend",), False),
    ("co-spend, CoinJoins included", ("co-spend",), True),
    *((f"co-spend + change:{h}", ("co-spend", f"change:{h}"), False) for h in CHANGE_HEURISTICS),
    ("co-spend + change-consensus", ("co-spend", "change-consensus"), False),
)


def _truth_labels(owner: np.ndarray) -> np.ndarray:
    """Owner per address; unknown owners (-1) become singletons."""
    owner = np.asarray(owner, dtype=np.int64)
    out = owner.copy()
    unknown = owner < 0
    out[unknown] = -1 - np.flatnonzero(unknown)
    return out


def evaluate_world(t: TxArrays, n_addresses: int, owner: np.ndarray, coinjoin_truth: Sequence[str | None],
                   *, chain: str = "btc") -> dict[str, Any]:
    """Score the heuristic sets of :data:`EVAL_SETS`, each change heuristic and the CoinJoin detectors.

    Parameters
    ----------
    t : TxArrays
        The world's transactions.
    n_addresses : int
        Number of address ids.
    owner : ndarray of int
        True owner (entity number) per address id; -1 for unknown.
    coinjoin_truth : sequence of str or None
        True CoinJoin type per transaction row (a name of ``COINJOIN_TYPES``) or None.

    Returns
    -------
    dict
        ``sets``: pairwise and cluster scores per set with the pairs each adds over plain co-spend;
        ``change``: per change heuristic, guesses, correct guesses, transactions with a true change output;
        ``coinjoin``: precision and recall per type; ``counts``.

    Complexity: one clustering per set, O(len(EVAL_SETS) * (A + L) log A).

    Examples
    --------
    >>> t = TxArrays.from_rows(txs=[(0, 1, 1, 0, False)],
    ...                        inputs=[(0, 0, 5, 0xFFFFFFFF, "p2pkh"), (0, 1, 5, 0xFFFFFFFF, "p2pkh")],
    ...                        outputs=[(0, 0, 2, 9, "p2pkh", -1)])
    >>> r = evaluate_world(t, 3, np.array([0, 0, 1]), [None])
    >>> r["sets"]["co-spend"]["pairwise"]["precision"], r["sets"]["co-spend"]["pairwise"]["recall"]
    (1.0, 1.0)
    """
    truth = _truth_labels(owner)
    own = np.asarray(owner, dtype=np.int64)
    out: dict[str, Any] = {"sets": {}, "change": {}, "coinjoin": {}}
    base_labels = None
    for label, hs, incl in EVAL_SETS:
        run = cluster_utxo(t, n_addresses, list(hs), include_coinjoins=incl, chain=chain)
        lab = run.clustering.labels
        if base_labels is None:
            base_labels = lab
        pw = pairwise_scores(lab, truth)
        added = pw["predicted_pairs"] - pairwise_scores(base_labels, truth)["predicted_pairs"]
        added_ok = pw["correct_pairs"] - pairwise_scores(base_labels, truth)["correct_pairs"]
        out["sets"][label] = {"heuristics": list(hs), "include_coinjoins": incl, "pairwise": pw,
                              "cluster": cluster_scores(lab, truth), "added_pairs": int(added),
                              "added_correct_pairs": int(added_ok)}
    # change heuristics: is the guessed output owned by the payer (owner of the first input)?
    cj = cjmod.detect_coinjoins(t, chain=chain)
    guesses = detect_change(t, CHANGE_HEURISTICS, exclude_rows=np.flatnonzero(cj.mask))
    payer = np.full(t.n_tx, -2, dtype=np.int64)
    has_in = t.n_in > 0
    first_addr = t.in_address[np.minimum(t.in_start, max(len(t.in_address) - 1, 0))] if len(t.in_address) else None
    if first_addr is not None:
        fa = np.where(has_in, first_addr, -1)
        payer = np.where(fa >= 0, own[np.maximum(fa, 0)], -2)
    out_owner = np.where(t.out_address >= 0, own[np.maximum(t.out_address, 0)], -3)
    is_change = (out_owner == payer[t.out_tx_row]) & (out_owner >= 0)
    n_change_out = np.bincount(t.out_tx_row, weights=is_change, minlength=t.n_tx)
    eligible = ~t.is_coinbase & (t.n_out >= 2) & ~cj.mask
    with_change = int(np.count_nonzero(eligible & (n_change_out >= 1) & (n_change_out < t.n_out)))
    guesses["consensus"] = change_consensus({k: v for k, v in guesses.items()}, t.n_tx)
    for h, g in guesses.items():
        ok = int(np.count_nonzero(is_change[g.out_row])) if len(g) else 0
        out["change"][h] = {"guesses": len(g), "correct": ok, "txs_with_change": with_change}
    pred = [cj.type_of(i) for i in range(t.n_tx)]
    truth_cj = list(coinjoin_truth)
    out["coinjoin"] = detection_scores(pred, truth_cj, cjmod.COINJOIN_TYPES)
    any_pred = [None if p is None else "any" for p in pred]
    any_true = [None if a is None else "any" for a in truth_cj]
    out["coinjoin"]["any"] = detection_scores(any_pred, any_true, ["any"])["any"]
    out["counts"] = {"txs": t.n_tx, "addresses": n_addresses,
                     "entities": len(np.unique(own[own >= 0])),
                     "coinjoins_true": {k: truth_cj.count(k) for k in cjmod.COINJOIN_TYPES if truth_cj.count(k)}}
    return out


def combine(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Pool the raw counts of several worlds and recompute the ratios (micro-average).

    >>> r = {"sets": {"s": {"heuristics": ["co-spend"], "include_coinjoins": False,
    ...       "pairwise": {"true_pairs": 4, "predicted_pairs": 2, "correct_pairs": 2},
    ...       "cluster": {"precision": 1.0, "recall": 0.5, "exact": 0.5, "predicted_clusters": 2, "true_entities": 2},
    ...       "added_pairs": 0, "added_correct_pairs": 0}},
    ...      "change": {}, "coinjoin": {"any": {"tp": 1, "fp": 0, "fn": 1}}, "counts": {"txs": 3}}
    >>> c = combine([r, r])
    >>> c["sets"]["s"]["pairwise"]["recall"], c["coinjoin"]["any"]["recall"], c["worlds"]
    (0.5, 0.5, 2)
    """
    out: dict[str, Any] = {"sets": {}, "change": {}, "coinjoin": {}, "worlds": len(results), "counts": {}}
    for r in results:
        for k, v in r["counts"].items():
            if isinstance(v, int):
                out["counts"][k] = out["counts"].get(k, 0) + v
        for label, s in r["sets"].items():
            o = out["sets"].setdefault(label, {"heuristics": s["heuristics"], "include_coinjoins": s["include_coinjoins"],
                                               "pairwise": {"true_pairs": 0, "predicted_pairs": 0, "correct_pairs": 0},
                                               "cluster": {"pure": 0.0, "whole": 0.0, "exact_n": 0.0,
                                                           "predicted_clusters": 0, "true_entities": 0},
                                               "added_pairs": 0, "added_correct_pairs": 0})
            for k in ("true_pairs", "predicted_pairs", "correct_pairs"):
                o["pairwise"][k] += s["pairwise"][k]
            c = s["cluster"]
            o["cluster"]["pure"] += c["precision"] * c["predicted_clusters"]
            o["cluster"]["whole"] += c["recall"] * c["true_entities"]
            o["cluster"]["exact_n"] += c["exact"] * c["true_entities"]
            o["cluster"]["predicted_clusters"] += c["predicted_clusters"]
            o["cluster"]["true_entities"] += c["true_entities"]
            o["added_pairs"] += s["added_pairs"]
            o["added_correct_pairs"] += s["added_correct_pairs"]
        for h, c in r["change"].items():
            o = out["change"].setdefault(h, {"guesses": 0, "correct": 0, "txs_with_change": 0})
            for k in o:
                o[k] += c[k]
        for ty, c in r["coinjoin"].items():
            o = out["coinjoin"].setdefault(ty, {"tp": 0, "fp": 0, "fn": 0})
            for k in o:
                o[k] += c[k]
    for s in out["sets"].values():
        p = s["pairwise"]
        p["precision"] = p["correct_pairs"] / p["predicted_pairs"] if p["predicted_pairs"] else 1.0
        p["recall"] = p["correct_pairs"] / p["true_pairs"] if p["true_pairs"] else 1.0
        c = s["cluster"]
        c["precision"] = c.pop("pure") / c["predicted_clusters"] if c["predicted_clusters"] else 1.0
        c["recall"] = c.pop("whole") / c["true_entities"] if c["true_entities"] else 1.0
        c["exact"] = c.pop("exact_n") / c["true_entities"] if c["true_entities"] else 1.0
    for c in out["change"].values():
        c["precision"] = c["correct"] / c["guesses"] if c["guesses"] else None
        c["recall"] = c["correct"] / c["txs_with_change"] if c["txs_with_change"] else None
    for c in out["coinjoin"].values():
        c["precision"] = c["tp"] / (c["tp"] + c["fp"]) if c["tp"] + c["fp"] else None
        c["recall"] = c["tp"] / (c["tp"] + c["fn"]) if c["tp"] + c["fn"] else None
    return out


def _f(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def _constants(module: Any, prefix: str) -> list[str]:
    return [f"- `{k}` = {getattr(module, k)!r}" for k in module.__all__ if k.isupper() and k.startswith(prefix)]


def render_cards(pooled: dict[str, Any], *, provenance: str) -> dict[str, str]:
    """Markdown heuristic cards from pooled results: file name -> text.

    >>> cards = render_cards(combine([]), provenance="none")
    >>> sorted(cards)[:2]
    ['change-address-reuse.md', 'change-consensus.md']
    """
    head = f"_Generated by `chainsleuth eval clustering` from {provenance}. Do not edit by hand._\n\n"
    cards: dict[str, str] = {}
    sets = pooled["sets"]

    def set_row(label: str) -> str:
        s = sets.get(label)
        if s is None:
            return f"| {label} | n/a | n/a | n/a | n/a | n/a |"
        p, c = s["pairwise"], s["cluster"]
        return (f"| {label} | {_f(p['precision'])} | {_f(p['recall'])} | {_f(c['precision'])} | {_f(c['recall'])} "
                f"| {s['added_pairs']} ({s['added_correct_pairs']} correct) |")

    table_head = ("| heuristic set | pairwise precision | pairwise recall | cluster precision | cluster recall "
                  "| address pairs added over co-spend |\n|---|---|---|---|---|---|\n")
    cards["co-spend.md"] = (
        "# Heuristic card: co-spend (multi-input)\n\n" + head
        + "All inputs of a transaction are taken to belong to one entity. Source: Nakamoto 2008 s.10; "
          "Reid & Harrigan 2011; Meiklejohn et al. 2013. Detected CoinJoins are left out by default.\n\n"
        + table_head + set_row("co-spend") + "\n" + set_row("co-spend, CoinJoins included") + "\n\n"
        + f"Worlds: {pooled['worlds']}; transactions: {pooled['counts'].get('txs', 0)}; addresses: "
          f"{pooled['counts'].get('addresses', 0)}; entities: {pooled['counts'].get('entities', 0)}.\n")
    cj = pooled["coinjoin"]
    rows = "\n".join(f"| {t} | {_f(cj.get(t, {}).get('precision'))} | {_f(cj.get(t, {}).get('recall'))} | "
                     f"{cj.get(t, {}).get('tp', 0)} | {cj.get(t, {}).get('fp', 0)} | {cj.get(t, {}).get('fn', 0)} |"
                     for t in (*cjmod.COINJOIN_TYPES, "any"))
    cards["coinjoin-detection.md"] = (
        "# Heuristic card: CoinJoin detection\n\n" + head
        + "Detectors per type (see docs/clustering.md). 'any' scores CoinJoin vs not, whatever the type.\n\n"
        + "| type | precision | recall | true positives | false positives | false negatives |\n"
          "|---|---|---|---|---|---|\n" + rows + "\n\nThresholds (named constants of "
          "`chainsleuth.algorithms.patterns.coinjoin`):\n\n" + "\n".join(_constants(cjmod, "")) + "\n")
    for h in (*CHANGE_HEURISTICS, "consensus"):
        c = pooled["change"].get(h, {"guesses": 0, "correct": 0, "txs_with_change": 0, "precision": None,
                                      "recall": None})
        label = "co-spend + change-consensus" if h == "consensus" else f"co-spend + change:{h}"
        name = "change-consensus.md" if h == "consensus" else f"change-{h}.md"
        src = ("all change heuristics; a guess only where at least two agree and none disagrees" if h == "consensus"
               else SOURCES[h])
        conf = "" if h == "consensus" else f" Prior confidence attached to its evidence: {CONFIDENCE[h]}.\n"
        cards[name] = (
            f"# Heuristic card: change detection, {h}\n\n" + head + f"Source: {src}.{conf}\n"
            "Off by default for merging. Change guesses on transactions that are not CoinJoins:\n\n"
            "| guesses | correct | precision | transactions with a true change output | recall |\n|---|---|---|---|---|\n"
            f"| {c['guesses']} | {c['correct']} | {_f(c['precision'])} | {c['txs_with_change']} | {_f(c['recall'])} |\n\n"
            "What merging its guesses adds to and costs co-spend clustering:\n\n" + table_head + set_row("co-spend")
            + "\n" + set_row(label) + "\n")
    return cards
