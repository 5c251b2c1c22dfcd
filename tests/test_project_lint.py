"""The static checks are part of the suite: ruff, the import-layer contracts, and mypy on core/ and store/.

Running ``pytest`` alone therefore checks everything CI checks.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _tool(name: str) -> str:
    exe = Path(sys.executable).with_name(name)
    found = str(exe) if exe.exists() else shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return found


@pytest.mark.parametrize("cmd", [
    ["ruff", "check", "src", "tests", "bench", "scripts"],
    ["lint-imports"],
    ["mypy"],
], ids=["ruff", "import-layers", "mypy"])
def test_static_check_passes(cmd: list[str]) -> None:
    r = subprocess.run([_tool(cmd[0]), *cmd[1:]], cwd=REPO, capture_output=True, text=True, check=False,
                       timeout=600)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
