"""Recorded answers in the API's documented JSON (mainnet block 170), replayed through the real client, checks
and store: the stored transaction is the one the chain holds, with its provenance, and a second fetch asks
for nothing."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from chainsleuth.errors import NotFound, SourceError
from chainsleuth.sources.esplora.replay import EsploraReplayTransport
from chainsleuth.workspace import Workspace

T = "f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16"
B = "00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee"
URL = "https://blockstream.info/api"


def test_block_170_replayed(tmp_path: Path, recorded: Path) -> None:
    RECORDED = recorded
    rec = EsploraReplayTransport(RECORDED / "block170")
    with Workspace(tmp_path / "ws") as ws:
        s = ws.ingest.esplora(URL, [T], transport=rec)
        assert (s.chain, s.txs_new, s.blocks_new, s.first_height) == ("btc", 1, 1, 170)
        tx = ws.queries.show_tx(T).model_dump()
        assert (tx["block_height"], tx["block_hash"], tx["time"], tx["fee"]) == (170, B, 1231731025, 0)
        assert [(o["address"], o["value"], o["script_type"]) for o in tx["outputs"]] == [
            ("1Q2TWHE3GMdB6BZKafqwxXtWAWgFt5Jvm3", 1_000_000_000, "p2pk"),
            ("12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S", 4_000_000_000, "p2pk")]
        # the input's spent output is not stored: its value and address are the API's prevout
        i = tx["inputs"][0]
        assert (i["prev_txid"], i["prev_n"], i["value"], i["address"]) == (
            "0437cd7f8525ceed2324359c2d0ba26006d92d856a9c20fa0241106ee5a597c9", 0, 5_000_000_000,
            "12cbQLTFMXRnSzktFkuoG3eHoMeFtpTu3S")
        st = ws.queries.stats().chains["btc"]
        assert (st["partial_blocks"], st["txs_stored"], st["txs"]) == (1, 1, 2)
        prov = ws.store.db.all("SELECT url, sha256, kind FROM source_fetches ORDER BY url")
        want = {f"{URL}/tx/{T}": f"tx_{T}.json", f"{URL}/block/{B}": f"block_{B}.json",
                f"{URL}/block/{B}/txids": f"block_{B}_txids.json", f"{URL}/block-height/0": "block-height_0.txt"}
        assert {u: h for u, h, _ in prov} == {
            u: hashlib.sha256((RECORDED / "block170" / f).read_bytes()).hexdigest() for u, f in want.items()}
        run = ws.store.runs.list("btc")[-1]
        assert (run.source_kind, run.endpoint, run.txs) == ("esplora", URL, 1)
        served = sum(rec.served.values())
        again = ws.ingest.esplora(URL, [T], transport=rec)
        assert again.txs_new == 0 and sum(rec.served.values()) == served     # nothing asked again


def test_replay_of_a_tampered_recording_is_refused(tmp_path: Path, recorded: Path) -> None:
    RECORDED = recorded
    d = tmp_path / "rec"
    shutil.copytree(RECORDED / "block170", d)
    f = d / f"tx_{T}.json"
    f.write_text(f.read_text().replace("1000000000", "1000000001"))   # not what the block holds: still valid JSON
    blk = d / f"block_{B}.json"
    blk.write_text(blk.read_text().replace("1889418792", "1889418793"))   # the nonce: the header no longer hashes
    with Workspace(tmp_path / "ws") as ws:
        with pytest.raises(SourceError, match=r"/block/0+d1145790.*field id .* not the hash of the header"):
            ws.ingest.esplora(URL, [T], transport=EsploraReplayTransport(d))
        assert ws.store.db.one("SELECT count(*) FROM txs")[0] == 0
        assert ws.store.db.one("SELECT count(*) FROM source_fetches")[0] == 0
        with pytest.raises(NotFound, match="answered 404"):
            ws.ingest.esplora(URL, ["ab" * 32], transport=EsploraReplayTransport(d))
