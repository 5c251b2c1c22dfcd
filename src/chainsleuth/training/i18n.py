"""Languages of everything a trainee reads: gettext catalogs (.po) in ``training/locales``, read by Babel.

The .po sources ship in the package and are read directly with :func:`babel.messages.pofile.read_po`, so
a fresh ``pip install .`` needs no compile step. English is the source language (msgid = English text).
Thai dates show Buddhist-Era years (Gregorian + 543), as Thai documents write them.

>>> t = translator("ko")
>>> t("Questions") != "Questions"
True
>>> format_date(1714521600, "th").endswith("2567")
True
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import cache
from importlib import resources

from babel.dates import format_datetime
from babel.messages.pofile import read_po

from chainsleuth.errors import InvalidInput

__all__ = ["DOMAIN", "LANGUAGES", "catalog_messages", "format_amount", "format_date", "translator"]

LANGUAGES = ("en", "th", "ko")
DOMAIN = "chainsleuth_training"
_BE_OFFSET = 543


@cache
def _catalog(lang: str) -> dict[str, str]:
    if lang not in LANGUAGES:
        raise InvalidInput(f"language {lang!r} is not available; choose one of: {', '.join(LANGUAGES)}",
                           field="--lang", value=lang)
    if lang == "en":
        return {}
    ref = resources.files("chainsleuth.training").joinpath("locales", lang, "LC_MESSAGES", f"{DOMAIN}.po")
    with ref.open("rb") as f:
        cat = read_po(f, locale=lang)
    return {str(m.id): str(m.string) for m in cat if m.id and m.string and not m.fuzzy}


def catalog_messages(lang: str) -> dict[str, str]:
    """msgid -> translation of one catalog (empty for English, the source language)."""
    return dict(_catalog(lang))


def translator(lang: str) -> Callable[[str], str]:
    """A gettext-like function for ``lang``; a message missing from the catalog falls back to English
    (tests/training/test_train_i18n.py fails on any missing message)."""
    cat = _catalog(lang)
    return lambda msg: cat.get(msg, msg)


def format_date(ts: int, lang: str, *, with_time: bool = False) -> str:
    """A UTC time as the trainee's language writes dates; Thai with the Buddhist-Era year."""
    d = dt.datetime.fromtimestamp(ts, dt.UTC)
    if lang == "th":
        # Babel's CLDR data for Thai formats Gregorian years; Thai usage is the Buddhist Era (+543)
        text = f"{format_datetime(d, 'd MMMM', locale='th')} พ.ศ. {d.year + _BE_OFFSET}"
        return text + (f" {format_datetime(d, 'HH:mm', locale='th')} UTC" if with_time else "")
    pattern = {"en": "d MMMM y", "ko": "y년 M월 d일"}[lang] + (" HH:mm 'UTC'" if with_time else "")
    return format_datetime(d, pattern, locale=lang)


def format_amount(value: int, asset: str) -> str:
    """An exact amount in base units as a decimal in the asset's unit (no float): 150000000 BTC -> '1.5 BTC'."""
    decimals = {"BTC": 8, "ETH": 18, "USDT": 6}.get(asset, 0)
    if decimals == 0:
        return f"{value} {asset}"
    q, r = divmod(abs(value), 10**decimals)
    frac = str(r).rjust(decimals, "0").rstrip("0")
    sign = "-" if value < 0 else ""
    return f"{sign}{q}{'.' + frac if frac else ''} {asset}"
