"""Simulated TMDB v3: ``/movie/{id}`` (+ sub-resources), ``/find/{id}``, ``/search/movie`` and
the change feed ``/movie/changes``."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar

from metarr_sim import content, synth
from metarr_sim.base import Reply, SimKeys, SimProvider, SimRequest, bearer
from metarr_sim.changes import MAX_DAYS, ChangeLog, window
from metarr_sim.world import Movie, World

PAGE_SIZE = 20
CHANGES_PAGE_SIZE = 100
MAX_APPEND = 20
_ERRORS = {
    3: (401, "Authentication failed: You do not have permissions to access the service."),
    7: (401, "Invalid API key: You must be granted a valid key."),
    9: (503, "Service offline: This service is temporarily offline, try again later."),
    11: (500, "Internal error: Something went wrong, contact TMDB."),
    20: (422, "Invalid date range: Should be a range no longer than 14 days."),
    22: (400, "Invalid page: Pages start at 1 and max at 500. They are expected to be an integer."),
    23: (400, "Invalid date: Format needs to be year-month-day."),
    24: (504, "Your request to the backend server timed out. Try again."),
    25: (429, "Your request count (#) is over the allowed limit of (40)."),
    27: (400, "Too many append to response objects: The maximum number of remote calls is 20."),
    34: (404, "The resource you requested could not be found."),
    43: (502, "Couldn't connect to the backend server."),
}
_STATUS_CODES = {500: 11, 502: 43, 503: 9, 504: 24, 429: 25}
_SIZES = {
    "backdrop_sizes": ["w300", "w780", "w1280", "original"],
    "logo_sizes": ["w45", "w92", "w154", "w185", "w300", "w500", "original"],
    "poster_sizes": ["w92", "w154", "w185", "w342", "w500", "w780", "original"],
    "profile_sizes": ["w45", "w185", "h632", "original"],
    "still_sizes": ["w92", "w185", "w300", "original"],
}


def tmdb_error(code: int, *, success_key: bool = True) -> Reply:
    """TMDB's error envelope (the 404 body has no ``success`` key, as recorded in 2022)."""
    status, message = _ERRORS[code]
    body: dict[str, Any] = {"status_message": message}
    if success_key:
        body["success"] = False
    body["status_code"] = code
    return Reply(status=status, body=body)


def _path(kind: str, movie: Movie, number: int, ext: str = "jpg") -> str:
    return f"/{synth.token(27, 'tmdb', kind, movie.movie_id, number)}.{ext}"


def _date(movie: Movie) -> str:
    releases = content.releases(movie)
    return releases[0].date.isoformat() if releases else ""


def search_item(movie: Movie) -> dict[str, Any]:
    """A movie as ``/search/movie`` and ``/find`` list it."""
    average, count = content.tmdb_vote(movie)
    return {
        "adult": False,
        "backdrop_path": _path("backdrop", movie, 0),
        "genre_ids": content.genre_values(movie, 0),
        "id": movie.tmdb_id,
        "original_language": content.original_language(movie),
        "original_title": movie.original_title or movie.title,
        "overview": content.plot(movie),
        "popularity": movie.popularity,
        "poster_path": _path("poster", movie, 0),
        "release_date": _date(movie),
        "title": movie.title,
        "video": False,
        "vote_average": average,
        "vote_count": count,
    }


def details(movie: Movie) -> dict[str, Any]:
    """The ``/movie/{id}`` body (same top-level keys as the real 2024/2025 responses)."""
    average, count = content.tmdb_vote(movie)
    lang = content.original_language(movie)
    english, native, _, country, _, country_name = content.language_info(lang)
    genres = dict(zip(content.genre_values(movie, 0), content.genre_values(movie, 1), strict=False))
    budget = 0 if synth.unit("budget?", movie.movie_id) < 0.4 else movie.n_ratings * 250_000
    return {
        "adult": False,
        "backdrop_path": _path("backdrop", movie, 0),
        "belongs_to_collection": None,
        "budget": budget,
        "genres": [{"id": k, "name": v} for k, v in genres.items()],
        "homepage": "",
        "id": movie.tmdb_id,
        "imdb_id": movie.imdb_id,
        "origin_country": [country],
        "original_language": lang,
        "original_title": movie.original_title or movie.title,
        "overview": content.plot(movie, full=True),
        "popularity": movie.popularity,
        "poster_path": _path("poster", movie, 0),
        "production_companies": [
            {"id": cid, "logo_path": None, "name": name, "origin_country": origin}
            for cid, name, origin in content.companies(movie)
        ],
        "production_countries": [{"iso_3166_1": country, "name": country_name}],
        "release_date": _date(movie),
        "revenue": budget * 3 if budget else 0,
        "runtime": movie.runtime,
        "spoken_languages": [{"english_name": english, "iso_639_1": lang, "name": native}],
        "status": "Released" if movie.year is not None else "Post Production",
        "tagline": content.tagline(movie),
        "title": movie.title,
        "video": False,
        "vote_average": average,
        "vote_count": count,
    }


