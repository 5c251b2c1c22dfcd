"""Attribution: tags imported, listed, added and exported; tags a cluster inherits; screening."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from chainsleuth import __version__
from chainsleuth.core.chains import CHAINS, Model, get_chain
from chainsleuth.core.progress import Progress
from chainsleuth.errors import (
    InvalidInput,
    NotFound,
    ParseError,
)
from chainsleuth.store import Store

__all__ = ["AttributionService"]


class AttributionService:
    """Tags with their provenance: import, list, add, export; cluster propagation; screening.

    Parameters
    ----------
    store : callable returning Store
        The workspace's store, opened on first use.
    progress : Progress
        Where imports report, and where conflicting cluster attributions are noted.
    workspace_name : str
        Named in the description of exported packs.
    """

    def __init__(self, store: Callable[[], Store], progress: Progress, *, workspace_name: str) -> None:
        self._store = store
        self._progress = progress
        self._workspace_name = workspace_name

    def import_tags(self, paths: Sequence[str | Path], *, tlp: str | None = None,
                    max_bytes: int | None = None, workers: int | None = None) -> dict[str, Any]:
        """Import tag files or directories (TagPack .yaml[.gz], ActorPacks, OFAC lists, Etherscan labels,
        tag CSV). Each pack is one transaction; a pack already stored (same name and content) is skipped
        unparsed; a bad pack raises before anything of it is written (packs before it stay imported).
        With ``workers > 1`` packs are parsed ahead in that many spawned processes while earlier ones are
        stored (the calling program must then be safe to import, as for any multiprocessing use)."""
        import os

        from chainsleuth.attribution import TLP_LEVELS, detect_importer
        from chainsleuth.attribution.importers import discover_named, parse_files
        from chainsleuth.attribution.safety import MAX_PACK_BYTES, pack_identity

        if tlp is not None and tlp not in TLP_LEVELS:
            raise InvalidInput(f"unknown TLP level {tlp!r}; allowed: {', '.join(TLP_LEVELS)}", field="--tlp",
                               value=tlp)
        t0 = time.perf_counter()
        named = discover_named([Path(p) for p in paths])
        files = [f for f, _ in named]
        names = dict(named)
        limit = max_bytes or MAX_PACK_BYTES
        store = self._store()
        counts = {"new": 0, "unchanged": 0, "replaced": 0}
        packs: list[dict[str, Any]] = []
        warnings: list[dict[str, Any]] = []
        jobs: list[tuple[Path, str]] = []
        for f in files:
            kind = detect_importer(f)
            ident = pack_identity(f, limit)  # streamed: nothing of the file is kept
            same = store.tags.pack_with_hash(ident.content_hash)
            if same is not None:  # same name and content already stored: nothing to parse or write
                counts["unchanged"] += 1
                packs.append({"uri": names[f], "sha256": ident.sha256, "kind": kind, "status": "unchanged",
                              "same_as": same})
            else:
                jobs.append((f, kind))
        workers = 1 if workers is None else max(1, min(int(workers), os.cpu_count() or 1))
        run_id = store.tags.start_run(";".join(str(p) for p in paths), __version__)
        self._progress.start("import tags", total=len(jobs), unit="files")
        with store.tags.deferred_checkpoint():
            tags_new = self._store_packs(parse_files(jobs, max_bytes=limit, tlp=tlp, workers=workers), names,
                                         run_id, counts, packs, warnings)
        self._progress.finish()
        store.tags.finish_run(run_id, new=counts["new"], unchanged=counts["unchanged"], replaced=counts["replaced"],
                              tags=tags_new)
        return {"run_id": run_id, "files": len(files), "packs_new": counts["new"],
                "packs_unchanged": counts["unchanged"], "packs_replaced": counts["replaced"], "tags_new": tags_new,
                "tags_total": store.tags.count(), "packs": packs, "warnings": warnings,
                "seconds": round(time.perf_counter() - t0, 3)}

    def _store_packs(self, parsed_packs: Any, names: dict[Path, str], run_id: int, counts: dict[str, int],
                     packs: list[dict[str, Any]], warnings: list[dict[str, Any]]) -> int:
        from chainsleuth.attribution import ParsedActorPack

        store = self._store()
        tags_new = 0
        for f, parsed in parsed_packs:
            if isinstance(parsed, ParsedActorPack):
                status = store.tags.import_actors(parsed.actors, pack_uri=names[f], content_hash=parsed.content_hash,
                                                  sha256=parsed.sha256)
                counts[status] += 1
                packs.append({"uri": names[f], "sha256": parsed.sha256, "kind": "actorpack", "status": status, "tags": 0,
                              "actors": parsed.actors.num_rows, "warnings": len(parsed.issues)})
            else:
                r = store.tags.import_pack(parsed.tags, uri=names[f], sha256=parsed.sha256,
                                           content_hash=parsed.content_hash,
                                           kind=parsed.kind, title=parsed.title, creator=parsed.creator,
                                           description=parsed.description, is_public=parsed.is_public,
                                           run_id=run_id, duplicates_merged=parsed.duplicates_merged,
                                           warnings=len(parsed.issues))
                counts[r.status] += 1
                tags_new += r.tags if r.status != "unchanged" else 0
                packs.append({"uri": names[f], "sha256": parsed.sha256, "kind": parsed.kind, "status": r.status, "tags": r.tags,
                              "duplicates_merged": parsed.duplicates_merged, "warnings": len(parsed.issues),
                              "same_as": r.same_as})
            warnings += [i.to_dict() for i in parsed.issues]
            self._progress.advance(1, tags=tags_new)
        return tags_new

    @staticmethod
    def _tag_dict(t: dict[str, Any], inherited_via: str | None = None) -> dict[str, Any]:
        return {"label": t["label"], "category": t.get("category") or t.get("abuse"), "abuse": t.get("abuse"),
                "concepts": list(t.get("concepts") or []), "actor": t.get("actor"),
                "actor_label": t.get("actor_label"), "source": t["source"], "creator": t["creator"],
                "confidence": t.get("confidence"), "confidence_level": t.get("confidence_level"),
                "lastmod": t.get("lastmod"), "pack_uri": t.get("pack_uri"), "pack_sha256": t.get("pack_sha256"),
                "tlp": t.get("tlp"),
                "is_cluster_definer": bool(t.get("is_cluster_definer")), "origin": t.get("origin"),
                "chain": t.get("chain"), "context": t.get("context"), "inherited_via": inherited_via}

    @staticmethod
    def _tag_identifier(address: str) -> str:
        from chainsleuth.attribution.addresses import normalise_address

        a = address.strip()
        if len(a.removeprefix("0x")) == 64 and all(c in "0123456789abcdefABCDEF" for c in a.removeprefix("0x")):
            return a.lower()  # a transaction hash
        return normalise_address("", a)

    def list_tags(self, address: str, *, chain: str | None = None) -> list[dict[str, Any]]:
        """Every tag of an address (or tx hash), strongest first, with provenance; plus the tags its cluster
        inherits from other members when the address is clustered."""
        ident = self._tag_identifier(address)
        c = get_chain(chain).name if chain and chain in CHAINS else chain
        store = self._store()
        tags = [self._tag_dict(t) for t in store.tags.tags_for(ident, c)]
        for ch in ([c] if c else store.utxo.find_address_chains(ident)):  # inherited via a cluster
            tags += self._cluster_tags_of_address(ch, ident)
        return tags

    def address_tags(self, chain: str, address: str) -> list[dict[str, Any]]:
        """An address's own tags on ``chain`` and those its cluster inherits (as ``show address`` lists them)."""
        ident = self._tag_identifier(address)
        return [self._tag_dict(t) for t in self._store().tags.tags_for(ident, chain)] + \
            self._cluster_tags_of_address(chain, ident)

    def _cluster_tags_of_address(self, chain: str, ident: str) -> list[dict[str, Any]]:
        if chain not in CHAINS:  # any clustered chain (co-spend or deposit-address)
            return []
        store = self._store()
        aid = store.utxo.address_id(chain, ident)
        cid = None if aid is None else store.clusters.cluster_of(chain, aid)
        if cid is None:
            return []
        return [t for t in self.cluster_tags(chain, cid) if t["inherited_via"] != ident]

    def cluster_tags(self, chain: str, cluster_id: int, set_id: int | None = None) -> list[dict[str, Any]]:
        """Tags a cluster inherits from its members (cluster definers of strong confidence), each marked
        ``inherited_via`` the member; conflicting entities add a ``warnings`` entry to each tag."""
        from chainsleuth.attribution import STRONG_CONFIDENCE, entity_of, propagate_cluster_tags

        store = self._store()
        cset = store.clusters.get_set(chain, set_id)  # default: the chain's active cluster set
        if cset is None:
            return []
        table = store.tags.cluster_member_tags(chain, int(cset["set_id"]), cluster_id,
                                                    min_level=STRONG_CONFIDENCE)
        if table.num_rows == 0:
            return []
        rows = table.to_pylist()
        r = propagate_cluster_tags(
            member=np.array([t["address_id"] for t in rows], dtype=np.int64),
            is_cluster_definer=np.array([bool(t["is_cluster_definer"]) for t in rows]),
            confidence_level=np.array([-1 if t["confidence_level"] is None else t["confidence_level"] for t in rows]),
            entity=[entity_of(t["actor"], t["label"]) for t in rows])
        notes = [e.summary for e in r.conflicts]
        for n in notes:
            self._progress.note(f"cluster {cluster_id} on {chain}: {n}")
        out = []
        for i in r.selected.tolist():
            d = self._tag_dict(rows[i], inherited_via=rows[i]["identifier"])
            if notes:
                d["warnings"] = notes
            out.append(d)
        return out

    def add_tag(self, address: str, *, label: str, source: str, confidence: str, creator: str,
                chain: str | None = None, category: str | None = None, abuse: str | None = None,
                actor: str | None = None, concepts: Sequence[str] = (), tlp: str = "amber",
                is_cluster_definer: bool = False, context: str | None = None, lastmod: int | None = None,
                tx: bool = False) -> dict[str, Any]:
        """An investigator's tag, validated against the taxonomy like an imported one. A tag with the same
        chain, address, label and source from the same creator is replaced, not doubled."""
        from chainsleuth.attribution import TLP_LEVELS, Taxonomy
        from chainsleuth.attribution.addresses import CHAIN_CURRENCY, chain_for
        from chainsleuth.attribution.tagpack import build_pack

        if tlp not in TLP_LEVELS:
            raise InvalidInput(f"unknown TLP level {tlp!r}; allowed: {', '.join(TLP_LEVELS)}", field="--tlp",
                               value=tlp)
        if chain is None:
            guess = chain_for(None, None, address.strip())
            if guess == "unknown":
                raise InvalidInput(f"cannot tell the chain of {address!r}; pass --chain", field="--chain",
                                   value=address)
            chain = guess
        currency = CHAIN_CURRENCY.get(chain, chain.upper())
        fields: dict[str, Any] = {("tx_hash" if tx else "address"): address, "label": label, "source": source,
                                  "confidence": confidence, "currency": currency, "network": currency,
                                  "is_cluster_definer": is_cluster_definer}
        for k, v in (("category", category), ("abuse", abuse), ("actor", actor), ("context", context)):
            if v:
                fields[k] = v
        if concepts:
            fields["concepts"] = list(concepts)
        when = int(time.time()) if lastmod is None else lastmod
        import datetime as _dt

        fields["lastmod"] = _dt.datetime.fromtimestamp(when, _dt.UTC).replace(tzinfo=None)
        try:
            pk = build_pack({"title": "investigator tag", "creator": creator}, [(1, fields)], kind="investigator",
                            file="tags add", uri=f"investigator:{creator}", content_hash="",
                            taxonomy=Taxonomy.packaged(), tlp=tlp)
        except InvalidInput as e:   # name the option, not the internal pack line ("tags add:1: field 'x' ...")
            fld = e.details.get("field")
            msg = e.message.removeprefix(f"tags add:1: field '{fld}' " if fld else "tags add:1: ")
            msg = msg.removeprefix("tags add:1: ")
            raise InvalidInput(f"--{fld}: {msg}" if fld else msg, field=f"--{fld}" if fld else None,
                               value=e.details.get("value")) from None
        if pk.tags["chain"][0].as_py() != chain:  # an explicit chain wins over the currency mapping
            import dataclasses as _dc

            import pyarrow as _pa

            pk = _dc.replace(pk, tags=pk.tags.set_column(0, "chain", _pa.array([chain], type=_pa.string())))
        store = self._store()
        ids = store.tags.add_investigator_tags(pk.tags, creator=creator)
        tags = [t for t in store.tags.tags_for(pk.tags["identifier"][0].as_py(), chain)
                if t["tag_id"] in ids]
        return {"tag_id": ids[0] if ids else None, "tag": self._tag_dict(tags[0]) if tags else None,
                "warnings": [i.to_dict() for i in pk.issues if i.field != "actor"]}

    def export_tags(self, out: str | Path | None = None, *, all_tags: bool = False, pack: str | None = None,
                    max_tlp: str = "amber", title: str | None = None, creator: str | None = None) -> str:
        """Investigator tags (or all, or one pack's) as TagPack YAML; written to ``out`` when given. Tags
        above ``max_tlp`` (default amber: red tags stay in the workspace) are left out."""
        from chainsleuth.attribution import tagpack_yaml

        table = self._store().tags.export_table(origin=None if (all_tags or pack) else "investigator", pack_uri=pack)
        rows = table.to_pylist()
        creators = sorted({r["creator"] for r in rows})
        text = tagpack_yaml(rows, title=title or ("chainsleuth tags" + (f" of {pack}" if pack else "")),
                            creator=creator or (", ".join(creators) if creators else "chainsleuth"),
                            description=f"Exported from workspace {self._workspace_name}", max_tlp=max_tlp)
        if out is not None:
            try:
                Path(out).write_text(text, encoding="utf-8")
            except OSError as e:
                raise InvalidInput(f"cannot write {out}: {e.strerror or e}", file=str(out), field="--out") from None
        return text

    def screen(self, source: str | Path | Sequence[str]) -> dict[str, Any]:
        """Screen a list of addresses (a file: one address a line, optionally 'chain,address' or a CSV with an
        'address' column; or a list): hits (tags on the address itself) and direct exposure (value exchanged
        with tagged counterparties, by category) from the workspace's chain data."""
        from chainsleuth.attribution import direct_exposure, hit_record
        from chainsleuth.attribution.screening import entry_problem

        store = self._store()
        entries = self._screen_entries(source)
        idents = sorted({self._tag_identifier(a) for _, a in entries})
        hits_table = store.tags.tags_table(idents) if idents else None
        by_ident: dict[str, list[dict[str, Any]]] = {}
        for t in (hits_table.to_pylist() if hits_table is not None else []):
            by_ident.setdefault(t["identifier"], []).append(t)
        exposure: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for chain in store.utxo.chains() + store.account.chains():
            model = get_chain(chain).model if chain in CHAINS else Model.UTXO
            ids = store.tags.address_ids(chain, idents)
            if not ids:
                continue
            flows = (store.tags.utxo_counterparties(chain, list(ids.values())) if model is Model.UTXO
                     else store.tags.account_counterparties(chain, list(ids.values())))
            cps = sorted(set(flows["counterparty"].to_pylist())) if flows.num_rows else []
            cp_tags: dict[str, list[dict[str, Any]]] = {}
            if cps:
                for t in store.tags.tags_table(cps, chain).to_pylist():
                    cp_tags.setdefault(t["identifier"], []).append(t)
            exp = direct_exposure(flows, cp_tags)
            back = {v: k for k, v in ids.items()}
            for aid, entries_ in exp.items():
                exposure[(chain, back[aid])] = entries_
            for ident in ids:
                exposure.setdefault((chain, ident), [])
        results = []
        n_hit = 0
        for asked, raw in entries:   # the chain the list names for the address, if any
            ident = self._tag_identifier(raw)
            hits = [hit_record(t) for t in by_ident.get(ident, []) if asked is None or t["chain"] == asked]
            n_hit += bool(hits)
            exp_entries = [dict(e, chain=ch) for (ch, a), es in exposure.items() if a == ident
                           and (asked is None or ch == asked) for e in es]
            in_ws = [ch for (ch, a) in exposure if a == ident and (asked is None or ch == asked)]
            # not an address at all: reported as invalid, not counted as screened (unless tags or chain
            # data know the text, as a pack may tag a malformed address)
            problem = None if hits or in_ws else entry_problem(asked, raw)
            results.append({"address": raw, "chain": asked, "valid": problem is None, "problem": problem,
                            "hits": hits, "exposure": exp_entries, "in_workspace": in_ws})
        invalid = sum(1 for r in results if not r["valid"])
        return {"screened": len(entries) - invalid, "invalid": invalid, "with_hits": n_hit,
                "with_exposure": sum(1 for r in results if r["exposure"]), "results": results}

    @staticmethod
    def _screen_entries(source: str | Path | Sequence[str]) -> list[tuple[str | None, str]]:
        import csv as _csv
        import io as _io

        if isinstance(source, (str, Path)):
            p = Path(source)
            if p.is_dir():
                raise InvalidInput(f"{p} is a directory; give a file of addresses (one a line, or a CSV with an "
                                   "'address' column)", file=str(p))
            if not p.is_file():
                raise NotFound(f"{p}: no such file", file=str(p))
            try:
                text = p.read_text(encoding="utf-8-sig")
            except UnicodeDecodeError as e:
                raise ParseError(f"{p} is not a text file of addresses (byte {e.start} is not UTF-8)", file=p,
                                 offset=e.start) from None
            lines = text.splitlines()
            first = lines[0].lower() if lines else ""
            if "address" in [c.strip() for c in first.split(",")]:
                rows = list(_csv.DictReader(_io.StringIO(text)))
                return [((r.get("chain") or "").strip() or None, r["address"].strip()) for r in rows
                        if (r.get("address") or "").strip()]
        else:
            lines = list(source)
        out: list[tuple[str | None, str]] = []
        for i, ln in enumerate(lines, start=1):
            s = ln.strip()
            if not s or s.startswith("#"):
                continue
            parts = [x for x in s.replace(",", " ").split() if x]
            if len(parts) == 1:
                out.append((None, parts[0]))
            elif len(parts) == 2:
                out.append((parts[0].lower(), parts[1]))
            else:
                raise InvalidInput(f"line {i}: expected 'ADDRESS' or 'CHAIN,ADDRESS', got {s!r}", line=i, value=s)
        return out
