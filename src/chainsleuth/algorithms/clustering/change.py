"""Change-address heuristics: which output of a payment went back to the payer.

Each heuristic is switchable, looks at every candidate transaction at once (numpy), and answers with
:class:`ChangeGuesses`: the transaction, the output it believes is change and a confidence; ``evidence(i)``
turns a guess into :class:`~chainsleuth.core.evidence.Evidence`. :func:`change_consensus` combines them.
They are off by default for merging clusters: a wrong change guess merges a payee into the payer.

Candidates: not coinbase, not a detected CoinJoin, two or more outputs, every input address known.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from chainsleuth.algorithms.clustering.cospend import Edges
from chainsleuth.algorithms.txarrays import TxArrays
from chainsleuth.core.evidence import Evidence

__all__ = [
    "CHANGE_HEURISTICS",
    "CONFIDENCE",
    "CONSENSUS_MIN_AGREEING",
    "RBF_SEQUENCE_BELOW",
    "ROUND_AMOUNT_UNIT_SAT",
    "SOURCES",
    "ChangeGuesses",
    "change_consensus",
    "change_edges",
    "detect_change",
]

#: satoshi; a payment amount is "round" when it is a multiple of this (0.001 BTC; BlockSci's
#: power-of-ten change heuristic with 5 digits; Androulaki et al. 2013 use round payments)
ROUND_AMOUNT_UNIT_SAT = 100_000
#: an input sequence below this value signals opt-in replace-by-fee (BIP125: nSequence < 0xfffffffe)
RBF_SEQUENCE_BELOW = 0xFFFFFFFE
#: heuristics; the consensus needs at least this many agreeing (and none disagreeing). On generated worlds
#: one voice gave 0.949 guess precision, two 0.989, three 0.999 (3 worlds; docs/heuristics/change-consensus.md
#: has the current run's figure) (this project)
CONSENSUS_MIN_AGREEING = 2

#: confidence of each heuristic's guess, a prior from the literature's reported accuracy; the
#: measured error rates on generated worlds are in docs/heuristics/ (``chainsleuth eval clustering``)
CONFIDENCE = {
    "address-reuse": 0.95,
    "one-time-change": 0.6,
    "script-type": 0.7,
    "optimal-change": 0.6,
    "round-amount": 0.55,
    "fingerprint": 0.55,
    "peel-chain": 0.7,
}
SOURCES = {
    "address-reuse": "Androulaki et al., 'Evaluating User Privacy in Bitcoin' (FC 2013), shadow addresses; "
                     "BlockSci ChangeHeuristic 'address reuse'",
    "one-time-change": "Meiklejohn et al., 'A Fistful of Bitcoins' (IMC 2013), heuristic 2",
    "script-type": "BlockSci 'address type' change heuristic (Kalodner et al. 2020); "
                   "Möser & Narayanan, 'Resurrecting Address Clustering in Bitcoin' (FC 2022)",
    "optimal-change": "Nick, 'Data-Driven De-Anonymization in Bitcoin' (2015); BlockSci 'optimal change'",
    "round-amount": "Androulaki et al. (FC 2013); BlockSci 'power of ten value' change heuristic",
    "fingerprint": "Möser & Narayanan (FC 2022), wallet fingerprints: version, locktime, RBF (BIP125)",
    "peel-chain": "Meiklejohn et al. (IMC 2013) peeling chains; BlockSci isPeelingChain",
}
#: the heuristics in display order
CHANGE_HEURISTICS = tuple(CONFIDENCE)


@dataclass(frozen=True, eq=False)
class ChangeGuesses:
    """Guesses of one heuristic (or the consensus): per guessed transaction, the change output row."""

    heuristic: str
    tx_row: np.ndarray
    out_row: np.ndarray
    confidence: np.ndarray

    def __len__(self) -> int:
        return len(self.tx_row)

    def evidence(self, i: int, t: TxArrays) -> Evidence:
        """Evidence for guess ``i`` (address ids and values from ``t``)."""
        r, o = int(self.tx_row[i]), int(self.out_row[i])
        return Evidence(
            heuristic=f"change:{self.heuristic}",
            summary=(f"output {int(t.out_n[o])} ({int(t.out_value[o])} sat to address id "
                     f"{int(t.out_address[o])}) is likely change by {self.heuristic}"),
            confidence=float(self.confidence[i]),
            source=SOURCES.get(self.heuristic, "consensus of: " + ", ".join(CHANGE_HEURISTICS)),
            details={"tx_id": int(t.tx_id[r]), "output": int(t.out_n[o]), "address_id": int(t.out_address[o])})


class _Ctx:
    """Per-run derived arrays shared by the heuristics."""

    def __init__(self, t: TxArrays, exclude_rows: np.ndarray | None,
                 first_seen: Mapping[int, int] | None = None) -> None:
        self.t = t
        self.first_seen = first_seen
        n = t.n_tx
        self.orow, self.irow = t.out_tx_row, t.in_tx_row
        unknown_in = np.bincount(self.irow, weights=t.in_address < 0, minlength=n) > 0
        cand = ~t.is_coinbase & (t.n_out >= 2) & (t.n_in >= 1) & ~unknown_in
        if exclude_rows is not None and len(exclude_rows):
            cand[exclude_rows] = False
        self.cand = cand
        stride = np.int64(max(int(t.out_address.max(initial=0)), int(t.in_address.max(initial=0))) + 2)
        in_keys = t.in_tx * stride + (t.in_address + 1)
        self.out_to_input = np.isin(t.tx_id[self.orow] * stride + (t.out_address + 1), in_keys)
        self.stride = stride

    def per_tx(self, out_mask: np.ndarray) -> np.ndarray:
        """How many outputs of each tx satisfy ``out_mask``."""
        return np.bincount(self.orow, weights=out_mask, minlength=self.t.n_tx).astype(np.int64)

    def unique_pick(self, out_mask: np.ndarray, tx_ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Candidate txs (and ``tx_ok``) with exactly one output in ``out_mask``: (tx rows, that output row)."""
        good = self.cand & tx_ok & (self.per_tx(out_mask) == 1)
        rows = np.flatnonzero(out_mask & good[self.orow])
        return self.orow[rows], rows


