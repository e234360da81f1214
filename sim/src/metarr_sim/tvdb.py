"""Simulated TheTVDB v4: ``POST /login``, ``/search/remoteid/{id}``, ``/movies/{id}[/extended]``,
``/search``. Tokens are opaque random strings the simulator remembers."""

from __future__ import annotations

import json
import secrets
import threading
from typing import Any, ClassVar

from metarr_sim import content, synth
from metarr_sim.base import Reply, SimKeys, SimProvider, SimRequest, bearer
from metarr_sim.world import Movie, World

__all__ = ["TvdbSim", "base_record", "extended_record"]

DEFAULT_LIMIT = 50
MAX_RESULTS = 5000
ARTWORK_TYPES = {
    "poster": 14,
    "background": 15,
    "banner": 16,
    "icon": 18,
    "clearart": 24,
    "clearlogo": 25,
}


def _fail(status: int, message: str) -> Reply:
    return Reply(status=status, body={"status": "failure", "message": message, "data": None})


def _ok(data: Any, **extra: Any) -> Reply:
    return Reply(status=200, body={"status": "success", "data": data, **extra})


def _image(movie: Movie, folder: str, number: int) -> str:
    name = synth.hex_token(13, "tvdb", movie.movie_id, folder, number)
    return f"{synth.IMAGE_HOSTS['tvdb']}/{movie.tvdb_id}/{folder}/{name}.jpg"


def _remote_ids(movie: Movie) -> list[dict[str, Any]]:
    ids = []
    if movie.imdb_id:
        ids.append({"id": movie.imdb_id, "type": 2, "sourceName": "IMDB"})
    if movie.tmdb_id is not None:
        ids.append({"id": str(movie.tmdb_id), "type": 10, "sourceName": "TheMovieDB.com"})
    return ids


def base_record(movie: Movie) -> dict[str, Any]:
    """``MovieBaseRecord``."""
    lang3 = content.language_info(content.original_language(movie))[2]
    aliases = [{"language": "eng", "name": alt} for alt in movie.alternatives]
    return {
        "id": movie.tvdb_id,
        "name": movie.title,
        "slug": synth.slug(movie.title),
        "image": _image(movie, "posters", 0),
        "nameTranslations": sorted({"eng", lang3}),
        "overviewTranslations": ["eng"],
        "aliases": aliases,
        "score": movie.n_ratings * 113 + synth.stable("score", movie.movie_id) % 100,
        "runtime": movie.runtime,
        "status": {"id": 5, "name": "Released", "recordType": "movie", "keepUpdated": True},
        "lastUpdated": f"2024-0{1 + synth.stable('upd', movie.movie_id) % 9}-15 08:30:00",
        "year": "" if movie.year is None else str(movie.year),
    }


def _artworks(movie: Movie) -> list[dict[str, Any]]:
    result = []
    plan = (("posters", "poster", 680, 1000, 1, 6), ("backgrounds", "background", 1920, 1080, 0, 6))
    for folder, kind, width, height, low, high in plan:
        count = max(1 if folder == "posters" else 0, content.image_count(movie, folder, low, high))
        for number in range(count):
            url = _image(movie, folder, number)
            text = kind == "poster" and synth.unit("tvdb-text", movie.movie_id, number) < 0.8
            result.append(
                {
                    "id": 60_000_000
                    + synth.stable("art", movie.movie_id, folder, number) % 9_000_000,
                    "image": url,
                    "thumbnail": url.replace(".jpg", "_t.jpg"),
                    "language": "eng" if text else None,
                    "type": ARTWORK_TYPES[kind],
                    "score": 100_000 - number,
                    "width": width,
                    "height": height,
                    "includesText": text,
                }
            )
    return result


