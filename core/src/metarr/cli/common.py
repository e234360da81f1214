"""Options and helpers several commands share: id options, id references, ending a command."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import click

from metarr.cli import exits, output
from metarr.errors import InvalidIdError
from metarr.ids import ID_KINDS, Ids, parse_id
from metarr.models import Outcome

F = TypeVar("F", bound=Callable[..., Any])


def id_options(func: F) -> F:
    """``--tmdb``, ``--imdb`` and ``--tvdb`` options."""
    for kind, example in reversed((("tmdb", "603"), ("imdb", "tt0133093"), ("tvdb", "169"))):
        func = click.option(f"--{kind}", metavar="ID", help=f"{kind.upper()} id ({example}).")(func)
    return func


def ids_from_options(tmdb: str | None, imdb: str | None, tvdb: str | None) -> Ids:
    """The ids given as options; at least one is required (exit 2 otherwise)."""
    if tmdb is None and imdb is None and tvdb is None:
        raise exits.CliError("give an id: --tmdb ID, --imdb ID or --tvdb ID")
    return Ids(tmdb=tmdb, imdb=imdb, tvdb=tvdb)


def parse_ref(text: str) -> Ids:
    """An id reference: ``tmdb:603``, ``imdb:tt0133093``, ``tt0133093`` or ``tvdb:81189``.

    A bare number is refused: it could be a TMDB or a TVDB id.
    """
    value = text.strip()
    kind, sep, rest = value.partition(":")
    if sep and kind.strip().lower() in ID_KINDS:
        kind = kind.strip().lower()
        return Ids(**{kind: parse_id(kind, rest.strip())})
    if value.isdigit():
        raise InvalidIdError(
            f"{value!r} is ambiguous: write tmdb:{value} or tvdb:{value} (or imdb:tt…)"
        )
    if value.lower().startswith("tt") or "imdb.com" in value.lower():
        return Ids(imdb=value)
    raise InvalidIdError(
        f"{value!r} is not an id reference: write tmdb:603, imdb:tt0133093 or tvdb:81189"
    )


def json_option(func: F) -> F:
    """``--json``."""
    return click.option("--json", "as_json", is_flag=True, help="Print the JSON contract.")(func)


def show_outcome(
    outcome: Outcome,
    *,
    as_json: bool,
    requests: Mapping[str, int] | None = None,
    explain: bool = False,
) -> None:
    """Print an outcome and end the command with its exit code."""
    if as_json:
        output.echo_json(outcome)
    elif outcome.status == "blocked":
        raise exits.CliError("; ".join(outcome.reasons) or "blocked", exits.USAGE)
    else:
        click.echo("\n".join(output.outcome_lines(outcome, requests=requests, explain=explain)))
    finish(exits.for_status(outcome.status))


def finish(code: int) -> None:
    """End the command with ``code`` (nothing happens for 0)."""
    if code:
        click.get_current_context().exit(code)
