"""All shared TagPacks import; counts agree with an independent reading of the YAML; data flaws are flagged
as the TagPack tool flags them; re-import changes nothing."""

from __future__ import annotations

import gzip
import time
from pathlib import Path

import pytest
import yaml
from bitcoin.base58 import CBase58Data

from chainsleuth.attribution import read_tagpack
from chainsleuth.attribution.tagpack import scan_tagpack, yaml_tagpack
from chainsleuth.workspace import Workspace

pytestmark = pytest.mark.shared_data


def _pack_files(packs_dir: Path) -> list[Path]:
    return sorted(p for p in (packs_dir / "packs").rglob("*") if p.name.endswith((".yaml", ".yaml.gz")))


def _load(p: Path) -> dict:
    raw = p.read_bytes()
    return yaml.load(gzip.decompress(raw) if p.name.endswith(".gz") else raw, Loader=yaml.CSafeLoader)


#: currency tickers in the shared packs that are no currency (a typo: KardiaChain's ticker is KAI); their
#: tags are skipped with a warning
_NOT_CURRENCIES = {"kaihot"}


def _independent_count(p: Path, d: dict | None = None) -> int:
    """Tags after header defaults, minus duplicates by the TagPack tool's rule (identifier, currency, network,
    label, source; case-insensitive; addresses stripped), minus tags of an unknown currency."""
    d = d if d is not None else _load(p)
    seen = set()
    for t in d["tags"]:
        f = {**{k: v for k, v in d.items() if k != "tags"}, **t}
        cur = str(f.get("currency", ""))
        net = str(f.get("network") or cur)
        if cur.lower() in _NOT_CURRENCIES or net.lower() in _NOT_CURRENCIES:
            continue
        seen.add((str(f.get("address") or f.get("tx_hash")).strip().lower(), cur.lower(), net.lower(),
                  str(f.get("label", "")).strip().lower(), str(f.get("source", "")).lower()))
    return len(seen)


@pytest.mark.slow
def test_all_80_packs_import_with_independent_counts(all_packs_ws: tuple[Workspace, dict], packs_dir: Path) -> None:
    ws, summary = all_packs_ws
    files = _pack_files(packs_dir)
    assert len(files) == 80
    by_uri = {p["uri"]: p for p in summary["packs"]}
    expected_total = 0
    for f in files:
        d = _load(f)
        exp = _independent_count(f, d)
        # the line scanner reads every pack to the same values as PyYAML
        raw = f.read_bytes()
        fast = scan_tagpack((gzip.decompress(raw) if f.name.endswith(".gz") else raw).decode("utf-8"), file=str(f))
        assert fast is not None, f
        assert fast[0] == {k: v for k, v in d.items() if k != "tags"}, f
        assert [t for _, t in fast[2]] == d["tags"], f
        expected_total += exp
        name = f.relative_to(packs_dir).as_posix()   # packs are named relative to the directory imported
        assert by_uri[name]["status"] == "new", f
        assert by_uri[name]["tags"] == exp, f
    assert summary["tags_new"] == expected_total == ws.store.tags.count()
    assert expected_total > 237_000
    actor = [p for p in summary["packs"] if p["kind"] == "actorpack"]
    assert len(actor) == 1 and actor[0]["actors"] > 1000


@pytest.mark.slow
def test_reimport_changes_nothing(all_packs_ws: tuple[Workspace, dict], packs_dir: Path) -> None:
    ws, _ = all_packs_ws
    before = ws.store.tags.count()
    packs_before = ws.store.tags.packs()
    r = ws.attribution.import_tags([packs_dir])
    assert r["packs_new"] == 0 and r["packs_replaced"] == 0 and r["tags_new"] == 0
    assert r["packs_unchanged"] == 81
    assert ws.store.tags.count() == before
    assert ws.store.tags.packs() == packs_before


@pytest.mark.slow
def test_address_lookup_is_fast(all_packs_ws: tuple[Workspace, dict]) -> None:
    ws, _ = all_packs_ws
    idents = [r[0] for r in ws.store.db.execute(
        "SELECT identifier FROM tags ORDER BY hash(tag_id) LIMIT 50").fetchall()]
    ws.attribution.list_tags(idents[0])  # warm up
    times = []
    for a in idents:
        t0 = time.perf_counter()
        tags = ws.attribution.list_tags(a)
        times.append(time.perf_counter() - t0)
        assert tags and all(t["source"] and t["pack_uri"] for t in tags)
    times.sort()
    median_ms = times[len(times) // 2] * 1000
    print(f"address lookup with tags: median {median_ms:.2f} ms, max {times[-1] * 1000:.2f} ms")
    assert median_ms < 50


def test_flaws_flagged_like_the_tagpack_tool(packs_dir: Path) -> None:
    # malformed BTC addresses in sextortion_excello.yaml, found independently with python-bitcoinlib
    p = packs_dir / "packs" / "sextortion_excello.yaml"
    bad = set()
    for t in _load(p)["tags"]:
        a = t["address"]
        if a.startswith("bc1"):
            continue
        try:
            if len(CBase58Data(a)) != 20:
                bad.add(a)
        except Exception:
            bad.add(a)
    assert len(bad) == 6
    pack = read_tagpack(p)
    flagged = {i.value for i in pack.warnings if i.field == "address" and "invalid address" in i.message}
    assert flagged == bad
    assert pack.tags.num_rows == _independent_count(p)  # flagged, still imported
    assert any(i.field == "actor" and "have no actor" in i.message for i in pack.warnings)
    # trailing whitespace in tornado_cash.yaml: stripped, flagged, and merged with its clean twin
    t = read_tagpack(packs_dir / "packs" / "tornado_cash.yaml")
    ws_flags = [i for i in t.warnings if "whitespace" in i.message]
    assert len(ws_flags) == 1 and ws_flags[0].value.endswith(" ") and ws_flags[0].line is not None
    assert t.duplicates_merged == 1
    assert all(a == a.strip().lower() for a in t.tags["identifier"].to_pylist())


def test_line_scanner_lines_agree_with_yaml_parser(packs_dir: Path) -> None:
    """Values, header and the line of every tag, against the YAML parser's marks (packs under 200 kB)."""
    for p in _pack_files(packs_dir):
        if p.stat().st_size > 200_000 or p.name.endswith(".gz"):
            continue
        raw = p.read_bytes()
        text = (gzip.decompress(raw) if p.name.endswith(".gz") else raw).decode("utf-8")
        fast = scan_tagpack(text, file=str(p))
        assert fast is not None, p
        full = yaml_tagpack(text, file=str(p))
        assert fast[0] == full[0], p
        assert fast[2] == full[2], p
