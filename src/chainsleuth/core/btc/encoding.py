"""Hashes and address text encodings of Bitcoin: SHA-256d, HASH160, Base58Check, Bech32 and Bech32m.

Pure functions, no I/O. Bech32 follows BIP173, Bech32m BIP350 (witness version 1 and above).

>>> base58check_encode(b"\\x00" + bytes(20))
'1111111111111111111114oLvT2'
>>> encode_segwit_address("bc", 0, bytes.fromhex("751e76e8199196d454941c45d1b3a323f1433bd6"))
'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4'
>>> decode_segwit_address("bc", "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4")[1].hex()
'751e76e8199196d454941c45d1b3a323f1433bd6'
"""

from __future__ import annotations

import hashlib
from hashlib import sha256

from chainsleuth.errors import InvalidInput

__all__ = [
    "B58_ALPHABET",
    "BECH32M_CONST",
    "BECH32_CHARSET",
    "BECH32_CONST",
    "base58_decode",
    "base58_encode",
    "base58check_decode",
    "base58check_encode",
    "bech32_create_checksum",
    "bech32_decode",
    "bech32_encode",
    "bech32_polymod",
    "convertbits",
    "decode_segwit_address",
    "encode_segwit_address",
    "hash160",
    "ripemd160",
    "sha256_small",
    "sha256d",
]

B58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(B58_ALPHABET)}
# two base58 digits at a time: 58**2 = 3364 entries
_B58_PAIRS = [a + b for a in B58_ALPHABET for b in B58_ALPHABET]

BECH32_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_INDEX = {c: i for i, c in enumerate(BECH32_CHARSET)}
BECH32_CONST = 1
BECH32M_CONST = 0x2BC830A3
_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
# polymod step table: _POLY[top5] = xor of the generators selected by the 5 top bits
_POLY = []
for _b in range(32):
    _x = 0
    for _i in range(5):
        if (_b >> _i) & 1:
            _x ^= _GEN[_i]
    _POLY.append(_x)
del _b, _x, _i


try:  # CPython's own SHA-256: less call overhead than OpenSSL's for inputs of one block (<= 55 bytes)
    from _sha256 import sha256 as sha256_small  # Python 3.11
except ImportError:  # pragma: no cover
    try:
        from _sha2 import sha256 as sha256_small  # type: ignore[no-redef]  # Python 3.12+
    except ImportError:
        sha256_small = sha256  # type: ignore[assignment]


def sha256d(data: bytes) -> bytes:
    """Double SHA-256 (internal byte order)."""
    return sha256(sha256(data).digest()).digest()