def external_ids(movie: Movie) -> dict[str, Any]:
    """The ``external_ids`` block."""
    wikidata = None
    if synth.unit("wikidata?", movie.movie_id) < 0.8:
        wikidata = f"Q{100_000 + synth.stable('wikidata', movie.movie_id) % 9_000_000}"
    return {
        "imdb_id": movie.imdb_id,
        "wikidata_id": wikidata,
        "facebook_id": None,
        "instagram_id": None,
        "twitter_id": None,
    }


def credits(movie: Movie) -> dict[str, Any]:
    """The ``credits`` block."""

    def person(p: content.Person, department: str) -> dict[str, Any]:
        return {
            "adult": False,
            "gender": synth.stable("gender", p.person_id) % 3,
            "id": p.person_id,
            "known_for_department": department,
            "name": p.name,
            "original_name": p.name,
            "popularity": round(synth.unit("ppop", p.person_id) * 20, 3),
            "profile_path": f"/{synth.token(27, 'profile', p.person_id)}.jpg",
        }

    cast = [
        {
            **person(p, "Acting"),
            "cast_id": p.order + 1,
            "character": p.role,
            "credit_id": synth.hex_token(16, "credit", movie.movie_id, p.person_id) + "c0de1234",
            "order": p.order,
        }
        for p in content.cast(movie)
    ]
    crew = [
        {
            **person(p, p.department),
            "credit_id": synth.hex_token(16, "crew", movie.movie_id, p.order) + "c0de5678",
            "department": p.department,
            "job": p.role,
        }
        for p in content.crew(movie)
    ]
    return {"cast": cast, "crew": crew}


def images(movie: Movie, languages: set[str | None] | None) -> dict[str, Any]:
    """The ``images`` block, filtered to ``languages`` (None = textless) when given."""
    lang = content.original_language(movie)

    def make(kind: str, count: int, ratio: float, width: int, ext: str) -> list[dict[str, Any]]:
        items = []
        for number in range(count):
            roll = synth.unit("img-lang", kind, movie.movie_id, number)
            if kind == "logo":
                language: str | None = "en" if roll < 0.8 else lang
            elif kind == "backdrop":
                language = None if roll < 0.7 else "en"
            else:
                language = "en" if roll < 0.6 else (None if roll < 0.8 else lang)
            items.append(
                {
                    "aspect_ratio": ratio,
                    "height": int(width / ratio),
                    "iso_639_1": language,
                    "file_path": _path(kind, movie, number, ext),
                    "vote_average": round(5 + synth.unit("va", kind, movie.movie_id, number), 3),
                    "vote_count": count - number,
                    "width": width,
                }
            )
        if languages is not None:
            items = [item for item in items if item["iso_639_1"] in languages]
        return items

    return {
        "backdrops": make(
            "backdrop", content.image_count(movie, "backdrop", 1, 12), 1.778, 1920, "jpg"
        ),
        "logos": make("logo", content.image_count(movie, "logo", 0, 5), 3.5, 1000, "png"),
        "posters": make("poster", content.image_count(movie, "poster", 1, 14), 0.667, 2000, "jpg"),
    }


def release_dates(movie: Movie) -> dict[str, Any]:
    """The ``release_dates`` block, grouped by country."""
    by_country: dict[str, list[dict[str, Any]]] = {}
    for release in content.releases(movie):
        by_country.setdefault(release.country, []).append(
            {
                "certification": release.certification,
                "descriptors": [],
                "iso_639_1": "",
                "note": release.note,
                "release_date": f"{release.date.isoformat()}T00:00:00.000Z",
                "type": release.type,
            }
        )
    return {
        "results": [
            {"iso_3166_1": country, "release_dates": dates}
            for country, dates in sorted(by_country.items())
        ]
    }


