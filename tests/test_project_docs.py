"""Docs that cannot drift: settings, CLI reference, public surface."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import chainsleuth
from chainsleuth.config import SETTINGS_DOC

REPO = Path(__file__).resolve().parents[1]


def test_every_setting_is_documented() -> None:
    text = (REPO / "docs" / "settings.md").read_text(encoding="utf-8")
    for name, (env, _) in SETTINGS_DOC.items():
        assert f"| {name} |" in text, f"setting {name} missing from docs/settings.md"
        assert f"`{env}`" in text, f"environment variable {env} missing from docs/settings.md"


def test_cli_reference_is_current() -> None:
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "gen_cli_docs.py"), "--check"],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0, r.stderr


def _modules() -> list[str]:
    names = []
    for m in pkgutil.walk_packages(chainsleuth.__path__, "chainsleuth."):
        if ".migrations" in m.name:
            continue
        names.append(m.name)
    return names


@pytest.mark.parametrize("name", _modules())
def test_public_surface_is_declared(name: str) -> None:
    mod = importlib.import_module(name)
    if not hasattr(mod, "__all__"):
        if name.endswith("__init__") or hasattr(mod, "__path__"):
            return  # a package may re-export nothing
        pytest.fail(f"{name} has no __all__")
    for n in mod.__all__:
        assert hasattr(mod, n), f"{name}.__all__ names {n!r}, which does not exist"
