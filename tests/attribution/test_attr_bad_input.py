"""Bad packs: schema violations name file, line and field and list allowed values; a bad pack changes
nothing; YAML bombs, gzip bombs and oversize packs are refused before parsing."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from chainsleuth.errors import InvalidInput
from chainsleuth.workspace import Workspace

GOOD = """title: Good pack
creator: Unit test
confidence: forensic
currency: BTC
source: https://example.org/report
lastmod: 2024-01-02
tags:
- address: 1Archive1n2C579dMsAu3iC6tWzuQJz8dN
  label: Internet Archive
  category: organization
- address: '0xFA8E3920daF271daB92Be9B87d9998DDd94FEF08'
  currency: ETH
  label: Internet Archive
  actor: internet_archive
"""


def _write(d: Path, name: str, text: str) -> Path:
    p = d / name
    p.write_text(text, encoding="utf-8")
    return p


def _state(ws: Workspace) -> tuple[int, list[dict]]:
    return ws.store.tags.count(), ws.store.tags.packs()


def test_unknown_category_names_file_line_field_and_allowed_values(tmp_path: Path, workspace: Workspace) -> None:
    workspace.attribution.import_tags([_write(tmp_path, "good.yaml", GOOD)])
    before = _state(workspace)
    bad = _write(tmp_path, "bad.yaml", GOOD.replace("category: organization", "category: exchnage"))
    with pytest.raises(InvalidInput) as e:
        workspace.attribution.import_tags([bad])
    err = e.value
    assert err.details["file"] == str(bad)
    assert err.details["line"] == 10          # the line of the field in the file
    assert err.details["field"] == "category"
    assert err.details["value"] == "exchnage"
    assert "allowed:" in err.message and "exchange" in err.message and "mixing_service" in err.message
    assert _state(workspace) == before


def test_unknown_confidence_lists_the_levels(tmp_path: Path, workspace: Workspace) -> None:
    bad = _write(tmp_path, "conf.yaml", GOOD.replace("confidence: forensic", "confidence: pretty_sure"))
    with pytest.raises(InvalidInput) as e:
        workspace.attribution.import_tags([bad])
    assert e.value.details["field"] == "confidence" and e.value.details["line"] == 3
    assert "ownership (100)" in e.value.message and "web_crawl (20)" in e.value.message
    assert workspace.store.tags.count() == 0


@pytest.mark.parametrize(("change", "field", "line"), [
    (("  label: Internet Archive\n  category", "  lable: Internet Archive\n  category"), "lable", 9),
    (("source: https://example.org/report\n", ""), "source", 7),  # the tag lacking it (one line up)
    (("- address: 1Archive1n2C579dMsAu3iC6tWzuQJz8dN\n", "- tx_hash: ab\n  address: 1Archive1n2C579dMsAu3iC6tWzuQJz8dN\n"),
     "address", 8),
    (("  actor: internet_archive", "  is_cluster_definer: maybe"), "is_cluster_definer", 14),
    (("lastmod: 2024-01-02", "lastmod: yesterday"), "lastmod", 6),
])
def test_schema_violations(tmp_path: Path, workspace: Workspace, change: tuple[str, str], field: str,
                           line: int) -> None:
    assert change[0] in GOOD
    bad = _write(tmp_path, "v.yaml", GOOD.replace(*change))
    with pytest.raises(InvalidInput) as e:
        workspace.attribution.import_tags([bad])
    assert e.value.details["field"] == field, e.value
    assert e.value.details["line"] == line, e.value
    assert workspace.store.tags.count() == 0


def test_bad_pack_in_a_directory_keeps_the_good_ones(tmp_path: Path, workspace: Workspace) -> None:
    d = tmp_path / "packs"
    d.mkdir()
    _write(d, "a_good.yaml", GOOD)
    _write(d, "b_bad.yaml", GOOD.replace("label: Internet Archive\n  category", "label: ''\n  category"))
    with pytest.raises(InvalidInput) as e:
        workspace.attribution.import_tags([d])
    assert e.value.details["field"] == "label"
    assert workspace.store.tags.count() == 2   # a_good imported in its own transaction, b_bad nothing
    assert [p["uri"] for p in workspace.store.tags.packs()] == ["a_good.yaml"]  # its name, not a local path


def test_yaml_bomb_refused(tmp_path: Path, workspace: Workspace) -> None:
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    prev = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
        prev = name
    bomb = "title: bomb\ncreator: x\n" + "\n".join(lines) + "\ntags:\n- address: *i\n"
    with pytest.raises(InvalidInput, match="YAML alias"):
        workspace.attribution.import_tags([_write(tmp_path, "bomb.yaml", bomb)])
    assert workspace.store.tags.count() == 0


def test_oversize_refused_before_parsing(tmp_path: Path, workspace: Workspace) -> None:
    p = _write(tmp_path, "big.yaml", GOOD + "# padding\n" * 200)
    with pytest.raises(InvalidInput, match="over the limit") as e:
        workspace.attribution.import_tags([p], max_bytes=1000)
    assert e.value.details["field"] == "size"
    gz = tmp_path / "bomb.yaml.gz"  # small on disk, large once decompressed
    gz.write_bytes(gzip.compress(GOOD.encode() + b"#" * 5_000_000))
    assert gz.stat().st_size < 20_000
    with pytest.raises(InvalidInput, match="decompressed content is over the limit"):
        workspace.attribution.import_tags([gz], max_bytes=1_000_000)
    assert workspace.store.tags.count() == 0
    assert workspace.attribution.import_tags([p])["tags_new"] == 2  # under the default limit it imports


def test_not_a_tagpack(tmp_path: Path, workspace: Workspace) -> None:
    with pytest.raises(InvalidInput, match="tags"):
        workspace.attribution.import_tags([_write(tmp_path, "x.yaml", "- just\n- a list\n")])
    with pytest.raises(InvalidInput, match="YAML syntax error") as e:
        workspace.attribution.import_tags([_write(tmp_path, "y.yaml", "title: [unclosed\ntags:\n- address: 1\n")])
    assert e.value.details.get("line")
