"""The tag store: a changed pack replaces its tags; identical content under another path is not doubled;
the dense address id resolves once the address is ingested (tags_resolved)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainsleuth.errors import InvalidInput
from chainsleuth.workspace import Workspace

PACK = """title: P
creator: Unit test
confidence: forensic
currency: BTC
source: https://example.org/p
tags:
- address: 1Archive1n2C579dMsAu3iC6tWzuQJz8dN
  label: first
- address: 1BoatSLRHtKNngkdXEeobR76b53LETtpyT
  label: second
"""


def test_changed_pack_replaces_and_copies_are_not_doubled(tmp_path: Path, workspace: Workspace) -> None:
    p = tmp_path / "p.yaml"
    p.write_text(PACK)
    assert workspace.attribution.import_tags([p])["packs_new"] == 1
    p.write_text(PACK.replace("label: second", "label: second, revised"))
    r = workspace.attribution.import_tags([p])
    assert r["packs_replaced"] == 1 and r["tags_new"] == 2
    assert workspace.store.tags.count() == 2
    assert [t["label"] for t in workspace.attribution.list_tags("1BoatSLRHtKNngkdXEeobR76b53LETtpyT")] == ["second, revised"]
    copy = tmp_path / "elsewhere"
    copy.mkdir()
    (copy / "p.yaml").write_text(p.read_text())
    r = workspace.attribution.import_tags([copy / "p.yaml"])
    assert r["packs_unchanged"] == 1 and r["packs"][0]["same_as"] == "p.yaml"
    assert workspace.store.tags.count() == 2
    runs = workspace.store.db.execute("SELECT count(*) FROM tag_import_runs").fetchall()[0][0]
    assert runs == 3


def test_tags_resolved_view(tmp_path: Path, workspace: Workspace) -> None:
    p = tmp_path / "p.yaml"
    p.write_text(PACK)
    workspace.attribution.import_tags([p])
    rows = workspace.store.db.execute("SELECT identifier, address_id FROM tags_resolved ORDER BY 1").fetchall()
    assert rows == [("1Archive1n2C579dMsAu3iC6tWzuQJz8dN", None), ("1BoatSLRHtKNngkdXEeobR76b53LETtpyT", None)]
    workspace.store.db.execute("INSERT INTO addresses VALUES ('btc', 0, '1BoatSLRHtKNngkdXEeobR76b53LETtpyT')")
    rows = workspace.store.db.execute("SELECT identifier, address_id FROM tags_resolved ORDER BY 1").fetchall()
    assert rows[1] == ("1BoatSLRHtKNngkdXEeobR76b53LETtpyT", 0)


def test_checkpoint_setting_restored_after_a_failed_import(tmp_path: Path, workspace: Workspace) -> None:
    def threshold() -> str:
        return str(workspace.store.db.execute("SELECT current_setting('checkpoint_threshold')").fetchall()[0][0])

    before = threshold()
    good = tmp_path / "a.yaml"
    good.write_text(PACK)
    bad = tmp_path / "b.yaml"
    bad.write_text(PACK.replace("confidence: forensic", "confidence: maybe"))
    with pytest.raises(InvalidInput):
        workspace.attribution.import_tags([good, bad])
    assert threshold() == before
    assert workspace.store.tags.count() == 2
