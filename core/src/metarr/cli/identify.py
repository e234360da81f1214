"""Identification commands: ``lookup``, ``identify``, ``search``, ``queue`` and ``resolve``."""

from __future__ import annotations

import shlex
from collections import Counter
from typing import TYPE_CHECKING, Any, TextIO

import attrs
import click

from metarr.cache import QueuedIdentification
from metarr.cli import exits, output
from metarr.cli.common import finish, id_options, ids_from_options, json_option, show_outcome
from metarr.cli.state import get_state
from metarr.engine import Identification
from metarr.errors import InvalidIdError
from metarr.models import NEEDS_PERSON, Outcome, SearchResult
from metarr.orchestrator import SEARCH_DETAILS, Orchestrator
from metarr.query import Query

if TYPE_CHECKING:  # the prompt (`metarr.cli.pick`) is imported by the commands that ask
    from metarr.cli.pick import Interactive, Prompt


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
@click.option("--pick", is_flag=True, help="Show cards and ask which candidate to confirm.")
@click.option("--choose", type=int, metavar="N", help="Confirm candidate number N (scripts).")
@click.option(
    "--details",
    type=click.IntRange(min=0),
    default=SEARCH_DETAILS,
    show_default=True,
    metavar="N",
    help="Fetch details (director, cast, runtime, IMDb rating, …) for the first N candidates.",
)
@json_option
def search(
    query: str, year: int | None, pick: bool, choose: int | None, details: int, as_json: bool
) -> None:
    """Search every provider for QUERY and list the candidates, with what tells them apart.

    With --pick (asks, at a terminal) or --choose N (for scripts) the chosen candidate is
    confirmed for this query: looked up, merged and cached; --pick also offers n (none of
    these: the input stays queued, marked reviewed), s (search again), ? N (details).
    """
    if pick and choose is not None:
        raise exits.CliError("use either --pick or --choose N, not both")
    asked = Query(title=query, year=year)
    if pick:
        from metarr.cli.pick import terminal

        screen = terminal(as_json=as_json, what="--pick")
        _pick(asked, details, as_json, screen)
        return
    shown = 0 if choose is not None else details

    async def work(orc: Orchestrator) -> tuple[SearchResult, Outcome | None]:
        result = await orc.search(query, year, details=shown)
        if choose is None or not result.candidates:
            return result, None
        if not 1 <= choose <= len(result.candidates):
            raise exits.CliError(
                f"--choose {choose}: pick a number from 1 to {len(result.candidates)}"
            )
        chosen = result.candidates[choose - 1]
        return result, await orc.choose(asked.input_key, chosen, search=result)

    result, outcome = get_state().run(work)
    if outcome is None:
        _show_search(result, as_json=as_json)
        return
    if not as_json:
        click.echo(output.candidate_cards(result.candidates))
        click.echo("")
    show_outcome(outcome, as_json=as_json)


def _show_search(result: SearchResult, *, as_json: bool) -> None:
    """Print a search result and end with its exit code: 3 when nothing was found, 5 (4 when
    rate limited) when no provider could search, 2 when none can."""
    if as_json:
        output.echo_json(result)
    elif result.status == "blocked":
        raise exits.CliError("; ".join(result.reasons), exits.USAGE)
    else:
        click.echo("\n".join(_search_lines(result)))
    finish(_search_exit(result))


def _search_lines(result: SearchResult) -> list[str]:
    lines: list[str] = []
    if result.candidates:
        lines.append(output.candidate_cards(result.candidates))
    elif result.searched:
        lines.append(f"no candidates for {output.label(result.query, result.year)}")
    else:
        lines.append(f"could not search for {output.label(result.query, result.year)}")
    lines.append("")
    lines.append(
        f"{click.style('providers', bold=True)}  {output.providers_line(result.providers)}"
    )
    lines.append(f"{click.style('requests', bold=True)}   {output.requests_line(result.requests)}")
    if result.reasons:
        lines.append(click.style("reasons", bold=True))
        lines.extend(f"  - {output.safe(reason)}" for reason in result.reasons)
    return lines


def _search_exit(result: SearchResult) -> int:
    if not result.searched:
        return exits.for_status(result.status)
    return exits.OK if result.candidates else exits.NEEDS_PERSON


