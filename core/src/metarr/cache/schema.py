"""The cache schema as named, append-only migrations, recorded in ``_metarr_migrations``.

Each migration runs in its own write transaction, so a crash mid-upgrade leaves the database at
the previous version. Never edit or reorder a migration that has shipped: append a new one.
The schema version is the number of migrations applied (also mirrored in ``PRAGMA user_version``).
A new file gets the schema the migrations build in one step (`FRESH_SCHEMA`), recorded as them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from metarr.cache import packed
from metarr.cache.database import Connection, connection, fetch, write_transaction
from metarr.cache.times import system_clock, to_text
from metarr.errors import StorageError

if TYPE_CHECKING:
    from sqlite_utils import Database

Migration = Callable[[Connection], None]
MIGRATIONS: list[Migration] = []
MIGRATIONS_TABLE = "_metarr_migrations"
MOVIES = "provider_cache_movies"


def migration(fn: Migration) -> Migration:
    """Register a migration; the order of definition is the order of application."""
    MIGRATIONS.append(fn)
    return fn


def _run(db: Connection, *statements: str) -> None:
    for statement in statements:
        db.execute(statement)


@migration
def m001_movies_parts_and_queues(db: Connection) -> None:
    """Movies with their child rows and provider payloads; the two work queues."""
    _run(
        db,
        f"""CREATE TABLE {MOVIES} (
            id INTEGER PRIMARY KEY,
            tmdb_id INTEGER,
            imdb_id TEXT,
            tvdb_id INTEGER,
            title TEXT,
            year INTEGER,
            movie TEXT NOT NULL,
            provenance TEXT NOT NULL,
            identified_at TEXT NOT NULL,
            refreshed_at TEXT NOT NULL
        )""",
        f"CREATE UNIQUE INDEX {MOVIES}_tmdb ON {MOVIES}(tmdb_id)",
        f"CREATE UNIQUE INDEX {MOVIES}_imdb ON {MOVIES}(imdb_id)",
        f"CREATE UNIQUE INDEX {MOVIES}_tvdb ON {MOVIES}(tvdb_id)",
        f"""CREATE TABLE movie_images (
            movie_id INTEGER NOT NULL REFERENCES {MOVIES}(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            provider TEXT NOT NULL,
            kind TEXT NOT NULL,
            url TEXT NOT NULL,
            language TEXT,
            width INTEGER,
            height INTEGER,
            score REAL,
            votes INTEGER,
            disc_type TEXT
        )""",
        f"""CREATE TABLE movie_ratings (
            movie_id INTEGER NOT NULL REFERENCES {MOVIES}(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            source TEXT NOT NULL,
            value REAL NOT NULL,
            max REAL NOT NULL,
            votes INTEGER,
            provider TEXT NOT NULL
        )""",
        f"""CREATE TABLE movie_cast (
            movie_id INTEGER NOT NULL REFERENCES {MOVIES}(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            name TEXT NOT NULL,
            character TEXT,
            ord INTEGER,
            person_id TEXT,
            provider TEXT NOT NULL
        )""",
        f"""CREATE TABLE movie_crew (
            movie_id INTEGER NOT NULL REFERENCES {MOVIES}(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            name TEXT NOT NULL,
            job TEXT NOT NULL,
            department TEXT,
            person_id TEXT,
            provider TEXT NOT NULL
        )""",
        f"""CREATE TABLE provider_parts (
            movie_id INTEGER NOT NULL REFERENCES {MOVIES}(id) ON DELETE CASCADE,
            provider TEXT NOT NULL,
            status TEXT NOT NULL,
            fetched_at TEXT NOT NULL,
            error TEXT,
            result TEXT,
            PRIMARY KEY (movie_id, provider)
        )""",
        "CREATE INDEX movie_images_movie ON movie_images(movie_id)",
        "CREATE INDEX movie_ratings_movie ON movie_ratings(movie_id)",
        "CREATE INDEX movie_cast_movie ON movie_cast(movie_id)",
        "CREATE INDEX movie_crew_movie ON movie_crew(movie_id)",
        """CREATE TABLE identification_queue (
            key TEXT PRIMARY KEY,
            input TEXT NOT NULL,
            status TEXT NOT NULL,
            candidates TEXT NOT NULL,
            reasons TEXT NOT NULL,
            queued_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE retry_queue (
            key TEXT PRIMARY KEY,
            input TEXT NOT NULL,
            provider TEXT NOT NULL,
            not_before TEXT NOT NULL,
            reason TEXT NOT NULL,
            scheduled_at TEXT NOT NULL
        )""",
        "CREATE INDEX retry_queue_not_before ON retry_queue(not_before)",
    )


@migration
def m002_provider_state_and_identities(db: Connection) -> None:
    """Provider pauses that outlive a process; the ids confirmed for each input key."""
    _run(
        db,
        """CREATE TABLE provider_state (
            provider TEXT PRIMARY KEY,
            paused_until TEXT,
            reason TEXT,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE identities (
            key TEXT PRIMARY KEY,
            tmdb_id INTEGER,
            imdb_id TEXT,
            tvdb_id INTEGER,
            by TEXT NOT NULL,
            at TEXT NOT NULL
        )""",
    )


@migration
def m003_movie_input_key(db: Connection) -> None:
    """Remember which input key (and input) a cached movie was identified from."""
    _run(
        db,
        f"ALTER TABLE {MOVIES} ADD COLUMN input_key TEXT",
        f"ALTER TABLE {MOVIES} ADD COLUMN input TEXT",
        f"CREATE INDEX {MOVIES}_input_key ON {MOVIES}(input_key)",
    )


@migration
def m004_id_disputes(db: Connection) -> None:
    """Ids two different movies claim: the movie holding one keeps it, the claimant goes without.

    ``value`` has no declared type, so it compares equal to the id columns it mirrors (an
    integer for tmdb and tvdb, text for imdb). No foreign keys: `metarr.cache.disputes` moves a
    dispute along when its movie's row is merged, and drops it when either movie is deleted.
    """
    _run(
        db,
        """CREATE TABLE id_disputes (
            kind TEXT NOT NULL,
            value NOT NULL,
            holder_id INTEGER NOT NULL,
            claimant_id INTEGER NOT NULL,
            provider TEXT,
            at TEXT NOT NULL,
            PRIMARY KEY (kind, value, claimant_id)
        )""",
        "CREATE INDEX id_disputes_holder ON id_disputes(holder_id)",
        "CREATE INDEX id_disputes_claimant ON id_disputes(claimant_id)",
    )


@migration
def m005_input_keys_as_given(db: Connection) -> None:
    """Keys derived from the whole input as given (all ids, the title as written): rows keyed
    the old way (first id only, loose title) are re-keyed (`metarr.cache.input_keys`)."""
    from metarr.cache import input_keys  # only an old cache needs it

    input_keys.rekey(db)


@migration
def m006_scan_items(db: Connection) -> None:
    """What `metarr scan` remembers per library item: its evidence, the fingerprint it was read
    under, the ids it was identified as (valid while the fingerprint is unchanged), when seen."""
    _run(
        db,
        """CREATE TABLE scan_items (
            root TEXT NOT NULL,
            key TEXT NOT NULL,
            path BLOB NOT NULL,
            layout TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            evidence TEXT NOT NULL,
            tmdb_id INTEGER,
            imdb_id TEXT,
            tvdb_id INTEGER,
            identified_fingerprint TEXT,
            identified_at TEXT,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            PRIMARY KEY (root, key)
        )""",
        "CREATE INDEX scan_items_fingerprint ON scan_items(root, fingerprint)",
        "CREATE INDEX scan_items_last_seen ON scan_items(root, last_seen)",
    )


@migration
def m007_queue_reviewed(db: Connection) -> None:
    """When a person last reviewed a queued input and chose none of its candidates (it stays
    queued, marked reviewed); NULL while nobody has."""
    _run(db, "ALTER TABLE identification_queue ADD COLUMN reviewed_at TEXT")


@migration
def m008_compact_movies(db: Connection) -> None:
    """A movie in a third of the space: the merged movie and every provider part's result
    (with its raw payload) stored compressed (`metarr.cache.packed`: zlib, Zstandard since
    ``m010_zstd_documents``, over the same JSON text, about a quarter of its size), and the
    child tables ``movie_images``,
    ``movie_ratings``, ``movie_cast`` and ``movie_crew`` gone: they held a second copy of
    what the merged movie holds (an eighth of a movie's bytes, most of its SQL statements),
    and nothing read them. Converted in place, in this migration's one transaction."""
    db.create_function("metarr_pack", 1, packed.pack_text, deterministic=True)
    _run(
        db,
        "UPDATE provider_parts SET result = metarr_pack(result) WHERE typeof(result) = 'text'",
        f"UPDATE {MOVIES} SET movie = metarr_pack(movie) WHERE typeof(movie) = 'text'",
        "DROP TABLE IF EXISTS movie_images",
        "DROP TABLE IF EXISTS movie_ratings",
        "DROP TABLE IF EXISTS movie_cast",
        "DROP TABLE IF EXISTS movie_crew",
    )


@migration
def m009_refresh_state(db: Connection) -> None:
    """``provider_usage``: requests refreshes spent per provider and UTC day (a share of a
    daily allowance). ``part_checks``: what a provider's change feed said about a part since
    its fetch: when it last confirmed the part current without a refetch (``checked_at``,
    ``note``: its freshness counts from then), and when it last listed the movie as changed
    (``changed_at``: no confirmation until the part is fetched again)."""
    _run(
        db,
        f"""CREATE TABLE part_checks (
            movie_id INTEGER NOT NULL REFERENCES {MOVIES}(id) ON DELETE CASCADE,
            provider TEXT NOT NULL,
            checked_at TEXT,
            note TEXT,
            changed_at TEXT,
            PRIMARY KEY (movie_id, provider)
        )""",
        """CREATE TABLE provider_usage (
            provider TEXT NOT NULL,
            day TEXT NOT NULL,
            requests INTEGER NOT NULL,
            PRIMARY KEY (provider, day)
        )""",
    )


@migration
def m010_zstd_documents(db: Connection) -> None:
    """Documents written from here on are Zstandard frames (`metarr.cache.packed`: 2.5 times
    zlib's speed, 4 % smaller); rows written before stay zlib and read as before. No table
    changes: the version tells a metarr that reads only zlib that this cache is not for it
    (it would take the new rows for unreadable ones)."""


LATEST_VERSION = len(MIGRATIONS)

FRESH_VERSION = 10
"""The migrations `FRESH_SCHEMA` stands for (m001 to m010)."""

FRESH_SCHEMA = (
    f"""CREATE TABLE {MOVIES} (
            id INTEGER PRIMARY KEY,
            tmdb_id INTEGER,
            imdb_id TEXT,
            tvdb_id INTEGER,
            title TEXT,
            year INTEGER,
            movie TEXT NOT NULL,
            provenance TEXT NOT NULL,
            identified_at TEXT NOT NULL,
            refreshed_at TEXT NOT NULL
        , input_key TEXT, input TEXT)""",
    f"CREATE UNIQUE INDEX {MOVIES}_tmdb ON {MOVIES}(tmdb_id)",
    f"CREATE UNIQUE INDEX {MOVIES}_imdb ON {MOVIES}(imdb_id)",
    f"CREATE UNIQUE INDEX {MOVIES}_tvdb ON {MOVIES}(tvdb_id)",
    f"""CREATE TABLE provider_parts (
            movie_id INTEGER NOT NULL REFERENCES {MOVIES}(id) ON DELETE CASCADE,
            provider TEXT NOT NULL,
            status TEXT NOT NULL,
            fetched_at TEXT NOT NULL,
            error TEXT,
            result TEXT,
            PRIMARY KEY (movie_id, provider)
        )""",
    """CREATE TABLE identification_queue (
            key TEXT PRIMARY KEY,
            input TEXT NOT NULL,
            status TEXT NOT NULL,
            candidates TEXT NOT NULL,
            reasons TEXT NOT NULL,
            queued_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        , reviewed_at TEXT)""",
    """CREATE TABLE retry_queue (
            key TEXT PRIMARY KEY,
            input TEXT NOT NULL,
            provider TEXT NOT NULL,
            not_before TEXT NOT NULL,
            reason TEXT NOT NULL,
            scheduled_at TEXT NOT NULL
        )""",
    "CREATE INDEX retry_queue_not_before ON retry_queue(not_before)",
    """CREATE TABLE provider_state (
            provider TEXT PRIMARY KEY,
            paused_until TEXT,
            reason TEXT,
            updated_at TEXT NOT NULL
        )""",
    """CREATE TABLE identities (
            key TEXT PRIMARY KEY,
            tmdb_id INTEGER,
            imdb_id TEXT,
            tvdb_id INTEGER,
            by TEXT NOT NULL,
            at TEXT NOT NULL
        )""",
    f"CREATE INDEX {MOVIES}_input_key ON {MOVIES}(input_key)",
    """CREATE TABLE id_disputes (
            kind TEXT NOT NULL,
            value NOT NULL,
            holder_id INTEGER NOT NULL,
            claimant_id INTEGER NOT NULL,
            provider TEXT,
            at TEXT NOT NULL,
            PRIMARY KEY (kind, value, claimant_id)
        )""",
    "CREATE INDEX id_disputes_holder ON id_disputes(holder_id)",
    "CREATE INDEX id_disputes_claimant ON id_disputes(claimant_id)",
    """CREATE TABLE scan_items (
            root TEXT NOT NULL,
            key TEXT NOT NULL,
            path BLOB NOT NULL,
            layout TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            evidence TEXT NOT NULL,
            tmdb_id INTEGER,
            imdb_id TEXT,
            tvdb_id INTEGER,
            identified_fingerprint TEXT,
            identified_at TEXT,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            PRIMARY KEY (root, key)
        )""",
    "CREATE INDEX scan_items_fingerprint ON scan_items(root, fingerprint)",
    "CREATE INDEX scan_items_last_seen ON scan_items(root, last_seen)",
    f"""CREATE TABLE part_checks (
            movie_id INTEGER NOT NULL REFERENCES {MOVIES}(id) ON DELETE CASCADE,
            provider TEXT NOT NULL,
            checked_at TEXT,
            note TEXT,
            changed_at TEXT,
            PRIMARY KEY (movie_id, provider)
        )""",
    """CREATE TABLE provider_usage (
            provider TEXT NOT NULL,
            day TEXT NOT NULL,
            requests INTEGER NOT NULL,
            PRIMARY KEY (provider, day)
        )""",
)
"""A new file's schema in one step: the tables and indexes m001 to m010 leave, each as SQLite
records it after them (columns a migration added come last). A fresh cache is what every first
command against a new file makes: nine migrations (m001 to m009), each its own transaction,
took ~11 ms of CPU and ~45 ms of wall time. `tests/test_cache_schema.py` proves it identical
to the migrated one; a migration added later runs after it as usual."""


def applied_migrations(db: Connection | Database) -> list[str]:
    """Names of the migrations applied to this database, in order."""
    conn = connection(db)
    if not _has_table(conn, MIGRATIONS_TABLE):
        return []
    query = f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY version"
    return [row["name"] for row in fetch(conn, query)]


def schema_version(db: Connection | Database) -> int:
    """The database's schema version: how many migrations it has had."""
    return len(applied_migrations(db))


def _has_table(conn: Connection, name: str) -> bool:
    found = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [name])
    return found.fetchone() is not None


def migrate(db: Connection | Database, *, upto: int | None = None) -> int:
    """Apply pending migrations (up to version ``upto``, default all); return the version.

    Refuses a database whose schema is newer than this code, or that belongs to something else.
    Safe to run from several processes at once: each step re-checks under the write lock.
    """
    conn = connection(db)
    target = LATEST_VERSION if upto is None else min(upto, LATEST_VERSION)
    if target == LATEST_VERSION and applied_migrations(conn) == [m.__name__ for m in MIGRATIONS]:
        return LATEST_VERSION  # current already: no write lock (a batch may hold it for a while)
    while True:
        with write_transaction(conn):
            applied = _checked_applied(conn)
            if len(applied) >= target:
                return len(applied)
            if not applied and target >= FRESH_VERSION:
                _run(conn, *FRESH_SCHEMA)  # a new file: all of it at once
                steps = MIGRATIONS[:FRESH_VERSION]
            else:
                steps = [MIGRATIONS[len(applied)]]
                steps[0](conn)
            stamp = to_text(system_clock())
            for version, step in enumerate(steps, start=len(applied) + 1):
                conn.execute(
                    f"INSERT INTO {MIGRATIONS_TABLE} (version, name, applied_at) VALUES (?, ?, ?)",
                    [version, step.__name__, stamp],
                )
            conn.execute(f"PRAGMA user_version = {len(applied) + len(steps)}")


def checked_version(db: Connection | Database) -> int:
    """The schema version of a cache opened read-only, which must be the current one (it
    cannot be upgraded without writing): `StorageError` saying what to do otherwise."""
    if not _has_table(connection(db), MIGRATIONS_TABLE):
        raise StorageError(
            "this SQLite database is not a metarr cache (no schema recorded); "
            "point the cache at another file"
        )
    version = len(applied_migrations(db))
    if version > LATEST_VERSION:
        raise StorageError(
            f"cache database schema is version {version}, newer than version {LATEST_VERSION} "
            "that this metarr knows; upgrade metarr"
        )
    if version < LATEST_VERSION:
        raise StorageError(
            f"cache database schema is version {version}, older than version {LATEST_VERSION}: "
            "open it once for writing (any metarr command) to upgrade it"
        )
    return version


def _checked_applied(db: Connection) -> list[str]:
    if not _has_table(db, MIGRATIONS_TABLE):
        tables = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        foreign = [name for (name,) in tables if not name.startswith("sqlite_")]
        if foreign:
            raise StorageError(
                "this SQLite database is not a metarr cache (it has tables "
                f"{', '.join(sorted(foreign)[:5])}); point the cache at another file"
            )
        db.execute(
            f"CREATE TABLE {MIGRATIONS_TABLE} "
            "(version INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, applied_at TEXT NOT NULL)"
        )
        return []
    applied = applied_migrations(db)
    known = [fn.__name__ for fn in MIGRATIONS]
    if len(applied) > len(known):
        raise StorageError(
            f"cache database schema is version {len(applied)}, newer than version {len(known)} "
            "that this metarr knows; upgrade metarr or point the cache at another file"
        )
    for have, want in zip(applied, known, strict=False):
        if have != want:
            raise StorageError(
                f"cache database has migration {have!r} where this metarr expects {want!r}; "
                "it was written by an incompatible metarr"
            )
    return applied
