"""Training worlds: generate, ingest, class variants, brief, answer, grade, debrief."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chainsleuth.sources.registry import SOURCES
from chainsleuth.workspace.attribution import AttributionService
from chainsleuth.workspace.ingest import IngestService

__all__ = ["TrainingService"]


class TrainingService:
    """The trainer's and trainee's workflows over generated cases (training/ holds the generators).

    Parameters
    ----------
    ingest : IngestService
        Ingests a case's chain data through the real adapters.
    attribution : AttributionService
        Imports a case's tags.

    Only :meth:`ingest_case` (and :meth:`generate` with ``ingest``) touches the workspace's store.
    """

    def __init__(self, *, ingest: IngestService, attribution: AttributionService) -> None:
        self._ingest = ingest
        self._attribution = attribution

    def generate(self, typology: str, difficulty: int, seed: int, out: str | Path, *, size: int | None = None,
                 lang: str = "en", ingest: bool = False) -> dict[str, Any]:
        """Generate a training world into ``out`` (trainee/ + answer_key.json); optionally ingest it here."""
        from chainsleuth.training.session import generate
        from chainsleuth.training.typologies import DEFAULT_SIZE

        size = DEFAULT_SIZE if size is None else size      # 0 is a size (refused), not the default
        res = generate(typology, difficulty, seed, Path(out), size=size, lang=lang)
        if ingest:
            res["ingest"] = self.ingest_case(out)
        return res

    def ingest_case(self, case: str | Path) -> dict[str, Any]:
        """Ingest a generated world through the real adapters: blk files, ethereum-etl exports, TagPack."""
        t = Path(case) / "trainee" if (Path(case) / "trainee").is_dir() else Path(case)
        out: dict[str, Any] = {"btc": self._ingest.btc_blocks([t / "btc"], allow_invalid_pow=True).model_dump()}
        if "etl" in SOURCES:
            out["eth"] = self._ingest.etl(t / "eth", chain="eth").model_dump()
        else:
            out["eth"] = {"skipped": "this build has no ethereum-etl reader"}
        out["tags"] = self._attribution.import_tags([t / "tags"])
        return out

    def class_new(self, class_seed: int, trainees: list[str], out: str | Path, *, typology: str,
                  difficulty: int, size: int | None = None, lang: str = "en") -> dict[str, Any]:
        """One case variant per trainee (same story, different addresses and amounts), seeded by ``class_seed``."""
        from chainsleuth.training.session import class_new
        from chainsleuth.training.typologies import DEFAULT_SIZE

        return class_new(class_seed, trainees, Path(out), typology=typology, difficulty=difficulty,
                         size=DEFAULT_SIZE if size is None else size, lang=lang)

    @staticmethod
    def read_trainees(path: str | Path | None, count: int | None) -> list[str]:
        """Trainee names from a file (one a line), or ``count`` numbered ones."""
        from chainsleuth.training.session import read_trainees

        return read_trainees(Path(path) if path else None, count)

    def brief(self, case: str | Path, *, lang: str | None = None) -> dict[str, Any]:
        from chainsleuth.training.session import brief

        return brief(Path(case), lang=lang)

    def answer(self, case: str | Path, question: str, values: list[str], *, hint: bool = False) -> dict[str, Any]:
        from chainsleuth.training.session import answer

        return answer(Path(case), question, values, hint=hint)

    def grade(self, case: str | Path, *, key: str | Path | None = None, answers: str | Path | None = None,
              lang: str | None = None) -> dict[str, Any]:
        from chainsleuth.training.session import grade_folder

        return grade_folder(Path(case), key=Path(key) if key else None, answers=Path(answers) if answers else None,
                            lang=lang)

    def debrief(self, case: str | Path, *, key: str | Path | None = None, answers: str | Path | None = None,
                lang: str | None = None) -> dict[str, Any]:
        from chainsleuth.training.session import debrief

        return debrief(Path(case), key=Path(key) if key else None, answers=Path(answers) if answers else None,
                       lang=lang)
