"""The trainer's and trainee's folder workflow: generate, class variants, answers, grade, debrief.

A case folder is what :meth:`World.write` produced: ``trainee/`` plus ``answer_key.json``. A trainee works
in ``trainee/`` and records answers in ``trainee/answers.json`` (``{"answers": {...}, "hints": {...}}``).
A class folder holds one case folder per trainee and ``roster.json`` (trainee -> variant seed), derived
from the class seed so that the trainer can regenerate any variant.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from chainsleuth.errors import InvalidInput, NotFound
from chainsleuth.training.exercises import questions_for
from chainsleuth.training.grading import check_amount_answer, grade
from chainsleuth.training.i18n import format_amount, translator
from chainsleuth.training.typologies import DEFAULT_SIZE, generate_world
from chainsleuth.training.world import AnswerKey

__all__ = [
    "answer",
    "brief",
    "class_new",
    "debrief",
    "generate",
    "grade_folder",
    "read_trainees",
    "trainee_seed",
]


def generate(typology: str, difficulty: int, seed: int, out: Path, *, size: int = DEFAULT_SIZE,
             lang: str = "en") -> dict[str, Any]:
    translator(lang)        # refuse an unknown language before generating
    world, key = generate_world(typology, difficulty, seed, size=size)
    paths = world.write(out, lang=lang)
    return {"typology": typology, "difficulty": difficulty, "lang": lang, "out": str(out),
            "trainee": str(paths["trainee"]), "answer_key": str(paths["answer_key"]),
            "btc_blocks": len(world.btc_blocks), "btc_transactions": world.btc.n_txs,
            "eth_blocks": len(world.evm.blocks), "eth_transactions": world.evm.n_txs,
            "entities": len(world.entities), "questions": [q.id for q in questions_for(key, lang)]}


def trainee_seed(class_seed: int, trainee: str) -> int:
    """The variant seed of one trainee: a hash of the class seed and the trainee's name (63 bits)."""
    h = hashlib.sha256(f"chainsleuth-class:{class_seed}:{trainee}".encode()).digest()
    return int.from_bytes(h[:8], "big") >> 1


def read_trainees(path: Path | None, count: int | None) -> list[str]:
    """Trainee names from a file (one per line; blank lines and # comments ignored) or ``trainee-01..N``."""
    if path is not None:
        try:
            names = [ln.split("#", 1)[0].strip() for ln in path.read_text(encoding="utf-8").splitlines()]
        except FileNotFoundError:
            raise NotFound(f"no trainee list at {path}", file=str(path)) from None
        names = [n for n in names if n]
        if not names:
            raise InvalidInput(f"trainee list {path} names nobody", file=str(path))
        if len(set(names)) != len(names):
            raise InvalidInput(f"trainee list {path} names someone twice", file=str(path))
        return names
    if not count or count < 1:
        raise InvalidInput("give a trainee list (--trainees FILE) or a count (--count N)", field="--count",
                           value=count)
    return [f"trainee-{i:02d}" for i in range(1, count + 1)]


def _folder_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "trainee"


def class_new(class_seed: int, trainees: list[str], out: Path, *, typology: str, difficulty: int,
              size: int = DEFAULT_SIZE, lang: str = "en") -> dict[str, Any]:
    """One variant per trainee (same story, different addresses and amounts) and a roster."""
    out.mkdir(parents=True, exist_ok=True)
    roster = []
    for name in trainees:
        seed = trainee_seed(class_seed, name)
        folder = out / _folder_name(name)
        generate(typology, difficulty, seed, folder, size=size, lang=lang)
        roster.append({"trainee": name, "folder": folder.name, "seed": seed})
    (out / "roster.json").write_text(json.dumps({"class_seed": class_seed, "typology": typology,
                                                 "difficulty": difficulty, "lang": lang, "size": size,
                                                 "trainees": roster}, indent=1, ensure_ascii=False) + "\n",
                                     encoding="utf-8")
    return {"out": str(out), "typology": typology, "difficulty": difficulty, "lang": lang, "trainees": roster}


def _trainee_dir(case: Path) -> Path:
    if (case / "trainee").is_dir():
        return case / "trainee"
    if (case / "questions.json").is_file():
        return case
    raise NotFound(f"{case} is not a training case folder (no trainee/ or questions.json)", file=str(case))


def _key_for(case: Path, key: Path | None) -> AnswerKey:
    if key is not None:
        return AnswerKey.load(key)
    t = _trainee_dir(case)
    for cand in (t.parent / "answer_key.json", case / "answer_key.json"):
        if cand.is_file():
            return AnswerKey.load(cand)
    raise NotFound(f"no answer key for {case}; pass --key PATH", file=str(case))


