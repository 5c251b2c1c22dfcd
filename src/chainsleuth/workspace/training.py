"""Training worlds: generate, ingest, class variants, brief, answer, grade, debrief.

Part of the :class:`~chainsleuth.workspace.Workspace` facade (see ``workspace/__init__.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chainsleuth.workspace._base import WorkspaceBase

__all__ = ["Training"]


class Training(WorkspaceBase):
    # -- training ---------------------------------------------------------------------------------------
    def train_generate(self, typology: str, difficulty: int, seed: int, out: str | Path, *, size: int | None = None,
                       lang: str = "en", ingest: bool = False) -> dict[str, Any]:
        """Generate a training world into ``out`` (trainee/ + answer_key.json); optionally ingest it here."""
        from chainsleuth.training.session import generate
        from chainsleuth.training.typologies import DEFAULT_SIZE

        res = generate(typology, difficulty, seed, Path(out), size=size or DEFAULT_SIZE, lang=lang)
        if ingest:
            res["ingest"] = self.train_ingest(out)
        return res

    def train_ingest(self, case: str | Path) -> dict[str, Any]:
        """Ingest a generated world through the real adapters: blk files, ethereum-etl exports, TagPack."""
        t = Path(case) / "trainee" if (Path(case) / "trainee").is_dir() else Path(case)
        out: dict[str, Any] = {"btc": self.ingest_btc_blocks([t / "btc"]).model_dump()}
        import importlib.util

        if importlib.util.find_spec("chainsleuth.sources.etl.ethereum") is not None:
            out["eth"] = self.ingest_etl(t / "eth", chain="eth").model_dump()
        else:
            out["eth"] = {"skipped": "this build has no ethereum-etl reader"}
        if hasattr(self, "import_tags"):
            out["tags"] = _jsonable(self.import_tags([t / "tags"]))
        return out

    def train_class_new(self, class_seed: int, trainees: list[str], out: str | Path, *, typology: str,
                        difficulty: int, size: int | None = None, lang: str = "en") -> dict[str, Any]:
        from chainsleuth.training.session import class_new
        from chainsleuth.training.typologies import DEFAULT_SIZE

        return class_new(class_seed, trainees, Path(out), typology=typology, difficulty=difficulty,
                         size=size or DEFAULT_SIZE, lang=lang)

    @staticmethod
    def train_read_trainees(path: str | Path | None, count: int | None) -> list[str]:
        from chainsleuth.training.session import read_trainees

        return read_trainees(Path(path) if path else None, count)

    def train_brief(self, case: str | Path, *, lang: str | None = None) -> dict[str, Any]:
        from chainsleuth.training.session import brief

        return brief(Path(case), lang=lang)

    def train_answer(self, case: str | Path, question: str, values: list[str], *, hint: bool = False) -> dict[str, Any]:
        from chainsleuth.training.session import answer

        return answer(Path(case), question, values, hint=hint)

    def train_grade(self, case: str | Path, *, key: str | Path | None = None, answers: str | Path | None = None,
                    lang: str | None = None) -> dict[str, Any]:
        from chainsleuth.training.session import grade_folder

        return grade_folder(Path(case), key=Path(key) if key else None, answers=Path(answers) if answers else None,
                            lang=lang)

    def train_debrief(self, case: str | Path, *, key: str | Path | None = None, answers: str | Path | None = None,
                      lang: str | None = None) -> dict[str, Any]:
        from chainsleuth.training.session import debrief

        return debrief(Path(case), key=Path(key) if key else None, answers=Path(answers) if answers else None,
                       lang=lang)



def _jsonable(v: Any) -> Any:
    return v.model_dump() if hasattr(v, "model_dump") else v
