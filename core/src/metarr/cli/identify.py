"""Identification commands: ``lookup``, ``identify``, ``search``, ``queue`` and ``resolve``."""

from __future__ import annotations

import shlex
from typing import Any

import click

from metarr.cache import Cache
from metarr.cli import exits, output
from metarr.cli.common import finish, id_options, ids_from_options, json_option, show_outcome
from metarr.cli.state import get_state
from metarr.engine import Identification
from metarr.models import Candidate, Outcome
from metarr.orchestrator import Orchestrator
from metarr.query import Query


@click.command()
@id_options
@click.option("--refresh", is_flag=True, help="Ask every provider again, even if cached and fresh.")
@json_option
def lookup(
    tmdb: str | None, imdb: str | None, tvdb: str | None, refresh: bool, as_json: bool
) -> None:
    """Look a movie up by id with every provider, merge and cache it.

    A fresh cached movie costs no request; --refresh asks again.
    """
    ids = ids_from_options(tmdb, imdb, tvdb)

    async def work(orc: Orchestrator) -> Identification:
        return await orc.run(Query(ids=ids), interactive=True, refresh=refresh)

    identification = get_state().run(work)
    show_outcome(
        identification.outcome, as_json=as_json, requests=identification.requests_by_provider
    )


@click.command()
@click.argument("title")
@click.option("--year", type=int, help="Release year.")
@click.option("--explain", is_flag=True, help="Show every candidate's score and the deciding rule.")
@json_option
def identify(title: str, year: int | None, explain: bool, as_json: bool) -> None:
    """Identify a movie from its TITLE (and --year), the way automation does.

    Only a single confident match is identified and cached; anything else is queued for a
    person (see `metarr queue`).
    """
    query = Query(title=title, year=year)

    async def work(orc: Orchestrator) -> Identification:
        return await orc.run(query)

    identification = get_state().run(work)
    show_outcome(
        identification.outcome,
        as_json=as_json,
        requests=identification.requests_by_provider,
        explain=explain,
    )


@click.command()
@click.argument("query")
@click.option("--year", type=int, help="Release year.")
@click.option("--pick", is_flag=True, help="Ask which candidate to confirm.")
@click.option("--choose", type=int, metavar="N", help="Confirm candidate number N.")
@json_option
def search(query: str, year: int | None, pick: bool, choose: int | None, as_json: bool) -> None:
    """Search every provider for QUERY and list the candidates.

    With --pick (asks) or --choose N (for scripts) the chosen candidate is confirmed for this
    query: looked up, merged and cached.
    """
    if pick and choose is not None:
        raise exits.CliError("use either --pick or --choose N, not both")
    key = Query(title=query, year=year).input_key

    async def work(orc: Orchestrator) -> tuple[list[Candidate], Outcome | None]:
        candidates = await orc.search(query, year)
        if not candidates or not (pick or choose is not None):
            return candidates, None
        if not as_json:
            click.echo(output.candidates_table(candidates))
        number = choose
        if number is None:
            number = click.prompt(
                "Confirm which candidate? (number)",
                type=click.IntRange(1, len(candidates)),
                err=as_json,
            )
        if not 1 <= number <= len(candidates):
            raise exits.CliError(f"--choose {number}: pick a number from 1 to {len(candidates)}")
        chosen = candidates[number - 1]
        return candidates, await orc.confirm(key, chosen.ids)

    candidates, outcome = get_state().run(work)
    if not candidates:
        if as_json:
            output.echo_json([])
        else:
            click.echo(f"no candidates for {output.label(query, year)}")
        finish(exits.NEEDS_PERSON)
        return
    if outcome is None:
        if as_json:
            output.echo_json(candidates)
        else:
            click.echo(output.candidates_table(candidates))
        return
    if not as_json:
        click.echo("")
    show_outcome(outcome, as_json=as_json)


def _input_text(data: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in data.items())


@click.command()
@json_option
def queue(as_json: bool) -> None:
    """What needs a person: ambiguous, not-found and conflicting inputs, with candidates."""

    async def work(orc: Orchestrator) -> tuple[list[Any], int, int]:
        items = await orc.queue()
        stats = await orc.with_cache(Cache.stats)
        return items, stats.retry_queue, stats.retries_due

    items, retries, due = get_state().run(work)
    if as_json:
        output.echo_json(items)
        return
    if not items:
        click.echo("nothing needs a person")
    for item in items:
        click.echo(
            click.style(item.key, bold=True) + f"  {output.styled_status(item.status)}"
            f"  (queued {item.queued_at:%Y-%m-%d %H:%M} UTC; input {_input_text(item.input)})"
        )
        for reason in item.reasons:
            click.echo(f"  - {reason}")
        if item.candidates:
            click.echo(output.candidates_table(item.candidates, indent=2))
        click.echo(
            f"  resolve with: metarr resolve {_quote(item.key)} --tmdb ID (or --imdb/--tvdb)"
        )
        click.echo("")
    if retries:
        click.echo(
            f"{retries} waiting to be retried ({due} due now): rerun the batch to retry them"
        )


def _quote(text: str) -> str:
    return shlex.quote(text)


@click.command()
@click.argument("key")
@id_options
@json_option
def resolve(key: str, tmdb: str | None, imdb: str | None, tvdb: str | None, as_json: bool) -> None:
    """Settle KEY from the queue: these ids are the movie (a person's choice, never overridden)."""
    ids = ids_from_options(tmdb, imdb, tvdb)

    async def work(orc: Orchestrator) -> tuple[Outcome, bool]:
        known = any(item.key == key for item in await orc.queue())
        return await orc.confirm(key, ids), known

    outcome, known = get_state().run(work)
    if not known and not as_json:
        click.echo(f"note: {key!r} was not in the queue; the choice is recorded anyway", err=True)
    show_outcome(outcome, as_json=as_json)
