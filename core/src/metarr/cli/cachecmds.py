"""Cache commands: ``cache show|stats|prune|export|repair``, ``refresh``, ``remerge``,
``identities``.

A movie whose stored data cannot be read is named on stderr, one line each, and left out of what
a command goes through (export, remerge, refresh --stale); the command then ends with the exit
code of a cache failure. ``metarr cache repair`` refetches such movies (or drops them).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TextIO

import click

from metarr.cache import Cache, CachedMovie, CacheStats, UnreadableMovieError
from metarr.cache.files import replacing
from metarr.cli import exits, output
from metarr.cli.common import finish, json_option, parse_ref
from metarr.cli.state import get_state
from metarr.convert import to_json
from metarr.errors import StorageError
from metarr.ids import Ids
from metarr.models import Outcome
from metarr.orchestrator import Orchestrator


@click.group()
def cache() -> None:
    """Inspect and maintain the cache (no requests)."""


@cache.command("show")
@click.argument("ref", metavar="ID")
@json_option
def cache_show(ref: str, as_json: bool) -> None:
    """Show the cached movie for ID (tmdb:603, imdb:tt0133093, tt0133093, tvdb:81189)."""
    ids = parse_ref(ref)

    async def work(
        orc: Orchestrator,
    ) -> tuple[CachedMovie | None, list[str], dict[str, tuple[datetime, str]]]:
        cached = await orc.get(ids, parts=True)
        if cached is None:
            return None, [], {}
        # stale by the provider's TTL stretched by the film's age, from the fetch or a later
        # confirmation (a change feed's), as refresh --stale decides
        stale = await orc.with_cache(Cache.stale_providers, cached)
        return cached, stale, await orc.with_cache(Cache.part_checks, cached.id)

    cached, stale, checks = get_state().run(work)
    if cached is None:
        raise exits.CliError(
            f"{ids} is not in the cache: run `metarr lookup --{ids.items()[0][0]} "
            f"{ids.items()[0][1]}`",
            exits.NEEDS_PERSON,
        )
    output.show_cached(cached, output.part_lines(cached), stale, checks, as_json=as_json)


@cache.command("stats")
@json_option
def cache_stats(as_json: bool) -> None:
    """Counts: movies, stale and incomplete ones, queues, identities, size."""

    async def work(orc: Orchestrator) -> tuple[CacheStats, str]:
        providers = _lookup_providers(orc)
        return await orc.with_cache(Cache.stats, providers=providers), str(orc.settings.db)

    stats, path = get_state().run(work)
    if as_json:
        data = to_json(stats)
        data["path"] = path
        output.echo_json(data)
        return
    rows = [
        ("database", path),
        ("size", f"{stats.db_bytes / 1024:.0f} KiB (schema v{stats.schema_version})"),
        ("movies", stats.movies),
        ("stale", stats.stale),
        ("incomplete", stats.incomplete),
    ]
    rows += [(f"  missing {name}", n) for name, n in sorted(stats.missing_by_provider.items()) if n]
    rows += [
        ("needs a person", stats.identification_queue),
        ("retry queue", f"{stats.retry_queue} ({stats.retries_due} due)"),
        ("paused providers", ", ".join(stats.paused_providers) or "none"),
        ("identities", stats.identities),
        ("disputed ids", stats.id_disputes),
    ]
    click.echo(output.table(("", ""), rows))


def _lookup_providers(orc: Orchestrator) -> list[str]:
    return [n for n in orc.registry.enabled if orc.registry.implements(n, "lookup_by_id")]


@cache.command("prune")
@json_option
def cache_prune(as_json: bool) -> None:
    """Delete orphaned rows, ended pauses and queue entries for movies now cached."""

    async def work(orc: Orchestrator) -> dict[str, int]:
        return await orc.with_cache(Cache.prune)

    counts = get_state().run(work)
    if as_json:
        output.echo_json(counts)
    else:
        click.echo(
            output.table(("pruned", ""), [(k.replace("_", " "), v) for k, v in counts.items()])
        )


class _Unreadable:
    """Collects unreadable movies, naming each on stderr as it is met."""

    def __init__(self) -> None:
        self.found: list[UnreadableMovieError] = []

    def __call__(self, error: UnreadableMovieError) -> None:
        self.found.append(error)
        click.echo(f"metarr: skipped: {error}", err=True)

    def finish(self) -> None:
        """End the command with the cache failure's exit code when a movie was skipped."""
        if self.found:
            click.echo(
                f"metarr: {len(self.found)} unreadable movie(s) skipped; "
                "`metarr cache repair` refetches them (or `--drop` deletes them)",
                err=True,
            )
            finish(exits.for_exception(self.found[0]))


