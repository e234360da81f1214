"""The data metarr passes around: provider results, search hits, merged movies and outcomes.

All are frozen, keyword-only attrs classes. Fields holding provider data sanitise on
construction (see `metarr.sanitize`), so no model can carry an absurd value. The JSON form of
each is produced by `metarr.convert` and documented in the README ("JSON contract").
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, Literal, get_args

import attrs

from metarr import sanitize
from metarr.ids import Ids

OutcomeStatus = Literal[
    "identified", "ambiguous", "not_found", "conflict", "rate_limited", "blocked", "error"
]
OUTCOME_STATUSES: tuple[str, ...] = get_args(OutcomeStatus)
NEEDS_PERSON: frozenset[str] = frozenset({"ambiguous", "not_found", "conflict"})

ProviderStatus = Literal[
    "ok", "not_found", "disabled", "broken", "rate_limited", "error", "skipped"
]

ImageKind = Literal["poster", "backdrop", "logo", "clearart", "discart", "thumb", "banner"]
IMAGE_KINDS: tuple[str, ...] = get_args(ImageKind)

# The merged fields, in JSON order. Scalars take one provider's value; lists likewise.
SCALAR_FIELDS: tuple[str, ...] = (
    "title",
    "original_title",
    "year",
    "release_date",
    "runtime",
    "plot",
    "outline",
    "tagline",
    "content_rating",
    "collection",
    "awards",
)
LIST_FIELDS: tuple[str, ...] = ("genres",)
# Collected from every provider (each item names its provider); priority orders them.
COLLECTED_FIELDS: tuple[str, ...] = ("ratings", "images", "cast", "crew")
ID_FIELDS: tuple[str, ...] = ("ids.tmdb", "ids.imdb", "ids.tvdb")
PRIORITY_FIELDS: tuple[str, ...] = SCALAR_FIELDS + LIST_FIELDS + COLLECTED_FIELDS + ID_FIELDS
# Fields whose text is in a language: OMDb (English only) may lead them only for English.
LANGUAGE_FIELDS: frozenset[str] = frozenset({"title", "plot", "outline", "tagline", "genres"})


def _kind(value: object) -> str:
    if value not in IMAGE_KINDS:
        raise ValueError(f"image kind must be one of {', '.join(IMAGE_KINDS)}, not {value!r}")
    return str(value)


def _required_url(value: object) -> str:
    cleaned = sanitize.url(value)
    if cleaned is None:
        raise ValueError("image url must be an absolute http(s) URL")
    return cleaned


def _required_text(value: object) -> str:
    cleaned = sanitize.text(value)
    if cleaned is None:
        raise ValueError("a non-empty text of at most 1000 characters is required")
    return cleaned


@attrs.frozen(kw_only=True)
class Image:
    """One piece of artwork. Build it with `Image.safe` from provider data."""

    provider: str
    kind: str = attrs.field(converter=_kind)
    url: str = attrs.field(converter=_required_url)
    language: str | None = attrs.field(default=None, converter=sanitize.language)
    width: int | None = attrs.field(default=None, converter=sanitize.count)
    height: int | None = attrs.field(default=None, converter=sanitize.count)
    score: float | None = attrs.field(default=None, converter=sanitize.number)
    votes: int | None = attrs.field(default=None, converter=sanitize.count)
    disc_type: str | None = attrs.field(default=None, converter=sanitize.text)

    @classmethod
    def safe(cls, **values: Any) -> Image | None:
        """The image, or None when its URL or kind is unusable (hostile or broken data)."""
        try:
            return cls(**values)
        except (ValueError, TypeError):
            return None


@attrs.frozen(kw_only=True)
class Rating:
    """A rating from one source (``imdb``, ``rotten_tomatoes``, ``metacritic``, ``tmdb``, …)."""

    source: str
    value: float
    max: float
    provider: str
    votes: int | None = attrs.field(default=None, converter=sanitize.count)

    @classmethod
    def safe(
        cls, *, source: str, value: object, max: float, provider: str, votes: object = None
    ) -> Rating | None:
        """The rating, or None when the value is missing or outside ``0..max``."""
        parsed = sanitize.number(value, 0, max)
        if parsed is None:
            return None
        return cls(source=source, value=parsed, max=max, provider=provider, votes=votes)


@attrs.frozen(kw_only=True)
class CastMember:
    """An actor and the role played."""

    name: str = attrs.field(converter=_required_text)
    provider: str
    character: str | None = attrs.field(default=None, converter=sanitize.text)
    order: int | None = attrs.field(default=None, converter=sanitize.count)
    person_id: str | None = attrs.field(default=None, converter=sanitize.text)


@attrs.frozen(kw_only=True)
class CrewMember:
    """A person behind the camera."""

    name: str = attrs.field(converter=_required_text)
    job: str = attrs.field(converter=_required_text)
    provider: str
    department: str | None = attrs.field(default=None, converter=sanitize.text)
    person_id: str | None = attrs.field(default=None, converter=sanitize.text)


def _ratings(values: Iterable[Rating]) -> tuple[Rating, ...]:
    return tuple(values)


def _cast(values: Iterable[CastMember]) -> tuple[CastMember, ...]:
    return tuple(values)


def _crew(values: Iterable[CrewMember]) -> tuple[CrewMember, ...]:
    return tuple(values)


def _images(values: object) -> tuple[Image, ...]:
    if not isinstance(values, (list, tuple)) and (  # (those are iterable and not text)
        not isinstance(values, Iterable) or isinstance(values, str | bytes)
    ):
        return ()
    return tuple(v for v in values if isinstance(v, Image))


@attrs.frozen(kw_only=True)
class MovieData:
    """The fields a provider can supply and the merge produces."""

    ids: Ids = attrs.field(factory=Ids)
    title: str | None = attrs.field(default=None, converter=sanitize.text)
    original_title: str | None = attrs.field(default=None, converter=sanitize.text)
    year: int | None = attrs.field(default=None, converter=sanitize.year)
    release_date: date | None = attrs.field(default=None, converter=sanitize.release_date)
    runtime: int | None = attrs.field(default=None, converter=sanitize.runtime)
    plot: str | None = attrs.field(default=None, converter=sanitize.long_text)
    outline: str | None = attrs.field(default=None, converter=sanitize.long_text)
    tagline: str | None = attrs.field(default=None, converter=sanitize.text)
    content_rating: str | None = attrs.field(default=None, converter=sanitize.text)
    genres: tuple[str, ...] = attrs.field(default=(), converter=sanitize.texts)
    collection: str | None = attrs.field(default=None, converter=sanitize.text)
    awards: str | None = attrs.field(default=None, converter=sanitize.long_text)
    ratings: tuple[Rating, ...] = attrs.field(default=(), converter=_ratings)
    images: tuple[Image, ...] = attrs.field(default=(), converter=_images)
    cast: tuple[CastMember, ...] = attrs.field(default=(), converter=_cast)
    crew: tuple[CrewMember, ...] = attrs.field(default=(), converter=_crew)


@attrs.frozen(kw_only=True)
class ProviderResult(MovieData):
    """One provider's full record for a movie, as returned by ``lookup_by_id``.

    ``raw`` holds the provider's response bodies keyed by a label of the plugin's choosing
    (``{"movie": {...}}``); it is stored so records can be re-merged without a request.
    ``alternative_titles`` feed title matching; ``language`` is the language of the texts.
    """

    provider: str
    alternative_titles: tuple[str, ...] = attrs.field(default=(), converter=sanitize.texts)
    language: str | None = attrs.field(default=None, converter=sanitize.language)
    raw: dict[str, Any] = attrs.field(factory=dict, eq=False, repr=False)


@attrs.frozen(kw_only=True)
class SearchHit:
    """One provider's search result, as returned by the ``search`` hook."""

    provider: str
    ids: Ids
    title: str = attrs.field(converter=_required_text)
    year: int | None = attrs.field(default=None, converter=sanitize.year)
    original_title: str | None = attrs.field(default=None, converter=sanitize.text)
    alternative_titles: tuple[str, ...] = attrs.field(default=(), converter=sanitize.texts)
    poster: str | None = attrs.field(default=None, converter=sanitize.url)
    popularity: float | None = attrs.field(default=None, converter=sanitize.number)
    release_date: date | None = attrs.field(default=None, converter=sanitize.release_date)
    outline: str | None = attrs.field(default=None, converter=sanitize.long_text)
    directors: tuple[str, ...] = attrs.field(default=(), converter=sanitize.texts)


