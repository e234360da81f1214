"""Simulated OMDb: ``GET /?apikey=…`` with ``i=``, ``t=`` or ``s=``; every value a string."""

from __future__ import annotations

import re
from typing import Any, ClassVar

from metarr_sim import content, synth
from metarr_sim.base import Reply, SimProvider, SimRequest
from metarr_sim.titles import normalise
from metarr_sim.world import Movie

__all__ = ["OmdbSim", "record", "search_item"]

PAGE_SIZE = 10
MAX_RESULTS = 1000
_IMDB_ID = re.compile(r"^tt\d{7,8}$")
NA = "N/A"


def _fail(message: str, status: int = 200) -> Reply:
    return Reply(status=status, body={"Response": "False", "Error": message})


def _year(movie: Movie) -> str:
    return NA if movie.year is None else str(movie.year)


def _poster(movie: Movie) -> str:
    if synth.unit("omdb-poster?", movie.movie_id) < 0.04:
        return NA
    name = synth.token(40, "omdb-poster", movie.movie_id)
    return f"{synth.IMAGE_HOSTS['omdb']}/MV5B{name}@@._V1_SX300.jpg"


def _join(values: list[str]) -> str:
    return ", ".join(values) if values else NA


def record(movie: Movie, *, full_plot: bool = False) -> dict[str, Any]:
    """The single-title body (``i=`` / ``t=``), with OMDb's field order."""
    rating = content.imdb_rating(movie)
    ratings = []
    if rating is not None:
        ratings.append({"Source": "Internet Movie Database", "Value": f"{rating}/10"})
    rotten = content.rotten_tomatoes(movie)
    if rotten is not None:
        ratings.append({"Source": "Rotten Tomatoes", "Value": f"{rotten}%"})
    meta = content.metascore(movie)
    if meta is not None:
        ratings.append({"Source": "Metacritic", "Value": f"{meta}/100"})
    lang = content.original_language(movie)
    english, _, _, _, _, country = content.language_info(lang)
    languages = [english] if lang == "en" else [english, "English"]
    genres = content.genre_values(movie, 2)
    wins = synth.stable("wins", movie.movie_id) % 12
    awards = f"{wins} wins & {wins * 2 + 1} nominations" if wins and movie.n_ratings > 10 else NA
    cert = content.certification(movie)
    return {
        "Title": movie.title,
        "Year": _year(movie),
        "Rated": cert if movie.year is not None else NA,
        "Released": content.omdb_date(content.release_in_movielens_year(movie)),
        "Runtime": f"{movie.runtime} min",
        "Genre": _join(genres),
        "Director": _join(content.directors(movie)),
        "Writer": _join(content.writers(movie)),
        "Actors": _join([p.name for p in content.cast(movie)[:3]]),
        "Plot": content.plot(movie, full=full_plot),
        "Language": ", ".join(languages),
        "Country": country.replace("United States of America", "United States"),
        "Awards": awards,
        "Poster": _poster(movie),
        "Ratings": ratings,
        "Metascore": NA if meta is None else str(meta),
        "imdbRating": NA if rating is None else f"{rating:.1f}",
        "imdbVotes": NA if rating is None else f"{content.imdb_votes(movie):,}",
        "imdbID": movie.imdb_id,
        "Type": "movie",
        "DVD": NA,
        "BoxOffice": NA if movie.n_ratings < 30 else f"${movie.n_ratings * 812_345:,}",
        "Production": NA,
        "Website": NA,
        "Response": "True",
    }


def search_item(movie: Movie) -> dict[str, str]:
    """A movie as ``s=`` lists it."""
    return {
        "Title": movie.title,
        "Year": _year(movie),
        "imdbID": movie.imdb_id or "",
        "Type": "movie",
        "Poster": _poster(movie),
    }


class OmdbSim(SimProvider):
    """OMDb at ``/omdb`` (the real API's single path ``/``)."""

    name: ClassVar[str] = "omdb"
    prefix: ClassVar[str] = "/omdb"

    def endpoint(self, request: SimRequest) -> str:
        for param in ("i", "t", "s"):
            if param in request.query:
                return f"?{param}="
        return "other"

    def key_of(self, request: SimRequest) -> str | None:
        return request.query.get("apikey")

    def error(self, status: int, *, retry_after: int | None = None) -> Reply:
        # OMDb documents no per-second limit, only the daily quota ("Request limit reached!",
        # HTTP 401: `quota_exceeded`); the simulated burst limit must not wear the quota's text,
        # or a client rightly reads every 429 of the token bucket as "paused until midnight".
        message = "Too many requests." if status == 429 else "Something went wrong."
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else {}
        return Reply(status=status, body={"Response": "False", "Error": message}, headers=headers)

    def authorised(self, request: SimRequest) -> bool:
        return request.query.get("apikey") == self.keys.omdb_api_key

    def quota_exceeded(self) -> Reply:
        return _fail("Request limit reached!", 401)

    def handle(self, request: SimRequest) -> Reply:
        key = request.query.get("apikey")
        if not key:
            return _fail("No API key provided.", 401)
        if key != self.keys.omdb_api_key:
            return _fail("Invalid API key!", 401)
        if request.path not in ("", "/") or request.method != "GET":
            return _fail("Incorrect IMDb ID.", 404)
        kind = request.query.get("type", "").strip().lower()
        if kind and kind != "movie":
            # The world holds movies only.
            return _fail("Error getting data." if "i" in request.query else "Movie not found!")
        full = request.query.get("plot", "short").lower() == "full"
        if "i" in request.query:
            imdb_id = request.query["i"].strip()
            if not _IMDB_ID.match(imdb_id):
                return _fail("Incorrect IMDb ID.")
            movie = self.world.imdb(imdb_id)
            if movie is None:
                return _fail("Error getting data.")
            return Reply(status=200, body=record(movie, full_plot=full))
        year = request.query.get("y", "").strip()
        if "t" in request.query:
            return self._title(request.query["t"], year, full)
        if "s" in request.query:
            return self._search(request.query["s"], year, request.query.get("page", "1"))
        return _fail("Incorrect IMDb ID.")

    def _title(self, title: str, year: str, full: bool) -> Reply:
        wanted = normalise(title)
        if not wanted:
            return _fail("Movie not found!")
        for movie in self.world.search(title, alternatives=False):
            if normalise(movie.title) != wanted or movie.imdb_id is None:
                break  # search ranks exact titles first
            if self.world.imdb(movie.imdb_id) is movie and (not year or _year(movie) == year):
                return Reply(status=200, body=record(movie, full_plot=full))
        return _fail("Movie not found!")

    def _search(self, text: str, year: str, page_text: str) -> Reply:
        if not normalise(text):
            return _fail("Incorrect IMDb ID.")
        page = int(page_text) if page_text.isdigit() else 1
        if not 1 <= page <= 100:
            return _fail("The page parameter must be between 1 and 100.")
        found = [
            m
            for m in self.world.search(text, alternatives=False)
            if m.imdb_id is not None and self.world.imdb(m.imdb_id) is m
        ]
        if year:
            found = [m for m in found if _year(m) == year]
        if len(found) > MAX_RESULTS:
            return _fail("Too many results.")
        chunk = found[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        if not chunk:
            return _fail("Movie not found!")
        return Reply(
            status=200,
            body={
                "Search": [search_item(m) for m in chunk],
                "totalResults": str(len(found)),
                "Response": "True",
            },
        )
