"""Re-keying inputs whose key was derived the old way (migration ``m004_input_keys_as_given``).

metarr before schema version 4 derived the key of an input without a caller's key from its
first id only (``tmdb:949``, even when an IMDb id naming another movie came with it) or from its
loose normalized title (``title:heat (1995)``, which "The Heat" shared with "Heat"). Now the key
is `metarr.query.derived_key` of the whole input as given, so a recorded identity or a queued
outcome answers only the same input.

Rows whose stored input shows that their key was derived the old way get the new key: both
queues (each row holds its input), cached movies (``input_key`` with ``input``), and identities
recorded under a key that a cached movie's input explains. An identity whose input is stored
nowhere keeps its old key: it can no longer be told which input it was for, so it answers none
(a title key never has the new form), and it stays visible in ``metarr identities export``.
Inputs with a single id keep their key (``tmdb:603`` is derived the same way as before).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from metarr.cache.database import Connection
from metarr.matching import normalize_title
from metarr.query import Query

MOVIES = "provider_cache_movies"
QUEUES = ("identification_queue", "retry_queue")


def old_key(data: Mapping[str, Any]) -> str | None:
    """The key metarr before schema version 4 derived for a stored input (None: the input
    has a caller's key, or is not an input)."""
    if data.get("key"):
        return None
    for kind in ("tmdb", "imdb", "tvdb"):
        value = data.get(f"{kind}_id")
        if value not in (None, ""):
            return f"{kind}:{value}"
    title = data.get("title")
    if not isinstance(title, str):
        return None
    year = data.get("year")
    return f"title:{normalize_title(title)}" + (f" ({year})" if year else "")


def new_key(data: Mapping[str, Any]) -> str | None:
    """The key derived today for a stored input without a caller's key (None otherwise)."""
    if data.get("key"):
        return None
    try:
        return Query.from_input(dict(data)).input_key
    except (ValueError, TypeError):
        return None


def _rekeyed(key: str, stored: str | None) -> str | None:
    """The new key for a row whose key ``key`` was derived the old way from ``stored``."""
    if not stored:
        return None
    try:
        data = json.loads(stored)
    except ValueError:
        return None
    if not isinstance(data, dict) or old_key(data) != key:
        return None
    new = new_key(data)
    return new if new is not None and new != key else None


def rekey(db: Connection) -> dict[str, str]:
    """Give every row derived the old way its new key (inside the caller's transaction);
    returns the old → new keys of cached movies, which identities followed."""
    moved: dict[str, str] = {}
    rows = db.execute(
        f"SELECT id, input_key, input FROM {MOVIES} WHERE input_key IS NOT NULL"
    ).fetchall()
    for movie_id, key, stored in rows:
        new = _rekeyed(key, stored)
        if new is not None:
            db.execute(f"UPDATE {MOVIES} SET input_key = ? WHERE id = ?", [new, movie_id])
            moved[key] = new
    for old, new in moved.items():
        db.execute("UPDATE OR IGNORE identities SET key = ? WHERE key = ?", [new, old])
    for table in QUEUES:
        for key, stored in db.execute(f"SELECT key, input FROM {table}").fetchall():
            new = _rekeyed(key, stored)
            if new is not None:
                db.execute(f"UPDATE OR IGNORE {table} SET key = ? WHERE key = ?", [new, key])
    return moved
