"""Which stored rows are the same movie, and the ids two different movies claim (``id_disputes``).

Two rows are the same movie when their ids agree wherever both have one: ``{tmdb 603}`` and
``{imdb tt0133093}`` can be one movie; ``{tmdb 949, tvdb 1002}`` and ``{tmdb 603, tvdb 1002}``
cannot. An id claimed for a movie while a different movie holds it stays with the holder and is
recorded here (kind, value, holder, claimant, the provider that claimed it, when). Functions here
run inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from metarr.cache.database import Connection, fetch
from metarr.cache.records import IdDispute
from metarr.cache.schema import MOVIES
from metarr.cache.times import from_text, to_text
from metarr.ids import ID_KINDS, Ids

TABLE = "id_disputes"
_HOLDS = " OR ".join(f"(d.kind = '{kind}' AND m.{kind}_id = d.value)" for kind in ID_KINDS)


def row_ids(row: Mapping[str, Any]) -> Ids:
    """The ids a movie row holds in its id columns (values that do not parse are left out)."""
    return Ids.lenient(**{kind: row.get(f"{kind}_id") for kind in ID_KINDS})


def label(row: Mapping[str, Any]) -> str:
    """``Heat (1995) tmdb:949 imdb:tt0113277`` for a movie row."""
    year = f" ({row['year']})" if row.get("year") else ""
    return f"{row.get('title') or '(untitled)'}{year} {row_ids(row)}"


def agree(a: Ids, b: Ids) -> bool:
    """True when ``a`` and ``b`` agree wherever both have an id (they may be one movie)."""
    return all(b.get(kind) in (None, value) for kind, value in a.items())


def same_movie(rows: Sequence[Mapping[str, Any]], claim: Ids) -> list[Mapping[str, Any]]:
    """The rows (lowest id first) that are the movie ``claim`` names: each shares an id with it
    and agrees with it, and with the rows taken before it, wherever both have an id."""
    group = claim
    same = []
    for row in sorted(rows, key=lambda r: int(r["id"])):
        ids = row_ids(row)
        if agree(ids, group):
            same.append(row)
            group = group.union(ids)
    return same


def record(
    db: Connection,
    *,
    kind: str,
    value: int | str,
    holder_id: int,
    claimant_id: int,
    provider: str | None,
    now: datetime,
) -> None:
    """Record (or update) that ``claimant_id`` was given an id ``holder_id`` holds."""
    db.execute(
        f"""INSERT INTO {TABLE} (kind, value, holder_id, claimant_id, provider, at)
            VALUES (?, ?, ?, ?, ?, ?)
            ON CONFLICT (kind, value, claimant_id) DO UPDATE SET
                holder_id = excluded.holder_id, provider = excluded.provider""",
        [kind, value, holder_id, claimant_id, provider, to_text(now)],
    )


def move(db: Connection, old_ids: Iterable[int], new_id: int) -> None:
    """Disputes of rows merged into ``new_id`` follow it (then `settle` drops void ones)."""
    ids = [movie_id for movie_id in old_ids if movie_id != new_id]
    if not ids:
        return
    marks = ",".join("?" * len(ids))
    for column in ("holder_id", "claimant_id"):
        db.execute(
            f"UPDATE OR IGNORE {TABLE} SET {column} = ? WHERE {column} IN ({marks})", [new_id, *ids]
        )
    forget(db, ids)


def forget(db: Connection, movie_ids: Iterable[int]) -> None:
    """Drop every dispute naming one of these movies (they are being deleted)."""
    ids = list(movie_ids)
    if ids:
        marks = ",".join("?" * len(ids))
        db.execute(
            f"DELETE FROM {TABLE} WHERE holder_id IN ({marks}) OR claimant_id IN ({marks})",
            [*ids, *ids],
        )


def settle(db: Connection, movie_id: int | None = None) -> int:
    """Drop disputes (of one movie, or all) that no longer hold: the holder lost the id, a
    movie is gone, or both sides are one movie now. Returns how many."""
    where = "" if movie_id is None else "(d.holder_id = ? OR d.claimant_id = ?) AND "
    cursor = db.execute(
        f"""DELETE FROM {TABLE} AS d WHERE {where}(
                d.holder_id = d.claimant_id
                OR NOT EXISTS (SELECT 1 FROM {MOVIES} m WHERE m.id = d.holder_id AND ({_HOLDS}))
                OR NOT EXISTS (SELECT 1 FROM {MOVIES} m WHERE m.id = d.claimant_id))""",
        [] if movie_id is None else [movie_id, movie_id],
    )
    return int(cursor.rowcount)


def load(db: Connection, movie_ids: Sequence[int]) -> dict[int, tuple[IdDispute, ...]]:
    """The disputes naming each movie (as holder or claimant), by movie id."""
    found: dict[int, list[IdDispute]] = {}
    if not movie_ids:
        return {}
    marks = ",".join("?" * len(movie_ids))
    rows = fetch(
        db,
        f"""SELECT d.*,
                h.title AS h_title, h.year AS h_year, h.tmdb_id AS h_tmdb_id,
                h.imdb_id AS h_imdb_id, h.tvdb_id AS h_tvdb_id,
                c.title AS c_title, c.year AS c_year, c.tmdb_id AS c_tmdb_id,
                c.imdb_id AS c_imdb_id, c.tvdb_id AS c_tvdb_id
            FROM {TABLE} d
            LEFT JOIN {MOVIES} h ON h.id = d.holder_id
            LEFT JOIN {MOVIES} c ON c.id = d.claimant_id
            WHERE d.holder_id IN ({marks}) OR d.claimant_id IN ({marks})
            ORDER BY d.kind, d.value, d.claimant_id""",
        [*movie_ids, *movie_ids],
    )
    wanted = set(movie_ids)
    for row in rows:
        dispute = IdDispute(
            kind=row["kind"],
            value=row["value"],
            holder_id=row["holder_id"],
            claimant_id=row["claimant_id"],
            provider=row["provider"],
            at=from_text(row["at"]),
            holder=label(_side(row, "h_")),
            claimant=label(_side(row, "c_")),
        )
        for movie_id in {dispute.holder_id, dispute.claimant_id} & wanted:
            found.setdefault(movie_id, []).append(dispute)
    return {movie_id: tuple(items) for movie_id, items in found.items()}


def _side(row: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    return {key[len(prefix) :]: value for key, value in row.items() if key.startswith(prefix)}


def count(db: Connection) -> int:
    """How many disputes are recorded."""
    return int(db.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0])
