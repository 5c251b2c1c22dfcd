"""The line scanner reads any YAML that PyYAML writes for a TagPack to the same values as PyYAML reads it."""

from __future__ import annotations

import datetime as dt

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from chainsleuth.attribution.tagpack import scan_tagpack

_text = st.text(alphabet=st.sampled_from(list("abcXYZ019 :#-'\"!&*[]{},.|>%@`?\\é\t/")), min_size=0, max_size=40)
_scalar = st.one_of(_text, st.booleans(), st.integers(-10**6, 10**6), st.none(),
                    st.dates(min_value=dt.date(2000, 1, 1), max_value=dt.date(2030, 1, 1)),
                    st.sampled_from(["yes", "no", "on", "off", "null", "~", "1e3", "0x1f", "1_000", ".5", "2020-01-01",
                                     "12:30:00", "True", "NULL", "-", "--", "- a", "a: b", "#x", "x #y", "'q'"]))
_tag = st.dictionaries(st.sampled_from(["address", "label", "source", "actor", "context", "lastmod",
                                        "is_cluster_definer", "category"]), _scalar, min_size=1, max_size=6)
_tag_with_list = st.tuples(_tag, st.lists(_text, max_size=3)).map(lambda x: {**x[0], "concepts": x[1]} if x[1] else x[0])


@settings(max_examples=200, deadline=None)
@given(tags=st.lists(_tag_with_list, min_size=1, max_size=6), width=st.sampled_from([20, 80, 10**6]),
       after=st.booleans())
def test_scanner_matches_pyyaml(tags: list[dict], width: int, after: bool) -> None:
    doc = {"title": "t", "creator": "c", "tags": tags}
    if after:
        doc["lastmod"] = dt.date(2021, 1, 1)  # a header field after the tag list
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=width)
    fast = scan_tagpack(text, file="p.yaml")
    expect = yaml.safe_load(text)
    if fast is None:  # a form the scanner hands to the YAML parser whole
        return
    header, _, items = fast
    assert [t for _, t in items] == expect["tags"]
    assert header == {k: v for k, v in expect.items() if k != "tags"}
