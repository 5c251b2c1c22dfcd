"""The world model: entities, the two ledgers, the clock, and the answer key kept apart from the world.

A :class:`WorldBuilder` holds one numpy ``Generator`` and everything drawn from it: entities, the
Bitcoin ledger, the EVM ledger and a schedule of typology steps. It advances in ticks; each tick closes
one Bitcoin block and one EVM block after the background economy and the steps due at that tick ran.
:meth:`WorldBuilder.finish` freezes it into a :class:`World` (what trainees get, once written) and an
:class:`AnswerKey` (the truth). Everything is ordered by creation, never by hash or set iteration, so
the same seed gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from chainsleuth.errors import InvalidInput, NotFound
from chainsleuth.training.ledger_btc import BtcLedger
from chainsleuth.training.ledger_evm import EvmLedger

__all__ = [
    "AnswerKey",
    "Cashout",
    "Entity",
    "Hop",
    "PathStep",
    "World",
    "WorldBuilder",
]

#: first block time of every world: 2024-05-01 00:00:00 UTC (the era the background imitates)
T0 = 1_714_521_600
BTC_INTERVAL = 600


@dataclass(frozen=True)
class Entity:
    """Who controls a set of addresses. ``kind`` is a role (exchange, wallet, mixer, ransomware, ...);
    ``category`` the GraphSense taxonomy concept an investigator's tag would carry."""

    id: str
    kind: str
    name: str
    category: str
    role: str = "background"     # background | service | perpetrator | victim
    tagged: bool = False


@dataclass(frozen=True)
class PathStep:
    """One movement of the proceeds: a transaction and what it carried between two entities."""

    step: int
    chain: str
    txid: str
    from_entity: str
    to_entity: str
    amount: int
    asset: str
    note: str


@dataclass(frozen=True)
class Cashout:
    """Proceeds that reached a service able to identify its customer (exchange, OTC desk)."""

    entity: str
    entity_name: str
    chain: str
    address: str
    amount: int
    asset: str
    txids: tuple[str, ...]


@dataclass(frozen=True)
class Hop:
    """A cross-chain hop: value left one chain through a bridge or swap service and arrived on another."""

    service: str
    from_chain: str
    from_txid: str
    from_address: str
    amount_in: int
    asset_in: str
    to_chain: str
    to_txid: str
    to_address: str
    amount_out: int
    asset_out: str


