"""`up` as an ordered list of small, named, idempotent steps (after kind's create actions).

A step converges one thing and says what it did; a check only looks and says `ok`.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from typing import Callable, Protocol, Sequence


class Outcome(str, Enum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    OK = "ok"  # a check passed; it changed nothing


@dataclass(frozen=True)
class Step:
    name: str
    run: Callable[[], Outcome]


@dataclass(frozen=True)
class StepResult:
    name: str
    outcome: Outcome
    seconds: float
    finished_at: float  # seconds since the run started


class Reporter(Protocol):
    def started(self, name: str) -> None: ...
    def finished(self, result: StepResult) -> None: ...
    def failed(self, name: str, error: Exception) -> None: ...


class Runner:
    def __init__(self, reporter: Reporter):
        self.reporter = reporter
        self.t0 = time.monotonic()
        self.results: list[StepResult] = []

    def run(self, steps: Sequence[Step]) -> None:
        for step in steps:
            self.reporter.started(step.name)
            start = time.monotonic()
            try:
                outcome = step.run()
            except Exception as exc:
                self.reporter.failed(step.name, exc)
                raise
            now = time.monotonic()
            result = StepResult(step.name, outcome, now - start, now - self.t0)
            self.results.append(result)
            self.reporter.finished(result)

    def run_parallel(self, chains: Sequence[Sequence[Step]]) -> None:
        """Independent chains (one per service) run side by side; the first error is raised
        once every chain has stopped, so no step is cut off half-way."""
        with ThreadPoolExecutor(max_workers=len(chains) or 1) as pool:
            futures = [pool.submit(self.run, chain) for chain in chains]
        errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            raise errors[0]
