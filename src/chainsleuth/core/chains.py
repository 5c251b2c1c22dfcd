"""Chains and networks: names, models (UTXO or account), and the constants their formats need."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from chainsleuth.errors import InvalidInput

__all__ = ["CHAINS", "BtcNetwork", "Chain", "Model", "get_chain"]


class Model(StrEnum):
    UTXO = "utxo"
    ACCOUNT = "account"


@dataclass(frozen=True)
class BtcNetwork:
    """Constants of one Bitcoin network: message magic, address prefixes, genesis."""

    name: str
    magic: bytes
    p2pkh_prefix: int
    p2sh_prefix: int
    bech32_hrp: str
    genesis_hash: str


MAINNET = BtcNetwork("mainnet", bytes.fromhex("f9beb4d9"), 0x00, 0x05, "bc",
                     "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f")
TESTNET3 = BtcNetwork("testnet3", bytes.fromhex("0b110907"), 0x6F, 0xC4, "tb",
                      "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943")
TESTNET4 = BtcNetwork("testnet4", bytes.fromhex("1c163f28"), 0x6F, 0xC4, "tb",
                      "00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043")
SIGNET = BtcNetwork("signet", bytes.fromhex("0a03cf40"), 0x6F, 0xC4, "tb",
                    "00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6")
REGTEST = BtcNetwork("regtest", bytes.fromhex("fabfb5da"), 0x6F, 0xC4, "bcrt",
                     "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206")


@dataclass(frozen=True)
class Chain:
    """A chain as the store names it (``chain`` column): lowercase ticker plus network suffix."""

    name: str
    model: Model
    native_asset: str
    decimals: int
    btc_network: BtcNetwork | None = None
    evm_chain_id: int | None = None


CHAINS: dict[str, Chain] = {
    c.name: c
    for c in (
        Chain("btc", Model.UTXO, "BTC", 8, MAINNET),
        Chain("btc-testnet", Model.UTXO, "tBTC", 8, TESTNET3),
        Chain("btc-testnet4", Model.UTXO, "tBTC", 8, TESTNET4),
        Chain("btc-signet", Model.UTXO, "sBTC", 8, SIGNET),
        Chain("btc-regtest", Model.UTXO, "rBTC", 8, REGTEST),
        Chain("eth", Model.ACCOUNT, "ETH", 18, evm_chain_id=1),
        Chain("eth-sepolia", Model.ACCOUNT, "ETH", 18, evm_chain_id=11155111),
        Chain("bsc", Model.ACCOUNT, "BNB", 18, evm_chain_id=56),
        Chain("polygon", Model.ACCOUNT, "POL", 18, evm_chain_id=137),
        Chain("arbitrum", Model.ACCOUNT, "ETH", 18, evm_chain_id=42161),
        Chain("eth-anvil", Model.ACCOUNT, "ETH", 18, evm_chain_id=31337),
    )
}

BTC_NETWORK_BY_MAGIC: dict[bytes, Chain] = {
    c.btc_network.magic: c for c in CHAINS.values() if c.btc_network is not None and c.name != "btc-testnet4"
} | {TESTNET4.magic: CHAINS["btc-testnet4"]}


def get_chain(name: str) -> Chain:
    """Look a chain up by its store name; raise InvalidInput listing the known ones."""
    try:
        return CHAINS[name]
    except KeyError:
        raise InvalidInput(f"unknown chain {name!r}; known chains: {', '.join(sorted(CHAINS))}",
                           field="chain", value=name) from None
