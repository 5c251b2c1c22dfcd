"""Bitcoin encodings and scripts: pure functions, no I/O (hashes, Base58Check, Bech32/Bech32m,
script classification, address derivation and validation)."""

from chainsleuth.core.btc.encoding import (
    base58check_decode,
    base58check_encode,
    decode_segwit_address,
    encode_segwit_address,
    hash160,
    sha256d,
)
from chainsleuth.core.btc.script import (
    ParsedAddress,
    address_from_script,
    classify_script,
    parse_address,
    script_for_address,
)

__all__ = [
    "ParsedAddress",
    "address_from_script",
    "base58check_decode",
    "base58check_encode",
    "classify_script",
    "decode_segwit_address",
    "encode_segwit_address",
    "hash160",
    "parse_address",
    "script_for_address",
    "sha256d",
]
