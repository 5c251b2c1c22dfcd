"""The static checks are part of the suite: ruff, the import-layer contracts, mypy on the whole package, and
the rule that the workspace's services use each other through public names only.

Running ``pytest`` alone therefore checks everything CI checks.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
WORKSPACE = REPO / "src" / "chainsleuth" / "workspace"


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


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _own_names(cls: ast.ClassDef) -> set[str]:
    """What a class defines itself: its methods and class attributes, and every ``self.X = ...``."""
    own: set[str] = set()
    for stmt in cls.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            own.add(stmt.name)
        elif isinstance(stmt, ast.Assign):
            own |= {t.id for t in stmt.targets if isinstance(t, ast.Name)}
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            own.add(stmt.target.id)
    for node in ast.walk(cls):
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, ast.AnnAssign | ast.AugAssign) else [])
        own |= {t.attr for t in targets
                if isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id in ("self", "cls")}
    return own


def private_reaches(root: Path) -> list[str]:
    """Every place under ``root`` where a part of the workspace uses private names that are not its own:
    ``other._name`` on any object but ``self``/``cls``; ``self._name`` that the enclosing class does not
    define (a mixin calling a sibling's helper through ``self``); ``from chainsleuth.workspace... import _name``."""
    found = []
    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        where = path.relative_to(root.parent)
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("chainsleuth.workspace")):
                found += [f"{where}:{node.lineno}: imports {a.name} from {node.module or '.'}"
                          for a in node.names if _private(a.name)]
            elif isinstance(node, ast.Attribute) and _private(node.attr) and not (
                    isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                found.append(f"{where}:{node.lineno}: {ast.unparse(node)} is another object's private state")
            elif isinstance(node, ast.ClassDef):
                own = _own_names(node)
                found += [f"{where}:{a.lineno}: self.{a.attr} is not defined by {node.name}"
                          for a in ast.walk(node) if isinstance(a, ast.Attribute) and _private(a.attr)
                          and isinstance(a.value, ast.Name) and a.value.id in ("self", "cls") and a.attr not in own]
    return found


def test_workspace_services_use_each_other_by_public_names_only() -> None:
    assert private_reaches(WORKSPACE) == []


def test_private_reaches_are_found(tmp_path: Path) -> None:
    (tmp_path / "svc.py").write_text(
        "from chainsleuth.workspace.queries import _helper\n"
        "class Tracing:\n"
        "    def __init__(self, clustering):\n"
        "        self._clustering = clustering\n"
        "    def trace(self):\n"
        "        self._clustering._cluster_ref(1)\n"
        "        return self._utxo_chain_for('x') + self._own()\n"
        "    def _own(self):\n"
        "        return self.__class__.__name__\n", encoding="utf-8")
    assert [f.split(": ", 1)[1] for f in private_reaches(tmp_path)] == [
        "imports _helper from chainsleuth.workspace.queries",
        "self._utxo_chain_for is not defined by Tracing",
        "self._clustering._cluster_ref is another object's private state",
    ]