# -- RIPEMD-160 ------------------------------------------------------------------------------------------
# hashlib provides it only when OpenSSL ships the legacy provider; a compact pure-Python fallback keeps
# address derivation working everywhere.
def _ripemd160_py(msg: bytes) -> bytes:  # pragma: no cover - used only where OpenSSL lacks RIPEMD-160
    def rol(x: int, n: int) -> int:
        return ((x << n) | (x >> (32 - n))) & 0xFFFFFFFF

    r1 = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 7, 4, 13, 1, 10, 6, 15, 3, 12, 0, 9, 5, 2, 14, 11, 8,
          3, 10, 14, 4, 9, 15, 8, 1, 2, 7, 0, 6, 13, 11, 5, 12, 1, 9, 11, 10, 0, 8, 12, 4, 13, 3, 7, 15, 14, 5, 6, 2,
          4, 0, 5, 9, 7, 12, 2, 10, 14, 1, 3, 8, 11, 6, 15, 13]
    r2 = [5, 14, 7, 0, 9, 2, 11, 4, 13, 6, 15, 8, 1, 10, 3, 12, 6, 11, 3, 7, 0, 13, 5, 10, 14, 15, 8, 12, 4, 9, 1, 2,
          15, 5, 1, 3, 7, 14, 6, 9, 11, 8, 12, 2, 10, 0, 4, 13, 8, 6, 4, 1, 3, 11, 15, 0, 5, 12, 2, 13, 9, 7, 10, 14,
          12, 15, 10, 4, 1, 5, 8, 7, 6, 2, 13, 14, 0, 3, 9, 11]
    s1 = [11, 14, 15, 12, 5, 8, 7, 9, 11, 13, 14, 15, 6, 7, 9, 8, 7, 6, 8, 13, 11, 9, 7, 15, 7, 12, 15, 9, 11, 7, 13, 12,
          11, 13, 6, 7, 14, 9, 13, 15, 14, 8, 13, 6, 5, 12, 7, 5, 11, 12, 14, 15, 14, 15, 9, 8, 9, 14, 5, 6, 8, 6, 5, 12,
          9, 15, 5, 11, 6, 8, 13, 12, 5, 12, 13, 14, 11, 8, 5, 6]
    s2 = [8, 9, 9, 11, 13, 15, 15, 5, 7, 7, 8, 11, 14, 14, 12, 6, 9, 13, 15, 7, 12, 8, 9, 11, 7, 7, 12, 7, 6, 15, 13, 11,
          9, 7, 15, 11, 8, 6, 6, 14, 12, 13, 5, 14, 13, 13, 7, 5, 15, 5, 8, 11, 14, 14, 6, 14, 6, 9, 12, 9, 12, 5, 15, 8,
          8, 5, 12, 9, 12, 5, 14, 6, 8, 13, 6, 5, 15, 13, 11, 11]
    k1 = [0x00000000, 0x5A827999, 0x6ED9EBA1, 0x8F1BBCDC, 0xA953FD4E]
    k2 = [0x50A28BE6, 0x5C4DD124, 0x6D703EF3, 0x7A6D76E9, 0x00000000]

    def f(j: int, x: int, y: int, z: int) -> int:
        if j < 16:
            return x ^ y ^ z
        if j < 32:
            return (x & y) | (~x & z)
        if j < 48:
            return (x | ~y) ^ z
        if j < 64:
            return (x & z) | (y & ~z)
        return x ^ (y | ~z)

    h = [0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0]
    ml = len(msg) * 8
    msg = msg + b"\x80" + b"\x00" * ((55 - len(msg)) % 64) + ml.to_bytes(8, "little")
    for i in range(0, len(msg), 64):
        x = [int.from_bytes(msg[i + 4 * j:i + 4 * j + 4], "little") for j in range(16)]
        al, bl, cl, dl, el = h
        ar, br, cr, dr, er = h
        for j in range(80):
            t = (rol((al + (f(j, bl, cl, dl) & 0xFFFFFFFF) + x[r1[j]] + k1[j // 16]) & 0xFFFFFFFF, s1[j]) + el) & 0xFFFFFFFF
            al, el, dl, cl, bl = el, dl, rol(cl, 10), bl, t
            t = (rol((ar + (f(79 - j, br, cr, dr) & 0xFFFFFFFF) + x[r2[j]] + k2[j // 16]) & 0xFFFFFFFF, s2[j]) + er) & 0xFFFFFFFF
            ar, er, dr, cr, br = er, dr, rol(cr, 10), br, t
        t = (h[1] + cl + dr) & 0xFFFFFFFF
        h[1] = (h[2] + dl + er) & 0xFFFFFFFF
        h[2] = (h[3] + el + ar) & 0xFFFFFFFF
        h[3] = (h[4] + al + br) & 0xFFFFFFFF
        h[4] = (h[0] + bl + cr) & 0xFFFFFFFF
        h[0] = t
    return b"".join(v.to_bytes(4, "little") for v in h)


try:
    hashlib.new("ripemd160", b"")
    _HAVE_RIPEMD = True
except ValueError:  # pragma: no cover
    _HAVE_RIPEMD = False


def ripemd160(data: bytes) -> bytes:
    """RIPEMD-160 digest (OpenSSL when it has it, else the pure-Python fallback)."""
    if _HAVE_RIPEMD:
        return hashlib.new("ripemd160", data).digest()
    return _ripemd160_py(data)  # pragma: no cover


def hash160(data: bytes) -> bytes:
    """RIPEMD-160 of SHA-256: the 20-byte hash inside P2PKH, P2SH and P2WPKH."""
    return ripemd160(sha256(data).digest())


# -- Base58 ----------------------------------------------------------------------------------------------
def base58_encode(data: bytes) -> str:
    """Base58 text of ``data`` (leading zero bytes become '1')."""
    n = int.from_bytes(data, "big")
    parts = []
    pairs = _B58_PAIRS
    while n:
        n, r = divmod(n, 3364)
        parts.append(pairs[r])
    s = "".join(reversed(parts)).lstrip("1")
    pad = len(data) - len(data.lstrip(b"\x00"))
    return "1" * pad + s


def base58_decode(text: str) -> bytes:
    """Bytes of a Base58 string; raises InvalidInput on a character outside the alphabet."""
    n = 0
    for c in text:
        try:
            n = n * 58 + _B58_INDEX[c]
        except KeyError:
            raise InvalidInput(f"character {c!r} is not Base58", value=text) from None
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    pad = len(text) - len(text.lstrip("1"))
    return b"\x00" * pad + body


def base58check_encode(payload: bytes) -> str:
    """Base58Check: payload (version byte + data) followed by the first 4 bytes of its SHA-256d."""
    return base58_encode(payload + sha256d(payload)[:4])


def base58check_decode(text: str) -> bytes:
    """Payload (version byte + data) of a Base58Check string; raises InvalidInput on a bad checksum."""
    raw = base58_decode(text)
    if len(raw) < 5:
        raise InvalidInput(f"{text!r} is too short for Base58Check", value=text)
    payload, check = raw[:-4], raw[-4:]
    if sha256d(payload)[:4] != check:
        raise InvalidInput(f"{text!r} has a bad Base58Check checksum", value=text)
    return payload


# -- Bech32 / Bech32m ------------------------------------------------------------------------------------
def bech32_polymod(values: list[int] | bytes, chk: int = 1) -> int:
    """BIP173 checksum state after feeding 5-bit ``values`` (table-driven)."""
    poly = _POLY
    for v in values:
        chk = ((chk & 0x1FFFFFF) << 5) ^ v ^ poly[chk >> 25]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]


_HRP_STATE: dict[str, int] = {}


def _hrp_state(hrp: str) -> int:
    s = _HRP_STATE.get(hrp)
    if s is None:
        s = _HRP_STATE[hrp] = bech32_polymod(_hrp_expand(hrp))
    return s


def bech32_create_checksum(hrp: str, data: list[int] | bytes, const: int) -> list[int]:
    """The six 5-bit checksum values for ``hrp`` + ``data`` (const 1 = Bech32, BECH32M_CONST = Bech32m)."""
    pm = bech32_polymod(bytes(6), bech32_polymod(data, _hrp_state(hrp))) ^ const
    return [(pm >> 5 * (5 - i)) & 31 for i in range(6)]


def bech32_encode(hrp: str, data: list[int] | bytes, const: int = BECH32_CONST) -> str:
    """Bech32 (const=1) or Bech32m string of 5-bit ``data``."""
    cs = BECH32_CHARSET
    return hrp + "1" + "".join([cs[d] for d in data]) + "".join(
        [cs[d] for d in bech32_create_checksum(hrp, data, const)])


def bech32_decode(text: str) -> tuple[str, list[int], int]:
    """(hrp, 5-bit data without checksum, checksum constant) of a Bech32/Bech32m string."""
    if any(ord(c) < 33 or ord(c) > 126 for c in text):
        raise InvalidInput(f"{text!r} has characters outside printable ASCII", value=text)
    if text.lower() != text and text.upper() != text:
        raise InvalidInput(f"{text!r} mixes upper and lower case", value=text)
    s = text.lower()
    pos = s.rfind("1")
    if pos < 1 or pos + 7 > len(s) or len(s) > 90:
        raise InvalidInput(f"{text!r} is not Bech32 (separator or length)", value=text)
    hrp = s[:pos]
    try:
        data = [_BECH32_INDEX[c] for c in s[pos + 1:]]
    except KeyError:
        raise InvalidInput(f"{text!r} has a character outside the Bech32 alphabet", value=text) from None
    const = bech32_polymod(data, _hrp_state(hrp))
    if const not in (BECH32_CONST, BECH32M_CONST):
        raise InvalidInput(f"{text!r} has a bad Bech32 checksum", value=text)
    return hrp, data[:-6], const


def convertbits(data: bytes | list[int], frombits: int, tobits: int, pad: bool = True) -> list[int]:
    """Regroup bits (BIP173 reference); raises InvalidInput on invalid padding when ``pad`` is False."""
    acc = bits = 0
    ret = []
    maxv = (1 << tobits) - 1
    max_acc = (1 << (frombits + tobits - 1)) - 1
    for value in data:
        if value < 0 or value >> frombits:
            raise InvalidInput("value out of range in bit conversion", value=value)
        acc = ((acc << frombits) | value) & max_acc
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            ret.append((acc >> bits) & maxv)
    if pad:
        if bits:
            ret.append((acc << (tobits - bits)) & maxv)
    elif bits >= frombits or ((acc << (tobits - bits)) & maxv):
        raise InvalidInput("invalid padding in bit conversion")
    return ret


def encode_segwit_address(hrp: str, witver: int, witprog: bytes) -> str:
    """Segwit address: Bech32 for version 0, Bech32m for version 1..16 (BIP350)."""
    const = BECH32_CONST if witver == 0 else BECH32M_CONST
    return bech32_encode(hrp, [witver, *convertbits(witprog, 8, 5)], const)


def decode_segwit_address(hrp: str, addr: str) -> tuple[int, bytes]:
    """(witness version, program) of a segwit address for ``hrp``; raises InvalidInput when invalid."""
    got_hrp, data, const = bech32_decode(addr)
    if got_hrp != hrp:
        raise InvalidInput(f"{addr!r} has prefix {got_hrp!r}, expected {hrp!r}", value=addr)
    if not data:
        raise InvalidInput(f"{addr!r} has no witness version", value=addr)
    ver = data[0]
    prog = bytes(convertbits(data[1:], 5, 8, False))
    if ver > 16 or len(prog) < 2 or len(prog) > 40:
        raise InvalidInput(f"{addr!r}: invalid witness version or program length", value=addr)
    if ver == 0 and len(prog) not in (20, 32):
        raise InvalidInput(f"{addr!r}: version-0 program must be 20 or 32 bytes", value=addr)
    if (ver == 0) != (const == BECH32_CONST):
        raise InvalidInput(f"{addr!r}: wrong checksum variant for witness version {ver} (BIP350)", value=addr)
    return ver, prog
