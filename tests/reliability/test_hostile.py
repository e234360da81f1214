"""Hostile answers through the real plugins: absurd values are rejected or sanitised, never truth.

pytest-httpx answers every request from the simulator's own API logic (realistic TMDB, OMDb,
Fanart.tv and TheTVDB bodies, no socket), after planting hostile values in one provider's
record: ids that do not parse, image URLs with other schemes (``javascript:``, ``file:``,
``data:``), runtime -1, year 99999, megabyte strings, negative votes, ratings above their
scale, control characters and lone surrogates. The movie is committed through the
orchestrator and read back from the database: none of those values is stored as a fact.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from metarr import Ids, sanitize
from metarr.cache.packed import unpack
from metarr.query import Query
from metarr_sim import SimServer
from metarr_sim.world import World
from reliability.helpers import InProcessSim, check_db, cli_env, identify, run_cli, write_jsonl
from reliability.proxy import HostileProxy

BAD_URLS = [
    "javascript:alert(1)",
    "file:///etc/passwd",
    "data:image/png;base64,iVBORw0KGgo=",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "//evil.test/x.jpg",
    "ftp://evil.test/x.jpg",
    "https://",
    "https://evil.test/x y.jpg",
]
HUGE = "x" * 1_000_000
BAD_TEXTS = [HUGE, "\ud800 lone surrogate", "\x00\x1b[2J\x07", "N/A", "   "]
HOSTILE_SCHEMES = re.compile(r"^\s*(javascript|file|data|ftp):", re.IGNORECASE)
PLANTED: list[str] = []


def _plant(value: Any) -> Any:
    PLANTED.append(repr(value)[:40])
    return value


def tmdb_values(path: str, body: Any) -> Any:
    if not path.startswith("/movie/"):
        return body
    body.update(
        runtime=_plant(-1),
        release_date=_plant("99999-01-01"),
        vote_average=_plant(15.5),
        vote_count=_plant(-5),
        title=_plant(HUGE),
        tagline=_plant("\ud800 lone surrogate"),
        overview=_plant("\x00\x1b[2J\x07"),
        original_title=_plant(["not", "text"]),
        genres=_plant([{"name": 5}, {"name": None}, "Drama", {"name": "x" * 5000}]),
        poster_path=_plant("javascript:alert(1)"),
        belongs_to_collection=_plant({"name": {"nested": True}}),
    )
    images = body.get("images", {})
    for i, url in enumerate(BAD_URLS):
        images.setdefault("posters", []).insert(i, {"file_path": _plant(url), "width": -1})
    cast = body.get("credits", {}).get("cast", [])
    cast[:0] = [
        {"name": _plant(""), "character": "Nobody", "order": -3},
        {"name": _plant(None), "order": 1},
        {"name": _plant(HUGE), "order": 2},
        {"name": "Ok Name", "character": _plant("\x00\x01"), "order": _plant(-7)},
    ]
    return body


def tmdb_ids(path: str, body: Any) -> Any:
    if path.startswith("/movie/"):
        body["id"] = _plant("abc")
        body["imdb_id"] = _plant("javascript:alert(1)")
        body.setdefault("external_ids", {})["imdb_id"] = _plant("tt12")
    return body


def omdb_values(path: str, body: Any) -> Any:
    if body.get("Response") != "True":
        return body
    body.update(
        Year=_plant("99999"),
        Runtime=_plant("-1 min"),
        Released=_plant("31 Feb 99999"),
        imdbRating=_plant("11.5"),
        imdbVotes=_plant("-5"),
        Metascore=_plant("500"),
        Poster=_plant("file:///etc/passwd"),
        Title=_plant("\ud800"),
        Plot=_plant(HUGE),
        Genre=_plant("x" * 5000),
        Ratings=_plant(
            [
                {"Source": "Rotten Tomatoes", "Value": "150%"},
                {"Source": "Metacritic", "Value": "250/100"},
                {"Source": "Internet Movie Database", "Value": "-3/10"},
                "garbage",
            ]
        ),
    )
    return body


def omdb_ids(path: str, body: Any) -> Any:
    if body.get("Response") == "True":
        body["imdbID"] = _plant("tt0133093 OR 1=1")
    return body


def fanart_values(path: str, body: Any) -> Any:
    body["tmdb_id"] = _plant("abc")
    body["imdb_id"] = _plant("javascript:alert(1)")
    posters = body.setdefault("movieposter", [])
    for url in BAD_URLS:
        posters.insert(0, {"id": "1", "url": _plant(url), "lang": "en", "likes": _plant("-5")})
    body["hdmovielogo"] = _plant("not a list")
    body["moviedisc"] = _plant([{"url": "data:,x", "disc_type": "\x00", "likes": "1e400"}])
    return body


def tvdb_values(path: str, body: Any) -> Any:
    if not path.endswith("/extended"):
        return body
    data = body["data"]
    data.update(
        runtime=_plant(-1),
        year=_plant("99999"),
        score=_plant(-1),
        image=_plant("data:image/png;base64,AAAA"),
        name=_plant("\x00\x00"),
        first_release=_plant({"country": "usa", "date": "99999-99-99"}),
        remoteIds=_plant(
            [
                {"id": "javascript:alert(1)", "type": 2, "sourceName": "IMDB"},
                {"id": "-603", "type": 12, "sourceName": "TheMovieDB.com"},
                {"id": None, "type": None},
                "junk",
            ]
        ),
    )
    for url in BAD_URLS:
        data.setdefault("artworks", []).insert(
            0, {"id": 1, "image": _plant(url), "type": 14, "width": -5, "score": -1}
        )
    return body


def tvdb_ids(path: str, body: Any) -> Any:
    if path.endswith("/extended"):
        body["data"]["id"] = _plant("abc")
    return body


SCENARIOS: dict[str, tuple[str, Callable[[str, Any], Any]]] = {
    "tmdb values": ("tmdb", tmdb_values),
    "tmdb ids": ("tmdb", tmdb_ids),
    "omdb values": ("omdb", omdb_values),
    "omdb ids": ("omdb", omdb_ids),
    "fanart values": ("fanart", fanart_values),
    "tvdb values": ("tvdb", tvdb_values),
    "tvdb ids": ("tvdb", tvdb_ids),
}


def assert_sane(data: dict[str, Any], where: str) -> None:
    """Stored JSON of a movie or a provider result holds no absurd value."""
    year = data.get("year")
    assert year is None or 1870 <= year <= 2100, (where, year)
    runtime = data.get("runtime")
    assert runtime is None or 0 < runtime <= 1500, (where, runtime)
    date = data.get("release_date")
    assert date is None or 1870 <= int(date[:4]) <= 2100, (where, date)
    for field in ("title", "original_title", "tagline", "content_rating", "collection"):
        text = data.get(field)
        assert text is None or (isinstance(text, str) and 0 < len(text) <= 1000), (where, field)
    for field in ("plot", "outline", "awards"):
        text = data.get(field)
        assert text is None or len(text) <= 20_000, (where, field)
    texts = json.dumps({k: v for k, v in data.items() if k != "raw"}, ensure_ascii=False)
    assert not re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", texts), where
    assert not re.search(r"\\ud[89ab]", json.dumps({k: v for k, v in data.items() if k != "raw"}))
    assert all(len(g) <= 1000 for g in data.get("genres", [])), where
    for image in data.get("images", []):
        assert image["url"].startswith("https://"), (where, image["url"])
        assert not HOSTILE_SCHEMES.match(image["url"]), (where, image["url"])
        assert " " not in image["url"], (where, image["url"])
        for key in ("width", "height", "votes"):
            assert image.get(key) is None or image[key] >= 0, (where, image)
    for rating in data.get("ratings", []):
        assert 0 <= rating["value"] <= rating["max"], (where, rating)
        assert rating.get("votes") is None or rating["votes"] >= 0, (where, rating)
    for person in (*data.get("cast", []), *data.get("crew", [])):
        assert 0 < len(person["name"]) <= 1000, where
        assert person.get("order") is None or person["order"] >= 0, where
    ids = data.get("ids", {})
    assert ids.get("tmdb") is None or (isinstance(ids["tmdb"], int) and ids["tmdb"] > 0)
    assert ids.get("tvdb") is None or (isinstance(ids["tvdb"], int) and ids["tvdb"] > 0)
    assert ids.get("imdb") is None or re.fullmatch(r"tt[0-9]{7,10}", ids["imdb"]), (where, ids)


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_hostile_values_are_never_stored_as_truth(
    world: World, tmp_path: Path, httpx_mock: Any, scenario: str
) -> None:
    provider, mutate = SCENARIOS[scenario]

    def hostile(name: str, path: str, body: Any) -> Any:
        return mutate(path, body) if name == provider and isinstance(body, dict) else body

    sim = InProcessSim(world, hostile)
    httpx_mock.add_callback(sim, is_reusable=True, is_optional=True)
    db = tmp_path / "m.sqlite"
    [result] = identify(sim.env(), db, [Query(ids=Ids(tmdb=603))])
    outcome = result.outcome
    assert outcome.status == "identified", outcome.reasons
    assert outcome.providers[provider] in ("ok", "error", "not_found"), outcome.providers
    [stored] = check_db(db)
    assert stored.movie.ids.tmdb == 603
    assert stored.movie.ids.imdb == "tt0133093"
    assert stored.movie.title == "The Matrix" or provider == "omdb"
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    try:
        row = conn.execute("SELECT movie FROM provider_cache_movies").fetchone()
        merged = json.loads(unpack(row["movie"]))
        assert_sane(merged, "movie")
        for part in conn.execute("SELECT provider, result FROM provider_parts"):
            if part["result"] is not None:
                assert_sane(json.loads(unpack(part["result"])), f"{part['provider']} part")
        for image in merged["images"]:
            assert image["url"].startswith("https://") and " " not in image["url"]
            assert all(image.get(k) is None or image[k] >= 0 for k in ("width", "height", "votes"))
        for rating in merged["ratings"]:
            assert 0 <= rating["value"] <= rating["max"]
            assert rating.get("votes") is None or rating["votes"] >= 0
        for member in merged["cast"]:
            assert len(member["name"]) <= 1000 and len(member.get("character") or "") <= 1000
    finally:
        conn.close()


def test_oversized_string_body_is_refused(world: World, tmp_path: Path, httpx_mock: Any) -> None:
    # A 10 MB title makes the body exceed the HTTP layer's cap: the record is refused whole.
    def huge(name: str, path: str, body: Any) -> Any:
        if name == "fanart" and isinstance(body, dict):
            body["name"] = _plant("t" * 10_000_000)
        return body

    sim = InProcessSim(world, huge)
    httpx_mock.add_callback(sim, is_reusable=True, is_optional=True)
    db = tmp_path / "m.sqlite"
    [result] = identify(sim.env(), db, [Query(ids=Ids(tmdb=603))])
    assert result.outcome.status == "identified"
    assert result.outcome.providers["fanart"] == "error"
    [stored] = check_db(db)
    assert stored.parts["fanart"]["status"] == "error"
    assert "cap" in stored.parts["fanart"]["error"]
    assert db.stat().st_size < 5_000_000


def test_hostile_search_hits_are_not_candidates(
    world: World, tmp_path: Path, httpx_mock: Any
) -> None:
    def hits(name: str, path: str, body: Any) -> Any:
        if name == "tmdb" and path.startswith("/search") and isinstance(body, dict):
            body["results"][:0] = [
                {"id": _plant("abc"), "title": "Heat", "release_date": "1995-12-15"},
                {"id": _plant(-1), "title": "Heat", "release_date": "1995-12-15"},
                {"id": _plant(10**30), "title": "Heat", "release_date": "1995-12-15"},
                {"id": 5, "title": _plant(""), "release_date": "1995-12-15"},
                {"id": 6, "title": "Heat", "poster_path": _plant("javascript:x")},
            ]
        return body

    sim = InProcessSim(world, hits)
    httpx_mock.add_callback(sim, is_reusable=True, is_optional=True)
    db = tmp_path / "m.sqlite"
    [result] = identify(sim.env(), db, [Query(title="Heat", year=1995)])
    outcome = result.outcome
    assert outcome.status in ("identified", "ambiguous"), outcome.reasons
    for candidate in outcome.candidates:
        assert candidate.poster is None or candidate.poster.startswith("https://")
    for stored in check_db(db):
        assert stored.movie.ids.tmdb not in (None, 5) or stored.movie.ids.imdb


def test_hostile_value_counts() -> None:
    """Not a check: prints how many hostile values were planted."""
    print(f"hostile values tried: {len(PLANTED)}")


# -- hostile text and artwork through the real command ----------------------------------------

FORGED = "\r\nline    99  identified    Fake Movie (2000)  tmdb:1\r\n"
HIDDEN = "\u202e\u2066\u200b\u200d\ufeff\x85\x9b\u2028"
PRIVATE_ARTWORK = [
    "https://user:pass@10.0.0.1/poster.jpg",
    "http://169.254.169.254/latest/meta-data/poster.jpg",
    "https://[::1]/poster.jpg",
    "https://[::ffff:127.0.0.1]/poster.jpg",
    "http://localhost/poster.jpg",
    "https://2130706433/poster.jpg",
    "https://0x7f.1/poster.jpg",
    "https://192.168.1.20/poster.jpg",
]
SHOWN_BAD = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff]"
)


def _hostile_text(proxy: HostileProxy) -> HostileProxy:
    """Forged lines, bidi overrides, zero-width and C1 characters in every text a provider
    sends; artwork on private hosts and with credentials."""

    def tmdb(target: str, body: Any) -> Any:
        if not isinstance(body, dict):
            return body
        if target.startswith("/search"):
            for hit in body.get("results", []):
                hit["title"] = HIDDEN[:3] + hit["title"] + HIDDEN[3:]
                hit["poster_path"] = PRIVATE_ARTWORK[0]
            body.setdefault("results", []).append(
                {"id": 999_999, "title": f"War of the Worlds{FORGED}", "release_date": "2005-06-28"}
            )
        if target.startswith("/movie/"):
            body["tagline"] = f"Tag{HIDDEN}line{FORGED}"
            body["genres"] = [{"id": 1, "name": f"Action{FORGED}"}, {"id": 2, "name": HIDDEN}]
            for cast in body.get("credits", {}).get("cast", [])[:2]:
                cast["name"] = f"{cast['name']}{FORGED}"
                cast["character"] = f"{HIDDEN}{cast.get('character')}"
        return body

    def omdb(target: str, body: Any) -> Any:
        if isinstance(body, dict) and body.get("Response") == "True":
            body["Title"] = f"{body.get('Title')}{FORGED}"
            body["Plot"] = f"First paragraph.{HIDDEN}\r\n\r\n\r\nSecond{FORGED}paragraph."
            body["Poster"] = PRIVATE_ARTWORK[1]
        return body

    def fanart(target: str, body: Any) -> Any:
        if isinstance(body, dict):
            body["movieposter"] = [
                {"id": str(i), "url": url, "lang": "en", "likes": "1"}
                for i, url in enumerate(PRIVATE_ARTWORK)
            ] + list(body.get("movieposter", []))
        return body

    proxy.rewrite("tmdb", tmdb)
    proxy.rewrite("omdb", omdb)
    proxy.rewrite("fanart", fanart)
    return proxy


def _run(args: list[str], env: dict[str, str]) -> tuple[int, str, str]:
    done = run_cli(args, env)
    return done.returncode, done.stdout.decode(), done.stderr.decode()


@pytest.mark.slow
def test_hostile_text_and_artwork_through_the_real_command(world: World, tmp_path: Path) -> None:
    db = tmp_path / "hostile.sqlite"
    rows = [{"tmdb_id": 603}, {"imdb_id": "tt0113277"}, {"title": f"Toy Story{FORGED}"}]
    batch = write_jsonl(tmp_path / "lib.jsonl", rows)
    runs = {
        "lookup": ["lookup", "--tmdb", "603"],
        "batch": ["batch", str(batch), "--concurrency", "1"],
        "batch --json": ["batch", str(batch), "--json", "--concurrency", "1"],
        "identify": ["identify", "War of the Worlds", "--year", "2005", "--explain"],
        "search": ["search", "War of the Worlds", "--year", "2005"],
        "queue": ["queue"],
        "cache show": ["cache", "show", "tmdb:603"],
        "cache export": ["cache", "export"],
    }
    shown: dict[str, str] = {}
    with SimServer(world) as sim, HostileProxy(sim) as proxy:
        _hostile_text(proxy)
        env = cli_env({**proxy.settings_env(), "METARR_DB": str(db), "NO_COLOR": "1"})
        for name, args in runs.items():
            code, stdout, stderr = _run(args, env)
            assert code in (0, 3), (name, stderr)
            assert "Traceback" not in stderr
            for line in (stdout + stderr).split("\n"):
                assert not SHOWN_BAD.search(line), (name, line)
                assert not line.lstrip().startswith("line    99"), (name, line)
            shown[name] = stdout
    text_rows = [line for line in shown["batch"].split("\n") if line.startswith("line ")]
    assert [line.split()[1] for line in text_rows] == ["1", "2", "3"]  # one line per row
    json_rows = [json.loads(line) for line in shown["batch --json"].split("\n") if line]
    assert [row["line"] for row in json_rows] == [1, 2, 3]
    forged = "line    99  identified    Fake Movie (2000)  tmdb:1"  # on one line, spacing kept
    assert json_rows[2]["input"]["title"] == f"Toy Story {forged}"
    matrix = next(line for line in shown["lookup"].split("\n") if "(1999)" in line)
    assert matrix.startswith(f"The Matrix {forged} (1999)")
    [row] = [line for line in shown["search"].split("\n") if "tmdb:999999" in line]
    assert "War of the Worlds line    99  identified" in row  # one table row
    assert "ambiguous" in shown["identify"]  # the hidden characters did not change the match
    for stored in check_db(db):
        movie = stored.movie
        for text in (movie.title, movie.tagline, *movie.genres, *(c.name for c in movie.cast)):
            assert text is None or text.splitlines() == [text], text
        assert movie.plot is None or "\n\n\n" not in movie.plot
        for image in movie.images:
            assert sanitize.url(image.url) == image.url
            assert not any(url.split("/")[2] in image.url for url in PRIVATE_ARTWORK), image
        assert any(".sim.invalid/" in image.url for image in movie.images)  # the sim's art stays
    exported = [json.loads(line) for line in shown["cache export"].splitlines()]
    assert len(exported) == len(check_db(db))
