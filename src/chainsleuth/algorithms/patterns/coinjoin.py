"""CoinJoin detection per type: Wasabi 1.x, Wasabi 2.0 (WabiSabi), Whirlpool, JoinMarket, generic equal-output.

A CoinJoin's inputs belong to many people, so the co-spend heuristic must not merge them; clustering
leaves detected CoinJoins out by default. Each detector is a vectorised test over :class:`TxArrays`; every
threshold is a named constant with its unit and the place it comes from. A transaction matching several
detectors gets the first type in :data:`COINJOIN_TYPES` order (most specific first).

Sources
-------
- Dumplings (nopara73, the Wasabi author's CoinJoin scanner), ``Dumplings/Scanning/Scanner.cs``: Wasabi 1.x,
  Samourai Whirlpool and "other" equal-output rules; used by Stockinger et al., "Pinpointing and Measuring
  Wasabi and Samourai CoinJoins in the Bitcoin Ecosystem" (2021, arXiv:2109.10229).
- BlockSci (Kalodner et al., USENIX Security 2020), ``heuristics/tx_identification.cpp`` ``isCoinjoin``:
  the JoinMarket-shaped rule (one equal output per participant plus change); the CRoCS fork of BlockSci
  (Svenda et al., PETS 2025) adds ``isWasabi2CoinJoin`` ported from Dumplings.
- GraphSense excludes the same CoinJoin types from its multi-input clustering (graphsense-lib).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from chainsleuth.algorithms.txarrays import TxArrays
from chainsleuth.core.evidence import Evidence

__all__ = [
    "COINJOIN_TYPES",
    "DUST_VALUES_SAT",
    "GENERIC_INPUT_SLACK_SAT",
    "GENERIC_MIN_EQUAL_OUTPUTS",
    "JOINMARKET_MIN_INPUTS",
    "JOINMARKET_MIN_OUTPUTS",
    "JOINMARKET_MIN_PARTICIPANTS",
    "WASABI1_BASE_DENOMINATION_SAT",
    "WASABI1_DENOMINATION_TOLERANCE_SAT",
    "WASABI1_MIN_DISTINCT_INPUT_ADDRESSES",
    "WASABI1_MIN_EQUAL_OUTPUTS",
    "WASABI2_FIRST_BLOCK",
    "WASABI2_MIN_DENOMINATION_SHARE",
    "WASABI2_MIN_DISTINCT_INPUT_ADDRESSES",
    "WASABI2_MIN_INPUTS",
    "WASABI2_MIN_OUTPUTS",
    "WASABI2_MIN_REPEATED_VALUES",
    "WASABI2_SCRIPT_TYPES",
    "WHIRLPOOL_PARTICIPANTS",
    "WHIRLPOOL_POOLS_SAT",
    "CoinJoins",
    "detect_coinjoins",
    "wasabi2_denominations",
]

#: detector names in priority order; code i+1 in :attr:`CoinJoins.kind` (0 = not a CoinJoin)
COINJOIN_TYPES = ("wasabi2", "wasabi1", "whirlpool", "joinmarket", "generic")

# -- Wasabi 1.x (Dumplings Scanner.cs, Constants.cs) -----------------------------------------------------
#: satoshi; Wasabi 1.x base denomination was ~0.1 BTC (Dumplings ``ApproximateWasabiBaseDenomination``)
WASABI1_BASE_DENOMINATION_SAT = 10_000_000
#: satoshi; the base denomination drifted within 0.02 BTC (Dumplings ``WasabiBaseDenominationPrecision``)
WASABI1_DENOMINATION_TOLERANCE_SAT = 2_000_000
#: outputs; Dumplings counts Wasabi 1.x volume with at least 10 equal outputs
#: (``mostFrequentEqualOutputCount >= 10``). Here a detection removes a transaction from co-spend, where a
#: false detection only costs recall and a missed round merges strangers, so smaller rounds count too
#: (this project; measured in docs/heuristics/coinjoin-detection.md)
WASABI1_MIN_EQUAL_OUTPUTS = 5
#: distinct input addresses; a round passes with Dumplings' ``inputCount >= mostFrequentEqualOutputCount``
#: or with at least this many distinct input addresses: the second form catches rounds where a participant
#: takes outputs at several mixing levels (0.1, 0.2, 0.4 BTC, ...) while keeping a single wallet's batch
#: payout of 0.1 BTC outputs out (this project)
WASABI1_MIN_DISTINCT_INPUT_ADDRESSES = 5

# -- Wasabi 2.0 / WabiSabi (Dumplings; BlockSci CRoCS fork ``isWasabi2CoinJoin``) ------------------------
#: block height of the first Wasabi 2.0 CoinJoin on mainnet (BlockSci CRoCS fork). Not used as a gate: an
#: earlier transaction of this shape is another coordinator's CoinJoin, and leaving it out of co-spend is right
WASABI2_FIRST_BLOCK = 741_213
#: inputs; rounds have at least 50 inputs (BlockSci CRoCS fork ``inputCount() < 50``)
WASABI2_MIN_INPUTS = 50
#: every input and output is P2WPKH or P2TR (BlockSci CRoCS fork: WITNESS_PUBKEYHASH / WITNESS_UNKNOWN)
WASABI2_SCRIPT_TYPES = ("p2wpkh", "p2tr")
#: fraction; more than 80% of outputs are standard denominations (BlockSci CRoCS fork ``> outputCount * 0.8``)
WASABI2_MIN_DENOMINATION_SHARE = 0.8
#: The rule above (>= 50 inputs, segwit-only inputs sorted by value) misses small rounds and rounds with
#: legacy inputs. A transaction also counts when its outputs are segwit-only and sorted by value descending
#: (the coordinator's order; BIP69 wallets sort ascending), it has at least this many outputs ...
WASABI2_MIN_OUTPUTS = 10
#: ... inputs from at least this many distinct addresses ...
WASABI2_MIN_DISTINCT_INPUT_ADDRESSES = 5
#: ... and either mostly standard denominations or at least this many output values that occur twice or
#: more (several denominations shared by participants). A false detection only costs co-spend recall;
#: a missed round merges strangers (this project; measured in docs/heuristics/coinjoin-detection.md)
WASABI2_MIN_REPEATED_VALUES = 3
#: satoshi; standard denominations lie between these bounds (WalletWasabi ``DenominationBuilder``)
_WASABI2_MIN_DENOM_SAT, _WASABI2_MAX_DENOM_SAT = 5_000, 2**37

# -- Whirlpool (Dumplings Scanner.cs: 5 inputs, 5 outputs, all equal, pool sizes) ------------------------
#: inputs = outputs in a Whirlpool mix (Dumplings ``inputCount == 5 && outputCount == 5``)
WHIRLPOOL_PARTICIPANTS = 5
#: satoshi; pool denominations 0.001, 0.01, 0.05 and 0.5 BTC (Samourai Whirlpool pools; Dumplings)
WHIRLPOOL_POOLS_SAT = (100_000, 1_000_000, 5_000_000, 50_000_000)

# -- JoinMarket (BlockSci ``isCoinjoin``: one equal output per participant plus change) --------------------
#: inputs; at least 2 (BlockSci ``inputCount() < 2``)
JOINMARKET_MIN_INPUTS = 2
#: outputs; at least 3 (BlockSci ``outputCount() < 3``)
JOINMARKET_MIN_OUTPUTS = 3
#: satoshi; equal outputs of these values are dust sends, not CoinJoins (BlockSci: 546 and 2730)
DUST_VALUES_SAT = (546, 2730)
#: participants (equal outputs); a taker and at least two makers. BlockSci's rule alone also accepts
#: 2-party shapes (a wallet's Tx0 or split with two equal outputs); JoinMarket's own ``minimum_makers``
#: setting defaults to more than two makers (joinmarket-clientserver)
JOINMARKET_MIN_PARTICIPANTS = 3

# -- generic equal-output (Dumplings "other CoinJoins") -------------------------------------------------
#: outputs; the equal-value group has at least this many members. Dumplings also requires exactly one
#: equal-value group, as many equal outputs as other outputs, and as many distinct input and output
#: scripts as equal outputs (all applied here); the minimum of 3 keeps 2-party shapes out (this project)
GENERIC_MIN_EQUAL_OUTPUTS = 3
#: satoshi; Dumplings' subset-sum shortcut: max input <= equal value + max other output - 0.0001 BTC
GENERIC_INPUT_SLACK_SAT = 10_000


def wasabi2_denominations() -> np.ndarray:
    """Wasabi 2.0 standard denominations in satoshi, sorted.

    Powers of 2 and of 3, twice the powers of 3, and 1-2-5 times the powers of 10, between 5,000 sat and
    2^37 sat (WalletWasabi ``DenominationBuilder``).

    >>> d = wasabi2_denominations()
    >>> bool(np.isin([5_000, 6_561, 10_000, 2**20], d).all()), bool(np.isin(7_000, d))
    (True, False)
    """
    vals: set[int] = set()
    for base, mults in ((2, (1,)), (3, (1, 2)), (10, (1, 2, 5))):
        x = 1
        while x <= _WASABI2_MAX_DENOM_SAT:
            for k in mults:
                if _WASABI2_MIN_DENOM_SAT <= k * x <= _WASABI2_MAX_DENOM_SAT:
                    vals.add(k * x)
            x *= base
    return np.array(sorted(vals), dtype=np.int64)


@dataclass(frozen=True, eq=False)
class CoinJoins:
    """Per-transaction detection result (rows aligned with ``TxArrays.tx_id``).

    ``kind`` is 0 for none, else 1 + index into :data:`COINJOIN_TYPES`; ``equal_value`` / ``equal_count``
    describe the most frequent output value (the CoinJoin denomination when one is detected).
    """

    tx_id: np.ndarray
    kind: np.ndarray
    equal_value: np.ndarray
    equal_count: np.ndarray

    @property
    def mask(self) -> np.ndarray:
        return self.kind > 0

    def type_of(self, row: int) -> str | None:
        k = int(self.kind[row])
        return COINJOIN_TYPES[k - 1] if k else None

    def counts(self) -> dict[str, int]:
        bc = np.bincount(self.kind, minlength=len(COINJOIN_TYPES) + 1)
        return {name: int(bc[i + 1]) for i, name in enumerate(COINJOIN_TYPES)}

    def evidence(self, row: int) -> Evidence | None:
        """Why the transaction at ``row`` is a CoinJoin (None when it is not)."""
        t = self.type_of(row)
        if t is None:
            return None
        return Evidence(
            heuristic=f"coinjoin:{t}",
            summary=f"{t} CoinJoin: {int(self.equal_count[row])} equal outputs of {int(self.equal_value[row])} sat",
            confidence=_CONFIDENCE[t], source=_SOURCES[t],
            details={"tx_id": int(self.tx_id[row]), "equal_value": int(self.equal_value[row]),
                     "equal_count": int(self.equal_count[row])})


#: how sure each detector is; the structural detectors of the named wallets are near-certain on mainnet
_CONFIDENCE = {"wasabi2": 0.95, "wasabi1": 0.95, "whirlpool": 0.95, "joinmarket": 0.8, "generic": 0.6}
_SOURCES = {
    "wasabi2": "Dumplings Scanner.cs; BlockSci CRoCS fork isWasabi2CoinJoin (Svenda et al., PETS 2025)",
    "wasabi1": "Dumplings Scanner.cs (Stockinger et al. 2021, arXiv:2109.10229)",
    "whirlpool": "Dumplings Scanner.cs, Samourai Whirlpool pools (Stockinger et al. 2021)",
    "joinmarket": "BlockSci tx_identification.cpp isCoinjoin (Kalodner et al., USENIX Security 2020); "
                  "Möser & Böhme 2017",
    "generic": "Dumplings Scanner.cs 'other' equal-output CoinJoins",
}


def _group_counts(row: np.ndarray, key: np.ndarray, n_rows: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row: the most frequent key, its count, and the number of distinct keys."""
    if len(row) == 0:
        z = np.zeros(n_rows, dtype=np.int64)
        return z, z.copy(), z.copy()
    o = np.lexsort((key, row))
    r, k = row[o], key[o]
    new = np.ones(len(r), dtype=bool)
    new[1:] = (r[1:] != r[:-1]) | (k[1:] != k[:-1])
    starts = np.flatnonzero(new)
    run_len = np.diff(np.append(starts, len(r)))
    run_row, run_key = r[starts], k[starts]
    distinct = np.bincount(run_row, minlength=n_rows)
    # most frequent key per row: sort runs by (row, -len, key) and take the first of each row
    o2 = np.lexsort((run_key, -run_len, run_row))
    first = np.ones(len(o2), dtype=bool)
    first[1:] = run_row[o2][1:] != run_row[o2][:-1]
    sel = o2[first]
    top_key = np.zeros(n_rows, dtype=np.int64)
    top_cnt = np.zeros(n_rows, dtype=np.int64)
    top_key[run_row[sel]] = run_key[sel]
    top_cnt[run_row[sel]] = run_len[sel]
    return top_key, top_cnt, distinct


