"""Address encodings and script classification: BIP173/BIP350 vectors, Base58Check, known mainnet
addresses, user-input validation, and the vectorised batch path against the per-script classifier."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chainsleuth.core.btc.addresses import script_columns
from chainsleuth.core.btc.builder import KeyRing
from chainsleuth.core.btc.encoding import (
    _ripemd160_py,
    base58check_decode,
    base58check_encode,
    decode_segwit_address,
    hash160,
    ripemd160,
)
from chainsleuth.core.btc.script import classify_script, parse_address, script_for_address
from chainsleuth.core.chains import MAINNET, REGTEST, SIGNET, TESTNET3
from chainsleuth.errors import InvalidInput

# BIP350 (and BIP173) valid segwit addresses -> scriptPubKey
VALID_SEGWIT = [
    ("BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4", "0014751e76e8199196d454941c45d1b3a323f1433bd6"),
    ("tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
     "00201863143c14c5166804bd19203356da136c985678cd4d27a1b8c6329604903262"),
    ("bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
     "5128751e76e8199196d454941c45d1b3a323f1433bd6751e76e8199196d454941c45d1b3a323f1433bd6"),
    ("BC1SW50QGDZ25J", "6002751e"),
    ("bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs", "5210751e76e8199196d454941c45d1b3a323"),
    ("tb1qqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesrxh6hy",
     "0020000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433"),
    ("tb1pqqqqp399et2xygdj5xreqhjjvcmzhxw4aywxecjdzew6hylgvsesf3hn0c",
     "5120000000c4a5cad46221b2a187905e5266362b99d5e91c6ce24d165dab93e86433"),
    ("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
     "512079be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"),
]

# BIP350 invalid addresses (each for its own reason: hrp, checksum variant, version, length, case, padding)
INVALID_SEGWIT = [
    "tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut",
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",
    "tb1z0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqglt7rf",
    "BC1S0XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ54WELL",
    "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",
    "tb1q0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq24jc47",
    "bc1p38j9r5y49hruaue7wxjce0updqjuyyx0kh56v8s25huc6995vvpql3jow4",
    "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R",
    "bc1pw5dgrnzv",
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v8n0nx0muaewav253zgeav",
    "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",
    "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq47Zagq",
    "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7v07qwwzcrf",
    "tb1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vpggkg4j",
    "bc1gmk9yu",
]

SATOSHI_PK = bytes.fromhex("0411db93e1dcdb8a016b49840f8c53bc1eb68a382e97b1482ecad7b148a6909a5cb2e0eaddfb84ccf9744464f82e"
                           "160bfa9b8b64f9d4c03f999b8643f656b412a3")
HAL_PK = bytes.fromhex("04ae1a62fe09c5f51b13905f07f06b99a2f7159b2225f374cd378d71302fa28414e7aab37397f554a7df5f142c21c1b7"
                       "303b8a0626f1baded5c72a704f7e6cd84c")
GENESIS_PK = bytes.fromhex("04678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e5"
                           "1ec112de5c384df7ba0b8d578a4c702b6bf11d5f")


@pytest.mark.parametrize(("addr", "spk"), VALID_SEGWIT)
def test_btc_bip350_valid_vectors(addr: str, spk: str) -> None:
    hrp = addr.lower().split("1")[0]
    ver, prog = decode_segwit_address(hrp, addr)
    script = bytes([0 if ver == 0 else 0x50 + ver, len(prog)]) + prog
    assert script.hex() == spk
    net = MAINNET if hrp == "bc" else TESTNET3
    # re-encoding gives the lower-case form back, from the script, through both paths
    assert classify_script(script, net)[1] == addr.lower()
    assert script_columns([script], net)[1].to_pylist() == [addr.lower()]
    assert parse_address(addr).script == script


@pytest.mark.parametrize("addr", INVALID_SEGWIT)
def test_btc_bip350_invalid_vectors(addr: str) -> None:
    with pytest.raises(InvalidInput):
        parse_address(addr)


def test_btc_known_mainnet_addresses() -> None:
    p2pk = bytes([65]) + SATOSHI_PK + b"\xac"
    assert classify_script(p2pk, MAINNET) == ("p2pk", "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S")
    assert classify_script(bytes([65]) + HAL_PK + b"\xac", MAINNET) == ("p2pk", "1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3")
    assert classify_script(bytes([65]) + GENESIS_PK + b"\xac", MAINNET)[1] == "1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa"
    # P2SH (BIP13 example style): hash 0x00.. -> 3 address; Base58Check round trip
    assert base58check_encode(b"\x05" + bytes(20)) == "31h1vYVSYuKP6AhS86fbRdMw9XHieotbST"
    assert base58check_decode("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa")[1:].hex() == "62e907b15cbf27d5425399ebf6f0fb50ebb88f18"
    with pytest.raises(InvalidInput, match="checksum"):
        base58check_decode("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb")
    # testnet / regtest prefixes
    h = bytes.fromhex("62e907b15cbf27d5425399ebf6f0fb50ebb88f18")
    spk = b"\x76\xa9\x14" + h + b"\x88\xac"
    assert classify_script(spk, TESTNET3)[1] == "mpXwg4jMtRhuSpVq4xS3HFHmCmWp9NyGKt"
    assert classify_script(spk, TESTNET3)[1] == classify_script(spk, SIGNET)[1] == classify_script(spk, REGTEST)[1]
    wpkh = b"\x00\x14" + h
    assert classify_script(wpkh, REGTEST)[1].startswith("bcrt1q")
    assert classify_script(wpkh, SIGNET)[1].startswith("tb1q")


def test_btc_script_types_and_forms() -> None:
    keys = KeyRing(seed=5, chain="btc")
    ms = keys.script(1, "multisig")
    t, a = classify_script(ms, MAINNET)
    assert t == "multisig" and a == "multisig:1-of-2:" + hashlib.sha256(ms).hexdigest()[:40]
    assert classify_script(b"\x6a\x04abcd", MAINNET) == ("op_return", None)
    assert classify_script(b"", MAINNET) == ("nonstandard", "nonstandard" + hashlib.sha256(b"").hexdigest()[:40])
    # version-0 program of a length other than 20/32 is non-standard; other versions are witness_unknown
    assert classify_script(b"\x00\x10" + bytes(16), MAINNET)[0] == "nonstandard"
    assert classify_script(bytes.fromhex("51024e73"), MAINNET) == ("witness_unknown", "bc1pfeessrawgf")
    # a P2PK-shaped script with an invalid key prefix is non-standard
    assert classify_script(bytes([33]) + b"\x05" + bytes(32) + b"\xac", MAINNET)[0] == "nonstandard"


def test_btc_parse_address_user_input() -> None:
    p = parse_address("  1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa ")
    assert p.chains == ("btc",) and p.script_type == "p2pkh"
    assert parse_address("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy").script_type == "p2sh"
    assert parse_address("bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080").chains == ("btc-regtest",)
    for bad, msg in [("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNb", "checksum"), ("0xdeadbeef", "Base58"),
                     ("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", "checksum")]:
        with pytest.raises(InvalidInput, match=msg):
            parse_address(bad)
    with pytest.raises(InvalidInput, match="version byte 0 "):
        parse_address("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", "btc-testnet")
    assert script_for_address("bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0", MAINNET)[:2] == b"\x51\x20"
    assert parse_address("nonstandard" + "ab" * 20).script_type == "nonstandard"


def test_btc_ripemd160_fallback_matches() -> None:
    for m in (b"", b"abc", b"message digest", bytes(range(256)) * 3):
        assert _ripemd160_py(m) == ripemd160(m)
    assert ripemd160(b"abc").hex() == "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc"
    assert hash160(GENESIS_PK).hex() == "62e907b15cbf27d5425399ebf6f0fb50ebb88f18"


_script = st.one_of(
    st.binary(max_size=80),
    st.builds(lambda s, i, k: KeyRing(s).script(i, k), st.integers(0, 10**6), st.integers(0, 1000),
              st.sampled_from(["p2pk", "p2pkh", "p2sh", "p2wpkh", "p2wsh", "p2tr", "multisig"])),
    st.builds(lambda v, p: bytes([0x50 + v, len(p)]) + p, st.integers(1, 16), st.binary(min_size=2, max_size=40)),
    st.builds(lambda p: bytes([len(p)]) + p + b"\xac", st.binary(min_size=33, max_size=33)),
)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(_script, max_size=40), st.sampled_from([MAINNET, TESTNET3, REGTEST]))
def test_btc_vectorised_columns_match_classifier(scripts: list[bytes], net) -> None:
    types, addrs, raw = script_columns(scripts, net)
    ref = [classify_script(s, net) for s in scripts]
    assert types.to_pylist() == [t for t, _ in ref]
    assert addrs.to_pylist() == [a for _, a in ref]
    assert raw.to_pylist() == scripts
