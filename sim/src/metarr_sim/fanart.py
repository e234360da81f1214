"""Simulated Fanart.tv v3: ``GET /movies/{tmdb id or imdb id}`` (all values strings)."""

from __future__ import annotations

from typing import Any, ClassVar

from metarr_sim import content, synth
from metarr_sim.base import Reply, SimProvider, SimRequest
from metarr_sim.world import Movie

__all__ = ["FanartSim", "movie_body"]

# kind → (extension, fewest, most)
KINDS: dict[str, tuple[str, int, int]] = {
    "hdmovielogo": ("png", 0, 8),
    "hdmovieclearart": ("png", 0, 6),
    "movielogo": ("png", 0, 3),
    "movieart": ("png", 0, 2),
    "movieposter": ("jpg", 0, 10),
    "moviebackground": ("jpg", 1, 12),
    "moviebanner": ("jpg", 0, 4),
    "moviethumb": ("jpg", 0, 6),
    "moviedisc": ("png", 0, 5),
}
_TEXTLESS = {"moviebackground", "moviethumb"}


def _fail(status: int, message: str) -> Reply:
    return Reply(status=status, body={"status": "error", "error message": message})


def movie_body(movie: Movie) -> dict[str, Any]:
    """The ``/movies/{id}`` body: name, ids, then the image arrays that are not empty."""
    body: dict[str, Any] = {
        "name": movie.title,
        "tmdb_id": str(movie.tmdb_id),
        "imdb_id": movie.imdb_id or "",
    }
    slug = synth.slug(movie.title)
    lang = content.original_language(movie)
    for kind, (ext, low, high) in KINDS.items():
        items = []
        for number in range(content.image_count(movie, kind, low, high)):
            image_id = 10_000 + synth.stable("fanart-id", movie.movie_id, kind, number) % 190_000
            roll = synth.unit("fanart-lang", movie.movie_id, kind, number)
            if kind in _TEXTLESS:
                language = "" if roll < 0.5 else ("00" if roll < 0.8 else "en")
            else:
                language = "en" if roll < 0.7 else ("00" if roll < 0.85 else lang)
            name = f"{slug}-{synth.hex_token(13, 'fanart', movie.movie_id, kind, number)}.{ext}"
            item = {
                "id": str(image_id),
                "url": f"{synth.IMAGE_HOSTS['fanart']}/{movie.tmdb_id}/{kind}/{name}",
                "lang": language,
                "likes": str(synth.stable("likes", image_id) % 15),
            }
            if kind == "moviedisc":
                item["disc"] = "1"
                item["disc_type"] = "bluray" if roll < 0.6 else "dvd"
            items.append(item)
        if items:
            items.sort(key=lambda i: -int(i["likes"]))
            body[kind] = items
    return body


class FanartSim(SimProvider):
    """Fanart.tv v3 at ``/fanart/v3``."""

    name: ClassVar[str] = "fanart"
    prefix: ClassVar[str] = "/fanart/v3"

    def endpoint(self, request: SimRequest) -> str:
        parts = request.path.strip("/").split("/")
        return "/movies/{id}" if len(parts) == 2 and parts[0] == "movies" else "other"

    def key_of(self, request: SimRequest) -> str | None:
        return request.query.get("api_key") or request.headers.get("api-key")

    def authorised(self, request: SimRequest) -> bool:
        return self.key_of(request) == self.keys.fanart_api_key

    def error(self, status: int, *, retry_after: int | None = None) -> Reply:
        messages = {429: "Too Many Requests", 502: "Bad Gateway", 503: "Service Unavailable"}
        reply = _fail(status, messages.get(status, "Internal Server Error"))
        if retry_after is not None:
            return Reply(status=status, body=reply.body, headers={"Retry-After": str(retry_after)})
        return reply

    def handle(self, request: SimRequest) -> Reply:
        key = self.key_of(request)
        if not key:
            return _fail(401, "API key is required")
        if key != self.keys.fanart_api_key:
            return _fail(401, "Invalid API key")
        parts = request.path.strip("/").split("/")
        if request.method != "GET" or len(parts) != 2 or parts[0] != "movies":
            return _fail(404, "Not found")
        value = parts[1].strip()
        movie: Movie | None = None
        if value.isdigit():
            movie = self.world.tmdb(int(value))
        elif value.startswith("tt"):
            movie = self.world.tmdb_by_imdb(value)
        if movie is None or not movie.in_fanart:
            return _fail(404, "Not found")
        return Reply(status=200, body=movie_body(movie))