def _load(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotFound(f"missing {path}", file=str(path)) from None
    except json.JSONDecodeError as e:
        raise InvalidInput(f"{path} is not JSON: {e.msg}", file=str(path), offset=e.pos) from None


def brief(case: Path, *, lang: str | None = None) -> dict[str, Any]:
    """The brief and questions of a case (re-rendered in ``lang`` when the answer key is beside it)."""
    t = _trainee_dir(case)
    meta = _load(t / "case.json")
    if lang is not None and lang != meta.get("lang"):
        from chainsleuth.training.exercises import brief_markdown, questions_json

        key = _key_for(case, None)
        return {"lang": lang, "brief": brief_markdown(key, lang), "questions": questions_json(key, lang)["questions"]}
    qs = _load(t / "questions.json")
    return {"lang": meta.get("lang", "en"), "brief": (t / "brief.md").read_text(encoding="utf-8"),
            "questions": qs["questions"]}


def answer(case: Path, qid: str, values: list[str], *, hint: bool = False) -> dict[str, Any]:
    """Record an answer (or reveal the next hint, which is recorded and costs points)."""
    t = _trainee_dir(case)
    qs = {q["id"]: q for q in _load(t / "questions.json")["questions"]}
    if qid not in qs:
        raise InvalidInput(f"unknown question {qid!r}; questions: {', '.join(qs)}", field="QUESTION", value=qid)
    path = t / "answers.json"
    state = _load(path) if path.exists() else {"answers": {}, "hints": {}}
    q = qs[qid]
    out: dict[str, Any] = {"question": qid}
    if hint:
        n = int(state["hints"].get(qid, 0))
        if n >= len(q["hints"]):
            raise InvalidInput(f"question {qid} has no more hints ({len(q['hints'])} used)", value=qid)
        state["hints"][qid] = n + 1
        out["hint"] = base64.b64decode(q["hints"][n]).decode()
        out["hints_used"] = n + 1
    else:
        if not values:
            raise InvalidInput("give the answer value(s)", field="VALUE")
        if q["kind"] == "amounts":
            check_amount_answer(list(values))
        if q["kind"] in ("set", "amounts"):
            state["answers"][qid] = list(values)
        else:
            state["answers"][qid] = values[0]
        out["answer"] = state["answers"][qid]
    path.write_text(json.dumps(state, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return out


def _answers_of(case: Path, answers: Path | None) -> dict[str, Any]:
    p = answers or _trainee_dir(case) / "answers.json"
    return _load(p) if p.exists() else {"answers": {}, "hints": {}}


def grade_folder(case: Path, *, key: Path | None = None, answers: Path | None = None,
                 lang: str | None = None) -> dict[str, Any]:
    """Grade one case folder; a class folder (with ``roster.json``) grades every trainee's case."""
    if (case / "roster.json").is_file() and key is None and answers is None:
        roster = _load(case / "roster.json")
        rows = []
        for r in roster["trainees"]:
            g = grade_folder(case / r["folder"], lang=lang)
            rows.append({"trainee": r["trainee"], "folder": r["folder"], "score": g["score"], "total": g["total"],
                         "answered": sum(1 for q in g["questions"] if q["answer"] not in (None, "", [])),
                         "questions": len(g["questions"]),
                         "hints_used": sum(q["hints_used"] for q in g["questions"])})
        return {"class": str(case), "typology": roster["typology"], "difficulty": roster["difficulty"],
                "trainees": rows}
    k = _key_for(case, key)
    st = _answers_of(case, answers)
    lg = lang or _load(_trainee_dir(case) / "case.json").get("lang", "en")
    return grade(k, st.get("answers", {}), st.get("hints", {}), lang=lg)


def debrief(case: Path, *, key: Path | None = None, answers: Path | None = None,
            lang: str | None = None) -> dict[str, Any]:
    """What the trainee found beside the truth: graded answers, the laundering path, cash-outs and hops."""
    k = _key_for(case, key)
    g = grade_folder(case, key=key, answers=answers, lang=lang)
    return {**g, "typology": k.typology, "difficulty": k.difficulty,
            "path": [{"step": p.step, "chain": p.chain, "txid": p.txid, "from": k.entities[p.from_entity].name,
                      "to": k.entities[p.to_entity].name, "amount": p.amount, "asset": p.asset,
                      "amount_text": format_amount(p.amount, p.asset), "note": p.note} for p in k.path],
            "cashouts": [{"service": c.entity_name, "chain": c.chain, "address": c.address, "amount": c.amount,
                          "asset": c.asset, "amount_text": format_amount(c.amount, c.asset), "txids": list(c.txids)}
                         for c in k.cashouts],
            "hops": [h.__dict__ for h in k.hops]}
