"""A tiny fake provider world for engine and orchestrator tests.

Four providers shaped like the real ones (id types, cross-references, field priorities) talk
HTTP to ``https://fake.test/<provider>/…``; a pytest-httpx callback serves a `FakeWorld`.
Going through real HTTP keeps the request memo, retries and error classification in play, so
tests can count every request that went out.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, ClassVar

import attrs
import httpx
import metarr
from metarr import Ids, Image, ProviderResult, Rating, SearchHit
from metarr.config import Settings
from metarr.matching import normalize_title
from metarr.plugins import PluginInfo, Registry, build_registry
from metarr.testing import provider_settings

BASE = "https://fake.test"


@attrs.define
class Film:
    """One movie of the fake world, as every provider knows it."""

    tmdb: int | None
    imdb: str | None
    tvdb: int | None
    title: str
    year: int
    tmdb_year: int | None = None  # TMDB's year when it disagrees
    tvdb_claims_imdb: str | None = None  # a wrong cross-reference in TVDB's record
    alt_titles: tuple[str, ...] = ()


@attrs.define
class FakeWorld:
    """The films, plus the faults to inject, plus a log of every request served."""

    films: list[Film]
    faults: dict[str, list[int | tuple[int, dict[str, str]]]] = attrs.field(factory=dict)
    served: Counter[str] = attrs.field(factory=Counter)

    def by(self, kind: str, value: Any) -> Film | None:
        return next((f for f in self.films if getattr(f, kind) == value), None)

    def fail_next(self, provider: str, status: int, headers: dict[str, str] | None = None) -> None:
        """Answer the provider's next request with ``status``."""
        self.faults.setdefault(provider, []).append((status, headers or {}))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        parts = request.url.path.strip("/").split("/")
        provider, route = parts[0], parts[1:]
        self.served[f"{provider} {request.url.path}?{request.url.query.decode()}"] += 1
        queue = self.faults.get(provider)
        if queue:
            status, headers = queue.pop(0)  # type: ignore[misc]
            return httpx.Response(status, headers=headers, json={"error": "injected"})
        body = self._answer(provider, route, request.url.params)
        if body is None:
            return httpx.Response(404, json=NOT_FOUND)
        return httpx.Response(200, content=json.dumps(body).encode())

    def _answer(self, provider: str, route: list[str], params: httpx.QueryParams) -> Any:
        kind, value = route[0], route[1] if len(route) > 1 else None
        if kind == "search":
            query = normalize_title(params.get("q", ""))
            return [
                _hit_body(provider, f)
                for f in self.films
                if any(query in normalize_title(t) for t in (f.title, *f.alt_titles))
            ]
        film = self.by(kind, int(value or 0) if kind in ("tmdb", "tvdb") else value)
        own = {"tmdb": "tmdb", "omdb": "imdb", "tvdb": "tvdb"}.get(provider)
        if film is None or (own is not None and getattr(film, own) is None):
            return None  # a provider does not know films without its own id
        return _record_body(provider, film)

    @property
    def total(self) -> int:
        return sum(self.served.values())

    def duplicates(self) -> list[str]:
        return [request for request, n in self.served.items() if n > 1]


def _record_body(provider: str, film: Film) -> dict[str, Any]:
    ids = {"tmdb": film.tmdb, "imdb": film.imdb, "tvdb": film.tvdb}
    year = film.year
    if provider == "tmdb":
        ids.pop("tvdb")
        year = film.tmdb_year or film.year
    elif provider == "omdb":
        ids = {"imdb": film.imdb}
    elif provider == "fanart":
        ids = {"tmdb": film.tmdb, "imdb": film.imdb}
    elif provider == "tvdb" and film.tvdb_claims_imdb:
        ids["imdb"] = film.tvdb_claims_imdb
    return {
        "ids": ids,
        "title": film.title,
        "year": year,
        "alt": list(film.alt_titles),
        "plot": f"{provider} plot of {film.title}",
    }


def _hit_body(provider: str, film: Film) -> dict[str, Any]:
    body = _record_body(provider, film)
    if provider == "tmdb":
        body["ids"] = {"tmdb": film.tmdb}  # like TMDB search: no imdb id in hits
    return body


NOT_FOUND = {"error": "not found"}  # the fake API's own not-found answer (with HTTP 404)


def classify(status: int, body: Any) -> metarr.ProviderError | None:
    """Claim the fake API's not-found answer; any other 404 is left to the core (an error)."""
    if status == 404 and body == NOT_FOUND:
        return metarr.NotFoundError("fake", "not found")
    return None


class FakeProvider(metarr.Provider):
    """Shared behaviour: look up by the first usable id kind, search by substring."""

    kind_order: ClassVar[tuple[str, ...]] = ()
    ranks: ClassVar[dict[str, int]] = {}

    async def _get(self, path: str, params: dict[str, Any] | None = None) -> Any:
        try:
            return await self.http.get_json(
                path,
                params={"key": self.settings.get("api_key"), **(params or {})},
                classify=classify,
            )
        except metarr.NotFoundError:
            return None

    @metarr.hookimpl
    async def lookup_by_id(self, ids: Ids) -> ProviderResult | None:
        for kind in self.kind_order:
            value = ids.get(kind)
            if value is not None:
                body = await self._get(f"/{kind}/{value}")
                return None if body is None else self._result(body)
        return None

    @metarr.hookimpl
    def extract_ids(self, result: ProviderResult) -> Ids | None:
        return result.ids or None

    @metarr.hookimpl
    def field_priority(self) -> dict[str, int]:
        return dict(self.ranks)

    def _result(self, body: dict[str, Any]) -> ProviderResult:
        rating = Rating.safe(source=self.name, value=7, max=10, provider=self.name)
        image = Image.safe(
            provider=self.name,
            kind="poster",
            url=f"https://img.test/{self.name}/{body['ids']}.jpg".replace(" ", ""),
        )
        return ProviderResult(
            provider=self.name,
            ids=Ids.lenient(**body["ids"]),
            title=body["title"],
            year=body["year"],
            plot=body["plot"],
            alternative_titles=body.get("alt", ()),
            ratings=(rating,) if rating else (),
            images=[image] if image else [],
            raw={"record": body},
        )