@attrs.frozen(kw_only=True)
class Movie(MovieData):
    """The merged record: each field from the highest-priority provider that has it.

    ``provenance`` maps every filled field (and ``ids.<kind>``) to the provider that gave it.
    """

    provenance: dict[str, str] = attrs.field(factory=dict)


def _names(values: object) -> tuple[str, ...]:
    return sanitize.texts(values)[:CARD_NAMES]


def _outline(value: object) -> str | None:
    """One line, at most `OUTLINE_CHARS` characters (cut at a word, with an ellipsis)."""
    cleaned = sanitize.text(value, sanitize.LONG_TEXT)
    if cleaned is None or len(cleaned) <= OUTLINE_CHARS:
        return cleaned
    cut = cleaned[: OUTLINE_CHARS - 1].rsplit(" ", 1)[0].rstrip(" ,;:")
    return cut + "…"


def _ten(value: object) -> float | None:
    return sanitize.number(value, 0, 10)


CARD_NAMES = 3  # directors and cast names a candidate carries
OUTLINE_CHARS = 300


@attrs.frozen(kw_only=True)
class Candidate:
    """One movie proposed by search, after collapsing the providers' hits for it.

    ``score`` is the match distance (0 = perfect; None when not scored), ``components`` its
    named parts and ``notes`` the reasons a person can read (``--explain``); ``matches`` is
    the verdict.

    The details tell films apart, where any provider knows them: taken from the search
    responses (and records a search looked up anyway) and, when ``detailed``, from the
    records fetched for it (`metarr.orchestrator.Orchestrator.search` fetches them for the
    first few candidates). ``cast`` and ``directors`` hold up to three names, ``outline`` is
    one line, ``imdb_rating``/``imdb_votes`` are IMDb's (0-10), ``popularity`` is the search
    provider's (TMDB's) popularity.
    """

    title: str
    year: int | None = None
    ids: Ids
    providers: tuple[str, ...]
    poster: str | None = None
    matches: bool = False
    score: float | None = None
    components: dict[str, float] = attrs.field(factory=dict)
    notes: tuple[str, ...] = ()
    original_title: str | None = attrs.field(default=None, converter=sanitize.text)
    release_date: date | None = attrs.field(default=None, converter=sanitize.release_date)
    runtime: int | None = attrs.field(default=None, converter=sanitize.runtime)
    directors: tuple[str, ...] = attrs.field(default=(), converter=_names)
    cast: tuple[str, ...] = attrs.field(default=(), converter=_names)
    outline: str | None = attrs.field(default=None, converter=_outline)
    imdb_rating: float | None = attrs.field(default=None, converter=_ten)
    imdb_votes: int | None = attrs.field(default=None, converter=sanitize.count)
    popularity: float | None = attrs.field(default=None, converter=sanitize.number)
    detailed: bool = False


