"""``chainsleuth tags import|list|add|export`` and ``chainsleuth screen``: attribution tags."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from chainsleuth.cli.console import coin, err_console, out_console, print_json, print_kv, safe
from chainsleuth.cli.context import open_workspace

__all__ = ["app", "screen"]

app = typer.Typer(help="Attribution tags: import TagPacks and lists, look up, add, export.", no_args_is_help=True)

#: Warnings listed by ``tags import`` without ``--warnings``.
_WARNINGS_SHOWN = 5

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
ChainOpt = Annotated[str | None, typer.Option(help="Chain (btc, eth, ...); default: every chain it is tagged on.")]


@app.command("import")
def import_(
    paths: Annotated[list[Path], typer.Argument(help="TagPack .yaml/.yaml.gz files, ActorPacks, OFAC "
                                                     "sanctioned_addresses_<ASSET>.txt, Etherscan label .json[.gz]/.csv, "
                                                     "tag .csv (address,label,category,source,confidence), or directories.")],
    tlp: Annotated[str | None, typer.Option(help="Sharing level for the imported tags: clear, green, amber, "
                                                 "amber+strict, red (default: from the pack; amber).")] = None,
    warnings: Annotated[bool, typer.Option("--warnings", help="List every data flaw found (default: the first "
                                                              f"{_WARNINGS_SHOWN} and a count of the rest).")] = False,
    workers: Annotated[int, typer.Option(help="Processes parsing packs ahead while earlier ones are stored.")] = 1,
    json_: JsonOpt = False,
) -> None:
    """Import tags. Each pack is one transaction; re-importing the same pack changes nothing.

    Example: chainsleuth tags import ./graphsense-tagpacks/packs/"""
    with open_workspace() as ws:
        r = ws.attribution.import_tags(paths, tlp=tlp, workers=workers)
    if json_:
        print_json(r)
        return
    print_kv("tags imported", [(k, r[k]) for k in ("files", "packs_new", "packs_replaced", "packs_unchanged",
                                                   "tags_new", "tags_total", "seconds")])
    for p in r["packs"]:
        w = p.get("warnings") or 0
        out_console.print(f"  {p['status']:<9} {p.get('tags', 0):>7} tags  {w:>4} warnings  {safe(p['uri'])}")
    # the reasons by default (the first few, then a count); counts of tags without an actor come last
    ordered = sorted(r["warnings"], key=lambda w: w.get("field") == "actor")
    shown = ordered if warnings else ordered[:_WARNINGS_SHOWN]
    for w in shown:
        line = f":{w['line']}" if w.get("line") else ""
        v = w.get("value")
        value = f" ({safe(v)})" if v is not None and str(v) not in w["message"] else ""
        out_console.print(f"  warning {safe(w['file'])}{line} {safe(w.get('field') or '')}: {safe(w['message'])}"
                          f"{value}")
    if len(shown) < len(r["warnings"]):
        out_console.print(f"  ... and {len(r['warnings']) - len(shown):,} more warning(s) (--warnings lists them all)")


@app.command("list")
def list_(addr: Annotated[str, typer.Argument(help="Address (any case for EVM) or tx hash.")],
          chain: ChainOpt = None, json_: JsonOpt = False) -> None:
    """Every tag of an address with its source, creator, confidence and pack (and cluster-inherited ones).

    Example: chainsleuth tags list 12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S"""
    with open_workspace(read_only=True) as ws:
        tags = ws.attribution.list_tags(addr, chain=chain)
    if json_:
        print_json({"address": addr, "tags": tags})
        return
    if not tags:
        out_console.print(f"no tags for {safe(addr)}")
    for t in tags:
        _print_tag(t)


@app.command("add")
def add(
    addr: Annotated[str, typer.Argument(help="Address (or tx hash with --tx).")],
    label: Annotated[str, typer.Option(help="What the address is, e.g. 'Kraken deposit'.")],
    source: Annotated[str, typer.Option(help="Where the attribution comes from (URL, case file, request no.).")],
    confidence: Annotated[str, typer.Option(help="Confidence id: ownership, manual_transaction, "
                                                 "forensic_investigation, authority_data, service_data, forensic, "
                                                 "web_crawl, heuristic, unknown, ...")],
    creator: Annotated[str, typer.Option(help="Who makes the tag (investigator or unit).")],
    category: Annotated[str | None, typer.Option(help="Concept, e.g. exchange, mixing_service, user.")] = None,
    abuse: Annotated[str | None, typer.Option(help="Abuse concept, e.g. ransomware, scam, sanction.")] = None,
    actor: Annotated[str | None, typer.Option(help="Actor id (ActorPack), e.g. binance.")] = None,
    chain: ChainOpt = None,
    tlp: Annotated[str, typer.Option(help="Sharing level: clear, green, amber, amber+strict, red.")] = "amber",
    cluster_definer: Annotated[bool, typer.Option("--cluster-definer", help="The tag describes the whole "
                                                                             "wallet (cluster).")] = False,
    context: Annotated[str | None, typer.Option(help="Free context (JSON text).")] = None,
    tx: Annotated[bool, typer.Option("--tx", help="ADDR is a transaction hash.")] = False,
    json_: JsonOpt = False,
) -> None:
    """Add an investigator tag (validated against the taxonomy); the same tag again replaces it.

    Example: chainsleuth tags add 12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S --label 'suspect wallet'
    --source 'case 2026-114' --confidence forensic_investigation --creator 'Unit 3'"""
    with open_workspace() as ws:
        r = ws.attribution.add_tag(addr, label=label, source=source, confidence=confidence, creator=creator,
                                   chain=chain, category=category, abuse=abuse, actor=actor, tlp=tlp,
                                   is_cluster_definer=cluster_definer, context=context, tx=tx)
    if json_:
        print_json(r)
    elif r["tag"]:
        _print_tag(r["tag"])


@app.command("export")
def export(
    out: Annotated[Path | None, typer.Option("--out", help="File to write (default: stdout).")] = None,
    all_: Annotated[bool, typer.Option("--all", help="Every tag, not only investigator-made ones.")] = False,
    pack: Annotated[str | None, typer.Option(help="Only the tags of this pack URI.")] = None,
    max_tlp: Annotated[str, typer.Option(help="Leave out tags above this sharing level.")] = "amber",
    title: Annotated[str | None, typer.Option(help="TagPack title.")] = None,
    creator: Annotated[str | None, typer.Option(help="TagPack creator.")] = None,
) -> None:
    """Export tags as a TagPack (YAML) to share with partners; importing it again gives the same tags.

    Example: chainsleuth tags export --out shared.yaml --max-tlp green"""
    with open_workspace(read_only=True) as ws:
        text = ws.attribution.export_tags(out, all_tags=all_, pack=pack, max_tlp=max_tlp, title=title, creator=creator)
    if out is None:
        sys.stdout.write(text)
    else:
        n = sum(1 for line in text.splitlines() if line.startswith("- "))
        err_console.print(f"wrote {n} tag(s) to {safe(out)}")


def screen(
    file: Annotated[Path, typer.Argument(help="Addresses to screen: one a line ('ADDRESS' or 'CHAIN,ADDRESS'), "
                                              "or a CSV with an 'address' column.")],
    json_: JsonOpt = False,
) -> None:
    """Screen addresses: tags on each (hits) and direct exposure to tagged categories in the workspace data.

    Example: chainsleuth screen suspects.csv"""
    with open_workspace(read_only=True) as ws:
        r = ws.attribution.screen(file)
    if json_:
        print_json(r)
        return
    print_kv("screening", [("screened", r["screened"]), ("invalid", r["invalid"]), ("with hits", r["with_hits"]),
                           ("with exposure", r["with_exposure"])])
    for res in r["results"]:
        if res.get("problem"):
            out_console.print(f"[bold]{safe(res['address'])}[/]  invalid, not screened: {safe(res['problem'])}")
            continue
        if not res["hits"] and not res["exposure"]:
            continue
        out_console.print(f"[bold]{safe(res['address'])}[/]")
        for h in res["hits"]:
            out_console.print(f"  hit   {safe(h['category'] or '-'):<16} {safe(h['entity'] or '-'):<28} "
                              f"{safe(h['confidence'])}({h['confidence_level']})  {safe(h['source'])}")
        for e in res["exposure"]:
            out_console.print(f"  {e['direction']:<8} {safe(e['category']):<16} {_exposure_amount(e['amount'], e['chain'])}  "
                              f"{e['counterparties']} counterparties, {e['txs']} txs ({safe(e['chain'])})")


def _exposure_amount(a: Any, chain: str) -> str:
    """One amount of the chain's coin, or amounts per asset (account chains: native and tokens)."""
    if isinstance(a, dict):
        return ", ".join(coin(v, chain, str(k)) for k, v in a.items())
    return coin(a, chain)


def _print_tag(t: dict[str, Any]) -> None:
    """Every value is data (from a pack anyone may have written): each goes through ``safe``."""
    via = f"  via cluster member {safe(t['inherited_via'])}" if t.get("inherited_via") else ""
    sha = f" sha256={t['pack_sha256']}" if t.get("pack_sha256") else ""
    out_console.print(
        f"{safe(t['label'])}  \\[{safe(t.get('category') or '-')}]  actor={safe(t.get('actor') or '-')}  "
        f"confidence={safe(t.get('confidence'))}({t.get('confidence_level')})  tlp={safe(t.get('tlp'))}{via}\n"
        f"    source={safe(t['source'])}  creator={safe(t['creator'])}  pack={safe(t.get('pack_uri'))}{sha}")
