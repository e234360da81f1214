"""A new movie's commit takes the engine's merge instead of merging its parts again
(`metarr.merge.merge` remembers its recent merges): what it stores is what the full merge
stores, and a part another process stored in between is merged as before."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import metarr.merge
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from metarr.cache import Cache, ProviderPart
from metarr.ids import Ids
from metarr.merge import RECENT, field_orders
from metarr.models import CastMember, Image, Movie, ProviderResult, Rating
from test_cache import RANKS, T0, Clock

PROVIDERS = ("omdb", "tmdb", "tvdb")
ORDERS = field_orders(RANKS)


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The merges really computed (one entry each)."""
    seen: list[int] = []
    real = metarr.merge._merge

    def counted(results: Mapping[str, ProviderResult], orders: Any) -> Movie:
        seen.append(len(results))
        return real(results, orders)

    monkeypatch.setattr(metarr.merge, "_merge", counted)
    return seen


def engine_merge(results: Mapping[str, ProviderResult]) -> Movie:
    """What `Engine.merge` calls: the merge under orders kept for many merges."""
    return metarr.merge.merge(results, RANKS, orders=ORDERS)


def full_merge(results: Mapping[str, ProviderResult]) -> Movie:
    """The merge computed from scratch (its own orders: nothing remembered applies)."""
    return metarr.merge.merge(results, RANKS)


def _result(provider: str, draw: st.DrawFn) -> ProviderResult:
    text = st.text(min_size=1, max_size=12)
    return ProviderResult(
        provider=provider,
        ids=Ids(
            tmdb=draw(st.sampled_from([None, 603])),
            imdb="tt0133093",  # a movie has an id
            tvdb=draw(st.sampled_from([None, 169])),
        ),
        title=draw(text),
        year=draw(st.none() | st.integers(1900, 2030)),
        plot=draw(st.none() | text),
        images=tuple(
            Image(provider=provider, kind="poster", url=f"https://img.test/{name}.jpg")
            for name in draw(st.lists(st.sampled_from("abcd"), max_size=3))
        ),
        ratings=tuple(
            Rating(source=source, value=value, max=10, provider=provider)
            for source, value in draw(
                st.lists(st.tuples(st.sampled_from(["imdb", provider]), st.floats(0, 10)))
            )
        ),
        cast=tuple(
            CastMember(name=name, order=n, provider=provider)
            for n, name in enumerate(draw(st.lists(st.sampled_from(["Keanu", "keanu", "Carrie"]))))
        ),
        raw={"movie": {"title": "x"}},
    )


@st.composite
def new_parts(draw: st.DrawFn) -> dict[str, ProviderPart]:
    """Parts for every provider: some ok (one at least), the others not found or failed."""
    oks = draw(st.sets(st.sampled_from(PROVIDERS), min_size=1))
    parts: dict[str, ProviderPart] = {}
    for name in PROVIDERS:
        if name in oks:
            part = ProviderPart(
                provider=name, status="ok", fetched_at=T0, result=_result(name, draw)
            )
        else:
            status = draw(st.sampled_from(["not_found", "error"]))
            part = ProviderPart(provider=name, status=status, fetched_at=T0, error="down")
        parts[name] = part
    return parts


def stored(cache: Cache) -> tuple[Movie, list[tuple[str, str, ProviderResult | None]]]:
    (cached,) = cache.iter_movies()
    return cached.movie, [(p.provider, p.status, p.result) for p in cached.parts.values()]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=new_parts())
def test_a_new_movies_commit_stores_what_the_full_merge_stores(
    parts: dict[str, ProviderPart],
) -> None:
    results = {n: p.result for n, p in parts.items() if p.result is not None}
    merged = engine_merge(results)  # the engine's merge (remembered)
    with Cache(":memory:", clock=Clock()) as skipping, Cache(":memory:", clock=Clock()) as full:
        took = skipping.commit(merged, parts, merge=engine_merge)
        full.commit(full_merge(results), parts, merge=full_merge)
        assert took.movie is merged  # the engine's merge, not another
        assert stored(skipping) == stored(full)
        assert stored(skipping)[0] == full_merge(results)


