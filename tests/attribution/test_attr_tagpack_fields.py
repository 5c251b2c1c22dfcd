"""Every TagPack field, header inheritance, the shared taxonomy, and the line scanner on unusual YAML."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chainsleuth.attribution import Taxonomy
from chainsleuth.attribution.tagpack import parse_tagpack, scan_tagpack, yaml_tagpack
from chainsleuth.workspace import Workspace

PACK = """title: Fields
creator: Unit test
description: every field
is_public: true
label: header label
source: https://example.org/header
currency: ETH
confidence: forensic
category: exchange
actor: header_actor
is_cluster_definer: true
lastmod: 2023-05-06
tags:
- address: '0xAbCdEf0000000000000000000000000000000002'
- address: '0xabcdef0000000000000000000000000000000003'
  label: own label
  source: https://example.org/own
  confidence: ownership
  category: defi_dex
  abuse: scam
  concepts: [defi, defi_token]
  actor: own_actor
  is_cluster_definer: false
  lastmod: 2024-02-03 04:05:06
  context: {"tlp": "red", "note": "x"}
  tag_type: event
  network: BSC
- tx_hash: '0xAB00000000000000000000000000000000000000000000000000000000000001'
  label: ransom payment
  abuse: ransomware
  category: user
"""


def test_every_field_and_inheritance(tmp_path: Path) -> None:
    p = parse_tagpack(PACK, file="f.yaml", uri="f.yaml", content_hash="h", taxonomy=Taxonomy.packaged())
    rows = p.tags.to_pylist()
    a, b, t = rows
    assert (a["identifier"], a["label"], a["source"], a["confidence"], a["confidence_level"], a["category"],
            a["actor"], a["is_cluster_definer"], a["chain"], a["tlp"], a["line"]) == (
        "0xabcdef0000000000000000000000000000000002", "header label", "https://example.org/header", "forensic", 50,
        "exchange", "header_actor", True, "eth", "clear", 14)
    assert a["lastmod"] == 1683331200  # 2023-05-06 UTC
    assert (b["label"], b["source"], b["confidence_level"], b["category"], b["abuse"], b["actor"],
            b["is_cluster_definer"], b["tag_type"], b["chain"], b["tlp"]) == (
        "own label", "https://example.org/own", 100, "defi_dex", "scam", "own_actor", False, "event", "bsc", "red")
    assert b["concepts"] == ["defi", "defi_token", "scam", "defi_dex"]
    assert b["lastmod"] == 1706933106 and json.loads(b["context"]) == {"note": "x", "tlp": "red"}
    assert (t["subject"], t["identifier"], t["abuse"], t["category"]) == (
        "tx", "0xab00000000000000000000000000000000000000000000000000000000000001", "ransomware", "user")
    assert p.is_public is True and p.title == "Fields"


def test_tx_tags_found_in_any_case(tmp_path: Path, workspace: Workspace) -> None:
    f = tmp_path / "f.yaml"
    f.write_text(PACK)
    workspace.attribution.import_tags([f])
    tags = workspace.attribution.list_tags("0xAB00000000000000000000000000000000000000000000000000000000000001")
    assert [t["label"] for t in tags] == ["ransom payment"]


@pytest.mark.parametrize("tags_text", [
    "- address: 1Archive1n2C579dMsAu3iC6tWzuQJz8dN  # a comment\n  label: x\n",
    "- address: \"1Archive1n2C579dMsAu3iC6tWzuQJz8dN\"\n  label: \"say \\\"hi\\\"\"\n",
    "- {address: 1Archive1n2C579dMsAu3iC6tWzuQJz8dN, label: flow}\n",
    "- address: 1Archive1n2C579dMsAu3iC6tWzuQJz8dN\n  label: >\n    folded\n    text\n",
    "- address: 1Archive1n2C579dMsAu3iC6tWzuQJz8dN\n  label: 'it''s'\n  lastmod: '2020-01-01'\n",
    "- address: 1Archive1n2C579dMsAu3iC6tWzuQJz8dN\n  label: yes\n  is_cluster_definer: True\n",
    "  - address: 1Archive1n2C579dMsAu3iC6tWzuQJz8dN\n    label: indented list\n    concepts:\n    - exchange\n",
    "- address: 1Archive1n2C579dMsAu3iC6tWzuQJz8dN\n  label: 12345\n\n# trailing comment\n",
])
def test_scanner_agrees_with_yaml_on_unusual_forms(tags_text: str) -> None:
    text = "title: t\ncreator: c\ntags:\n" + tags_text + "lastmod: 2021-01-01\n"
    fast = scan_tagpack(text, file="x.yaml")
    full = yaml_tagpack(text, file="x.yaml")
    if fast is not None:
        assert fast[0] == full[0]
        assert fast[2] == full[2]


def test_shared_taxonomy_loads_and_packaged_is_a_superset(shared_data: Path) -> None:
    shared = Taxonomy.from_dir(shared_data / "graphsense-tagpacks" / "taxonomy")
    ours = Taxonomy.packaged()
    assert set(shared.concepts) <= set(ours.concepts)
    assert {k: v.level for k, v in shared.confidence.items()} == {k: v.level for k, v in ours.confidence.items()}
    assert set(shared.tag_types) <= set(ours.tag_types)
    assert set(shared.countries) <= set(ours.countries)
    assert shared.tagpack_schema["tag"].keys() <= ours.tagpack_schema["tag"].keys()
    assert ours.is_a("ransomware", "abuse") and ours.is_a("coinjoin", "mixing")
