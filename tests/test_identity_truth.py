"""Identification truth (issue 11): inputs that contradict themselves, keys, provider failures
over a run, the TMDB backbone under rate limits, and inputs no provider can answer.

The fake provider world of `fake_providers` over pytest-httpx; every test here failed on
857174d (before these fixes).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from fake_providers import (
    HEAT,
    MATRIX,
    THE_HEAT,
    TVDB_ONLY,
    FakeWorld,
    fake_registry,
    fake_settings,
)
from metarr import Ids
from metarr.cache import Cache
from metarr.cache.database import open_database
from metarr.cache.schema import migrate
from metarr.engine import Engine, Identification
from metarr.http import new_client
from metarr.orchestrator import Orchestrator
from metarr.query import Query, derived_key

pytestmark = pytest.mark.usefixtures("quick_retries")  # `world` comes from conftest.py


def run(
    db: Path,
    action: Callable[[Orchestrator], Coroutine[Any, Any, Any]],
    **settings: Any,
) -> Any:
    """``action`` with one orchestrator over the fake providers (one run)."""

    async def main() -> Any:
        async with new_client() as client:
            cfg = fake_settings(db=db, **settings)
            cache = Cache(db)
            orc = Orchestrator.from_parts(
                registry=fake_registry(client, cfg), cache=cache, settings=cfg
            )
            try:
                return await action(orc)
            finally:
                await orc.aclose()

    return asyncio.run(main())


def identify(db: Path, *queries: Query, interactive: bool = False, **settings: Any) -> list[Any]:
    async def action(orc: Orchestrator) -> list[Identification]:
        return [await orc.run(q, interactive=interactive) for q in queries]

    return [i.outcome for i in run(db, action, **settings)]


def engine_lookup(ids: Ids, **kw: Any) -> Identification:
    async def main() -> Identification:
        async with new_client() as client:
            engine = Engine(fake_registry(client, fake_settings()))
            return await engine.lookup(ids, **kw)

    return asyncio.run(main())


def cached_count(db: Path) -> int:
    with Cache(db) as cache:
        return sum(1 for _ in cache.iter_movies())


# -- item 2: inputs that contradict each other -----------------------------------------------


def test_ids_naming_different_movies_are_a_conflict_naming_both(world: FakeWorld) -> None:
    # Heat's TMDB id with The Matrix's IMDb id: no answer may drop either.
    outcome = engine_lookup(Ids(tmdb=HEAT.tmdb, imdb=MATRIX.imdb)).outcome
    assert outcome.status == "conflict", outcome.reasons
    assert outcome.movie is None
    said = " ".join(outcome.reasons)
    assert "'Heat'" in said and "'The Matrix'" in said
    assert "the ids given name different movies" in said
    assert world.duplicates() == []


def test_ids_that_no_provider_cross_references_are_still_checked(world: FakeWorld) -> None:
    # TVDB's record states no IMDb or TMDB id, so no id dispute can arise: the titles decide.
    world.films.append(TVDB_ONLY)
    outcome = engine_lookup(Ids(tvdb=TVDB_ONLY.tvdb, imdb=MATRIX.imdb)).outcome
    assert outcome.status == "conflict", outcome.reasons
    said = " ".join(outcome.reasons)
    assert TVDB_ONLY.title in said and "The Matrix" in said


def test_a_given_id_its_authority_does_not_know_is_a_conflict(world: FakeWorld) -> None:
    outcome = engine_lookup(Ids(tmdb=MATRIX.tmdb, tvdb=99999)).outcome
    assert outcome.status == "conflict", outcome.reasons
    assert any("tvdb 99999 is no movie tvdb" in r and "The Matrix" in r for r in outcome.reasons)


def test_ids_of_one_movie_given_together_are_identified(world: FakeWorld) -> None:
    result = engine_lookup(Ids(tmdb=MATRIX.tmdb, imdb=MATRIX.imdb, tvdb=MATRIX.tvdb))
    assert result.outcome.status == "identified", result.outcome.reasons
    movie = result.outcome.movie
    assert movie is not None and movie.ids == Ids(tmdb=603, imdb="tt0133093", tvdb=169)
    assert result.requests == 4  # one lookup per provider, nothing asked twice


@pytest.mark.parametrize(
    ("title", "year", "status"),
    [
        ("Heat", 1995, "conflict"),  # a stale NFO: the ids are The Matrix
        ("The Matrix", 1995, "conflict"),  # the right name, four years off
        ("Matrix, The", 2000, "identified"),  # normalized title, a year off
        ("The Matrix", None, "identified"),
    ],
)
def test_a_title_given_with_ids_must_fit_the_movie(
    world: FakeWorld, tmp_path: Path, title: str, year: int | None, status: str
) -> None:
    [outcome] = identify(tmp_path / "m.sqlite", Query(ids=Ids(tmdb=603), title=title, year=year))
    assert outcome.status == status, outcome.reasons
    if status == "conflict":
        assert any(
            "does not fit the name given" in r and "The Matrix" in r for r in outcome.reasons
        )
        assert cached_count(tmp_path / "m.sqlite") == 0


def test_a_title_given_with_ids_fits_an_alternative_title(world: FakeWorld, tmp_path: Path) -> None:
    from fake_providers import POSTMAN

    query = Query(ids=Ids(tmdb=POSTMAN.tmdb), title="The Postman", year=1994)
    [outcome] = identify(tmp_path / "m.sqlite", query)
    assert outcome.status == "identified", outcome.reasons


def test_cached_movies_answer_only_inputs_they_fit(world: FakeWorld, tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite"
    identify(db, Query(ids=Ids(tmdb=HEAT.tmdb)), Query(ids=Ids(tmdb=MATRIX.tmdb)))
    assert cached_count(db) == 2
    # Both are cached: the contradiction must not be answered with either of them.
    mixed, misnamed, fitting = identify(
        db,
        Query(ids=Ids(tmdb=HEAT.tmdb, imdb=MATRIX.imdb)),
        Query(ids=Ids(tmdb=MATRIX.tmdb), title="Heat", year=1995),
        Query(ids=Ids(tmdb=MATRIX.tmdb), title="The Matrix", year=1999),
    )
    assert mixed.status == "conflict", mixed.reasons
    assert misnamed.status == "conflict", misnamed.reasons
    assert fitting.status == "identified" and fitting.movie.ids.tmdb == MATRIX.tmdb
    assert cached_count(db) == 2
    with Cache(db) as cache:
        assert sorted(q.status for q in cache.identification_queue()) == ["conflict", "conflict"]


def test_a_conflict_between_given_ids_is_queued_and_not_searched_again(
    world: FakeWorld, tmp_path: Path
) -> None:
    db = tmp_path / "m.sqlite"
    query = Query(ids=Ids(tmdb=HEAT.tmdb, imdb=MATRIX.imdb))
    [first] = identify(db, query)
    served = world.total
    [again] = identify(db, query)
    assert first.status == again.status == "conflict"
    assert world.total == served  # the queued outcome, with no request


# -- item 3: keys ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (Query(title="The Heat"), Query(title="Heat")),
        (Query(title="Heat", year=1995), Query(title="heat", year=1995)),
        (Query(title="Heat (1995)"), Query(title="Heat", year=1995)),
        (Query(ids=Ids(tmdb=949)), Query(ids=Ids(tmdb=949, imdb="tt0133093"))),
        (Query(ids=Ids(tmdb=949)), Query(ids=Ids(tmdb=949), title="Heat")),
        (Query(title="Rocky II"), Query(title="Rocky 2")),
    ],
)
def test_derived_keys_differ_for_different_inputs(a: Query, b: Query) -> None:
    assert a.input_key != b.input_key
    assert not a.same_input(b)


def test_derived_keys_spell_the_input() -> None:
    assert Query(ids=Ids(tmdb=603)).input_key == "tmdb:603"
    assert Query(ids=Ids(imdb="tt0133093", tmdb=603)).input_key == "tmdb:603 imdb:tt0133093"
    assert Query(title="The Heat", year=2013).input_key == 'title:"The Heat" year:2013'
    assert Query(title='Say "Hi"').input_key == 'title:"Say \\"Hi\\""'
    assert Query(ids=Ids(tmdb=1), title="X", key="/movies/x").input_key == "/movies/x"
    same = Query(ids=Ids(tmdb=1), title="X", key="/movies/x")
    assert same.same_input(Query(ids=Ids(tmdb=1), title="X")) and same == same


def test_a_persons_choice_answers_only_the_same_input(world: FakeWorld, tmp_path: Path) -> None:
    world.films.append(THE_HEAT)
    db = tmp_path / "m.sqlite"
    key = Query(title="Heat").input_key
    assert identify(db, Query(title="Heat"))[0].status == "ambiguous"  # 1995 and 2013

    async def choose(orc: Orchestrator) -> Any:
        return await orc.confirm(key, Ids(tmdb=HEAT.tmdb))

    assert run(db, choose).movie.ids.tmdb == HEAT.tmdb
    served = world.total
    heat, the_heat = identify(db, Query(title="Heat"), Query(title="The Heat"))
    assert heat.status == "identified" and heat.movie.ids.tmdb == HEAT.tmdb
    assert served < world.total  # "The Heat" was searched, not answered from "Heat"'s identity
    assert the_heat.status == "ambiguous"
    assert not (the_heat.movie and the_heat.movie.ids.tmdb == HEAT.tmdb)


def test_a_queued_outcome_answers_only_the_same_input(world: FakeWorld, tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite"
    [queued] = identify(db, Query(title="Aladdin", year=1992, key="/films/aladdin"))
    assert queued.status == "ambiguous"
    served = world.total
    # The same caller key now carries another input (the folder's NFO was fixed): it is
    # identified, not answered with the old queue entry.
    [fixed] = identify(db, Query(ids=Ids(tmdb=812), key="/films/aladdin"))
    assert fixed.status == "identified", fixed.reasons
    assert world.total > served


def test_old_derived_keys_are_migrated(tmp_path: Path) -> None:
    """Rows keyed the pre-4 way (first id, loose title) get the key of their stored input."""
    db = tmp_path / "old.sqlite"
    conn = open_database(db)
    migrate(conn, upto=3)
    title_input = {"title": "Heat", "year": 1995}
    mixed_input = {"tmdb_id": 949, "imdb_id": "tt0113277"}
    conn.execute(
        "INSERT INTO provider_cache_movies (tmdb_id, imdb_id, title, year, movie, provenance, "
        "identified_at, refreshed_at, input_key, input) VALUES (949, 'tt0113277', 'Heat', "
        "1995, '{}', '{}', '2026-01-01T00:00:00+00:00', '2026-01-01T00:00:00+00:00', ?, ?)",
        ["title:heat (1995)", json.dumps(title_input)],
    )
    for key, by in [("title:heat (1995)", "person"), ("title:lost (2001)", "person")]:
        conn.execute(
            "INSERT INTO identities (key, tmdb_id, by, at) VALUES (?, 949, ?, ?)",
            [key, by, "2026-01-01T00:00:00+00:00"],
        )
    for key, data in [
        ("title:aladdin (1992)", {"title": "Aladdin", "year": 1992}),
        ("tmdb:949", mixed_input),
        ("tmdb:603", {"tmdb_id": 603}),
        ("/films/x", {"title": "X", "key": "/films/x"}),
    ]:
        conn.execute(
            "INSERT INTO identification_queue VALUES (?, ?, 'ambiguous', '[]', '[]', ?, ?)",
            [key, json.dumps(data), "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00"],
        )
        conn.execute(
            "INSERT INTO retry_queue VALUES (?, ?, 'tmdb', ?, 'x', ?)",
            [key, json.dumps(data), "2026-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00"],
        )
    conn.close()
    with Cache(db) as cache:
        heat = derived_key(Ids(), "Heat", 1995)
        identity = cache.identity(heat)
        assert identity is not None and identity.by == "person"
        assert cache.identity("title:heat (1995)") is None
        assert cache.identity("title:lost (2001)") is not None  # no input known: left as is
        expected = sorted(
            [
                derived_key(Ids(), "Aladdin", 1992),
                derived_key(Ids(tmdb=949, imdb="tt0113277")),
                "tmdb:603",
                "/films/x",
            ]
        )
        assert sorted(q.key for q in cache.identification_queue()) == expected
        for key in expected:
            assert cache.pending_retry(key) is not None
        migrated = cache.get("tmdb", 949)
        assert migrated is not None and migrated.key == heat


# -- item 9: a provider failing on every row ---------------------------------------------------


def test_rejected_credentials_take_a_provider_out_for_the_run(
    world: FakeWorld, tmp_path: Path
) -> None:
    world.fail_next("omdb", 401)
    queries = [Query(ids=Ids(tmdb=f.tmdb)) for f in (MATRIX, HEAT, MATRIX)]

    async def action(orc: Orchestrator) -> Any:
        outcomes = [(await orc.run(q)).outcome for q in queries[:2]]
        return outcomes, orc.provider_failures()

    outcomes, failures = run(tmp_path / "m.sqlite", action)
    omdb = [r for r in world.served if r.startswith("omdb")]
    assert sum(world.served[r] for r in omdb) == 1  # the rejected key is not sent again
    assert [o.status for o in outcomes] == ["identified", "identified"]
    assert [o.providers["omdb"] for o in outcomes] == ["error", "error"]
    assert any("not asked again in this run" in r for r in outcomes[1].reasons)
    assert failures["omdb"].out_for_run and failures["omdb"].failed == 2
    with Cache(tmp_path / "m.sqlite") as cache:  # an error part: a refresh fills it in later
        heat = cache.get("tmdb", 949)
        assert heat is not None and heat.parts["omdb"].status == "error"


def test_tmdb_rejected_mid_run_blocks_the_rest_of_an_automated_run(
    world: FakeWorld, tmp_path: Path
) -> None:
    db = tmp_path / "m.sqlite"

    async def action(orc: Orchestrator) -> Any:
        done = [(await orc.run(Query(ids=Ids(tmdb=MATRIX.tmdb)))).outcome]
        world.fail_next("tmdb", 401)
        for query in (Query(ids=Ids(tmdb=HEAT.tmdb)), Query(title="Titanic", year=1997)):
            done.append((await orc.run(query)).outcome)
        return done, orc.provider_failures()

    outcomes, failures = run(db, action)
    assert [o.status for o in outcomes] == ["identified", "blocked", "blocked"]
    assert "TMDB" in outcomes[1].reasons[0] and "tmdb_policy" in outcomes[1].reasons[0]
    tmdb = sum(n for r, n in world.served.items() if r.startswith("tmdb"))
    assert tmdb == 2  # one good lookup, one rejected; nothing after
    assert failures["tmdb"].out_for_run
    assert cached_count(db) == 1
    with Cache(db) as cache:
        assert cache.identification_queue() == []


def test_provider_failures_name_a_provider_failing_on_every_row(
    world: FakeWorld, tmp_path: Path
) -> None:
    for _ in range(12):
        world.fail_next("omdb", 500)

    async def action(orc: Orchestrator) -> Any:
        for film in (MATRIX, HEAT):
            await orc.run(Query(ids=Ids(tmdb=film.tmdb)))
        return orc.provider_failures()

    failures = run(tmp_path / "m.sqlite", action)
    assert set(failures) == {"omdb"}
    omdb = failures["omdb"]
    assert (omdb.asked, omdb.failed, omdb.rate_limited, omdb.out_for_run) == (2, 2, 0, False)
    assert omdb.throughout and "HTTP 500" in (omdb.detail or "")


def test_a_404_that_is_not_the_apis_answer_is_stored_as_an_error(
    world: FakeWorld, tmp_path: Path
) -> None:
    world.fail_next("fanart", 404)  # {"error": "injected"}: not the fake API's not-found body
    db = tmp_path / "m.sqlite"
    [outcome] = identify(db, Query(ids=Ids(tmdb=MATRIX.tmdb)))
    assert outcome.status == "identified"
    assert outcome.providers["fanart"] == "error"
    assert any("check base_url" in r and "METARR_FANART_BASE_URL" in r for r in outcome.reasons)
    with Cache(db) as cache:
        matrix = cache.get("tmdb", 603)
        assert matrix is not None and matrix.parts["fanart"].status == "error"
        assert [m.ids.tmdb for m in cache.incomplete()] == [603]  # refresh --incomplete: yes


# -- item 10: TMDB rate limited in automated runs ----------------------------------------------


def test_automated_lookup_whose_tmdb_part_is_rate_limited_is_retried_later(
    world: FakeWorld, tmp_path: Path
) -> None:
    world.fail_next("tmdb", 429, {"Retry-After": "120"})
    db = tmp_path / "m.sqlite"
    [outcome] = identify(db, Query(ids=Ids(tmdb=MATRIX.tmdb)))
    assert outcome.status == "rate_limited", outcome.reasons
    assert outcome.movie is None
    assert any("TMDB, the cross-reference backbone" in r for r in outcome.reasons)
    assert cached_count(db) == 0
    with Cache(db) as cache:
        retry = cache.pending_retry("tmdb:603")
        assert retry is not None and retry.provider == "tmdb"
        assert cache.identification_queue() == []


def test_automated_title_decision_waits_for_tmdbs_search(world: FakeWorld, tmp_path: Path) -> None:
    world.fail_next("tmdb", 429, {"Retry-After": "120"})
    db = tmp_path / "m.sqlite"
    [outcome] = identify(db, Query(title="Heat", year=1995))
    assert outcome.status == "rate_limited", outcome.reasons
    assert cached_count(db) == 0
    with Cache(db) as cache:
        assert cache.pending_retry(Query(title="Heat", year=1995).input_key) is not None


def test_while_tmdb_is_paused_no_request_goes_anywhere(world: FakeWorld, tmp_path: Path) -> None:
    world.fail_next("tmdb", 429, {"Retry-After": "120"})

    async def action(orc: Orchestrator) -> Any:
        first = (await orc.run(Query(ids=Ids(tmdb=MATRIX.tmdb)))).outcome
        served = world.total
        later = [(await orc.run(Query(ids=Ids(tmdb=f.tmdb)))).outcome for f in (HEAT, MATRIX)]
        return first, later, world.total - served

    first, later, sent = run(tmp_path / "m.sqlite", action)
    assert first.status == "rate_limited"
    assert [o.status for o in later] == ["rate_limited", "rate_limited"]
    assert sent == 0


def test_a_fill_in_without_tmdb_goes_ahead_while_tmdb_is_paused(
    world: FakeWorld, tmp_path: Path
) -> None:
    for _ in range(3):
        world.fail_next("omdb", 503)
    db = tmp_path / "m.sqlite"

    async def action(orc: Orchestrator) -> Any:
        await orc.run(Query(ids=Ids(tmdb=MATRIX.tmdb)))  # committed without OMDb
        world.fail_next("tmdb", 429, {"Retry-After": "120"})
        paused = (await orc.run(Query(ids=Ids(tmdb=HEAT.tmdb)))).outcome
        return paused, await orc.refresh_stale(incomplete_only=True)

    paused, [filled] = run(db, action)
    assert paused.status == "rate_limited"
    assert filled.status == "identified" and filled.providers["omdb"] == "ok", filled.reasons
    with Cache(db) as cache:
        assert cache.incomplete() == []


def test_a_short_tmdb_pause_is_waited_out(world: FakeWorld, tmp_path: Path) -> None:
    world.fail_next("tmdb", 429, {"Retry-After": "1"})
    [outcome] = identify(tmp_path / "m.sqlite", Query(ids=Ids(tmdb=MATRIX.tmdb)))
    assert outcome.status == "identified", outcome.reasons
    assert outcome.providers["tmdb"] == "ok"


def test_other_providers_rate_limited_still_commit(world: FakeWorld, tmp_path: Path) -> None:
    world.fail_next("omdb", 429, {"Retry-After": "120"})
    [outcome] = identify(tmp_path / "m.sqlite", Query(ids=Ids(tmdb=MATRIX.tmdb)))
    assert outcome.status == "identified"
    assert outcome.providers["omdb"] == "rate_limited"


def test_people_are_not_held_to_the_backbone_rule(world: FakeWorld, tmp_path: Path) -> None:
    world.fail_next("tmdb", 429, {"Retry-After": "120"})
    world.fail_next("tmdb", 429, {"Retry-After": "120"})
    [outcome] = identify(tmp_path / "m.sqlite", Query(ids=Ids(imdb=MATRIX.imdb)), interactive=True)
    assert outcome.status == "identified", outcome.reasons
    assert outcome.providers["tmdb"] == "rate_limited"


# -- item 11: no provider could answer ---------------------------------------------------------


@pytest.mark.parametrize("interactive", [True, False])
def test_ids_no_enabled_provider_can_use_are_blocked_not_queued(
    world: FakeWorld, tmp_path: Path, interactive: bool
) -> None:
    db = tmp_path / "m.sqlite"
    [outcome] = identify(
        db,
        Query(ids=Ids(tmdb=603)),
        interactive=interactive,
        disabled=("tmdb", "fanart", "tvdb"),
        tmdb_policy="warn",
    )
    assert outcome.status == "blocked", outcome.reasons
    said = " ".join(outcome.reasons)
    assert "tmdb:603" in said and "tmdb" in said and "fanart" in said and "omdb" in said
    assert world.total == 0
    with Cache(db) as cache:
        assert cache.identification_queue() == []
        assert cache.pending_retry("tmdb:603") is None


def test_no_provider_enabled_is_blocked(world: FakeWorld, tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite"
    outcomes = identify(
        db,
        Query(ids=Ids(imdb="tt0133093")),
        Query(title="Heat"),
        interactive=True,
        disabled=("tmdb", "omdb", "fanart", "tvdb"),
        tmdb_policy="warn",
    )
    assert [o.status for o in outcomes] == ["blocked", "blocked"]
    assert "search titles" in outcomes[1].reasons[-1]
    assert world.total == 0
    with Cache(db) as cache:
        assert cache.identification_queue() == []
