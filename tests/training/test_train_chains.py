"""The written chains: Bitcoin parses with an independent parser and forms one chain; everything ingests
through the real adapters; every amount in the answer key is recomputed from the ingested data."""

from __future__ import annotations

import csv
import struct
from pathlib import Path

import pytest
from bitcoin.core import CBlock, CheckBlock, b2lx

from chainsleuth.core.chains import get_chain

MAGIC = get_chain("btc").btc_network.magic
GENESIS = get_chain("btc").btc_network.genesis_hash


def _blocks(blk: Path) -> list[CBlock]:
    data = blk.read_bytes()
    out, off = [], 0
    while off < len(data):
        assert data[off:off + 4] == MAGIC, f"bad magic at {off}"
        (n,) = struct.unpack_from("<I", data, off + 4)
        out.append(CBlock.deserialize(data[off + 8:off + 8 + n]))
        off += 8 + n
    return out


def test_bitcoin_output_parses_independently_and_forms_one_chain(written_worlds) -> None:
    for _t, (world, _key, d) in written_worlds.items():
        blocks = _blocks(d / "trainee" / "btc" / "blk00000.dat")
        assert b2lx(blocks[0].GetHash()) == GENESIS
        prev = None
        txids = []
        for b in blocks:
            CheckBlock(b, fCheckPoW=False, fCheckMerkleRoot=True, cur_time=2**32 - 1)
            if prev is not None:
                assert b2lx(b.hashPrevBlock) == prev
            prev = b2lx(b.GetHash())
            txids += [b2lx(tx.GetTxid()) for tx in b.vtx]
        # the txids the answer key uses, in block order (after the genesis coinbase)
        assert txids[1:] == [world.btc_txids[t] for b in world.btc.blocks for t in b]
        # every spent outpoint exists earlier in the chain
        seen = set()
        for b in blocks:
            for tx in b.vtx:
                if not tx.is_coinbase():
                    for i in tx.vin:
                        assert (b2lx(i.prevout.hash), i.prevout.n) in seen
                for n in range(len(tx.vout)):
                    seen.add((b2lx(tx.GetTxid()), n))


def _btc_paid(ws, txid: str, address: str) -> int:
    tx = ws.queries.show_tx(txid, chain="btc")
    return sum(o.value for o in tx.outputs if o.address == address)


def _eth_paid(ws, txid: str, address: str, asset: str, usdt: str) -> int:
    tx = ws.queries.show_tx(txid, chain="eth")
    want = "native" if asset == "ETH" else usdt
    return sum(x.value for x in tx.transfers if x.to and x.to.lower() == address
               and (x.asset == "native" if want == "native" else x.asset.lower() == want))


def test_every_world_ingests_and_the_key_matches_the_ingested_chain(written_worlds, ingested) -> None:
    for t, (world, key, _d) in written_worlds.items():
        ws = ingested[t]
        stats = ws.queries.stats().chains
        assert stats["btc"]["txs"] == world.btc.n_txs + 1          # + the genesis coinbase
        assert "eth" in stats
        usdt = next(world.evm.address(a) for a, lab in enumerate(world.evm.acct_label) if lab == "USDT")
        for c in key.cashouts:
            if c.chain == "btc":
                got = sum(_btc_paid(ws, x, c.address) for x in c.txids)
            else:
                got = sum(_eth_paid(ws, x, c.address, c.asset, usdt) for x in c.txids)
            assert got == c.amount, (t, c)
        for h in key.hops:
            if h.from_chain == "btc":
                assert _btc_paid(ws, h.from_txid, h.from_address) == h.amount_in
                assert _eth_paid(ws, h.to_txid, h.to_address, h.asset_out, usdt) == h.amount_out
            else:
                assert _btc_paid(ws, h.to_txid, h.to_address) == h.amount_out
        for f in key.facts.get("victims", []):
            if f.get("asset", "BTC") == "BTC":
                assert _btc_paid(ws, f["txid"], f["address"]) == f["amount"]
            else:
                assert _eth_paid(ws, f["txid"], f["address"], f["asset"], usdt) == f["amount"]


def test_every_tagged_address_is_in_the_chain_and_cashout_services_are_tagged(written_worlds, ingested) -> None:
    from chainsleuth.attribution.tagpack import read_tagpack

    for t, (_world, key, d) in written_worlds.items():
        pack = read_tagpack(d / "trainee" / "tags" / "training-tags.yaml")
        assert not [i for i in pack.issues if i.severity == "error"]
        addrs = pack.tags.column("identifier").to_pylist() if "identifier" in pack.tags.column_names else \
            pack.tags.column("address").to_pylist()
        tagged_entities = set()
        for a in addrs:
            tagged_entities.add(key.owner_of(a))
        for c in key.cashouts:
            assert c.entity in tagged_entities or key.entity_kind(c.entity) == "nested_exchange", (t, c.entity)


