"""Writing a world to disk in the formats investigators' tools read.

Layout of ``out_dir``::

    trainee/                      what the trainee gets (no seed, no answers)
      btc/blk00000.dat            Bitcoin Core block files (mainnet magic), genesis first
      eth/blocks.csv ...          ethereum-etl exports: blocks, transactions, receipts, logs,
                                  token_transfers, traces, tokens (CSV, columns as ethereum-etl writes them)
      tags/training-tags.yaml     TagPack (GraphSense format) for the services an investigator would know
      tags/training.actorpack.yaml  ActorPack for the actors the TagPack names
      brief.md                    the case brief, in the chosen language
      questions.json              the exercise questions (ids, text, answer format, hint count)
      case.json                   typology, difficulty, language, chains, file list
    answer_key.json               the truth (never inside trainee/)

Everything is written in a fixed order with fixed formatting, so the same world gives the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chainsleuth.core.btc.builder import blk_files
from chainsleuth.core.chains import get_chain
from chainsleuth.training.ledger_evm import BLOCK_GAS_LIMIT, GAS_NATIVE, TRANSFER_TOPIC, EvmLedger

if TYPE_CHECKING:
    from chainsleuth.training.world import World

__all__ = ["ETL_FILES", "actorpack_yaml", "tagpack_yaml", "write_etl", "write_files", "write_world"]

ETL_FILES = ("blocks", "transactions", "receipts", "logs", "token_transfers", "traces", "tokens")
_EMPTY_UNCLES = "0x1dcc4de8dec75d7aab85b567b6ccd41ad312451b948a7413f0a142fd40d49347"
_ZERO_ADDR = "0x" + "0" * 40
_BLOOM = "0x" + "0" * 512
_HEADERS = {
    "blocks": "number,hash,parent_hash,nonce,sha3_uncles,logs_bloom,transactions_root,state_root,receipts_root,"
              "miner,difficulty,total_difficulty,size,extra_data,gas_limit,gas_used,timestamp,transaction_count,"
              "base_fee_per_gas,withdrawals_root,withdrawals",
    "transactions": "hash,nonce,block_hash,block_number,transaction_index,from_address,to_address,value,gas,"
                    "gas_price,input,block_timestamp,max_fee_per_gas,max_priority_fee_per_gas,transaction_type",
    "receipts": "transaction_hash,transaction_index,block_hash,block_number,cumulative_gas_used,gas_used,"
                "contract_address,root,status,effective_gas_price,l1_fee,l1_gas_used,l1_gas_price,l1_fee_scalar",
    "logs": "log_index,transaction_hash,transaction_index,block_hash,block_number,address,data,topics",
    "token_transfers": "token_address,from_address,to_address,value,transaction_hash,log_index,block_number",
    "traces": "block_number,transaction_hash,transaction_index,from_address,to_address,value,input,output,"
              "trace_type,call_type,reward_type,gas,gas_used,subtraces,trace_address,error,status,trace_id",
    "tokens": "address,symbol,name,decimals,total_supply,block_number",
}
#: ERC-20 contracts of the worlds: ledger label -> (symbol, name, decimals)
_TOKENS = {"USDT": ("USDT", "Tether USD (training)", 6)}


def write_files(directory: Path, files: dict[str, bytes]) -> list[Path]:
    """Write named files (e.g. the blk*.dat of :func:`~chainsleuth.core.btc.builder.blk_files`) into
    ``directory``, creating it; returns their paths in the order given."""
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for name, data in files.items():
        (directory / name).write_bytes(data)
        out.append(directory / name)
    return out


def write_world(world: World, out: Path, *, lang: str = "en") -> dict[str, Path]:
    from chainsleuth.training.exercises import brief_markdown, questions_json

    trainee = out / "trainee"
    (trainee / "btc").mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    net = get_chain("btc").btc_network
    assert net is not None
    for old in [*(trainee / "btc").glob("blk*.dat"), trainee / "answers.json"]:   # answers to an older world
        old.unlink(missing_ok=True)
    write_files(trainee / "btc", blk_files(world.btc_blocks, net))
    paths["btc"] = trainee / "btc"
    paths["eth"] = write_etl(world.evm, trainee / "eth")
    paths["tags"] = trainee / "tags" / "training-tags.yaml"
    paths["tags"].parent.mkdir(exist_ok=True)
    paths["tags"].write_text(tagpack_yaml(world), encoding="utf-8")
    paths["actors"] = trainee / "tags" / "training.actorpack.yaml"
    paths["actors"].write_text(actorpack_yaml(world), encoding="utf-8")
    paths["brief"] = trainee / "brief.md"
    paths["brief"].write_text(brief_markdown(world.key, lang), encoding="utf-8")
    paths["questions"] = trainee / "questions.json"
    paths["questions"].write_text(_dump(questions_json(world.key, lang)), encoding="utf-8")
    paths["case"] = trainee / "case.json"
    paths["case"].write_text(_dump({
        "typology": world.typology, "difficulty": world.difficulty, "lang": lang,
        "chains": {"btc": "btc/", "eth": "eth/"}, "tags": "tags/training-tags.yaml",
        "btc_blocks": len(world.btc_blocks), "btc_transactions": world.btc.n_txs,
        "eth_blocks": len(world.evm.blocks), "eth_transactions": world.evm.n_txs,
    }), encoding="utf-8")
    paths["answer_key"] = out / "answer_key.json"
    paths["answer_key"].write_text(_dump(world.key.to_json()), encoding="utf-8")
    paths["trainee"] = trainee
    return paths


def _dump(d: Any) -> str:
    return json.dumps(d, indent=1, ensure_ascii=False, sort_keys=False) + "\n"


def write_etl(evm: EvmLedger, d: Path) -> Path:
    """Write the EVM ledger as ethereum-etl CSV exports into ``d``."""
    d.mkdir(parents=True, exist_ok=True)
    bufs = {k: io.StringIO() for k in ETL_FILES}
    w = {k: csv.writer(bufs[k], lineterminator="\n") for k in ETL_FILES}
    for k in ETL_FILES:
        bufs[k].write(_HEADERS[k] + "\n")
    addr = evm.address
    for b, txs in enumerate(evm.blocks):
        bh = evm.block_hash(b)
        parent = evm.block_hash(b - 1) if b > 0 else "0x" + "0" * 64
        ts = evm.block_time[b]
        gas_used_block = sum(evm.txs[t].gas_used for t in txs)
        miner = addr(evm.block_miner[b]) if evm.block_miner[b] >= 0 else _ZERO_ADDR
        w["blocks"].writerow([b, bh, parent, "0x0000000000000000", _EMPTY_UNCLES, _BLOOM, _h(evm, b"txr", b),
                              _h(evm, b"state", b), _h(evm, b"rcpt", b), miner, 0, 0, 600 + 150 * len(txs), "0x",
                              BLOCK_GAS_LIMIT, gas_used_block, ts, len(txs), evm.block_base_fee[b] or "",
                              "", ""])
        if b == 0:
            for i, (a, wei) in enumerate(evm.genesis):
                w["traces"].writerow([0, "", "", "", addr(a), wei, "", "", "genesis", "", "", "", "", 0, "", "",
                                      1, f"genesis_0_{i}"])
        cum = 0
        log_index = 0
        for idx, t in enumerate(txs):
            tx = evm.txs[t]
            th = evm.tx_hash(t)
            base = evm.block_base_fee[b]
            w["transactions"].writerow([th, tx.nonce, bh, b, idx, addr(tx.sender), addr(tx.to), tx.value, tx.gas,
                                        tx.gas_price, tx.input, ts, tx.gas_price + 10**9, tx.gas_price - base, 2])
            cum += tx.gas_used
            w["receipts"].writerow([th, idx, bh, b, cum, tx.gas_used, "", "", 1, tx.gas_price, "", "", "", ""])
            for tok, f, to, v in tx.logs:
                fa = _ZERO_ADDR if f < 0 else addr(f)
                ta = _ZERO_ADDR if to < 0 else addr(to)
                topics = ",".join([TRANSFER_TOPIC, "0x" + fa[2:].rjust(64, "0"), "0x" + ta[2:].rjust(64, "0")])
                w["logs"].writerow([log_index, th, idx, bh, b, addr(tok), "0x" + format(v, "064x"), topics])
                w["token_transfers"].writerow([addr(tok), fa, ta, v, th, log_index, b])
                log_index += 1
            top_gas = tx.gas - (GAS_NATIVE if tx.gas_used == GAS_NATIVE else 21_000)
            w["traces"].writerow([b, th, idx, addr(tx.sender), addr(tx.to), tx.value, tx.input, "0x", "call", "call",
                                  "", top_gas, tx.gas_used - 21_000, len(tx.internal), "", "", 1, f"call_{th}_"])
            for k, (f, to, v) in enumerate(tx.internal):
                w["traces"].writerow([b, th, idx, addr(f), addr(to), v, "0x", "0x", "call", "call", "", 2300, 0, 0,
                                      str(k), "", 1, f"call_{th}_{k}"])
    for a, label in enumerate(evm.acct_label):
        if label in _TOKENS and evm.acct_contract[a]:
            sym, name, dec = _TOKENS[label]
            minted = [(tx.block, v) for tx in evm.txs for tok, f, _to, v in tx.logs if tok == a and f < 0]
            w["tokens"].writerow([addr(a), sym, name, dec, sum(v for _, v in minted),
                                  min((b for b, _ in minted), default=0)])
    for k in ETL_FILES:
        (d / f"{k}.csv").write_text(bufs[k].getvalue(), encoding="utf-8")
    return d


def _h(evm: EvmLedger, what: bytes, b: int) -> str:
    import hashlib

    return "0x" + hashlib.sha256(evm.salt + what + b.to_bytes(8, "little")).hexdigest()


def tagpack_yaml(world: World) -> str:
    """A TagPack for the services whose entity is ``tagged``: what an investigator's tag sources would hold.

    Exchanges are tagged on their hot and cold wallets (never on customer deposit addresses, which an
    investigator finds by clustering); mixers and CoinJoin coordinators on the addresses they publish or
    that public reports name; contracts (DEX, pools, bridge, token) by address. Coverage is partial by
    design (see the difficulty levels in :mod:`chainsleuth.training.typologies`).
    """
    key = world.key
    lines = [
        "title: Training world tags",
        "creator: chainsleuth training",
        "description: Tags an investigator would have for this case's services; partial by design.",
        "lastmod: " + _date(world.btc.block_time[-1]),
        "confidence: service_data",
        "tags:",
    ]
    ents = {e.id: e for e in world.entities}
    btc_tag = _btc_tagged_addresses(world)
    for a in btc_tag:
        e = ents[key.owners[f"btc:{world.btc_addresses[a]}"]]
        lines += _tag(world.btc_addresses[a], "BTC", e.name, e.category, e.name)
    for a, owner in enumerate(world.evm.acct_owner):
        e = world.entities[owner]
        if not e.tagged:
            continue
        label = world.evm.acct_label[a]
        if label in ("hot wallet", "USDT", "DEX pair", "bridge", "OTC desk") or label.endswith("ETH pool"):
            lines += _tag(world.evm.address(a), "ETH", f"{e.name} {label}".strip(), e.category, e.name)
    return "\n".join(lines) + "\n"


def actorpack_yaml(world: World) -> str:
    """An ActorPack (GraphSense format) for the actors the TagPack names, so their ids resolve."""
    lines = [
        "title: Training world actors",
        "creator: chainsleuth training",
        "description: The services of this training case (fictional).",
        "actors:",
    ]
    seen: set[str] = set()
    for e in world.entities:
        if not e.tagged:
            continue
        aid = _actor_id(e.name)
        if aid in seen:
            continue
        seen.add(aid)
        lines += [f"- id: {aid}", f"  label: {json.dumps(e.name)}", f"  uri: https://{aid}.example",
                  f"  lastmod: {_date(world.btc.block_time[-1])}", "  categories:", f"  - {e.category}"]
    return "\n".join(lines) + "\n"


def _actor_id(name: str) -> str:
    """GraphSense's normalised actor id: lowercase letters and digits only ("Orca Exchange" -> orcaexchange)."""
    return re.sub(r"[^a-z0-9]+", "", name.lower())