def extended_record(movie: Movie, *, translations: bool = False) -> dict[str, Any]:
    """``MovieExtendedRecord``; ``translations`` adds the ``meta=translations`` block."""
    lang = content.original_language(movie)
    english, _, lang3, _, country3, _ = content.language_info(lang)
    releases = [
        {
            "country": country3 if r.country != "US" else "usa",
            "date": r.date.isoformat(),
            "detail": None,
        }
        for r in content.releases(movie)
        if r.type in (1, 3) and r.date.year == movie.year
    ][:1]
    cert = content.certification(movie)
    characters = []
    for p in content.cast(movie):
        characters.append(
            {
                "id": 80_000_000 + synth.stable("char", movie.movie_id, p.person_id) % 9_000_000,
                "name": p.role,
                "peopleId": p.person_id,
                "personName": p.name,
                "peopleType": "Actor",
                "sort": p.order,
                "isFeatured": p.order < 3,
                "movieId": movie.tvdb_id,
                "seriesId": None,
                "episodeId": None,
                "image": None,
                "personImgURL": None,
                "url": f"https://thetvdb.sim.invalid/people/{p.person_id}",
            }
        )
    for p in content.crew(movie):
        if p.department in ("Directing", "Writing"):
            characters.append(
                {
                    "id": 80_000_000
                    + synth.stable("char", movie.movie_id, p.order, p.role) % 9_000_000,
                    "name": None,
                    "peopleId": p.person_id,
                    "personName": p.name,
                    "peopleType": "Director" if p.role == "Director" else "Writer",
                    "sort": p.order,
                    "isFeatured": False,
                    "movieId": movie.tvdb_id,
                    "seriesId": None,
                    "episodeId": None,
                    "image": None,
                    "personImgURL": None,
                    "url": f"https://thetvdb.sim.invalid/people/{p.person_id}",
                }
            )
    genres = dict(zip(content.genre_values(movie, 3), content.genre_values(movie, 4), strict=False))
    studios = [
        {"id": cid, "name": name, "parentStudio": None} for cid, name, _ in content.companies(movie)
    ]
    record = {
        **base_record(movie),
        "trailers": [
            {
                "id": 1_000 + n,
                "language": "eng",
                "name": "[simulated] Trailer",
                "url": f"https://www.youtube.com/watch?v={key}",
                "runtime": 0,
            }
            for n, key in enumerate(content.trailer_keys(movie)[:1])
        ],
        "genres": [
            {"id": gid, "name": name, "slug": synth.slug(name)} for gid, name in genres.items()
        ],
        "releases": releases,
        "first_release": releases[0] if releases else None,
        "artworks": _artworks(movie),
        "remoteIds": _remote_ids(movie),
        "characters": characters,
        "budget": None,
        "boxOffice": None,
        "boxOfficeUS": None,
        "originalCountry": country3,
        "originalLanguage": lang3,
        "audioLanguages": [lang3],
        "subtitleLanguages": ["eng"],
        "studios": studios,
        "awards": [],
        "tagOptions": None,
        "lists": [],
        "contentRatings": [
            {
                "id": 200 + synth.stable("cr", cert) % 100,
                "name": cert,
                "country": "usa",
                "description": "",
                "contentType": "movie",
                "order": 0,
                "fullname": None,
            }
        ]
        if movie.year is not None
        else [],
        "companies": {
            "studio": [],
            "network": [],
            "production": [],
            "distributor": [],
            "special_effects": [],
        },
        "inspirations": [],
        "production_countries": [{"id": 1, "country": country3, "name": english}],
        "spoken_languages": [lang3],
    }
    if translations:
        names = [{"name": movie.title, "language": "eng", "isPrimary": True, "isAlias": False}]
        if movie.original_title:
            names.append(
                {
                    "name": movie.original_title,
                    "language": lang3,
                    "isPrimary": False,
                    "isAlias": False,
                }
            )
        record["translations"] = {
            "nameTranslations": names,
            "overviewTranslations": [
                {"overview": content.plot(movie, full=True), "language": "eng", "isPrimary": True}
            ],
            "alias": list(movie.alternatives),
        }
    return record


def search_result(movie: Movie) -> dict[str, Any]:
    """A movie as ``/search`` lists it (snake_case, ids as strings)."""
    lang3 = content.language_info(content.original_language(movie))[2]
    country3 = content.language_info(content.original_language(movie))[4]
    image = _image(movie, "posters", 0)
    date = content.release_in_movielens_year(movie)
    return {
        "objectID": f"movie-{movie.tvdb_id}",
        "aliases": list(movie.alternatives),
        "country": country3,
        "director": ", ".join(content.directors(movie)),
        "first_air_time": date.isoformat() if date else "",
        "genres": content.genre_values(movie, 4),
        "id": f"movie-{movie.tvdb_id}",
        "image_url": image,
        "name": movie.title,
        "overview": content.plot(movie),
        "overviews": {"eng": content.plot(movie)},
        "primary_language": lang3,
        "remote_ids": _remote_ids(movie),
        "slug": synth.slug(movie.title),
        "status": "Released",
        "studios": [name for _, name, _ in content.companies(movie)],
        "thumbnail": image.replace(".jpg", "_t.jpg"),
        "translations": {"eng": movie.title},
        "tvdb_id": str(movie.tvdb_id),
        "type": "movie",
        "year": "" if movie.year is None else str(movie.year),
    }


def _unrelated_series(movie: Movie) -> dict[str, Any]:
    series_id = 300_000 + synth.stable("series", movie.movie_id) % 600_000
    return {
        "series": {
            "id": series_id,
            "name": f"[simulated] {synth.person_name(series_id).split(' ')[1]} Tonight",
            "slug": f"simulated-series-{series_id}",
            "image": f"https://artworks.thetvdb.sim.invalid/banners/series/{series_id}/posters/x.jpg",
            "year": "2011",
            "status": {"id": 2, "name": "Ended", "recordType": "series", "keepUpdated": False},
        }
    }


