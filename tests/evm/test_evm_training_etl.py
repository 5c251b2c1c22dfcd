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
    s = ws.ingest_etl(paths["eth"], chain="eth")
    assert s.blocks_new > 0 and s.traces == "etl" and s.first_height == 0
    kinds = ws.stats().chains["eth"]["transfers"]
    assert kinds["genesis"] > 0 and kinds["native"] > 0 and kinds["erc20"] > 0
    addrs = [a for (a,) in ws.store.db.execute("SELECT address FROM addresses WHERE chain = 'eth'").fetchall()]
    total = 0
    for a in addrs:
        bal = ws.show_address(a).balance
        assert isinstance(bal, dict)
        native = bal.get("native", 0)
        assert native >= 0, a
        if a != ZERO:   # the zero address is where tokens are minted from
            assert all(v >= 0 for k, v in bal.items() if k != "native"), (a, bal)
        total += native
    sums = dict(ws.store.db.execute("SELECT kind, sum(value)::HUGEINT FROM transfers GROUP BY kind").fetchall())
    assert total == sums["genesis"] - sums["burn"]
    ws.close()