@contextlib.contextmanager
def _open_out(path: Path | None) -> Iterator[TextIO]:
    """stdout for None or '-', else a file replaced only once the whole export is written."""
    if path is None or str(path) == "-":
        yield sys.stdout
        return
    try:
        with replacing(path) as handle:
            yield handle
    except OSError as exc:
        raise exits.CliError(
            f"cannot write {path}: {exc.strerror or exc}; the previous file is unchanged"
        ) from None


@cache.command("export")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
def cache_export(file: Path | None) -> None:
    """Write every cached movie as JSON Lines (the JSON contract) to FILE (default: stdout).

    FILE is replaced only once the whole export is written.
    """
    skipped = _Unreadable()

    async def work(orc: Orchestrator) -> int:
        with _open_out(file) as out:
            return await orc.with_cache(Cache.export_movies, out, on_unreadable=skipped)

    count = get_state().run(work)
    if file is not None and str(file) != "-":
        click.echo(f"exported {count} movies to {file}", err=True)
    skipped.finish()


@cache.command("repair")
@click.argument("refs", nargs=-1, metavar="[ID]...")
@click.option("--drop", is_flag=True, help="Delete the movies instead of refetching them.")
@json_option
def cache_repair(refs: tuple[str, ...], drop: bool, as_json: bool) -> None:
    """Mend movies whose stored data cannot be read: every such movie, or the IDs given.

    Drops what cannot be read, refetches the movie from every provider and rebuilds its
    record; with --drop, deletes the movies instead.
    """
    targets = [parse_ref(ref) for ref in refs]

    async def work(orc: Orchestrator) -> list[tuple[str, Outcome]]:
        if targets:
            found = [(str(ids), await orc.with_cache(Cache.ref, ids)) for ids in targets]
            missing = [ref for ref, found_ref in found if found_ref is None]
            if missing:
                raise exits.CliError(f"not in the cache: {', '.join(missing)}", exits.NEEDS_PERSON)
            movie_ids = [found_ref.id for _, found_ref in found if found_ref is not None]
        else:
            movie_ids = await orc.with_cache(_unreadable_ids)
        results = []
        for movie_id in movie_ids:
            ref = await orc.with_cache(Cache.ref_by_id, movie_id)
            name = f"{ref.ids}" if ref is not None else f"movie {movie_id}"
            if drop:
                await orc.with_cache(Cache.drop, movie_id)
                results.append((name, Outcome(status="identified", reasons=("dropped",))))
            else:
                results.append((name, await orc.repair(movie_id)))
        return results

    results = get_state().run(work)
    for ref, outcome in results:
        if as_json:
            output.echo_jsonl({"ref": ref, **to_json(outcome)})
        elif drop:
            click.echo(f"{ref}  dropped")
        else:
            click.echo(_outcome_line(ref, outcome, always_why=True))
    if not results and not as_json:
        click.echo("nothing to repair: every cached movie reads back whole")
    finish(exits.worst(exits.for_status(o.status) for _, o in results))


def _unreadable_ids(cache: Cache) -> list[int]:
    return [error.movie_id for error in cache.unreadable()]


def _outcome_line(ref: str, outcome: Outcome, *, always_why: bool = False) -> str:
    movie = outcome.movie
    what = f"{output.label(movie.title, movie.year)}  {movie.ids}" if movie else ""
    why = (
        ""
        if outcome.status == "identified" and not always_why
        else "  " + "; ".join(outcome.reasons)
    )
    return f"{ref}  {output.styled_status(outcome.status)}  {what}{why}".rstrip()


