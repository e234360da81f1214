"""The adversarial provider: the real ``metarr`` command against the simulator behind a hostile
proxy (`reliability.proxy`) that re-points ids, serves merged records, answers wrong-shape 404s,
nests JSON without end and revokes keys mid-run.

What must hold: no answer contradicts its input or mixes two movies; a provider whose key is
revoked is asked once more, not once per row; a 404 that is not the API's own answer is an error
that a later ``refresh --incomplete`` fills in; TMDB rate limited in an automated run commits
nothing and sends nothing more; an input no enabled provider can answer exits 2 unqueued.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from metarr_sim import SimServer
from metarr_sim.world import World
from reliability.helpers import (
    check_db,
    cli_env,
    outcome_lines,
    run_cli,
    table_count,
    write_jsonl,
)
from reliability.proxy import WRONG_404, HostileProxy, nested, spellings

MATRIX = {"tmdb": 603, "imdb": "tt0133093"}
HEAT = {"tmdb": 949, "imdb": "tt0113277"}


@contextmanager
def hostile(world: World, tmp_path: Path) -> Iterator[tuple[HostileProxy, dict[str, str]]]:
    """A simulator behind a fresh proxy, and the CLI environment pointing at it."""
    with SimServer(world, seed=5) as sim, HostileProxy(sim) as proxy:
        env = cli_env({**proxy.settings_env(), "METARR_DB": str(tmp_path / "m.sqlite")})
        yield proxy, env


def metarr(env: Mapping[str, str], *args: str) -> tuple[int, Any, str]:
    """Run ``metarr ARGS`` (``--json`` when it has JSON output): exit code, JSON, stderr."""
    done = run_cli(list(args), env, timeout=120)
    out = done.stdout.decode()
    try:
        data = json.loads(out) if out.strip() else None
    except ValueError:
        data = out
    return done.returncode, data, done.stderr.decode()


def parts(db: Path, tmdb: int) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT p.provider, p.status FROM provider_parts p JOIN provider_cache_movies m "
            "ON m.id = p.movie_id WHERE m.tmdb_id = ?",
            [tmdb],
        )
        return dict(rows.fetchall())


# -- the proxy does what its docstring says ----------------------------------------------------


def test_the_proxy_lies_as_documented(world: World, tmp_path: Path) -> None:
    import httpx

    with hostile(world, tmp_path) as (proxy, env):
        base = env["METARR_TMDB_BASE_URL"]
        key = {"api_key": env["METARR_TMDB_API_KEY"]}
        proxy.serve_as("tmdb", {"/movie/949": "/movie/603"})
        proxy.repoint("tmdb", {"tt0133093": "tt0000001"})
        proxy.answer("tmdb", 404, when=lambda target: target.startswith("/movie/1"))
        proxy.echo_keys("tmdb")
        with httpx.Client() as client:
            merged = client.get(f"{base}/movie/949", params=key).json()
            assert merged["title"] == "The Matrix" and merged["imdb_id"] == "tt0000001"
            assert all(form in merged["echo"] for form in spellings(key["api_key"]))
            wrong = client.get(f"{base}/movie/1", params=key)
            assert (wrong.status_code, wrong.content) == (404, WRONG_404)
        assert proxy.counts()["tmdb"] == 2
        assert proxy.targets("tmdb") == ["/movie/949", "/movie/1"]  # no credentials


# -- item 2: inputs that contradict each other --------------------------------------------------


def test_ids_of_two_movies_are_a_conflict_naming_both(world: World, tmp_path: Path) -> None:
    with hostile(world, tmp_path) as (_, env):
        code, out, _ = metarr(env, "lookup", "--tmdb", "949", "--imdb", "tt0133093", "--json")
        assert code == 3, out
        assert out["status"] == "conflict"
        said = " ".join(out["reasons"])
        assert "'Heat' (1995)" in said and "'The Matrix' (1999)" in said
        # Both cached now: the cache must not answer the contradiction either.
        assert metarr(env, "lookup", "--tmdb", "949")[0] == 0
        assert metarr(env, "lookup", "--tmdb", "603")[0] == 0
        code, out, _ = metarr(env, "lookup", "--tmdb", "949", "--imdb", "tt0133093", "--json")
        assert (code, out["status"]) == (3, "conflict")


def test_a_batch_row_whose_name_does_not_fit_its_ids_is_a_conflict(
    world: World, tmp_path: Path
) -> None:
    rows = [
        {"tmdb_id": 603, "title": "Heat", "year": 1995},
        {"tmdb_id": 603, "title": "The Matrix", "year": 1999},
    ]
    batch = write_jsonl(tmp_path / "rows.jsonl", rows)
    with hostile(world, tmp_path) as (_, env):
        done = run_cli(["batch", str(batch), "--json", "--concurrency", "1"], env, timeout=120)
    assert done.returncode == 3, done.stderr
    lines = sorted(outcome_lines(done.stdout), key=lambda line: line["line"])
    assert [line["status"] for line in lines] == ["conflict", "identified"]
    assert any("does not fit the name given, 'Heat' (1995)" in r for r in lines[0]["reasons"])


def test_a_merged_record_is_never_committed(world: World, tmp_path: Path) -> None:
    # OMDb answers Heat's record when asked for The Matrix: one record for two movies.
    db = tmp_path / "m.sqlite"
    with hostile(world, tmp_path) as (proxy, env):
        proxy.serve_as("omdb", {"tt0133093": "tt0113277"})
        code, out, _ = metarr(env, "lookup", "--tmdb", "603", "--json")
    assert (code, out["status"]) == (3, "conflict"), out
    assert any("omdb" in r and "imdb" in r for r in out["reasons"])
    assert check_db(db) == []


def test_a_repointed_id_is_dropped_or_refused_never_mixed(world: World, tmp_path: Path) -> None:
    # TheTVDB's record of The Matrix now names Heat's IMDb id (a wrong cross-reference).
    db = tmp_path / "m.sqlite"
    with hostile(world, tmp_path) as (proxy, env):
        proxy.repoint("tvdb", {"tt0133093": "tt0113277"}, when=lambda t: "/movies/" in t)
        code, out, _ = metarr(env, "lookup", "--tvdb", "216822", "--json")
    assert code in (0, 3), out
    stored = check_db(db)
    if out["status"] == "identified":
        assert out["movie"]["title"] == "The Matrix"
        assert out["movie"]["ids"]["imdb"] == "tt0133093"
        [movie] = stored
        assert {r.title for r in movie.results.values()} <= {"The Matrix"}
    else:
        assert out["status"] == "conflict" and stored == []


# -- item 3: keys --------------------------------------------------------------------------------


def test_a_persons_choice_for_heat_does_not_answer_the_heat(world: World, tmp_path: Path) -> None:
    with hostile(world, tmp_path) as (proxy, env):
        code, out, _ = metarr(env, "identify", "Heat", "--json")
        assert (code, out["status"]) == (3, "ambiguous")
        assert metarr(env, "resolve", 'title:"Heat"', "--tmdb", "949")[0] == 0
        before = sum(proxy.counts().values())
        code, out, _ = metarr(env, "identify", "Heat", "--json")
        assert (code, out["movie"]["ids"]["tmdb"]) == (0, 949)
        assert sum(proxy.counts().values()) == before  # the person's choice, no request
        code, out, _ = metarr(env, "identify", "The Heat", "--json")
        assert sum(proxy.counts().values()) > before  # searched: not Heat's identity
        assert (out["status"], out["movie"]["ids"]["tmdb"]) == ("identified", 136795)  # 2013


# -- item 9: a provider failing on every row --------------------------------------------------


def test_a_key_revoked_mid_batch_is_sent_once_more_not_once_per_row(
    world: World, tmp_path: Path
) -> None:
    rows = [{"tmdb_id": m.tmdb_id} for m in world if m.tmdb_id and m.imdb_id][:6]
    batch = write_jsonl(tmp_path / "rows.jsonl", rows)
    db = tmp_path / "m.sqlite"
    with hostile(world, tmp_path) as (proxy, env):
        proxy.reject_key_after("omdb", 2)
        done = run_cli(["batch", str(batch), "--json", "--concurrency", "1"], env, timeout=120)
        omdb = proxy.counts()["omdb"]
    lines = outcome_lines(done.stdout)
    assert [line["status"] for line in lines] == ["identified"] * 6
    assert omdb == 3, f"{omdb} OMDb requests: the rejected key was sent again"
    statuses = [line["providers"]["omdb"] for line in sorted(lines, key=lambda x: x["line"])]
    assert statuses == ["ok", "ok", "error", "error", "error", "error"]
    stored = check_db(db)
    assert sorted(s.parts["omdb"]["status"] for s in stored) == ["error"] * 4 + ["ok"] * 2
    # the summary and the exit code say so: a provider out for the run is a provider failure
    assert done.returncode == 5, done.stderr
    assert b"failed    omdb in 4 rows (4 of 6)" in done.stderr
    assert b"out for the rest of the run" in done.stderr


def test_a_provider_failing_on_every_row_is_named_with_exit_5(world: World, tmp_path: Path) -> None:
    rows = [{"tmdb_id": m.tmdb_id} for m in world if m.tmdb_id and m.imdb_id][:4]
    batch = write_jsonl(tmp_path / "rows.jsonl", rows)
    with hostile(world, tmp_path) as (proxy, env):
        proxy.answer("omdb", 500, {"Response": "False", "Error": "boom"})
        done = run_cli(["batch", str(batch), "--concurrency", "2"], env, timeout=120)
    assert done.returncode == 5, done.stderr
    assert b"failed    omdb in every row that asked it (4 of 4)" in done.stdout
    assert b"identified" in done.stdout


@pytest.mark.parametrize("provider", ["fanart", "tvdb"])
def test_any_revoked_key_is_out_for_the_rest_of_the_run(
    world: World, tmp_path: Path, provider: str
) -> None:
    # TheTVDB logs in again once when its token is refused; the fresh login is refused too.
    rows = [{"tmdb_id": m.tmdb_id} for m in world if m.tmdb_id and m.in_fanart and m.in_tvdb][:6]
    batch = write_jsonl(tmp_path / "rows.jsonl", rows)
    with hostile(world, tmp_path) as (proxy, env):
        proxy.reject_key_after(provider, 2)
        done = run_cli(["batch", str(batch), "--json", "--concurrency", "1"], env, timeout=120)
        sent = proxy.counts()[provider]
    lines = sorted(outcome_lines(done.stdout), key=lambda line: line["line"])
    assert [line["status"] for line in lines] == ["identified"] * 6
    assert sent <= 2 + 2, f"{sent} requests to {provider}: the revoked key was sent again"
    assert [line["providers"][provider] for line in lines][-4:] == ["error"] * 4
    assert check_db(tmp_path / "m.sqlite")


def test_tmdb_revoked_mid_batch_stops_the_run_blocked(world: World, tmp_path: Path) -> None:
    rows = [{"tmdb_id": m.tmdb_id} for m in world if m.tmdb_id and m.imdb_id][:6]
    batch = write_jsonl(tmp_path / "rows.jsonl", rows)
    db = tmp_path / "m.sqlite"
    with hostile(world, tmp_path) as (proxy, env):
        proxy.reject_key_after("tmdb", 2)
        done = run_cli(["batch", str(batch), "--json", "--concurrency", "1"], env, timeout=120)
        tmdb = proxy.counts()["tmdb"]
    assert done.returncode == 2, done.stderr
    assert b"tmdb_policy" in done.stderr
    statuses = [
        line["status"] for line in sorted(outcome_lines(done.stdout), key=lambda x: x["line"])
    ]
    assert statuses == ["identified", "identified", "blocked"]
    assert tmdb == 3
    assert len(check_db(db)) == 2
    assert table_count(db, "identification_queue") == 0


def test_wrong_shape_404s_are_errors_that_refresh_fills_in(world: World, tmp_path: Path) -> None:
    db = tmp_path / "m.sqlite"
    with hostile(world, tmp_path) as (proxy, env):
        proxy.answer("omdb", 404, WRONG_404)
        proxy.answer("fanart", 404, b"<html>Not Found</html>")
        code, out, _ = metarr(env, "lookup", "--tmdb", "603", "--json")
    assert (code, out["status"]) == (0, "identified")
    assert (out["providers"]["omdb"], out["providers"]["fanart"]) == ("error", "error")
    said = " ".join(out["reasons"])
    assert "METARR_OMDB_BASE_URL" in said and "METARR_FANART_BASE_URL" in said
    assert parts(db, 603) == {"tmdb": "ok", "omdb": "error", "fanart": "error", "tvdb": "ok"}
    with hostile(world, tmp_path) as (proxy, env):  # the base URL is fixed: fill them in
        code, out, _ = metarr(env, "refresh", "--incomplete", "--json")
        assert code == 0, out
        assert proxy.counts() == {"tmdb": 0, "omdb": 1, "fanart": 1, "tvdb": 0}
    assert set(parts(db, 603).values()) == {"ok"}


def test_a_base_url_missing_its_version_path_is_an_error(world: World, tmp_path: Path) -> None:
    with hostile(world, tmp_path) as (_, env):
        env["METARR_TMDB_BASE_URL"] = env["METARR_TMDB_BASE_URL"].removesuffix("/3")
        code, out, _ = metarr(env, "lookup", "--imdb", "tt0133093", "--json")
    assert out["providers"]["tmdb"] == "error", out
    assert any("METARR_TMDB_BASE_URL" in r for r in out["reasons"])
    assert parts(tmp_path / "m.sqlite", 603).get("tmdb") in (None, "error")
    assert code == 0


def test_deeply_nested_json_is_the_providers_bad_response(world: World, tmp_path: Path) -> None:
    with hostile(world, tmp_path) as (proxy, env):
        proxy.answer("omdb", 200, nested(100_000))
        code, out, err = metarr(env, "lookup", "--tmdb", "603", "--json")
    assert (code, out["providers"]["omdb"]) == (0, "error"), out
    said = " ".join(out["reasons"])
    assert "omdb" in said and "nested more than 64 levels" in said
    assert "RecursionError" not in said + err


# -- item 10: TMDB rate limited in automated runs -----------------------------------------------


def test_tmdb_rate_limited_in_a_batch_commits_nothing_and_waits(
    world: World, tmp_path: Path
) -> None:
    rows: list[dict[str, Any]] = [
        {"tmdb_id": 603},
        {"imdb_id": "tt0113277"},
        {"title": "Toy Story", "year": 1995},
    ]
    batch = write_jsonl(tmp_path / "rows.jsonl", rows)
    db = tmp_path / "m.sqlite"
    with hostile(world, tmp_path) as (proxy, env):
        proxy.answer("tmdb", 429, {"status_code": 25}, headers={"Retry-After": "120"})
        done = run_cli(["batch", str(batch), "--json", "--concurrency", "1"], env, timeout=120)
        first = proxy.counts()
        again = run_cli(["batch", str(batch), "--json"], env, timeout=120)
        second = proxy.counts()
    assert done.returncode == 4, done.stderr
    assert [line["status"] for line in outcome_lines(done.stdout)] == ["rate_limited"] * 3
    assert first["tmdb"] == 1  # one 429, then no request to TMDB before its Retry-After
    assert table_count(db, "provider_cache_movies") == 0
    assert table_count(db, "retry_queue") == 3
    assert table_count(db, "identification_queue") == 0
    assert again.returncode == 4
    assert second == first  # the rerun waits for the retries to fall due: no request at all


# -- item 11: nobody could answer ------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "variables"),
    [(["--only", "omdb"], {}), ([], {"METARR_LOAD_PLUGINS": ""})],
)
def test_ids_no_enabled_provider_can_use_exit_2_unqueued(
    world: World, tmp_path: Path, options: list[str], variables: dict[str, str]
) -> None:
    with hostile(world, tmp_path) as (proxy, env):
        env.update(variables)
        code, _, err = metarr(env, *options, "lookup", "--tmdb", "603")
        assert code == 2, err
        assert "no enabled provider can use the ids given (tmdb:603)" in err
        assert sum(proxy.counts().values()) == 0
        assert metarr(env, *options, "queue", "--json")[1] == []
    assert table_count(tmp_path / "m.sqlite", "retry_queue") == 0
