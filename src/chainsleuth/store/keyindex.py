"""An exact in-memory hash index from byte-string keys (txids, block hashes, address texts) to integers.

The ingest writer looks up every output address, every spent txid and every block hash of a batch in it,
so that the cost of a batch depends on the batch, not on the size of the store (a SQL join against the
stored tables scans them whole: DuckDB's ART indexes serve point lookups, not joins).

Exact: a key is found only when its bytes equal a stored key's bytes (the 64-bit hash only picks the
slot; equal hashes of different keys just probe further). Keys are kept in one byte buffer with offsets,
as Arrow lays out strings (or, with a fixed ``width``, back to back); slots are open addressing with
linear probing, at most half full. Everything is done per batch in compiled loops (numba); nothing runs per
row in Python.

>>> import numpy as np
>>> ix = ByteKeyIndex()
>>> ix.insert(pack_strings(["a", "bc", "a", "d"]), np.array([10, 20, 30, 40])).tolist()   # 'a' once
[0, 1, 0, 2]
>>> ix.values[: len(ix)].tolist()
[10, 20, 40]
>>> ix.lookup(pack_strings(["d", "zz", "bc"])).tolist()
[2, -1, 1]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from numba import njit

__all__ = ["ByteKeyIndex", "Keys", "arrow_string_buffers", "fixed_keys", "hex_to_bytes", "pack_strings"]

_EMPTY = -1


class Keys(NamedTuple):
    """A batch of byte-string keys laid out as Arrow does: key ``i`` is ``data[offsets[i]:offsets[i+1]]``;
    where ``valid[i]`` is False the key is null."""

    data: np.ndarray
    offsets: np.ndarray
    valid: np.ndarray

    def take(self, rows: np.ndarray) -> Keys:
        """The keys of ``rows`` only (copied)."""
        starts, ends = self.offsets[:-1][rows], self.offsets[1:][rows]
        lens = ends - starts
        offs = np.zeros(rows.size + 1, dtype=np.int64)
        offs[1:] = np.cumsum(lens)
        idx = np.repeat(starts - offs[:-1], lens) + np.arange(int(offs[-1]), dtype=np.int64)
        return Keys(self.data[idx], offs, self.valid[rows])


@njit(cache=True, inline="always")
def _hash(data: np.ndarray, start: int, end: int) -> np.uint64:
    """FNV-1a over the bytes, then a splitmix64 finaliser (spreads short, similar keys over the slots)."""
    h = np.uint64(0xCBF29CE484222325)
    for i in range(start, end):
        h = (h ^ np.uint64(data[i])) * np.uint64(0x100000001B3)
    h ^= h >> np.uint64(30)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(27)
    h *= np.uint64(0x94D049BB133111EB)
    h ^= h >> np.uint64(31)
    return h


@njit(cache=True, inline="always")
def _equal(a: np.ndarray, a0: int, a1: int, b: np.ndarray, b0: int, b1: int) -> bool:
    if a1 - a0 != b1 - b0:
        return False
    for i in range(a1 - a0):  # noqa: SIM110 (a plain loop compiles; all() of a generator does not)
        if a[a0 + i] != b[b0 + i]:
            return False
    return True


@njit(cache=True, inline="always")
def _span(koff: np.ndarray, width: int, e: int) -> tuple[int, int]:
    if width > 0:
        return e * width, e * width + width
    return koff[e], koff[e + 1]


@njit(cache=True)
def _lookup(slots: np.ndarray, kdata: np.ndarray, koff: np.ndarray, width: int, qdata: np.ndarray,
            qoff: np.ndarray, qvalid: np.ndarray, out: np.ndarray) -> None:
    mask = np.uint64(slots.size - 1)
    for q in range(qoff.size - 1):
        s0, s1 = qoff[q], qoff[q + 1]
        if not qvalid[q]:                # a null key is never found
            out[q] = -1
            continue
        j = _hash(qdata, s0, s1) & mask
        found = -1
        while True:
            e = slots[j]
            if e == _EMPTY:
                break
            k0, k1 = _span(koff, width, e)
            if _equal(kdata, k0, k1, qdata, s0, s1):
                found = e
                break
            j = (j + np.uint64(1)) & mask
        out[q] = found


@njit(cache=True)
def _insert(slots: np.ndarray, kdata: np.ndarray, koff: np.ndarray, width: int, n: int, used: int,
            qdata: np.ndarray, qoff: np.ndarray, qvalid: np.ndarray, out: np.ndarray) -> tuple[int, int]:
    """Insert the query keys that are absent (appending their bytes to ``kdata``); ``out`` gets every
    key's entry (-1 for a null key). Returns (entries, bytes used). The caller guarantees room in slots,
    koff and kdata, and that fixed-width keys have ``width`` bytes."""
    mask = np.uint64(slots.size - 1)
    for q in range(qoff.size - 1):
        s0, s1 = qoff[q], qoff[q + 1]
        if not qvalid[q]:
            out[q] = -1
            continue
        j = _hash(qdata, s0, s1) & mask
        while True:
            e = slots[j]
            if e == _EMPTY:
                ln = s1 - s0
                kdata[used:used + ln] = qdata[s0:s1]
                used += ln
                if width == 0:
                    koff[n + 1] = used
                slots[j] = n
                out[q] = n
                n += 1
                break
            k0, k1 = _span(koff, width, e)
            if _equal(kdata, k0, k1, qdata, s0, s1):
                out[q] = e
                break
            j = (j + np.uint64(1)) & mask
    return n, used


@njit(cache=True)
def _rehash(slots: np.ndarray, kdata: np.ndarray, koff: np.ndarray, width: int, n: int) -> None:
    mask = np.uint64(slots.size - 1)
    slots[:] = _EMPTY
    for e in range(n):
        k0, k1 = _span(koff, width, e)
        j = _hash(kdata, k0, k1) & mask
        while slots[j] != _EMPTY:
            j = (j + np.uint64(1)) & mask
        slots[j] = e


_HEX = np.full(256, 255, dtype=np.uint8)
_HEX[np.frombuffer(b"0123456789abcdef", np.uint8)] = np.arange(16, dtype=np.uint8)
_HEX[np.frombuffer(b"ABCDEF", np.uint8)] = np.arange(10, 16, dtype=np.uint8)


@njit(cache=True)
def _hex_decode(data: np.ndarray, offs: np.ndarray, valid: np.ndarray, width: int, lut: np.ndarray,
                out: np.ndarray, bad: np.ndarray) -> None:
    """Hex text -> bytes, ``width`` bytes per string (row ``i`` of ``out``); ``bad[i]`` for anything else."""
    for i in range(offs.size - 1):
        s = offs[i]
        if not valid[i] or offs[i + 1] - s != 2 * width:
            bad[i] = True
            continue
        for k in range(width):
            hi = lut[data[s + 2 * k]]
            lo = lut[data[s + 2 * k + 1]]
            if hi > 15 or lo > 15:
                bad[i] = True
            out[i, k] = (hi << 4) | (lo & 15)


def arrow_string_buffers(arr: object) -> Keys:
    """The keys of a pyarrow string/binary array, without copying its bytes; null entries are never found
    and never inserted."""
    import pyarrow as pa

    a = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    assert isinstance(a, pa.Array)
    odt: type[np.signedinteger] = np.int32
    if pa.types.is_large_string(a.type) or pa.types.is_large_binary(a.type):
        odt = np.int64
    bufs = a.buffers()
    n = len(a)
    offs = np.frombuffer(bufs[1], dtype=odt, count=n + 1 + a.offset)[a.offset:].astype(np.int64)
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, np.uint8)
    valid = np.asarray(a.is_valid(), dtype=bool) if a.null_count else np.ones(n, dtype=bool)
    return Keys(data, offs, valid)


def pack_strings(items: Sequence[str | bytes]) -> Keys:
    """The keys of a small list of strings (tests, point lookups)."""
    bs = [s.encode() if isinstance(s, str) else bytes(s) for s in items]
    offs = np.zeros(len(bs) + 1, dtype=np.int64)
    offs[1:] = np.cumsum([len(b) for b in bs])
    return Keys(np.frombuffer(b"".join(bs), dtype=np.uint8).copy(), offs, np.ones(len(bs), dtype=bool))


def hex_to_bytes(arr: object, width: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """Hex strings (a pyarrow array, e.g. txids) -> ``(n, width)`` uint8 rows and a mask of rows that are null
    or not ``2 * width`` hex digits."""
    k = arrow_string_buffers(arr)
    n = k.offsets.size - 1
    out = np.zeros((n, width), dtype=np.uint8)
    bad = ~k.valid
    _hex_decode(k.data, k.offsets, k.valid, width, _HEX, out, bad)
    return out, bad


def fixed_keys(rows: np.ndarray, valid: np.ndarray | None = None) -> Keys:
    """The keys of ``(n, width)`` rows of fixed-width keys (rows where ``valid`` is False are null)."""
    n, w = rows.shape
    return Keys(np.ascontiguousarray(rows).reshape(-1), np.arange(0, (n + 1) * w, w, dtype=np.int64),
                np.ones(n, dtype=bool) if valid is None else np.asarray(valid, dtype=bool))


def _grown(a: np.ndarray, used: int, need: int) -> np.ndarray:
    """``a`` with room for ``need`` items (by a quarter more, so that a large index wastes little room and
    the moment of a copy needs little more than the array itself)."""
    if need <= a.size:
        return a
    out = np.zeros(max(need, a.size + a.size // 4, 16), dtype=a.dtype)
    out[:used] = a[:used]
    return out


class ByteKeyIndex:
    """Exact set of byte-string keys, each with an entry number (0, 1, ... in insertion order) and a value.

    ``insert`` adds the keys not yet present and returns every key's entry; ``lookup`` returns entries or
    -1; ``truncate(n)`` forgets the entries from ``n`` on. With ``width`` every key has that many bytes (no
    offsets are kept); ``values`` is the values' dtype, or None when an entry's value is its number (no
    values are kept). Memory:
    the key bytes, 8 bytes of offset (variable width) and 8 of value (with values) per entry, and 4 bytes per
    slot, 1.6 to 4 slots per entry.
    """

    def __init__(self, *, width: int = 0, values: type | None = np.int64) -> None:
        self.width = int(width)
        self.slots = np.full(64, _EMPTY, dtype=np.int32)
        self.koff = np.zeros(1 if width else 33, dtype=np.int64)
        self.kdata = np.zeros(256, dtype=np.uint8)
        self._values: np.ndarray | None = None if values is None else np.zeros(32, dtype=values)
        self._n = 0
        self._used = 0

    def __len__(self) -> int:
        return self._n

    @property
    def values(self) -> np.ndarray:
        """Value per entry (an array as long as the capacity; entries ``0..len-1`` are set)."""
        if self._values is None:
            return np.arange(max(self._n, 1), dtype=np.int64)   # values are entry numbers
        return self._values

    @property
    def nbytes(self) -> int:
        return (self.slots.nbytes + self.koff.nbytes + self.kdata.nbytes
                + (0 if self._values is None else self._values.nbytes))

    def _room(self, keys: int, nbytes: int) -> None:
        need = self._n + keys
        if need >= 2**31 - 1:
            raise OverflowError("a key index holds at most 2**31 - 1 entries")
        if self.width == 0:
            self.koff = _grown(self.koff, self._n + 1, need + 1)
        if self._values is not None:
            self._values = _grown(self._values, self._n, need)
        self.kdata = _grown(self.kdata, self._used, self._used + nbytes)
        if 5 * need > 3 * self.slots.size:                 # over 60% full: 2.5 slots per entry again
            self.slots = np.full(1 << int(np.ceil(np.log2(5 * need // 2 + 64))), _EMPTY, dtype=np.int32)
            _rehash(self.slots, self.kdata, self.koff, self.width, self._n)

    def lookup(self, keys: Keys) -> np.ndarray:
        """Entry of each key, -1 where absent (or null)."""
        out = np.empty(keys.offsets.size - 1, dtype=np.int64)
        _lookup(self.slots, self.kdata, self.koff, self.width, keys.data, keys.offsets, keys.valid, out)
        return out

    def insert(self, keys: Keys, values: np.ndarray | None = None) -> np.ndarray:
        """Entries of the keys, inserting the absent ones in order; a new entry takes its key's ``value``
        (default: the entry number). A key repeated in the batch is inserted once (the first value); a null
        key gets -1."""
        offsets = keys.offsets
        k = offsets.size - 1
        lens = offsets[1:] - offsets[:-1]
        if self.width and bool((lens[keys.valid] != self.width).any()):
            raise ValueError(f"keys of this index have {self.width} bytes")
        nbytes = int(lens[keys.valid].sum()) if k else 0
        self._room(k, nbytes)
        out = np.empty(k, dtype=np.int64)
        n0 = self._n
        n, used = _insert(self.slots, self.kdata, self.koff, self.width, self._n, self._used, keys.data, offsets,
                          keys.valid, out)
        self._n, self._used = int(n), int(used)
        if self._n > n0 and self._values is not None:
            new = np.flatnonzero(out >= n0)
            first = new[np.unique(out[new], return_index=True)[1]]     # the first key of each new entry
            vals = np.arange(n0, self._n, dtype=np.int64) if values is None else np.asarray(values)[first]
            self._values[out[first]] = vals
        return out

    def key(self, entry: int) -> bytes:
        k0, k1 = (entry * self.width, (entry + 1) * self.width) if self.width else \
            (int(self.koff[entry]), int(self.koff[entry + 1]))
        return self.kdata[k0:k1].tobytes()

    def truncate(self, n: int) -> None:
        """Forget entries ``n`` and later."""
        if n >= self._n:
            return
        self._n = int(n)
        self._used = n * self.width if self.width else int(self.koff[n])
        _rehash(self.slots, self.kdata, self.koff, self.width, self._n)
