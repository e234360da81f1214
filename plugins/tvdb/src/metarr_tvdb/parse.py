"""Pure parsing of TheTVDB v4 bodies into metarr models (API.md §4).

Every field is optional and wrong types are ignored; only the envelope (`unwrap`) is strict.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, TypeVar

from metarr import (
    CastMember,
    CrewMember,
    Ids,
    Image,
    InvalidResponseError,
    ProviderResult,
    SearchHit,
    sanitize,
)

T = TypeVar("T")

ARTWORK_HOST = "https://artworks.thetvdb.com"
ENGLISH = "eng"
# Movie artwork type ids (API.md §4.6): 14/15 confirmed by TVDB's own scraper, the rest
# seen in third-party code. Unknown types are skipped.
MOVIE_ARTWORK_TYPES: Mapping[int, str] = {
    14: "poster",
    15: "backdrop",
    16: "banner",
    24: "clearart",
    25: "logo",
}
# Series artwork type ids (API.md §4.6), used to test the shared parser on the series sample.
SERIES_ARTWORK_TYPES: Mapping[int, str] = {
    1: "banner",
    2: "poster",
    3: "backdrop",
    22: "clearart",
    23: "logo",
}
CAST_TYPES = frozenset({"actor", "guest star"})
DEPARTMENTS: Mapping[str, str] = {
    "director": "Directing",
    "writer": "Writing",
    "creator": "Writing",
    "producer": "Production",
    "executive producer": "Production",
    "showrunner": "Production",
}
_ERROR_TYPE = re.compile(r"^([A-Za-z][A-Za-z0-9_]{0,60})\s*:")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_OBJECT_ID = re.compile(r"^movie-(\d+)$")
_NOT_LETTER = re.compile(r"[^a-z]")


# -- envelope ---------------------------------------------------------------------------------


def error_type(body: Any) -> str | None:
    """The error type opening a failure ``message`` (``"InvalidAPIKey"``), if any.

    Only this identifier is ever shown: the rest of a server message is not trusted to be
    free of what we sent.
    """
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, str):
        return None
    match = _ERROR_TYPE.match(message.strip())
    return match.group(1) if match else None


def message_text(body: Any) -> str:
    """The failure ``message`` in lower case ("" when absent): for matching, never for display."""
    message = body.get("message") if isinstance(body, dict) else None
    return message.lower() if isinstance(message, str) else ""


def unwrap(provider: str, body: Any, expected: type[T], what: str) -> T:
    """The ``data`` of a successful envelope, which must be an instance of ``expected``.

    Raises `InvalidResponseError` for a body that is not an envelope, a ``status`` other than
    ``"success"`` or ``data`` of the wrong type.
    """
    if not isinstance(body, dict):
        raise InvalidResponseError(provider, f"{what}: expected a JSON object envelope")
    status = body.get("status")
    if status != "success":
        kind = error_type(body)
        detail = f" ({kind})" if kind else ""
        shown = status if isinstance(status, str) and len(status) <= 20 else "missing"
        raise InvalidResponseError(provider, f"{what}: status is {shown!r}, not 'success'{detail}")
    data = body.get("data")
    if not isinstance(data, expected):
        raise InvalidResponseError(
            provider, f"{what}: data is {type(data).__name__}, expected {expected.__name__}"
        )
    return data


# -- small helpers ----------------------------------------------------------------------------


def _dicts(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    return (value.strip() or None) if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def artwork_url(value: Any) -> str | None:
    """An absolute artwork URL: paths without a host get ``https://artworks.thetvdb.com``."""
    text = _str(value)
    if text is None:
        return None
    if text.startswith("//"):
        text = "https:" + text
    elif not _SCHEME.match(text):  # a path on TVDB's artwork host; other schemes are refused
        text = f"{ARTWORK_HOST}/{text.lstrip('/')}"
    return sanitize.url(text)


def remote_ids(entries: Any) -> dict[str, str]:
    """``imdb``/``tmdb`` ids from ``remoteIds``/``remote_ids``, matched on ``sourceName``."""
    found: dict[str, str] = {}
    for entry in _dicts(entries):
        source = _NOT_LETTER.sub("", str(entry.get("sourceName") or "").lower())
        value = entry.get("id")
        if isinstance(value, bool) or not isinstance(value, str | int):
            continue
        if source == "imdb":
            kind = "imdb"
        elif source.startswith("themoviedb") or source == "tmdb":
            kind = "tmdb"
        else:
            continue
        if kind not in found and Ids.lenient(**{kind: value}).get(kind) is not None:
            found[kind] = str(value).strip()
    return found


