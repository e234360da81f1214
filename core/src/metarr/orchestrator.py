"""The Python API for embedders: identify, search, confirm and refresh, memory first.

`Orchestrator` ties the engine (in-memory identification) to the cache (committed truth):
a fresh cached movie costs no request; a stale or incomplete one is refetched only from the
providers that need it; an identification is committed only once its identity is confirmed,
and inputs that need a person, or a provider that asked us to wait, go to the queues.

Use it with ``async with Orchestrator.from_settings() as orc: ...``, or, without an event loop,
``with Orchestrator.open_sync() as orc: ...`` (`SyncOrchestrator`, same methods, blocking).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import httpx

from metarr import http
from metarr.cache import (
    Cache,
    CachedMovie,
    IdConflictError,
    MovieRef,
    ProviderPart,
    QueuedIdentification,
    UnreadableMovieError,
)
from metarr.config import Settings, load_settings
from metarr.engine import Engine, Identification, ProviderFailures, ProviderReport
from metarr.http import TrafficStats, new_client
from metarr.ids import Ids
from metarr.matching import fits_name, titles_of
from metarr.models import Candidate, Outcome, ProviderStatus, SearchResult
from metarr.plugins import PluginInfo, Registry, build_registry, discover
from metarr.query import Query
from metarr.redaction import install_log_redaction

RETRY_DEFAULT = timedelta(minutes=1)
SEARCH_DETAILS = 5  # candidates of a person's search whose details are fetched
log = logging.getLogger("metarr.orchestrator")


class Orchestrator:
    """Identify movies with every enabled provider and keep the results in the cache."""

    def __init__(
        self,
        *,
        registry: Registry,
        cache: Cache,
        settings: Settings | None = None,
        client: httpx.AsyncClient | None = None,
        stats: TrafficStats | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.registry = registry
        self.cache = cache
        self.stats = stats or TrafficStats()
        self._client = client
        self._clock = clock or (lambda: datetime.now(UTC))
        self.engine = Engine(
            registry,
            language=self.settings.language,
            priority=self.settings.priority,
            tmdb_policy=self.settings.tmdb_policy,
        )
        self.ttl_days = provider_ttls(self.settings, registry)

    @classmethod
    def from_settings(
        cls,
        settings: Settings | None = None,
        *,
        only: Iterable[str] | None = None,
        without: Iterable[str] = (),
        plugins: Iterable[PluginInfo] | None = None,
    ) -> Orchestrator:
        """Build everything from configuration (`load_settings` when none is given)."""
        install_log_redaction()
        infos = list(discover() if plugins is None else plugins)
        settings = settings or load_settings(info.name for info in infos)
        client = new_client()
        stats = TrafficStats()
        registry = build_registry(
            settings, client, plugins=infos, only=only, without=without, stats=stats
        )
        Path(settings.db_path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        cache = Cache(settings.db_path, ttl_days=provider_ttls(settings, registry))
        return cls(registry=registry, cache=cache, settings=settings, client=client, stats=stats)

    @classmethod
    def open_sync(cls, settings: Settings | None = None, **kwargs: Any) -> SyncOrchestrator:
        """A blocking facade for callers without an event loop."""
        return SyncOrchestrator(lambda: cls.from_settings(settings, **kwargs))

    async def __aenter__(self) -> Orchestrator:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the HTTP client and the cache."""
        if self._client is not None:
            await self._client.aclose()
        self.cache.close()

    # -- identification ----------------------------------------------------------------------

    async def lookup(
        self, ids: Ids, *, refresh: bool = False, interactive: bool = True, key: str | None = None
    ) -> Outcome:
        """Identify by ids (lookup mode); commits when confirmed."""
        return (
            await self.run(Query(ids=ids, key=key), interactive=interactive, refresh=refresh)
        ).outcome

    async def identify_title(
        self, title: str, year: int | None = None, *, key: str | None = None
    ) -> Outcome:
        """The automated title (+ year) decision; commits only a single confident match."""
        return (await self.run(Query(title=title, year=year, key=key))).outcome

    async def identify(
        self, query: Query, *, interactive: bool = False, refresh: bool = False
    ) -> Outcome:
        """Identify any input (ids, title, or both)."""
        return (await self.run(query, interactive=interactive, refresh=refresh)).outcome

    async def search(
        self, query: str, year: int | None = None, *, details: int = SEARCH_DETAILS
    ) -> SearchResult:
        """Candidates from every search provider for a person to choose from, best first, and
        each provider's status (`SearchResult`); nothing is cached.

        The first ``details`` candidates (0: none) are looked up, concurrently, for what tells
        films apart (director, cast, runtime, outline, IMDb rating, …); `choose` then reuses
        those responses.
        """
        return await self.engine.search(query, year, details=details)

    async def choose(
        self, key: str, candidate: Candidate, *, search: SearchResult | None = None
    ) -> Outcome:
        """A person's choice of a candidate for the input ``key``: `confirm` with its ids,
        reusing every response ``search`` (the search it came from) received, so a candidate
        whose details were fetched costs no request to the providers that gave them."""
        if search is None:
            return await self.confirm(key, candidate.ids)
        with http.reusing(search.responses):
            return await self.confirm(key, candidate.ids)

    async def none_of_these(
        self, query: Query, *, search: SearchResult | None = None
    ) -> QueuedIdentification:
        """Record that a person found none of the candidates to be the movie: the input stays
        in the identification queue, marked reviewed. An input that was not queued is queued
        now (``not_found``, with ``search``'s candidates)."""
        key = query.input_key
        if self.cache.queued(key) is None:
            shown = search.candidates if search is not None else ()
            looked = f" among {len(shown)} candidates" if shown else ""
            outcome = Outcome(
                status="not_found",
                candidates=shown,
                reasons=(f"a person found none of these to be the movie{looked}",),
            )
            self.cache.queue_identification(key, query.to_input(), outcome, reviewed=True)
        else:
            self.cache.mark_reviewed(key)
        queued = self.cache.queued(key)
        assert queued is not None
        return queued

    async def confirm(self, key: str, ids: Ids) -> Outcome:
        """Record a person's choice for an input key, look the movie up and commit it."""
        identification = await self.run(Query(ids=ids, key=key), interactive=True, by="person")
        return identification.outcome

    async def refresh(self, ids: Ids) -> Outcome:
        """Refetch a movie from every provider now, whatever its age (identify it if it is not
        cached). When nothing could be refetched the outcome is ``error`` (or ``rate_limited``)
        with the cached record, which stays as it was: still stale."""
        ref = self.cache.ref(ids)
        if ref is None:
            return (await self.run(Query(ids=ids), interactive=True, refresh=True)).outcome
        return await self._refresh(ref, everything=True, interactive=True)

    async def refresh_stale(self, *, incomplete_only: bool = False) -> list[Outcome]:
        """Refetch stale parts (with ``incomplete_only``: only the missing ones).

        Movies are loaded one at a time, as each comes up; an unreadable one gives an ``error``
        outcome naming it. A refresh changes parts and the merged record, never the movie's
        input key, input or confirmed identity.
        """
        movie_ids = (
            self.cache.incomplete_ids() if incomplete_only else self.cache.stale_ids(self._clock())
        )
        outcomes = []
        for movie_id in movie_ids:
            ref = self.cache.ref_by_id(movie_id)
            if ref is not None:  # else merged into another movie or deleted meanwhile
                outcomes.append(await self._refresh(ref, everything=False, interactive=False))
        return outcomes

    async def repair(self, movie_id: int) -> Outcome:
        """Mend a cached movie whose stored data cannot be read: drop what cannot be read,
        refetch it from every provider and rebuild its record (from what is left, when nothing
        could be refetched). ``identified`` when it reads back whole; else ``error``."""
        ref = self.cache.ref_by_id(movie_id)
        if ref is None:
            return Outcome(status="error", reasons=(f"movie {movie_id} is not in the cache",))
        dropped = self.cache.drop_unreadable_parts(movie_id)
        notes = [f"dropped what could not be read: {', '.join(dropped)}"] if dropped else []
        now = self._clock()
        self._apply_pauses(now)
        identification = await self.engine.lookup(ref.ids, interactive=True)
        if identification.outcome.status == "identified":
            query = Query(ids=ref.ids, key=ref.key)
            identification = self._persist(query, identification, "lookup", now, maintenance=True)
        else:
            notes.append("nothing could be refetched: " + "; ".join(identification.outcome.reasons))
            self.cache.remerge(self.engine.merge, [movie_id])
        outcome = identification.outcome
        try:
            cached = self.cache.find(ref.ids)
        except UnreadableMovieError as exc:
            return attrs.evolve(outcome, status="error", movie=None, reasons=(*notes, str(exc)))
        if cached is None or outcome.status not in ("identified", "error", "rate_limited"):
            return attrs.evolve(outcome, reasons=(*notes, *outcome.reasons))
        repaired = _cached_outcome(cached, self.registry)
        return attrs.evolve(repaired, reasons=(*notes, "repaired: it reads back whole"))

    def remerge(
        self,
        ids: Iterable[Ids] | None = None,
        *,
        on_unreadable: Callable[[UnreadableMovieError], None] | None = None,
    ) -> int:
        """Rebuild merged records from the stored provider results, with zero requests.

        Each movie is re-read and rewritten in its own write transaction (see `Cache.remerge`);
        only the merged record changes. Unreadable movies are skipped and handed to
        ``on_unreadable`` (default: logged as a warning). Returns how many were rebuilt.
        """
        movie_ids = None
        if ids is not None:
            refs = (self.cache.ref(i) for i in ids)
            movie_ids = [ref.id for ref in refs if ref is not None]
        return self.cache.remerge(
            self.engine.merge, movie_ids, on_unreadable=on_unreadable or _log_unreadable
        )

    def get(self, ids: Ids) -> CachedMovie | None:
        """The committed movie for any of these ids, from the cache only (no network)."""
        return self.cache.find(ids)

    async def run(
        self,
        query: Query,
        *,
        interactive: bool = False,
        refresh: bool = False,
        retry_queued: bool = False,
        by: str | None = None,
    ) -> Identification:
        """Identify one input and persist the result; returns the full identification.

        A recorded identity answers only the same input (its key: the caller's, or one derived
        from the input as given); a cached movie answers only when it fits the input (no given
        id contradicts it, a given title is one of its titles). Automated runs
        (``interactive=False``) do not search again for an input already waiting for a person:
        its queued outcome comes back with no request, unless ``retry_queued``. ``refresh``
        asks every provider again whatever the cache holds.
        """
        now = self._clock()
        self._apply_pauses(now)
        key = query.input_key
        ids = query.ids
        decided = False  # a recorded identity says which movie: the input is not checked again
        if by != "person":
            identity = self.cache.identity(key)
            if identity is not None and (identity.by == "person" or not ids):
                ids = identity.ids  # a person's choice is never re-searched or overridden
                decided = True
        cached = self._answer(query, ids, check=not decided) if ids else None
        if cached is None and not (interactive or retry_queued or refresh):
            queued = self._queued(query)
            if queued is not None:
                return Identification(outcome=queued)
        todo: list[str] | None = None
        if cached is not None:
            todo = None if refresh else self._refetch(cached, key, now)
            if todo == []:
                if by == "person":
                    self.cache.confirm_identity(key, cached.ids, by="person")
                    self.cache.dequeue_identification(key)
                    self.cache.clear_retry(key)
                return Identification(outcome=_cached_outcome(cached, self.registry))
            identification = await self.engine.lookup(
                cached.ids, interactive=interactive, providers=todo
            )
            identification = self._with_stored(identification, cached, todo)
        else:
            waiting = None if interactive else self._waiting(key, now)
            if waiting is not None:
                return Identification(outcome=waiting)
            if ids:
                name = None if decided else query.title
                identification = await self.engine.lookup(
                    ids, interactive=interactive, title=name, year=query.year if name else None
                )
            else:
                identification = await self.engine.identify_title(query.title or "", query.year)
        by = by or ("lookup" if query.ids else "search")
        return self._persist(query, identification, by, now, asked=todo)

    # -- internals ---------------------------------------------------------------------------

    def _lookup_providers(self) -> list[str]:
        return [n for n in self.registry.enabled if self.registry.implements(n, "lookup_by_id")]

    def provider_failures(self) -> dict[str, ProviderFailures]:
        """The providers that failed (or were rate limited) in this orchestrator's run so far,
        with how often and why; a provider whose credentials were rejected is marked
        ``out_for_run`` (it is not asked again). For summaries and exit codes."""
        return self.engine.failures()

    def _answer(self, query: Query, ids: Ids, *, check: bool) -> CachedMovie | None:
        """The cached movie for ``ids`` when it answers ``query``: no given id contradicts it,
        no other cached movie holds a given id, a given title (and year) fits it."""
        if not check:
            return self.cache.find(ids)
        found = self.cache.find_all(ids)
        if len(found) != 1:
            return None  # not cached, or the given ids are cached as different movies
        [cached] = found
        if any(cached.ids.get(kind) not in (None, value) for kind, value in ids.items()):
            return None
        if query.title is not None:
            records = [cached.movie, *(p.result for p in cached.parts.values() if p.result)]
            titles = [title for record in records for title in titles_of(record)]
            if not fits_name(query.title, query.year, titles, [r.year for r in records]):
                return None
        return cached

    def _queued(self, query: Query) -> Outcome | None:
        """The outcome of this input waiting for a person, without a request."""
        waiting = self.cache.queued(query.input_key)
        if waiting is None or not _same_input(waiting.input, query):
            return None
        note = (
            f"queued for a person since {waiting.queued_at:%Y-%m-%d %H:%M} UTC (metarr queue); "
            "not searched again until resolved"
        )
        return Outcome(
            status=waiting.status,  # type: ignore[arg-type]
            candidates=waiting.candidates,
            reasons=(*waiting.reasons, note),
        )

    def _waiting(self, key: str, now: datetime) -> Outcome | None:
        """A ``rate_limited`` outcome while the input's retry is not due yet (no request)."""
        pending = self.cache.pending_retry(key)
        if pending is None or pending.not_before <= now:
            return None
        return Outcome(
            status="rate_limited",
            reasons=(
                f"waiting for {pending.provider} until "
                f"{pending.not_before:%Y-%m-%d %H:%M:%S} UTC: {pending.reason}",
            ),
        )

    def _refetch(self, cached: CachedMovie, key: str, now: datetime) -> list[str]:
        """The providers to ask again for a cached movie ([] when it is fresh)."""
        expected = self._lookup_providers()
        stale = set(cached.stale_providers(self.ttl_days, now, expected=expected)) & set(expected)
        missing = set(cached.missing_providers(expected)) & stale
        pending = self.cache.pending_retry(key) or self.cache.pending_retry(_ids_key(cached.ids))
        if pending is not None and pending.not_before > now:
            stale -= missing  # the fill-in is not due yet
        paused = self.cache.paused_providers(now)
        return sorted(stale - set(paused))

    async def _refresh(self, ref: MovieRef, *, everything: bool, interactive: bool) -> Outcome:
        """Refetch a cached movie: every provider, or the stale ones. Never touches its key,
        input or identity; an unreadable movie gives an ``error`` outcome naming it."""
        now = self._clock()
        self._apply_pauses(now)
        try:
            cached = self.cache.find(ref.ids)
        except UnreadableMovieError as exc:
            return Outcome(status="error", reasons=(str(exc),))
        if cached is None:
            return Outcome(status="error", reasons=(f"{ref.ids} is no longer in the cache",))
        query = Query(ids=cached.ids, key=ref.key)
        todo = None if everything else self._refetch(cached, query.input_key, now)
        if todo == []:
            return _cached_outcome(cached, self.registry)
        identification = await self.engine.lookup(
            cached.ids, interactive=interactive, providers=todo
        )
        identification = self._with_stored(identification, cached, todo)
        return self._persist(
            query, identification, "lookup", now, asked=todo, maintenance=True
        ).outcome

    def _with_stored(
        self, identification: Identification, cached: CachedMovie, asked: Collection[str] | None
    ) -> Identification:
        """The outcome of refetching a cached movie (``asked``: the providers asked, None for
        all): its stored results with the fresh ones on top. The reports stay the fresh ones:
        only they become new parts, so kept parts keep their own fetch times. When no asked
        provider answered, nothing is to be stored: the outcome is ``error`` (``rate_limited``
        if every failure was a rate limit) with the cached record and its age."""
        outcome = identification.outcome
        if outcome.status not in ("identified", "rate_limited", "error", "not_found"):
            return identification
        names = set(self._lookup_providers() if asked is None else asked)
        reports = identification.reports
        answered = [n for n in names if n in reports and reports[n].status in ("ok", "not_found")]
        results = {n: p.result for n, p in cached.parts.items() if p.result is not None}
        results.update({n: r.result for n, r in reports.items() if r.result is not None})
        providers = dict(outcome.providers)
        for name, part in cached.parts.items():
            if providers.get(name) in ("skipped", None):  # not asked: the stored part stands
                providers[name] = _part_status(part)
        if not answered or not results:
            failures = [r.status for n, r in reports.items() if n in names and r.status != "ok"]
            limited = bool(failures) and all(status == "rate_limited" for status in failures)
            fetched = min(
                (p.fetched_at for p in cached.parts.values()), default=cached.refreshed_at
            )
            age = self._clock() - fetched
            note = (
                "nothing could be refetched, so nothing was stored: this is the cached record, "
                f"fetched {fetched:%Y-%m-%d %H:%M} UTC ({_age(age)} old), and it stays stale"
            )
            stale = Outcome(
                status="rate_limited" if limited else "error",
                movie=cached.movie,
                providers=providers,
                reasons=(*outcome.reasons, note),
            )
            return attrs.evolve(identification, outcome=stale)
        merged = attrs.evolve(
            outcome, status="identified", movie=self.engine.merge(results), providers=providers
        )
        return attrs.evolve(identification, outcome=merged)

    def _persist(
        self,
        query: Query,
        identification: Identification,
        by: str,
        now: datetime,
        *,
        asked: Collection[str] | None = None,
        maintenance: bool = False,
    ) -> Identification:
        """Store what an identification settled and return it as stored.

        An identified movie is committed with the parts of the providers really asked
        (``asked``, None for all) and merged from the stored parts under the write lock; its
        outcome then holds the committed movie and says which ids it went without. An id the
        caller gave that belongs to a different cached movie turns it into a ``conflict``
        queued for a person (a person's own choice is committed without that id). With
        ``maintenance`` (a refresh) the movie's key, input and identity are left alone.
        """
        outcome = identification.outcome
        key = query.input_key
        for name, report in identification.reports.items():
            if report.until is not None:
                self.cache.pause_provider(name, report.until, report.detail or "quota reached")
        if outcome.status == "identified" and outcome.movie is not None:
            parts = self._parts(identification, asked, self._clock())
            try:
                committed = self.cache.commit(
                    outcome.movie,
                    parts,
                    merge=self.engine.merge,
                    key=None if maintenance else key,
                    confirmed_by=None if maintenance else by,
                    input=None if maintenance else query.to_input(),
                    given=None if maintenance or by == "person" else query.ids,
                )
            except IdConflictError as exc:
                conflict = Outcome(
                    status="conflict",
                    reasons=(*outcome.reasons, *exc.reasons()),
                    providers=outcome.providers,
                )
                self.cache.queue_identification(key, query.to_input(), conflict)
                return attrs.evolve(identification, outcome=conflict)
            notes = tuple(
                d.describe(committed.id)
                for d in committed.disputes
                if d.claimant_id == committed.id
            )
            outcome = attrs.evolve(
                outcome, movie=committed.movie, reasons=(*outcome.reasons, *notes)
            )
            identification = attrs.evolve(identification, outcome=outcome)
            for name, report in identification.reports.items():
                if report.status == "rate_limited":
                    self.cache.schedule_retry(
                        key,
                        query.to_input(),
                        name,
                        _not_before(report, now),
                        f"fill in {name}: {report.detail}",
                    )
        elif outcome.needs_person:
            self.cache.queue_identification(key, query.to_input(), outcome)
        elif outcome.status == "rate_limited":
            limited = [
                (n, r) for n, r in identification.reports.items() if r.status == "rate_limited"
            ]
            name, report = limited[0] if limited else ("", ProviderReport(status="rate_limited"))
            self.cache.schedule_retry(
                key,
                query.to_input(),
                name or "unknown",
                _not_before(report, now),
                "; ".join(outcome.reasons) or "rate limited",
            )
        return identification

    def _parts(
        self, identification: Identification, asked: Collection[str] | None, fetched_at: datetime
    ) -> dict[str, ProviderPart]:
        """A new part for each provider asked (None: every lookup provider), stamped
        ``fetched_at``; providers not asked get none, so their stored parts stay as they are."""
        parts: dict[str, ProviderPart] = {}
        for name in self._lookup_providers():
            if asked is not None and name not in asked:
                continue
            report = identification.reports.get(name)
            if report is None or report.status in ("skipped", "not_found", "disabled"):
                status, result = "not_found", None
            else:
                status, result = report.status, report.result
            parts[name] = ProviderPart(
                provider=name,
                status=status,
                fetched_at=fetched_at,
                result=result,
                error=None if report is None else (report.detail if status != "ok" else None),
            )
        return parts

    def _apply_pauses(self, now: datetime) -> None:
        for name, pause in self.cache.paused_providers(now).items():
            gate = self.engine.gates.get(name)
            if gate is not None:
                seconds = (pause.until - now).total_seconds()
                if seconds > gate.paused_for():
                    gate.pause(seconds, pause.reason)


