"""The identification engine: memory-first lookup and search, cross-reference, merge, outcomes.

Nothing here touches the cache: the engine works in memory and returns an `Identification`
(the outcome plus each provider's part); the `Orchestrator` commits it only when the identity
is confirmed. Within one identification every HTTP response is reused (`RequestMemo`), so the
same request is never sent twice: the TMDB response that cross-referenced the ids *is* the
TMDB data, and a search's cross-reference lookups are the confirmed lookup's data.

Lookup mode (`Engine.lookup`) asks every provider that can use a known id, feeds each result
through ``extract_ids`` and asks the providers the new ids unlock, until nothing changes.
Providers that disagree about an id are settled by that id's authority (the provider ranking
``ids.<kind>`` first); what cannot be settled is a ``conflict``.

The caller's input is kept apart from what providers claim: the given ids are the first asked,
never a claimant. They are facts to check, not evidence: ids given together must name one movie
(an id its authority overrules, one its authority does not know, or records reached through
different given ids that are different films make a ``conflict`` naming both), and a title given
with ids must fit the movie (`metarr.matching.fits_name`).

Over a run (one `Engine`, many identifications) a provider whose credentials are rejected is
out for the rest of the run, and `Engine.failures` tallies who failed how often. In automated
runs under ``tmdb_policy = "block"`` TMDB, the cross-reference backbone, is required: rate
limited it makes the outcome ``rate_limited`` (retry later, nothing committed; a short pause is
waited out), rejected it makes it ``blocked``.

Search mode (`Engine.search`, `Engine.identify_title`) asks every search-capable provider,
collapses hits that are the same movie (shared ids; matching hits lacking an IMDb id are
cross-referenced, at most `XREF_BOUND` lookups), scores them (`metarr.matching`) and, for
automation, identifies only a single match.
"""

from __future__ import annotations

import asyncio
import copy
import itertools
import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from metarr import http
from metarr.errors import (
    NotFoundError,
    PluginError,
    ProviderError,
    RateLimitedError,
    UnavailableError,
)
from metarr.gate import ProviderGate
from metarr.ids import ID_KINDS, Ids
from metarr.matching import YEAR_ADJACENT, fits_name, same_movie, titles_of
from metarr.merge import field_orders, merge
from metarr.models import (
    Candidate,
    Movie,
    MovieData,
    Outcome,
    OutcomeStatus,
    ProviderResult,
    ProviderStatus,
    SearchHit,
    SearchResult,
    SearchStatus,
)
from metarr.plugins import Registry

log = logging.getLogger("metarr.engine")

REFRESH = "a refresh will fill it in"  # the remedy of a transient failure, and only of one
XREF_BOUND = 5  # cross-reference lookups per search, for matching hits that lack an IMDb id
MAX_RESOLUTION_ROUNDS = 3
SHORT_PAUSE = 30.0  # seconds: a paused provider is waited for up to this, then skipped
BACKBONE = "tmdb"  # required in automated runs under tmdb_policy = "block"
# The merged fields a candidate's details come from: the providers ranking one are asked.
DETAIL_FIELDS: tuple[str, ...] = (
    "original_title",
    "release_date",
    "runtime",
    "outline",
    "plot",
    "ratings",
    "cast",
    "crew",
)

Claims = dict[str, dict[Any, set[str]]]  # id kind -> claimed value -> providers claiming it


@attrs.frozen(kw_only=True)
class ProviderReport:
    """What one provider contributed to an identification."""

    status: ProviderStatus
    result: ProviderResult | None = None
    detail: str | None = None
    retry_after: float | None = None
    until: datetime | None = None
    remedy: str | None = None
    """What would bring the missing part (a refresh, only after a transient failure)."""


@attrs.frozen(kw_only=True)
class Identification:
    """An outcome plus everything needed to commit it (or queue it)."""

    outcome: Outcome
    reports: dict[str, ProviderReport] = attrs.field(factory=dict)
    requests: int = 0
    requests_by_provider: dict[str, int] = attrs.field(factory=dict)

    @property
    def results(self) -> dict[str, ProviderResult]:
        """The provider results that went into the movie."""
        return {n: r.result for n, r in self.reports.items() if r.result is not None}


@attrs.frozen(kw_only=True)
class ProviderFailures:
    """How one provider fared over a run: every identification of one `Engine` (and so of one
    `metarr.orchestrator.Orchestrator`) that asked it, or would have.

    ``failed`` and ``rate_limited`` count identifications in which it failed or asked us to
    wait; ``detail`` is the last reason; ``out_for_run`` is set once its credentials were
    rejected (it is not asked again in this run).
    """

    provider: str
    asked: int = 0
    failed: int = 0
    rate_limited: int = 0
    detail: str | None = None
    out_for_run: bool = False

    @property
    def throughout(self) -> bool:
        """True when it failed in every identification that asked it."""
        return self.asked > 0 and self.failed == self.asked


