"""Every typology at every difficulty for several seeds; determinism; the answer key's consistency."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import pytest

from chainsleuth.errors import InvalidInput, NotFound
from chainsleuth.training import LEVELS, TYPOLOGIES, AnswerKey, generate_world

SEEDS = (1, 2)

_spec = importlib.util.spec_from_file_location("_invariants", Path(__file__).with_name("_invariants.py"))
assert _spec is not None and _spec.loader is not None
_inv = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_inv)
check_world = _inv.check_world


@pytest.mark.parametrize("typology", TYPOLOGIES.names())
@pytest.mark.parametrize("difficulty", sorted(LEVELS))
def test_every_typology_generates_at_every_difficulty(typology: str, difficulty: int) -> None:
    for seed in SEEDS:
        world, key = generate_world(typology, difficulty, seed, size=150)
        assert key.typology == typology and key.difficulty == difficulty
        assert check_world(world) == [], (typology, difficulty, seed)
        assert key.cashouts, "proceeds must reach at least one cash-out"
        assert key.path and all(p.amount > 0 for p in key.path)
        txids = set(world.btc_txids) | {world.evm.tx_hash(t) for t in range(world.evm.n_txs)}
        for p in key.path:
            assert p.txid in txids
        for c in key.cashouts:
            assert key.owner_of(c.address, c.chain) == c.entity
            assert key.entity_kind(c.entity) in ("exchange", "otc", "nested_exchange")
            assert sum(1 for _ in c.txids) >= 1 and c.amount > 0
        for h in key.hops:
            assert h.from_chain != h.to_chain and h.amount_in > 0 and h.amount_out > 0
        assert bool(key.hops) == HOPS[typology](difficulty)
        mixer = (key.answers.get("mixer") or {}).get("types", ["none"])
        assert mixer == MIXING[typology][difficulty - 1]


#: which worlds cross chains, and what mixing each level uses (the design of the typologies)
HOPS = {"ransomware": lambda d: d == 3, "darknet_market": lambda d: d == 3, "investment_scam": lambda d: d == 3,
        "exchange_hack": lambda d: True, "sanctions_evasion": lambda d: False}
MIXING = {
    "ransomware": (["none"], ["custodial"], ["coinjoin-wasabi"]),
    "darknet_market": (["none"], ["custodial"], ["coinjoin-whirlpool"]),
    "investment_scam": (["none"], ["none"], ["none"]),
    "exchange_hack": (["none"], ["mixing-pool"], ["mixing-pool", "coinjoin-wasabi"]),
    "sanctions_evasion": (["none"], ["none"], ["coinjoin-joinmarket"]),
}


def _digest(d: Path) -> dict[str, str]:
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.rglob("*"))
            if p.is_file()}


@pytest.mark.parametrize("typology", ["ransomware", "exchange_hack"])
def test_same_seed_same_bytes_other_seed_other_world(typology: str, tmp_path: Path) -> None:
    a, _ = generate_world(typology, 2, 5, size=150)
    b, _ = generate_world(typology, 2, 5, size=150)
    c, _ = generate_world(typology, 2, 6, size=150)
    a.write(tmp_path / "a")
    b.write(tmp_path / "b")
    c.write(tmp_path / "c")
    da, db, dc = _digest(tmp_path / "a"), _digest(tmp_path / "b"), _digest(tmp_path / "c")
    assert da == db
    assert da.keys() == dc.keys()
    assert da["trainee/btc/blk00000.dat"] != dc["trainee/btc/blk00000.dat"]
    assert da["trainee/eth/transactions.csv"] != dc["trainee/eth/transactions.csv"]
    assert da["answer_key.json"] != dc["answer_key.json"]


def test_trainee_folder_holds_no_answers(tmp_path: Path) -> None:
    world, key = generate_world("ransomware", 1, 987_654_321, size=150)
    paths = world.write(tmp_path)
    assert paths["answer_key"].parent == tmp_path
    trainee_text = "".join(p.read_text(encoding="utf-8") for p in paths["trainee"].rglob("*.json")) + \
        paths["brief"].read_text(encoding="utf-8")
    assert "answer" not in (paths["trainee"] / "case.json").read_text()
    for c in key.cashouts:      # the cash-out deposit addresses are what the trainee must find
        assert c.address not in trainee_text
    assert "987654321" not in (paths["trainee"] / "case.json").read_text() + trainee_text


def test_answer_key_round_trips(tmp_path: Path) -> None:
    world, key = generate_world("darknet_market", 2, 4, size=150)
    world.write(tmp_path)
    back = AnswerKey.load(tmp_path)
    assert back.to_json() == key.to_json()
    some = next(iter(key.owners))
    chain, addr = some.split(":", 1)
    assert back.owner_of(addr, chain) == key.owners[some]
    assert back.owner_of(addr) == key.owners[some]
    with pytest.raises(NotFound):
        back.owner_of("bc1qnotinthisworld")
    assert set(back.addresses_of(key.cashouts[0].entity)) >= {key.cashouts[0].address}


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(InvalidInput, match="difficulty"):
        generate_world("ransomware", 4, 1)
    with pytest.raises(InvalidInput, match="unknown scenario typology"):
        generate_world("bank_robbery", 1, 1)
    with pytest.raises(InvalidInput, match="size"):
        generate_world("ransomware", 1, 1, size=10)


def test_ransomware_level_2_holds_thousands_of_background_transactions() -> None:
    world, key = generate_world("ransomware", 2, 21)
    crime = {p.txid for p in key.path}
    background = [t for t in world.btc_txids if t not in crime]
    assert len(background) >= 3000


def test_every_typology_is_documented() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "training.md").read_text(encoding="utf-8")
    for name in TYPOLOGIES:
        assert f"| `{name}` |" in doc, f"typology {name} missing from docs/training.md"


def test_output_does_not_depend_on_the_process(tmp_path: Path) -> None:
    """Another interpreter (another hash seed) writes the same bytes."""
    import subprocess
    import sys

    code = ("import sys; from chainsleuth.training import generate_world; "
            "w, _ = generate_world('sanctions_evasion', 3, 9, size=120); w.write(sys.argv[1])")
    for i, seed in enumerate(("1", "2")):
        subprocess.run([sys.executable, "-c", code, str(tmp_path / f"p{i}")], check=True, timeout=120,
                       env={**__import__("os").environ, "PYTHONHASHSEED": seed})
    assert _digest(tmp_path / "p0") == _digest(tmp_path / "p1")


@pytest.mark.slow
def test_seed_sweep_every_typology_and_level() -> None:
    """More seeds than the quick test: every story completes and its key stays consistent."""
    for typology in TYPOLOGIES:
        for difficulty in LEVELS:
            for seed in range(200, 205):
                world, key = generate_world(typology, difficulty, seed, size=100)
                assert key.cashouts and all(c.amount > 0 for c in key.cashouts)
                assert check_world(world) == [], (typology, difficulty, seed)
                assert {p.txid for p in key.path} <= set(world.btc_txids) | {
                    world.evm.tx_hash(t) for t in range(world.evm.n_txs)}
