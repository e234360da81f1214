"""Movie rows: the merged movie, its child rows (images, ratings, cast, crew) and provider parts.

Functions here run inside the caller's transaction; `metarr.cache.api.Cache.commit` is the only
writer. Every value goes through `metarr.convert` (never an attrs repr) and every stored text
through `metarr.redaction.redact`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlite_utils import Database

from metarr.cache.records import CachedMovie, ProviderPart
from metarr.cache.schema import MOVIES
from metarr.cache.times import from_text, to_text
from metarr.convert import from_json, to_json
from metarr.errors import InvalidIdError, StorageError
from metarr.ids import ID_KINDS, Ids, parse_id
from metarr.models import Movie, ProviderResult
from metarr.redaction import redact

CHILD_TABLES: tuple[str, ...] = (
    "movie_images",
    "movie_ratings",
    "movie_cast",
    "movie_crew",
    "provider_parts",
)
_BATCH = 500


def dumps(data: Any) -> str:
    """Compact JSON text for a column, exactly as given: redaction never alters data (secrets
    never reach it: they travel in URLs and headers, and `metarr.http` scrubs echoed ones).

    A raw payload may hold lone surrogates (a provider's ``"\ud800"`` escape), which SQLite
    cannot store as UTF-8: such a document is written with ASCII escapes instead.
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    return text


def id_column(kind: str) -> str:
    """The movies column holding ids of ``kind``."""
    if kind not in ID_KINDS:
        raise InvalidIdError(f"unknown id type {kind!r}: use one of {', '.join(ID_KINDS)}")
    return f"{kind}_id"


def rows_by_id(db: Database, kind: str, value: int | str) -> list[dict[str, Any]]:
    """The movie row (zero or one) whose id of ``kind`` is ``value``."""
    column = id_column(kind)
    return list(db.query(f"SELECT * FROM {MOVIES} WHERE {column} = ?", [parse_id(kind, value)]))


def rows_matching(db: Database, ids: Ids) -> list[dict[str, Any]]:
    """Every movie row sharing at least one id with ``ids``, lowest id first."""
    found: dict[int, dict[str, Any]] = {}
    for kind, value in ids.items():
        for row in rows_by_id(db, kind, value):
            found.setdefault(row["id"], row)
    return [found[key] for key in sorted(found)]


def delete_movies(db: Database, movie_ids: Iterable[int]) -> None:
    """Delete movie rows and, explicitly, all their child rows."""
    ids = list(movie_ids)
    if not ids:
        return
    marks = ",".join("?" * len(ids))
    for table in CHILD_TABLES:
        db.execute(f"DELETE FROM {table} WHERE movie_id IN ({marks})", ids)
    db.execute(f"DELETE FROM {MOVIES} WHERE id IN ({marks})", ids)


def insert_movie(
    db: Database,
    *,
    movie_id: int | None,
    movie: Movie,
    parts: Mapping[str, ProviderPart],
    identified_at: datetime,
    refreshed_at: datetime,
    key: str | None,
    input: Mapping[str, Any] | None,
) -> int:
    """Insert a movie row with its child rows and parts; return its row id."""
    row: dict[str, Any] = {
        "tmdb_id": movie.ids.tmdb,
        "imdb_id": movie.ids.imdb,
        "tvdb_id": movie.ids.tvdb,
        "title": movie.title,
        "year": movie.year,
        "movie": dumps(to_json(movie)),
        "provenance": dumps(dict(movie.provenance)),
        "identified_at": to_text(identified_at),
        "refreshed_at": to_text(refreshed_at),
        "input_key": key,
        "input": dumps(dict(input)) if input is not None else None,
    }
    if movie_id is not None:
        row["id"] = movie_id
    columns = ", ".join(row)
    cursor = db.execute(
        f"INSERT INTO {MOVIES} ({columns}) VALUES ({', '.join('?' * len(row))})",
        list(row.values()),
    )
    new_id = int(cursor.lastrowid or movie_id or 0)
    _insert_children(db, new_id, movie)
    _insert_parts(db, new_id, parts.values())
    return new_id


_CHILD_COLUMNS: dict[str, tuple[str, ...]] = {
    "movie_images": (
        "provider",
        "kind",
        "url",
        "language",
        "width",
        "height",
        "score",
        "votes",
        "disc_type",
    ),
    "movie_ratings": ("source", "value", "max", "votes", "provider"),
    "movie_cast": ("name", "character", "ord", "person_id", "provider"),
    "movie_crew": ("name", "job", "department", "person_id", "provider"),
}


def _child_rows(movie_id: int, table: str, items: Iterable[Any]) -> list[dict[str, Any]]:
    rows = []
    for position, item in enumerate(items):
        data = to_json(item)
        if "order" in data:
            data["ord"] = data["order"]
        row = {"movie_id": movie_id, "position": position}
        row.update({column: data.get(column) for column in _CHILD_COLUMNS[table]})
        rows.append(row)
    return rows


def _insert_children(db: Database, movie_id: int, movie: Movie) -> None:
    sources = {
        "movie_images": movie.images,
        "movie_ratings": movie.ratings,
        "movie_cast": movie.cast,
        "movie_crew": movie.crew,
    }
    for table, items in sources.items():
        rows = _child_rows(movie_id, table, items)
        if rows:
            db.table(table).insert_all(rows)


def _insert_parts(db: Database, movie_id: int, parts: Iterable[ProviderPart]) -> None:
    rows = [
        {
            "movie_id": movie_id,
            "provider": part.provider,
            "status": part.status,
            "fetched_at": to_text(part.fetched_at),
            "error": redact(part.error) if part.error is not None else None,
            "result": dumps(to_json(part.result)) if part.result is not None else None,
        }
        for part in parts
    ]
    if rows:
        db.table("provider_parts").insert_all(rows)


def part_rows(db: Database, movie_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The stored part rows of each movie (unparsed), keyed by movie id, by provider."""
    found: dict[int, list[dict[str, Any]]] = {movie_id: [] for movie_id in movie_ids}
    if not movie_ids:
        return found
    marks = ",".join("?" * len(movie_ids))
    query = f"SELECT * FROM provider_parts WHERE movie_id IN ({marks}) ORDER BY provider"
    for row in db.query(query, movie_ids):
        found[row["movie_id"]].append(row)
    return found


def to_part(row: Mapping[str, Any]) -> ProviderPart:
    """A `ProviderPart` from its stored row."""
    try:
        result = None
        if row["result"] is not None:
            result = from_json(ProviderResult, json.loads(row["result"]))
        return ProviderPart(
            provider=row["provider"],
            status=row["status"],
            fetched_at=from_text(row["fetched_at"]),
            result=result,
            error=row["error"],
        )
    except Exception as exc:
        raise StorageError(
            f"cached {row['provider']} part of movie {row['movie_id']} cannot be read: {exc}"
        ) from exc


def load_parts(db: Database, movie_ids: list[int]) -> dict[int, dict[str, ProviderPart]]:
    """The provider parts of each movie, keyed by movie id then provider."""
    return {
        movie_id: {row["provider"]: to_part(row) for row in rows}
        for movie_id, rows in part_rows(db, movie_ids).items()
    }


def to_cached(row: Mapping[str, Any], parts: dict[str, ProviderPart]) -> CachedMovie:
    """Build a `CachedMovie` from a movie row and its parts."""
    try:
        movie = from_json(Movie, json.loads(row["movie"]))
        raw_input = row.get("input")
        return CachedMovie(
            id=row["id"],
            movie=movie,
            identified_at=from_text(row["identified_at"]),
            refreshed_at=from_text(row["refreshed_at"]),
            parts=parts,
            key=row.get("input_key"),
            input=json.loads(raw_input) if raw_input else None,
        )
    except StorageError:
        raise
    except Exception as exc:
        raise StorageError(f"cached movie {row['id']} cannot be read: {exc}") from exc


def load(db: Database, rows: list[dict[str, Any]]) -> list[CachedMovie]:
    """`CachedMovie` records for movie rows (parts fetched in one query)."""
    parts = load_parts(db, [row["id"] for row in rows])
    return [to_cached(row, parts[row["id"]]) for row in rows]


def iter_rows(
    db: Database, where: str = "", params: list[Any] | None = None
) -> Iterator[dict[str, Any]]:
    """Movie rows in id order, fetched in batches (no long-lived cursor across yields)."""
    last = 0
    clause = f" AND ({where})" if where else ""
    while True:
        batch = list(
            db.query(
                f"SELECT * FROM {MOVIES} WHERE id > ?{clause} ORDER BY id LIMIT {_BATCH}",
                [last, *(params or [])],
            )
        )
        if not batch:
            return
        yield from batch
        last = batch[-1]["id"]


def iter_movies(
    db: Database, where: str = "", params: list[Any] | None = None
) -> Iterator[CachedMovie]:
    """Cached movies in id order, loaded a batch at a time."""
    batch: list[dict[str, Any]] = []
    for row in iter_rows(db, where, params):
        batch.append(row)
        if len(batch) >= _BATCH:
            yield from load(db, batch)
            batch = []
    if batch:
        yield from load(db, batch)
