"""Merging provider results into one movie by per-field provider priority.

For each field, the value comes from the highest-priority provider that has one; ``provenance``
records which provider that was. ``metarr priorities`` prints the order of every field.

**The scale** (stated here once): a provider ranks each field it supplies with an integer
(``field_priority``); lower wins. The bundled providers use 10 (first choice), 20, 30 and 40
(last resort); another provider places itself among them (15: between the first and the
second choice; 50: after all of them). **Ties** (equal ranks) go by provider name, in
alphabetical order, so the order never depends on which plugin loaded first. A provider that
ranks no value for a field is never used for it. A configured order (``[priority]`` in the
config file) goes before every rank. For the fields whose text is in a language
(`LANGUAGE_FIELDS`), a provider that cannot serve the configured language (OMDb is English-only)
falls behind the others: with ``language = "de"`` TMDB's German title wins.

Ratings, images, cast and crew are collected from every provider in priority order, without
duplicates. The merge is a pure function of its inputs, so re-running it over stored results
(`metarr remerge`) needs no request and gives the same movie.
"""

from __future__ import annotations

import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from operator import attrgetter
from typing import Any, TypeVar

from metarr.ids import ID_KINDS, Ids
from metarr.models import (
    LANGUAGE_FIELDS,
    LIST_FIELDS,
    PRIORITY_FIELDS,
    SCALAR_FIELDS,
    Movie,
    ProviderResult,
)

T = TypeVar("T")
Ranks = Mapping[str, Mapping[str, int]]


def provider_order(
    field: str,
    ranks: Ranks,
    *,
    overrides: Mapping[str, Sequence[str]] | None = None,
    language: str = "en",
    languages: Mapping[str, frozenset[str] | None] | None = None,
) -> list[str]:
    """The providers allowed to supply ``field``, best first."""
    ranked = sorted(
        (rank_map[field], name) for name, rank_map in ranks.items() if field in rank_map
    )
    order = [name for _, name in ranked]
    preferred = [name for name in (overrides or {}).get(field, ()) if name in ranks]
    order = preferred + [name for name in order if name not in preferred]
    if field in LANGUAGE_FIELDS and languages:
        base = language.split("-")[0].lower()
        serves = [n for n in order if (served := languages.get(n)) is None or base in served]
        order = serves + [n for n in order if n not in serves]
    return order


def field_orders(
    ranks: Ranks,
    *,
    overrides: Mapping[str, Sequence[str]] | None = None,
    language: str = "en",
    languages: Mapping[str, frozenset[str] | None] | None = None,
) -> dict[str, list[str]]:
    """`provider_order` of every merged field (what `merge` follows; compute it once for
    many merges under the same ranks)."""
    return {
        field: provider_order(
            field, ranks, overrides=overrides, language=language, languages=languages
        )
        for field in PRIORITY_FIELDS
    }


def merge(
    results: Mapping[str, ProviderResult],
    ranks: Ranks,
    *,
    overrides: Mapping[str, Sequence[str]] | None = None,
    language: str = "en",
    languages: Mapping[str, frozenset[str] | None] | None = None,
    orders: Mapping[str, Sequence[str]] | None = None,
) -> Movie:
    """One movie from the providers' results, with per-field provenance. ``orders`` is
    `field_orders` of the same arguments, when the caller has it already.

    Given ``orders``, a merge of the very result objects merged under the very same
    ``orders`` a moment before (`RECENT` merges back) is that merge's movie, not computed
    again: the results and the movie are immutable, the merge reads nothing else (not
    ``raw``), and the caller keeps ``orders`` unchanged while it uses them (`Engine.merge`
    makes new ones when its settings change). That is the commit of a new movie: the cache
    merges the parts it ends with under its write lock, and when they are the parts the
    engine merged, it is the engine's merge again."""
    if orders is None:
        orders = field_orders(ranks, overrides=overrides, language=language, languages=languages)
        return _merge(results, orders)
    key = (id(orders), frozenset((name, id(result)) for name, result in results.items()))
    with _recent_lock:
        seen = _recent.pop(key, None)
    if seen is not None:
        seen_orders, seen_results, movie = seen
        # an id in the key may be a new object's once the old one is gone: its reference
        # then gives None, and a living object's gives that very object
        same = seen_orders is orders and seen_results.keys() == results.keys()
        if same and all(results[name] is ref() for name, ref in seen_results.items()):
            return movie
    movie = _merge(results, orders)
    with _recent_lock:
        _recent[key] = (orders, {name: weakref.ref(r) for name, r in results.items()}, movie)
        while len(_recent) > RECENT:
            _recent.popitem(last=False)
    return movie