def _pick(asked: Query, details: int, as_json: bool, screen: TextIO) -> None:
    """``search --pick``: cards, one prompt, and the choice recorded for ``asked``'s key."""
    from metarr.cli.pick import (
        Chosen,
        Interactive,
        NoneOfThese,
        Prompt,
        SearchAgain,
        choosing,
        searching,
    )

    prompt = Prompt(screen)
    query = asked
    with Interactive(get_state()) as session:
        while True:
            result = session.run(searching(query, details))
            if not result.searched:
                _show_search(result, as_json=as_json)
                return
            prompt.show(output.candidate_cards(result.candidates) or _nothing(result))
            choice = prompt.choose(result.candidates, query)
            if isinstance(choice, SearchAgain):
                query = choice.query
                continue
            break
        if isinstance(choice, Chosen):
            outcome, requests = session.run(choosing(asked.input_key, choice.candidate, result))
            prompt.show("")
            show_outcome(outcome, as_json=as_json, requests=requests)
            return
        if isinstance(choice, NoneOfThese):
            session.run(lambda orc: orc.none_of_these(asked, search=result))
            prompt.show(
                f"recorded: none of these is {output.label(asked.title, asked.year)}; it stays "
                "in the queue, marked reviewed (metarr queue)"
            )
        else:
            prompt.show("skipped: nothing recorded")
    finish(exits.NEEDS_PERSON)


def _nothing(result: SearchResult) -> str:
    return f"no candidates for {output.label(result.query, result.year)}"


def _input_text(data: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in data.items())


@click.group(invoke_without_command=True)
@json_option
@click.pass_context
def queue(ctx: click.Context, as_json: bool) -> None:
    """What needs a person: ambiguous, not-found and conflicting inputs, with their candidates
    and what tells them apart (no request is sent). `metarr queue review` settles them."""
    if ctx.invoked_subcommand is not None:
        return

    async def work(orc: Orchestrator) -> tuple[list[QueuedIdentification], int, int]:
        from metarr.cache.api import Cache  # (not with the lookup command: see `Orchestrator.open`)

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
        click.echo("\n".join(_entry_lines(item)))
        if item.candidates:
            click.echo(output.candidate_cards(item.candidates, indent=2))
        click.echo(
            f"  resolve with: metarr resolve {_quote(item.key)} --tmdb ID (or --imdb/--tvdb), "
            "or metarr queue review"
        )
        click.echo("")
    if retries:
        click.echo(
            f"{retries} waiting to be retried ({due} due now): rerun the batch to retry them"
        )


def _entry_lines(item: QueuedIdentification) -> list[str]:
    """A queue entry's head line and reasons."""
    reviewed = (
        f"; reviewed {item.reviewed_at:%Y-%m-%d %H:%M} UTC, none chosen"
        if item.reviewed_at is not None
        else ""
    )
    head = (
        output.style(item.key, bold=True) + f"  {output.styled_status(item.status)}"
        f"  (queued {item.queued_at:%Y-%m-%d %H:%M} UTC{reviewed}; "
        f"input {output.safe(_input_text(item.input))})"
    )
    return [head, *(f"  - {output.safe(reason)}" for reason in item.reasons)]


@queue.command("review")
@click.option("--key", "keys", multiple=True, metavar="KEY", help="Review this entry (repeatable).")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(sorted(NEEDS_PERSON)),
    help="Review only entries with this status (repeatable).",
)
@click.option(
    "--reviewed", is_flag=True, help="Include entries already reviewed (none chosen before)."
)
@click.option(
    "--details",
    type=click.IntRange(min=0),
    default=SEARCH_DETAILS,
    show_default=True,
    metavar="N",
    help="When searching again (s): fetch details for the first N candidates.",
)
def review(keys: tuple[str, ...], statuses: tuple[str, ...], reviewed: bool, details: int) -> None:
    """Walk the queue, oldest first, and settle each entry with the same prompt as
    search --pick. Each choice is committed at once as a person's identity (Ctrl-C later loses
    nothing already chosen); n marks an entry reviewed (it stays queued). Ends with a summary.
    """
    from metarr.cli.pick import Interactive, Prompt, terminal

    screen = terminal(as_json=False, what="metarr queue review")
    prompt = Prompt(screen)
    tally: Counter[str] = Counter()
    codes: list[int] = []
    with Interactive(get_state()) as session:
        items = session.run(_queue_items)
        todo = [
            item
            for item in items
            if (not keys or item.key in keys)
            and (not statuses or item.status in statuses)
            and (reviewed or keys or item.reviewed_at is None)
        ]
        missing = [key for key in keys if key not in {item.key for item in items}]
        if missing:
            raise exits.CliError(f"not in the queue: {', '.join(map(repr, missing))}")
        if not todo:
            prompt.show("nothing to review" + ("" if reviewed else " (--reviewed: reviewed too)"))
            return
        try:
            for index, item in enumerate(todo, start=1):
                decision, code = _review(session, prompt, item, f"[{index}/{len(todo)}]", details)
                tally[decision] += 1
                codes.append(code)
                if decision == "stopped":
                    break
        except KeyboardInterrupt:
            summary = _summary(tally, len(todo))
            raise exits.CliError(f"interrupted; {summary}", exits.INTERRUPTED) from None
    prompt.show("")
    prompt.show(_summary(tally, len(todo)))
    finish(exits.worst(codes))


