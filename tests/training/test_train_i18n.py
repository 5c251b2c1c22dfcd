"""Catalogs: every message a trainee reads exists in every language, with the same placeholders."""

from __future__ import annotations

import re

import pytest

from chainsleuth.training import generate_world
from chainsleuth.training.exercises import MESSAGES, brief_markdown, questions_for
from chainsleuth.training.i18n import LANGUAGES, catalog_messages, format_amount, format_date, translator


@pytest.mark.parametrize("lang", [x for x in LANGUAGES if x != "en"])
def test_catalog_has_every_message(lang: str) -> None:
    cat = catalog_messages(lang)
    missing = [m for m in MESSAGES if not cat.get(m)]
    assert not missing, f"{lang} catalog misses {len(missing)} messages, e.g. {missing[:3]}"
    for m in MESSAGES:
        assert set(re.findall(r"\{\w+\}", m)) == set(re.findall(r"\{\w+\}", cat[m])), (lang, m)
        assert cat[m] != m or m.startswith("{")        # translated, not copied
    stale = set(cat) - set(MESSAGES)
    assert not stale, f"{lang} catalog has messages the code no longer uses: {sorted(stale)[:3]}"


def test_a_missing_key_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("chainsleuth.training.exercises.MESSAGES", [*MESSAGES, "A message nobody translated"])
    from chainsleuth.training import exercises

    cat = catalog_messages("th")
    assert [m for m in exercises.MESSAGES if m not in cat] == ["A message nobody translated"]


def test_unknown_language_is_refused() -> None:
    from chainsleuth.errors import InvalidInput

    with pytest.raises(InvalidInput, match="fr"):
        translator("fr")


def test_thai_dates_use_the_buddhist_era() -> None:
    ts = 1_714_521_600                                  # 2024-05-01 00:00 UTC
    assert "2567" in format_date(ts, "th") and "พฤษภาคม" in format_date(ts, "th")
    assert format_date(ts, "en") == "1 May 2024"
    assert format_date(ts, "ko") == "2024년 5월 1일"
    assert "2567" in format_date(ts, "th", with_time=True)


def test_amounts_are_exact() -> None:
    assert format_amount(150_000_000, "BTC") == "1.5 BTC"
    assert format_amount(1, "BTC") == "0.00000001 BTC"
    assert format_amount(10**18 + 1, "ETH") == "1.000000000000000001 ETH"
    assert format_amount(2_500_000, "USDT") == "2.5 USDT"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_typology_brief_renders(lang: str) -> None:
    from chainsleuth.training import TYPOLOGIES

    for t in TYPOLOGIES:
        key = generate_world(t, 1, 3, size=120)[1]
        text = brief_markdown(key, lang)
        assert not re.search(r"\{\w+\}", text), "an unfilled placeholder"
        assert all(q.text in text for q in questions_for(key, lang))
