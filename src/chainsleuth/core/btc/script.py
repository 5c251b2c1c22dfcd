"""Output scripts: classification, address derivation and the reverse (address -> scriptPubKey).

Script types (``outputs.script_type``) and their address text:

============== ===================================================================================
p2pk           P2PKH address of the public key (as bitcoin-etl and block explorers show it)
p2pkh          Base58Check, version byte ``p2pkh_prefix`` of the network
p2sh           Base58Check, version byte ``p2sh_prefix``
p2wpkh, p2wsh  Bech32 (BIP173), witness version 0, program of 20 / 32 bytes
p2tr           Bech32m (BIP350), witness version 1, 32-byte program
witness_unknown Bech32m of any other witness version / program length (2..40 bytes), e.g. pay-to-anchor
multisig       bare ``m <keys> n OP_CHECKMULTISIG``: ``multisig:<m>-of-<n>:<sha256(script)[:40] hex>``
               (one stable text per script; the keys themselves are not split into P2PKH addresses)
op_return      no address (``None``); the payload stays in the script column
nonstandard    ``nonstandard`` + ``sha256(script).hexdigest()[:40]`` (the bitcoin-etl convention)
============== ===================================================================================

>>> from chainsleuth.core.chains import MAINNET
>>> pk = bytes.fromhex("0411db93e1dcdb8a016b49840f8c53bc1eb68a382e97b1482ecad7b148a6909a5cb2e0eaddfb84ccf9744464f82e160bfa9b8b64f9d4c03f999b8643f656b412a3")
>>> classify_script(bytes([65]) + pk + b"\\xac", MAINNET)
('p2pk', '12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S')
>>> script_for_address("12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S", MAINNET).hex()
'76a91411b366edfc0a8b66feebae5c2e25a7b6a5d1cf3188ac'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from hashlib import sha256

from chainsleuth.core.btc.encoding import (
    base58check_decode,
    base58check_encode,
    decode_segwit_address,
    encode_segwit_address,
    hash160,
)
from chainsleuth.core.chains import CHAINS, BtcNetwork
from chainsleuth.errors import InvalidInput

__all__ = [
    "ParsedAddress",
    "address_from_script",
    "classify_script",
    "multisig_address",
    "nonstandard_address",
    "parse_address",
    "script_for_address",
    "script_for_multisig",
    "script_for_p2pk",
    "script_for_witness",
    "script_type_of",
]

_OP_RETURN = 0x6A
_OP_CHECKSIG = 0xAC
_OP_CHECKMULTISIG = 0xAE
_PUBKEY_SIZES = {2: 33, 3: 33, 4: 65, 6: 65, 7: 65}


def _valid_pubkey(b: bytes) -> bool:
    return len(b) > 0 and _PUBKEY_SIZES.get(b[0]) == len(b)


def nonstandard_address(script: bytes) -> str:
    """bitcoin-etl's text for a script without an address form."""
    return "nonstandard" + sha256(script).hexdigest()[:40]


def multisig_address(script: bytes, m: int, n: int) -> str:
    """Our stable text for a bare multisig script."""
    return f"multisig:{m}-of-{n}:{sha256(script).hexdigest()[:40]}"


def _multisig_mn(s: bytes) -> tuple[int, int] | None:
    """(m, n) when ``s`` is ``OP_m <pubkey>... OP_n OP_CHECKMULTISIG`` with valid key sizes, else None."""
    ls = len(s)
    if ls < 37 or s[-1] != _OP_CHECKMULTISIG:
        return None
    m, n = s[0] - 0x50, s[-2] - 0x50
    if not (1 <= m <= 16 and 1 <= n <= 16 and m <= n):
        return None
    p, end, keys = 1, ls - 2, 0
    while p < end:
        k = s[p]
        if k not in (33, 65) or p + 1 + k > end or not _valid_pubkey(s[p + 1:p + 1 + k]):
            return None
        p += 1 + k
        keys += 1
    return (m, n) if p == end and keys == n else None


def script_type_of(script: bytes) -> str:
    """Script type only (no address); see the module table."""
    return classify_script(script, None)[0]


def classify_script(script: bytes, network: BtcNetwork | None) -> tuple[str, str | None]:
    """(script_type, address text) of a scriptPubKey on ``network``.

    With ``network=None`` the address is not derived (None) except for the network-free forms.
    """
    s = script
    ls = len(s)
    if ls == 25 and s[0] == 0x76 and s[1] == 0xA9 and s[2] == 20 and s[23] == 0x88 and s[24] == _OP_CHECKSIG:
        return "p2pkh", (base58check_encode(bytes((network.p2pkh_prefix,)) + s[3:23]) if network else None)
    if ls == 22 and s[0] == 0 and s[1] == 20:
        return "p2wpkh", (encode_segwit_address(network.bech32_hrp, 0, s[2:]) if network else None)
    if ls == 34 and s[1] == 32:
        if s[0] == 0:
            return "p2wsh", (encode_segwit_address(network.bech32_hrp, 0, s[2:]) if network else None)
        if s[0] == 0x51:
            return "p2tr", (encode_segwit_address(network.bech32_hrp, 1, s[2:]) if network else None)
    if ls == 23 and s[0] == 0xA9 and s[1] == 20 and s[22] == 0x87:
        return "p2sh", (base58check_encode(bytes((network.p2sh_prefix,)) + s[2:22]) if network else None)
    if ls and s[0] == _OP_RETURN:
        return "op_return", None
    if (ls == 35 or ls == 67) and s[-1] == _OP_CHECKSIG and s[0] == ls - 2 and _valid_pubkey(s[1:-1]):
        return "p2pk", (base58check_encode(bytes((network.p2pkh_prefix,)) + hash160(s[1:-1])) if network else None)
    # version 0 with another program size is non-standard (not a valid witness program to spend)
    if 4 <= ls <= 42 and 0x51 <= s[0] <= 0x60 and s[1] == ls - 2:
        ver = s[0] - 0x50
        return "witness_unknown", (encode_segwit_address(network.bech32_hrp, ver, s[2:]) if network else None)
    mn = _multisig_mn(s) if ls >= 37 else None
    if mn is not None:
        return "multisig", multisig_address(s, *mn)
    return "nonstandard", nonstandard_address(s)


