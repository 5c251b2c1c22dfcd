"""Chains and address text for tags: TagPack ``currency``/``network`` to our chain names, normalisation,
and the address checks the TagPack tool also runs (Base58Check, Bech32/Bech32m, EVM hex).

Chain names are those of :mod:`chainsleuth.core.chains` (``btc``, ``eth``, ``bsc``, ``polygon``, ...);
a network we do not ingest keeps its lower-case ticker (``ltc``, ``trx``, ``xmr``) so that its tags are
stored and found, and can be ingested later.

>>> chain_for("BTC", None, "1Archive1n2C579dMsAu3iC6tWzuQJz8dN")
'btc'
>>> chain_for("USDT", None, "TXp4yC2YbQ1tXjVhWbzHFpaCpJFQ1ZNnAZ")
'trx'
>>> normalise_address("eth", "0xFA8E3920daF271daB92Be9B87d9998DDd94FEF08 ")
'0xfa8e3920daf271dab92be9b87d9998ddd94fef08'
>>> address_problem("btc", "1GL9JtXPRTPetxgiJ8UcgrEECp12spD4t")
'Base58Check checksum or length is wrong'
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from functools import lru_cache

from chainsleuth.core.account import to_checksum_address
from chainsleuth.core.chains import CHAINS, Model

__all__ = ["CHAIN_CURRENCY", "address_problem", "chain_for", "evm_checksum_problem", "is_evm_chain",
           "known_currency", "normalise_address", "problem_checker"]

#: TagPack currency / network tickers -> our chain names (others map to their lower-case ticker).
_TICKER_CHAIN: dict[str, str] = {
    "BTC": "btc", "XBT": "btc", "ETH": "eth", "BSC": "bsc", "BEP20": "bsc", "BNB": "bsc", "MATIC": "polygon",
    "POL": "polygon", "POLYGON": "polygon", "ARB": "arbitrum", "ARBITRUM": "arbitrum", "BCH": "bch",
    "LTC": "ltc", "TRX": "trx", "TRON": "trx", "ETC": "etc", "AVAX": "avax", "BEP2": "bnb-beacon",
}
#: Tokens that live on several chains: the chain follows from the address shape.
_TOKENS = frozenset({"USDT", "USDC", "DAI", "BUSD", "TUSD", "WBTC", "KCS", "GMT", "SRM", "GST"})
#: Our chain names -> the TagPack currency written on export.
CHAIN_CURRENCY: dict[str, str] = {"btc": "BTC", "eth": "ETH", "bsc": "BSC", "polygon": "MATIC", "arbitrum": "ARB",
                                  "bnb-beacon": "BEP2"}

_EVM_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
_TRON_RE = re.compile(r"^T[1-9A-HJ-NP-Za-km-z]{33}$")
_BTC_SHAPE_RE = re.compile(r"^[13][1-9A-HJ-NP-Za-km-z]{25,34}$|^bc1[02-9ac-hj-np-z]{8,87}$")
_EXTRA_EVM = frozenset({"etc", "ftm", "op", "base"})  # avax: X-chain addresses are not EVM
_BTC_CHAINS = frozenset({"btc", "btc-testnet", "btc-testnet4", "btc-signet", "btc-regtest"})
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_B58_INDEX = {c: i for i, c in enumerate(_B58)}
_BECH32 = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_BECH32_INDEX = {c: i for i, c in enumerate(_BECH32)}


@lru_cache(maxsize=1)
def _currencies() -> frozenset[str]:
    from importlib import resources

    text = (resources.files("chainsleuth.attribution") / "taxonomy" / "currencies.csv").read_text(encoding="utf-8")
    return frozenset(line.split(",", 1)[0].strip().upper() for line in text.splitlines()[1:] if line.strip())


def known_currency(ticker: str) -> bool:
    """Whether a TagPack currency / network ticker is one we know (``taxonomy/currencies.csv``, any case,
    or one of our chain names).

    >>> known_currency("btc"), known_currency("DOGECOINZ")
    (True, False)
    """
    t = ticker.strip()
    return t.upper() in _currencies() or t.lower() in CHAINS


def is_evm_chain(chain: str) -> bool:
    c = CHAINS.get(chain)
    return (c is not None and c.model is Model.ACCOUNT) or chain in _EXTRA_EVM


@lru_cache(maxsize=4096)
def _ticker_chain(ticker: str) -> str:
    t = ticker.strip().upper()
    return _TICKER_CHAIN.get(t, t.lower())


def chain_for(currency: str | None, network: str | None, address: str | None) -> str:
    """Our chain name for a tag: ``network`` wins over ``currency``; token tickers use the address shape."""
    ticker = (network or currency or "").strip()
    if ticker.upper() in _TOKENS or not ticker:
        a = (address or "").strip()
        if _EVM_RE.match(a):
            return "eth"
        if _TRON_RE.match(a):
            return "trx"
        if _BTC_SHAPE_RE.match(a):  # Omni-layer tokens (USDT) live on Bitcoin addresses
            return "btc"
        return ticker.lower() or "unknown"
    return _ticker_chain(ticker)


def normalise_address(chain: str, address: str) -> str:
    """Strip surrounding whitespace; EVM addresses (and Bech32 ones) in lower case."""
    a = address.strip()
    if is_evm_chain(chain) or _EVM_RE.match(a):
        return a.lower()
    if chain.startswith("btc") and a[:4].lower() in ("bc1q", "bc1p", "tb1q", "tb1p") and a.upper() == a:
        return a.lower()
    return a


def _b58check_ok(s: str, versions: tuple[int, ...] = (0x00, 0x05, 0x6F, 0xC4)) -> bool:
    n = 0
    try:
        for ch in s:
            n = n * 58 + _B58_INDEX[ch]
    except KeyError:
        return False
    pad = len(s) - len(s.lstrip("1"))
    raw = b"\0" * pad + n.to_bytes((n.bit_length() + 7) // 8, "big")
    if len(raw) != 25 or raw[0] not in versions:
        return False
    return hashlib.sha256(hashlib.sha256(raw[:-4]).digest()).digest()[:4] == raw[-4:]


_GEN = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_POLY = tuple(  # the generator terms XOR-ed for each value of the 5 bits shifted out (BIP-173 polymod)
    _GEN[0] * (b & 1) ^ _GEN[1] * (b >> 1 & 1) ^ _GEN[2] * (b >> 2 & 1) ^ _GEN[3] * (b >> 3 & 1) ^ _GEN[4] * (b >> 4 & 1)
    for b in range(32))


def _bech32_ok(s: str) -> bool:
    s = s.lower()
    pos = s.rfind("1")
    if pos < 1 or pos + 7 > len(s) or len(s) > 90:
        return False
    hrp, data = s[:pos], s[pos + 1:]
    try:
        values = [_BECH32_INDEX[c] for c in data]
    except KeyError:
        return False
    chk = 1
    for v in [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp] + values:
        chk = ((chk & 0x1FFFFFF) << 5) ^ v ^ _POLY[chk >> 25]
    witver = values[0] if values else -1
    return chk == (1 if witver == 0 else 0x2BC830A3)


def problem_checker(chain: str) -> Callable[[str], str | None] | None:
    """The address check for ``chain`` (None when its addresses are not checked here), for per-tag loops."""
    if chain in _BTC_CHAINS or is_evm_chain(chain):
        return lambda a: address_problem(chain, a)
    return None


def address_problem(chain: str, address: str) -> str | None:
    """Why ``address`` is not a valid address of ``chain``; None when valid or not checkable here."""
    if address != address.strip():
        return "address has surrounding whitespace"
    if chain in _BTC_CHAINS:
        low = address.lower()
        if low.startswith(("bc1", "tb1", "bcrt1")):
            return None if _bech32_ok(address) and address in (low, address.upper()) else \
                "Bech32 checksum or characters are wrong"
        return None if _b58check_ok(address) else "Base58Check checksum or length is wrong"
    if is_evm_chain(chain):
        if not _EVM_RE.match(address):
            return "not 0x followed by 40 hex digits"
        return None
    return None


def evm_checksum_problem(address: str) -> str | None:
    """A mixed-case EVM address whose case does not match its EIP-55 checksum (a typo somewhere)."""
    body = address[2:]
    if not _EVM_RE.match(address) or body == body.lower() or body == body.upper():
        return None
    return None if to_checksum_address(address.lower()) == address else "EIP-55 checksum (letter case) is wrong"
