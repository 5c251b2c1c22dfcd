"""The ``chainsleuth train`` commands as a trainer and a trainee use them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chainsleuth.cli.main import app

runner = CliRunner()


def _run(ws: Path, *args: str) -> dict:
    r = runner.invoke(app, ["--workspace", str(ws), "train", *args, "--json"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_generate_answer_grade_debrief(tmp_path: Path) -> None:
    ws, case = tmp_path / "ws", tmp_path / "case"
    res = _run(ws, "generate", "--typology", "ransomware", "--difficulty", "1", "--seed", "3", "--size", "150",
               "--out", str(case), "--lang", "ko", "--ingest")
    assert res["ingest"]["btc"]["blocks_new"] > 10 and res["ingest"]["eth"]["blocks_new"] > 10
    b = _run(ws, "brief", str(case))
    assert b["lang"] == "ko" and b["brief"].startswith("# 사건 개요")
    assert _run(ws, "brief", str(case), "--lang", "th")["brief"].startswith("# สรุปคดี")
    key = json.loads((case / "answer_key.json").read_text())
    h = _run(ws, "answer", str(case), "mixer", "--hint")
    assert h["hints_used"] == 1 and h["hint"]
    _run(ws, "answer", str(case), "mixer", "none")
    _run(ws, "answer", str(case), "deposit_addresses", *[x["address"] for x in key["answers"]["deposit_addresses"]])
    g = _run(ws, "grade", str(case))
    q = {x["id"]: x for x in g["questions"]}
    assert q["mixer"]["score"] == q["mixer"]["points"] - 2
    assert q["deposit_addresses"]["credit"] == 1.0
    assert q["exchanges"]["score"] == 0
    d = _run(ws, "debrief", str(case), "--lang", "en")
    assert d["score"] == g["score"] and d["path"] and d["cashouts"]


def test_class_new_gives_each_trainee_a_variant(tmp_path: Path) -> None:
    names = tmp_path / "names.txt"
    names.write_text("Somchai P.\n# comment\nJi-woo K.\n\n", encoding="utf-8")
    out = tmp_path / "class"
    res = _run(tmp_path / "ws", "class", "new", "--typology", "sanctions_evasion", "--difficulty", "1",
               "--class-seed", "42", "--trainees", str(names), "--size", "120", "--out", str(out))
    assert [r["trainee"] for r in res["trainees"]] == ["Somchai P.", "Ji-woo K."]
    a = (out / res["trainees"][0]["folder"] / "trainee" / "btc" / "blk00000.dat").read_bytes()
    b = (out / res["trainees"][1]["folder"] / "trainee" / "btc" / "blk00000.dat").read_bytes()
    assert a != b
    roster = json.loads((out / "roster.json").read_text())
    assert roster["class_seed"] == 42 and len({r["seed"] for r in roster["trainees"]}) == 2
    first = out / res["trainees"][0]["folder"]
    _run(tmp_path / "ws", "answer", str(first), "mixer", "none")
    g = _run(tmp_path / "ws", "grade", str(out))
    assert [r["trainee"] for r in g["trainees"]] == ["Somchai P.", "Ji-woo K."]
    assert g["trainees"][0]["answered"] == 1 and g["trainees"][0]["score"] == 10
    assert g["trainees"][1]["answered"] == 0 and g["trainees"][1]["score"] == 0


def test_errors_name_what_was_wrong(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "chainsleuth.cli.main", "--workspace", str(tmp_path), "train",
                               *args], capture_output=True, text=True, check=False, timeout=120)

    r = run("generate", "--typology", "heist", "--out", str(tmp_path / "x"))
    assert r.returncode == 2 and "heist" in r.stderr
    r = run("grade", str(tmp_path / "nowhere"))
    assert r.returncode == 3 and "nowhere" in r.stderr


@pytest.mark.slow
def test_generate_refuses_options_outside_the_accepted_ranges(tmp_path: Path) -> None:
    """Usage errors (exit 2) naming the option and the range, never a traceback; nothing is written. A seed
    of -1 used to end in numpy's ValueError (exit 70) and a size of 0 silently meant the default size."""
    cases = [(["--size", "0"], "size must be"), (["--size", "400001"], "400,000"), (["--seed", "-1"], "seed must be"),
             (["--difficulty", "4"], "difficulty")]
    for args, msg in cases:
        out = tmp_path / "case"
        r = subprocess.run([sys.executable, "-m", "chainsleuth.cli.main", "--workspace", str(tmp_path / "ws"),
                            "train", "generate", "--typology", "ransomware", "--out", str(out), *args],
                           capture_output=True, text=True, timeout=120, check=False)
        text = " ".join((r.stdout + r.stderr).split())
        assert r.returncode == 2, (args, text)
        assert msg in text and "Traceback" not in text, (args, text)
        assert not out.exists(), args