def _btc_tagged_addresses(world: World) -> list[int]:
    """Ledger ids of tagged Bitcoin addresses: exchange hot/cold wallets, coordinator fee addresses, the
    bridge's wallet, mining pools' payout addresses and any perpetrator address a public report names."""
    btc = world.btc
    out = []
    kinds_tagged = {"exchange", "coinjoin", "bridge", "mining_pool", "mixer", "payment_processor", "sanctioned",
                    "otc"}
    seen_entity: dict[int, int] = {}
    for a, owner in enumerate(btc.addr_owner):
        e = world.entities[owner]
        if not e.tagged or e.kind not in kinds_tagged:
            continue
        role = btc.addr_role[a]
        if e.kind == "exchange" and role not in ("hot", "cold"):
            continue
        if e.kind == "sanctioned" and role != "listed":
            continue
        if e.kind in ("mixer", "payment_processor") and seen_entity.get(owner, 0) >= 3:
            continue
        seen_entity[owner] = seen_entity.get(owner, 0) + 1
        out.append(a)
    return out


def _tag(address: str, currency: str, label: str, category: str, entity: str) -> list[str]:
    actor = _actor_id(entity)
    return [f"- address: '{address}'", f"  currency: {currency}", f"  network: {currency}",
            f"  label: {json.dumps(label)}", f"  actor: {actor}",
            f"  category: {category}", "  source: https://example.org/chainsleuth-training"]


def _date(ts: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(ts, dt.UTC).strftime("%Y-%m-%d")