class TvdbSim(SimProvider):
    """TheTVDB v4 at ``/tvdb/v4``."""

    name: ClassVar[str] = "tvdb"
    prefix: ClassVar[str] = "/tvdb/v4"

    def __init__(self, world: World, keys: SimKeys) -> None:
        super().__init__(world, keys)
        self._tokens: set[str] = set()
        self._lock = threading.Lock()

    def endpoint(self, request: SimRequest) -> str:
        parts = request.path.strip("/").split("/")
        if parts == ["login"]:
            return "/login"
        if parts == ["search"]:
            return "/search"
        if parts[:2] == ["search", "remoteid"] and len(parts) == 3:
            return "/search/remoteid/{id}"
        if parts[0] == "movies" and len(parts) == 2:
            return "/movies/{id}"
        if parts[0] == "movies" and len(parts) == 3 and parts[2] == "extended":
            return "/movies/{id}/extended"
        return "other"

    def key_of(self, request: SimRequest) -> str | None:
        return bearer(request)

    def authorised(self, request: SimRequest) -> bool:
        token = bearer(request)
        with self._lock:
            return token is not None and token in self._tokens

    def error(self, status: int, *, retry_after: int | None = None) -> Reply:
        messages = {
            429: "TooManyRequests: rate limit exceeded",
            502: "BadGateway: upstream unavailable",
            503: "ServiceUnavailable: try again later",
        }
        reply = _fail(status, messages.get(status, "InternalServerError: unexpected error"))
        if retry_after is not None:
            return Reply(status=status, body=reply.body, headers={"Retry-After": str(retry_after)})
        return reply

    def handle(self, request: SimRequest) -> Reply:
        parts = request.path.strip("/").split("/")
        if parts == ["login"]:
            if request.method != "POST":
                return _fail(405, "MethodNotAllowed: use POST")
            return self._login(request)
        if not self.authorised(request):
            return _fail(401, "Unauthorized")
        if request.method != "GET":
            return _fail(405, "MethodNotAllowed: use GET")
        if parts == ["search"]:
            return self._search(request)
        if parts[:2] == ["search", "remoteid"] and len(parts) == 3:
            return self._remote_id(parts[2])
        if parts[0] == "movies" and len(parts) in (2, 3):
            if not parts[1].isdigit():
                return _fail(400, "InvalidValueType: Invalid movie id")
            if len(parts) == 3 and parts[2] != "extended":
                return _fail(404, "NotFoundException: not found")
            movie = self.world.tvdb(int(parts[1]))
            if movie is None:
                return _fail(404, "NotFoundException: Movie not found")
            if len(parts) == 2:
                return _ok(base_record(movie))
            meta = request.query.get("meta", "")
            return _ok(extended_record(movie, translations="translations" in meta.split(",")))
        return _fail(404, "NotFoundException: not found")

    def _login(self, request: SimRequest) -> Reply:
        try:
            payload = json.loads(request.body or b"{}")
        except ValueError:
            return _fail(400, "InvalidValueType: invalid JSON body")
        if not isinstance(payload, dict):
            return _fail(400, "InvalidValueType: invalid JSON body")
        if payload.get("apikey") != self.keys.tvdb_api_key:
            return _fail(401, "InvalidAPIKey: apikey invalid")
        if self.keys.tvdb_pin is not None:
            pin = payload.get("pin")
            if not pin:
                return _fail(400, "InvalidValueType: pin required")
            if pin != self.keys.tvdb_pin:
                return _fail(401, "Unauthorized")
        token = secrets.token_urlsafe(48)
        with self._lock:
            self._tokens.add(token)
        return _ok({"token": token})

    def _remote_id(self, remote_id: str) -> Reply:
        value = remote_id.strip()
        movie: Movie | None = None
        if value.startswith("tt"):
            movie = self.world.imdb(value)
        elif value.isdigit():
            movie = self.world.tmdb(int(value))
        if movie is None or not movie.in_tvdb:
            return _ok([])
        data: list[dict[str, Any]] = [{"movie": base_record(movie)}]
        if movie.tvdb_extra_entry:
            data.insert(0, _unrelated_series(movie))
        return _ok(data)

    def _search(self, request: SimRequest) -> Reply:
        query = (request.query.get("query") or request.query.get("q") or "").strip()
        if not query:
            return _fail(400, "InvalidValueType: query is required")
        kind = request.query.get("type", "movie").strip().lower()
        found = [m for m in self.world.search(query) if m.in_tvdb] if kind == "movie" else []
        year = request.query.get("year", "").strip()
        if year:
            found = [m for m in found if str(m.year) == year]
        if len(found) > MAX_RESULTS:
            return _fail(400, "InvalidValueType: Max results overflow")
        offset = _int(request.query.get("offset"), 0)
        limit = max(1, min(_int(request.query.get("limit"), DEFAULT_LIMIT), 500))
        chunk = found[offset : offset + limit]
        links = {
            "prev": None,
            "self": None,
            "next": None,
            "total_items": len(found),
            "page_size": limit,
        }
        return _ok([search_result(m) for m in chunk], links=links)


def _int(value: str | None, default: int) -> int:
    return int(value) if value is not None and value.isdigit() else default