def detect_coinjoins(t: TxArrays, *, chain: str = "btc", types: tuple[str, ...] = COINJOIN_TYPES) -> CoinJoins:
    """Detect CoinJoin transactions of each type.

    Parameters
    ----------
    t : TxArrays
        Transactions with their inputs (resolved prevouts) and outputs.
    chain : str
        Store chain name (kept for detectors that depend on the network; the built-in ones judge by
        structure alone).
    types : tuple of str
        Detectors to run (default all of :data:`COINJOIN_TYPES`).

    Returns
    -------
    CoinJoins
        The type per transaction (0 = none) and the most frequent output value and its count.

    Notes
    -----
    Complexity: O(I log I + O log O) for I inputs and O outputs (two sorts); memory O(I + O).

    Examples
    --------
    >>> rows = [(0, 1, 1, 0, False)]
    >>> ins = [(0, a, 1_000_500, 0xFFFFFFFF, "p2wpkh") for a in range(5)]
    >>> outs = [(0, n, 10 + n, 1_000_000, "p2wpkh", -1) for n in range(5)]
    >>> cj = detect_coinjoins(TxArrays.from_rows(txs=rows, inputs=ins, outputs=outs), chain="btc-regtest")
    >>> cj.type_of(0), cj.counts()["whirlpool"]
    ('whirlpool', 1)
    """
    unknown = set(types) - set(COINJOIN_TYPES)
    if unknown:
        raise ValueError(f"unknown CoinJoin type(s) {sorted(unknown)}; choose from {', '.join(COINJOIN_TYPES)}")
    n = t.n_tx
    n_in, n_out = t.n_in, t.n_out
    ir, orow = t.in_tx_row, t.out_tx_row
    eq_val, eq_cnt, distinct_vals = _group_counts(orow, t.out_value, n)
    # an unresolved input counts as an address of its own: detection must not depend on knowing prevouts
    in_addr = np.where(t.in_address >= 0, t.in_address, -2 - np.arange(len(t.in_address), dtype=np.int64))
    _, _, distinct_in_addr = _group_counts(ir, in_addr, n)
    _, _, distinct_out_addr = _group_counts(orow, t.out_address, n)
    not_cb = ~t.is_coinbase
    kind = np.zeros(n, dtype=np.int8)

    def assign(name: str, hit: np.ndarray) -> None:
        if name in types:
            kind[(kind == 0) & hit & not_cb] = COINJOIN_TYPES.index(name) + 1

    # Wasabi 2.0
    if "wasabi2" in types:
        ok_types = np.array([t.script_code(s) for s in WASABI2_SCRIPT_TYPES])
        bad_in = np.bincount(ir, weights=~np.isin(t.in_script_type, ok_types), minlength=n) > 0
        bad_out = np.bincount(orow, weights=~np.isin(t.out_script_type, ok_types), minlength=n) > 0
        same_in, same_out = ir[1:] == ir[:-1], orow[1:] == orow[:-1]
        up_in = np.bincount(ir[1:][same_in & (t.in_value[1:] > t.in_value[:-1])], minlength=n) > 0
        up_out = np.bincount(orow[1:][same_out & (t.out_value[1:] > t.out_value[:-1])], minlength=n) > 0
        denom = np.bincount(orow, weights=np.isin(t.out_value, wasabi2_denominations()), minlength=n)
        strict = (~bad_in & ~bad_out & (n_in >= WASABI2_MIN_INPUTS) & ~up_in & ~up_out
                  & (denom > n_out * WASABI2_MIN_DENOMINATION_SHARE))
        # smaller rounds: segwit outputs in descending order from many inputs, paying either mostly standard
        # denominations or several repeated values (a missed round merges strangers; see the constants)
        repeated = _multi_value_groups(orow, t.out_value, n)
        small = (~bad_out & ~up_out & (n_out >= WASABI2_MIN_OUTPUTS)
                 & (distinct_in_addr >= WASABI2_MIN_DISTINCT_INPUT_ADDRESSES)
                 & ((denom > n_out * WASABI2_MIN_DENOMINATION_SHARE) | (repeated >= WASABI2_MIN_REPEATED_VALUES)))
        assign("wasabi2", strict | small)
    # Wasabi 1.x
    assign("wasabi1", (eq_cnt >= WASABI1_MIN_EQUAL_OUTPUTS)
           & ((n_in >= eq_cnt) | (distinct_in_addr >= WASABI1_MIN_DISTINCT_INPUT_ADDRESSES))
           & (np.abs(eq_val - WASABI1_BASE_DENOMINATION_SAT) <= WASABI1_DENOMINATION_TOLERANCE_SAT))
    # Whirlpool
    assign("whirlpool", (n_in == WHIRLPOOL_PARTICIPANTS) & (n_out == WHIRLPOOL_PARTICIPANTS)
           & (eq_cnt == WHIRLPOOL_PARTICIPANTS) & np.isin(eq_val, WHIRLPOOL_POOLS_SAT))
    # JoinMarket (BlockSci isCoinjoin)
    participants = (n_out + 1) // 2
    assign("joinmarket", (n_in >= JOINMARKET_MIN_INPUTS) & (n_out >= JOINMARKET_MIN_OUTPUTS)
           & (participants <= n_in) & (participants <= distinct_in_addr) & (eq_cnt == participants)
           & (eq_cnt >= JOINMARKET_MIN_PARTICIPANTS)
           & ~np.isin(eq_val, DUST_VALUES_SAT))
    # generic equal-output (Dumplings "other")
    if "generic" in types:
        other_max = np.zeros(n, dtype=np.int64)
        not_eq = t.out_value != eq_val[orow]
        np.maximum.at(other_max, orow[not_eq], t.out_value[not_eq])
        in_max = np.zeros(n, dtype=np.int64)
        np.maximum.at(in_max, ir, t.in_value)
        multi_groups = _multi_value_groups(orow, t.out_value, n)
        assign("generic", (eq_cnt >= GENERIC_MIN_EQUAL_OUTPUTS) & (multi_groups == 1) & (eq_cnt == n_out - eq_cnt)
               & (distinct_out_addr >= eq_cnt) & (distinct_in_addr >= eq_cnt)
               & (in_max <= eq_val + other_max - GENERIC_INPUT_SLACK_SAT) & ~np.isin(eq_val, DUST_VALUES_SAT))
    del distinct_vals
    return CoinJoins(tx_id=t.tx_id, kind=kind, equal_value=eq_val, equal_count=eq_cnt)


def _multi_value_groups(row: np.ndarray, value: np.ndarray, n_rows: int) -> np.ndarray:
    """Per row: how many distinct output values occur at least twice."""
    if len(row) == 0:
        return np.zeros(n_rows, dtype=np.int64)
    o = np.lexsort((value, row))
    r, v = row[o], value[o]
    same_next = np.zeros(len(r), dtype=bool)
    same_next[:-1] = (r[1:] == r[:-1]) & (v[1:] == v[:-1])
    start = np.ones(len(r), dtype=bool)
    start[1:] = ~same_next[:-1]
    return np.bincount(r[start & same_next], minlength=n_rows)
