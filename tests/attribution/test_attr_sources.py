"""OFAC lists, Etherscan labels, plain CSV; mixed-case Ethereum addresses; screening every OFAC address."""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path

import pytest

from chainsleuth.errors import InvalidInput
from chainsleuth.workspace import Workspace

pytestmark = pytest.mark.shared_data


def test_screen_finds_every_ofac_address_with_its_sanction_tag(shared_data: Path, workspace: Workspace,
                                                               tmp_path: Path) -> None:
    d = shared_data / "ofac-sanctioned-addresses"
    r = workspace.attribution.import_tags([d])
    lists = sorted(d.glob("sanctioned_addresses_*.txt"))
    addresses = [(f.name.split("_")[-1].removesuffix(".txt"), ln.strip())
                 for f in lists for ln in f.read_text().splitlines() if ln.strip()]
    assert r["tags_new"] == len(addresses) > 650
    screen_file = tmp_path / "all.txt"
    screen_file.write_text("\n".join(a for _, a in addresses) + "\n")
    s = workspace.attribution.screen(screen_file)
    assert s["screened"] == len(addresses) == s["with_hits"]
    for (asset, addr), res in zip(addresses, s["results"], strict=True):
        assert res["address"] == addr
        sanction = [h for h in res["hits"] if h["abuse"] == "sanction" and h["label"].endswith(f"({asset})")]
        assert sanction, addr
        assert all(h["confidence"] == "authority_data" and h["source"] for h in sanction)


def test_etherscan_labels_import(shared_data: Path, workspace: Workspace) -> None:
    d = shared_data / "etherscan-labels"
    r = workspace.attribution.import_tags([d])
    combined = json.loads(gzip.decompress((d / "combinedAccountLabels.json.gz").read_bytes()))
    by_uri = {p["uri"]: p for p in r["packs"]}
    assert by_uri["combinedAccountLabels.json.gz"]["tags"] == len(combined)
    for f in sorted((d / "accounts").glob("*.csv")):
        rows = list(csv.reader(f.open(encoding="utf-8")))[1:]
        expect = len({(x[1].strip().lower(), (x[2].strip() or f.stem).lower()) for x in rows if len(x) > 2})
        assert by_uri[f.relative_to(d).as_posix()]["tags"] == expect, f
    tc = workspace.attribution.list_tags("0x12D66F87A04A9E220743712CE6D9BB1B5616B8FC")  # Tornado.Cash 0.1 ETH, any case
    assert any(t["category"] == "mixing_service" and t["confidence"] == "web_crawl" for t in tc)
    assert workspace.attribution.list_tags("0x12d66f87a04a9e220743712ce6d9bb1b5616b8fc") == tc


def test_mixed_case_eth_addresses_normalised(shared_data: Path, workspace: Workspace) -> None:
    p = shared_data / "graphsense-tagpacks" / "packs" / "tornado_cash.yaml"
    workspace.attribution.import_tags([p])
    ids = [r[0] for r in workspace.store.db.execute("SELECT identifier FROM tags").fetchall()]
    assert ids and all(i == i.lower() for i in ids)
    mixed = "0x8589427373D6D84E98730D7795D8f6f8731FDA16"
    assert workspace.attribution.list_tags(mixed) == workspace.attribution.list_tags(mixed.lower()) != []
    assert workspace.attribution.list_tags(mixed)[0]["label"] == "tornado.cash"


def test_plain_csv(tmp_path: Path, workspace: Workspace) -> None:
    p = tmp_path / "unit7.csv"
    p.write_text("address,label,category,source,confidence,actor\n"
                 "0xAbCdEf0000000000000000000000000000000001,Scam shop,scam,case 7,forensic_investigation,\n"
                 "1Archive1n2C579dMsAu3iC6tWzuQJz8dN,Donations,organization,https://archive.org,50,internet_archive\n")
    r = workspace.attribution.import_tags([p])
    assert r["tags_new"] == 2
    t = workspace.attribution.list_tags("0xabcdef0000000000000000000000000000000001")[0]
    assert (t["abuse"], t["category"], t["chain"], t["confidence_level"]) == ("scam", "scam", "eth", 70)
    t2 = workspace.attribution.list_tags("1Archive1n2C579dMsAu3iC6tWzuQJz8dN")[0]
    # a numeric confidence maps to an id of that level (50: trusted_provider, service_data or forensic)
    assert (t2["confidence_level"], t2["actor"], t2["chain"]) == (50, "internet_archive", "btc")
    bad = tmp_path / "bad.csv"
    bad.write_text("address,label,source,confidence\n1Archive1n2C579dMsAu3iC6tWzuQJz8dN,x,y,forensic\n")
    with pytest.raises(InvalidInput, match="category") as e:
        workspace.attribution.import_tags([bad])
    assert e.value.details["line"] == 1
