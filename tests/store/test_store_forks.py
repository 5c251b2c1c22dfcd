"""Fork blocks (btcd's side chain 3A-4A-5A off block 2): `show block HEIGHT` follows the longest known chain."""

from __future__ import annotations

from pathlib import Path

from chainsleuth.workspace import Workspace

MAIN3 = "00000000bc3589303953766cc9364130cb97bc3749bae170f476d45f1e23f850"   # btcd blk_0_to_4.dat, MANIFEST
SIDE3 = "00000000474284d20067a4d33f6a02284e6ef70764a3a26d6a5b9df52ef663dd"   # blk_3A.dat


def test_height_lookup_prefers_the_longest_known_chain(shared_data: Path, tmp_path: Path) -> None:
    d = shared_data / "btc-blocks-btcd"
    with Workspace(tmp_path / "ws") as ws:
        ws.ingest.btc_blocks([d / "blk_0_to_4.dat", d / "blk_3A.dat"])
        assert ws.queries.show_block("3").hash == MAIN3          # main reaches 4, the side chain only 3
        ws.ingest.btc_blocks([d / "blk_4A.dat", d / "blk_5A.dat"])
        assert ws.queries.show_block("3").hash == SIDE3          # now the side chain is longer (5 > 4)
        assert ws.queries.show_block(MAIN3).height == 3          # both stay reachable by hash
