"""Movie rows: the merged movie (one compressed JSON document) and its provider parts.

Functions here run inside the caller's transaction; `metarr.cache.api.Cache` is the only writer.
Every value goes through `metarr.convert` (never an attrs repr). Stored JSON is never rewritten
by redaction: secrets stay out of it by construction (they travel only in request URLs and
headers, which are not stored); only free-text error messages are redacted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

import orjson

from metarr.cache import decode, disputes, packed
from metarr.cache.database import Connection, fetch
from metarr.cache.errors import UnreadableMovieError
from metarr.cache.packed import unpack
from metarr.cache.records import CachedMovie, IdDispute, ProviderPart
from metarr.cache.schema import MOVIES
from metarr.cache.times import from_text, to_text
from metarr.convert import from_json, to_json
from metarr.errors import InvalidIdError
from metarr.ids import ID_KINDS, Ids, parse_id
from metarr.models import Movie, ProviderResult
from metarr.redaction import redact

OnUnreadable = Callable[[UnreadableMovieError], None]

CHILD_TABLES: tuple[str, ...] = ("provider_parts",)
_BATCH = 500


def encode(data: Any) -> bytes:
    """Compact UTF-8 JSON for a column, exactly as given: redaction never alters data (secrets
    never reach it: they travel in URLs and headers, and `metarr.http` scrubs echoed ones).

    orjson writes it (a fifth of `json`'s time); what orjson refuses goes through `json`: a
    lone surrogate (a provider's ``"\ud800"`` escape, which SQLite cannot store as UTF-8) as
    ASCII escapes, an integer beyond 64 bits, a key that is not text. A number that is not
    finite (not JSON: `json` wrote ``NaN``) is written as ``null``.
    """
    try:
        return orjson.dumps(data)
    except orjson.JSONEncodeError:
        text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        try:
            return text.encode("utf-8")
        except UnicodeEncodeError:
            return json.dumps(data, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def dumps(data: Any) -> str:
    """`encode`'s JSON, as text (the uncompressed text columns)."""
    return encode(data).decode("utf-8")


def pack(data: Any) -> bytes:
    """A JSON document for a column: `encode`'s JSON, compressed (`metarr.cache.packed`);
    `unpack` gives the text back."""
    return packed.pack_json(encode(data))


def id_column(kind: str) -> str:
    """The movies column holding ids of ``kind``."""
    if kind not in ID_KINDS:
        raise InvalidIdError(f"unknown id type {kind!r}: use one of {', '.join(ID_KINDS)}")
    return f"{kind}_id"


def rows_by_id(db: Connection, kind: str, value: int | str) -> list[dict[str, Any]]:
    """The movie row (zero or one) whose id of ``kind`` is ``value``."""
    column = id_column(kind)
    return list(fetch(db, f"SELECT * FROM {MOVIES} WHERE {column} = ?", [parse_id(kind, value)]))


def rows_matching(db: Connection, ids: Ids) -> list[dict[str, Any]]:
    """Every movie row sharing at least one id with ``ids``, lowest id first (one query: each
    id column is a unique index)."""
    given = list(ids.items())
    if not given:
        return []
    where = " OR ".join(f"{id_column(kind)} = ?" for kind, _ in given)
    values = [parse_id(kind, value) for kind, value in given]
    return fetch(db, f"SELECT * FROM {MOVIES} WHERE {where} ORDER BY id", values)


def movie_row(db: Connection, movie_id: int) -> dict[str, Any] | None:
    """The movie row with this row id."""
    rows = list(fetch(db, f"SELECT * FROM {MOVIES} WHERE id = ?", [movie_id]))
    return rows[0] if rows else None


def delete_movies(db: Connection, movie_ids: Iterable[int]) -> None:
    """Delete movie rows and, explicitly, their parts and disputes."""
    ids = list(movie_ids)
    if not ids:
        return
    marks = ",".join("?" * len(ids))
    for table in CHILD_TABLES:
        db.execute(f"DELETE FROM {table} WHERE movie_id IN ({marks})", ids)
    disputes.forget(db, ids)
    db.execute(f"DELETE FROM {MOVIES} WHERE id IN ({marks})", ids)


def _movie_columns(movie: Movie) -> dict[str, Any]:
    return {
        "tmdb_id": movie.ids.tmdb,
        "imdb_id": movie.ids.imdb,
        "tvdb_id": movie.ids.tvdb,
        "title": movie.title,
        "year": movie.year,
        "movie": pack(to_json(movie)),
        "provenance": dumps(dict(movie.provenance)),
    }


def insert_movie(
    db: Connection,
    *,
    movie: Movie,
    identified_at: datetime,
    refreshed_at: datetime,
    key: str | None,
    input: Mapping[str, Any] | None,
) -> int:
    """Insert a new movie row (not its parts); return its row id."""
    row = _movie_columns(movie)
    row.update(
        identified_at=to_text(identified_at),
        refreshed_at=to_text(refreshed_at),
        input_key=key,
        input=dumps(dict(input)) if input is not None else None,
    )
    cursor = db.execute(
        f"INSERT INTO {MOVIES} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
        list(row.values()),
    )
    return int(cursor.lastrowid or 0)


def update_movie(db: Connection, movie_id: int, movie: Movie, **columns: Any) -> None:
    """Rewrite a movie row's merged record, plus any other ``columns`` given."""
    row = _movie_columns(movie)
    row.update(columns)
    assignments = ", ".join(f"{column} = ?" for column in row)
    db.execute(f"UPDATE {MOVIES} SET {assignments} WHERE id = ?", [*row.values(), movie_id])


def part_row(movie_id: int, part: ProviderPart) -> dict[str, Any]:
    """The stored row of a part (its error text redacted: it is a message, not data)."""
    return {
        "movie_id": movie_id,
        "provider": part.provider,
        "status": part.status,
        "fetched_at": to_text(part.fetched_at),
        "error": redact(part.error) if part.error is not None else None,
        "result": pack(to_json(part.result)) if part.result is not None else None,
    }


def write_parts(
    db: Connection, movie_ids: Iterable[int], movie_id: int, rows: Iterable[Any]
) -> None:
    """Replace the parts of ``movie_ids`` with ``rows`` (stored rows or `part_row` dicts),
    all under ``movie_id``."""
    ids = list(movie_ids)
    if ids:
        marks = ",".join("?" * len(ids))
        db.execute(f"DELETE FROM provider_parts WHERE movie_id IN ({marks})", ids)
    _insert_parts(db, [{**row, "movie_id": movie_id} for row in rows])


_PART_COLUMNS = ("movie_id", "provider", "status", "fetched_at", "error", "result")
_INSERT_PARTS = f"INSERT INTO provider_parts ({', '.join(_PART_COLUMNS)}) VALUES "
_PART_VALUES = f"({', '.join('?' * len(_PART_COLUMNS))})"


def _insert_parts(db: Connection, rows: list[dict[str, Any]]) -> None:
    """One INSERT of every row (a movie has a part per provider, far below SQLite's limit of
    bound values), not one per row: each row a step of its own, and each step a hand-back of
    the interpreter lock."""
    if rows:
        values = [row[column] for row in rows for column in _PART_COLUMNS]
        db.execute(_INSERT_PARTS + ", ".join([_PART_VALUES] * len(rows)), values)


def part_rows(db: Connection, movie_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The stored part rows of each movie (unparsed), keyed by movie id, by provider."""
    found: dict[int, list[dict[str, Any]]] = {movie_id: [] for movie_id in movie_ids}
    if not movie_ids:
        return found
    marks = ",".join("?" * len(movie_ids))
    query = f"SELECT * FROM provider_parts WHERE movie_id IN ({marks}) ORDER BY provider"
    for row in fetch(db, query, movie_ids):
        found[row["movie_id"]].append(row)
    return found


def to_part(row: Mapping[str, Any]) -> ProviderPart:
    """A `ProviderPart` from its stored row; `ValueError` naming the provider if unreadable."""
    try:
        result = None
        if row["result"] is not None:
            result = from_json(ProviderResult, _loads(unpack(row["result"])))
        return ProviderPart(
            provider=row["provider"],
            status=row["status"],
            fetched_at=from_text(row["fetched_at"]),
            result=result,
            error=row["error"],
        )
    except Exception as exc:
        raise ValueError(f"its {row['provider']} part: {why(exc)}") from exc


def unreadable(row: Mapping[str, Any], reason: str) -> UnreadableMovieError:
    """The error for a movie row whose stored data cannot be read."""
    return UnreadableMovieError(int(row["id"]), disputes.row_ids(row), reason)


def why(exc: BaseException) -> str:
    """A short reason: the first leaf of a cattrs exception group, else the exception."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}"


def to_cached(
    row: Mapping[str, Any],
    part_rows: Iterable[Mapping[str, Any]],
    known_disputes: tuple[IdDispute, ...] = (),
) -> CachedMovie:
    """Build a `CachedMovie` from a movie row and its part rows (`UnreadableMovieError` if any
    of it cannot be read)."""
    try:
        parts = {part["provider"]: to_part(part) for part in part_rows}
        raw_input = row.get("input")
        try:
            movie = from_json(Movie, json.loads(unpack(row["movie"])))
        except Exception as exc:
            raise ValueError(f"its merged record: {why(exc)}") from exc
        return CachedMovie(
            id=row["id"],
            movie=movie,
            identified_at=from_text(row["identified_at"]),
            refreshed_at=from_text(row["refreshed_at"]),
            parts=parts,
            key=row.get("input_key"),
            input=json.loads(raw_input) if raw_input else None,
            disputes=known_disputes,
        )
    except ValueError as exc:  # JSONDecodeError and bad timestamps are ValueErrors too
        raise unreadable(row, str(exc) if str(exc).startswith("its ") else why(exc)) from exc


_LIGHT_COLUMNS = (
    "id",
    "tmdb_id",
    "imdb_id",
    "tvdb_id",
    "title",
    "year",
    "movie",
    "identified_at",
    "refreshed_at",
    "input_key",
    "input",
)
_LIGHT_SELECT = f"SELECT {', '.join(_LIGHT_COLUMNS)} FROM {MOVIES} WHERE "


def light_row(db: Connection, kind: str, value: int | str) -> dict[str, Any] | None:
    """The columns `to_light` needs of the movie whose ``kind`` id is ``value`` (the hot read:
    one indexed query, no more)."""
    column = id_column(kind)
    found = db.execute(_LIGHT_SELECT + f"{column} = ?", [parse_id(kind, value)]).fetchone()
    return None if found is None else dict(zip(_LIGHT_COLUMNS, found, strict=True))


def _loads(text: str) -> Any:
    """JSON text from a column: orjson (twice as fast), or `json` for what orjson refuses
    (a lone surrogate escape, which `dumps` writes as ASCII escapes)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def to_light(row: Mapping[str, Any]) -> CachedMovie:
    """A `CachedMovie` holding the merged record only (no parts, no disputes), read with
    `metarr.cache.decode` (`UnreadableMovieError` if it cannot be read)."""
    try:
        try:
            movie = decode.movie(_loads(unpack(row["movie"])))
        except Exception as exc:
            raise ValueError(f"its merged record: {why(exc)}") from exc
        raw_input = row.get("input")
        return CachedMovie(
            id=row["id"],
            movie=movie,
            identified_at=from_text(row["identified_at"]),
            refreshed_at=from_text(row["refreshed_at"]),
            key=row.get("input_key"),
            input=json.loads(raw_input) if raw_input else None,
            with_parts=False,
        )
    except ValueError as exc:
        raise unreadable(row, str(exc) if str(exc).startswith("its ") else why(exc)) from exc


def load(db: Connection, rows: list[dict[str, Any]]) -> list[CachedMovie]:
    """`CachedMovie` records for movie rows (parts and disputes fetched in one query each)."""
    ids = [row["id"] for row in rows]
    parts = part_rows(db, ids)
    known = disputes.load(db, ids)
    return [to_cached(row, parts[row["id"]], known.get(row["id"], ())) for row in rows]


def iter_ids(db: Connection, where: str = "", params: list[Any] | None = None) -> Iterator[int]:
    """Movie row ids in order, fetched in batches (no long-lived cursor across yields)."""
    last = 0
    clause = f" AND ({where})" if where else ""
    while True:
        batch = [
            row[0]
            for row in db.execute(
                f"SELECT id FROM {MOVIES} WHERE id > ?{clause} ORDER BY id LIMIT {_BATCH}",
                [last, *(params or [])],
            ).fetchall()
        ]
        if not batch:
            return
        yield from batch
        last = batch[-1]


def rows_after(
    db: Connection, after: int, where: str = "", params: list[Any] | None = None
) -> list[dict[str, Any]]:
    """The next batch of movie rows with a row id above ``after``, in id order."""
    clause = f" AND ({where})" if where else ""
    return list(
        fetch(
            db,
            f"SELECT * FROM {MOVIES} WHERE id > ?{clause} ORDER BY id LIMIT {_BATCH}",
            [after, *(params or [])],
        )
    )


def iter_rows(
    db: Connection, where: str = "", params: list[Any] | None = None
) -> Iterator[dict[str, Any]]:
    """Movie rows in id order, fetched in batches (no long-lived cursor across yields)."""
    last = 0
    while batch := rows_after(db, last, where, params):
        yield from batch
        last = batch[-1]["id"]


def iter_movies(
    db: Connection,
    where: str = "",
    params: list[Any] | None = None,
    on_unreadable: OnUnreadable | None = None,
) -> Iterator[CachedMovie]:
    """Cached movies in id order, loaded a batch at a time.

    An unreadable movie raises `UnreadableMovieError`, or, with ``on_unreadable``, is handed to
    it and skipped.
    """
    batch: list[dict[str, Any]] = []
    for row in iter_rows(db, where, params):
        batch.append(row)
        if len(batch) >= _BATCH:
            yield from _load_batch(db, batch, on_unreadable)
            batch = []
    if batch:
        yield from _load_batch(db, batch, on_unreadable)


def _load_batch(
    db: Connection, rows: list[dict[str, Any]], on_unreadable: OnUnreadable | None
) -> list[CachedMovie]:
    if on_unreadable is None:
        return load(db, rows)
    try:
        return load(db, rows)
    except UnreadableMovieError:
        found = []
        for row in rows:  # one at a time, to skip only the unreadable ones
            try:
                found.extend(load(db, [row]))
            except UnreadableMovieError as exc:
                on_unreadable(exc)
        return found