SearchStatus = Literal["ok", "rate_limited", "error", "blocked"]


@attrs.frozen(eq=False)
class Responses:
    """The provider responses a search received, kept in memory only so that confirming one of
    its candidates sends none of them again (`metarr.http.reusing`). Opaque: the requests
    they answer carry credentials, so this is never shown, stored or converted to JSON."""

    _bodies: Mapping[tuple[Any, ...], Any] = attrs.field(factory=dict, repr=False)
    received: float = attrs.field(factory=time.monotonic, kw_only=True)
    """When they were received (`time.monotonic`): old answers are not reused."""

    def __len__(self) -> int:
        return len(self._bodies)

    def __repr__(self) -> str:
        return f"<Responses: {len(self)}>"

    def joined(self, more: Mapping[tuple[Any, ...], Any]) -> Responses:
        """These responses and ``more`` (which win)."""
        return Responses({**self._bodies, **more}, received=self.received)

    def body(self, request: tuple[Any, ...]) -> tuple[bool, Any]:
        """``(True, body)`` when ``request`` (a `metarr.http.RequestMemo` key) was answered."""
        if request in self._bodies:
            return True, self._bodies[request]
        return False, None


@attrs.frozen(kw_only=True)
class SearchResult:
    """What a person's search found: the candidates, best first, and each search provider's
    status, so that "every provider failed" (``status`` ``error`` or ``rate_limited``, no
    candidates) differs from "no such film" (``ok``, no candidates). ``blocked``: no enabled
    provider can search. ``requests`` counts the requests sent, by provider; ``reasons`` say
    what failed. ``responses`` (opaque, in memory only) lets a chosen candidate's lookup reuse
    what this search fetched (`metarr.orchestrator.Orchestrator.choose`)."""

    query: str
    year: int | None = None
    status: SearchStatus = "ok"
    candidates: tuple[Candidate, ...] = ()
    providers: dict[str, ProviderStatus] = attrs.field(factory=dict)
    reasons: tuple[str, ...] = ()
    requests: dict[str, int] = attrs.field(factory=dict)
    responses: Responses = attrs.field(factory=Responses, eq=False, repr=False)

    @property
    def searched(self) -> bool:
        """True when at least one provider answered (its "nothing found" included)."""
        return self.status == "ok"


@attrs.frozen(kw_only=True)
class Outcome:
    """The result of one identification.

    ``movie`` is set only when ``status == "identified"``; ``candidates`` when a person must
    choose; ``reasons`` always say why, in words a person can act on.
    """

    status: OutcomeStatus
    movie: Movie | None = None
    candidates: tuple[Candidate, ...] = ()
    reasons: tuple[str, ...] = ()
    providers: dict[str, ProviderStatus] = attrs.field(factory=dict)

    @property
    def needs_person(self) -> bool:
        """True when only a person can settle it (ambiguous, not found, conflict)."""
        return self.status in NEEDS_PERSON