def provider_ttls(settings: Settings, registry: Registry) -> dict[str, float]:
    """Each provider's freshness in days: its ``ttl_days`` setting (0 included: always
    stale), else its plugin default."""
    ttls: dict[str, float] = {}
    for name in registry.names:
        ttl = settings.provider(name).ttl_days
        default = 7.0 if name in registry.broken else registry.spec(name).default_ttl_days
        ttls[name] = float(ttl if ttl is not None else default)
    return ttls


def _part_status(part: ProviderPart) -> ProviderStatus:
    """A stored part's status as a provider status (a part still ``missing`` was skipped)."""
    statuses: dict[str, ProviderStatus] = {
        "ok": "ok",
        "not_found": "not_found",
        "rate_limited": "rate_limited",
        "error": "error",
    }
    return statuses.get(part.status, "skipped")


def _age(delta: timedelta) -> str:
    """``3 days``, ``5 hours``, ``12 minutes``."""
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return "under a minute"


def _log_unreadable(error: UnreadableMovieError) -> None:
    log.warning("skipped: %s", error)


def _not_before(report: ProviderReport, now: datetime) -> datetime:
    if report.until is not None:
        return report.until
    if report.retry_after is not None:
        return now + timedelta(seconds=report.retry_after)
    return now + RETRY_DEFAULT


