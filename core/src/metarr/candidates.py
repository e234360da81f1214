"""Search candidates: collapsing providers' hits into movies, scoring and deciding.

Pure functions over `SearchHit`s and cross-referenced `ProviderResult`s; the engine does the
I/O. Hits that share any id are the same movie; a candidate's score is a distance with named
components (`metarr.matching`); `decide` identifies only a single match.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from metarr.ids import Ids
from metarr.matching import match_title, match_year
from metarr.models import Candidate, MovieData, ProviderResult, SearchHit

# The end of a sentence: ., ! or ? and a space, not after a lone capital ("J. Smith").
_SENTENCE_END = re.compile(r"(?<=[^\s.!?][^\s.!?])[.!?](?=\s)")

Extract = Callable[[str, ProviderResult], Ids]


def collapse(hits: Sequence[SearchHit]) -> list[list[SearchHit]]:
    """Group hits that share any id (the same movie seen by several providers)."""
    groups: list[list[SearchHit]] = []
    keys: list[set[tuple[str, Any]]] = []
    for hit in hits:
        own: set[tuple[str, Any]] = set(hit.ids.items())
        joined = [i for i, k in enumerate(keys) if k & own]
        if not joined:
            groups.append([hit])
            keys.append(own)
            continue
        first = joined[0]
        groups[first].append(hit)
        keys[first] |= own
        for other in reversed(joined[1:]):
            groups[first].extend(groups.pop(other))
            keys[first] |= keys.pop(other)
    return groups


def regroup(
    groups: list[list[SearchHit]],
    extra: dict[int, list[ProviderResult]],
    extract: Extract,
) -> tuple[list[list[SearchHit]], dict[int, list[ProviderResult]]]:
    """Merge groups whose cross-referenced ids now overlap."""
    keys = []
    for i, members in enumerate(groups):
        own = {item for hit in members for item in hit.ids.items()}
        for result in extra.get(i, ()):
            own |= set(extract(result.provider, result).items())
        keys.append(own)
    merged_groups: list[list[SearchHit]] = []
    merged_extra: dict[int, list[ProviderResult]] = {}
    merged_keys: list[set[tuple[str, Any]]] = []
    for i, members in enumerate(groups):
        target = next((j for j, k in enumerate(merged_keys) if k & keys[i]), None)
        if target is None:
            merged_groups.append(list(members))
            merged_keys.append(set(keys[i]))
            merged_extra[len(merged_groups) - 1] = list(extra.get(i, ()))
        else:
            merged_groups[target].extend(members)
            merged_keys[target] |= keys[i]
            merged_extra[target].extend(extra.get(i, ()))
    return merged_groups, merged_extra


def score(
    query: str, year: int | None, members: Sequence[SearchHit], results: Sequence[ProviderResult]
) -> Candidate:
    """One candidate from a group of hits (and any cross-referenced records), scored."""
    ids: dict[str, Any] = {}
    for hit in members:
        for kind, value in hit.ids.items():
            ids.setdefault(kind, value)
    for result in results:
        for kind, value in result.ids.items():
            ids.setdefault(kind, value)
    titles: list[str] = []
    originals: list[str] = []
    alternatives: list[str] = []
    years: set[int] = set()
    items: list[SearchHit | ProviderResult] = [*members, *results]
    for item in items:
        if item.title:
            titles.append(item.title)
        if item.original_title:
            originals.append(item.original_title)
        alternatives.extend(item.alternative_titles)
        if item.year:
            years.add(item.year)
    best = None
    mains: list[str | None] = [*titles] or [None]
    for main in mains:
        attempt = match_title(
            query,
            main,
            originals[0] if originals else None,
            [*titles, *originals[1:], *alternatives],
        )
        if best is None or attempt.distance < best.distance:
            best = attempt
    assert best is not None
    verdict, year_distance = match_year(year, years)
    matches = best.matched and verdict in ("exact", "adjacent", "any")
    notes = [
        f"title {'matches' if best.matched else 'differs'}"
        + (
            f" via {best.via.replace('_', ' ')}"
            if best.matched and best.via not in (None, "title")
            else ""
        )
        + (f" ('{best.closest}')" if best.closest else ""),
        f"year {verdict}" + (f" ({', '.join(str(y) for y in sorted(years))})" if years else ""),
    ]
    providers = tuple(sorted({hit.provider for hit in members}))
    poster = next((hit.poster for hit in members if hit.poster), None)
    main_year = next((hit.year for hit in members if hit.year), None)
    candidate = Candidate(
        title=titles[0] if titles else query,
        year=main_year,
        ids=Ids(**ids),
        providers=providers,
        poster=poster,
        matches=matches,
        score=round(best.distance + year_distance, 3),
        components={"title": best.distance, "year": year_distance},
        notes=tuple(notes),
        original_title=_first(h.original_title for h in members),
        release_date=_first(h.release_date for h in members),
        directors=next((h.directors for h in members if h.directors), ()),
        outline=_first(first_sentence(h.outline) for h in members),
        popularity=_first(h.popularity for h in members),
    )
    for result in results:  # a record looked up anyway (cross-reference) says more
        candidate = with_details(candidate, result, replace=False)
    return candidate


def with_details(candidate: Candidate, record: MovieData, *, replace: bool = True) -> Candidate:
    """The candidate with the details a record (a provider's, or the merged movie) holds:
    they replace what the search said (or, without ``replace``, only fill what is missing)."""
    crew = [c.name for c in record.crew if c.job.casefold() == "director"]
    cast = [c.name for c in sorted(record.cast, key=lambda c: (c.order is None, c.order or 0))]
    imdb = next((r for r in record.ratings if r.source == "imdb"), None)
    found: dict[str, Any] = {
        "original_title": record.original_title,
        "release_date": record.release_date,
        "runtime": record.runtime,
        "directors": tuple(dict.fromkeys(crew)),
        "cast": tuple(dict.fromkeys(cast)),
        "outline": record.outline or first_sentence(record.plot),
        "imdb_rating": imdb.value * 10 / imdb.max if imdb is not None and imdb.max else None,
        "imdb_votes": imdb.votes if imdb is not None else None,
    }
    if candidate.poster is None:
        found["poster"] = next((i.url for i in record.images if i.kind == "poster"), None)
    changes = {
        name: value
        for name, value in found.items()
        if value not in (None, ()) and (replace or getattr(candidate, name) in (None, ()))
    }
    return attrs.evolve(candidate, **changes)


def first_sentence(text: str | None) -> str | None:
    """The first sentence of a plot (the whole text when it has one sentence)."""
    if not text:
        return None
    line = " ".join(text.split())
    end = _SENTENCE_END.search(line, 20)
    return line[: end.end()] if end else line


def _first(values: Iterable[Any]) -> Any:
    return next((v for v in values if v is not None), None)


Sources = dict[Ids, list[tuple[str, Ids]]]  # a candidate's ids -> (provider, ids) it was seen with


def across_forms(
    searches: Sequence[tuple[list[Candidate], Sources]],
) -> tuple[list[Candidate], Sources]:
    """One candidate list from the searches of a title's several names (`title_forms`).

    Candidates sharing any id are one film: it keeps its best showing (a match beats a near
    miss, then the lower score) and every id source of all of them. The list is ordered as
    each search orders its own: matches first, best score first.
    """
    if len(searches) == 1:
        return searches[0]
    chosen: list[Candidate] = []
    sources: list[list[tuple[str, Ids]]] = []
    keys: list[set[tuple[str, Any]]] = []
    for candidates, found in searches:
        for candidate in candidates:
            own: set[tuple[str, Any]] = set(candidate.ids.items())
            seen = found.get(candidate.ids, [])
            joined = [i for i, k in enumerate(keys) if k & own]
            if not joined:
                chosen.append(candidate)
                sources.append(list(seen))
                keys.append(own)
                continue
            first = joined[0]
            for other in reversed(joined[1:]):  # this candidate bridges two earlier ones
                chosen[first] = _better(chosen[first], chosen.pop(other))
                sources[first].extend(sources.pop(other))
                keys[first] |= keys.pop(other)
            chosen[first] = _better(chosen[first], candidate)
            sources[first].extend(seen)
            keys[first] |= own
    order = sorted(range(len(chosen)), key=lambda i: (not chosen[i].matches, chosen[i].score or 0))
    return [chosen[i] for i in order], {chosen[i].ids: sources[i] for i in order}


def _better(a: Candidate, b: Candidate) -> Candidate:
    """The better showing of one film under two names: a match, then the lower score."""
    return min(a, b, key=lambda c: (not c.matches, c.score or 0))


def decide(matching: Sequence[Candidate], year: int | None) -> Candidate | None:
    """The single identified candidate, or None when a person must choose."""
    if len(matching) == 1:
        return matching[0]
    if year is not None:
        exact = [c for c in matching if c.components.get("year") == 0.0]
        if len(exact) == 1:
            return attrs.evolve(
                exact[0],
                notes=(*exact[0].notes, "the only exact-year match; others are a year off"),
            )
    return None