@dataclass
class AnswerKey:
    """The truth of one world. Never written into the trainee folder.

    ``owners`` maps ``"<chain>:<address>"`` to an entity id; ``answers`` holds the expected answer of every
    exercise question (see :mod:`chainsleuth.training.exercises`).
    """

    typology: str
    difficulty: int
    seed: int
    entities: dict[str, Entity]
    owners: dict[str, str]
    path: list[PathStep]
    cashouts: list[Cashout]
    hops: list[Hop]
    answers: dict[str, Any]
    facts: dict[str, Any] = field(default_factory=dict)

    def owner_of(self, address: str, chain: str | None = None) -> str:
        """The id of the entity controlling ``address`` (searched on every chain unless ``chain`` is given)."""
        if chain is not None:
            key = f"{chain}:{address}"
            if key in self.owners:
                return self.owners[key]
        else:
            for c in ("btc", "eth"):
                key = f"{c}:{address.lower() if address.startswith('0x') else address}"
                if key in self.owners:
                    return self.owners[key]
        raise NotFound(f"address {address} is not part of this training world", value=address)

    def entity_kind(self, entity_id: str) -> str:
        try:
            return self.entities[entity_id].kind
        except KeyError:
            raise NotFound(f"entity {entity_id} is not part of this training world", value=entity_id) from None

    def addresses_of(self, entity_id: str, chain: str | None = None) -> list[str]:
        return [k.split(":", 1)[1] for k, v in self.owners.items()
                if v == entity_id and (chain is None or k.startswith(chain + ":"))]

    def to_json(self) -> dict[str, Any]:
        return {
            "typology": self.typology, "difficulty": self.difficulty, "seed": self.seed,
            "entities": {k: asdict(v) for k, v in self.entities.items()},
            "path": [asdict(p) for p in self.path],
            "cashouts": [{**asdict(c), "txids": list(c.txids)} for c in self.cashouts],
            "hops": [asdict(h) for h in self.hops],
            "answers": self.answers, "facts": self.facts, "owners": self.owners,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> AnswerKey:
        try:
            return cls(
                typology=d["typology"], difficulty=int(d["difficulty"]), seed=int(d["seed"]),
                entities={k: Entity(**v) for k, v in d["entities"].items()},
                owners=dict(d["owners"]),
                path=[PathStep(**p) for p in d["path"]],
                cashouts=[Cashout(**{**c, "txids": tuple(c["txids"])}) for c in d["cashouts"]],
                hops=[Hop(**h) for h in d["hops"]], answers=d["answers"], facts=d.get("facts", {}),
            )
        except (KeyError, TypeError) as e:
            raise InvalidInput(f"answer key is missing or has a malformed field: {e}", field=str(e)) from None

    @classmethod
    def load(cls, path: str | Path) -> AnswerKey:
        p = Path(path)
        if p.is_dir():
            p = p / "answer_key.json"
        try:
            return cls.from_json(json.loads(p.read_text(encoding="utf-8")))
        except FileNotFoundError:
            raise NotFound(f"no answer key at {p}", file=str(p)) from None
        except json.JSONDecodeError as e:
            raise InvalidInput(f"answer key {p} is not JSON: {e.msg}", file=str(p), offset=e.pos) from None


@dataclass
class World:
    """A generated world: both ledgers, the entities, the tags and the trainee-facing facts.

    :meth:`write` produces the trainee folder (``trainee/``: Bitcoin blocks, EVM exports, TagPack, brief,
    questions) and ``answer_key.json`` beside it.
    """

    typology: str
    difficulty: int
    btc: BtcLedger
    evm: EvmLedger
    entities: list[Entity]
    facts: dict[str, Any]
    key: AnswerKey
    btc_addresses: list[str]
    btc_txids: list[str]
    btc_blocks: list[bytes]

    @property
    def n_transactions(self) -> int:
        return self.btc.n_txs + self.evm.n_txs

    def write(self, out_dir: str | Path, *, lang: str = "en") -> dict[str, Path]:
        """Write the trainee folder and the answer key; return the paths written, by role."""
        from chainsleuth.training.output import write_world

        return write_world(self, Path(out_dir), lang=lang)


class WorldBuilder:
    """Mutable state while a world is generated (one per generator call)."""

    def __init__(self, rng: np.random.Generator, *, typology: str, difficulty: int, seed: int) -> None:
        self.rng = rng
        self.typology = typology
        self.difficulty = difficulty
        self.seed = seed
        salt = rng.bytes(16)
        self.key_seed = int(rng.integers(2**62))
        self.btc = BtcLedger(rng, start_height=1, start_time=T0, salt=salt)
        self.evm = EvmLedger(rng, start_block=1, start_time=T0 + 7, salt=salt)
        self.entities: list[Entity] = []
        self.tick = 0
        self._schedule: dict[int, list[Callable[[], None]]] = {}
        # answer-key material, in ledger ids (turned into txids/addresses by finish())
        self.path: list[tuple[str, int, int, int, int, str, str]] = []   # chain, tx, from, to, amount, asset, note
        self.cashouts: list[tuple[int, str, int, int, str, list[int]]] = []  # entity, chain, addr, amount, asset, txs
        self.hops: list[dict[str, Any]] = []
        self.facts: dict[str, Any] = {}
        self.answers: dict[str, Any] = {}

    # -- entities ------------------------------------------------------------------------------------------
    def entity(self, kind: str, name: str, category: str, *, role: str = "background", tagged: bool = False) -> int:
        i = len(self.entities)
        self.entities.append(Entity(f"{kind}-{i}", kind, name, category, role, tagged))
        return i

    def set_tagged(self, i: int, tagged: bool) -> None:
        e = self.entities[i]
        self.entities[i] = Entity(e.id, e.kind, e.name, e.category, e.role, tagged)

    # -- clock ---------------------------------------------------------------------------------------------
    def at(self, tick: int, fn: Callable[[], None]) -> None:
        """Run ``fn`` during tick ``tick`` (after the background of that tick)."""
        self._schedule.setdefault(max(tick, self.tick), []).append(fn)

    def later(self, delay: int, fn: Callable[[], None]) -> None:
        self.at(self.tick + max(int(delay), 0), fn)

    def spawn(self, story: Iterator[int], delay: int = 0) -> None:
        """Run a story: a generator that does some work and yields how many ticks to wait before it goes on."""

        def resume() -> None:
            try:
                d = next(story)
            except StopIteration:
                return
            self.later(d, resume)

        self.later(delay, resume)

    def pending(self) -> bool:
        return any(t >= self.tick for t in self._schedule)

    def run_due(self) -> None:
        while self._schedule.get(self.tick):
            fns = self._schedule.pop(self.tick)
            for fn in fns:
                fn()

    # -- answer-key records --------------------------------------------------------------------------------
    def step(self, chain: str, tx: int, frm: int, to: int, amount: int, asset: str, note: str) -> None:
        self.path.append((chain, tx, frm, to, amount, asset, note))

    def cashout(self, entity: int, chain: str, addr: int, amount: int, asset: str, tx: int) -> None:
        for i, c in enumerate(self.cashouts):
            if c[0] == entity and c[1] == chain and c[2] == addr and c[4] == asset:
                self.cashouts[i] = (entity, chain, addr, c[3] + amount, asset, [*c[5], tx])
                return
        self.cashouts.append((entity, chain, addr, amount, asset, [tx]))

    # -- freeze --------------------------------------------------------------------------------------------
    def finish(self) -> World:
        from chainsleuth.training.output_btc import build_chain

        chain = build_chain(self.btc, self.key_seed)
        addrs, txids = chain.addresses, chain.txids
        ents = self.entities
        owners: dict[str, str] = {}
        for a, owner in enumerate(self.btc.addr_owner):
            owners[f"btc:{addrs[a]}"] = ents[owner].id
        for a, owner in enumerate(self.evm.acct_owner):
            owners[f"eth:{self.evm.address(a)}"] = ents[owner].id

        def txid(chain: str, t: int) -> str:
            return txids[t] if chain == "btc" else self.evm.tx_hash(t)

        def addr(chain: str, a: int) -> str:
            return addrs[a] if chain == "btc" else self.evm.address(a)

        path = [PathStep(i, c, txid(c, t), ents[f].id, ents[to].id, amt, asset, note)
                for i, (c, t, f, to, amt, asset, note) in enumerate(self.path)]
        cashouts = [Cashout(ents[e].id, ents[e].name, c, addr(c, a), amt, asset, tuple(txid(c, t) for t in ts))
                    for e, c, a, amt, asset, ts in self.cashouts]
        hops = [Hop(service=ents[h["service"]].id, from_chain=h["from_chain"],
                    from_txid=txid(h["from_chain"], h["from_tx"]), from_address=addr(h["from_chain"], h["from_addr"]),
                    amount_in=h["amount_in"], asset_in=h["asset_in"], to_chain=h["to_chain"],
                    to_txid=txid(h["to_chain"], h["to_tx"]), to_address=addr(h["to_chain"], h["to_addr"]),
                    amount_out=h["amount_out"], asset_out=h["asset_out"]) for h in self.hops]
        resolve = _Resolver(addrs, txids, self.evm, ents)
        facts = resolve(self.facts)
        answers = resolve(self.answers)
        key = AnswerKey(self.typology, self.difficulty, self.seed, {e.id: e for e in ents}, owners, path,
                        cashouts, hops, answers, facts)
        return World(self.typology, self.difficulty, self.btc, self.evm, list(ents), facts, key, addrs, txids,
                     chain.builder.raw_blocks())


class _Resolver:
    """Turns ledger references in facts/answers into strings: ``("btc-addr", i)``, ``("btc-tx", i)``,
    ``("eth-addr", i)``, ``("eth-tx", i)``, ``("entity", i)``; anything else passes through."""

    def __init__(self, addrs: list[str], txids: list[str], evm: EvmLedger, ents: list[Entity]) -> None:
        self.addrs, self.txids, self.evm, self.ents = addrs, txids, evm, ents

    def __call__(self, v: Any) -> Any:
        if isinstance(v, Ref):
            return {"btc-addr": lambda i: self.addrs[i], "btc-tx": lambda i: self.txids[i],
                    "eth-addr": self.evm.address, "eth-tx": self.evm.tx_hash,
                    "entity": lambda i: self.ents[i].id}[v.kind](v.i)
        if isinstance(v, dict):
            return {k: self(x) for k, x in v.items()}
        if isinstance(v, (list, tuple)):
            return [self(x) for x in v]
        return v


@dataclass(frozen=True)
class Ref:
    """A reference to a ledger object, resolved to its string form when the world is frozen."""

    kind: str
    i: int