@click.command()
@click.argument("refs", nargs=-1, metavar="[ID]...")
@click.option("--stale", "mode", flag_value="stale", help="Refetch the parts past their TTL.")
@click.option(
    "--incomplete", "mode", flag_value="incomplete", help="Fill in the parts that failed before."
)
@json_option
def refresh(refs: tuple[str, ...], mode: str | None, as_json: bool) -> None:
    """Refetch cached movies: the given IDs (every provider, now), or --stale, or --incomplete."""
    if bool(refs) == bool(mode):
        raise exits.CliError("give IDs to refresh, or --stale, or --incomplete (one of them)")
    targets = [parse_ref(ref) for ref in refs]

    async def work(
        orc: Orchestrator,
    ) -> tuple[list[tuple[str, Outcome]], dict[str, int], set[str]]:
        results: list[tuple[str, Outcome]] = []
        streamed: set[str] = (
            set()
        )  # statuses of --stale/--incomplete outcomes, printed as they come
        if mode is None:
            for ref, ids in zip(refs, targets, strict=True):
                results.append((ref, await orc.refresh(ids)))
        else:

            def show(outcome: Outcome) -> None:
                _echo(str(outcome.movie.ids) if outcome.movie else "?", outcome, as_json)
                streamed.add(outcome.status)

            await orc.refresh_stale(incomplete_only=mode == "incomplete", on_outcome=show)
        return results, dict(orc.stats.requests), streamed

    results, requests, streamed = get_state().run(work)
    _report(results, requests, as_json, streamed)


def _echo(ref: str, outcome: Outcome, as_json: bool) -> None:
    if as_json:
        output.echo_jsonl({"ref": ref, **to_json(outcome)})
    else:
        click.echo(_outcome_line(ref, outcome))


def _report(
    results: list[tuple[str, Outcome]],
    requests: dict[str, int],
    as_json: bool,
    streamed: set[str],
) -> None:
    for ref, outcome in results:
        _echo(ref, outcome, as_json)
    if not as_json:
        if not results and not streamed:
            click.echo("nothing to refresh")
        click.echo(f"requests: {output.requests_line(requests)}")
    statuses = [o.status for _, o in results] + sorted(streamed)
    finish(exits.worst(exits.for_status(status) for status in statuses))


@click.command()
@click.argument("refs", nargs=-1, metavar="[ID]...")
@json_option
def remerge(refs: tuple[str, ...], as_json: bool) -> None:
    """Rebuild merged movies from the stored provider results (all, or these IDs): no request.

    Run it after changing [priority] in the config.
    """
    targets: list[Ids] | None = [parse_ref(ref) for ref in refs] if refs else None
    skipped = _Unreadable()

    async def work(orc: Orchestrator) -> tuple[int, dict[str, int]]:
        return await orc.remerge(targets, on_unreadable=skipped), dict(orc.stats.requests)

    count, requests = get_state().run(work)
    if as_json:
        output.echo_json(
            {
                "remerged": count,
                "requests": sum(requests.values()),
                "unreadable": [error.movie_id for error in skipped.found],
            }
        )
    else:
        click.echo(f"remerged {count} movies ({sum(requests.values())} requests)")
    skipped.finish()


@click.group()
def identities() -> None:
    """Export and import the confirmed identities (input key → ids)."""


@identities.command("export")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def identities_export(file: Path) -> None:
    """Write every confirmed identity as JSON Lines to FILE ('-' for stdout).

    FILE is replaced only once the whole export is written.
    """

    async def work(orc: Orchestrator) -> int:
        with _open_out(file) as out:
            return await orc.with_cache(Cache.export_identities, out)

    count = get_state().run(work)
    click.echo(f"exported {count} identities", err=True)


@identities.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def identities_import(file: Path) -> None:
    """Read identities from FILE (from `identities export`), all or nothing."""
    try:
        handle = sys.stdin if str(file) == "-" else file.open(encoding="utf-8")
    except OSError as exc:
        raise exits.CliError(f"cannot read {file}: {exc.strerror or exc}") from None

    async def work(orc: Orchestrator) -> int:
        with handle:
            try:
                return await orc.with_cache(Cache.import_identities, handle)
            except UnicodeDecodeError as exc:
                raise exits.CliError(f"{file} is not UTF-8 text: {exc.reason}") from None
            except StorageError as exc:
                raise exits.CliError(f"{file}: {exc}; nothing was imported") from None

    count = get_state().run(work)
    click.echo(f"imported {count} identities")