def _translations(record: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    block = record.get("translations")
    return _dicts(block.get(key)) if isinstance(block, dict) else []


def _in_language(entries: Iterable[dict[str, Any]], language: str) -> dict[str, Any] | None:
    for entry in entries:
        if entry.get("language") == language:
            return entry
    return None


def _release_date(record: Mapping[str, Any]) -> date | None:
    """Prefer the ``global`` release, then ``usa``, then the earliest (API.md §4.5)."""
    entries = _dicts(record.get("releases"))
    first = record.get("first_release")
    if isinstance(first, dict):
        entries.append(first)
    dated = [
        (str(entry.get("country") or "").lower(), parsed)
        for entry in entries
        if (parsed := sanitize.release_date(entry.get("date"))) is not None
    ]
    for preferred in ("global", "usa"):
        for country, parsed in dated:
            if country == preferred:
                return parsed
    return min((parsed for _, parsed in dated), default=None)


def _content_rating(record: Mapping[str, Any]) -> str | None:
    for entry in _dicts(record.get("contentRatings")):
        if str(entry.get("country") or "").lower() != "usa":
            continue
        name = _str(entry.get("name")) or _str(entry.get("fullName")) or _str(entry.get("fullname"))
        if name is not None:
            return name
    return None


# -- images and people ------------------------------------------------------------------------


def parse_images(
    record: Mapping[str, Any],
    provider: str,
    types: Mapping[int, str] = MOVIE_ARTWORK_TYPES,
) -> list[Image]:
    """The record's ``image`` as the first poster, then its ``artworks`` of known types.

    Artworks are ordered by score (highest first); the ``image`` takes the details of the
    artwork with the same URL when there is one. Languages keep TVDB's 3-letter codes.
    """
    artworks: list[tuple[float, Image]] = []
    for art in _dicts(record.get("artworks")):
        art_type = _int(art.get("type"))
        kind = types.get(art_type) if art_type is not None else None
        if kind is None:
            continue
        image = Image.safe(
            provider=provider,
            kind=kind,
            url=artwork_url(art.get("image")),
            language=art.get("language"),
            width=art.get("width"),
            height=art.get("height"),
            score=art.get("score"),
        )
        if image is not None:
            artworks.append((image.score or 0.0, image))
    artworks.sort(key=lambda pair: -pair[0])
    images = [image for _, image in artworks]
    primary_url = artwork_url(record.get("image"))
    if primary_url is None:
        return images
    same = [image for image in images if image.url == primary_url]
    if same:
        images.remove(same[0])
        return [same[0], *images]
    primary = Image.safe(provider=provider, kind="poster", url=primary_url)
    return [primary, *images] if primary is not None else images


def parse_people(characters: Any, provider: str) -> tuple[list[CastMember], list[CrewMember]]:
    """``characters[]``: actors become cast (by ``sort``), everyone else crew (job = type)."""
    cast: list[tuple[int, int, CastMember]] = []
    crew: list[CrewMember] = []
    for index, person in enumerate(_dicts(characters)):
        name = sanitize.text(person.get("personName"))
        job = sanitize.text(person.get("peopleType"))
        if name is None or job is None:
            continue
        people_id = person.get("peopleId")
        person_id = (
            str(people_id)
            if isinstance(people_id, int | str) and not isinstance(people_id, bool)
            else None
        )
        if job.lower() in CAST_TYPES:
            order = sanitize.count(person.get("sort"))
            member = CastMember(
                name=name,
                provider=provider,
                character=person.get("name"),
                order=order,
                person_id=person_id,
            )
            cast.append((order if order is not None else 1_000_000, index, member))
        else:
            crew.append(
                CrewMember(
                    name=name,
                    job=job,
                    provider=provider,
                    department=DEPARTMENTS.get(job.lower()),
                    person_id=person_id,
                )
            )
    cast.sort(key=lambda item: (item[0], item[1]))
    return [member for _, _, member in cast], crew


# -- records ----------------------------------------------------------------------------------


def _texts(record: Mapping[str, Any]) -> dict[str, Any]:
    """Title, original title, plot, tagline, alternative titles and their language.

    English translations win; the original title is the translation in ``originalLanguage``
    (else the primary one, else ``name``).
    """
    names = _translations(record, "nameTranslations")
    overviews = _translations(record, "overviewTranslations")
    eng_name = _in_language(names, ENGLISH)
    eng_overview = _in_language(overviews, ENGLISH)
    base_name = _str(record.get("name"))
    title = (_str(eng_name.get("name")) if eng_name else None) or base_name

    original_language = _str(record.get("originalLanguage"))
    original_entry = _in_language(names, original_language) if original_language else None
    if original_entry is None:
        original_entry = next((n for n in names if n.get("isPrimary") is True), None)
    original_title = (_str(original_entry.get("name")) if original_entry else None) or base_name

    plot = _str(eng_overview.get("overview")) if eng_overview else None
    if plot is None and original_language in (None, ENGLISH):
        plot = _str(record.get("overview"))  # movies have none; series records do
    tagline = None
    for entry in (eng_overview, eng_name):
        if tagline is None and entry is not None:
            tagline = _str(entry.get("tagline"))

    alternatives = [_str(alias.get("name")) for alias in _dicts(record.get("aliases"))]
    alternatives += [_str(entry.get("name")) for entry in names]
    block = record.get("translations")
    if isinstance(block, dict) and isinstance(block.get("alias"), list):
        alternatives += [_str(alias) for alias in block["alias"]]
    alternatives.append(base_name)
    english = eng_name is not None or eng_overview is not None or original_language == ENGLISH
    return {
        "title": title,
        "original_title": original_title,
        "plot": plot,
        "tagline": tagline,
        "alternative_titles": [t for t in sanitize.texts(alternatives) if t != title],
        "language": "en" if english else None,
    }


def parse_movie(
    record: Mapping[str, Any],
    provider: str,
    *,
    extra_ids: Mapping[str, Any] | None = None,
    raw: dict[str, Any] | None = None,
    artwork_types: Mapping[int, str] = MOVIE_ARTWORK_TYPES,
) -> ProviderResult:
    """A `ProviderResult` from a ``/movies/{id}/extended?meta=translations`` record.

    Texts prefer the English translation; ``extra_ids`` (the ids the lookup went through)
    fill kinds the record's ``remoteIds`` do not state.
    """
    found: dict[str, Any] = dict(remote_ids(record.get("remoteIds")))
    own = Ids.lenient(tvdb=record.get("id")).tvdb
    if own is not None:
        found["tvdb"] = own
    for kind, value in (extra_ids or {}).items():
        found.setdefault(kind, value)
    ids = Ids.lenient(**found)

    cast, crew = parse_people(record.get("characters"), provider)
    release = _release_date(record)
    year = sanitize.year(record.get("year"))
    if year is None and release is not None:
        year = release.year
    return ProviderResult(
        provider=provider,
        ids=ids,
        year=year,
        release_date=release,
        runtime=record.get("runtime"),
        content_rating=_content_rating(record),
        genres=[_str(genre.get("name")) for genre in _dicts(record.get("genres"))],
        images=parse_images(record, provider, artwork_types),
        cast=cast,
        crew=crew,
        raw=raw if raw is not None else {"movie": dict(record)},
        **_texts(record),
    )


def pick_movie_id(entries: list[Any]) -> int | None:
    """The TVDB movie id in a ``/search/remoteid`` answer: the entry keyed ``movie``, not [0]."""
    for entry in entries:
        movie = entry.get("movie") if isinstance(entry, dict) else None
        if isinstance(movie, dict):
            movie_id = Ids.lenient(tvdb=movie.get("id")).tvdb
            if movie_id is not None:
                return movie_id
    return None


def parse_search_hit(item: Any, provider: str) -> SearchHit | None:
    """One ``/search`` result (snake_case, string ids); None for non-movies or unusable ones."""
    if not isinstance(item, dict) or item.get("type") != "movie":
        return None
    tvdb = Ids.lenient(tvdb=item.get("tvdb_id")).tvdb
    if tvdb is None:
        for key in ("id", "objectID"):
            match = _OBJECT_ID.match(str(item.get(key) or ""))
            if match:
                tvdb = Ids.lenient(tvdb=match.group(1)).tvdb
                break
    ids = Ids.lenient(**remote_ids(item.get("remote_ids")), tvdb=tvdb)
    if not ids:
        return None
    name = sanitize.text(item.get("name"))
    translations = item.get("translations")
    translations = translations if isinstance(translations, dict) else {}
    english = sanitize.text(translations.get(ENGLISH))
    title = name or english
    if title is None:
        return None
    primary = item.get("primary_language")
    original = sanitize.text(translations.get(primary)) if isinstance(primary, str) else None
    if original is None and english is not None and english != title:
        original = title
    aliases = item.get("aliases")
    alias_names = [
        _str(a.get("name")) if isinstance(a, dict) else _str(a)
        for a in (aliases if isinstance(aliases, list) else [])
    ]
    alternatives = [t for t in sanitize.texts([english, *alias_names]) if t != title]
    return SearchHit(
        provider=provider,
        ids=ids,
        title=title,
        year=item.get("year"),
        original_title=original if original != title else None,
        alternative_titles=alternatives,
        poster=artwork_url(item.get("image_url")) or artwork_url(item.get("thumbnail")),
        release_date=item.get("first_air_time"),
        outline=item.get("overview"),
        directors=(_str(item.get("director")) or "").split(", "),
    )
