"""The simulated provider APIs over real HTTP: shapes vs the real samples, auth, errors, knobs."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from metarr_sim import Knobs, SimKeys, SimServer, World
from metarr_sim.pytest_fixtures import sim_server, sim_world, start_sim

__all__ = ["sim_server", "sim_world"]  # the fixtures, re-exported for pytest

# The real recorded responses, as the bundled plugins keep them (see their SOURCES.md).
SAMPLE_DIRS = sorted((Path(__file__).resolve().parents[2] / "plugins").glob("*/tests/samples"))
FIGHT_CLUB = 550  # in MovieLens ml-latest-small


def sample(name: str) -> Any:
    found = [folder / name for folder in SAMPLE_DIRS if (folder / name).exists()]
    assert found, f"recorded sample {name} not found in {SAMPLE_DIRS}"
    return json.loads(found[0].read_text(encoding="utf-8"))


@pytest.fixture
def client() -> httpx.Client:
    with httpx.Client(timeout=10) as c:
        yield c


def tmdb(sim: SimServer, client: httpx.Client, path: str, **params: Any) -> httpx.Response:
    params.setdefault("api_key", sim.keys.tmdb_api_key)
    return client.get(sim.base_urls()["tmdb"] + path, params=params)


def omdb(sim: SimServer, client: httpx.Client, **params: Any) -> httpx.Response:
    params.setdefault("apikey", sim.keys.omdb_api_key)
    return client.get(sim.base_urls()["omdb"] + "/", params=params)


def tvdb_token(sim: SimServer, client: httpx.Client) -> dict[str, str]:
    body = client.post(sim.base_urls()["tvdb"] + "/login", json={"apikey": sim.keys.tvdb_api_key})
    assert body.status_code == 200
    return {"Authorization": f"Bearer {body.json()['data']['token']}"}


# ---------------------------------------------------------------------------- TMDB


def test_tmdb_details_match_the_real_shape(sim_server: SimServer, client: httpx.Client) -> None:
    append = "external_ids,credits,images,release_dates,alternative_titles,videos"
    r = tmdb(sim_server, client, f"/movie/{FIGHT_CLUB}", append_to_response=append)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(sample("tmdb_movie_550.json")) <= set(body)
    assert set(append.split(",")) <= set(body)
    assert (body["id"], body["imdb_id"], body["title"]) == (550, "tt0137523", "Fight Club")
    assert body["overview"].startswith("[simulated]")
    assert set(body["external_ids"]) == set(
        sample("tmdb_movie_49521_append_external_ids.json")["external_ids"]
    )
    credits = sample("tmdb_movie_550_credits.json")
    assert set(body["credits"]["cast"][0]) == set(credits["cast"][0])
    assert set(body["credits"]["crew"][0]) == set(credits["crew"][0])
    images = sample("tmdb_movie_550_images.json")
    assert set(body["images"]) == set(images) - {"id"}
    assert set(body["images"]["posters"][0]) == set(images["posters"][0])
    dates = sample("tmdb_movie_550_release_dates.json")["results"][0]
    assert set(body["release_dates"]["results"][0]) == set(dates)
    assert set(body["release_dates"]["results"][0]["release_dates"][0]) == set(
        dates["release_dates"][0]
    )
    assert set(body["alternative_titles"]) == {"titles"}
    if body["videos"]["results"]:
        assert set(body["videos"]["results"][0]) == set(
            sample("tmdb_movie_550_videos.json")["results"][0]
        )


def test_tmdb_images_honour_include_image_language(
    sim_server: SimServer, client: httpx.Client
) -> None:
    body = tmdb(
        sim_server, client, "/movie/550", append_to_response="images", include_image_language="null"
    ).json()
    languages = {i["iso_639_1"] for kind in body["images"].values() for i in kind}
    assert languages <= {None}
    sub = tmdb(sim_server, client, "/movie/550/external_ids").json()
    assert sub["id"] == 550


def test_tmdb_search_and_find(sim_server: SimServer, client: httpx.Client) -> None:
    r = tmdb(sim_server, client, "/search/movie", query="alien")
    body = r.json()
    assert set(body) == set(sample("tmdb_search_movie_no_results.json"))
    item_keys = set(sample("tmdb_search_movie_man_of_steel_year_2013.json")["results"][0])
    assert set(body["results"][0]) == item_keys
    assert body["results"][0]["title"] == "Alien"
    assert len(body["results"]) == body["total_results"] <= 20
    many = tmdb(sim_server, client, "/search/movie", query="the", page=2).json()
    assert many["page"] == 2
    assert len(many["results"]) == 20
    assert many["total_pages"] == -(-many["total_results"] // 20)
    none = tmdb(sim_server, client, "/search/movie", query="meen of stal").json()
    assert none == sample("tmdb_search_movie_no_results.json")
    missing = tmdb(sim_server, client, "/search/movie")
    assert missing.json() == sample("tmdb_error_search_without_query.json")
    found = tmdb(sim_server, client, "/find/tt0137523", external_source="imdb_id").json()
    assert set(found) == set(sample("tmdb_find_imdb_id_movie_result.json"))
    assert set(found["movie_results"][0]) == item_keys | {"media_type"}
    assert found["movie_results"][0]["id"] == 550
    by_tvdb = tmdb(sim_server, client, "/find/12345", external_source="tvdb_id").json()
    assert by_tvdb["movie_results"] == []


def test_tmdb_year_filters(sim_server: SimServer, sim_world: World, client: httpx.Client) -> None:
    movie = next(m for m in sim_world if m.tmdb_year_shift and sim_world.tmdb(m.tmdb_id or 0) is m)

    def ids(**params: Any) -> set[int]:
        body = tmdb(sim_server, client, "/search/movie", query=movie.title, **params).json()
        return {r["id"] for r in body["results"]}

    assert movie.tmdb_id in ids(year=movie.year)  # another release is in the MovieLens year
    assert movie.tmdb_id in ids(year=movie.tmdb_year)
    assert movie.tmdb_id in ids(primary_release_year=movie.tmdb_year)
    assert movie.tmdb_id not in ids(primary_release_year=movie.year)
    details = tmdb(sim_server, client, f"/movie/{movie.tmdb_id}").json()
    assert details["release_date"].startswith(str(movie.tmdb_year))


def test_tmdb_auth_and_errors(sim_server: SimServer, client: httpx.Client) -> None:
    bad = tmdb(sim_server, client, "/movie/550", api_key="nope")
    assert bad.status_code == 401
    assert bad.json() == sample("tmdb_error_invalid_api_key.json")
    url = sim_server.base_urls()["tmdb"] + "/movie/550"
    assert client.get(url).status_code == 401
    bearer = client.get(url, headers={"Authorization": f"Bearer {sim_server.keys.tmdb_token}"})
    assert bearer.status_code == 200
    assert client.get(url, headers={"Authorization": "Bearer wrong"}).status_code == 401
    missing = tmdb(sim_server, client, "/movie/999999999")
    assert missing.status_code == 404
    assert missing.json() == sample("tmdb_error_not_found.json")
    no_tmdb = tmdb(sim_server, client, "/find/tt0113610", external_source="imdb_id").json()
    assert no_tmdb["movie_results"] == []  # ml-latest-small has no TMDB id for it


# ---------------------------------------------------------------------------- OMDb


def test_omdb_shapes(sim_server: SimServer, client: httpx.Client) -> None:
    body = omdb(sim_server, client, i="tt0137523").json()
    assert list(body) == list(sample("omdb_tt0770828.json"))
    assert all(isinstance(v, str) for k, v in body.items() if k != "Ratings")
    assert body["Runtime"].endswith(" min")
    assert body["Ratings"][0]["Source"] == "Internet Movie Database"
    assert "," in body["imdbVotes"]
    day, month, year = body["Released"].split()
    assert (len(day), len(month), year) == (2, 3, "1999")
    full = omdb(sim_server, client, i="tt0137523", plot="full").json()
    assert len(full["Plot"]) > len(body["Plot"])
    titled = omdb(sim_server, client, t="fight club", y="1999").json()
    assert titled["imdbID"] == "tt0137523"
    assert omdb(sim_server, client, s="the").json()["Error"] == "Too many results."
    search = omdb(sim_server, client, s="alien", type="movie").json()
    assert list(search) == list(sample("omdb_search_man_of_steel_page1.json"))
    assert set(search["Search"][0]) == set(
        sample("omdb_search_man_of_steel_page1.json")["Search"][0]
    )
    assert len(search["Search"]) == 10
    assert isinstance(search["totalResults"], str)


def test_omdb_errors(sim_server: SimServer, client: httpx.Client) -> None:
    cases = [
        ({"i": "tt9999999"}, 200, sample("omdb_error_tt9999999.json")),
        ({"t": "Meen of Stal"}, 200, sample("omdb_error_t_movie_not_found.json")),
        ({"s": "Meen of Stal"}, 200, sample("omdb_search_error_movie_not_found.json")),
        ({"i": "nonsense"}, 200, {"Response": "False", "Error": "Incorrect IMDb ID."}),
        (
            {"i": "tt0137523", "apikey": "wrong"},
            401,
            {"Response": "False", "Error": "Invalid API key!"},
        ),
        (
            {"i": "tt0137523", "apikey": ""},
            401,
            {"Response": "False", "Error": "No API key provided."},
        ),
    ]
    for params, status, body in cases:
        r = omdb(sim_server, client, **params)
        assert (r.status_code, r.json()) == (status, body), params


def test_omdb_daily_quota(sim_world: World, client: httpx.Client) -> None:
    with start_sim(sim_world, knobs={"omdb": Knobs(daily_quota=3)}) as sim:
        statuses = [omdb(sim, client, i="tt0137523").status_code for _ in range(5)]
        assert statuses == [200, 200, 200, 401, 401]
        last = omdb(sim, client, i="tt0137523").json()
        assert last == {"Response": "False", "Error": "Request limit reached!"}
        assert sim.rate_limited_counts()["omdb"] == {"?i=": 3}
        # An invalid key is rejected as such, not counted against the quota.
        assert omdb(sim, client, i="tt0137523", apikey="x").json()["Error"] == "Invalid API key!"


def test_omdb_burst_limit_is_not_the_daily_quota(sim_world: World, client: httpx.Client) -> None:
    with start_sim(sim_world, knobs={"omdb": Knobs(rate=0.5, burst=1)}) as sim:
        first, second = (omdb(sim, client, i="tt0137523") for _ in range(2))
    assert (first.status_code, second.status_code) == (200, 429)
    assert second.headers["Retry-After"] == "2"
    assert second.json()["Error"] != "Request limit reached!"  # the quota's text (HTTP 401)


# -------------------------------------------------------------------------- Fanart


def test_fanart(sim_server: SimServer, sim_world: World, client: httpx.Client) -> None:
    url = sim_server.base_urls()["fanart"]
    key = {"api_key": sim_server.keys.fanart_api_key}
    movie = next(m for m in sim_world.movies[100:] if m.in_fanart)
    body = client.get(f"{url}/movies/{movie.tmdb_id}", params=key).json()
    real = sample("fanart_movie_70160.json")
    assert set(body) <= set(real)
    assert (body["tmdb_id"], body["imdb_id"]) == (str(movie.tmdb_id), movie.imdb_id)
    arrays = [v for v in body.values() if isinstance(v, list)]
    assert len(arrays) >= 2
    for items in arrays:
        assert all(isinstance(v, str) for item in items for v in item.values())
        assert all(i["url"].startswith("https://") for i in items)
    assert client.get(f"{url}/movies/{movie.imdb_id}", params=key).json() == body
    missing = next(m for m in sim_world if m.tmdb_id and not m.in_fanart)
    r = client.get(f"{url}/movies/{missing.tmdb_id}", params=key)
    assert (r.status_code, r.json()) == (404, {"status": "error", "error message": "Not found"})
    bad = client.get(f"{url}/movies/{movie.tmdb_id}", params={"api_key": "bad"})
    assert bad.status_code == 401
    assert bad.json()["status"] == "error"


# ---------------------------------------------------------------------------- TVDB


def test_tvdb(sim_server: SimServer, sim_world: World, client: httpx.Client) -> None:
    url = sim_server.base_urls()["tvdb"]
    unauthorised = client.get(f"{url}/search/remoteid/tt0137523")
    assert unauthorised.status_code == 401
    assert unauthorised.json() == {"status": "failure", "message": "Unauthorized", "data": None}
    bad = client.post(f"{url}/login", json={"apikey": "nope"})
    assert bad.status_code == 401
    auth = tvdb_token(sim_server, client)
    assert client.get(f"{url}/movies/1", headers={"Authorization": "Bearer x"}).status_code == 401
    found = client.get(f"{url}/search/remoteid/tt0137523", headers=auth).json()
    assert found["status"] == "success"
    movie = next(entry["movie"] for entry in found["data"] if "movie" in entry)
    assert movie["year"] == "1999"
    assert isinstance(movie["id"], int)
    extra = next(m for m in sim_world if m.tvdb_extra_entry and m.in_tvdb)
    data = client.get(f"{url}/search/remoteid/{extra.imdb_id}", headers=auth).json()["data"]
    assert list(data[0]) == ["series"]
    assert list(data[1]) == ["movie"]
    ext = client.get(
        f"{url}/movies/{movie['id']}/extended", params={"meta": "translations"}, headers=auth
    ).json()["data"]
    assert {"IMDB", "TheMovieDB.com"} == {r["sourceName"] for r in ext["remoteIds"]}
    assert ext["translations"]["overviewTranslations"][0]["language"] == "eng"
    assert {"artworks", "characters", "genres", "releases", "trailers"} <= set(ext)
    plain = client.get(f"{url}/movies/{movie['id']}/extended", headers=auth).json()["data"]
    assert "translations" not in plain
    assert client.get(f"{url}/movies/1/extended", headers=auth).status_code == 404
    hits = client.get(
        f"{url}/search",
        params={"query": "fight club", "type": "movie", "year": "1999"},
        headers=auth,
    ).json()["data"]
    assert hits[0]["tvdb_id"] == str(movie["id"])
    assert {r["sourceName"] for r in hits[0]["remote_ids"]} == {"IMDB", "TheMovieDB.com"}
    assert client.get(f"{url}/search", headers=auth).status_code == 400
    unknown = next(m for m in sim_world if not m.in_tvdb)
    empty = client.get(f"{url}/search/remoteid/{unknown.imdb_id}", headers=auth).json()
    assert empty == {"status": "success", "data": []}


def test_tvdb_pin(sim_world: World, client: httpx.Client) -> None:
    with start_sim(sim_world, keys=SimKeys(tvdb_pin="1234")) as sim:
        login = sim.base_urls()["tvdb"] + "/login"
        assert client.post(login, json={"apikey": sim.keys.tvdb_api_key}).status_code == 400
        ok = client.post(login, json={"apikey": sim.keys.tvdb_api_key, "pin": "1234"})
        assert ok.status_code == 200
        assert sim.settings_env()["METARR_TVDB_PIN"] == "1234"


# ---------------------------------------------------------------------- knobs etc.


def test_rate_limit_gives_429_with_retry_after(sim_world: World, client: httpx.Client) -> None:
    with start_sim(sim_world, knobs={"tmdb": Knobs(rate=1, burst=2)}) as sim:
        responses = [tmdb(sim, client, "/movie/550") for _ in range(4)]
        assert [r.status_code for r in responses] == [200, 200, 429, 429]
        limited = responses[2]
        assert int(limited.headers["Retry-After"]) >= 1
        assert limited.json()["status_code"] == 25
        assert sim.rate_limited_counts()["tmdb"] == {"/movie/{id}": 2}
        assert sim.counts()["tmdb"] == {"/movie/{id}": 4}
        assert omdb(sim, client, i="tt0137523").status_code == 200  # other providers unaffected


@pytest.mark.parametrize("status", ["500", "502", "503"])
def test_5xx_faults_use_the_api_error_bodies(
    sim_world: World, client: httpx.Client, status: str
) -> None:
    with start_sim(sim_world, knobs={"*": Knobs(fault_rate=1, faults=(status,))}) as sim:
        r = tmdb(sim, client, "/movie/550")
        assert r.status_code == int(status)
        assert r.json()["success"] is False
        assert omdb(sim, client, i="tt0137523").json()["Response"] == "False"


def test_network_faults(sim_world: World) -> None:
    def get(fault: str, timeout: float = 5) -> httpx.Response:
        knobs = Knobs(fault_rate=1, faults=(fault,), timeout_hold=3, slow_duration=0.4)
        with start_sim(sim_world, knobs={"tmdb": knobs}) as sim, httpx.Client(timeout=timeout) as c:
            return tmdb(sim, c, "/movie/550")

    with pytest.raises(httpx.ReadTimeout):
        get("timeout", timeout=0.3)
    with pytest.raises(httpx.RemoteProtocolError):
        get("truncated")
    with pytest.raises((httpx.ReadError, httpx.RemoteProtocolError)):
        get("reset")
    start = time.monotonic()
    slow = get("slow")
    assert slow.status_code == 200
    assert slow.json()["id"] == 550
    assert time.monotonic() - start >= 0.3


def test_stop_releases_held_connections(sim_world: World) -> None:
    sim = start_sim(sim_world, knobs={"tmdb": Knobs(fault_rate=1, faults=("timeout",))})
    with httpx.Client(timeout=0.2) as c, pytest.raises(httpx.ReadTimeout):
        tmdb(sim, c, "/movie/550")
    start = time.monotonic()
    sim.stop()
    assert time.monotonic() - start < 3


def test_faults_and_jitter_repeat_with_a_seed(sim_world: World, client: httpx.Client) -> None:
    knobs = {"*": Knobs(fault_rate=0.5, faults=("500", "503"))}

    def run(seed: int) -> list[int]:
        with start_sim(sim_world, knobs=knobs, seed=seed) as sim:
            codes = [tmdb(sim, client, f"/movie/{i}").status_code for i in (550, 862, 8844) * 4]
            sim.reset_counts()
            again = [tmdb(sim, client, f"/movie/{i}").status_code for i in (550, 862, 8844) * 4]
            assert again == codes
            return codes

    first = run(7)
    assert first == run(7)
    assert {500, 503} & set(first)
    assert 200 in first
    assert any(run(seed) != first for seed in (8, 9, 10))


def test_counts_settings_env_and_reset(sim_server: SimServer, client: httpx.Client) -> None:
    assert sim_server.counts() == {"tmdb": {}, "omdb": {}, "fanart": {}, "tvdb": {}}
    tmdb(sim_server, client, "/movie/550")
    tmdb(sim_server, client, "/movie/550", api_key="bad")
    omdb(sim_server, client, s="alien")
    assert sim_server.counts()["tmdb"] == {"/movie/{id}": 2}
    assert sim_server.counts()["omdb"] == {"?s=": 1}
    sim_server.reset_counts()
    assert sim_server.total() == 0
    env = sim_server.settings_env()
    urls = sim_server.base_urls()
    for name in ("tmdb", "omdb", "fanart", "tvdb"):
        assert env[f"METARR_{name.upper()}_BASE_URL"] == urls[name]
        assert env[f"METARR_{name.upper()}_API_KEY"]
    assert urls["tmdb"].startswith("http://127.0.0.1:")


def test_the_commands_reach_metarr_through_the_command_hook() -> None:
    from click.testing import CliRunner
    from metarr.cli import main

    listed = CliRunner().invoke(main, ["--help"])
    assert listed.exit_code == 0
    assert "sim " in listed.output
    assert "demo " in listed.output
    result = CliRunner().invoke(main, ["sim", "--help"])
    assert result.exit_code == 0
    assert "--omdb-quota" in result.output