def _same_input(stored: dict[str, Any], query: Query) -> bool:
    """Whether a queue entry's stored input is ``query``'s input (not just its key)."""
    try:
        return Query.from_input(stored).same_input(query)
    except (ValueError, TypeError):
        return False


def _ids_key(ids: Ids) -> str:
    kind, value = ids.items()[0]
    return f"{kind}:{value}"


def _cached_outcome(cached: CachedMovie, registry: Registry) -> Outcome:
    providers: dict[str, Any] = {}
    for name in registry.names:
        part = cached.parts.get(name)
        if name not in registry.enabled:
            providers[name] = "disabled"
        elif part is None:
            providers[name] = "skipped"
        else:
            providers[name] = _part_status(part)
    return Outcome(
        status="identified",
        movie=cached.movie,
        providers=providers,
        reasons=(f"from the cache (refreshed {cached.refreshed_at:%Y-%m-%d %H:%M} UTC)",),
    )


class SyncOrchestrator:
    """The `Orchestrator` API for code without an event loop: same methods, blocking."""

    def __init__(self, factory: Callable[[], Orchestrator]) -> None:
        self._runner = asyncio.Runner()
        self._orchestrator = self._runner.run(_build(factory))

    def __enter__(self) -> SyncOrchestrator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def orchestrator(self) -> Orchestrator:
        """The wrapped async orchestrator."""
        return self._orchestrator

    def lookup(self, ids: Ids, **kwargs: Any) -> Outcome:
        """Blocking `Orchestrator.lookup`."""
        return self._runner.run(self._orchestrator.lookup(ids, **kwargs))

    def identify_title(self, title: str, year: int | None = None, **kwargs: Any) -> Outcome:
        """Blocking `Orchestrator.identify_title`."""
        return self._runner.run(self._orchestrator.identify_title(title, year, **kwargs))

    def identify(self, query: Query, **kwargs: Any) -> Outcome:
        """Blocking `Orchestrator.identify`."""
        return self._runner.run(self._orchestrator.identify(query, **kwargs))

    def search(
        self, query: str, year: int | None = None, *, details: int = SEARCH_DETAILS
    ) -> SearchResult:
        """Blocking `Orchestrator.search`."""
        return self._runner.run(self._orchestrator.search(query, year, details=details))

    def choose(
        self, key: str, candidate: Candidate, *, search: SearchResult | None = None
    ) -> Outcome:
        """Blocking `Orchestrator.choose`."""
        return self._runner.run(self._orchestrator.choose(key, candidate, search=search))

    def none_of_these(
        self, query: Query, *, search: SearchResult | None = None
    ) -> QueuedIdentification:
        """Blocking `Orchestrator.none_of_these`."""
        return self._runner.run(self._orchestrator.none_of_these(query, search=search))

    def confirm(self, key: str, ids: Ids) -> Outcome:
        """Blocking `Orchestrator.confirm`."""
        return self._runner.run(self._orchestrator.confirm(key, ids))

    def refresh(self, ids: Ids) -> Outcome:
        """Blocking `Orchestrator.refresh`."""
        return self._runner.run(self._orchestrator.refresh(ids))

    def remerge(self, ids: Iterable[Ids] | None = None, **kwargs: Any) -> int:
        """`Orchestrator.remerge` (no I/O beyond the cache)."""
        return self._orchestrator.remerge(ids, **kwargs)

    def repair(self, movie_id: int) -> Outcome:
        """Blocking `Orchestrator.repair`."""
        return self._runner.run(self._orchestrator.repair(movie_id))

    def get(self, ids: Ids) -> CachedMovie | None:
        """`Orchestrator.get` (cache only)."""
        return self._orchestrator.get(ids)

    def provider_failures(self) -> dict[str, ProviderFailures]:
        """`Orchestrator.provider_failures` (no I/O)."""
        return self._orchestrator.provider_failures()

    def close(self) -> None:
        """Close the orchestrator and its event loop."""
        try:
            self._runner.run(self._orchestrator.aclose())
        finally:
            self._runner.close()


async def _build(factory: Callable[[], Orchestrator]) -> Orchestrator:
    return factory()
