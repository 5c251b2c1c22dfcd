"""The demo keeps to a workspace of its own: re-running the same case is allowed, another case is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from chainsleuth.errors import Conflict
from chainsleuth.workspace import Workspace


def test_demo_refuses_a_second_case_in_one_workspace(tmp_path: Path) -> None:
    with Workspace(tmp_path / "ws") as ws:
        first = ws.demo.run(size=300)
        again = ws.demo.run(size=300)                     # same case: ingest and tags change nothing
        assert again["proceeds"] == first["proceeds"]
        before = ws.queries.stats()
        with pytest.raises(Conflict, match="already holds the demo case"):
            ws.demo.run(size=200)
        assert ws.queries.stats() == before
