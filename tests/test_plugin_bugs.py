"""The core survives a buggy plugin: hook results are checked where they enter the core, a
violation is that provider's ``error`` naming the provider and the hook, and the others go on."""

from __future__ import annotations

import asyncio
import enum
import logging
import math
import uuid
from collections.abc import Callable, Coroutine
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar

import attrs
import httpx
import metarr
import orjson
import pytest
from fake_providers import FakeWorld, fake_plugins, fake_settings
from metarr import Ids, PluginError, ProviderResult, Rating, SearchHit
from metarr.engine import Engine, Identification
from metarr.http import new_client
from metarr.plugins import PluginInfo, Registry, build_registry
from metarr.testing import provider_settings

pytestmark = pytest.mark.usefixtures("quick_retries")  # `world` comes from conftest.py

Lookup = Callable[[Any, Ids], Any]
_UUID = uuid.UUID("12345678-1234-5678-1234-567812345678")
_FRAGMENT = orjson.Fragment(b'{"already": "JSON"}')


class _Kind(enum.Enum):
    FILM = 1


class _Label(str):
    pass


class Buggy(metarr.Provider):
    """A provider whose hooks do what each test tells them (``answer``, ``extract``, ``hits``)."""

    id_types: ClassVar[frozenset[metarr.IdKind]] = frozenset({"imdb", "tmdb"})
    requires: ClassVar[tuple[tuple[str, ...], ...]] = ()
    default_base_url: ClassVar[str] = "https://buggy.test"
    answer: ClassVar[Lookup] = staticmethod(lambda self, ids: _record(self.name, ids))
    extract: ClassVar[Callable[[Any, ProviderResult], Any]] = staticmethod(
        lambda self, result: result.ids
    )
    hits: ClassVar[Callable[[Any, str], Any]] = staticmethod(lambda self, query: [])

    @metarr.hookimpl
    async def lookup_by_id(self, ids: Ids) -> ProviderResult | None:
        return type(self).answer(self, ids)  # type: ignore[no-any-return]

    @metarr.hookimpl
    async def search(self, query: str, year: int | None) -> list[SearchHit] | None:
        return type(self).hits(self, query)  # type: ignore[no-any-return]

    @metarr.hookimpl
    def extract_ids(self, result: ProviderResult) -> Ids | None:
        return type(self).extract(self, result)  # type: ignore[no-any-return]

    @metarr.hookimpl
    def field_priority(self) -> dict[str, int]:
        return {"title": 1, "ratings": 50}


def _record(name: str, ids: Ids, **fields: Any) -> ProviderResult:
    return ProviderResult(
        provider=name, ids=Ids(imdb="tt0133093"), title="The Buggy Matrix", **fields
    )


def _circular() -> dict[str, Any]:
    inner: dict[str, Any] = {}
    inner["again"] = inner
    return {"m": inner}


def buggy(**behaviour: Any) -> type[Buggy]:
    """A `Buggy` subclass with the given hook behaviour."""
    return type("Buggy", (Buggy,), {k: staticmethod(v) for k, v in behaviour.items()})


def _raise(exc: BaseException) -> Any:
    raise exc


