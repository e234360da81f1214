"""The yardstick: the script a user would write instead of metarr.

    python benchmarks/plain_script.py IDS.txt [--threads 3]

For each IMDb id (one a line), the providers one after another, with the libraries people
reach for: tmdbsimple (TMDB find by IMDb id, then the details with the same appended blocks
metarr asks for), omdb (by IMDb id), requests (Fanart.tv by tmdb id; TheTVDB: one login, then
the remote-id search and the movie's extended record). ``--threads`` movies at once; nothing is
merged or stored. Base URLs and keys come from the environment (``TMDB_BASE_URL``,
``TMDB_API_KEY``, ``OMDB_*``, ``FANART_*``, ``TVDB_*``); the benchmark points them at the
simulator. Prints one JSON line: movies, how many TMDB found, and the seconds the movies took
(start-up excluded, as metarr's batch summary does).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import omdb  # type: ignore[import-untyped]
import requests
import tmdbsimple as tmdb  # type: ignore[import-untyped]

APPEND = "external_ids,credits,images,release_dates,alternative_titles"


class PlainScript:
    """Everything four providers know about a movie, the straightforward way."""

    def __init__(self, env: dict[str, str]) -> None:
        tmdb.API_KEY = env["TMDB_API_KEY"]
        self.tmdb_url = env["TMDB_BASE_URL"].rstrip("/")
        self.omdb = omdb.OMDBClient(apikey=env["OMDB_API_KEY"])
        self.omdb.url = env["OMDB_BASE_URL"].rstrip("/") + "/"
        self.fanart_url = env["FANART_BASE_URL"].rstrip("/")
        self.fanart_key = env["FANART_API_KEY"]
        self.tvdb_url = env["TVDB_BASE_URL"].rstrip("/")
        self.http = requests.Session()
        login = self.http.post(f"{self.tvdb_url}/login", json={"apikey": env["TVDB_API_KEY"]})
        login.raise_for_status()
        self.tvdb_headers = {"Authorization": f"Bearer {login.json()['data']['token']}"}

    def _tmdb(self, thing: Any) -> Any:
        thing.base_uri = self.tmdb_url  # tmdbsimple has no setting for it
        return thing

    def movie(self, imdb_id: str) -> dict[str, Any]:
        """What each provider says about the movie (None where it does not know it)."""
        found = self._tmdb(tmdb.Find(imdb_id)).info(external_source="imdb_id")["movie_results"]
        details = None
        if found:
            details = self._tmdb(tmdb.Movies(found[0]["id"])).info(append_to_response=APPEND)
        ratings = self.omdb.imdbid(imdb_id, fullplot=True)
        art = self._get(
            f"{self.fanart_url}/movies/{details['id'] if details else imdb_id}",
            params={"api_key": self.fanart_key},
        )
        tvdb = None
        remote = self._get(f"{self.tvdb_url}/search/remoteid/{imdb_id}", headers=self.tvdb_headers)
        for entry in (remote or {}).get("data") or []:
            if isinstance(entry.get("movie"), dict):
                tvdb = self._get(
                    f"{self.tvdb_url}/movies/{entry['movie']['id']}/extended",
                    params={"meta": "translations"},
                    headers=self.tvdb_headers,
                )
                break
        return {"tmdb": details, "omdb": ratings, "fanart": art, "tvdb": tvdb}

    def _get(self, url: str, **kwargs: Any) -> Any:
        response = self.http.get(url, timeout=10, **kwargs)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()


def main(argv: list[str] | None = None) -> int:
    """Look up every id of the file; print the summary line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("ids", help="a file of IMDb ids, one a line")
    parser.add_argument("--threads", type=int, default=3, help="movies at once")
    args = parser.parse_args(argv)
    with open(args.ids, encoding="utf-8") as handle:
        ids = [line.strip() for line in handle if line.strip()]
    started = time.perf_counter()
    script = PlainScript(dict(os.environ))
    with ThreadPoolExecutor(args.threads) as pool:
        movies = list(pool.map(script.movie, ids))
    seconds = time.perf_counter() - started
    found = sum(1 for m in movies if m["tmdb"] is not None)
    print(json.dumps({"movies": len(movies), "found": found, "seconds": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