@attrs.define
class _Session:
    """The in-memory state of one identification."""

    interactive: bool
    required: frozenset[str] = frozenset()  # providers this outcome cannot do without
    only: frozenset[str] | None = None  # restrict lookups to these providers (a partial refresh)
    given: Ids = attrs.field(factory=Ids)  # the caller's ids: asked first, never a claimant
    name: tuple[str, int | None] | None = None  # a title (and year) given with the ids
    reports: dict[str, ProviderReport] = attrs.field(factory=dict)  # records and failures
    searched: dict[str, ProviderStatus] = attrs.field(factory=dict)  # search answers
    asked: dict[str, Ids] = attrs.field(factory=dict)  # the ids each provider was looked up by
    out: set[str] = attrs.field(factory=set)  # providers not to ask again this time
    reasons: list[str] = attrs.field(factory=list)


class Engine:
    """Identifies movies with the providers of a `Registry`."""

    def __init__(
        self,
        registry: Registry,
        *,
        language: str = "en",
        priority: Mapping[str, Sequence[str]] | None = None,
        tmdb_policy: str = "block",
        gates: Mapping[str, ProviderGate] | None = None,
    ) -> None:
        self.registry = registry
        self.language = language
        self.priority = dict(priority or {})
        self.tmdb_policy = tmdb_policy
        self.gates = dict(gates or {})
        for name in registry.enabled:
            gate = self.gates.setdefault(name, ProviderGate(name))
            provider_http = registry.http(name)
            if provider_http is not None:  # pause the gate the moment a 429 arrives
                provider_http.on_rate_limited = gate.pause
                provider_http.before_retry = gate.readmit  # a retry queues for a slot again
        self.ranks = registry.field_priorities()
        self.languages = {name: registry.languages(name) for name in registry.enabled}
        self.out_for_run: dict[str, str] = {}  # provider -> why it is not asked again this run
        self._bugs_logged: set[tuple[str, str]] = set()
        self._failures: dict[str, ProviderFailures] = {}
        self._orders: tuple[Any, dict[str, list[str]]] | None = None  # `merge`'s, and for what

    # -- public API --------------------------------------------------------------------------

    async def lookup(
        self,
        ids: Ids,
        *,
        interactive: bool = False,
        providers: Collection[str] | None = None,
        title: str | None = None,
        year: int | None = None,
    ) -> Identification:
        """Identify a movie from known ids (lookup mode); ``providers`` limits who is asked.

        The ids must name one movie; a ``title`` (and ``year``) given with them must fit it.
        Either failing is a ``conflict`` that names both sides.
        """
        session = self._session(
            interactive,
            only=None if providers is None else frozenset(providers),
            given=ids,
            name=None if title is None else (title, year),
        )
        with http.retry_policy(self._policy(session)), http.request_memo() as memo:
            early = self._blocked(session) or self._backbone_paused(session)
            if early is None and providers is None:
                early = self._unusable(ids)
            if early is not None:
                return self._identification(session, early, memo)
            outcome = await self._resolve(session, {})
            outcome = self._backbone_check(session) or outcome
        return self._identification(session, outcome, memo)

    async def search(
        self, query: str, year: int | None = None, *, details: int = 0
    ) -> SearchResult:
        """All candidates for a person to choose from (user-initiated search), best first.

        The first ``details`` candidates are looked up, concurrently, by the providers that
        hold what tells films apart (`DETAIL_FIELDS`); the result keeps every response, so
        confirming one of them reuses them (`metarr.http.reusing`).
        """
        session = self._session(True)
        early = self._unsearchable()
        if early is not None:
            return SearchResult(query=query, year=year, status="blocked", reasons=early.reasons)
        with http.retry_policy(http.INTERACTIVE), http.request_memo() as memo:
            candidates, _ = await self._candidates(session, query, year)
            if details > 0 and candidates:
                shown = candidates[:details]
                detailed = await asyncio.gather(*(self._details(session, c) for c in shown))
                candidates[: len(shown)] = detailed
        statuses = {
            name: status
            for name, status in self._statuses(session).items()
            if self.registry.implements(name, "search") or name in session.reports
        }
        searchers = [n for n in self.registry.enabled if self.registry.implements(n, "search")]
        answered = [n for n in searchers if statuses.get(n) in ("ok", "not_found")]
        status: SearchStatus = "ok"
        if not answered:
            limited = any(statuses.get(n) == "rate_limited" for n in searchers)
            status = "rate_limited" if limited else "error"
            session.reasons.append(
                f"no search provider answered ({_failures(session) or 'none could be asked'})"
            )
        elif failures := _failures(session):
            session.reasons.append(f"not every provider answered ({failures})")
        return SearchResult(
            query=query,
            year=year,
            status=status,
            candidates=tuple(candidates),
            providers=statuses,
            reasons=tuple(session.reasons),
            requests=memo.by_provider(),
            responses=memo.answers(),
        )

    async def identify_title(self, title: str, year: int | None = None) -> Identification:
        """The automated title (+ year) decision: identify only a single matching candidate."""
        session = self._session(False)
        with http.retry_policy(self._policy(session)), http.request_memo() as memo:
            early = self._blocked(session) or self._backbone_paused(session) or self._unsearchable()
            if early is not None:
                return self._identification(session, early, memo)
            outcome = await self._identify_title(session, title, year)
            outcome = self._backbone_check(session) or outcome
        return self._identification(session, outcome, memo)

    def failures(self) -> dict[str, ProviderFailures]:
        """The providers that failed or were rate limited so far in this run, by name."""
        return {
            name: tally
            for name, tally in self._failures.items()
            if tally.failed or tally.rate_limited or tally.out_for_run
        }

    def merge(self, results: Mapping[str, ProviderResult]) -> Movie:
        """Merge provider results under the current priorities (no request)."""
        settings = (self.ranks, self.priority, self.language, self.languages)
        if self._orders is None or self._orders[0] != settings:  # (changed since: again)
            orders = field_orders(
                self.ranks,
                overrides=self.priority,
                language=self.language,
                languages=self.languages,
            )
            self._orders = (copy.deepcopy(settings), orders)
        return merge(
            results,
            self.ranks,
            overrides=self.priority,
            language=self.language,
            languages=self.languages,
            orders=self._orders[1],
        )

    # -- policy ------------------------------------------------------------------------------

    def _session(
        self, interactive: bool, *, only: frozenset[str] | None = None, **state: Any
    ) -> _Session:
        """A new identification. TMDB is required in automated runs under ``tmdb_policy =
        "block"``, unless this is a partial refetch that does not ask it."""
        required: frozenset[str] = frozenset()
        if (
            not interactive
            and self.tmdb_policy == "block"
            and BACKBONE in self.registry.enabled
            and (only is None or BACKBONE in only)
        ):
            required = frozenset({BACKBONE})
        return _Session(interactive=interactive, required=required, only=only, **state)

    @staticmethod
    def _policy(session: _Session) -> http.RetryPolicy:
        """People get backed-off retries; automation waits out short 429s of required providers
        only (it cannot do without them) and skips the others."""
        if session.interactive:
            return http.INTERACTIVE
        policy = http.AUTOMATED
        if session.required:
            policy = attrs.evolve(policy, patient=session.required, max_wait=SHORT_PAUSE)
        return policy

    def _blocked(self, session: _Session) -> Outcome | None:
        if BACKBONE in self.out_for_run:
            why = self.out_for_run[BACKBONE]
        elif BACKBONE in self.registry.enabled or BACKBONE not in self.registry.names:
            return None
        else:
            why = self.registry.reason(BACKBONE) or "disabled"
        if self.tmdb_policy == "block" and not session.interactive:
            return Outcome(status="blocked", reasons=(_blocked_reason(why),))
        session.reasons.append(f"warning: TMDB is not available ({why}); results may be incomplete")
        return None

    def _backbone_paused(self, session: _Session) -> Outcome | None:
        """``rate_limited`` at once (no request at all) while a required provider is paused for
        longer than the short wait."""
        for name in session.required:
            gate = self.gates[name]
            if gate.paused_for() > SHORT_PAUSE:
                why = f" ({gate.pause_reason})" if gate.pause_reason else ""
                detail = f"paused for {gate.paused_for():.0f} s more{why}"
                self._out(
                    session,
                    name,
                    "rate_limited",
                    detail,
                    retry_after=gate.paused_for(),
                    remedy=REFRESH,
                )
                return self._backbone_check(session)
        return None

    def _backbone_check(self, session: _Session) -> Outcome | None:
        """The outcome when a required provider was rate limited (retry later) or rejected our
        credentials (blocked) during this identification; None when it did its part."""
        for name in sorted(session.required):
            if name in self.out_for_run:
                return Outcome(status="blocked", reasons=(_blocked_reason(self.out_for_run[name]),))
            report = session.reports.get(name)
            if report is not None and report.status == "rate_limited" and report.result is None:
                why = (
                    f"TMDB, the cross-reference backbone, asked us to wait ({report.detail}); "
                    "automated runs do not identify without it (tmdb_policy = 'block'), so "
                    "this input is retried later"
                )
                return Outcome(
                    status="rate_limited",
                    reasons=(*session.reasons, why),
                    providers=self._statuses(session),
                )
        return None

    def _unusable(self, ids: Ids) -> Outcome | None:
        """``blocked`` when no enabled provider can use any given id (nothing to ask)."""
        given = ids.kinds()
        if any(given & self.registry.id_types(n) for n in self._lookup_providers()):
            return None
        able = [n for n in self.registry.names if given & self.registry.id_types(n)]
        return self._nobody(f"use the ids given ({ids})", able)

    def _unsearchable(self) -> Outcome | None:
        """``blocked`` when no enabled provider can search titles."""
        if any(self.registry.implements(n, "search") for n in self.registry.enabled):
            return None
        able = [n for n, e in self.registry.entries.items() if "search" in e.info.hooks]
        return self._nobody("search titles", able)

    def _nobody(self, task: str, able: Sequence[str]) -> Outcome:
        enabled = ", ".join(self.registry.enabled) or "none"
        if able:
            fixes = ", ".join(f"{n} ({self.registry.reason(n) or 'disabled'})" for n in able)
            what = f"enable or configure one that can: {fixes}"
        else:
            what = "no installed provider plugin can (metarr plugins lists them)"
        return Outcome(
            status="blocked",
            reasons=(f"no enabled provider can {task}; {what}. Enabled: {enabled}.",),
        )

    # -- provider calls ----------------------------------------------------------------------

    async def _call(self, session: _Session, name: str, hook: str, **kwargs: Any) -> Any:
        """Call one provider's I/O hook (``lookup_by_id(ids=…)`` or ``search(query=…,
        year=…)``) behind its gate, through the registry's checked calls; failures become
        reports, never raise. A plugin bug (a `PluginError`) is that provider's ``error``."""
        if hook not in ("lookup_by_id", "search"):
            raise ValueError(f"{hook} is not an I/O hook")
        gate = self.gates[name]
        if name in session.out:
            return None
        if name in self.out_for_run:
            return self._out(session, name, "error", self.out_for_run[name])
        if not await gate.acquire(max_wait=SHORT_PAUSE):
            why = f" ({gate.pause_reason})" if gate.pause_reason else ""
            detail = f"paused for {gate.paused_for():.0f} s more{why}"
            return self._out(
                session,
                name,
                "rate_limited",
                detail,
                retry_after=gate.paused_for(),
                remedy=REFRESH,
            )
        limited: RateLimitedError | None = None
        try:
            if hook == "lookup_by_id":
                return await self.registry.lookup(name, kwargs["ids"])
            return await self.registry.search(name, kwargs["query"], kwargs.get("year"))
        except NotFoundError:
            return None
        except RateLimitedError as exc:
            limited = exc
            return self._out(
                session,
                name,
                "rate_limited",
                exc.detail,
                retry_after=exc.retry_after,
                until=exc.until,
                remedy=REFRESH,
            )
        except ProviderError as exc:
            if exc.out_for_run:
                self.out_for_run.setdefault(name, f"not asked again in this run: {exc.detail}")
            remedy = REFRESH if isinstance(exc, UnavailableError) else None
            return self._out(session, name, "error", exc.detail, remedy=remedy)
        except PluginError as exc:  # a plugin bug must not sink the other providers
            self._plugin_bug(name, exc)
            return self._out(session, name, "error", str(exc), remedy=self._report_bug(name))
        finally:
            await gate.release(
                rate_limited=limited is not None,
                retry_after=limited.retry_after if limited else None,
                reason=limited.detail if limited else None,
            )

    def _out(
        self, session: _Session, name: str, status: ProviderStatus, detail: str, **extra: Any
    ) -> None:
        """Report a provider failure and stop asking it in this identification."""
        session.out.add(name)
        self._report(session, name, ProviderReport(status=status, detail=detail, **extra))

    def _report(self, session: _Session, name: str, report: ProviderReport) -> None:
        previous = session.reports.get(name)
        if previous is not None and previous.result is not None and report.status != "ok":
            return  # a failed extra request (e.g. a conflict check) does not undo a record
        session.reports[name] = report

    def _plugin_bug(self, name: str, exc: PluginError) -> None:
        """Log a plugin bug: the first of each provider and hook as a warning (its traceback
        with ``--debug``), the rest at DEBUG, so a batch does not repeat it on every row."""
        key = (name, exc.hook or "")
        level = logging.DEBUG if key in self._bugs_logged else logging.WARNING
        self._bugs_logged.add(key)
        log.log(level, "%s", exc, exc_info=exc.__cause__ is not None and exc)

    def _report_bug(self, name: str) -> str:
        """Whom to tell about a plugin bug: the plugin's distribution, when known."""
        info = self.registry.entries[name].info
        release = " ".join(part for part in (info.distribution, info.version) if part)
        return "report it to the plugin's authors" + (f" ({release})" if release else "")

    def _extract(self, name: str, result: ProviderResult) -> Ids:
        """The ids a provider's result states, by its ``extract_ids`` (checked when the result
        entered through `Registry.lookup`), else the result's own ids."""
        try:
            extracted = self.registry.extract_ids(name, result)
        except PluginError as exc:  # not a result that came through Registry.lookup
            self._plugin_bug(name, exc)
            extracted = None
        return result.ids if extracted is None else extracted

    def _lookup_providers(self, session: _Session | None = None) -> list[str]:
        names = [n for n in self.registry.enabled if self.registry.implements(n, "lookup_by_id")]
        if session is not None and session.only is not None:
            names = [n for n in names if n in session.only]
        return names

    # -- lookup mode -------------------------------------------------------------------------

    async def _resolve(self, session: _Session, claims: Claims) -> Outcome:
        """Cross-reference to a fixed point, settle id disputes, check the input, merge."""
        results: dict[str, ProviderResult] = {}
        for _ in range(MAX_RESOLUTION_ROUNDS):
            await self._fixed_point(session, claims, results)
            disputes = _disputes(claims, session.given)
            if not disputes:
                break
            for kind, values in disputes.items():
                settled = await self._settle(session, kind, values, results)
                if settled is None:
                    return Outcome(status="conflict", reasons=tuple(session.reasons))
                keep, dropped = settled
                claims[kind] = {keep: set().union(*values.values())}
                for name in list(results):
                    asked = session.asked.get(name)
                    if asked is not None and asked.get(kind) in dropped:
                        del results[name]  # asked with a wrong id: ask again with the kept one
                        session.asked.pop(name, None)
                        session.reports.pop(name, None)
        else:
            session.reasons.append("ids kept changing after repeated cross-reference; stopped")
            return Outcome(status="conflict", reasons=tuple(session.reasons))
        mismatch = self._given_ids_disagree(session, results)
        if mismatch is not None:
            session.reasons.append(mismatch)
            return Outcome(
                status="conflict", reasons=tuple(session.reasons), providers=self._statuses(session)
            )
        return self._outcome(session, results)

    async def _fixed_point(
        self, session: _Session, claims: Claims, results: dict[str, ProviderResult]
    ) -> None:
        """Ask providers as soon as a usable id is known, until no new id appears."""
        pending: dict[asyncio.Task[Any], tuple[str, Ids]] = {}
        providers = self._lookup_providers(session)  # the registry's, fixed for the run
        try:
            while True:
                known = _known(claims, session.given)
                running = {name for name, _ in pending.values()}
                for name in providers:
                    if name in results or name in running or name in session.out:
                        continue
                    usable = known.only(self.registry.id_types(name))
                    if not usable or not self._worth_asking(name, usable, session.asked.get(name)):
                        continue
                    session.asked[name] = usable
                    task = asyncio.ensure_future(
                        self._call(session, name, "lookup_by_id", ids=usable)
                    )
                    pending[task] = (name, usable)
                if not pending:
                    return
                done, _ = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    name, _asked = pending.pop(task)
                    result = task.result()
                    if isinstance(result, ProviderResult):
                        results[name] = result
                        self._report(session, name, ProviderReport(status="ok", result=result))
                        for kind, value in self._extract(name, result).items():
                            claims.setdefault(kind, {}).setdefault(value, set()).add(name)
                    elif name not in session.reports:
                        self._report(session, name, ProviderReport(status="not_found"))
        finally:
            for task in pending:
                task.cancel()

    async def _settle(
        self,
        session: _Session,
        kind: str,
        values: dict[Any, set[str]],
        results: dict[str, ProviderResult],
    ) -> tuple[Any, set[Any]] | None:
        """Ask the id's authority about each value; keep the one that is this movie.

        ``values`` holds every claimed value and the given one (claimed by nobody, perhaps).
        When the authority keeps another value than the one given, the input contradicts
        itself: None (a conflict), with a reason naming both movies.
        """
        given = session.given.get(kind)
        listing = "; ".join(
            _claim_text(kind, value, who, value == given) for value, who in values.items()
        )
        authority = self._authority(kind)
        if (
            authority is None
            or authority in session.out
            or authority in self.out_for_run
            or authority not in self.registry.enabled
        ):
            state = "not available" if authority else "not configured"
            session.reasons.append(
                f"providers disagree about the {kind} id ({listing}) and the {kind} authority "
                f"{authority or ''} is {state}, so nothing can settle it".replace("  ", " ")
            )
            return None
        ordered = list(values)
        checks = await asyncio.gather(
            *(
                self._call(session, authority, "lookup_by_id", ids=Ids(**{kind: value}))
                for value in ordered
            )
        )
        records = {
            value: record
            for value, record in zip(ordered, checks, strict=True)
            if isinstance(record, ProviderResult)
        }
        evidence = [r for n, r in results.items() if n != authority and r.title]
        fitting = [value for value, record in records.items() if _fits(record, evidence)]
        if len(fitting) != 1:
            why = "none of them matches" if not fitting else "more than one matches"
            session.reasons.append(
                f"providers disagree about the {kind} id ({listing}); {authority} (the {kind} "
                f"authority) was asked about each, and {why} the title and year of the others"
            )
            return None
        keep = fitting[0]
        if given is not None and keep != given:
            session.reasons.append(
                f"the ids given name different movies: {kind} {given} is "
                f"{_describe(records.get(given), authority)}, but the other ids lead to "
                f"{_describe(records[keep])} ({kind} {keep}), says {authority} (the {kind} "
                "authority)"
            )
            return None
        dropped = set(ordered) - {keep}
        for value in dropped:
            offenders = sorted(values[value])
            session.reasons.append(
                f"{', '.join(offenders)} claimed {kind} {value}, but {authority} (the {kind} "
                f"authority) says that is {_describe(records.get(value))}; kept "
                f"{kind} {keep} and dropped the wrong claim"
            )
            for name in offenders:
                result = results.get(name)
                if result is not None and name != authority:
                    results[name] = attrs.evolve(result, ids=_without(result.ids, kind))
        results[authority] = records[keep]
        self._report(session, authority, ProviderReport(status="ok", result=results[authority]))
        return keep, dropped

    def _given_ids_disagree(
        self, session: _Session, results: Mapping[str, ProviderResult]
    ) -> str | None:
        """Why the given ids do not name one movie, or None when they do (or cannot be told).

        Two checks that id disputes cannot make: a given id its own authority was asked about
        and does not know, while the other ids name a movie; and records reached through
        different given ids that are not the same film (titles and years), which happens when
        no provider states both ids.
        """
        if len(session.given.items()) < 2 or not results:
            return None
        stated = {name: self._extract(name, result) for name, result in results.items()}
        named = next((r for r in results.values() if r.title), None)
        representatives: list[tuple[str, Any, ProviderResult]] = []
        for kind, value in session.given.items():
            authority = self._authority(kind)
            vouching = sorted(
                (name for name, ids in stated.items() if ids.get(kind) == value),
                key=lambda name: name != authority,
            )
            titled = [results[name] for name in vouching if results[name].title]
            if titled:
                representatives.append((kind, value, titled[0]))
            elif (
                not vouching
                and named is not None
                and self._unknown(session, authority, kind, value)
            ):
                return (
                    f"the ids given name different movies: {kind} {value} is no movie "
                    f"{authority} (the {kind} authority) knows, but the other ids given name "
                    f"{_describe(named, named.provider)}"
                )
        for (k1, v1, r1), (k2, v2, r2) in itertools.combinations(representatives, 2):
            if r1 is not r2 and not same_movie(titles_of(r1), r1.year, titles_of(r2), r2.year):
                return (
                    f"the ids given name different movies: {k1} {v1} is "
                    f"{_describe(r1, r1.provider)}, but {k2} {v2} is {_describe(r2, r2.provider)}"
                )
        return None

    @staticmethod
    def _unknown(session: _Session, authority: str | None, kind: str, value: Any) -> bool:
        """Whether ``authority`` was looked up by this very id and found nothing."""
        if authority is None:
            return False
        report = session.reports.get(authority)
        asked = session.asked.get(authority)
        return (
            report is not None
            and report.status == "not_found"
            and asked is not None
            and asked.get(kind) == value
        )

    def _worth_asking(self, name: str, usable: Ids, asked: Ids | None) -> bool:
        """Whether to ask a provider (again). One that found nothing is asked again only when
        its own id kind becomes known: TMDB by tmdb id after its IMDb ``/find`` came back
        empty is a new chance; Fanart.tv by tmdb id after imdb is the same record again."""
        if asked is None:
            return True
        own = self.registry.spec(name).authority_for
        return any(kind in own and kind not in asked.kinds() for kind in usable.kinds())

    def _authority(self, kind: str) -> str | None:
        """The provider that issues or validates ``kind`` ids (whether enabled or not); else the
        enabled provider ranking ``ids.<kind>`` first."""
        for name, entry in self.registry.entries.items():
            if entry.state != "broken" and kind in self.registry.spec(name).authority_for:
                return name
        able = [n for n in self._lookup_providers() if kind in self.registry.id_types(n)]
        ranked = sorted((self.ranks.get(n, {}).get(f"ids.{kind}", 10_000), n) for n in able)
        return ranked[0][1] if ranked else None

    def _outcome(self, session: _Session, results: dict[str, ProviderResult]) -> Outcome:
        for name, result in results.items():
            self._report(session, name, ProviderReport(status="ok", result=result))
        backbone = self._backbone_check(session)
        if backbone is not None:
            return backbone
        statuses = self._statuses(session)
        if not results:
            failed = [s for s in statuses.values() if s in ("rate_limited", "error")]
            if "rate_limited" in failed:
                status: OutcomeStatus = "rate_limited"
                session.reasons.append(
                    "a provider asked us to slow down before the movie was identified "
                    f"({_failures(session)}); retry later"
                )
            elif failed:
                status = "error"
                session.reasons.append(
                    f"providers failed before the movie was identified ({_failures(session)})"
                )
            else:
                status = "not_found"
                session.reasons.append("no provider knows a movie with these ids")
            return Outcome(status=status, reasons=tuple(session.reasons), providers=statuses)
        movie = self.merge(results)
        if movie.title is None:
            session.reasons.append(
                "the providers that answered gave no title; not enough to confirm the movie"
            )
            status = "rate_limited" if "rate_limited" in statuses.values() else "error"
            return Outcome(status=status, reasons=tuple(session.reasons), providers=statuses)
        if session.name is not None:
            title, year = session.name
            records = list(results.values())
            if not fits_name(
                title, year, [t for r in records for t in titles_of(r)], [r.year for r in records]
            ):
                session.reasons.append(
                    f"the ids given lead to {_describe(movie)} [{movie.ids}], which does not fit "
                    f"the name given, {_label_query(title, year)} (a stale or misnamed source: "
                    "a person decides)"
                )
                return Outcome(
                    status="conflict", reasons=tuple(session.reasons), providers=statuses
                )
        for name, report in session.reports.items():
            if report.status in ("rate_limited", "error"):
                remedy = f"; {report.remedy}" if report.remedy else ""
                session.reasons.append(
                    f"{name} is missing from this record ({report.detail}){remedy}"
                )
        return Outcome(
            status="identified", movie=movie, reasons=tuple(session.reasons), providers=statuses
        )

    def _statuses(self, session: _Session) -> dict[str, ProviderStatus]:
        statuses: dict[str, ProviderStatus] = {}
        for name, entry in self.registry.entries.items():  # (`Registry.broken`, `.enabled`)
            if entry.state == "broken":
                statuses[name] = "broken"
            elif entry.state != "enabled":
                statuses[name] = "disabled"
            elif name in session.reports:
                statuses[name] = session.reports[name].status
            elif name in session.searched:
                statuses[name] = session.searched[name]
            else:
                statuses[name] = "skipped"
        return statuses

    # -- search mode -------------------------------------------------------------------------

    async def _identify_title(self, session: _Session, title: str, year: int | None) -> Outcome:
        """Search every name the title stands for (`metarr.titleforms.title_forms`, one search
        per distinct normalised name, concurrently) and decide across all of them: a film
        found under several names is one candidate, two films matching different names are
        two (ambiguous)."""
        # (the search modules load with the first search: a lookup by id never needs them)
        from metarr.candidates import across_forms, decide
        from metarr.titleforms import title_forms

        forms = title_forms(title) or (title,)
        searches = await asyncio.gather(*(self._candidates(session, f, year) for f in forms))
        candidates, groups = across_forms(searches)
        backbone = self._backbone_check(session)
        if backbone is not None:
            return backbone  # a decision without TMDB's candidates is not one automation makes
        matching = [c for c in candidates if c.matches]
        statuses = self._statuses(session)
        if not matching:
            failed = {n for n, s in statuses.items() if s in ("rate_limited", "error")}
            searchers = [n for n in self.registry.enabled if self.registry.implements(n, "search")]
            if failed and set(searchers) <= failed:
                status: OutcomeStatus = (
                    "rate_limited"
                    if any(statuses[n] == "rate_limited" for n in failed)
                    else "error"
                )
                session.reasons.append(
                    f"no search provider answered ({_failures(session)}); retry later"
                )
                return Outcome(status=status, reasons=tuple(session.reasons), providers=statuses)
            near = (
                f"; nearest: {', '.join(_label(c) for c in candidates[:3])}" if candidates else ""
            )
            session.reasons.append(f"no candidate matches {_label_forms(forms, year)}{near}")
            return Outcome(
                status="not_found",
                candidates=tuple(candidates[:10]),
                reasons=tuple(session.reasons),
                providers=statuses,
            )
        chosen = decide(matching, year)
        if chosen is None:
            session.reasons.append(
                f"{len(matching)} candidates match {_label_forms(forms, year)} equally well: "
                + ", ".join(_label(c) for c in matching)
            )
            return Outcome(
                status="ambiguous",
                candidates=tuple(matching),
                reasons=tuple(session.reasons),
                providers=statuses,
            )
        session.reasons.append(
            f"identified by search: {_label(chosen)} ({'; '.join(chosen.notes)})"
        )
        claims: Claims = {}
        for name, hits in groups[chosen.ids]:
            for kind, value in hits.items():
                claims.setdefault(kind, {}).setdefault(value, set()).add(name)
        return await self._resolve(session, claims)

    async def _candidates(
        self, session: _Session, query: str, year: int | None
    ) -> tuple[list[Candidate], dict[Ids, list[tuple[str, Ids]]]]:
        """Search every provider, collapse the hits per movie and score them, best first."""
        from metarr.candidates import collapse, regroup, score

        searchers = [n for n in self.registry.enabled if self.registry.implements(n, "search")]
        answers = await asyncio.gather(
            *(self._call(session, name, "search", query=query, year=year) for name in searchers)
        )
        hits: list[SearchHit] = []
        for name, answer in zip(searchers, answers, strict=True):
            found = [h for h in (answer or []) if isinstance(h, SearchHit)]
            # failures are reports, answers are not records; found under another name: it stays
            if name not in session.reports and session.searched.get(name) != "ok":
                session.searched[name] = "ok" if found else "not_found"
            hits.extend(found)
        groups = collapse(hits)
        extra: dict[int, list[ProviderResult]] = {}
        scored = [score(query, year, members, ()) for members in groups]
        # Stage 1: matching hits without an IMDb id are looked up to learn it (for collapsing).
        # Stage 2, only if nothing matched: year-plausible near misses are looked up to learn
        # their alternative titles ("The Postman" is TMDB's "Il Postino"). Both share the bound.
        budget = XREF_BOUND
        for stage in (1, 2):
            if stage == 2 and any(c.matches for c in scored):
                break
            chosen = [
                i
                for i, c in sorted(enumerate(scored), key=lambda ic: ic[1].score or 0)
                if i not in extra
                and (
                    (c.matches and c.ids.imdb is None)
                    if stage == 1
                    else c.components.get("year", 1.0) <= YEAR_ADJACENT
                )
            ][:budget]
            if not chosen:
                continue
            budget -= len(chosen)
            lookups = await asyncio.gather(*(self._xref(session, groups[i]) for i in chosen))
            for index, records in zip(chosen, lookups, strict=True):
                extra[index] = records
            groups, extra = regroup(groups, extra, self._extract)
            scored = [score(query, year, m, extra.get(i, ())) for i, m in enumerate(groups)]
        order = sorted(
            range(len(scored)), key=lambda i: (not scored[i].matches, scored[i].score or 0)
        )
        candidates = [scored[i] for i in order]
        id_sources = {
            scored[i].ids: [(h.provider, h.ids) for h in groups[i]]
            + [(r.provider, self._extract(r.provider, r)) for r in extra.get(i, ())]
            for i in order
        }
        return candidates, id_sources

    async def _details(self, search: _Session, candidate: Candidate) -> Candidate:
        """The candidate with the details its records hold: a cross-reference from its ids by
        the providers that rank a detail field, exactly as a lookup of these ids would start
        (so a confirmed choice reuses every response). A provider that fails is named in the
        search's reasons; the candidate keeps what the search said."""
        from metarr.candidates import with_details

        only = frozenset(self._detail_providers())
        session = _Session(interactive=True, only=only, given=candidate.ids)
        session.out |= search.out  # a provider that failed the search is not asked again
        results: dict[str, ProviderResult] = {}
        await self._fixed_point(session, {}, results)
        for name, report in session.reports.items():
            if report.status in ("rate_limited", "error"):
                search.reasons.append(
                    f"{name} gave no details for {_label(candidate)} ({report.detail})"
                )
        if not results:
            return candidate
        return with_details(attrs.evolve(candidate, detailed=True), self.merge(results))

    def _detail_providers(self) -> list[str]:
        """The lookup providers that can supply a field of a candidate's details."""
        return [
            name
            for name in self._lookup_providers()
            if any(
                field in self.ranks.get(name, {}) or name in self.priority.get(field, ())
                for field in DETAIL_FIELDS
            )
        ]

    async def _xref(self, session: _Session, members: list[SearchHit]) -> list[ProviderResult]:
        """Look up a hit lacking an IMDb id with its own provider (the response is reused later)."""
        found: list[ProviderResult] = []
        for hit in members:
            if hit.provider in session.out or not self.registry.implements(
                hit.provider, "lookup_by_id"
            ):
                continue
            result = await self._call(session, hit.provider, "lookup_by_id", ids=hit.ids)
            if isinstance(result, ProviderResult):
                found.append(result)
                break
        return found

    def _identification(
        self, session: _Session, outcome: Outcome, memo: http.RequestMemo
    ) -> Identification:
        if not outcome.providers:
            outcome = attrs.evolve(outcome, providers=self._statuses(session))
        broken = tuple(
            f"{name} is broken ({self.registry.reason(name)}): it took no part; "
            "metarr plugins shows it"
            for name in self.registry.broken
        )
        if broken:
            outcome = attrs.evolve(outcome, reasons=(*outcome.reasons, *broken))
        self._tally(session)
        return Identification(
            outcome=outcome,
            reports=dict(session.reports),
            requests=memo.total,
            requests_by_provider=memo.by_provider(),
        )

    def _tally(self, session: _Session) -> None:
        """Add one identification's provider statuses to the run's `ProviderFailures`."""
        statuses: dict[str, ProviderStatus] = dict(session.searched)
        statuses.update({name: report.status for name, report in session.reports.items()})
        for name, status in statuses.items():
            tally = self._failures.get(name) or ProviderFailures(provider=name)
            report = session.reports.get(name)
            failed = status == "error" and (report is None or report.result is None)
            limited = status == "rate_limited" and (report is None or report.result is None)
            self._failures[name] = ProviderFailures(  # each field (attrs.evolve reads the class)
                provider=name,
                asked=tally.asked + 1,
                failed=tally.failed + failed,
                rate_limited=tally.rate_limited + limited,
                detail=report.detail if (failed or limited) and report else tally.detail,
                out_for_run=name in self.out_for_run,
            )


