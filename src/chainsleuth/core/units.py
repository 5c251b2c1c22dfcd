"""What an amount is counted in: every JSON object that holds an amount says its asset and unit.

Amounts are integers in base units everywhere (satoshi, wei, a token's smallest unit). A document cut out
of its context (an edge copied into a report, an endpoint pasted into a request) must still say what its
numbers mean, so each amount object carries ``asset`` (the chain's coin ticker, or the token contract),
``unit`` (``sat``, ``wei``, or ``base unit`` for a token) and, where known, ``decimals`` (how many base
units make one whole coin or token) and ``symbol``.

>>> unit_of("btc")
{'asset': 'BTC', 'unit': 'sat', 'decimals': 8}
>>> unit_of("eth")
{'asset': 'ETH', 'unit': 'wei', 'decimals': 18}
>>> unit_of("eth", "0xdAC17F958D2ee523a2206206994597C13D831ec7", decimals=6, symbol="USDT")
{'asset': '0xdAC17F958D2ee523a2206206994597C13D831ec7', 'unit': 'base unit', 'decimals': 6, 'symbol': 'USDT'}
"""

from __future__ import annotations

from typing import Any

from chainsleuth.core.chains import Model, get_chain

__all__ = ["BASE_UNITS", "unit_of"]

#: the base unit of each ledger model's native coin
BASE_UNITS = {Model.UTXO: "sat", Model.ACCOUNT: "wei"}


def unit_of(chain: str, asset: str | None = None, *, decimals: int | None = None,
            symbol: str | None = None) -> dict[str, Any]:
    """``{"asset", "unit", "decimals"[, "symbol"]}`` of amounts of ``asset`` on ``chain`` (None, 'native' or the
    chain's ticker: its native coin; otherwise a token contract)."""
    c = get_chain(chain)
    if asset in (None, "native", c.native_asset):
        return {"asset": c.native_asset, "unit": BASE_UNITS[c.model], "decimals": c.decimals}
    out: dict[str, Any] = {"asset": asset, "unit": "base unit", "decimals": decimals}
    if symbol is not None:
        out["symbol"] = symbol
    return out
