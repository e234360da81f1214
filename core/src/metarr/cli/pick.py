"""A person choosing among candidates at a terminal: ``search --pick`` and ``queue review``.

The candidates are numbered cards (`metarr.cli.output.candidate_card`); one prompt takes a
number (this one), ``n`` (none of these), ``s`` (search again with another title or year),
``? N`` (everything known about one), Enter (skip) or ``q`` (skip, and stop a review).
Anything else re-asks with a one-line hint.

Prompts run between the steps of one event loop (`Interactive`), never inside it, so Ctrl-C
at a prompt raises `KeyboardInterrupt` at once (exit 130); during a step it cancels the step,
whose commit is one transaction: it happened whole or not at all.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import TextIO, TypeVar

import attrs
import click

from metarr.cli import exits, loop, output
from metarr.cli.state import CliState
from metarr.errors import InvalidIdError
from metarr.models import Candidate, Outcome, SearchResult
from metarr.orchestrator import Orchestrator
from metarr.query import Query

T = TypeVar("T")


@attrs.frozen
class Chosen:
    """The person chose this candidate."""

    candidate: Candidate


@attrs.frozen
class NoneOfThese:
    """None of the candidates is the movie (recorded: it stays queued, marked reviewed)."""


@attrs.frozen
class SearchAgain:
    """Search again for this title and year."""

    query: Query


@attrs.frozen
class Skip:
    """Decide nothing now; ``stop`` ends a review (``q``)."""

    stop: bool = False


Choice = Chosen | NoneOfThese | SearchAgain | Skip


def terminal(*, as_json: bool, what: str) -> TextIO:
    """The stream to show cards and prompts on: stdout when it is a terminal (stderr with
    ``--json`` or when stdout is redirected). Without a terminal to ask on, one clear error
    and exit 2."""
    screen = sys.stderr if as_json or not sys.stdout.isatty() else sys.stdout
    for name, stream in (("its input", sys.stdin), ("its output", screen)):
        if not stream.isatty():
            raise exits.CliError(
                f"{what} asks a person at a terminal, and {name} is not one; in scripts use "
                "metarr search --choose N or metarr resolve KEY --tmdb ID",
                exits.USAGE,
            )
    return screen


class Prompt:
    """Asks which candidate, on ``screen``, reading lines from stdin."""

    def __init__(self, screen: TextIO) -> None:
        self.screen = screen

    def show(self, text: str = "") -> None:
        """A line on the screen."""
        click.echo(text, file=self.screen)

    def read(self, text: str) -> str:
        """One answer (stripped); end of input reads as ``q``."""
        click.echo(text, file=self.screen, nl=False)
        self.screen.flush()
        try:
            line = sys.stdin.readline()
        except KeyboardInterrupt:
            click.echo("", file=self.screen)  # the error goes on a line of its own
            raise
        return line.strip() if line else "q"

    def choose(self, candidates: Sequence[Candidate], query: Query) -> Choice:
        """Ask until the answer is one of the choices (``?`` shows details and asks again)."""
        count = len(candidates)
        numbers = f"1-{count}, " if count > 1 else ("1, " if count else "")
        ask = f"Choose {numbers}n none of these, s search again, ? N details, Enter skip, q quit: "
        hint = (
            f"type a number from 1 to {count}, " if count else "there is nothing to choose; "
        ) + "n, s, ? N, q or Enter"
        while True:
            answer = self.read(ask)
            word = answer.lower()
            if word in ("", "q"):
                return Skip(stop=word == "q")
            if word == "n":
                return NoneOfThese()
            if word == "s":
                again = self._query(query)
                if again is not None:
                    return SearchAgain(again)
                continue
            if word.startswith("?"):
                number = _number(word[1:].strip() or self.read("Details of which number? "), count)
                if number is None:
                    self.show(f"hint: {hint}")
                    continue
                self.show("\n".join(output.candidate_details(candidates[number - 1])))
                continue
            number = _number(word, count)
            if number is not None:
                return Chosen(candidates[number - 1])
            self.show(f"hint: {hint}")

    def _query(self, query: Query) -> Query | None:
        """Another title and year to search for (Enter keeps each; ``-`` drops the year)."""
        title = self.read(f"Title [{output.safe(query.title or '')}]: ") or query.title
        shown = query.year if query.year is not None else "none"
        year_text = self.read(f"Year [{shown}] (- for none): ")
        try:
            year = None if year_text == "-" else (year_text or query.year)
            return Query(title=title, year=year)
        except InvalidIdError as exc:
            self.show(f"hint: {exc}")
            return None


def searching(query: Query, details: int) -> Callable[[Orchestrator], Awaitable[SearchResult]]:
    """The step that searches for ``query``, fetching details for ``details`` candidates."""
    return lambda orc: orc.search(query.title or "", query.year, details=details)


def choosing(
    key: str, candidate: Candidate, search: SearchResult | None
) -> Callable[[Orchestrator], Awaitable[tuple[Outcome, dict[str, int]]]]:
    """The step that commits a person's choice for ``key`` (reusing ``search``'s responses):
    its outcome and the requests it sent, by provider."""

    async def step(orc: Orchestrator) -> tuple[Outcome, dict[str, int]]:
        before = Counter(orc.stats.requests)
        outcome = await orc.choose(key, candidate, search=search)
        return outcome, dict(Counter(orc.stats.requests) - before)

    return step


def _number(text: str, count: int) -> int | None:
    return int(text) if text.isdigit() and 1 <= int(text) <= count else None


class Interactive:
    """One orchestrator and one event loop kept open across prompts: each step runs on the
    loop (`run`), each prompt between steps, outside it."""

    def __init__(self, state: CliState) -> None:
        self._state = state
        self._runner = loop.runner()
        self._orchestrator: Orchestrator | None = None

    def __enter__(self) -> Interactive:
        settings = self._state.load_settings()

        async def open_() -> Orchestrator:
            return self._state.orchestrator(settings)

        self._orchestrator = self._runner.run(open_())
        return self

    def run(self, step: Callable[[Orchestrator], Awaitable[T]]) -> T:
        """Run one step with the orchestrator, on the loop."""
        assert self._orchestrator is not None
        orchestrator = self._orchestrator

        async def go() -> T:
            return await step(orchestrator)

        return self._runner.run(go())

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if self._orchestrator is not None:
                self._runner.run(self._orchestrator.aclose())
        finally:
            self._runner.close()