def alternative_titles(movie: Movie) -> dict[str, Any]:
    """The ``alternative_titles`` block (MovieLens' alternative titles)."""
    home = content.language_info(content.original_language(movie))[3]
    titles = []
    for title in movie.alternatives:
        country = home if title == movie.original_title else "US"
        titles.append({"iso_3166_1": country, "title": title, "type": ""})
    return {"titles": titles}


def videos(movie: Movie) -> dict[str, Any]:
    """The ``videos`` block."""
    results = []
    for number, key in enumerate(content.trailer_keys(movie)):
        year = movie.year or 2000
        results.append(
            {
                "iso_639_1": "en",
                "iso_3166_1": "US",
                "name": "[simulated] Official Trailer" if number == 0 else f"Trailer {number + 1}",
                "key": key,
                "site": "YouTube",
                "size": 1080,
                "type": "Trailer",
                "official": number == 0,
                "published_at": f"{max(year, 2006)}-01-15T12:00:00.000Z",
                "id": synth.hex_token(16, "video-id", movie.movie_id, number) + "00000000",
            }
        )
    return {"results": results}


class TmdbSim(SimProvider):
    """TMDB v3 at ``/tmdb/3``."""

    name: ClassVar[str] = "tmdb"
    prefix: ClassVar[str] = "/tmdb/3"

    def __init__(self, world: World, keys: SimKeys, changes: ChangeLog | None = None) -> None:
        super().__init__(world, keys)
        self.changes = changes or ChangeLog()

    def endpoint(self, request: SimRequest) -> str:
        parts = request.path.strip("/").split("/")
        if parts == ["movie", "changes"]:
            return "/movie/changes"
        if parts[0] == "movie" and len(parts) == 2:
            return "/movie/{id}"
        if parts[0] == "movie" and len(parts) == 3:
            return f"/movie/{{id}}/{parts[2]}"
        if parts[0] == "find" and len(parts) == 2:
            return "/find/{id}"
        if request.path.rstrip("/") in ("/search/movie", "/configuration"):
            return request.path.rstrip("/")
        return "other"

    def key_of(self, request: SimRequest) -> str | None:
        return request.query.get("api_key") or bearer(request)

    def error(self, status: int, *, retry_after: int | None = None) -> Reply:
        reply = tmdb_error(_STATUS_CODES.get(status, 11))
        if status != reply.status:
            reply = Reply(status=status, body=reply.body)
        if retry_after is not None:
            return Reply(
                status=reply.status, body=reply.body, headers={"Retry-After": str(retry_after)}
            )
        return reply

    def authorised(self, request: SimRequest) -> bool:
        key = request.query.get("api_key")
        if key is not None:
            return key == self.keys.tmdb_api_key
        return bearer(request) == self.keys.tmdb_token

    def handle(self, request: SimRequest) -> Reply:
        if not self.authorised(request):
            return tmdb_error(7)
        if request.method != "GET":
            return tmdb_error(34, success_key=False)
        parts = request.path.strip("/").split("/")
        if parts == ["configuration"]:
            return Reply(status=200, body=self._configuration())
        if parts == ["search", "movie"]:
            return self._search(request)
        if len(parts) == 2 and parts[0] == "find":
            return self._find(parts[1], request)
        if parts == ["movie", "changes"]:
            return self._changes(request)
        if parts[0] == "movie" and len(parts) in (2, 3):
            movie = self.world.tmdb(int(parts[1])) if parts[1].isdigit() else None
            if movie is None:
                return tmdb_error(34, success_key=False)
            if len(parts) == 3:
                return self._sub_resource(movie, parts[2], request)
            return self._details(movie, request)
        return tmdb_error(34, success_key=False)

    # ------------------------------------------------------------------ handlers

    def _blocks(self, request: SimRequest) -> dict[str, Callable[[Movie], dict[str, Any]]]:
        return {
            "external_ids": external_ids,
            "credits": credits,
            "images": lambda movie: images(movie, self._image_languages(request)),
            "release_dates": release_dates,
            "alternative_titles": alternative_titles,
            "videos": videos,
        }

    @staticmethod
    def _image_languages(request: SimRequest) -> set[str | None] | None:
        include = request.query.get("include_image_language")
        if include:
            return {None if c.strip() == "null" else c.strip().lower() for c in include.split(",")}
        language = request.query.get("language")
        if language:
            return {language.split("-")[0].lower()}
        return None

    def _details(self, movie: Movie, request: SimRequest) -> Reply:
        body = details(movie)
        language = request.query.get("language", "en").split("-")[0].lower()
        if language != "en":
            body["overview"] = f"[simulated {language}] " + body["overview"]
        append = [a.strip() for a in request.query.get("append_to_response", "").split(",")]
        append = [a for a in append if a]
        if len(append) > MAX_APPEND:
            return tmdb_error(27)
        blocks = self._blocks(request)
        for name in dict.fromkeys(append):
            if name in blocks:
                body[name] = blocks[name](movie)
        return Reply(status=200, body=body)

    def _sub_resource(self, movie: Movie, name: str, request: SimRequest) -> Reply:
        blocks = self._blocks(request)
        if name not in blocks:
            return tmdb_error(34, success_key=False)
        block = blocks[name](movie)
        if name == "images":
            return Reply(
                status=200,
                body={
                    "backdrops": block["backdrops"],
                    "id": movie.tmdb_id,
                    "logos": block["logos"],
                    "posters": block["posters"],
                },
            )
        return Reply(status=200, body={"id": movie.tmdb_id, **block})

    def _find(self, external_id: str, request: SimRequest) -> Reply:
        source = request.query.get("external_source")
        if not source:
            return Reply(
                status=400,
                body={
                    "success": False,
                    "status_code": 5,
                    "status_message": "Invalid parameters: Your request parameters are incorrect.",
                },
            )
        results: list[dict[str, Any]] = []
        if source == "imdb_id":
            movie = self.world.tmdb_by_imdb(external_id.strip())
            if movie is not None:
                results.append({**search_item(movie), "media_type": "movie"})
        return Reply(
            status=200,
            body={
                "movie_results": results,
                "person_results": [],
                "tv_results": [],
                "tv_episode_results": [],
                "tv_season_results": [],
            },
        )

    def _search(self, request: SimRequest) -> Reply:
        query = request.query.get("query", "").strip()
        if not query:
            return Reply(status=422, body={"errors": ["query must be provided"]})
        page_text = request.query.get("page", "1")
        if not page_text.isdigit() or not 1 <= int(page_text) <= 500:
            return tmdb_error(22)
        page = int(page_text)
        year = _int(request.query.get("year"))
        primary = _int(request.query.get("primary_release_year"))
        found = [m for m in self.world.search(query) if m.tmdb_id is not None]
        found = [m for m in found if self.world.tmdb(m.tmdb_id or 0) is m]
        if year is not None:
            found = [m for m in found if year in {r.date.year for r in content.releases(m)}]
        if primary is not None:
            found = [m for m in found if m.tmdb_year == primary]
        total = len(found)
        chunk = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        return Reply(
            status=200,
            body={
                "page": page,
                "results": [search_item(m) for m in chunk],
                "total_pages": max(1, math.ceil(total / PAGE_SIZE)),
                "total_results": total,
            },
        )

    def _changes(self, request: SimRequest) -> Reply:
        """Ids changed in the window, ``CHANGES_PAGE_SIZE`` a page: ``{"id", "adult"}`` each."""
        page_text = request.query.get("page", "1")
        if not page_text.isdigit() or not 1 <= int(page_text) <= 500:
            return tmdb_error(22)
        page = int(page_text)
        try:
            start, end = window(
                request.query.get("start_date"), request.query.get("end_date"), self.changes.now()
            )
        except ValueError:
            return tmdb_error(23)
        if (end - start).total_seconds() > MAX_DAYS * 86_400:
            return tmdb_error(20)
        changed = self.changes.between(start, end)
        chunk = changed[(page - 1) * CHANGES_PAGE_SIZE : page * CHANGES_PAGE_SIZE]
        return Reply(
            status=200,
            body={
                "results": [{"id": tmdb_id, "adult": False} for tmdb_id in chunk],
                "page": page,
                "total_pages": max(1, math.ceil(len(changed) / CHANGES_PAGE_SIZE)),
                "total_results": len(changed),
            },
        )

    @staticmethod
    def _configuration() -> dict[str, Any]:
        secure = synth.IMAGE_HOSTS["tmdb"]
        return {
            "images": {
                "base_url": secure.replace("https://", "http://"),
                "secure_base_url": secure,
                **_SIZES,
            },
            "change_keys": ["adult", "alternative_titles", "credits", "images", "release_dates"],
        }


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None
