"""Manual identification through the library: candidates with details, a search that says when
it could not search, a chosen candidate reusing what the search fetched, the queue keeping the
details and a person's "none of these"."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from click.testing import CliRunner, Result
from metarr import gate
from metarr.cache import QueuedIdentification
from metarr.candidates import first_sentence
from metarr.cli import main
from metarr.config import load_settings
from metarr.convert import from_json, to_json
from metarr.models import Candidate, SearchResult
from metarr.orchestrator import Orchestrator
from metarr.query import Query
from metarr_sim import Knobs, SimServer, World

T = TypeVar("T")
WOTW = ("War of the Worlds", 2005)
WOTW_ARGS = ("War of the Worlds", "--year", "2005")
SPIELBERG = 74  # the simulator's tmdb id of Spielberg's film; 34812 is the other one
WOTW_KEY = Query(title=WOTW[0], year=WOTW[1]).input_key
LOOKED_UP = ("tmdb", "omdb", "tvdb")  # the providers that rank a detail field


@pytest.fixture(scope="module")
def world(sim_world: World) -> World:
    """The session's world (loaded once: ≈0.6 s of CPU a load)."""
    return sim_world


def use(sim: SimServer, db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in sim.settings_env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("METARR_DB", str(db))


def with_orc(work: Callable[[Orchestrator], Awaitable[T]]) -> T:
    async def go() -> T:
        async with Orchestrator(load_settings()) as orc:
            return await work(orc)

    return asyncio.run(go())


def sent(sim: SimServer) -> dict[str, int]:
    """Data requests received, per provider (TheTVDB's login is no data request)."""
    totals = {
        name: sum(n for endpoint, n in counts.items() if "login" not in endpoint)
        for name, counts in sim.counts().items()
    }
    return {name: n for name, n in totals.items() if n}


@pytest.fixture
def sim(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SimServer]:
    with SimServer(world) as server:
        use(server, tmp_path / "cache.sqlite", monkeypatch)
        yield server


def test_a_persons_search_tells_the_two_films_apart(sim: SimServer) -> None:
    result = with_orc(lambda orc: orc.search(*WOTW))
    assert result.status == "ok" and result.searched
    assert result.providers == {"omdb": "ok", "tmdb": "ok", "tvdb": "ok"}
    assert len(result.candidates) == 2
    first, second = result.candidates
    assert {first.ids.tmdb, second.ids.tmdb} == {SPIELBERG, 34812}
    for candidate in result.candidates:
        assert candidate.detailed
        assert candidate.runtime and candidate.directors and len(candidate.cast) == 3
        assert candidate.imdb_rating is not None and candidate.imdb_votes
        assert candidate.release_date is not None and candidate.outline
        assert candidate.popularity is not None and candidate.poster
        assert candidate.matches and candidate.notes
    # what tells them apart
    assert first.directors != second.directors and first.cast != second.cast
    assert first.runtime != second.runtime or first.release_date != second.release_date
    # the search (3) and, per candidate, TMDB by id, OMDb and TVDB by the ids it gave: 3 each
    assert result.requests == {"tmdb": 3, "omdb": 3, "tvdb": 3}
    assert sent(sim) == result.requests


def test_details_for_at_most_the_first_few_fetched_concurrently(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Concurrency is read from the provider gates (the requests each let out at once), not
    # from the wall time, which a busy machine stretches: one candidate after the other keeps
    # one TMDB request in flight, concurrently three.
    peak: dict[str, int] = {}
    release = gate.ProviderGate.release

    async def counting_release(self: gate.ProviderGate, **kwargs: Any) -> None:
        peak[self.name] = max(peak.get(self.name, 0), self.in_flight)
        await release(self, **kwargs)

    monkeypatch.setattr(gate.ProviderGate, "release", counting_release)
    with SimServer(world, knobs={"*": Knobs(latency=0.1)}) as sim:
        use(sim, tmp_path / "c.sqlite", monkeypatch)
        result = with_orc(lambda orc: orc.search("War of the", details=3))
    assert len(result.candidates) > 3
    assert [c.detailed for c in result.candidates[:3]] == [True] * 3
    assert not any(c.detailed for c in result.candidates[3:])
    assert peak["tmdb"] == 3, peak  # the three candidates' TMDB lookups at once


def test_without_details_a_search_costs_one_request_per_search_provider(sim: SimServer) -> None:
    result = with_orc(lambda orc: orc.search(*WOTW, details=0))
    assert result.requests == {"tmdb": 1, "omdb": 1, "tvdb": 1}
    # still, the search answers tell them apart a little: dates, directors (TVDB), outline
    for candidate in result.candidates:
        assert not candidate.detailed
        assert candidate.release_date and candidate.directors and candidate.outline
        assert candidate.popularity is not None
    assert result.candidates[0].release_date != result.candidates[1].release_date


def test_choosing_a_detailed_candidate_asks_only_the_providers_that_did_not_answer(
    sim: SimServer,
) -> None:
    async def work(orc: Orchestrator) -> tuple[SearchResult, dict[str, int], str]:
        result = await orc.search(*WOTW)
        before = sent(sim)
        chosen = next(c for c in result.candidates if c.ids.tmdb == SPIELBERG)
        outcome = await orc.choose(WOTW_KEY, chosen, search=result)
        after = sent(sim)
        return result, {k: after.get(k, 0) - before.get(k, 0) for k in after}, outcome.status

    _, during, status = with_orc(work)
    assert status == "identified"
    assert {k: n for k, n in during.items() if n} == {"fanart": 1}  # the only one not asked yet
    identity = with_orc(lambda orc: _identity(orc, WOTW_KEY))
    assert identity == ("person", SPIELBERG)


async def _identity(orc: Orchestrator, key: str) -> tuple[str, int | None] | None:
    identity = await orc.identity(key)
    return None if identity is None else (identity.by, identity.ids.tmdb)


def test_choosing_without_the_search_costs_a_full_lookup(sim: SimServer) -> None:
    async def work(orc: Orchestrator) -> dict[str, int]:
        result = await orc.search(*WOTW)
        before = sent(sim)
        await orc.choose(WOTW_KEY, result.candidates[0])
        after = sent(sim)
        return {k: after[k] - before.get(k, 0) for k in after if after[k] - before.get(k, 0)}

    assert set(with_orc(work)) == {"tmdb", "omdb", "tvdb", "fanart"}


def test_every_provider_failing_is_not_no_such_film(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SimServer(world, knobs={"*": Knobs(fault_rate=1.0, faults=("500",))}) as sim:
        use(sim, tmp_path / "c.sqlite", monkeypatch)
        failed = with_orc(lambda orc: orc.search(*WOTW))
    assert failed.status == "error" and not failed.searched and failed.candidates == ()
    assert set(failed.providers.values()) == {"error"}
    assert any("no search provider answered" in r for r in failed.reasons)
    with SimServer(world) as sim:
        use(sim, tmp_path / "c.sqlite", monkeypatch)
        nothing = with_orc(lambda orc: orc.search("Zzyzx Qwertyuiop Nonesuch"))
    assert nothing.status == "ok" and nothing.searched and nothing.candidates == ()
    assert set(nothing.providers.values()) == {"not_found"}


def test_automated_decisions_keep_their_budget_and_queue_the_details(sim: SimServer) -> None:
    identification = with_orc(lambda orc: orc.run(Query(title=WOTW[0], year=WOTW[1])))
    assert identification.outcome.status == "ambiguous"
    assert identification.requests_by_provider == {"tmdb": 1, "omdb": 1, "tvdb": 1}
    before = sim.total()
    [item] = with_orc(_queue)
    assert sim.total() == before  # reading the queue sends nothing
    assert item.key == WOTW_KEY and item.reviewed_at is None
    for candidate in item.candidates:
        assert candidate.release_date and candidate.directors and candidate.outline
        assert candidate.popularity is not None and not candidate.detailed
    assert item.candidates == identification.outcome.candidates


async def _queue(orc: Orchestrator) -> list[QueuedIdentification]:
    return await orc.queue()


def test_none_of_these_keeps_the_input_queued_and_marks_it_reviewed(sim: SimServer) -> None:
    query = Query(title=WOTW[0], year=WOTW[1])
    with_orc(lambda orc: orc.identify(query))  # queued: ambiguous

    async def work(orc: Orchestrator) -> QueuedIdentification:
        return await orc.none_of_these(query)

    item = with_orc(work)
    assert item.status == "ambiguous" and item.reviewed_at is not None
    before = sim.total()
    again = with_orc(lambda orc: orc.identify(query))
    assert again.status == "ambiguous" and sim.total() == before  # not searched again
    [kept] = with_orc(_queue)
    assert kept.reviewed_at == item.reviewed_at


def test_none_of_these_queues_a_search_that_was_not_queued(sim: SimServer) -> None:
    query = Query(title="War of the Worlds", year=1953)

    async def work(orc: Orchestrator) -> QueuedIdentification:
        result = await orc.search("War of the Worlds", 1953, details=0)
        return await orc.none_of_these(query, search=result)

    item = with_orc(work)
    assert item.status == "not_found"
    assert item.reviewed_at is not None and item.candidates
    assert "a person found none of these" in item.reasons[0]


def test_search_result_json_has_the_details_and_never_the_responses(sim: SimServer) -> None:
    result = with_orc(lambda orc: orc.search(*WOTW))
    assert len(result.responses) >= 9
    data = to_json(result)
    assert set(data) == {
        "query",
        "year",
        "status",
        "candidates",
        "providers",
        "reasons",
        "requests",
    }
    assert sim.keys.tmdb_api_key not in repr(result) and "responses" not in repr(result)
    assert data["candidates"][0]["directors"] and data["candidates"][0]["imdb_votes"]
    again = from_json(SearchResult, data)
    assert again.candidates == result.candidates and len(again.responses) == 0


def test_candidate_details_are_sanitised() -> None:
    candidate = Candidate(
        title="X",
        ids=from_json(Candidate, {"title": "X", "ids": {"tmdb": 1}, "providers": []}).ids,
        providers=(),
        cast=["A\u202e", "B", "C", "D", "\x00"],
        outline="one\nline " * 100,
        imdb_rating=11,
        imdb_votes=-5,
        runtime=99999,
        release_date="2005-13-45",
    )
    assert candidate.cast == ("A", "B", "C")
    assert candidate.outline is not None and "\n" not in candidate.outline
    assert len(candidate.outline) <= 300 and candidate.outline.endswith("…")
    assert (candidate.imdb_rating, candidate.imdb_votes, candidate.runtime) == (None, None, None)
    assert candidate.release_date is None


def test_first_sentence() -> None:
    assert first_sentence("A father fights for his family. Then more.") == (
        "A father fights for his family."
    )
    assert first_sentence("Dr. No meets Mr. Bond in the U.S. and then some. More.") == (
        "Dr. No meets Mr. Bond in the U.S. and then some."
    )
    assert first_sentence(None) is None


def test_old_search_answers_are_not_reused(sim: SimServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from metarr import http

    monkeypatch.setattr(http, "REUSE_SECONDS", 0.0)

    async def work(orc: Orchestrator) -> set[str]:
        result = await orc.search(*WOTW)
        before = sent(sim)
        await orc.choose(WOTW_KEY, result.candidates[0], search=result)
        after = sent(sim)
        return {k for k in after if after[k] > before.get(k, 0)}

    assert with_orc(work) == {"tmdb", "omdb", "tvdb", "fanart"}


def cli(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_cli_search_exits_5_when_no_provider_could_search(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with SimServer(world, knobs={"*": Knobs(fault_rate=1.0, faults=("500",))}) as sim:
        use(sim, tmp_path / "c.sqlite", monkeypatch)
        shown = cli("search", *WOTW_ARGS)
        as_json = cli("search", *WOTW_ARGS, "--json")
    assert shown.exit_code == 5, shown.output
    assert "could not search for War of the Worlds (2005)" in shown.stdout
    assert "no search provider answered" in shown.stdout
    assert as_json.exit_code == 5
    data = json.loads(as_json.stdout)
    assert data["status"] == "error" and data["candidates"] == []
    assert set(data["providers"].values()) == {"error"}


def test_cli_search_without_a_searching_provider_is_a_usage_error(sim: SimServer) -> None:
    result = cli("--without", "tmdb,omdb,tvdb", "search", *WOTW_ARGS)
    assert result.exit_code == 2
    assert "no enabled provider can search titles" in result.stderr


def test_cli_queue_shows_the_details_without_a_request(sim: SimServer) -> None:
    assert cli("identify", *WOTW_ARGS).exit_code == 3
    before = sim.total()
    shown = cli("queue")
    data = json.loads(cli("queue", "--json").stdout)
    assert sim.total() == before
    [item] = data
    assert item["key"] == WOTW_KEY and item["reviewed_at"] is None
    assert all(c["directors"] and c["release_date"] for c in item["candidates"])
    for candidate in item["candidates"]:
        assert f"dir. {candidate['directors'][0]}" in shown.stdout
    assert "metarr queue review" in shown.stdout