# -- helpers -------------------------------------------------------------------------------


def _failures(session: _Session) -> str:
    """``tmdb: server error (HTTP 500); omdb: …``: who failed and how, for the reasons."""
    return "; ".join(
        f"{name}: {report.detail or report.status}"
        for name, report in session.reports.items()
        if report.status in ("rate_limited", "error")
    )


def _blocked_reason(why: str) -> str:
    return (
        f"TMDB, the cross-reference backbone, is not available ({why}); automated "
        "identification is blocked by tmdb_policy = 'block'. Configure TMDB or set "
        "tmdb_policy = 'warn' to identify without it."
    )


def _known(claims: Claims, given: Ids) -> Ids:
    """The value of each id kind to ask with: the given one, else the first claimed."""
    values: dict[str, Any] = dict(given.items())
    for kind in ID_KINDS:
        options = claims.get(kind)
        if kind not in values and options:
            values[kind] = next(iter(options))
    return Ids._parsed(**values)  # each value from an `Ids` (the claims are extracted ids)


def _disputes(claims: Claims, given: Ids) -> dict[str, dict[Any, set[str]]]:
    """Each id kind with more than one value among the claims and the given id."""
    disputes = {}
    for kind, options in claims.items():
        values = {value: set(who) for value, who in options.items()}
        value = given.get(kind)
        if value is not None:
            values.setdefault(value, set())
        if len(values) > 1:
            disputes[kind] = values
    return disputes