def test_ethereum_exports_are_consistent_without_our_reader(written_worlds) -> None:
    """Recompute EVM cash-outs from the CSV files alone (an independent reading of the exports)."""
    for t, (world, key, d) in written_worlds.items():
        e = d / "trainee" / "eth"
        tt = list(csv.DictReader((e / "token_transfers.csv").open()))
        tr = list(csv.DictReader((e / "transactions.csv").open()))
        traces = list(csv.DictReader((e / "traces.csv").open()))
        assert len(tr) == world.evm.n_txs
        hashes = {r["hash"] for r in tr}
        assert all(r["transaction_hash"] in hashes for r in tt)
        for c in key.cashouts:
            if c.chain != "eth":
                continue
            txs = set(c.txids)
            if c.asset == "USDT":
                got = sum(int(r["value"]) for r in tt if r["transaction_hash"] in txs and r["to_address"] == c.address)
            else:
                got = sum(int(r["value"]) for r in traces if r["transaction_hash"] in txs
                          and r["to_address"] == c.address and r["trace_type"] == "call")
            assert got == c.amount, (t, c)


@pytest.mark.parametrize("lang", ["en", "th", "ko"])
def test_written_brief_is_in_the_language(written_worlds, tmp_path: Path, lang: str) -> None:
    world, _key, _d = written_worlds["ransomware-3"]
    paths = world.write(tmp_path, lang=lang)
    text = paths["brief"].read_text(encoding="utf-8")
    marker = {"en": "Case brief", "th": "สรุปคดี", "ko": "사건 개요"}[lang]
    assert text.startswith(f"# {marker}")


def test_every_path_step_amount_is_on_the_ingested_chain(written_worlds, ingested) -> None:
    """A step between two entities carries exactly what the receiving entity got in that transaction (in
    that asset); a move inside one entity at most that (its change also returns to the entity)."""
    for t, (world, key, _d) in written_worlds.items():
        ws = ingested[t]
        usdt = next(world.evm.address(a) for a, lab in enumerate(world.evm.acct_label) if lab == "USDT")
        for p in key.path:
            tx = ws.queries.show_tx(p.txid, chain=p.chain)
            if p.chain == "btc":
                got = sum(o.value for o in tx.outputs if o.address and key.owners.get(f"btc:{o.address}") ==
                          p.to_entity)
            else:
                want = "native" if p.asset == "ETH" else usdt
                got = sum(x.value for x in tx.transfers if x.to and key.owners.get(f"eth:{x.to.lower()}") ==
                          p.to_entity and (x.asset == "native" if want == "native" else x.asset.lower() == want))
            if p.from_entity != p.to_entity:
                assert got == p.amount, (t, p)
            else:
                assert 0 < p.amount <= got, (t, p)


@pytest.mark.shared_data
def test_ethereum_export_columns_are_ethereum_etls(written_worlds, shared_data: Path) -> None:
    """Our CSV headers are the ones ethereum-etl writes (its own test expectations)."""
    res = shared_data / "ethereum-etl-tests" / "resources"
    expected = {
        "blocks": res / "test_export_blocks_job/blocks_with_transactions_and_withdrawals/expected_blocks.csv",
        "transactions": res / "test_export_blocks_job/blocks_with_transactions_and_withdrawals/"
                              "expected_transactions.csv",
        "receipts": res / "test_export_receipts_job/receipts_with_logs/expected_receipts.csv",
        "logs": res / "test_export_receipts_job/receipts_with_logs/expected_logs.csv",
        "token_transfers": res / "test_export_token_transfers_job/block_with_transfers/expected_token_transfers.csv",
        "traces": res / "test_export_traces_job/block_with_subtraces/expected_traces.csv",
        "tokens": res / "test_export_tokens_job/token_with_alternative_return_type/expected_tokens.csv",
    }
    _w, _k, d = written_worlds["exchange_hack-2"]
    for name, path in expected.items():
        ours = (d / "trainee" / "eth" / f"{name}.csv").read_text().splitlines()[0]
        assert ours == path.read_text().splitlines()[0], name


def test_every_actor_the_tagpack_names_is_in_the_actorpack(written_worlds) -> None:
    import yaml

    for t, (_w, _k, d) in written_worlds.items():
        tags = yaml.safe_load((d / "trainee" / "tags" / "training-tags.yaml").read_text())["tags"]
        actors = yaml.safe_load((d / "trainee" / "tags" / "training.actorpack.yaml").read_text())["actors"]
        ids = {a["id"] for a in actors}
        assert all(a["id"].isalnum() and a["id"].islower() for a in actors)     # GraphSense's normalised form
        assert {x["actor"] for x in tags} <= ids, t