async def _queue_items(orc: Orchestrator) -> list[QueuedIdentification]:
    return await orc.queue()


def _review(
    session: Interactive, prompt: Prompt, item: QueuedIdentification, place: str, details: int
) -> tuple[str, int]:
    """One entry: ``chosen``, ``failed`` (chosen, not identified), ``none``, ``skipped`` or
    ``stopped`` (q), with the exit code it stands for."""
    from metarr.cli.pick import Chosen, NoneOfThese, SearchAgain, choosing, searching

    prompt.show("")
    width = output.CARD_WIDTH
    prompt.show(f"{place} {output.styled_status(item.status)}  {output.style(item.key, bold=True)}")
    when = f"queued {item.queued_at:%Y-%m-%d %H:%M} UTC; input {_input_text(item.input)}"
    prompt.show("  " + output.shorten(when, width - 2))
    for reason in item.reasons:
        prompt.show("  - " + output.shorten(reason, width - 4))
    query = _query_of(item)
    candidates = item.candidates
    result: SearchResult | None = None
    while True:
        prompt.show(output.candidate_cards(candidates) or "  (no candidates)")
        choice = prompt.choose(candidates, query)
        if isinstance(choice, SearchAgain):
            found = session.run(searching(choice.query, details))
            if not found.searched:
                prompt.show("could not search: " + output.safe("; ".join(found.reasons)))
                continue
            query, result, candidates = choice.query, found, found.candidates
            continue
        break
    if isinstance(choice, Chosen):
        outcome, _ = session.run(choosing(item.key, choice.candidate, result))
        prompt.show(_outcome_line(outcome))
        ok = outcome.status == "identified"
        return ("chosen" if ok else "failed"), exits.for_status(outcome.status)
    if isinstance(choice, NoneOfThese):
        stays = query if query.input_key == item.key else _query_of(item)
        session.run(lambda orc: orc.none_of_these(stays))
        prompt.show("recorded: none of these; it stays queued, marked reviewed")
        return "none", exits.OK
    return ("stopped" if choice.stop else "skipped"), exits.OK


def _query_of(item: QueuedIdentification) -> Query:
    """The queued input as a query under its queue key (a title-less one searches for '')."""
    try:
        query = Query.from_input(item.input)
    except (InvalidIdError, TypeError, ValueError):
        return Query(title=item.key, key=item.key)
    return query if query.input_key == item.key else attrs.evolve(query, key=item.key)


def _outcome_line(outcome: Outcome) -> str:
    status = output.styled_status(outcome.status)
    if outcome.movie is not None:
        movie = outcome.movie
        return f"→ {status}  {output.label(movie.title, movie.year)}  {movie.ids}"
    return f"→ {status}  " + output.safe("; ".join(outcome.reasons))


def _summary(tally: Counter[str], total: int) -> str:
    stopped = tally["stopped"]
    reached = sum(tally.values())
    parts = [
        f"chosen {tally['chosen']}",
        f"none {tally['none']}",
        f"skipped {tally['skipped'] + stopped}",
        f"left {total - reached}",
    ]
    if tally["failed"]:
        parts.insert(1, f"failed {tally['failed']}")
    return f"reviewed {reached} of {total}: " + " · ".join(parts)


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
