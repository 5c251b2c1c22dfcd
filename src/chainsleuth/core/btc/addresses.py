"""Address text for a column of output scripts, vectorised over the batch with numpy.

The parser's per-output work stops at the script type; address text is derived here for a whole batch:
Base58Check (P2PKH, P2SH, P2PK) as big-number division on 32-bit limbs over all rows at once, Bech32 and
Bech32m (segwit) as the BIP173 checksum polynomial evaluated column by column over all rows at once.
Only the double-SHA-256 checksum of Base58Check (and HASH160 of P2PK keys) is a per-row call, and the
rare types (bare multisig, non-standard, unknown witness versions) go through
:func:`~chainsleuth.core.btc.script.classify_script`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from chainsleuth.core.btc.encoding import (
    _POLY,
    B58_ALPHABET,
    BECH32_CHARSET,
    BECH32M_CONST,
    _hrp_state,
    hash160,
    sha256_small,
)
from chainsleuth.core.btc.script import classify_script
from chainsleuth.core.chains import BtcNetwork

__all__ = ["base58check_many", "bech32_many", "derive_addresses", "script_columns"]

_B32 = np.frombuffer(BECH32_CHARSET.encode(), dtype=np.uint8)
_POLY_NP = np.asarray(_POLY, dtype=np.uint32)
_D5 = np.uint64(58 ** 5)
# bytes.translate tables: digit value -> alphabet character (a C loop, far cheaper than numpy fancy indexing)
_B58_TR = bytes(B58_ALPHABET.encode()) + bytes(256 - 58)
_B32_TR = bytes(BECH32_CHARSET.encode()) + bytes(256 - 32)


def _strings(flat: np.ndarray, lengths: np.ndarray) -> pa.Array:
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    return pa.StringArray.from_buffers(len(lengths), pa.py_buffer(offsets),
                                       pa.py_buffer(np.ascontiguousarray(flat, dtype=np.uint8)))


def base58check_many(payloads: np.ndarray) -> pa.Array:
    """Base58Check texts of the rows of ``payloads`` (uint8, N x 21: version byte + 20-byte hash).

    >>> import numpy as np
    >>> base58check_many(np.zeros((1, 21), dtype=np.uint8)).to_pylist()
    ['1111111111111111111114oLvT2']
    """
    n = payloads.shape[0]
    if n == 0:
        return pa.array([], pa.string())
    buf = np.ascontiguousarray(payloads, dtype=np.uint8)
    sha = sha256_small
    digests = b"".join([sha(sha(k).digest()).digest() for k in buf.view("V21").ravel().tolist()])
    full = np.zeros((n, 28), dtype=np.uint8)          # 3 zero bytes of padding + 25 bytes
    full[:, 3:24] = buf
    full[:, 24:] = np.frombuffer(digests, dtype=np.uint8).reshape(n, 32)[:, :4]
    # limb-major (7 x N) and digit-major (35 x N) layouts keep every numpy operation on contiguous rows
    limbs = np.ascontiguousarray(full.view(">u4").astype(np.uint64).T)   # big-endian 32-bit limbs
    digits = np.empty((35, n), dtype=np.uint8)        # most significant first
    col = 35
    for k in range(7):                                # 7 passes x 5 digits = 35 >= 34.1 digits of 200 bits
        # after k passes the value is below 2**(200 - 29.29 k): leading limbs are zero, skip them
        first = max(0, 7 - -(-int(200 - 29.29 * k + 1) // 32))
        rem = np.zeros(n, dtype=np.uint64)
        for j in range(first, 7):
            cur = (rem << np.uint64(32)) | limbs[j]
            q = cur // _D5
            limbs[j] = q
            rem = cur - q * _D5
        r32 = rem.astype(np.uint32)
        for _k in range(5):
            col -= 1
            q32 = r32 // np.uint32(58)
            digits[col] = r32 - q32 * np.uint32(58)
            r32 = q32
    nz = digits != 0
    lead_digits = np.where(nz.any(axis=0), nz.argmax(axis=0), 35)
    zb = full[:, 3:] != 0
    lead_bytes = np.where(zb.any(axis=1), zb.argmax(axis=1), 25)
    start = lead_digits - lead_bytes
    chars = np.frombuffer(np.ascontiguousarray(digits.T).tobytes().translate(_B58_TR), dtype=np.uint8).reshape(n, 35)
    keep = np.arange(35)[None, :] >= start[:, None]
    return _strings(chars[keep], 35 - start)


def bech32_many(hrp: str, version: int, programs: np.ndarray) -> pa.Array:
    """Segwit address texts (Bech32 for version 0, Bech32m otherwise) of the rows of ``programs``.

    >>> import numpy as np
    >>> p = np.frombuffer(bytes.fromhex("751e76e8199196d454941c45d1b3a323f1433bd6"), dtype=np.uint8)[None, :]
    >>> bech32_many("bc", 0, p).to_pylist()
    ['bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4']
    """
    n, plen = programs.shape
    if n == 0:
        return pa.array([], pa.string())
    ngroups = (plen * 8 + 4) // 5
    bits = np.unpackbits(np.ascontiguousarray(programs, dtype=np.uint8), axis=1)
    if bits.shape[1] < ngroups * 5:
        bits = np.hstack([bits, np.zeros((n, ngroups * 5 - bits.shape[1]), dtype=np.uint8)])
    groups = bits.reshape(n, ngroups, 5) @ np.array([16, 8, 4, 2, 1], dtype=np.uint8)
    data = np.empty((n, ngroups + 1), dtype=np.uint32)
    data[:, 0] = version
    data[:, 1:] = groups
    cols = np.ascontiguousarray(data.T)               # one contiguous row per character position
    chk = np.full(n, _hrp_state(hrp), dtype=np.uint32)
    mask, five = np.uint32(0x1FFFFFF), np.uint32(5)
    for j in range(ngroups + 1):
        chk = ((chk & mask) << five) ^ cols[j] ^ _POLY_NP[chk >> np.uint32(25)]
    for _ in range(6):
        chk = ((chk & mask) << five) ^ _POLY_NP[chk >> np.uint32(25)]
    chk ^= np.uint32(1 if version == 0 else BECH32M_CONST)
    width = len(hrp) + 1 + ngroups + 1 + 6
    out = np.empty((n, width), dtype=np.uint8)
    out[:, :len(hrp) + 1] = np.frombuffer((hrp + "1").encode(), dtype=np.uint8)
    out[:, len(hrp) + 1:len(hrp) + 2 + ngroups] = np.frombuffer(
        data.astype(np.uint8).tobytes().translate(_B32_TR), dtype=np.uint8).reshape(n, ngroups + 1)
    for k in range(6):
        out[:, width - 6 + k] = _B32[(chk >> np.uint32(5 * (5 - k))) & np.uint32(31)]
    return _strings(out.ravel(), np.full(n, width, dtype=np.int64))


_TYPE_NAMES = ("p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr", "op_return", "p2pk", "multisig", "witness_unknown",
               "nonstandard")
_CODE = {name: i for i, name in enumerate(_TYPE_NAMES)}


def script_columns(scripts: Sequence[bytes], network: BtcNetwork) -> tuple[pa.Array, pa.Array, pa.Array]:
    """(script_type, address, script) Arrow columns for a batch of output scripts, vectorised.

    The common types are recognised with numpy masks over the joined script bytes; anything else goes
    through :func:`~chainsleuth.core.btc.script.classify_script` (same results, see the tests).

    >>> from chainsleuth.core.chains import MAINNET
    >>> t, a, s = script_columns([bytes.fromhex("0014751e76e8199196d454941c45d1b3a323f1433bd6"), b"\x6a\x01\x02"],
    ...                          MAINNET)
    >>> t.to_pylist(), a.to_pylist()
    (['p2wpkh', 'op_return'], ['bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4', None])
    """
    n = len(scripts)
    lengths = np.fromiter(map(len, scripts), dtype=np.int64, count=n)
    joined = b"".join(scripts)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    script_col = pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets.astype(np.int32).tobytes()),
                                                        pa.py_buffer(joined)])
    if n == 0:
        return pa.array([], pa.string()), pa.array([], pa.string()), script_col
    data = np.frombuffer(joined + bytes(72), dtype=np.uint8)
    off = offsets[:-1]
    b0, b1, b2 = data[off], data[off + 1], data[off + 2]
    last = data[np.maximum(off + lengths - 1, 0)]
    L = lengths
    code = np.full(n, -1, dtype=np.int8)
    m_pkh = (L == 25) & (b0 == 0x76) & (b1 == 0xA9) & (b2 == 20) & (data[off + 23] == 0x88) & (last == 0xAC)
    m_sh = (L == 23) & (b0 == 0xA9) & (b1 == 20) & (last == 0x87)
    m_wpkh = (L == 22) & (b0 == 0) & (b1 == 20)
    m_w32 = (L == 34) & (b1 == 32)
    m_wsh = m_w32 & (b0 == 0)
    m_tr = m_w32 & (b0 == 0x51)
    m_ret = (L > 0) & (b0 == 0x6A)
    m_pk = (((L == 35) & ((b1 == 2) | (b1 == 3))) | ((L == 67) & ((b1 == 4) | (b1 == 6) | (b1 == 7)))) & (
        b0 == L - 2) & (last == 0xAC)
    for name, m in (("p2pkh", m_pkh), ("p2sh", m_sh), ("p2wpkh", m_wpkh), ("p2wsh", m_wsh), ("p2tr", m_tr),
                    ("op_return", m_ret), ("p2pk", m_pk)):
        code[m & (code < 0)] = _CODE[name]
    parts: list[pa.Array] = []
    idx_parts: list[np.ndarray] = []
    hrp = network.bech32_hrp

    def rows(idx: np.ndarray, a: int, b: int) -> np.ndarray:
        return data[off[idx][:, None] + np.arange(a, b)[None, :]]

    for kind, ver, a, b in (("p2wpkh", 0, 2, 22), ("p2wsh", 0, 2, 34), ("p2tr", 1, 2, 34)):
        idx = np.flatnonzero(code == _CODE[kind])
        if len(idx):
            parts.append(bech32_many(hrp, ver, rows(idx, a, b)))
            idx_parts.append(idx)
    b58_idx = []
    b58_payload = []
    for kind, prefix, a, b in (("p2pkh", network.p2pkh_prefix, 3, 23), ("p2sh", network.p2sh_prefix, 2, 22)):
        idx = np.flatnonzero(code == _CODE[kind])
        if len(idx):
            pay = np.empty((len(idx), 21), dtype=np.uint8)
            pay[:, 0] = prefix
            pay[:, 1:] = rows(idx, a, b)
            b58_idx.append(idx)
            b58_payload.append(pay)
    idx = np.flatnonzero(code == _CODE["p2pk"])
    if len(idx):
        hashes = b"".join([hash160(scripts[i][1:-1]) for i in idx.tolist()])
        pay = np.empty((len(idx), 21), dtype=np.uint8)
        pay[:, 0] = network.p2pkh_prefix
        pay[:, 1:] = np.frombuffer(hashes, dtype=np.uint8).reshape(len(idx), 20)
        b58_idx.append(idx)
        b58_payload.append(pay)
    if b58_idx:
        parts.append(base58check_many(np.vstack(b58_payload)))
        idx_parts.append(np.concatenate(b58_idx))
    idx = np.flatnonzero(code == _CODE["op_return"])
    if len(idx):
        parts.append(pa.nulls(len(idx), pa.string()))
        idx_parts.append(idx)
    idx = np.flatnonzero(code < 0)
    if len(idx):
        rest = [classify_script(scripts[i], network) for i in idx.tolist()]
        code[idx] = [_CODE[t] for t, _ in rest]
        parts.append(pa.array([a for _, a in rest], pa.string()))
        idx_parts.append(idx)
    allidx = np.concatenate(idx_parts)
    order = np.empty(n, dtype=np.int64)
    order[allidx] = np.arange(n, dtype=np.int64)
    addresses = pc.take(pa.concat_arrays(parts), pa.array(order))
    types = pa.DictionaryArray.from_arrays(pa.array(code, pa.int8()), pa.array(_TYPE_NAMES, pa.string()))
    return types.cast(pa.string()), addresses, script_col


def derive_addresses(scripts: Sequence[bytes], types: Sequence[str] | None, network: BtcNetwork) -> pa.Array:
    """Arrow string array of address texts for ``scripts`` (``types`` is accepted for symmetry, unused).

    >>> from chainsleuth.core.chains import MAINNET
    >>> derive_addresses([bytes.fromhex("0014751e76e8199196d454941c45d1b3a323f1433bd6"), b"\\x6a"],
    ...                  None, MAINNET).to_pylist()
    ['bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4', None]
    """
    return script_columns(scripts, network)[1]
