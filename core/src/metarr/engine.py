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

Search mode (`Engine.search`, `Engine.identify_title`) asks every search-capable provider,
collapses hits that are the same movie (shared ids; matching hits lacking an IMDb id are
cross-referenced, at most `XREF_BOUND` lookups), scores them (`metarr.matching`) and, for
automation, identifies only a single match.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from metarr import http
from metarr.candidates import collapse, decide, regroup, score
from metarr.errors import NotFoundError, ProviderError, RateLimitedError
from metarr.gate import ProviderGate
from metarr.ids import ID_KINDS, Ids
from metarr.matching import YEAR_ADJACENT, same_movie
from metarr.merge import merge
from metarr.models import Candidate, Movie, Outcome, ProviderResult, ProviderStatus, SearchHit
from metarr.plugins import Registry

log = logging.getLogger("metarr.engine")

XREF_BOUND = 5  # cross-reference lookups per search, for matching hits that lack an IMDb id
MAX_RESOLUTION_ROUNDS = 3
SHORT_PAUSE = 30.0  # seconds: a paused provider is waited for up to this, then skipped
INPUT = "input"


@attrs.frozen(kw_only=True)
class ProviderReport:
    """What one provider contributed to an identification."""

    status: ProviderStatus
    result: ProviderResult | None = None
    detail: str | None = None
    retry_after: float | None = None
    until: datetime | None = None


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