def address_from_script(script: bytes, network: BtcNetwork) -> str | None:
    """The address text of a scriptPubKey (see :func:`classify_script`)."""
    return classify_script(script, network)[1]


# -- address -> script -----------------------------------------------------------------------------------
def script_for_p2pk(pubkey: bytes) -> bytes:
    """``<pubkey> OP_CHECKSIG``."""
    return bytes((len(pubkey),)) + pubkey + bytes((_OP_CHECKSIG,))


def script_for_witness(version: int, program: bytes) -> bytes:
    """``OP_version <program>`` (segwit output)."""
    return bytes((0 if version == 0 else 0x50 + version, len(program))) + program


def script_for_multisig(m: int, pubkeys: list[bytes]) -> bytes:
    """Bare ``OP_m <keys> OP_n OP_CHECKMULTISIG``."""
    if not 1 <= m <= len(pubkeys) <= 16:
        raise InvalidInput(f"multisig needs 1 <= m <= n <= 16, got m={m}, n={len(pubkeys)}", field="m", value=m)
    body = b"".join(bytes((len(k),)) + k for k in pubkeys)
    return bytes((0x50 + m,)) + body + bytes((0x50 + len(pubkeys), _OP_CHECKMULTISIG))


@dataclass(frozen=True)
class ParsedAddress:
    """A validated address: the script type it pays to, its scriptPubKey, and the networks it is valid on."""

    address: str
    script_type: str
    script: bytes | None          # None for forms that do not determine a script (hashed multisig/nonstandard)
    chains: tuple[str, ...]       # store chain names on which this text is a valid address


_NETS = {name: c.btc_network for name, c in CHAINS.items() if c.btc_network is not None}
_HASHED = re.compile(r"^(nonstandard[0-9a-f]{40}|multisig:(\d{1,2})-of-(\d{1,2}):[0-9a-f]{40})$")


def parse_address(text: str, chain: str | None = None) -> ParsedAddress:
    """Validate an address typed by a user. Raises InvalidInput saying what is wrong.

    >>> parse_address("bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297").script_type
    'p2tr'
    >>> parse_address("mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn").chains
    ('btc-regtest', 'btc-signet', 'btc-testnet', 'btc-testnet4')
    """
    t = text.strip()
    nets = {chain: _NETS[chain]} if chain is not None and chain in _NETS else _NETS
    if chain is not None and chain not in _NETS:
        raise InvalidInput(f"{chain!r} is not a Bitcoin chain", field="chain", value=chain)
    m = _HASHED.match(t)
    if m:
        st = "nonstandard" if t.startswith("nonstandard") else "multisig"
        return ParsedAddress(t, st, None, tuple(sorted(nets)))
    found: list[tuple[str, str, bytes]] = []
    errors: list[str] = []
    low = t.lower()
    for name, net in nets.items():
        if low.startswith(net.bech32_hrp + "1"):
            try:
                ver, prog = decode_segwit_address(net.bech32_hrp, t)
            except InvalidInput as e:
                errors.append(e.message)
                continue
            script = script_for_witness(ver, prog)
            found.append((name, classify_script(script, None)[0], script))
    if not found and not errors:
        try:
            payload = base58check_decode(t)
        except InvalidInput as e:
            errors.append(e.message)
        else:
            if len(payload) != 21:
                errors.append(f"{t!r} decodes to {len(payload) - 1} bytes, expected a 20-byte hash")
            else:
                for name, net in nets.items():
                    if payload[0] == net.p2pkh_prefix:
                        found.append((name, "p2pkh", b"\x76\xa9\x14" + payload[1:] + b"\x88\xac"))
                    elif payload[0] == net.p2sh_prefix:
                        found.append((name, "p2sh", b"\xa9\x14" + payload[1:] + b"\x87"))
                if not found:
                    errors.append(f"{t!r} has version byte {payload[0]} which is not a Bitcoin address prefix"
                                  + (f" on {chain}" if chain else ""))
    if not found:
        why = errors[0] if errors else f"{t!r} is not a Bitcoin address" + (f" on {chain}" if chain else "")
        raise InvalidInput(why, field="address", value=text)
    return ParsedAddress(t, found[0][1], found[0][2], tuple(sorted(n for n, _, _ in found)))


def script_for_address(address: str, network: BtcNetwork) -> bytes:
    """scriptPubKey paying ``address`` on ``network`` (P2PKH, P2SH, or any segwit version)."""
    chain = next(n for n, net in _NETS.items() if net == network)
    p = parse_address(address, chain)
    if p.script is None:
        raise InvalidInput(f"{address!r} does not determine a script", field="address", value=address)
    return p.script
