"""The progress protocol: long jobs report here and never print.

The CLI injects a Rich progress bar (rate and ETA), the API a job-status recorder, tests the silent one.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["NullProgress", "Progress"]


class Progress(Protocol):
    def start(self, task: str, total: float | None = None, unit: str = "") -> None:
        """Begin a task; ``total`` may be unknown."""

    def advance(self, amount: float = 1, **info: object) -> None:
        """Move the current task forward by ``amount`` units."""

    def note(self, message: str) -> None:
        """A line of status (skipped records, warnings) shown beside the bar."""

    def finish(self) -> None:
        """End the current task."""


class NullProgress:
    """Silent progress, for tests and library use. Keeps the notes so tests can read them."""

    def __init__(self) -> None:
        self.notes: list[str] = []
        self.done: float = 0

    def start(self, task: str, total: float | None = None, unit: str = "") -> None:
        self.done = 0

    def advance(self, amount: float = 1, **info: object) -> None:
        self.done += amount

    def note(self, message: str) -> None:
        self.notes.append(message)

    def finish(self) -> None:
        pass
