"""The simulated TMDB change feed (``/movie/changes``): window, paging, errors, marking."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from metarr_sim import SimServer, World
from metarr_sim.changes import ChangeLog
from metarr_sim.pytest_fixtures import sim_world

__all__ = ["sim_world"]

NOW = datetime(2025, 3, 20, 12, 0, tzinfo=UTC)


def feed(sim: SimServer, **params: Any) -> httpx.Response:
    params.setdefault("api_key", sim.keys.tmdb_api_key)
    return httpx.get(sim.base_urls()["tmdb"] + "/movie/changes", params=params, timeout=10)


def test_feed_lists_movies_changed_in_the_window_newest_first(sim_world: World) -> None:
    changes = {
        550: [datetime(2025, 3, 10, 8, 0, tzinfo=UTC)],
        603: [datetime(2025, 3, 12, 23, 59, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC)],
        862: [datetime(2025, 3, 1, tzinfo=UTC)],
    }
    with SimServer(sim_world, changes=changes, clock=lambda: NOW) as sim:
        r = feed(sim, start_date="2025-03-10", end_date="2025-03-12")
        assert r.status_code == 200
        assert r.json() == {
            "results": [{"id": 603, "adult": False}, {"id": 550, "adult": False}],
            "page": 1,
            "total_pages": 1,
            "total_results": 2,
        }
        # end_date is a whole day, included; the day after it is not
        assert [m["id"] for m in feed(sim, start_date="2025-03-13").json()["results"]] == []
        assert [m["id"] for m in feed(sim, start_date="2025-02-01", end_date="2025-02-14")
                .json()["results"]] == [603]  # fmt: skip
        assert sim.counts()["tmdb"] == {"/movie/changes": 3}


def test_default_window_is_the_last_24_hours_and_marks_count_at_once(sim_world: World) -> None:
    with SimServer(sim_world, clock=lambda: NOW) as sim:
        sim.mark_changed(550, at=NOW - timedelta(hours=23))
        sim.mark_changed(603, at=NOW - timedelta(hours=25))
        assert feed(sim).json()["results"] == [{"id": 550, "adult": False}]
        sim.mark_changed(862, 13, at=NOW - timedelta(minutes=1))
        assert [m["id"] for m in feed(sim).json()["results"]] == [13, 862, 550]


def test_feed_pages_by_100(sim_world: World) -> None:
    ids = [m.tmdb_id for m in sim_world.movies if m.tmdb_id is not None][:250]
    at = NOW - timedelta(hours=1)
    with SimServer(sim_world, changes={i: [at] for i in ids}, clock=lambda: NOW) as sim:
        pages = [feed(sim, page=p).json() for p in (1, 2, 3, 4)]
    assert [len(p["results"]) for p in pages] == [100, 100, 50, 0]
    assert {p["total_pages"] for p in pages} == {3}
    assert {p["total_results"] for p in pages} == {250}
    assert sorted(m["id"] for p in pages for m in p["results"]) == sorted(ids)


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"start_date": "2025-03-01", "end_date": "2025-03-15"}, 422, 20),  # 15 days
        ({"start_date": "2025-03-01"}, 422, 20),  # to now: 20 days
        ({"start_date": "20250301"}, 400, 23),
        ({"end_date": "2025-13-01"}, 400, 23),
        ({"page": "0"}, 400, 22),
        ({"page": "x"}, 400, 22),
        ({"api_key": "wrong"}, 401, 7),
    ],
)
def test_feed_errors_are_tmdbs(
    sim_world: World, params: dict[str, str], status: int, code: int
) -> None:
    with SimServer(sim_world, clock=lambda: NOW) as sim:
        r = feed(sim, **params)
    assert r.status_code == status
    assert r.json()["status_code"] == code


def test_a_14_day_window_is_allowed() -> None:
    log = ChangeLog({1: [datetime(2025, 3, 14, 23, 0, tzinfo=UTC)]}, clock=lambda: NOW)
    start = datetime(2025, 3, 1, tzinfo=UTC)
    assert log.between(start, start + timedelta(days=14)) == [1]
    assert log.between(start, start + timedelta(days=13)) == []
    log.clear()
    assert log.between(start, start + timedelta(days=14)) == []