RECENT = 64
"""Merges `merge` remembers (each until its movie is asked for again, or 64 merges later):
the identifications in flight and the commits waiting for the cache thread, a few times over.
It holds the movies, and only weak references to the results (their raw payloads are not kept
alive: `metarr remerge` stays flat in memory)."""

_recent: OrderedDict[
    tuple[int, frozenset[tuple[str, int]]],
    tuple[Mapping[str, Sequence[str]], dict[str, weakref.ref[ProviderResult]], Movie],
] = OrderedDict()
_recent_lock = threading.Lock()  # the engine merges on the event loop, the cache on its thread


def _merge(results: Mapping[str, ProviderResult], orders: Mapping[str, Sequence[str]]) -> Movie:
    def order(field: str) -> list[str]:
        return [name for name in orders[field] if name in results]

    values: dict[str, Any] = {}
    provenance: dict[str, str] = {}
    for field in _FIRST_FIELDS:
        for name in orders[field]:
            result = results.get(name)
            if result is not None:
                value = getattr(result, field)
                if value is not None and value != ():
                    values[field] = value
                    provenance[field] = name
                    break
    ids: dict[str, Any] = {}
    for kind, field in _ID_FIELDS:
        for name in orders[field]:
            result = results.get(name)
            if result is not None:
                value = getattr(result.ids, kind)
                if value is not None:
                    ids[kind] = value
                    provenance[field] = name
                    break
    values["ratings"] = _collect(results, order("ratings"), "ratings", attrgetter("source"))
    values["images"] = _collect(results, order("images"), "images", attrgetter("url"))
    values["cast"] = _collect(results, order("cast"), "cast", lambda c: c.name.casefold())
    values["crew"] = _collect(
        results, order("crew"), "crew", lambda c: (c.name.casefold(), c.job.casefold())
    )
    return Movie(ids=Ids._parsed(**ids), provenance=provenance, **values)  # each from an Ids


_FIRST_FIELDS = SCALAR_FIELDS + LIST_FIELDS  # the first provider (in order) with a value wins
_ID_FIELDS = tuple((kind, f"ids.{kind}") for kind in ID_KINDS)


def _collect(
    results: Mapping[str, ProviderResult],
    names: Iterable[str],
    field: str,
    key: Callable[[Any], Hashable],
) -> list[Any]:
    seen: set[Hashable] = set()
    items: list[Any] = []
    for name in names:
        for item in getattr(results[name], field):
            identity = key(item)
            if identity not in seen:
                seen.add(identity)
                items.append(item)
    return items


def priority_table(
    ranks: Ranks,
    *,
    overrides: Mapping[str, Sequence[str]] | None = None,
    language: str = "en",
    languages: Mapping[str, frozenset[str] | None] | None = None,
) -> dict[str, Any]:
    """For every merged field: each provider's rank, the effective order, who wins and why
    the order is not plain rank order (a ``[priority]`` setting, a tie, the language)."""
    fields: dict[str, Any] = {}
    for field in PRIORITY_FIELDS:
        order = provider_order(
            field, ranks, overrides=overrides, language=language, languages=languages
        )
        field_ranks = {
            name: rank_map[field] for name, rank_map in ranks.items() if field in rank_map
        }
        notes = []
        if (overrides or {}).get(field):
            notes.append(f"[priority] {field} = {', '.join((overrides or {})[field])}")
        tied = sorted({r for r in field_ranks.values() if list(field_ranks.values()).count(r) > 1})
        for rank in tied:
            names = sorted(n for n, r in field_ranks.items() if r == rank)
            notes.append(f"{' and '.join(names)} tie at {rank}: by name")
        if field in LANGUAGE_FIELDS and languages:
            base = language.split("-")[0].lower()
            behind = [
                n for n in order if (served := languages.get(n)) is not None and base not in served
            ]
            if behind:
                notes.append(f"{', '.join(behind)} cannot serve {language}: behind")
        fields[field] = {
            "ranks": field_ranks,
            "order": order,
            "winner": order[0] if order else None,
            "notes": notes,
        }
    return {"providers": sorted(ranks), "language": language, "fields": fields}
