"""Integration, every typology at every difficulty: the workspace trace from a training case's starting point
reaches exactly the endpoints the answer key's ``trace_expectations`` name, with their exact amounts.

The expectations are computed by the generator from its own ledgers (training/expectations.py): the first
service on each laundering path (the amount that entered it), the cash-out when no service intervenes, and
for CoinJoins the amount of the case's value that entered the round (beyond it amounts depend on the policy
and are diluted by design). Custodial mixers and mixing pools break the link by construction (they pay out of
their own reserve): their deposit is the endpoint. The cross-chain hop is a second trace from the bridge's
release on the other chain.

The trace stops at attributed services; the world's own TagPack covers services partially by design (at
levels 2-3 deposit addresses and some exchanges carry no tag), so here the investigator also holds a
complete TagPack of the services, written from the answer key, and the trace runs with the default
``--stop-at``. On those paths every policy gives the same amounts (the value is never mixed with other value
before a service or a CoinJoin): checked under haircut, FIFO, LIFO, and TIHO on Bitcoin.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from chainsleuth.training import generate_world
from chainsleuth.training.expectations import SERVICE_KINDS
from chainsleuth.workspace import Workspace

TYPOLOGIES = ["ransomware", "darknet_market", "investment_scam", "exchange_hack", "sanctions_evasion"]


def _service_tagpack(key: Any) -> str:
    """Every address of a service entity, tagged with the entity's category: complete attribution."""
    lines = ["title: Complete service attribution (from the answer key)", "creator: chainsleuth tests",
             "confidence: service_data", "lastmod: 2024-06-01", "tags:"]
    for k, ent in key.owners.items():
        e = key.entities[ent]
        if e.kind not in SERVICE_KINDS:
            continue
        chain, addr = k.split(":", 1)
        cur = "BTC" if chain == "btc" else "ETH"
        lines += [f"- address: '{addr}'", f"  currency: {cur}", f"  network: {cur}",
                  f"  label: {json.dumps(e.name)}", f"  category: {e.category}",
                  "  source: https://example.org/answer-key"]
    return "\n".join(lines) + "\n"


def _open(tmp: Path, typology: str, difficulty: int, seed: int) -> tuple[Workspace, Any]:
    world, key = generate_world(typology, difficulty=difficulty, seed=seed, size=100)
    paths = world.write(tmp / "world")
    tags = tmp / "full-tags"
    tags.mkdir()
    (tags / "services.yaml").write_text(_service_tagpack(key), encoding="utf-8")
    ws = Workspace(tmp / "ws")
    ws.ingest.btc_blocks([paths["btc"]], allow_invalid_pow=True)
    ws.ingest.etl(paths["eth"], chain="eth")
    ws.attribution.import_tags([Path(paths["tags"]).parent, tags])
    return ws, key


def _source(exp: dict[str, Any]) -> str:
    if exp["chain"] == "btc":
        return ",".join(f"{s['txid']}:{s['index']}" if "index" in s else s["address"] for s in exp["source"])
    return ",".join(s.get("address") or s["txid"] for s in exp["source"])


def _arrived(doc: dict[str, Any], exp: dict[str, Any], via: list[dict[str, str]]) -> int:
    """Traced value carried into the (txid, address) pairs of ``via``: edges, plus source outputs there."""
    pairs = {(v["txid"], v["address"].lower()) for v in via}
    got = sum(e["amount"] for e in doc["edges"] if (e["txid"], (e["to"] or "").lower()) in pairs)
    return got + sum(s.get("amount", 0) for s in exp["source"]
                     if (s.get("txid"), str(s.get("address", "")).lower()) in pairs)


# every typology at every level with one seed, and the hardest level (mixers, CoinJoins, bridges) with another
CASES = [(t, d, 5) for t in TYPOLOGIES for d in (1, 2, 3)] + [(t, 3, 11) for t in TYPOLOGIES]


@pytest.mark.parametrize(("typology", "difficulty", "seed"), CASES)
def test_trace_from_case_start_reaches_the_expected_endpoints(tmp_path: Path, typology: str, difficulty: int,
                                                               seed: int) -> None:
    ws, key = _open(tmp_path, typology, difficulty, seed)
    exps = key.answers["trace_expectations"]
    assert exps, "every case has a trace expectation"
    # a world with a bridge has the second trace, from the release on the other chain
    assert len(exps) == 1 + len({h.to_chain for h in key.hops})
    with ws:
        start = exps[0]
        parts = set(_source(start).split(","))
        if typology == "darknet_market":
            # the officer's payment is swept with other buyers' deposits: the start is the market's sweeps
            # into its escrow (every one of them pays an address of the market)
            assert {key.owner_of(s["address"], "btc") for s in start["source"]} == {
                key.owner_of(key.facts["victims"][0]["address"], "btc")}
        elif typology == "exchange_hack":
            # the stolen ether and the ether the stolen USDT was swapped into: the thieves' first address
            (thief,) = [s["address"] for s in start["source"]]
            theft = next(p for p in key.path if p.txid == key.facts["theft"]["txid"])
            assert key.owner_of(thief.lower(), "eth") == theft.to_entity
        else:       # the case's starting point as the brief gives it (the demo traces from the same place)
            assert parts == {ws.demo.start_source(st) for st in ws.demo.case_starts(key.facts)}
        for exp in exps:
            asset = None if exp["asset"] in ("BTC", "ETH") else exp["asset"]
            for pol in exp["policies"]:
                doc = ws.tracing.trace(_source(exp), "forward", pol, 200, 0, None, exp["chain"], asset=asset)
                prov = doc["provenance"]
                assert prov["conserved"] and not prov["limits_hit"], (exp["note"], pol, prov["limits_hit"])
                assert prov["totals"]["source_amount"] == exp["source_amount"], (exp["note"], pol)
                want_service: dict[str, int] = {}
                for ep in exp["endpoints"]:
                    got = _arrived(doc, exp, ep["via"])
                    assert got == ep["amount"], (typology, difficulty, exp["note"], pol, ep, got)
                    if ep["kind"] == "service":
                        a = ep["address"].lower()
                        want_service[a] = want_service.get(a, 0) + ep["amount"]
                stopped: dict[str, int] = {}
                for ep in doc["endpoints"]:
                    if ep["reason"] == "service":
                        a = ep["address"].lower()
                        stopped[a] = stopped.get(a, 0) + ep["amount"]
                if exp["closed"]:
                    # nothing diluted: the trace stops exactly at the expected services, with exactly their
                    # amounts; the rest is unspent or fees, as in the ledger
                    assert stopped == want_service, (typology, difficulty, exp["note"], pol)
                    unspent = sum(ep["amount"] for ep in doc["endpoints"]   # a world's data is complete
                                  if ep["reason"] in ("unspent_in_data", "balance_in_data"))
                    assert (unspent, prov["totals"]["fees"]) == (exp["unspent"], exp["fees"]), (exp["note"], pol)
                else:
                    # past a CoinJoin, diluted value may reach more services (and add to the expected ones)
                    assert all(stopped.get(a, 0) >= v for a, v in want_service.items()), (exp["note"], pol)
