"""The identification engine: cross-reference, conflicts, search decisions, rate limits."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest
from fake_providers import (
    ALADDIN_A,
    DON_JUAN,
    HEAT,
    MISLINKED,
    POSTMAN,
    TITANIC_96,
    TITANIC_97,
    FakeWorld,
    fake_registry,
    fake_settings,
)
from metarr import Ids
from metarr.engine import Engine, Identification
from metarr.http import new_client

pytestmark = pytest.mark.usefixtures("quick_retries")  # `world` comes from conftest.py


def run_engine(
    action: Callable[[Engine], Coroutine[Any, Any, Any]],
    *,
    disabled: tuple[str, ...] = (),
    **kw: Any,
) -> Any:
    async def main() -> Any:
        async with new_client() as client:
            engine = Engine(
                fake_registry(client, fake_settings(disabled=disabled, **kw)), **_engine_kw(kw)
            )
            return await action(engine)

    return asyncio.run(main())


def _engine_kw(kw: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kw.items() if k in ("tmdb_policy", "language")}


# -- lookup mode: the fixed point ------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "expected_requests"),
    [
        # tmdb → (tmdb, fanart) → imdb → (omdb, tvdb): 4 requests, no duplicate
        (Ids(tmdb=603), 4),
        # imdb → (tmdb, omdb, fanart, tvdb) all at once: 4 requests
        (Ids(imdb="tt0133093"), 4),
        # tvdb → tvdb → imdb+tmdb → (tmdb, omdb, fanart): 4 requests
        (Ids(tvdb=169), 4),
    ],
)
def test_lookup_reaches_all_three_ids_from_each_start(
    world: FakeWorld, start: Ids, expected_requests: int
) -> None:
    result: Identification = run_engine(lambda e: e.lookup(start))
    outcome = result.outcome
    assert outcome.status == "identified", outcome.reasons
    assert outcome.movie is not None
    assert outcome.movie.ids == Ids(tmdb=603, imdb="tt0133093", tvdb=169)
    assert set(outcome.providers.values()) == {"ok"}
    assert world.duplicates() == []
    assert world.total == expected_requests == result.requests


def test_merge_follows_priority_and_records_provenance(world: FakeWorld) -> None:
    movie = run_engine(lambda e: e.lookup(Ids(tmdb=603))).outcome.movie
    assert movie.title == "The Matrix"
    assert movie.provenance["title"] == "omdb"  # OMDb over TMDB for titles
    assert movie.plot == "omdb plot of The Matrix"
    assert movie.provenance["ids.tvdb"] == "tvdb"
    assert movie.provenance["ids.tmdb"] == "tmdb"
    assert {r.provider for r in movie.ratings} == {"omdb", "tmdb"}
    assert [i.provider for i in movie.images] == ["tmdb", "fanart", "tvdb", "omdb"]


def test_merge_follows_priorities_changed_between_merges(world: FakeWorld) -> None:
    """The engine keeps each field's provider order between merges: a priority set (or
    changed in place) after the first merge still decides the next one."""

    async def action(engine: Engine) -> list[str]:
        results = (await engine.lookup(Ids(tmdb=603))).results
        winners = [engine.merge(results).provenance["title"]]
        engine.priority["title"] = ["tmdb"]  # in place
        winners.append(engine.merge(results).provenance["title"])
        engine.priority = {"title": ["tvdb"]}
        winners.append(engine.merge(results).provenance["title"])
        engine.language = "de"
        engine.priority = {}
        winners.append(engine.merge(results).provenance["title"])
        engine.ranks["tvdb"]["title"] = 1  # in place, one level down
        winners.append(engine.merge(results).provenance["title"])
        return winners

    assert run_engine(action) == ["omdb", "tmdb", "tvdb", "tmdb", "tvdb"]


def test_ids_no_enabled_provider_can_use_block_and_name_who_could(world: FakeWorld) -> None:
    outcome = run_engine(lambda e: e.lookup(Ids(tvdb=169)), disabled=("tvdb",)).outcome
    assert outcome.status == "blocked"
    [reason] = outcome.reasons
    assert reason.startswith("no enabled provider can use the ids given (tvdb:169); ")
    assert "enable or configure one that can: tvdb (" in reason
    assert world.total == 0
    usable = run_engine(lambda e: e.lookup(Ids(tvdb=169, imdb="tt0133093")), disabled=("tvdb",))
    assert usable.outcome.status == "identified"


def test_language_other_than_english_puts_omdb_behind(world: FakeWorld) -> None:
    movie = run_engine(lambda e: e.lookup(Ids(tmdb=603)), language="de").outcome.movie
    assert movie.provenance["title"] == "tmdb"
    assert movie.provenance["year"] == "omdb"  # not a language field


def test_unknown_ids_are_not_found(world: FakeWorld) -> None:
    outcome = run_engine(lambda e: e.lookup(Ids(tmdb=999999))).outcome
    assert outcome.status == "not_found"
    assert outcome.movie is None
    assert outcome.reasons


# -- lookup mode: id conflicts -----------------------------------------------------------------


def test_wrong_cross_reference_is_dropped_and_named(world: FakeWorld) -> None:
    world.films.append(MISLINKED)
    outcome = run_engine(lambda e: e.lookup(Ids(tmdb=700))).outcome
    assert outcome.status == "identified", outcome.reasons
    assert outcome.movie.ids.imdb == "tt0000700"
    assert any("tvdb claimed imdb tt0133093" in r and "omdb" in r for r in outcome.reasons)
    assert world.duplicates() == []


def test_conflict_when_the_authority_is_disabled(world: FakeWorld) -> None:
    world.films.append(MISLINKED)
    outcome = run_engine(lambda e: e.lookup(Ids(tmdb=700)), disabled=("omdb",)).outcome
    assert outcome.status == "conflict"
    assert outcome.movie is None
    assert any("imdb" in r and "tvdb" in r for r in outcome.reasons)


# -- search mode -------------------------------------------------------------------------------


def test_single_match_is_identified_and_search_responses_are_reused(world: FakeWorld) -> None:
    result = run_engine(lambda e: e.identify_title("Heat", 1995))
    assert result.outcome.status == "identified", result.outcome.reasons
    assert result.outcome.movie.ids == Ids(tmdb=HEAT.tmdb, imdb=HEAT.imdb, tvdb=HEAT.tvdb)
    assert world.duplicates() == []
    # 3 searches + TMDB's cross-reference lookup (reused as its record) + omdb, fanart, tvdb
    assert world.total == 7


def test_same_title_same_year_is_ambiguous(world: FakeWorld) -> None:
    outcome = run_engine(lambda e: e.identify_title("Aladdin", 1992)).outcome
    assert outcome.status == "ambiguous"
    assert {c.ids.imdb for c in outcome.candidates} == {ALADDIN_A.imdb, "tt0827990"}
    assert outcome.movie is None


def test_exact_year_beats_a_year_off(world: FakeWorld) -> None:
    outcome = run_engine(lambda e: e.identify_title("Titanic", 1997)).outcome
    assert outcome.status == "identified", outcome.reasons
    assert outcome.movie.ids.imdb == TITANIC_97.imdb
    outcome = run_engine(lambda e: e.identify_title("Titanic", 1996)).outcome
    assert outcome.movie.ids.imdb == TITANIC_96.imdb


def test_no_year_with_two_titles_is_ambiguous(world: FakeWorld) -> None:
    assert run_engine(lambda e: e.identify_title("Titanic")).outcome.status == "ambiguous"


def test_years_disagreeing_between_sources_still_match(world: FakeWorld) -> None:
    outcome = run_engine(lambda e: e.identify_title("Don Juan DeMarco", 1995)).outcome
    assert outcome.status == "identified", outcome.reasons
    assert outcome.movie.ids.imdb == DON_JUAN.imdb


def test_alternative_titles_match(world: FakeWorld) -> None:
    outcome = run_engine(lambda e: e.identify_title("Postman, The", 1994)).outcome
    assert outcome.status == "identified", outcome.reasons
    assert outcome.movie.ids.tmdb == POSTMAN.tmdb


def test_near_misses_are_not_found_but_shown(world: FakeWorld) -> None:
    outcome = run_engine(lambda e: e.identify_title("The Matri", 1999)).outcome
    assert outcome.status == "not_found"
    assert outcome.movie is None


def test_user_search_lists_every_candidate_deduplicated(world: FakeWorld) -> None:
    candidates = run_engine(lambda e: e.search("Titanic")).candidates
    assert [c.ids.imdb for c in candidates].count(TITANIC_97.imdb) == 1
    assert {c.ids.imdb for c in candidates} == {TITANIC_96.imdb, TITANIC_97.imdb}
    assert all(set(c.providers) == {"tmdb", "omdb", "tvdb"} for c in candidates)


# -- failures and rate limits -------------------------------------------------------------------


def test_automated_429_marks_the_provider_and_keeps_the_others(world: FakeWorld) -> None:
    world.fail_next("tvdb", 429, {"Retry-After": "30"})
    result = run_engine(lambda e: e.lookup(Ids(tvdb=169)))
    assert result.outcome.status == "rate_limited"
    assert result.reports["tvdb"].retry_after == 30
    assert world.served and sum(1 for r in world.served if r.startswith("tvdb")) == 1  # no retry

    world.fail_next("omdb", 429, {"Retry-After": "30"})
    result = run_engine(lambda e: e.lookup(Ids(tmdb=603)))
    assert result.outcome.status == "identified"
    assert result.outcome.providers["omdb"] == "rate_limited"
    assert result.outcome.movie.provenance["title"] == "tmdb"
    assert any("omdb is missing" in r for r in result.outcome.reasons)


def test_interactive_429_is_retried_with_backoff(world: FakeWorld) -> None:
    world.fail_next("omdb", 429, {"Retry-After": "0"})
    result = run_engine(lambda e: e.lookup(Ids(imdb="tt0133093"), interactive=True))
    assert result.outcome.status == "identified"
    assert result.outcome.providers["omdb"] == "ok"


def test_server_errors_leave_other_providers_working(world: FakeWorld) -> None:
    for _ in range(3):
        world.fail_next("fanart", 503)
    outcome = run_engine(lambda e: e.lookup(Ids(tmdb=603))).outcome
    assert outcome.status == "identified"
    assert outcome.providers["fanart"] == "error"
    assert "fanart" not in {i.provider for i in outcome.movie.images}


def test_tmdb_disabled_blocks_automation_but_not_people(world: FakeWorld) -> None:
    outcome = run_engine(lambda e: e.lookup(Ids(imdb="tt0133093")), disabled=("tmdb",)).outcome
    assert outcome.status == "blocked"
    assert world.total == 0
    outcome = run_engine(
        lambda e: e.lookup(Ids(imdb="tt0133093"), interactive=True), disabled=("tmdb",)
    ).outcome
    assert outcome.status == "identified"
    assert outcome.providers["tmdb"] == "disabled"
    assert any("TMDB is not available" in r for r in outcome.reasons)


def test_tmdb_policy_warn_lets_automation_proceed(world: FakeWorld) -> None:
    outcome = run_engine(
        lambda e: e.lookup(Ids(imdb="tt0133093")), disabled=("tmdb",), tmdb_policy="warn"
    ).outcome
    assert outcome.status == "identified"


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("Rocky II", "Rocky 2", True),
        ("Star Wars: Episode IV - A New Hope", "Star Wars Episode 4 A New Hope", True),
        ("Matrix, The", "The Matrix", True),
        ("Amélie", "Amelie", True),
        ("Fast & Furious", "Fast and Furious", True),
        ("M", "1000", False),  # a single letter is not a numeral
        ("Mix", "1009", False),
        ("Heat", "Heat Wave", False),
    ],
)
def test_title_normalisation_examples(a: str, b: str, same: bool) -> None:
    from metarr.matching import normalize_title

    assert (normalize_title(a) == normalize_title(b)) is same
