"""Bitcoin output of a world: one thin adapter over the seeded block writer.

Each ledger address ``i`` is key ``i`` of a :class:`~chainsleuth.core.btc.builder.KeyRing` seeded by the
world, in the address's script type; each ledger block becomes one ``BlockBuilder.add_block`` call (the
writer computes txids, merkle roots, the witness commitment and the BIP34 height), with the coinbase paid
to the ledger's coinbase address and amount. The chain is mainnet-format (``btc``), starts at the real
genesis block and is numbered from height 1, so addresses read as investigators meet them (``1...``,
``3...``, ``bc1q...``, ``bc1p...``).
"""

from __future__ import annotations

from chainsleuth.core.btc.builder import BlockBuilder, KeyRing, TxSpec, build_tx
from chainsleuth.core.btc.script import classify_script
from chainsleuth.training.ledger_btc import BtcLedger

__all__ = ["CHAIN", "BtcChain", "build_chain"]

CHAIN = "btc"


class BtcChain:
    """The written chain: address texts and txids by ledger id, and the raw blocks (genesis first)."""

    def __init__(self, addresses: list[str], txids: list[str], builder: BlockBuilder) -> None:
        self.addresses = addresses
        self.txids = txids
        self.builder = builder


def build_chain(ledger: BtcLedger, key_seed: int) -> BtcChain:
    """Serialise ``ledger`` into blocks; return the address texts, txids and the builder holding the blocks."""
    keys = KeyRing(seed=key_seed, chain=CHAIN)
    net = keys.network
    scripts: list[bytes] = []
    addrs: list[str] = []
    for i, kind in enumerate(ledger.addr_type):
        s = keys.script(i, kind)
        scripts.append(s)
        a = classify_script(s, net)[1]
        assert a is not None
        addrs.append(a)
    bb = BlockBuilder(CHAIN, seed=key_seed, include_genesis=True, start_time=ledger.block_time[0] - 600)
    txids = [""] * ledger.n_txs
    out_tx, out_n, out_addr, out_value = ledger.out_tx, ledger.out_n, ledger.out_addr, ledger.out_value
    atype = ledger.addr_type
    specs: dict[int, TxSpec] = {}

    def spec_of(t: int) -> TxSpec:
        sp = specs.get(t)
        if sp is None:
            ins: list[tuple[str, int] | tuple[str, int, str]] = [
                (txid_of(out_tx[o]), out_n[o], atype[out_addr[o]]) for o in ledger.tx_inputs[t]]
            outs: list[tuple[str | bytes, int]] = [(scripts[out_addr[o]], out_value[o]) for o in ledger.tx_outputs[t]]
            sp = specs[t] = TxSpec(inputs=ins, outputs=outs)
        return sp

    def txid_of(t: int) -> str:
        # a transaction may spend an output created earlier in the same block, whose txid the block writer
        # has not reported yet: serialise that parent once here to learn it
        if not txids[t]:
            txids[t] = build_tx(spec_of(t), net).txid
        return txids[t]

    for b, txs in enumerate(ledger.blocks):
        cb = txs[0]
        cb_out = ledger.tx_outputs[cb]
        assert len(cb_out) == 1 and not ledger.tx_inputs[cb], "a coinbase pays exactly one output"
        height = bb.height + 1
        block_specs = [spec_of(t) for t in txs[1:]]
        reward = out_value[cb_out[0]]
        block = bb.add_block(block_specs, time=ledger.block_time[b], coinbase_to=scripts[out_addr[cb_out[0]]],
                             fees=reward - bb.subsidy(height))
        for t, txid in zip(txs, block.txids, strict=True):
            assert not txids[t] or txids[t] == txid
            txids[t] = txid
            specs.pop(t, None)
    return BtcChain(addrs, txids, bb)
