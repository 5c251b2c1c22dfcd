"""Grading: full marks for the truth, partial credit, tolerance, hint costs, feedback that explains."""

from __future__ import annotations

import pytest

from chainsleuth.errors import InvalidInput
from chainsleuth.training import generate_world
from chainsleuth.training.exercises import HINT_COST, questions_for
from chainsleuth.training.grading import grade
from chainsleuth.training.i18n import format_amount


@pytest.fixture(scope="module")
def key():
    return generate_world("ransomware", 3, 8, size=200)[1]


def _truth(key) -> dict:
    a = key.answers
    return {
        "exchanges": [f"{key.entities[x['exchange']].name} = {format_amount(v, asset)}"
                      for x in a["exchanges"] for asset, v in x["amounts"].items()],
        "deposit_addresses": [x["address"] for x in a["deposit_addresses"]],
        "mixer": a["mixer"]["types"],
        "cluster": a["cluster"]["addresses"],
        "hop": key.hops[0].to_txid,
    }


def test_the_truth_scores_full_marks(key) -> None:
    qs = questions_for(key)
    assert {q.id for q in qs} == {"exchanges", "deposit_addresses", "mixer", "cluster", "hop"}
    g = grade(key, _truth(key))
    assert g["score"] == g["total"] == sum(q.points for q in qs)
    assert all(q["credit"] == 1.0 for q in g["questions"])


def test_nothing_scores_zero_with_feedback(key) -> None:
    g = grade(key, {})
    assert g["score"] == 0
    for q in g["questions"]:
        assert q["feedback"].startswith("Not answered.")
        assert len(q["feedback"]) > len("Not answered. ")      # the truth is explained


def test_partial_credit_and_tolerance(key) -> None:
    t = _truth(key)
    # amounts off by 0.5%: full credit; by 5%: half; one exchange missing: its share lost
    ex = key.answers["exchanges"]
    near = [f"{key.entities[x['exchange']].name} = {format_amount(v * 1005 // 1000, a)}"
            for x in ex for a, v in x["amounts"].items()]
    far = [f"{key.entities[x['exchange']].name} = {format_amount(v * 105 // 100, a)}"
           for x in ex for a, v in x["amounts"].items()]
    res = {q["id"]: q for q in grade(key, {**t, "exchanges": near})["questions"]}
    assert res["exchanges"]["credit"] == 1.0
    res = {q["id"]: q for q in grade(key, {**t, "exchanges": far})["questions"]}
    assert res["exchanges"]["credit"] == pytest.approx(0.5)
    res = {q["id"]: q for q in grade(key, {**t, "exchanges": near[:-1]})["questions"]}
    assert 0 < res["exchanges"]["credit"] < 1
    # half of the deposit addresses: F1 = 2/3
    deps = t["deposit_addresses"]
    if len(deps) >= 2:
        half = deps[: len(deps) // 2]
        res = {q["id"]: q for q in grade(key, {**t, "deposit_addresses": half})["questions"]}
        p, r = 1.0, len(half) / len(deps)
        assert res["deposit_addresses"]["credit"] == pytest.approx(2 * p * r / (p + r), abs=1e-4)
    # the hop's departure instead of its arrival: half credit
    res = {q["id"]: q for q in grade(key, {**t, "hop": key.hops[0].from_txid})["questions"]}
    assert res["hop"]["credit"] == 0.5
    # a wrong mixer type: nothing
    res = {q["id"]: q for q in grade(key, {**t, "mixer": "custodial"})["questions"]}
    assert res["mixer"]["credit"] == 0.0


def test_hints_cost_points(key) -> None:
    t = _truth(key)
    full = grade(key, t)["score"]
    g = grade(key, t, {"cluster": 2, "hop": 1})
    assert g["score"] == full - 3 * HINT_COST
    q = {x["id"]: x for x in g["questions"]}
    assert q["cluster"]["hints_used"] == 2 and "Hints used: 2" in q["cluster"]["feedback"]
    assert grade(key, {}, {"hop": 2})["score"] == 0          # never below zero


def test_bad_amounts_are_refused_when_answered_and_score_nothing_when_graded(key) -> None:
    from chainsleuth.training.grading import check_amount_answer

    with pytest.raises(InvalidInput, match="lots"):
        check_amount_answer(["Orca Exchange = lots"])
    with pytest.raises(InvalidInput, match="NAME = AMOUNT"):
        check_amount_answer(["Orca Exchange", "Hanbit Coin"])
    # an answers file edited by hand still grades: the unreadable answer earns nothing, the class report runs
    for bad in (["Orca Exchange = lots"], ["Orca Exchange 1 BTC"]):
        q = next(r for r in grade(key, {"exchanges": bad})["questions"] if r["id"] == "exchanges")
        assert q["credit"] == 0 and q["score"] == 0


def test_feedback_in_thai_and_korean(key) -> None:
    th = grade(key, {}, lang="th")["questions"][0]["feedback"]
    ko = grade(key, {}, lang="ko")["questions"][0]["feedback"]
    assert th.startswith("ยังไม่ได้ตอบ") and ko.startswith("답하지 않았습니다")


def test_services_may_be_named_by_tag_label_or_actor(key) -> None:
    x = key.answers["exchanges"][0]
    e = key.entities[x["exchange"]]
    asset, v = next(iter(x["amounts"].items()))
    actor = e.name.lower().replace(" ", "")
    for name in (e.name.upper(), f"{e.name} hot wallet", actor, e.id):
        g = grade(key, {"exchanges": [f"{name} = {format_amount(v, asset)}"]})
        q = next(q for q in g["questions"] if q["id"] == "exchanges")
        assert q["credit"] > 0, name
