"""The stored blocks of one UTXO chain as a forest, and the best chain in each tree.

Blocks link to their parent by ``prev_hash``. A block whose parent is not stored is a *root*: the genesis
block, or the first block of a detached segment (a single block ingested on its own, blk files that start
in the middle of the chain). Each tree's best chain is the path from its root to its tip of most
cumulative work, as Bitcoin Core chooses it, with one difference: equal work is decided by the longer chain
and then the smaller block hash instead of by arrival order, so that the result does not depend on the
order blocks came in.
Detached trees cannot be ranked against each other (the blocks between them are missing): each keeps its
own best chain, and ``stats`` counts them.

Work per block is ``2**256 // (target + 1)`` for the header's ``nBits`` target (0 for a malformed target),
as Bitcoin Core's ``GetBlockProof``; ``chainwork`` is its sum from the root, exact (Python ints).

Heights: a tree rooted at the network's genesis block has ``height = depth``. A detached tree gets heights
where one of its blocks carries a BIP34 height (``height - depth`` is then the same for every block of the
tree, or the input is refused); otherwise its heights are unknown.

Work is per block (a block carries thousands of transactions): a batch costs its own blocks plus what a
reorganisation or a merge of trees moves, and a vectorised pass over the block arrays where trees merge.

>>> t = BlockTree("g")
>>> ch = t.add([NewBlock("g", "0" * 64, 0x207FFFFF, None), NewBlock("a", "g", 0x207FFFFF, None),
...             NewBlock("b", "a", 0x207FFFFF, None)])
>>> [bool(t.best[i]) for i in range(3)], [int(h) for h in t.height[:3]]
([True, True, True], [0, 1, 2])
>>> ch = t.add([NewBlock("x", "a", 0x207FFFFF, None), NewBlock("y", "x", 0x207FFFFF, None)])  # longer fork
>>> [t.hash[i] for i in range(len(t)) if t.best[i]], sorted(t.hash[i] for i in ch.best_flipped)
(['g', 'a', 'x', 'y'], ['b'])
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from chainsleuth.errors import InvalidInput

__all__ = ["BlockChanges", "BlockTree", "NewBlock", "block_work"]


def block_work(bits: int) -> int:
    """Expected hashes for a block of target ``bits`` (Bitcoin Core ``GetBlockProof``).

    >>> block_work(0x1D00FFFF)          # difficulty 1
    4295032833
    >>> block_work(0x207FFFFF)          # regtest
    2
    >>> block_work(0x01003456), block_work(0x04923456)   # zero target, negative target
    (0, 0)
    """
    exponent = bits >> 24
    mantissa = bits & 0x007FFFFF
    if bits & 0x00800000 and mantissa:          # the sign bit: a negative target
        return 0
    target = mantissa >> (8 * (3 - exponent)) if exponent <= 3 else mantissa << (8 * (exponent - 3))
    if target == 0 or target >= 1 << 256:
        return 0
    return (1 << 256) // (target + 1)


@dataclass(frozen=True)
class NewBlock:
    """What the tree needs of a block the writer is about to store."""

    hash: str
    prev_hash: str
    bits: int
    claimed_height: int | None      # the BIP34 height in its coinbase, if any


@dataclass
class BlockChanges:
    """What one :meth:`BlockTree.add` changed: the new blocks, and the stored blocks whose derived fields
    (chainwork, root, depth, height, best) changed, among them those whose best flag flipped."""

    new: list[int] = field(default_factory=list)
    changed: set[int] = field(default_factory=set)
    best_flipped: set[int] = field(default_factory=set)


class _Grow:
    """A growable numpy column."""

    def __init__(self, dtype: type, fill: object) -> None:
        self.a: np.ndarray = np.full(64, fill, dtype=dtype)
        self.fill = fill

    def ensure(self, n: int) -> None:
        if n > self.a.size:
            grown = np.full(max(n, 2 * self.a.size), self.fill, dtype=self.a.dtype)
            grown[: self.a.size] = self.a
            self.a = grown


class BlockTree:
    """Per-block fields of one chain; block number = position in the order blocks were added."""

    def __init__(self, genesis_hash: str) -> None:
        self.genesis_hash = genesis_hash
        self.number: dict[str, int] = {}
        self.hash: list[str] = []
        self.prev: list[str] = []
        self.work: list[int] = []
        self.chainwork: list[int] = []
        self._cols = {k: _Grow(np.int64, -1) for k in ("parent", "root", "depth", "claim", "height")}
        self._best = _Grow(np.bool_, False)
        self.offset: dict[int, int] = {}    # root -> height - depth in its tree, where an anchor fixes it
        self.tip: dict[int, int] = {}       # root -> the tree's best tip
        self.waiting: dict[str, list[int]] = {}   # prev hash -> roots waiting for that parent

    def __len__(self) -> int:
        return len(self.hash)

    @property
    def parent(self) -> np.ndarray:
        return self._cols["parent"].a

    @property
    def root(self) -> np.ndarray:
        return self._cols["root"].a

    @property
    def depth(self) -> np.ndarray:
        return self._cols["depth"].a

    @property
    def claim(self) -> np.ndarray:
        return self._cols["claim"].a

    @property
    def height(self) -> np.ndarray:
        return self._cols["height"].a

    @property
    def best(self) -> np.ndarray:
        return self._best.a

    def height_source(self, m: int) -> str | None:
        if self.height[m] < 0:
            return None
        return "genesis" if self.hash[int(self.root[m])] == self.genesis_hash else "bip34"

    def chainwork_hex(self, m: int) -> str:
        return f"{self.chainwork[m]:064x}"

    def roots(self) -> list[int]:
        return sorted(self.tip)

    # -- adding -------------------------------------------------------------------------------------
    def add(self, blocks: Iterable[NewBlock]) -> BlockChanges:
        """Add blocks not yet in the tree: link them, hang trees below parents that arrived, recompute
        heights and each affected tree's best chain. Raises InvalidInput on a height that contradicts the
        chain (then the tree is no longer consistent: the caller drops it and rebuilds from the store)."""
        ch = BlockChanges()
        blocks = list(blocks)
        base = len(self.hash)
        n_all = base + len(blocks)
        for c in (*self._cols.values(), self._best):
            c.ensure(n_all)
        for i, b in enumerate(blocks):
            n = base + i
            if b.hash in self.number:
                raise InvalidInput(f"block {b.hash} is given twice", value=b.hash)
            self.number[b.hash] = n
            self.hash.append(b.hash)
            self.prev.append(b.prev_hash)
            self.work.append(block_work(b.bits))
            self.chainwork.append(0)
            self.claim[n] = 0 if b.hash == self.genesis_hash else (-1 if b.claimed_height is None else
                                                                   b.claimed_height)
            ch.new.append(n)
        new = set(ch.new)
        # link the new blocks to their parents (stored or new) and walk parents before children
        children: dict[int, list[int]] = {}
        ready: list[int] = []
        for n in ch.new:
            p = -1 if self.hash[n] == self.genesis_hash else self.number.get(self.prev[n], -1)
            self.parent[n] = p
            if p in new:
                children.setdefault(p, []).append(n)
            else:
                ready.append(n)
        order: list[int] = []
        while ready:
            n = ready.pop()
            order.append(n)
            p = int(self.parent[n])
            if p >= 0:
                self.root[n], self.depth[n] = self.root[p], self.depth[p] + 1
                self.chainwork[n] = self.chainwork[p] + self.work[n]
            else:
                self.root[n], self.depth[n], self.chainwork[n] = n, 0, self.work[n]
                if self.hash[n] != self.genesis_hash:
                    self.waiting.setdefault(self.prev[n], []).append(n)
            ready.extend(children.pop(n, ()))
        if len(order) != len(ch.new):     # only a cycle of hashes could leave blocks unvisited
            raise InvalidInput("blocks whose parents form a cycle", value=len(ch.new) - len(order))
        merged: set[int] = set()
        for n in ch.new:                   # roots whose parent just arrived hang below it now
            for r in self.waiting.pop(self.hash[n], []):
                if r != n and self.parent[r] < 0:
                    self._reroot(r, n, ch, new)
                    merged.add(int(self.root[n]))
        affected = {int(self.root[n]) for n in ch.new}
        for r in sorted(affected):
            self._heights(r, ch, new, full=r in merged)
            self._best_chain(r, ch, new)
        return ch

    def _members(self, r: int) -> list[int]:
        n = len(self.hash)
        return np.flatnonzero(self.root[:n] == r).tolist()

    def _reroot(self, r: int, parent: int, ch: BlockChanges, new: set[int]) -> None:
        """Hang the tree of root ``r`` below ``parent``: its blocks' depths, chainwork and root change and
        they leave the best chain (the merged tree's best chain is chosen again)."""
        self.parent[r] = parent
        new_root = int(self.root[parent])
        dd = int(self.depth[parent]) + 1
        dw = self.chainwork[parent]
        self.tip.pop(r, None)
        off = self.offset.pop(r, None)
        for m in self._members(r):
            self.root[m] = new_root
            self.depth[m] += dd
            self.chainwork[m] += dw
            self._flag(m, False, ch, new)
            if m not in new:
                ch.changed.add(m)
        if off is not None:
            merged = off - dd
            have = self.offset.get(new_root)
            if have is not None and have != merged:
                raise InvalidInput(
                    f"block {self.hash[r]} and its descendants carry BIP34 heights that do not fit below "
                    f"block {self.hash[parent]} (their heights would be off by {merged - have})", field="height",
                    value=self.hash[r])
            self.offset[new_root] = merged

    def _heights(self, r: int, ch: BlockChanges, new: set[int], *, full: bool) -> None:
        """Heights of root ``r``'s tree from its anchors (the genesis block, BIP34 heights)."""
        known = self.offset.get(r)
        look = self._members(r) if (full or known is None) else [m for m in new if self.root[m] == r]
        for m in look:
            c = int(self.claim[m])
            if c < 0:
                continue
            off = c - int(self.depth[m])
            if known is None:
                known = off
            elif off != known:
                raise InvalidInput(
                    f"block {self.hash[m]} claims height {c} in its coinbase but its place in the chain gives "
                    f"height {known + int(self.depth[m])}", field="height", value=c)
        if known is None:
            return
        fresh = r not in self.offset
        self.offset[r] = known
        for m in (self._members(r) if (full or fresh) else look):
            h = known + int(self.depth[m])
            if self.height[m] != h:
                self.height[m] = h
                if m not in new:
                    ch.changed.add(m)

    def _best_chain(self, r: int, ch: BlockChanges, new: set[int]) -> None:
        """Move root ``r``'s best chain to its tip of most work (equal work: the longer chain, then the smaller
        hash; so a block never loses to its own ancestor, even where blocks carry no work)."""
        old_tip = self.tip.get(r)
        cand = [m for m in new if self.root[m] == r] + [m for m in ch.changed if self.root[m] == r]
        if old_tip is not None:
            cand.append(old_tip)

        def rank(m: int) -> tuple[int, int, tuple[int, ...]]:
            return self.chainwork[m], int(self.depth[m]), tuple(-ord(c) for c in self.hash[m])

        tip = max(cand, key=rank)
        self.tip[r] = tip
        if tip == old_tip:
            return
        path = []
        m = tip
        while m >= 0 and not self.best[m]:          # up to the first block on the best chain: the fork
            path.append(m)
            m = int(self.parent[m])
        fork = m
        m = -1 if old_tip is None else old_tip
        while m >= 0 and m != fork and self.best[m]:   # the old best chain above the fork leaves it
            self._flag(m, False, ch, new)
            m = int(self.parent[m])
        for x in path:
            self._flag(x, True, ch, new)

    def _flag(self, m: int, value: bool, ch: BlockChanges, new: set[int]) -> None:
        if bool(self.best[m]) == value:
            return
        self.best[m] = value
        if m not in new:
            ch.changed.add(m)
            ch.best_flipped.symmetric_difference_update({m})
