"""Cached reads answered before the command tree loads: ``metarr lookup --imdb ID`` of a fresh
cached movie and ``metarr cache show ID``, in a fraction of the full command's start-up.

The full command imports click's command tree, the cache's sqlite-utils layer, the HTTP stack
and every provider plugin before it reads one row. `answer` reads the cache with plain
`sqlite3`, read-only (it never creates, migrates or writes a file), decides freshness by the
same rules (`metarr.freshness`, each provider's TTL) from the census the last full command
kept (`metarr.cli.census`), and prints with the same functions (`metarr.cli.output`). Whenever
it cannot answer exactly as the full command would, it answers nothing and the full command
runs: another command or option (``--refresh``, ``--debug``, ``--only``, several ids), no
census for this setup, a cache file missing or of another schema, a movie not cached, cached
more than once, chosen by a person for this input, with a stale or missing part, with disputed
ids, or whose stored data does not read back.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from metarr.cli import census

_MOVIES = "provider_cache_movies"


def answer(argv: Sequence[str]) -> bool:
    """Answer ``argv`` (the arguments after ``metarr``) from the cache; False when the full
    command must run. Output to a closed pipe ends the process with exit 141."""
    request = _parse(argv)
    if request is None:
        return False
    facts = census.read(request["config"])
    if facts is None:
        return False
    try:
        try:
            found = _read(request, facts["facts"])
        except Exception:  # whatever went wrong, the full command answers it (and says so)
            return False
        if found is None:
            return False
        _print(request, *found)
    except KeyboardInterrupt:
        from metarr.cli import exits

        exits.CliError("interrupted", exits.INTERRUPTED).show()
        raise SystemExit(exits.INTERRUPTED) from None
    return True


def _parse(argv: Sequence[str]) -> dict[str, Any] | None:
    """The request, if ``argv`` is one this module answers (see the module)."""
    args = list(argv)
    request: dict[str, Any] = {"config": None, "db": None, "json": False, "ids": {}}
    while args and args[0].startswith("--") and args[0] not in ("--",):
        name, sep, value = args.pop(0).partition("=")
        if name not in ("--config", "--db") or request[name[2:]] is not None:
            return None
        if not sep:
            if not args:
                return None
            value = args.pop(0)
        request[name[2:]] = value
    if args[:1] == ["lookup"]:
        request["command"], rest = "lookup", args[1:]
    elif args[:2] == ["cache", "show"]:
        request["command"], rest = "show", args[2:]
    else:
        return None
    refs = []
    while rest:
        token = rest.pop(0)
        if token == "--json" and not request["json"]:
            request["json"] = True
        elif request["command"] == "lookup" and token.partition("=")[0] in _ID_OPTIONS:
            name, sep, value = token.partition("=")
            if not sep:
                if not rest:
                    return None
                value = rest.pop(0)
            request["ids"][name[2:]] = value
        elif request["command"] == "show" and not token.startswith("-"):
            refs.append(token)
        else:
            return None
    if request["command"] == "lookup":
        return request if len(request["ids"]) == 1 else None
    if len(refs) != 1:
        return None
    request["ref"] = refs[0]
    return request


_ID_OPTIONS = ("--tmdb", "--imdb", "--tvdb")


def _read(request: dict[str, Any], facts: dict[str, Any]) -> tuple[Any, ...] | None:
    """What the full command would print, read from the cache; None when it cannot tell."""
    from metarr.ids import Ids

    if request["command"] == "lookup":
        ids = Ids(**request["ids"])
    else:
        from metarr.cli.common import parse_ref

        ids = parse_ref(request["ref"])
    db = request["db"] if request["db"] is not None else facts["db"]
    if db is None:
        return None
    path = Path(db).expanduser()
    if not path.is_file():
        return None
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=5.0)
    try:
        return _answer(conn, request, facts, ids)
    finally:
        conn.close()


def _answer(
    conn: sqlite3.Connection, request: dict[str, Any], facts: dict[str, Any], ids: Any
) -> tuple[Any, ...] | None:
    conn.row_factory = sqlite3.Row
    applied = [r[0] for r in conn.execute("SELECT name FROM _metarr_migrations ORDER BY version")]
    if applied != facts["migrations"]:
        return None
    [(kind, value)] = ids.items()
    rows = conn.execute(f"SELECT * FROM {_MOVIES} WHERE {kind}_id = ?", [value]).fetchall()
    if len(rows) != 1:
        return None
    row = dict(rows[0])
    if request["command"] == "lookup":
        chosen = conn.execute(
            "SELECT 1 FROM identities WHERE key = ? AND by = 'person'", [input_key(kind, value)]
        ).fetchone()
        if chosen is not None:
            return None  # a person's choice answers this input: the full command follows it
    disputed = conn.execute(
        "SELECT 1 FROM id_disputes WHERE holder_id = ? OR claimant_id = ? LIMIT 1",
        [row["id"], row["id"]],
    ).fetchone()
    if disputed is not None:
        return None
    parts = [
        dict(part)
        for part in conn.execute(
            "SELECT * FROM provider_parts WHERE movie_id = ? ORDER BY provider", [row["id"]]
        )
    ]
    checks = {
        r["provider"]: (_time(r["checked_at"]), r["note"] or "")
        for r in conn.execute(
            "SELECT provider, checked_at, note FROM part_checks "
            "WHERE movie_id = ? AND checked_at IS NOT NULL",
            [row["id"]],
        )
    }
    providers = {name: (state, lookup, ttl) for name, state, lookup, ttl in facts["providers"]}
    if any(part["provider"] not in providers for part in parts):
        return None  # a part of a provider no longer installed: its TTL is the cache's default
    cached = _light(row, parts)
    movie = cached.movie
    if request["command"] == "show":
        lines = [(p["provider"], p["status"], _time(p["fetched_at"]), p["error"]) for p in parts]
        stale = _stale(movie.year, parts, checks, providers, facts["refresh"], ())
        return cached, lines, sorted(stale), checks
    expected = [name for name, (_, lookup, _) in providers.items() if lookup]
    if _stale(movie.year, parts, checks, providers, facts["refresh"], expected) & set(expected):
        return None  # a refetch is due (or paused, or not due yet): the full command decides
    statuses = {part["provider"]: part["status"] for part in parts}
    return (_outcome(movie, cached.refreshed_at, statuses, providers),)


def _stale(
    year: int | None,
    parts: list[dict[str, Any]],
    checks: dict[str, tuple[datetime, str]],
    providers: dict[str, tuple[str, bool, float]],
    refresh: dict[str, Any],
    expected: Collection[str],
) -> set[str]:
    """The providers to ask again, as `metarr.cache.Cache.stale_providers` tells them: parts
    past their provider's TTL (stretched by the film's age, from the fetch or a later
    confirmation), parts that need a fill-in, and ``expected`` providers without a part."""
    from metarr.cache.records import SETTLED_STATUSES
    from metarr.freshness import RefreshRules

    rules = RefreshRules(**refresh)
    now = datetime.now(UTC)
    stale = {name for name in expected if name not in {part["provider"] for part in parts}}
    for part in parts:
        name = part["provider"]
        if part["status"] not in SETTLED_STATUSES:
            stale.add(name)
        ttl = rules.ttl(providers[name][2], year, now)
        fetched = _time(part["fetched_at"])
        if fetched + ttl <= now and (name not in checks or checks[name][0] + ttl <= now):
            stale.add(name)
    return stale


def input_key(kind: str, value: object) -> str:
    """`metarr.query.derived_key` of an input of one id (that module costs 8 ms to import)."""
    return f"{kind}:{value}"


def _time(text: str) -> datetime:
    from metarr.cache.times import from_text

    return from_text(text)


def _light(row: dict[str, Any], parts: list[dict[str, Any]]) -> Any:
    """The movie of a row, its merged record read as the full command reads it
    (`metarr.convert.from_json`: the light read's `metarr.cache.decode` keeps a stored ``10``
    an int where the full read makes it ``10.0``), once every part reads back too (its status
    known, its result a JSON object): any error, and the full command must tell."""
    from metarr.cache.packed import unpack
    from metarr.cache.records import PART_STATUSES, CachedMovie
    from metarr.convert import from_json
    from metarr.models import Movie

    for part in parts:
        if part["status"] not in PART_STATUSES:
            raise ValueError(f"part status {part['status']!r}")
        if part["result"] is not None and not isinstance(json.loads(unpack(part["result"])), dict):
            raise ValueError("a part's result is not an object")
    raw_input = row.get("input")
    return CachedMovie(
        id=row["id"],
        movie=from_json(Movie, json.loads(unpack(row["movie"]))),
        identified_at=_time(row["identified_at"]),
        refreshed_at=_time(row["refreshed_at"]),
        key=row.get("input_key"),
        input=json.loads(raw_input) if raw_input else None,
        with_parts=False,
    )


def _outcome(
    movie: Any,
    refreshed: datetime,
    statuses: dict[str, str],
    providers: dict[str, tuple[str, bool, float]],
) -> Any:
    """The outcome the full command gives for a fresh cached movie
    (`metarr.orchestrator`'s ``_cached_outcome``)."""
    from metarr.models import Outcome

    known = ("ok", "not_found", "rate_limited", "error")
    shown: dict[str, Any] = {}
    for name, (state, _, _) in providers.items():
        if state != "enabled":
            shown[name] = "disabled"
        elif name not in statuses:
            shown[name] = "skipped"
        else:
            shown[name] = statuses[name] if statuses[name] in known else "skipped"
    return Outcome(
        status="identified",
        movie=movie,
        providers=shown,
        reasons=(f"from the cache (refreshed {refreshed:%Y-%m-%d %H:%M} UTC)",),
    )


def _print(request: dict[str, Any], *found: Any) -> None:
    import click

    from metarr.cli import output
    from metarr.pipes import OUTPUT_CLOSED, discard_stdout

    try:
        if request["command"] == "show":
            output.show_cached(*found, as_json=request["json"])
        elif request["json"]:
            output.echo_json(found[0])
        else:
            click.echo("\n".join(output.outcome_lines(found[0], requests={})))
    except BrokenPipeError:
        discard_stdout()
        raise SystemExit(OUTPUT_CLOSED) from None
