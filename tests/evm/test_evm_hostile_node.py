"""A node that lies: every answer is checked against what was asked (block number, hashes, parent links,
receipts of the block's own transactions, the chain id of every batch), malformed values are a source
error naming the method, the block and the field, and a node asking to wait an hour is waited on for a
bounded time, visibly. The store is left exactly as before the failed batch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from chainsleuth.config import Settings
from chainsleuth.core.progress import NullProgress
from chainsleuth.errors import SourceError
from chainsleuth.workspace import Workspace


class Notes(NullProgress):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def note(self, message: str) -> None:
        self.seen.append(message)


def make_ws(path: Path, *, timeout: float = 2.0, retries: int = 1, max_wait: float = 30.0,
            progress: Any = None) -> Workspace:
    return Workspace(path, settings=Settings(workspace=path, rpc_timeout=timeout, rpc_retries=retries,
                                             rpc_max_wait=max_wait, progress="never"), progress=progress)


def _block_of(params: list[Any]) -> int | None:
    p = params[0] if params else None
    return int(p, 16) if isinstance(p, str) and p.startswith("0x") and len(p) <= 18 else None


def test_honest_fake_node_ingests_the_true_balances(fake_nodes: Any, tmp_path: Path) -> None:
    node = fake_nodes(30)
    ws = make_ws(tmp_path / "ws")
    s = ws.ingest.evm_rpc(node.url, chain="eth-anvil", traces="parity", blocks_per_batch=10)
    assert (s.first_height, s.last_height) == (0, 29)
    bob = node.data["people"]["bob"]
    assert ws.queries.show_address(bob).balance == {"native": sum(range(30)) * 10**18}
    ws.close()


def test_a_block_answered_with_another_number_is_refused(fake_nodes: Any, tmp_path: Path) -> None:
    """Asked for block 24, the node answers ``number: 99``: refused, naming method, block and field; the
    batch 20..29 is not written, and nothing of block 24 is lost on the next run."""
    node = fake_nodes(30)

    def lie(method: str, params: list[Any], result: Any) -> Any:
        if method == "eth_getBlockByNumber" and params[0] == hex(24) and params[1]:
            result["number"] = hex(99)
        return result

    node.hook = lie
    ws = make_ws(tmp_path / "ws")
    with pytest.raises(SourceError) as e:
        ws.ingest.evm_rpc(node.url, chain="eth-anvil", traces="parity", blocks_per_batch=10)
    msg = str(e.value)
    assert "eth_getBlockByNumber block 24" in msg and "'number'" in msg and "0x63" in msg, msg
    assert e.value.details["block"] == 24 and e.value.details["field"] == "number"
    assert ws.store.account.checkpoint("eth-anvil")[0] == 19
    assert sorted(ws.store.account.block_hashes("eth-anvil", 0, 200)) == list(range(20))
    node.hook = None
    ws.ingest.evm_rpc(node.url, chain="eth-anvil", traces="parity", blocks_per_batch=10)
    assert ws.queries.show_address(node.data["people"]["bob"]).balance == {"native": sum(range(30)) * 10**18}
    ws.close()


def _lie_about(method: str, block: int, change: Any, *, full: bool | None = True) -> Any:
    """A hook changing the answer of ``method`` for ``block`` with ``change(result)``."""
    def hook(m: str, params: list[Any], result: Any) -> Any:
        if m == method and _block_of(params) == block and (full is None or m != "eth_getBlockByNumber"
                                                             or params[1] is full):
            return change(result)
        return result
    return hook


def _set(path: tuple[Any, ...], value: Any) -> Any:
    def change(result: Any) -> Any:
        obj = result
        for p in path[:-1]:
            obj = obj[p]
        obj[path[-1]] = value
        return result
    return change


@pytest.mark.timeout(60)
def test_a_first_parent_that_is_not_the_stored_block_is_no_endless_reorg(fake_nodes: Any, tmp_path: Path) -> None:
    """Block 4 (first of its batch) names a parent that is not block 3, while the node's header of block 3
    is the stored one: no fork to roll back to. That is an inconsistent node, not a reorg: a SourceError
    naming the block and 'parentHash', after a few reads, and blocks 0..3 stay."""
    node = fake_nodes(8)
    node.hook = _lie_about("eth_getBlockByNumber", 4, _set(("parentHash",), "0x" + "ab" * 32))
    ws = make_ws(tmp_path / "ws")
    with pytest.raises(SourceError) as e:
        ws.ingest.evm_rpc(node.url, chain="eth-anvil", traces="parity", blocks_per_batch=4)
    msg = str(e.value)
    assert "block 4" in msg and "parentHash" in msg and "0x" + "ab" * 32 in msg, msg
    assert sorted(ws.store.account.block_hashes("eth-anvil", 0, 99)) == [0, 1, 2, 3]
    ws.close()


@pytest.mark.timeout(60)
def test_a_parent_inside_the_batch_that_does_not_link_is_refused(fake_nodes: Any, tmp_path: Path) -> None:
    node = fake_nodes(8)
    node.hook = _lie_about("eth_getBlockByNumber", 6, _set(("parentHash",), "0x" + "cd" * 32))
    ws = make_ws(tmp_path / "ws")
    with pytest.raises(SourceError) as e:
        ws.ingest.evm_rpc(node.url, chain="eth-anvil", traces="parity", blocks_per_batch=4)
    msg = str(e.value)
    assert "block 6" in msg and "parentHash" in msg, msg
    assert sorted(ws.store.account.block_hashes("eth-anvil", 0, 99)) == [0, 1, 2, 3]
    ws.close()


RECEIPT_LIES = [
    # (what the receipts of block 6 become, the field named, words of the message)
    (lambda rs: ["junk" for _ in rs], None, "not an object"),
    (lambda rs: "0x1", None, "not a list of receipts"),
    (lambda rs: rs[:-1], None, "2 receipts for the block's 3 transactions"),
    (lambda rs: [{**rs[0], "gasUsed": "0xZZZ"}, *rs[1:]], "gasUsed", "field 'gasUsed' is '0xZZZ', not a hex quantity"),
    (lambda rs: [{**rs[0], "gasUsed": "-0x10"}, *rs[1:]], "gasUsed", "not a hex quantity"),
    (lambda rs: [{**rs[0], "gasUsed": hex(2**256)}, *rs[1:]], "gasUsed", "above 2^256-1"),
    (lambda rs: [{**rs[0], "gasUsed": hex(2**200)}, *rs[1:]], "gasUsed", "above 2^63-1"),
    (lambda rs: [{**rs[0], "gasUsed": hex(200_000)}, *rs[1:]], "gasUsed", "above the transaction's gas limit"),
    (lambda rs: [{**rs[0], "effectiveGasPrice": hex(2**200)}, *rs[1:]], "effectiveGasPrice", "above 10^38-1 wei"),
    (lambda rs: [{**rs[0], "effectiveGasPrice": 2**256}, *rs[1:]], "effectiveGasPrice", "not a hex quantity"),
    (lambda rs: [{**rs[0], "status": "0x2"}, *rs[1:]], "status", "above 1"),
    (lambda rs: [{**rs[0], "status": True}, *rs[1:]], "status", "not a hex quantity"),
    (lambda rs: [rs[1], rs[0], *rs[2:]], "transactionHash", "not the hash of the transaction"),
    (lambda rs: [{**rs[0], "blockNumber": "0x5"}, *rs[1:]], "blockNumber", "not the number of its block"),
    (lambda rs: [{**rs[0], "blockHash": "0x" + "11" * 32}, *rs[1:]], "blockHash", "not the hash of its block"),
    (lambda rs: [rs[0], {**rs[1], "logs": [{**rs[1]["logs"][0], "topics": ["0x12"]}]}, *rs[2:]], "topics",
     "not a 32-byte hash"),
    (lambda rs: [rs[0], {**rs[1], "logs": "nope"}, *rs[2:]], "logs", "not a list"),
]


@pytest.mark.parametrize("k", range(len(RECEIPT_LIES)))
def test_malformed_receipts_are_a_source_error_naming_method_block_and_field(fake_nodes: Any, tmp_path: Path,
                                                                          k: int) -> None:
    change, fieldname, words = RECEIPT_LIES[k]
    node = fake_nodes(8)   # block 6: a payment, an ERC-20 transfer, a contract paying on
    node.hook = _lie_about("eth_getBlockReceipts", 6, change)
    ws = make_ws(tmp_path / "ws")
    with pytest.raises(SourceError) as e:
        ws.ingest.evm_rpc(node.url, chain="eth-anvil", traces="parity", blocks_per_batch=4)
    msg = str(e.value)
    assert msg.startswith("eth_getBlockReceipts block 6: ") and words in msg, msg
    assert e.value.details["method"] == "eth_getBlockReceipts" and e.value.details["block"] == 6
    assert e.value.details.get("field") == fieldname
    assert sorted(ws.store.account.block_hashes("eth-anvil", 0, 99)) == [0, 1, 2, 3]
    ws.close()


def test_the_cli_exits_7_without_a_traceback_on_a_malformed_receipt(fake_nodes: Any, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    node = fake_nodes(8)
    node.hook = _lie_about("eth_getBlockReceipts", 6, lambda rs: [{**rs[0], "gasUsed": "0xZZZ"}, *rs[1:]])
    r = subprocess.run([sys.executable, "-m", "chainsleuth.cli.main", "--workspace", str(tmp_path / "ws"), "ingest",
                        "evm-rpc", node.url, "--chain", "eth-anvil", "--traces", "parity"], capture_output=True,
                       text=True, check=False, timeout=120,
                       env={**os.environ, "CHAINSLEUTH_RPC_RETRIES": "0", "COLUMNS": "400"})
    assert r.returncode == 7, (r.returncode, r.stderr)
    assert "eth_getBlockReceipts block 6: " in r.stderr and "field 'gasUsed' is '0xZZZ', not a hex quantity" in \
        r.stderr and "Traceback" not in r.stderr, r.stderr


def test_a_changed_chain_id_stops_the_ingest_before_the_batch(fake_nodes: Any, tmp_path: Path) -> None:
    node = fake_nodes(12)
    asked = {"n": 0}

    def switch(method: str, params: list[Any], result: Any) -> Any:
        if method == "eth_chainId":
            asked["n"] += 1
            return "0x1" if asked["n"] > 2 else result   # the start, the first batch; then mainnet
        return result

    node.hook = switch
    ws = make_ws(tmp_path / "ws")
    with pytest.raises(SourceError) as e:
        ws.ingest.evm_rpc(node.url, chain="eth-anvil", traces="parity", blocks_per_batch=4)
    msg = str(e.value)
    assert "eth_chainId before block 4" in msg and "chain id 1, not 31337" in msg, msg
    assert sorted(ws.store.account.block_hashes("eth-anvil", 0, 99)) == [0, 1, 2, 3]
    ws.close()


def test_retry_after_an_hour_is_capped_shown_and_given_up(fake_nodes: Any) -> None:
    from chainsleuth.sources.evm.rpc import JsonRpcClient

    node = fake_nodes(4)
    node.hook = lambda m, p, r: node.Raw(429, b"slow down", {"Retry-After": "3600"})
    slept: list[float] = []
    seen: list[str] = []
    client = JsonRpcClient(node.url, retries=4, sleep=slept.append, notify=seen.append)
    with pytest.raises(SourceError) as e:
        client.call("eth_getBlockByNumber", ["0x3", True])
    assert slept == [30.0] * 4
    assert seen[0].startswith("node asked to wait 3600 s; waiting 30 s (attempt 2/5)"), seen
    assert "HTTP 429" in str(e.value) and "gave up after 5 attempts" in str(e.value) and "block 3" in str(e.value)
    client.close()


def test_retry_after_in_an_ingest_waits_at_most_rpc_max_wait(fake_nodes: Any, tmp_path: Path) -> None:
    node = fake_nodes(8)
    node.hook = _lie_about("eth_getBlockByNumber", 5, lambda r: node.Raw(503, b"busy", {"Retry-After": "3600"}))
    notes = Notes()
    ws = make_ws(tmp_path / "ws", retries=2, max_wait=0.05, progress=notes)
    with pytest.raises(SourceError) as e:
        ws.ingest.evm_rpc(node.url, chain="eth-anvil", traces="parity", blocks_per_batch=4)
    assert "gave up after 3 attempts" in str(e.value) and "block 5" in str(e.value)
    waits = [n for n in notes.seen if n.startswith("node asked to wait 3600 s; waiting 0.05 s")]
    assert len(waits) >= 2 and "(attempt 2/3)" in waits[0] and "(attempt 3/3)" in waits[1], notes.seen
    assert sorted(ws.store.account.block_hashes("eth-anvil", 0, 99)) == [0, 1, 2, 3]
    ws.close()


@pytest.mark.parametrize("path,value", [((0, "action", "callType"), {}), ((0, "type"), ["call"]),
                                        ((3, "traceAddress"), None), ((0, "transactionHash"), "0x" + "12" * 32)])
def test_malformed_traces_are_a_source_error_naming_the_field(fake_nodes: Any, tmp_path: Path, path: tuple[Any, ...],
                                                              value: Any) -> None:
    node = fake_nodes(8)
    node.hook = _lie_about("trace_block", 6, _set(path, value))
    ws = make_ws(tmp_path / "ws")
    with pytest.raises(SourceError) as e:
        ws.ingest.evm_rpc(node.url, chain="eth-anvil", traces="parity", blocks_per_batch=4)
    assert str(e.value).startswith("trace_block block 6: ") and e.value.details.get("field") == path[-1], str(e.value)
    assert sorted(ws.store.account.block_hashes("eth-anvil", 0, 99)) == [0, 1, 2, 3]
    ws.close()
