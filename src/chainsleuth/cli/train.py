"""``chainsleuth train ...``: generate training cases, run a class, answer, grade and debrief."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chainsleuth.cli.console import out_console, print_json, print_kv
from chainsleuth.cli.context import open_workspace
from chainsleuth.errors import Conflict

__all__ = ["app"]

app = typer.Typer(help="Training cases: generate worlds, class variants, briefs, answers, grades, debriefs.",
                  no_args_is_help=True)
class_app = typer.Typer(help="A class: one case variant per trainee.", no_args_is_help=True)
app.add_typer(class_app, name="class")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
LangOpt = Annotated[str, typer.Option("--lang", help="Language of what the trainee reads: en, th or ko.")]
TypologyOpt = Annotated[str, typer.Option("--typology", "-t", help="ransomware, darknet_market, investment_scam, "
                                                                   "exchange_hack or sanctions_evasion.")]
DifficultyOpt = Annotated[int, typer.Option("--difficulty", "-d", min=1, max=3, help="1 (direct) to 3 (hard).")]
SizeOpt = Annotated[int | None, typer.Option("--size", help="About how many background Bitcoin transactions, 100 to 400,000 (default 4,000).")]
CaseArg = Annotated[Path, typer.Argument(help="Case folder (with trainee/ and answer_key.json) or a trainee/ folder.")]
KeyOpt = Annotated[Path | None, typer.Option("--key", help="answer_key.json (default: beside trainee/).")]
AnswersOpt = Annotated[Path | None, typer.Option("--answers", help="answers.json (default: trainee/answers.json).")]


@app.command()
def generate(typology: TypologyOpt, difficulty: DifficultyOpt = 2,
             seed: Annotated[int, typer.Option("--seed", "-s", help="Seed: same seed, same bytes.")] = 0,
             out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("training-case"),
             size: SizeOpt = None, lang: LangOpt = "en",
             ingest: Annotated[bool, typer.Option("--ingest", help="Also ingest it into the workspace.")] = False,
             json_: JsonOpt = False) -> None:
    """Generate one case: trainee/ (blocks, exports, tags, brief, questions) and answer_key.json.

    Example: chainsleuth train generate --typology ransomware --difficulty 2 --seed 7 --out case-7"""
    _keep_answers(out)
    with open_workspace() as ws:
        res = ws.training.generate(typology, difficulty, seed, out, size=size, lang=lang, ingest=ingest)
    if json_:
        print_json(res)
    else:
        print_kv(f"generated {typology} (difficulty {difficulty})",
                 [(k, v) for k, v in res.items() if k not in ("ingest",)])


def _keep_answers(out: Path) -> None:
    """Generating into a folder whose trainees recorded answers would delete them: refuse."""
    if not out.is_dir():
        return
    found = next((f for f in [out / "trainee" / "answers.json", *out.glob("*/trainee/answers.json")] if f.is_file()),
                 None)   # a case folder, or a class folder of cases
    if found is not None:
        raise Conflict(f"{out} holds recorded answers ({found}); generating again would delete them: choose "
                       "another --out or move the folder away", file=str(found))


@class_app.command("new")
def class_new(typology: TypologyOpt, difficulty: DifficultyOpt = 2,
              class_seed: Annotated[int, typer.Option("--class-seed", help="Seed of the whole class.")] = 0,
              trainees: Annotated[Path | None, typer.Option("--trainees", help="File: one trainee name per "
                                                                               "line.")] = None,
              count: Annotated[int | None, typer.Option("--count", help="Or just a number of trainees.")] = None,
              out: Annotated[Path, typer.Option("--out", "-o", help="Class folder.")] = Path("training-class"),
              size: SizeOpt = None, lang: LangOpt = "en", json_: JsonOpt = False) -> None:
    """One variant per trainee from a class seed; roster.json maps trainees to their variant seeds.

    Example: chainsleuth train class new --typology ransomware --count 30 --class-seed 7 --out class-1"""
    _keep_answers(out)
    with open_workspace() as ws:
        from_file = ws.training.read_trainees(trainees, count)
        res = ws.training.class_new(class_seed, from_file, out, typology=typology, difficulty=difficulty,
                                    size=size, lang=lang)
    if json_:
        print_json(res)
    else:
        print_kv(f"class of {len(res['trainees'])} in {res['out']}",
                 [(r["trainee"], r["folder"]) for r in res["trainees"]])


@app.command()
def brief(case: CaseArg, lang: Annotated[str | None, typer.Option("--lang", help="Show in another language "
                                                                                 "(needs the answer key).")] = None,
          json_: JsonOpt = False) -> None:
    """Print the case brief and the questions.

    Example: chainsleuth train brief case-7"""
    with open_workspace() as ws:
        res = ws.training.brief(case, lang=lang)
    if json_:
        print_json(res)
    else:
        out_console.print(res["brief"], markup=False, highlight=False)


@app.command()
def answer(case: CaseArg, question: Annotated[str, typer.Argument(help="Question id (see the brief).")],
           values: Annotated[list[str] | None, typer.Argument(help="Answer value(s).")] = None,
           hint: Annotated[bool, typer.Option("--hint", help="Reveal the next hint (costs points).")] = False,
           json_: JsonOpt = False) -> None:
    """Record an answer in trainee/answers.json, or reveal a hint.

    Example: chainsleuth train answer case-7 q1 1BoatSLRHtKNngkdXEeobR76b53LETtpyT"""
    with open_workspace() as ws:
        res = ws.training.answer(case, question, values or [], hint=hint)
    if json_:
        print_json(res)
    else:
        print_kv(f"question {question}", list(res.items()))


@app.command()
def grade(case: CaseArg, key: KeyOpt = None, answers: AnswersOpt = None,
          lang: Annotated[str | None, typer.Option("--lang", help="Language of the feedback.")] = None,
          json_: JsonOpt = False) -> None:
    """Grade the recorded answers against the answer key (a class folder: every trainee, one row each).

    Example: chainsleuth train grade case-7"""
    with open_workspace() as ws:
        res = ws.training.grade(case, key=key, answers=answers, lang=lang)
    if json_:
        print_json(res)
        return
    if "trainees" in res:
        print_kv(f"class {res['class']}", [(r["trainee"], f"{r['score']}/{r['total']}  answered {r['answered']}/"
                                            f"{r['questions']}  hints {r['hints_used']}") for r in res["trainees"]])
        return
    print_kv(f"score {res['score']} / {res['total']}",
             [(q["id"], f"{q['score']}/{q['points']}  {q['feedback']}") for q in res["questions"]])


@app.command()
def debrief(case: CaseArg, key: KeyOpt = None, answers: AnswersOpt = None,
            lang: Annotated[str | None, typer.Option("--lang", help="Language of the feedback.")] = None,
            json_: JsonOpt = False) -> None:
    """What the trainee found beside the truth: answers, the laundering path, cash-outs, hops.

    Example: chainsleuth train debrief case-7"""
    with open_workspace() as ws:
        res = ws.training.debrief(case, key=key, answers=answers, lang=lang)
    if json_:
        print_json(res)
        return
    print_kv(f"score {res['score']} / {res['total']}",
             [(q["id"], f"{q['score']}/{q['points']}  {q['feedback']}") for q in res["questions"]])
    print_kv("laundering path", [(f"{p['step']:>3} {p['chain']}", f"{p['from']} -> {p['to']}  {p['amount_text']}  "
                                  f"{p['note']}  {p['txid']}") for p in res["path"]])
    print_kv("cash-outs", [(c["service"], f"{c['amount_text']} at {c['address']}") for c in res["cashouts"]])
