"""Training worlds write their EVM side as ethereum-etl CSVs (genesis allocations as 'genesis' traces): the
ETL importer must account for every wei - no address goes negative and the coin in all balances is the
genesis allocation minus what fees burned."""

from __future__ import annotations

from pathlib import Path

from chainsleuth.training import generate_world
from chainsleuth.workspace import Workspace

ZERO = "0x" + "0" * 40


def test_evm_training_world_etl_conserves_value(tmp_path: Path) -> None:
    world, _key = generate_world("ransomware", difficulty=1, seed=3, size=1500)
    paths = world.write(tmp_path / "world")
    ws = Workspace(tmp_path / "ws")
    s = ws.ingest.etl(paths["eth"], chain="eth")
    assert s.blocks_new > 0 and s.traces == "etl" and s.first_height == 0
    kinds = ws.queries.stats().chains["eth"]["transfers"]
    assert kinds["genesis"] > 0 and kinds["native"] > 0 and kinds["erc20"] > 0
    addrs = [a for (a,) in ws.store.db.execute("SELECT address FROM addresses WHERE chain = 'eth'").fetchall()]
    total = 0
    for a in addrs:
        bal = ws.queries.show_address(a).balance
        assert isinstance(bal, dict)
        native = bal.get("native", 0)
        assert native >= 0, a
        if a != ZERO:   # the zero address is where tokens are minted from
            assert all(v >= 0 for k, v in bal.items() if k != "native"), (a, bal)
        total += native
    sums = dict(ws.store.db.execute("SELECT kind, sum(value)::HUGEINT FROM transfers GROUP BY kind").fetchall())
    assert total == sums["genesis"] - sums["burn"]
    ws.close()


def _split(src: Path, dst: Path, cut: int) -> None:
    """Lay an export out as `ethereumetl export_all` does: <kind>/start_block=S/end_block=E/<kind>_S_E.csv.
    The last range ends at each file's own last block, so ranges differ between kinds: the reader must match
    files to the blocks file that covers them."""
    import csv

    for f in sorted(src.glob("*.csv")):
        kind = f.stem
        rows = list(csv.DictReader(f.read_text(encoding="utf-8").splitlines()))
        header = f.read_text(encoding="utf-8").splitlines()[0]
        if kind == "tokens":
            (dst / "tokens").mkdir(parents=True, exist_ok=True)
            (dst / "tokens" / "tokens.csv").write_text(f.read_text(encoding="utf-8"), encoding="utf-8")
            continue
        col = "number" if kind == "blocks" else "block_number"
        end = max(int(r[col]) for r in rows) if rows else cut
        for lo, hi in ((0, cut), (cut + 1, max(end, cut + 1))):
            part = [r for r in rows if lo <= int(r[col]) <= hi]
            d = dst / kind / f"start_block={lo:08d}" / f"end_block={hi:08d}"
            d.mkdir(parents=True, exist_ok=True)
            with (d / f"{kind}_{lo:08d}_{hi:08d}.csv").open("w", encoding="utf-8", newline="") as out:
                w = csv.DictWriter(out, fieldnames=header.split(","), lineterminator="\n")
                w.writeheader()
                w.writerows(part)


def test_evm_partitioned_export_agrees_with_one_file_set(tmp_path: Path) -> None:
    world, _key = generate_world("investment_scam", difficulty=1, seed=5, size=1200)
    paths = world.write(tmp_path / "world")
    _split(paths["eth"], tmp_path / "parts", cut=20)
    one, parts = Workspace(tmp_path / "one"), Workspace(tmp_path / "parts-ws")
    a = one.ingest.etl(paths["eth"], chain="eth")
    b = parts.ingest.etl(tmp_path / "parts", chain="eth")
    assert (a.blocks_new, a.txs_new, a.transfers_new) == (b.blocks_new, b.txs_new, b.transfers_new)
    q = ("SELECT x.block_number, x.tx_index, x.\"index\", x.kind, f.address, o.address, x.value::VARCHAR "
         "FROM transfers x LEFT JOIN addresses f ON f.chain = x.chain AND f.id = x.from_id "
         "LEFT JOIN addresses o ON o.chain = x.chain AND o.id = x.to_id")
    assert sorted(one.store.db.execute(q).fetchall(), key=str) == sorted(parts.store.db.execute(q).fetchall(), key=str)
    assert parts.store.runs.list("eth")[-1].blocks == b.blocks_new
    one.close()
    parts.close()