BUGS: dict[str, tuple[dict[str, Any], str]] = {
    "non-JSON raw": (
        {"answer": lambda self, ids: _record(self.name, ids, raw={"x": Decimal("1.5")})},
        "lookup_by_id: result.raw['x'] is a Decimal (Decimal('1.5')), not a JSON value",
    ),
    "a set deep inside": (
        {"answer": lambda self, ids: _record(self.name, ids, raw={"m": {"r": [1, {2}]}})},
        "lookup_by_id: result.raw['m']['r'][1] is a set ({2}), not a JSON value",
    ),
    "a tuple key": (
        {"answer": lambda self, ids: _record(self.name, ids, raw={"m": {(1, 2): "x"}})},
        "lookup_by_id: result.raw['m'] has the key (1, 2) (a tuple): JSON keys are text",
    ),
    "an Enum inside": (  # orjson writes an Enum's value; json does not write one at all
        {"answer": lambda self, ids: _record(self.name, ids, raw={"m": [_Kind.FILM]})},
        "lookup_by_id: result.raw['m'][0] is a _Kind (<_Kind.FILM: 1>), not a JSON value",
    ),
    "a UUID inside": (  # orjson writes a UUID as text; json does not write one at all
        {"answer": lambda self, ids: _record(self.name, ids, raw={"u": _UUID})},
        f"lookup_by_id: result.raw['u'] is an UUID ({_UUID!r}), not a JSON value",
    ),
    "an orjson Fragment inside": (  # orjson writes it as it is; json does not write one at all
        {"answer": lambda self, ids: _record(self.name, ids, raw={"f": [_FRAGMENT]})},
        f"lookup_by_id: result.raw['f'][0] is a Fragment ({_FRAGMENT!r}), not a JSON value",
    ),
    "a date inside": (
        {"answer": lambda self, ids: _record(self.name, ids, raw={"d": date(1999, 3, 31)})},
        "lookup_by_id: result.raw['d'] is a date (datetime.date(1999, 3, 31)), not a JSON value",
    ),
    "a circular raw": (
        {"answer": lambda self, ids: _record(self.name, ids, raw=_circular())},
        "lookup_by_id: result.raw['m']['again'] contains itself: JSON has no circular values",
    ),
    "a dict": (
        {"answer": lambda self, ids: {"title": "The Matrix"}},
        "lookup_by_id: returned a dict, not a metarr.ProviderResult or None",
    ),
    "another provider's result": (
        {"answer": lambda self, ids: _record("tmdb", ids)},
        "lookup_by_id: returned a result for provider 'tmdb': build it with provider=self.name",
    ),
    "a rating as a dict": (
        {"answer": lambda self, ids: _record(self.name, ids, ratings=[{"value": 7}])},
        "lookup_by_id: result.ratings[0] is a dict, not a metarr.Rating",
    ),
    "a NaN rating": (
        {
            "answer": lambda self, ids: _record(
                self.name,
                ids,
                ratings=[Rating(source="x", value=math.nan, max=10, provider=self.name)],
            )
        },
        "lookup_by_id: result.ratings[0] has value nan, not a finite number (build it with "
        "Rating.safe)",
    ),
    "an image of no provider": (
        {
            "answer": lambda self, ids: _record(
                self.name,
                ids,
                images=[metarr.Image(provider=None, kind="poster", url="https://i.test/p.jpg")],
            )
        },
        "lookup_by_id: result.images[0] has provider None, not text",
    ),
    "ids as a dict": (
        {"answer": lambda self, ids: ProviderResult(provider=self.name, ids={"imdb": "tt0133093"})},
        "lookup_by_id: result.ids is a dict, not metarr.Ids",
    ),
    "a KeyError": (
        {"answer": lambda self, ids: _raise(KeyError("vote_average"))},
        "lookup_by_id: raised KeyError: 'vote_average'",
    ),
    "a malformed id in lookup": (
        {"answer": lambda self, ids: Ids(imdb="tt133093")},
        "lookup_by_id: raised InvalidIdError: IMDb id 'tt133093' is not 'tt' followed by 7",
    ),
    "a malformed id in extract_ids": (
        {"extract": lambda self, result: Ids(imdb="tt133093")},
        "extract_ids: raised InvalidIdError: IMDb id 'tt133093' is not 'tt' followed by 7",
    ),
    "extract_ids returning a dict": (
        {"extract": lambda self, result: {"imdb": "tt0133093"}},
        "extract_ids: returned a dict, not metarr.Ids or None (build one: metarr.Ids(imdb=...))",
    ),
}


def run(
    world: FakeWorld,
    factory: type[metarr.Provider],
    action: Callable[[Engine], Coroutine[Any, Any, Any]],
) -> Any:
    async def main() -> Any:
        async with new_client() as client:
            return await action(Engine(registry_with(client, factory)))

    return asyncio.run(main())


def registry_with(client: httpx.AsyncClient, factory: type[metarr.Provider]) -> Registry:
    settings = fake_settings()
    providers = {**settings.providers, "buggy": provider_settings("buggy", {})}
    infos = [
        *fake_plugins(),
        PluginInfo(name="buggy", distribution="metarr-buggy", version="0.3", factory=factory),
    ]
    settings = attrs.evolve(settings, providers=providers, plugins=infos)
    return build_registry(settings, client, plugins=infos)


@pytest.mark.parametrize("case", list(BUGS))
def test_a_buggy_part_is_an_error_naming_provider_and_hook_and_the_others_go_on(
    world: FakeWorld, case: str
) -> None:
    behaviour, problem = BUGS[case]
    found: Identification = run(world, buggy(**behaviour), lambda e: e.lookup(Ids(tmdb=603)))
    outcome = found.outcome
    assert outcome.status == "identified", outcome.reasons
    assert outcome.providers["buggy"] == "error"
    assert {outcome.providers[n] for n in ("tmdb", "omdb", "fanart", "tvdb")} == {"ok"}
    assert outcome.movie is not None and outcome.movie.title == "The Matrix"
    assert "buggy" not in set(outcome.movie.provenance.values())
    assert "buggy" not in found.results
    [reason] = [r for r in outcome.reasons if r.startswith("buggy")]
    assert f"buggy is missing from this record (plugin bug in buggy.{problem}" in reason
    assert reason.endswith("; report it to the plugin's authors (metarr-buggy 0.3)")
    assert "refresh" not in reason