@attrs.define
class _Session:
    """The in-memory state of one identification."""

    interactive: bool
    only: frozenset[str] | None = None  # restrict lookups to these providers (a partial refresh)
    reports: dict[str, ProviderReport] = attrs.field(factory=dict)  # records and failures
    searched: dict[str, ProviderStatus] = attrs.field(factory=dict)  # search answers
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
            self.gates.setdefault(name, ProviderGate(name))
        self.ranks = registry.field_priorities()
        self.languages = {name: registry.languages(name) for name in registry.enabled}

    # -- public API --------------------------------------------------------------------------

    async def lookup(
        self, ids: Ids, *, interactive: bool = False, providers: Collection[str] | None = None
    ) -> Identification:
        """Identify a movie from known ids (lookup mode); ``providers`` limits who is asked."""
        session = _Session(
            interactive=interactive, only=None if providers is None else frozenset(providers)
        )
        with http.retry_policy(_policy(interactive)), http.request_memo() as memo:
            blocked = self._blocked(session)
            if blocked is not None:
                return self._identification(session, blocked, memo)
            claims = {kind: {value: {INPUT}} for kind, value in ids.items()}
            outcome = await self._resolve(session, claims)
        return self._identification(session, outcome, memo)

    async def search(self, query: str, year: int | None = None) -> list[Candidate]:
        """All candidates for a person to choose from (user-initiated search), best first."""
        session = _Session(interactive=True)
        with http.retry_policy(http.INTERACTIVE), http.request_memo():
            candidates, _ = await self._candidates(session, query, year)
        return candidates

    async def identify_title(self, title: str, year: int | None = None) -> Identification:
        """The automated title (+ year) decision: identify only a single matching candidate."""
        session = _Session(interactive=False)
        with http.retry_policy(http.AUTOMATED), http.request_memo() as memo:
            blocked = self._blocked(session)
            if blocked is not None:
                return self._identification(session, blocked, memo)
            outcome = await self._identify_title(session, title, year)
        return self._identification(session, outcome, memo)

    def merge(self, results: Mapping[str, ProviderResult]) -> Movie:
        """Merge provider results under the current priorities (no request)."""
        return merge(
            results,
            self.ranks,
            overrides=self.priority,
            language=self.language,
            languages=self.languages,
        )

    # -- policy ------------------------------------------------------------------------------

    def _blocked(self, session: _Session) -> Outcome | None:
        if "tmdb" in self.registry.enabled or "tmdb" not in self.registry.names:
            return None
        why = self.registry.reason("tmdb") or "disabled"
        if self.tmdb_policy == "block" and not session.interactive:
            return Outcome(
                status="blocked",
                reasons=(
                    f"TMDB, the cross-reference backbone, is not available ({why}); automated "
                    "identification is blocked by tmdb_policy = 'block'. Configure TMDB or set "
                    "tmdb_policy = 'warn' to identify without it.",
                ),
            )
        session.reasons.append(f"warning: TMDB is not available ({why}); results may be incomplete")
        return None

    # -- provider calls ----------------------------------------------------------------------

    async def _call(self, session: _Session, name: str, hook: str, **kwargs: Any) -> Any:
        """Call one provider's hook behind its gate; failures become reports, never raise."""
        gate = self.gates[name]
        if name in session.out:
            return None
        if not await gate.acquire(max_wait=SHORT_PAUSE):
            why = f" ({gate.pause_reason})" if gate.pause_reason else ""
            detail = f"paused for {gate.paused_for():.0f} s more{why}"
            return self._out(session, name, "rate_limited", detail, retry_after=gate.paused_for())
        limited: RateLimitedError | None = None
        try:
            return await self.registry.call(name, hook, **kwargs)
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
            )
        except ProviderError as exc:
            return self._out(session, name, "error", exc.detail)
        except Exception as exc:  # a plugin bug must not sink the other providers
            log.exception("provider %s raised in %s", name, hook)
            return self._out(session, name, "error", f"plugin failed: {type(exc).__name__}: {exc}")
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

    def _extract(self, name: str, result: ProviderResult) -> Ids:
        try:
            extracted = self.registry.call_pure(name, "extract_ids", result=result)
        except Exception:  # a broken extract_ids falls back to the ids the result states
            log.exception("provider %s raised in extract_ids", name)
            extracted = None
        return extracted if isinstance(extracted, Ids) else result.ids

    def _lookup_providers(self, session: _Session | None = None) -> list[str]:
        names = [n for n in self.registry.enabled if self.registry.implements(n, "lookup_by_id")]
        if session is not None and session.only is not None:
            names = [n for n in names if n in session.only]
        return names

    # -- lookup mode -------------------------------------------------------------------------

    async def _resolve(self, session: _Session, claims: dict[str, dict[Any, set[str]]]) -> Outcome:
        """Cross-reference to a fixed point, settle id disputes, merge."""
        results: dict[str, ProviderResult] = {}
        tried: dict[str, Ids] = {}
        for _ in range(MAX_RESOLUTION_ROUNDS):
            await self._fixed_point(session, claims, results, tried)
            disputes = {k: v for k, v in claims.items() if len(v) > 1}
            if not disputes:
                break
            for kind, values in disputes.items():
                settled = await self._settle(session, kind, values, results)
                if settled is None:
                    return Outcome(status="conflict", reasons=tuple(session.reasons))
                keep, dropped = settled
                claims[kind] = {keep: set().union(*values.values())}
                for name in list(results):
                    if tried.get(name) and tried[name].get(kind) in dropped:
                        del results[name]  # asked with a wrong id: ask again with the kept one
                        tried.pop(name, None)
                        session.reports.pop(name, None)
        else:
            session.reasons.append("ids kept changing after repeated cross-reference; stopped")
            return Outcome(status="conflict", reasons=tuple(session.reasons))
        return self._outcome(session, results)

    async def _fixed_point(
        self,
        session: _Session,
        claims: dict[str, dict[Any, set[str]]],
        results: dict[str, ProviderResult],
        tried: dict[str, Ids],
    ) -> None:
        """Ask providers as soon as a usable id is known, until no new id appears."""
        pending: dict[asyncio.Task[Any], tuple[str, Ids]] = {}
        try:
            while True:
                known = _known(claims)
                running = {name for name, _ in pending.values()}
                for name in self._lookup_providers(session):
                    if name in results or name in running or name in session.out:
                        continue
                    usable = known.only(self.registry.id_types(name))
                    if not usable or not self._worth_asking(name, usable, tried.get(name)):
                        continue
                    tried[name] = usable
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
        """Ask the id's authority about each claimed value; keep the one that is this movie."""
        listing = "; ".join(
            f"{', '.join(sorted(who))} say{'s' if len(who) == 1 else ''} {kind} {value}"
            for value, who in values.items()
        )
        authority = self._authority(kind)
        if authority is None or authority in session.out or authority not in self.registry.enabled:
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
        evidence = [r for n, r in results.items() if n != authority and r.title]
        fitting = [
            value
            for value, record in zip(ordered, checks, strict=True)
            if isinstance(record, ProviderResult) and _fits(record, evidence)
        ]
        if len(fitting) != 1:
            why = "none of them matches" if not fitting else "more than one matches"
            session.reasons.append(
                f"providers disagree about the {kind} id ({listing}); {authority} (the {kind} "
                f"authority) was asked about each, and {why} the title and year of the others"
            )
            return None
        keep = fitting[0]
        if INPUT in values and keep not in [v for v, who in values.items() if INPUT in who]:
            given = ", ".join(str(v) for v, who in values.items() if INPUT in who)
            session.reasons.append(
                f"the {kind} id given ({given}) is not the movie the other providers describe; "
                f"{authority} confirms {kind} {keep}"
            )
            return None
        dropped = set(ordered) - {keep}
        for value in dropped:
            record = checks[ordered.index(value)]
            what = (
                f"'{record.title}' ({record.year})"
                if isinstance(record, ProviderResult)
                else "no such movie"
            )
            offenders = sorted(values[value] - {INPUT})
            session.reasons.append(
                f"{', '.join(offenders)} claimed {kind} {value}, but {authority} (the {kind} "
                f"authority) says that is {what}; kept {kind} {keep} and dropped the wrong claim"
            )
            for name in offenders:
                result = results.get(name)
                if result is not None and name != authority:
                    results[name] = attrs.evolve(result, ids=_without(result.ids, kind))
        results[authority] = checks[ordered.index(keep)]
        self._report(session, authority, ProviderReport(status="ok", result=results[authority]))
        return keep, dropped

    def _worth_asking(self, name: str, usable: Ids, asked: Ids | None) -> bool:
        """Whether to ask a provider (again). One that found nothing is asked again only when
        its own id kind becomes known: TMDB by tmdb id after its IMDb ``/find`` came back
        empty is a new chance; Fanart.tv by tmdb id after imdb is the same record again."""
        if asked is None:
            return True
        own = getattr(self.registry.entries[name].info.factory, "authority_for", frozenset())
        return any(kind in own and kind not in asked.kinds() for kind in usable.kinds())

    def _authority(self, kind: str) -> str | None:
        """The provider that issues or validates ``kind`` ids (whether enabled or not); else the
        enabled provider ranking ``ids.<kind>`` first."""
        for name, entry in self.registry.entries.items():
            if kind in getattr(entry.info.factory, "authority_for", ()):
                return name
        able = [n for n in self._lookup_providers() if kind in self.registry.id_types(n)]
        ranked = sorted((self.ranks.get(n, {}).get(f"ids.{kind}", 10_000), n) for n in able)
        return ranked[0][1] if ranked else None

    def _outcome(self, session: _Session, results: dict[str, ProviderResult]) -> Outcome:
        for name, result in results.items():
            self._report(session, name, ProviderReport(status="ok", result=result))
        statuses = self._statuses(session)
        if not results:
            failed = [s for s in statuses.values() if s in ("rate_limited", "error")]
            if "rate_limited" in failed:
                status = "rate_limited"
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
        for name, report in session.reports.items():
            if report.status in ("rate_limited", "error"):
                session.reasons.append(
                    f"{name} is missing from this record ({report.detail}); "
                    "a refresh will fill it in"
                )
        return Outcome(
            status="identified", movie=movie, reasons=tuple(session.reasons), providers=statuses
        )

    def _statuses(self, session: _Session) -> dict[str, ProviderStatus]:
        statuses: dict[str, ProviderStatus] = {}
        for name in self.registry.names:
            if name not in self.registry.enabled:
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
        candidates, groups = await self._candidates(session, title, year)
        matching = [c for c in candidates if c.matches]
        statuses = self._statuses(session)
        if not matching:
            failed = {n for n, s in statuses.items() if s in ("rate_limited", "error")}
            searchers = [n for n in self.registry.enabled if self.registry.implements(n, "search")]
            if failed and set(searchers) <= failed:
                status = (
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
            session.reasons.append(f"no candidate matches {_label_query(title, year)}{near}")
            return Outcome(
                status="not_found",
                candidates=tuple(candidates[:10]),
                reasons=tuple(session.reasons),
                providers=statuses,
            )
        chosen = decide(matching, year)
        if chosen is None:
            session.reasons.append(
                f"{len(matching)} candidates match {_label_query(title, year)} equally well: "
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
        claims: dict[str, dict[Any, set[str]]] = {}
        for name, hits in groups[chosen.ids]:
            for kind, value in hits.items():
                claims.setdefault(kind, {}).setdefault(value, set()).add(name)
        return await self._resolve(session, claims)

    async def _candidates(
        self, session: _Session, query: str, year: int | None
    ) -> tuple[list[Candidate], dict[Ids, list[tuple[str, Ids]]]]:
        """Search every provider, collapse the hits per movie and score them, best first."""
        searchers = [n for n in self.registry.enabled if self.registry.implements(n, "search")]
        answers = await asyncio.gather(
            *(self._call(session, name, "search", query=query, year=year) for name in searchers)
        )
        hits: list[SearchHit] = []
        for name, answer in zip(searchers, answers, strict=True):
            found = [h for h in (answer or []) if isinstance(h, SearchHit)]
            if name not in session.reports:  # failures are reports; answers are not records
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
            for index, found in zip(chosen, lookups, strict=True):
                extra[index] = found
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
        return Identification(
            outcome=outcome,
            reports=dict(session.reports),
            requests=memo.total,
            requests_by_provider=memo.by_provider(),
        )


# -- helpers -------------------------------------------------------------------------------


def _failures(session: _Session) -> str:
    """``tmdb: server error (HTTP 500); omdb: …``: who failed and how, for the reasons."""
    return "; ".join(
        f"{name}: {report.detail or report.status}"
        for name, report in session.reports.items()
        if report.status in ("rate_limited", "error")
    )


def _policy(interactive: bool) -> http.RetryPolicy:
    return http.INTERACTIVE if interactive else http.AUTOMATED


def _known(claims: Mapping[str, Mapping[Any, set[str]]]) -> Ids:
    """The first-claimed value of each id kind (the input's, when given)."""
    values = {}
    for kind in ID_KINDS:
        options = claims.get(kind)
        if options:
            with_input = [v for v, who in options.items() if INPUT in who]
            values[kind] = with_input[0] if with_input else next(iter(options))
    return Ids(**values)


def _without(ids: Ids, kind: str) -> Ids:
    return Ids(**{k: v for k, v in ids.items() if k != kind})


def _fits(record: ProviderResult, evidence: Iterable[ProviderResult]) -> bool:
    """Whether an authority's record agrees (title and year) with most of the other records."""
    others = list(evidence)
    if not others:
        return False
    titles = [record.title, record.original_title, *record.alternative_titles]
    agree = sum(
        same_movie(titles, record.year, [o.title, o.original_title, *o.alternative_titles], o.year)
        for o in others
    )
    return agree * 2 > len(others)


def _label(candidate: Candidate) -> str:
    year = f" ({candidate.year})" if candidate.year else ""
    return f"'{candidate.title}'{year} [{candidate.ids}]"


def _label_query(title: str, year: int | None) -> str:
    return f"'{title}'" + (f" ({year})" if year else "")
