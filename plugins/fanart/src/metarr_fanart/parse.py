"""Turning a Fanart.tv v3 ``/movies/{id}`` body into a `metarr.ProviderResult`.

Pure functions, no I/O. Every field is optional and every value is a string in v3; anything of
the wrong type is skipped rather than trusted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from metarr import IMAGE_KINDS, Ids, Image, ProviderResult

# Fanart key -> (metarr image kind, HD rank: 0 for the HD variant, 1 for the older SD one).
IMAGE_KEYS: dict[str, tuple[str, int]] = {
    "hdmovielogo": ("logo", 0),
    "movielogo": ("logo", 1),
    "hdmovieclearart": ("clearart", 0),
    "movieart": ("clearart", 1),
    "movieposter": ("poster", 0),
    "moviebackground": ("backdrop", 0),
    "moviebanner": ("banner", 0),
    "moviethumb": ("thumb", 0),
    "moviedisc": ("discart", 0),
}


def is_error_body(body: object) -> bool:
    """Whether a body is Fanart's error envelope ``{"status": "error", "error message": ...}``."""
    return isinstance(body, Mapping) and body.get("status") == "error"


def error_message(body: object) -> str | None:
    """The ``"error message"`` text of an error envelope (short, single line), or None."""
    if not isinstance(body, Mapping):
        return None
    message = body.get("error message")
    if not isinstance(message, str):
        return None
    cleaned = " ".join(message.split())[:200]
    return cleaned or None


def parse_ids(body: Mapping[str, Any]) -> Ids:
    """The ids the body echoes (``tmdb_id``, ``imdb_id``, strings in v3); bad ones dropped."""
    return Ids.lenient(tmdb=body.get("tmdb_id"), imdb=body.get("imdb_id"))


def parse_images(body: Mapping[str, Any], provider: str) -> list[Image]:
    """Every usable image, grouped by kind, HD variants first, then most liked first.

    Hostile or broken URLs are dropped (`Image.safe`), duplicates kept once. ``likes`` becomes
    ``score`` (``votes`` stays None: a like is not a rating vote); ``lang`` ``"00"``/``""``
    becomes None (textless); disc art keeps its ``disc_type`` (``"bluray"``, ``"dvd"``, …).
    """
    ranked: list[tuple[int, int, float, int, Image]] = []
    seen: set[str] = set()
    position = 0
    for key, (kind, hd_rank) in IMAGE_KEYS.items():
        items = body.get(key)
        if not isinstance(items, list):
            continue
        for item in items:
            image = _image(item, kind, provider)
            if image is None or image.url in seen:
                continue
            seen.add(image.url)
            likes = image.score if image.score is not None else -1.0
            ranked.append((IMAGE_KINDS.index(kind), hd_rank, -likes, position, image))
            position += 1
    ranked.sort(key=lambda entry: entry[:4])
    return [entry[4] for entry in ranked]


def _image(item: object, kind: str, provider: str) -> Image | None:
    if not isinstance(item, Mapping):
        return None
    disc_type = item.get("disc_type") if kind == "discart" else None
    return Image.safe(
        provider=provider,
        kind=kind,
        url=item.get("url"),
        language=_language(item.get("lang")),
        score=item.get("likes"),
        votes=None,
        disc_type=disc_type.strip().lower() if isinstance(disc_type, str) else None,
    )


def _language(value: object) -> str | None:
    if not isinstance(value, str) or value.strip() in ("", "00"):
        return None
    return value


def parse_movie(body: Mapping[str, Any], provider: str) -> ProviderResult:
    """The provider result for one movie body (``raw`` keeps the body under ``"movie"``).

    ``title`` is Fanart's ``name``: evidence for matching only, since Fanart ranks no text field.
    """
    name = body.get("name")
    return ProviderResult(
        provider=provider,
        ids=parse_ids(body),
        title=name if isinstance(name, str) else None,
        images=parse_images(body, provider),
        raw={"movie": dict(body)},
    )
