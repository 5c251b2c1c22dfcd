"""Which asset of an account chain a graph or a trace is about: the chain's own coin, all fungible assets
at once, or one token (the store's address id of its contract)."""

from __future__ import annotations

from enum import Enum

__all__ = ["Asset", "AssetKey", "store_asset_id"]


class Asset(Enum):
    """An asset scope other than one token."""

    NATIVE = "native"               #: the chain's own coin (BTC, ETH)
    ALL_FUNGIBLE = "all-fungible"   #: the native coin and every fungible token together (path search)


#: an :class:`Asset` scope, or one token: the store's address id of the token contract
AssetKey = Asset | int

# the store's codes for the two scopes in transfer arrays and asset lists (store/graph.py)
_STORE_CODES = {Asset.NATIVE: -1, Asset.ALL_FUNGIBLE: -2}


def store_asset_id(asset: AssetKey) -> int:
    """The store's asset code of ``asset``: a token's address id, or the store's code of a scope.

    >>> store_asset_id(Asset.NATIVE), store_asset_id(Asset.ALL_FUNGIBLE), store_asset_id(17)
    (-1, -2, 17)
    """
    return _STORE_CODES[asset] if isinstance(asset, Asset) else asset