def test_the_commit_of_a_new_movie_merges_once(computed: list[int]) -> None:
    parts = {
        n: ProviderPart(
            provider=n,
            status="ok",
            fetched_at=T0,
            result=ProviderResult(provider=n, ids=Ids(imdb="tt0133093"), title=f"By {n}"),
        )
        for n in PROVIDERS
    }
    results = {n: p.result for n, p in parts.items() if p.result is not None}
    with Cache(":memory:", clock=Clock()) as cache:
        cache.commit(engine_merge(results), parts, merge=engine_merge)
    assert computed == [3]


def test_a_part_another_process_stored_in_between_is_merged(
    tmp_path: Path, computed: list[int]
) -> None:
    db = tmp_path / "cache.sqlite"
    ids = Ids(imdb="tt0133093", tmdb=603)

    def part(name: str, title: str, at: Any = T0) -> ProviderPart:
        result = ProviderResult(provider=name, ids=ids, title=title, year=1999)
        return ProviderPart(provider=name, status="ok", fetched_at=at, result=result)

    ours = {"tmdb": part("tmdb", "The Matrix (ours)"), "omdb": part("omdb", "Matrix")}
    results = {n: p.result for n, p in ours.items() if p.result is not None}
    merged = engine_merge(results)  # this process's engine merged its parts...
    with Cache(db, clock=Clock()) as other:  # ...another process commits a newer TMDB part
        newer = part("tmdb", "The Matrix (theirs)", T0 + timedelta(hours=1))
        other.commit(full_merge({"tmdb": newer.result}), {"tmdb": newer}, merge=full_merge)
    computed.clear()
    with Cache(db, clock=Clock()) as cache:
        took = cache.commit(merged, ours, merge=engine_merge)
    assert computed == [2]  # merged again: the parts it ends with are not the engine's
    assert took.movie.title == "The Matrix (theirs)"
    assert took.movie == full_merge({"tmdb": newer.result, "omdb": ours["omdb"].result})


def test_the_same_results_under_new_orders_are_merged_again(computed: list[int]) -> None:
    results = {"tmdb": ProviderResult(provider="tmdb", ids=Ids(tmdb=603), title="T")}
    first = metarr.merge.merge(results, RANKS, orders=field_orders(RANKS))
    again = metarr.merge.merge(results, RANKS, orders=field_orders(RANKS))
    assert computed == [1, 1]
    assert first == again


def test_equal_but_other_results_are_merged_again(computed: list[int]) -> None:
    def results() -> dict[str, ProviderResult]:
        return {"tmdb": ProviderResult(provider="tmdb", ids=Ids(tmdb=603), title="T")}

    engine_merge(results())
    engine_merge(results())
    assert computed == [1, 1]


def test_what_is_remembered_stays_bounded(computed: list[int]) -> None:
    kept = [
        {"tmdb": ProviderResult(provider="tmdb", ids=Ids(tmdb=n + 1), title=f"T{n}")}
        for n in range(RECENT + 10)
    ]
    for results in kept:
        engine_merge(results)
    assert len(metarr.merge._recent) <= RECENT
    engine_merge(kept[0])  # forgotten: merged again
    engine_merge(kept[-1])  # remembered: taken (and forgotten)
    assert len(computed) == RECENT + 11


def test_a_result_gone_is_never_taken_for_a_new_one_at_its_address() -> None:
    reused = 0
    for n in range(200):
        gone = ProviderResult(provider="tmdb", ids=Ids(tmdb=603), title=f"Gone {n}")
        engine_merge({"tmdb": gone})
        address = id(gone)
        del gone
        new = ProviderResult(provider="tmdb", ids=Ids(tmdb=603), title=f"New {n}")
        reused += id(new) == address  # CPython often puts it where the last one was
        assert engine_merge({"tmdb": new}).title == f"New {n}"
    assert reused  # the case this test is about happened