def test_a_buggy_search_is_an_error_and_the_title_is_still_identified(world: FakeWorld) -> None:
    factory = buggy(hits=lambda self, query: [{"title": query}])
    found: Identification = run(world, factory, lambda e: e.identify_title("Heat", 1995))
    assert found.outcome.status == "identified", found.outcome.reasons
    assert found.outcome.providers["buggy"] == "error"
    assert found.reports["buggy"].detail == (
        "plugin bug in buggy.search: hit 0 is a dict, not a metarr.SearchHit"
    )


def test_only_transient_failures_promise_a_refresh(world: FakeWorld) -> None:
    world.fail_next("fanart", 503)
    world.fail_next("fanart", 503)
    world.fail_next("fanart", 503)
    world.fail_next("tvdb", 401)
    factory = buggy(answer=lambda self, ids: _raise(RuntimeError("boom")))
    outcome = run(world, factory, lambda e: e.lookup(Ids(tmdb=603))).outcome
    assert outcome.status == "identified"
    reasons = {r.split(" ", 1)[0]: r for r in outcome.reasons}
    assert reasons["fanart"].endswith("a refresh will fill it in")
    assert "refresh" not in reasons["tvdb"]
    assert "refresh" not in reasons["buggy"]


def test_a_plugin_bug_is_logged_once_per_run_with_its_traceback(
    world: FakeWorld, caplog: pytest.LogCaptureFixture
) -> None:
    factory = buggy(answer=lambda self, ids: _raise(KeyError("vote_average")))

    async def twice(engine: Engine) -> None:
        await engine.lookup(Ids(tmdb=603))
        await engine.lookup(Ids(tmdb=949))

    with caplog.at_level(logging.DEBUG, logger="metarr.engine"):
        run(world, factory, twice)
    records = [r for r in caplog.records if "plugin bug in buggy" in r.getMessage()]
    assert [r.levelno for r in records] == [logging.WARNING, logging.DEBUG]
    assert records[0].exc_info is not None
    assert isinstance(records[0].exc_info[1], PluginError)
    assert isinstance(records[0].exc_info[1].__cause__, KeyError)


def test_a_broken_plugin_shows_as_broken_with_its_reason(world: FakeWorld) -> None:
    class Typo(Buggy):
        @metarr.hookimpl
        def field_priority(self) -> dict[str, int]:
            return {"rating": 10}

    outcome = run(world, Typo, lambda e: e.lookup(Ids(tmdb=603))).outcome
    assert outcome.status == "identified"
    assert outcome.providers["buggy"] == "broken"
    assert any(
        r.startswith(
            "buggy is broken (plugin bug in buggy.field_priority: unknown field(s) "
            "'rating'; 'rating': did you mean 'ratings'?"
        )
        and r.endswith("it took no part; metarr plugins shows it")
        for r in outcome.reasons
    )


def test_registry_calls_raise_plugin_errors_and_let_provider_errors_through() -> None:
    factory = buggy(
        answer=lambda self, ids: _raise(metarr.UnavailableError(self.name, "down")),
        hits=lambda self, query: _raise(ValueError("bad page")),
    )

    async def main() -> None:
        async with new_client() as client:
            registry = registry_with(client, factory)
            with pytest.raises(metarr.UnavailableError):
                await registry.lookup("buggy", Ids(tmdb=603))
            with pytest.raises(PluginError) as info:
                await registry.search("buggy", "Heat", None)
            assert (info.value.provider, info.value.hook) == ("buggy", "search")
            assert isinstance(info.value.__cause__, ValueError)

    asyncio.run(main())


def test_raw_that_json_writes_differently_is_kept_by_the_core(world: FakeWorld) -> None:
    # NaN, a tuple and a number key are written by json (the cache reads them back as NaN, a
    # list and a text key): not a bug the core refuses; ProviderContract is stricter.
    # So are a text or int subclass (an IntEnum), an int beyond 64 bits and 300 levels of lists.
    deep: list[Any] = []
    for _ in range(300):
        deep = [deep]
    raw = {
        "m": {"nan": math.nan, "pair": (1, 2), 7: "seven", "shared": [[1]] * 2},
        "n": {"big": 2**70, "kind": enum.IntEnum("K", "A").A, "label": _Label("x")},
        "deep": deep,
    }
    factory = buggy(answer=lambda self, ids: _record(self.name, ids, raw=raw))
    found: Identification = run(world, factory, lambda e: e.lookup(Ids(tmdb=603)))
    assert found.outcome.providers["buggy"] == "ok"
    assert found.results["buggy"].raw is raw