def _address_reuse(c: _Ctx) -> tuple[np.ndarray, np.ndarray]:
    return c.unique_pick(c.out_to_input, np.ones(c.t.n_tx, dtype=bool))


def _one_time_change(c: _Ctx) -> tuple[np.ndarray, np.ndarray]:
    t = c.t
    has = t.out_address >= 0
    first = np.full(int(t.out_address.max(initial=-1)) + 1, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(first, t.out_address[has], t.out_tx[has])
    if c.first_seen:   # history beyond the arrays (explaining one transaction)
        ids = np.fromiter(c.first_seen.keys(), dtype=np.int64)
        ok = ids < len(first)
        first[ids[ok]] = np.minimum(first[ids[ok]], np.fromiter(c.first_seen.values(), dtype=np.int64)[ok])
    key = t.out_tx * c.stride + (t.out_address + 1)
    _, inv, cnt = np.unique(key, return_inverse=True, return_counts=True)
    new = has & (first[np.where(has, t.out_address, 0)] == t.out_tx) & (cnt[inv] == 1)
    no_self = c.per_tx(c.out_to_input) == 0
    all_addr = c.per_tx(~has) == 0
    return c.unique_pick(new, no_self & all_addr)


def _script_type(c: _Ctx) -> tuple[np.ndarray, np.ndarray]:
    t = c.t
    n = t.n_tx
    mn = np.full(n, np.iinfo(np.int64).max, dtype=np.int64)
    mx = np.full(n, -1, dtype=np.int64)
    np.minimum.at(mn, c.irow, t.in_script_type)
    np.maximum.at(mx, c.irow, t.in_script_type)
    one_type = mn == mx
    match = t.out_script_type == mn[c.orow]
    return c.unique_pick(match, one_type)


def _optimal_change(c: _Ctx) -> tuple[np.ndarray, np.ndarray]:
    t = c.t
    mn = np.full(t.n_tx, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(mn, c.irow, t.in_value)
    known = np.bincount(c.irow, weights=t.in_value < 0, minlength=t.n_tx) == 0
    return c.unique_pick(t.out_value < mn[c.orow], known)


def _round_amount(c: _Ctx) -> tuple[np.ndarray, np.ndarray]:
    t = c.t
    not_round = (t.out_value % ROUND_AMOUNT_UNIT_SAT) != 0
    return c.unique_pick(not_round, np.ones(t.n_tx, dtype=bool))


def _fingerprint_of(t: TxArrays, irow: np.ndarray) -> np.ndarray:
    rbf = np.bincount(irow, weights=t.in_sequence < RBF_SEQUENCE_BELOW, minlength=t.n_tx) > 0
    return (t.version * 4 + (t.locktime > 0) * 2 + rbf).astype(np.int64)


def _spender_rows(t: TxArrays) -> np.ndarray:
    """Row of the transaction spending each output, -1 when unspent or not in ``t``."""
    r = np.searchsorted(t.tx_id, t.out_spent_tx)
    r = np.minimum(r, max(t.n_tx - 1, 0))
    ok = (t.out_spent_tx >= 0) & (t.n_tx > 0)
    ok &= t.tx_id[r] == t.out_spent_tx if t.n_tx else ok
    return np.where(ok, r, -1)


def _fingerprint(c: _Ctx) -> tuple[np.ndarray, np.ndarray]:
    t = c.t
    fp = _fingerprint_of(t, c.irow)
    sp = _spender_rows(t)
    match = (sp >= 0) & (fp[np.maximum(sp, 0)] == fp[c.orow]) & (sp != c.orow)
    return c.unique_pick(match, np.ones(t.n_tx, dtype=bool))


def _peel_chain(c: _Ctx) -> tuple[np.ndarray, np.ndarray]:
    t = c.t
    peel = (t.n_in == 1) & (t.n_out == 2) & ~t.is_coinbase
    sp = _spender_rows(t)
    cont = (sp >= 0) & peel[np.maximum(sp, 0)]
    return c.unique_pick(cont, peel)


_DETECTORS: dict[str, Callable[[_Ctx], tuple[np.ndarray, np.ndarray]]] = {
    "address-reuse": _address_reuse,
    "one-time-change": _one_time_change,
    "script-type": _script_type,
    "optimal-change": _optimal_change,
    "round-amount": _round_amount,
    "fingerprint": _fingerprint,
    "peel-chain": _peel_chain,
}


def detect_change(t: TxArrays, heuristics: Sequence[str] = CHANGE_HEURISTICS, *,
                  exclude_rows: np.ndarray | None = None,
                  first_seen: Mapping[int, int] | None = None) -> dict[str, ChangeGuesses]:
    """Run change heuristics over every candidate transaction.

    Parameters
    ----------
    t : TxArrays
        Transactions with inputs (resolved) and outputs; for ``fingerprint`` and ``peel-chain`` also the
        spending transactions of the outputs.
    heuristics : sequence of str
        Names from :data:`CHANGE_HEURISTICS`.
    exclude_rows : ndarray of int, optional
        Transaction rows never to guess on (detected CoinJoins).
    first_seen : mapping of int to int, optional
        Address id -> first tx_id paying it, for history outside ``t`` (one-time change on a single tx).

    Returns
    -------
    dict of str to ChangeGuesses
        One entry per heuristic; a heuristic abstains (no row) where its rule does not single out one output.

    Notes
    -----
    Complexity: O(I + O log O) (one sort of output keys for one-time change), memory O(I + O).
    Sources: :data:`SOURCES`.

    Examples
    --------
    >>> t = TxArrays.from_rows(
    ...     txs=[(0, 1, 1, 0, False), (1, 2, 1, 0, False)],
    ...     inputs=[(0, 9, 100_000_000, 0xFFFFFFFF, "p2pkh"), (1, 7, 80_000_000, 0xFFFFFFFF, "p2pkh")],
    ...     outputs=[(0, 0, 7, 80_000_000, "p2pkh", 1), (0, 1, 8, 19_990_000, "p2wpkh", -1),
    ...              (1, 0, 5, 70_000_000, "p2wpkh", -1), (1, 1, 6, 9_990_000, "p2pkh", -1)])
    >>> g = detect_change(t, ["script-type", "round-amount"])
    >>> g["script-type"].out_row.tolist(), g["round-amount"].out_row.tolist()
    ([0, 3], [1, 3])
    """
    unknown = [h for h in heuristics if h not in _DETECTORS]
    if unknown:
        raise ValueError(f"unknown change heuristic(s) {unknown}; choose from {', '.join(CHANGE_HEURISTICS)}")
    c = _Ctx(t, exclude_rows, first_seen)
    out: dict[str, ChangeGuesses] = {}
    for h in heuristics:
        rows, orows = _DETECTORS[h](c)
        out[h] = ChangeGuesses(h, rows, orows, np.full(len(rows), CONFIDENCE[h]))
    return out


def change_consensus(guesses: dict[str, ChangeGuesses], n_tx: int) -> ChangeGuesses:
    """Combine heuristics: a transaction gets a consensus guess when at least
    :data:`CONSENSUS_MIN_AGREEING` heuristics spoke and all of them point at the same output.

    Confidence is ``1 - prod(1 - c_i)`` over the agreeing heuristics (independent-evidence combination);
    a transaction where two heuristics point at different outputs gets no guess (conflict = abstain).

    Complexity: O(total guesses).

    >>> g = {"a": ChangeGuesses("a", np.array([0, 1]), np.array([5, 7]), np.array([0.5, 0.5])),
    ...      "b": ChangeGuesses("b", np.array([0, 1]), np.array([5, 8]), np.array([0.6, 0.6]))}
    >>> c = change_consensus(g, 2)
    >>> c.tx_row.tolist(), c.out_row.tolist(), [round(x, 2) for x in c.confidence.tolist()]
    ([0], [5], [0.8])
    """
    if not guesses:
        e = np.empty(0, dtype=np.int64)
        return ChangeGuesses("consensus", e, e.copy(), np.empty(0))
    rows = np.concatenate([g.tx_row for g in guesses.values()])
    outs = np.concatenate([g.out_row for g in guesses.values()])
    logmiss = np.concatenate([np.log1p(-np.minimum(g.confidence, 0.999999)) for g in guesses.values()])
    lo = np.full(n_tx, np.iinfo(np.int64).max, dtype=np.int64)
    hi = np.full(n_tx, -1, dtype=np.int64)
    np.minimum.at(lo, rows, outs)
    np.maximum.at(hi, rows, outs)
    voices = np.bincount(rows, minlength=n_tx)
    agree = (hi >= 0) & (lo == hi) & (voices >= CONSENSUS_MIN_AGREEING)
    acc = np.zeros(n_tx)
    np.add.at(acc, rows, logmiss)
    r = np.flatnonzero(agree)
    return ChangeGuesses("consensus", r, hi[r], 1.0 - np.exp(acc[r]))


def change_edges(t: TxArrays, guesses: ChangeGuesses, *, name: str | None = None) -> Edges:
    """Links from change guesses: the tx's first input address to the change output's address.

    >>> t = TxArrays.from_rows(txs=[(0, 1, 1, 0, False)], inputs=[(0, 9, 10, 0xFFFFFFFF, "p2pkh")],
    ...                        outputs=[(0, 0, 7, 5, "p2pkh", -1), (0, 1, 8, 4, "p2pkh", -1)])
    >>> e = change_edges(t, ChangeGuesses("x", np.array([0]), np.array([1]), np.array([0.5])))
    >>> e.a.tolist(), e.b.tolist(), e.names
    ([9], [8], ('change:x',))
    """
    first_in = t.in_start[guesses.tx_row]
    a = t.in_address[first_in] if len(first_in) else np.empty(0, dtype=np.int64)
    b = t.out_address[guesses.out_row]
    ok = (a >= 0) & (b >= 0) & (a != b)
    return Edges(a[ok], b[ok], t.tx_id[guesses.tx_row][ok], np.zeros(int(ok.sum()), dtype=np.int64),
                 guesses.confidence[ok], (name or f"change:{guesses.heuristic}",))
