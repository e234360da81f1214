"""The values the cache hands out: frozen attrs records, never live database rows."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal, get_args

import attrs

from metarr.cache.times import system_clock, utc
from metarr.ids import Ids
from metarr.models import Candidate, Movie, ProviderResult

PartStatus = Literal["ok", "missing", "rate_limited", "error", "not_found"]
PART_STATUSES: tuple[str, ...] = get_args(PartStatus)
# A part in one of these states is settled: the provider answered (with data or "no such movie").
SETTLED_STATUSES: frozenset[str] = frozenset({"ok", "not_found"})

IdentitySource = Literal["person", "lookup", "search"]
IDENTITY_SOURCES: tuple[str, ...] = get_args(IdentitySource)

DEFAULT_TTL_DAYS = 7.0


def _part_status(value: object) -> str:
    if value not in PART_STATUSES:
        raise ValueError(f"part status must be one of {', '.join(PART_STATUSES)}, not {value!r}")
    return str(value)


@attrs.frozen(kw_only=True)
class ProviderPart:
    """What one provider said about a cached movie, and when.

    ``status`` is ``ok`` (``result`` holds the record), ``not_found`` (the provider has no such
    movie), or ``missing`` / ``rate_limited`` / ``error`` (no answer yet: needs a fill-in).
    """

    provider: str
    status: str = attrs.field(converter=_part_status)
    fetched_at: datetime = attrs.field(converter=utc)
    result: ProviderResult | None = None
    error: str | None = None

    def __attrs_post_init__(self) -> None:
        if self.status == "ok" and self.result is None:
            raise ValueError(f"{self.provider}: an 'ok' part needs its result")

    @property
    def settled(self) -> bool:
        """True when the provider answered (``ok`` or ``not_found``)."""
        return self.status in SETTLED_STATUSES


def ttl_for(
    provider: str, ttl_days: Mapping[str, float] | None, default_ttl_days: float
) -> timedelta:
    """How long a provider's part stays fresh."""
    days = (ttl_days or {}).get(provider, default_ttl_days)
    return timedelta(days=max(0.0, float(days)))


@attrs.frozen(kw_only=True)
class IdDispute:
    """An id two different cached movies claim.

    The movie that held it first (``holder_id``) keeps it; the other (``claimant_id``) is
    cached without it, because ``provider`` gave it that id. ``holder`` and ``claimant`` are
    labels (``Heat (1995) tmdb:949 imdb:tt0113277``) for messages.
    """

    kind: str
    value: int | str
    holder_id: int
    claimant_id: int
    provider: str | None
    at: datetime
    holder: str = ""
    claimant: str = ""

    def describe(self, movie_id: int | None = None) -> str:
        """One line about the dispute, seen from ``movie_id`` (either side) or from outside."""
        by = f" by {self.provider}" if self.provider else ""
        if movie_id == self.claimant_id:
            return (
                f"{self.kind} {self.value} was given to this movie{by}, but it is "
                f"{self.holder} (movie {self.holder_id}) in the cache: cached without it"
            )
        if movie_id == self.holder_id:
            return (
                f"{self.kind} {self.value} of this movie is also claimed{by} for "
                f"{self.claimant} (movie {self.claimant_id}), cached without it"
            )
        return (
            f"{self.kind} {self.value}: held by {self.holder} (movie {self.holder_id}); "
            f"claimed{by} for {self.claimant} (movie {self.claimant_id}), cached without it"
        )


@attrs.frozen(kw_only=True)
class CachedMovie:
    """A committed movie: the merged record and every provider part it was merged from.

    ``disputes`` are the ids this movie holds that another claims, or claims and goes without.
    A light read (``get(ids)``) holds the merged record only: ``with_parts`` is False,
    ``parts`` and ``disputes`` are empty, and what needs the parts (`stale_providers`,
    `missing_providers`) raises `ValueError`; ``get(ids, parts=True)`` loads everything.
    """

    id: int
    movie: Movie
    identified_at: datetime
    refreshed_at: datetime
    parts: dict[str, ProviderPart] = attrs.field(factory=dict)
    key: str | None = None
    input: dict[str, Any] | None = None
    disputes: tuple[IdDispute, ...] = ()
    with_parts: bool = True

    @property
    def ids(self) -> Ids:
        """The movie's ids."""
        return self.movie.ids

    def missing_providers(self, expected: Collection[str] = ()) -> list[str]:
        """Providers whose part needs a fill-in (not ``ok``/``not_found``), sorted.

        Providers named in ``expected`` that have no part at all count as missing too.
        """
        if not self.with_parts:
            raise ValueError("the parts were not read: get(ids, parts=True) reads them")
        missing = {name for name, part in self.parts.items() if not part.settled}
        missing.update(name for name in expected if name not in self.parts)
        return sorted(missing)

    def stale_providers(
        self,
        ttl_days: Mapping[str, float] | None = None,
        now: datetime | None = None,
        *,
        default_ttl_days: float = DEFAULT_TTL_DAYS,
        expected: Collection[str] = (),
    ) -> list[str]:
        """Providers to ask again, sorted: parts at least their provider's TTL old, plus
        `missing_providers`. A TTL of 0 days marks every part stale (a forced refresh)."""
        moment = utc(now) if now is not None else system_clock()
        stale = set(self.missing_providers(expected))
        for name, part in self.parts.items():
            if part.fetched_at + ttl_for(name, ttl_days, default_ttl_days) <= moment:
                stale.add(name)
        return sorted(stale)

    def is_fresh(
        self,
        ttl_days: Mapping[str, float] | None = None,
        now: datetime | None = None,
        *,
        default_ttl_days: float = DEFAULT_TTL_DAYS,
        expected: Collection[str] = (),
    ) -> bool:
        """True when no provider needs asking again (see `stale_providers`)."""
        return not self.stale_providers(
            ttl_days, now, default_ttl_days=default_ttl_days, expected=expected
        )


@attrs.frozen(kw_only=True)
class QueuedIdentification:
    """An input only a person can settle: ambiguous, not found, or conflicting providers.

    ``reviewed_at`` is when a person last looked at it and chose none of the candidates (None
    while nobody has); the candidates carry their details, so showing them sends no request.
    """

    key: str
    input: dict[str, Any]
    status: str
    candidates: tuple[Candidate, ...] = ()
    reasons: tuple[str, ...] = ()
    queued_at: datetime
    reviewed_at: datetime | None = None


@attrs.frozen(kw_only=True)
class PendingRetry:
    """An input to identify again once ``not_before`` has passed (a provider was unavailable)."""

    key: str
    input: dict[str, Any]
    provider: str
    not_before: datetime
    reason: str


@attrs.frozen(kw_only=True)
class ProviderPause:
    """A provider not to be asked before ``until`` (e.g. OMDb's daily quota is spent)."""

    provider: str
    until: datetime
    reason: str


@attrs.frozen(kw_only=True)
class ConfirmedIdentity:
    """The ids chosen for an input key, by a ``person``, a ``lookup`` or a ``search``."""

    key: str
    ids: Ids
    by: str
    at: datetime


@attrs.frozen(kw_only=True)
class CacheStats:
    """Counts for ``metarr cache stats``."""

    movies: int
    stale: int
    incomplete: int
    missing_by_provider: dict[str, int]
    identification_queue: int
    retry_queue: int
    retries_due: int
    paused_providers: tuple[str, ...]
    identities: int
    db_bytes: int
    schema_version: int
    id_disputes: int = 0