class Searches:
    """The search hook, for the fake providers whose API has one."""

    name: str
    _get: Any

    @metarr.hookimpl
    async def search(self, query: str, year: int | None) -> list[SearchHit]:
        body = await self._get("/search", {"q": query, "year": year})
        return [
            SearchHit(
                provider=self.name, ids=Ids.lenient(**b["ids"]), title=b["title"], year=b["year"]
            )
            for b in body or []
        ]


class FakeTmdb(Searches, FakeProvider):
    id_types = frozenset({"tmdb", "imdb"})
    authority_for = frozenset({"tmdb"})
    kind_order = ("tmdb", "imdb")
    ranks = {
        "title": 20,
        "year": 20,
        "plot": 20,
        "original_title": 10,
        "ratings": 20,
        "images": 10,
        "ids.tmdb": 10,
        "ids.imdb": 20,
    }


class FakeOmdb(Searches, FakeProvider):
    id_types = frozenset({"imdb"})
    authority_for = frozenset({"imdb"})
    kind_order = ("imdb",)
    languages = frozenset({"en"})
    ranks = {"title": 10, "year": 10, "plot": 10, "ratings": 10, "images": 40, "ids.imdb": 10}


class FakeFanart(FakeProvider):
    id_types = frozenset({"tmdb", "imdb"})
    kind_order = ("tmdb", "imdb")
    ranks = {"images": 20, "ids.tmdb": 30, "ids.imdb": 40}


class FakeTvdb(Searches, FakeProvider):
    id_types = frozenset({"tvdb", "imdb"})
    authority_for = frozenset({"tvdb"})
    kind_order = ("tvdb", "imdb")
    ranks = {
        "title": 30,
        "year": 30,
        "plot": 30,
        "images": 30,
        "ids.tmdb": 20,
        "ids.imdb": 30,
        "ids.tvdb": 10,
    }


FAKES: dict[str, type[FakeProvider]] = {
    "tmdb": FakeTmdb,
    "omdb": FakeOmdb,
    "fanart": FakeFanart,
    "tvdb": FakeTvdb,
}


def fake_plugins(names: tuple[str, ...] = tuple(FAKES)) -> list[PluginInfo]:
    """PluginInfo entries for the fake providers (all four by default)."""
    return [
        PluginInfo(name=name, distribution=f"fake-{name}", version="0", factory=FAKES[name])
        for name in names
    ]


def fake_settings(*, disabled: tuple[str, ...] = (), **extra: Any) -> Settings:
    """Settings that point every fake provider at the fake world."""
    providers = {}
    for name in FAKES:
        values: dict[str, Any] = {"api_key": f"secret-{name}-key", "base_url": f"{BASE}/{name}"}
        if name in disabled:
            values["enabled"] = False
        providers[name] = provider_settings(name, values)
    return Settings(providers=providers, **extra)


def fake_registry(client: httpx.AsyncClient, settings: Settings | None = None) -> Registry:
    """A registry of the four fake providers."""
    return build_registry(settings or fake_settings(), client, plugins=fake_plugins())


MATRIX = Film(tmdb=603, imdb="tt0133093", tvdb=169, title="The Matrix", year=1999)
HEAT = Film(tmdb=949, imdb="tt0113277", tvdb=1002, title="Heat", year=1995)
ALADDIN_A = Film(tmdb=812, imdb="tt0103639", tvdb=2001, title="Aladdin", year=1992)
ALADDIN_B = Film(tmdb=343693, imdb="tt0827990", tvdb=2002, title="Aladdin", year=1992)
TITANIC_96 = Film(tmdb=2699, imdb="tt0115392", tvdb=3001, title="Titanic", year=1996)
TITANIC_97 = Film(tmdb=597, imdb="tt0120338", tvdb=3002, title="Titanic", year=1997)
DON_JUAN = Film(
    tmdb=1909, imdb="tt0112883", tvdb=4001, title="Don Juan DeMarco", year=1995, tmdb_year=1994
)
POSTMAN = Film(
    tmdb=11010,
    imdb="tt0110877",
    tvdb=5001,
    title="Il Postino",
    year=1994,
    alt_titles=("The Postman",),
)


THE_HEAT = Film(tmdb=136795, imdb="tt2404463", tvdb=6001, title="The Heat", year=2013)
# Known to TVDB alone (no other id anywhere): records reached through it cross-reference nothing.
TVDB_ONLY = Film(tmdb=None, imdb=None, tvdb=8000, title="A Quiet Place Nobody Knows", year=2003)

# TVDB's record claims The Matrix's IMDb id: a wrong cross-reference for conflict tests.
MISLINKED = Film(
    tmdb=700,
    imdb="tt0000700",
    tvdb=7000,
    title="Seven Hundred",
    year=2001,
    tvdb_claims_imdb="tt0133093",
)


def default_world() -> FakeWorld:
    """A world with clean films, homonyms and a one-year disagreement."""
    return FakeWorld(
        films=[MATRIX, HEAT, ALADDIN_A, ALADDIN_B, TITANIC_96, TITANIC_97, DON_JUAN, POSTMAN]
    )