def _claim_text(kind: str, value: Any, who: set[str], given: bool) -> str:
    names = sorted(who)
    if given:
        names.insert(0, "the input")
    verb = "say" if len(names) > 1 else "says"
    return f"{', '.join(names)} {verb} {kind} {value}"


def _describe(record: MovieData | None, source: str | None = None) -> str:
    """``'Heat' (1995)``, ``'Heat' (1995) (tmdb)`` with the provider that says so, or ``no
    movie tmdb knows`` / ``no such movie`` for None."""
    if record is None:
        return f"no movie {source} knows" if source else "no such movie"
    year = f" ({record.year})" if record.year else ""
    said = f" ({source})" if source else ""
    return f"'{record.title}'{year}{said}"


def _without(ids: Ids, kind: str) -> Ids:
    return Ids(**{k: v for k, v in ids.items() if k != kind})


def _fits(record: ProviderResult, evidence: Iterable[ProviderResult]) -> bool:
    """Whether an authority's record agrees (title and year) with most of the other records."""
    others = list(evidence)
    if not others:
        return False
    agree = sum(same_movie(titles_of(record), record.year, titles_of(o), o.year) for o in others)
    return agree * 2 > len(others)


def _label(candidate: Candidate) -> str:
    year = f" ({candidate.year})" if candidate.year else ""
    return f"'{candidate.title}'{year} [{candidate.ids}]"


def _label_query(title: str, year: int | None) -> str:
    return f"'{title}'" + (f" ({year})" if year else "")


def _label_forms(forms: Sequence[str], year: int | None) -> str:
    """``'A' (2010)``, or ``'A' or 'B' or 'C' (2010)`` for a title with several names."""
    return " or ".join(f"'{form}'" for form in forms) + (f" ({year})" if year else "")
