"""UTXO transactions as flat numpy arrays: what clustering and pattern detectors take as input.

One row per transaction, one row per input, one row per output; rows refer to transactions by their dense
``tx_id``. Unknown values are -1 (address of an unresolved input or an OP_RETURN output, value of an
unresolved input, spending tx of an unspent output, height of a block not linked to genesis).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

__all__ = ["TxArrays"]

_TX = ("tx_id", "height", "version", "locktime", "is_coinbase")
_IN = ("in_tx", "in_address", "in_value", "in_sequence", "in_script_type")
_OUT = ("out_tx", "out_n", "out_address", "out_value", "out_script_type", "out_spent_tx")


@dataclass(frozen=True, eq=False)
class TxArrays:
    """Transactions, inputs and outputs of a UTXO chain as columns.

    ``*_script_type`` columns hold small integer codes into ``script_types`` (for example ``"p2wpkh"``).
    Transactions are sorted by ``tx_id``; inputs and outputs by (tx, position).

    Examples
    --------
    >>> t = TxArrays.from_rows(txs=[(0, 1, 1, 0, True), (1, 2, 1, 0, False)],
    ...                        inputs=[(1, 5, 50, 0xFFFFFFFF, "p2pkh")],
    ...                        outputs=[(0, 0, 5, 50, "p2pkh", 1), (1, 0, 6, 49, "p2pkh", -1)])
    >>> t.n_in.tolist(), t.n_out.tolist(), t.in_tx_row.tolist()
    ([0, 1], [1, 1], [1])
    """

    tx_id: np.ndarray
    height: np.ndarray
    version: np.ndarray
    locktime: np.ndarray
    is_coinbase: np.ndarray
    in_tx: np.ndarray
    in_address: np.ndarray
    in_value: np.ndarray
    in_sequence: np.ndarray
    in_script_type: np.ndarray
    out_tx: np.ndarray
    out_n: np.ndarray
    out_address: np.ndarray
    out_value: np.ndarray
    out_script_type: np.ndarray
    out_spent_tx: np.ndarray
    script_types: tuple[str, ...] = field(default=())

    @classmethod
    def from_columns(cls, cols: Mapping[str, np.ndarray], script_types: tuple[str, ...]) -> TxArrays:
        """Build from a mapping of column name to array (the store's bulk query); sorts if needed."""
        c = {k: np.asarray(cols[k]) for k in (*_TX, *_IN, *_OUT)}
        for k in c:
            if k != "is_coinbase":
                c[k] = c[k].astype(np.int64, copy=False)
        c["is_coinbase"] = c["is_coinbase"].astype(bool, copy=False)
        if len(c["tx_id"]) > 1 and np.any(np.diff(c["tx_id"]) <= 0):
            o = np.argsort(c["tx_id"], kind="stable")
            for k in _TX:
                c[k] = c[k][o]
        return cls(**c, script_types=tuple(script_types))

    @classmethod
    def from_rows(cls, *, txs: list[tuple], inputs: list[tuple], outputs: list[tuple]) -> TxArrays:
        """Small constructor for tests and examples.

        ``txs``: (tx_id, height, version, locktime, is_coinbase); ``inputs``: (tx_id, address, value,
        sequence, script_type name); ``outputs``: (tx_id, n, address, value, script_type name, spent_tx).
        """
        names: list[str] = []

        def code(s: str) -> int:
            if s not in names:
                names.append(s)
            return names.index(s)

        def col(rows: list[tuple], i: int, dtype: type = np.int64) -> np.ndarray:
            return np.array([r[i] for r in rows], dtype=dtype)

        cols: dict[str, np.ndarray] = {k: col(txs, i, bool if k == "is_coinbase" else np.int64)
                                       for i, k in enumerate(_TX)}
        for i, k in enumerate(_IN):
            cols[k] = (np.array([code(r[i]) for r in inputs], dtype=np.int64) if k == "in_script_type"
                       else col(inputs, i))
        for i, k in enumerate(_OUT):
            cols[k] = (np.array([code(r[i]) for r in outputs], dtype=np.int64) if k == "out_script_type"
                       else col(outputs, i))
        return cls.from_columns(cols, tuple(names))

    # -- derived columns --------------------------------------------------------------------------
    @property
    def n_tx(self) -> int:
        return len(self.tx_id)

    @cached_property
    def in_tx_row(self) -> np.ndarray:
        """Row (index into the tx arrays) of each input's transaction."""
        return np.searchsorted(self.tx_id, self.in_tx)

    @cached_property
    def out_tx_row(self) -> np.ndarray:
        """Row of each output's transaction."""
        return np.searchsorted(self.tx_id, self.out_tx)

    @cached_property
    def n_in(self) -> np.ndarray:
        return np.bincount(self.in_tx_row, minlength=self.n_tx)

    @cached_property
    def n_out(self) -> np.ndarray:
        return np.bincount(self.out_tx_row, minlength=self.n_tx)

    @cached_property
    def out_start(self) -> np.ndarray:
        """Index of each transaction's first output row (outputs are sorted by tx)."""
        return np.concatenate(([0], np.cumsum(self.n_out)[:-1])).astype(np.int64)

    @cached_property
    def in_start(self) -> np.ndarray:
        return np.concatenate(([0], np.cumsum(self.n_in)[:-1])).astype(np.int64)

    def script_code(self, name: str) -> int:
        """Code of a script type name, or -2 when no row has it."""
        return self.script_types.index(name) if name in self.script_types else -2

    def row_of(self, tx_id: int) -> int:
        """Row of a tx_id; raises KeyError when absent."""
        r = int(np.searchsorted(self.tx_id, tx_id))
        if r >= self.n_tx or int(self.tx_id[r]) != tx_id:
            raise KeyError(tx_id)
        return r
