"""Plugin discovery, per-plugin error isolation, why providers are disabled, and `Registry`."""

from __future__ import annotations

import ast
import asyncio
import logging
from collections.abc import Callable, Iterator
from importlib.metadata import version
from pathlib import Path
from typing import Any, ClassVar

import attrs
import httpx
import metarr
import pytest
from metarr import ConfigError, Ids, ProviderResult, Rating, SearchHit
from metarr import plugins as plugins_module
from metarr.config import Settings, load_settings
from metarr.merge import merge
from metarr.plugins import (
    ENTRY_POINT_GROUP,
    PluginInfo,
    Registry,
    build_registry,
    discover,
    make_plugin_manager,
)
from pytest_httpx import HTTPXMock

BUNDLED = ("fanart", "omdb", "tmdb", "tvdb")


pytestmark = pytest.mark.usefixtures("forget_secrets")

# -- fake providers ---------------------------------------------------------------------------


class Keyed(metarr.Provider):
    """Needs an api_key; looks up by tmdb id; ranks titles."""

    id_types: ClassVar[frozenset[metarr.IdKind]] = frozenset({"tmdb", "imdb"})
    default_base_url: ClassVar[str] = "https://keyed.test/api"
    languages: ClassVar[frozenset[str] | None] = frozenset({"en"})

    @metarr.hookimpl
    async def lookup_by_id(self, ids: Ids) -> ProviderResult | None:
        await asyncio.sleep(0)
        if ids.tmdb is None:
            return None
        return ProviderResult(provider=self.name, ids=ids, title=f"Movie {ids.tmdb}")

    @metarr.hookimpl
    def extract_ids(self, result: ProviderResult) -> Ids | None:
        return result.ids or None

    @metarr.hookimpl
    def field_priority(self) -> dict[str, int]:
        return {"title": 10, "ids.tmdb": 5}


class Tokened(metarr.Provider):
    """TMDB-style: an api_key or an access_token will do."""

    options: ClassVar[tuple[metarr.Option, ...]] = (
        metarr.Option("api_key"),
        metarr.Option("access_token"),
    )
    requires: ClassVar[tuple[tuple[str, ...], ...]] = (("api_key",), ("access_token",))
    default_base_url: ClassVar[str] = "https://tokened.test"

    @metarr.hookimpl
    async def search(self, query: str, year: int | None) -> list[SearchHit] | None:
        return [SearchHit(provider=self.name, ids=Ids(tmdb=1), title=query, year=year)]


class Paired(metarr.Provider):
    """Needs a key and a pin together."""

    options: ClassVar[tuple[metarr.Option, ...]] = (metarr.Option("api_key"), metarr.Option("pin"))
    requires: ClassVar[tuple[tuple[str, ...], ...]] = (("api_key", "pin"),)
    default_base_url: ClassVar[str] = "https://paired.test"

    @metarr.hookimpl
    def field_priority(self) -> dict[str, int]:
        return {"images": 30}


class Free(metarr.Provider):
    """Needs no settings at all."""

    requires: ClassVar[tuple[tuple[str, ...], ...]] = ()
    default_base_url: ClassVar[str] = "https://free.test"

    @metarr.hookimpl
    def field_priority(self) -> None:
        return None


class NoBaseUrl(metarr.Provider):
    requires: ClassVar[tuple[tuple[str, ...], ...]] = ()

    @metarr.hookimpl
    def field_priority(self) -> dict[str, int]:
        return {"title": 1}


class Exploding(metarr.Provider):
    requires: ClassVar[tuple[tuple[str, ...], ...]] = ()
    default_base_url: ClassVar[str] = "https://exploding.test"

    def __init__(self, context: metarr.ProviderContext) -> None:
        raise RuntimeError("cannot start without a flux capacitor")

    @metarr.hookimpl
    def field_priority(self) -> dict[str, int]:
        return {"title": 1}


class Misspelled(metarr.Provider):
    requires: ClassVar[tuple[tuple[str, ...], ...]] = ()
    default_base_url: ClassVar[str] = "https://misspelled.test"

    @metarr.hookimpl
    async def lookup_by_idd(self, ids: Ids) -> ProviderResult | None:
        return None


class WrongArguments(metarr.Provider):
    requires: ClassVar[tuple[tuple[str, ...], ...]] = ()
    default_base_url: ClassVar[str] = "https://wrong.test"

    @metarr.hookimpl
    def field_priority(self, verbose: bool) -> dict[str, int]:
        return {"title": 1}


def info(name: str, factory: Any) -> PluginInfo:
    return PluginInfo(name=name, distribution=f"fake-{name}", version="1.0", factory=factory)


FAKES = {
    "keyed": Keyed,
    "tokened": Tokened,
    "paired": Paired,
    "free": Free,
}


def settings_for(names: Any, env: dict[str, str] | None = None) -> Settings:
    return load_settings(list(names), env=env or {})


@pytest.fixture
def client() -> Iterator[httpx.AsyncClient]:
    client = httpx.AsyncClient()
    yield client
    asyncio.run(client.aclose())


@pytest.fixture
def registry_of(
    client: httpx.AsyncClient,
) -> Callable[..., Registry]:
    """Build a registry of fake plugins with settings from the given environment."""

    def build(
        factories: dict[str, Any], env: dict[str, str] | None = None, **kwargs: Any
    ) -> Registry:
        infos = [info(name, factory) for name, factory in factories.items()]
        return build_registry(settings_for(factories, env), client, plugins=infos, **kwargs)

    return build


# -- why a provider is not enabled ------------------------------------------------------------


def test_missing_key_names_the_env_var(registry_of: Callable[..., Registry]) -> None:
    registry = registry_of(FAKES)
    assert registry.entries["keyed"].state == "disabled"
    assert registry.reason("keyed") == (
        "no api_key configured: set METARR_KEYED_API_KEY (or [providers.keyed] in the config file)"
    )
    assert "keyed" not in registry.enabled
    assert registry.provider("keyed") is None


def test_alternative_requirements_are_listed(registry_of: Callable[..., Registry]) -> None:
    reason = registry_of(FAKES).reason("tokened")
    assert reason is not None
    assert "no api_key or access_token configured" in reason
    assert "METARR_TOKENED_API_KEY or METARR_TOKENED_ACCESS_TOKEN" in reason


def test_either_alternative_enables(registry_of: Callable[..., Registry]) -> None:
    for var in ("METARR_TOKENED_API_KEY", "METARR_TOKENED_ACCESS_TOKEN"):
        registry = registry_of(FAKES, {var: "some-long-value"})
        assert "tokened" in registry.enabled
        assert registry.reason("tokened") is None


def test_a_group_needs_all_its_keys(registry_of: Callable[..., Registry]) -> None:
    half = registry_of(FAKES, {"METARR_PAIRED_API_KEY": "k-paired-123"})
    assert half.entries["paired"].state == "disabled"
    assert "set METARR_PAIRED_API_KEY + METARR_PAIRED_PIN" in (half.reason("paired") or "")
    full = registry_of(
        FAKES, {"METARR_PAIRED_API_KEY": "k-paired-123", "METARR_PAIRED_PIN": "pin-9999"}
    )
    assert "paired" in full.enabled


def test_no_requirements_means_always_enabled(registry_of: Callable[..., Registry]) -> None:
    assert registry_of(FAKES).enabled == ["free"]


def test_disabled_in_configuration(registry_of: Callable[..., Registry]) -> None:
    env = {"METARR_KEYED_API_KEY": "k-keyed-123", "METARR_KEYED_ENABLED": "false"}
    registry = registry_of(FAKES, env)
    assert registry.entries["keyed"].state == "disabled"
    assert registry.reason("keyed") == "disabled in configuration (METARR_KEYED_ENABLED=false)"


def test_no_base_url_is_a_reason(registry_of: Callable[..., Registry]) -> None:
    registry = registry_of({"bare": NoBaseUrl})
    assert registry.reason("bare") == "no base_url: set METARR_BARE_BASE_URL"
    configured = registry_of({"bare": NoBaseUrl}, {"METARR_BARE_BASE_URL": "https://bare.test"})
    assert configured.enabled == ["bare"]
    assert configured.provider("bare").http.base_url == "https://bare.test"


def test_only_and_without_select_providers(registry_of: Callable[..., Registry]) -> None:
    env = {"METARR_KEYED_API_KEY": "k-keyed-123", "METARR_TOKENED_API_KEY": "k-tok-123"}
    assert registry_of(FAKES, env).enabled == ["keyed", "tokened", "free"]
    only = registry_of(FAKES, env, only=["tokened"])
    assert only.enabled == ["tokened"]
    assert only.reason("keyed") == "not selected for this run"
    without = registry_of(FAKES, env, without=["keyed", "free"])
    assert without.enabled == ["tokened"]
    assert without.reason("free") == "not selected for this run"
    assert without.names == ["keyed", "tokened", "paired", "free"]


def test_only_does_not_enable_an_unconfigured_provider(
    registry_of: Callable[..., Registry],
) -> None:
    registry = registry_of(FAKES, only=["keyed", "free"])
    assert registry.enabled == ["free"]
    assert "METARR_KEYED_API_KEY" in (registry.reason("keyed") or "")


@pytest.mark.parametrize("selection", [{"only": ["tmbd"]}, {"without": ["tmbd"]}])
def test_unknown_names_in_the_selection_are_an_error(
    registry_of: Callable[..., Registry], selection: dict[str, list[str]]
) -> None:
    with pytest.raises(ConfigError) as info_:
        registry_of(FAKES, **selection)
    assert "unknown provider 'tmbd'" in str(info_.value)
    assert "installed: free, keyed, paired, tokened" in str(info_.value)


# -- broken plugins ---------------------------------------------------------------------------


def test_a_factory_raising_is_broken_and_the_others_run(
    registry_of: Callable[..., Registry],
) -> None:
    registry = registry_of({"a_free": Free, "exploding": Exploding, "z_free": Free})
    assert registry.entries["exploding"].state == "broken"
    assert registry.reason("exploding") == (
        "failed to start: RuntimeError: cannot start without a flux capacitor"
    )
    assert registry.enabled == ["a_free", "z_free"]
    assert not registry.implements("exploding", "field_priority")


@pytest.mark.parametrize(
    ("factory", "words"),
    [
        (
            Misspelled,
            "method lookup_by_idd is marked @metarr.hookimpl but there is no hook "
            "'lookup_by_idd' (did you mean 'lookup_by_id'?)",
        ),
        (WrongArguments, "field_priority takes 'verbose', which the core does not pass"),
    ],
)
def test_hook_implementations_not_matching_the_specs_are_broken(
    registry_of: Callable[..., Registry], factory: Any, words: str
) -> None:
    registry = registry_of({"a_free": Free, "odd": factory, "z_free": Free})
    entry = registry.entries["odd"]
    assert entry.state == "broken"
    assert entry.reason is not None
    assert words in entry.reason
    assert registry.enabled == ["a_free", "z_free"]
    assert registry.pm.get_plugin("odd") is None
    assert registry.implements("z_free", "field_priority")
    registry.pm.check_pending()  # nothing invalid left behind


@attrs.frozen
class FakeDist:
    name: str
    version: str


@attrs.frozen
class FakeEntryPoint:
    """Just enough of `importlib.metadata.EntryPoint` for `discover`."""

    name: str
    target: Any
    dist: FakeDist | None = None

    def load(self) -> Any:
        if isinstance(self.target, BaseException):
            raise self.target
        return self.target


@pytest.fixture
def fake_entry_points(monkeypatch: pytest.MonkeyPatch) -> Callable[[list[FakeEntryPoint]], None]:
    def install(points: list[FakeEntryPoint]) -> None:
        def entry_points(*, group: str) -> list[FakeEntryPoint]:
            assert group == ENTRY_POINT_GROUP
            return points

        monkeypatch.setattr(plugins_module, "entry_points", entry_points)

    return install


def test_a_plugin_failing_to_import_is_broken_with_the_error(
    fake_entry_points: Callable[[list[FakeEntryPoint]], None],
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_entry_points(
        [
            FakeEntryPoint("free", Free, FakeDist("metarr-free", "2.1")),
            FakeEntryPoint(
                "crashy",
                ModuleNotFoundError("No module named 'metarr_crashy'"),
                FakeDist("metarr-crashy", "0.3"),
            ),
            FakeEntryPoint("syntaxy", SyntaxError("invalid syntax (provider.py, line 3)")),
        ]
    )
    with caplog.at_level(logging.WARNING, logger="metarr.plugins"):
        found = discover()
    assert [p.name for p in found] == ["crashy", "free", "syntaxy"]
    crashy = found[0]
    assert crashy.factory is None
    assert crashy.error == "failed to load: ModuleNotFoundError: No module named 'metarr_crashy'"
    assert (crashy.distribution, crashy.version) == ("metarr-crashy", "0.3")
    assert crashy.hooks == ()
    assert found[2].error is not None and found[2].error.startswith("failed to load: SyntaxError")
    assert (found[2].distribution, found[2].version) == (None, None)
    assert "provider plugin crashy failed to load" in caplog.text

    registry = build_registry(settings_for(["free", "crashy", "syntaxy"]), client, plugins=found)
    assert registry.enabled == ["free"]
    assert registry.entries["crashy"].state == "broken"
    assert registry.reason("crashy") == crashy.error


def test_the_first_entry_point_of_a_name_wins(
    fake_entry_points: Callable[[list[FakeEntryPoint]], None],
) -> None:
    fake_entry_points(
        [
            FakeEntryPoint("free", Free, FakeDist("metarr-free", "1")),
            FakeEntryPoint("free", Keyed, FakeDist("metarr-other", "9")),
        ]
    )
    [only] = discover()
    assert only.factory is Free
    assert only.distribution == "metarr-free"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, ["a", "b", "c"]),
        ("a,c", ["a", "c"]),
        (" c , a ,", ["a", "c"]),
        ("b", ["b"]),
        ("", []),
        (" , ", []),
        ("nothing-like-it", []),
    ],
)
def test_metarr_load_plugins(
    fake_entry_points: Callable[[list[FakeEntryPoint]], None],
    monkeypatch: pytest.MonkeyPatch,
    value: str | None,
    expected: list[str],
) -> None:
    # "b" would fail to import: naming only the others is how to get past a broken plugin.
    fake_entry_points(
        [
            FakeEntryPoint("c", Free),
            FakeEntryPoint("b", ImportError("broken")),
            FakeEntryPoint("a", Free),
        ]
    )
    env = {} if value is None else {"METARR_LOAD_PLUGINS": value}
    assert [p.name for p in discover(env)] == expected
    if value is not None:
        monkeypatch.setenv("METARR_LOAD_PLUGINS", value)
    assert [p.name for p in discover()] == expected  # the real environment by default


def test_plugins_not_loaded_are_not_imported(
    fake_entry_points: Callable[[list[FakeEntryPoint]], None],
) -> None:
    loaded: list[str] = []

    @attrs.frozen
    class Recording(FakeEntryPoint):
        def load(self) -> Any:
            loaded.append(self.name)
            return Free

    fake_entry_points([Recording("a", Free), Recording("b", Free)])
    discover({"METARR_LOAD_PLUGINS": "b"})
    assert loaded == ["b"]


# -- the real installed plugins ---------------------------------------------------------------


def test_discovery_finds_the_installed_plugins() -> None:
    found = {p.name: p for p in discover()}
    assert set(BUNDLED) <= set(found)
    for name in BUNDLED:
        plugin = found[name]
        assert plugin.error is None, plugin.error
        assert plugin.factory is not None
        assert issubclass(plugin.factory, metarr.Provider)
        assert plugin.distribution == f"metarr-{name}"
        assert plugin.version == version(f"metarr-{name}")
        assert "lookup_by_id" in plugin.hooks
        assert "field_priority" in plugin.hooks
    assert set(found["tmdb"].id_types) >= {"tmdb", "imdb"}


def test_discovery_is_sorted_by_name() -> None:
    names = [p.name for p in discover()]
    assert names == sorted(names)


# -- Registry ---------------------------------------------------------------------------------


def test_registry_calls_hooks_of_one_provider(registry_of: Callable[..., Registry]) -> None:
    env = {"METARR_KEYED_API_KEY": "k-keyed-123", "METARR_TOKENED_ACCESS_TOKEN": "tok-1234"}
    registry = registry_of(FAKES, env)

    async def calls() -> tuple[Any, ...]:
        return (
            await registry.lookup("keyed", Ids(tmdb=603)),
            await registry.lookup("keyed", Ids(imdb="tt0133093")),
            await registry.search("keyed", "Heat", 1995),
            await registry.search("tokened", "Heat", 1995),
            await registry.lookup("paired", Ids(tmdb=603)),
        )

    found, not_found, unimplemented, hits, disabled = asyncio.run(calls())
    assert found == ProviderResult(provider="keyed", ids=Ids(tmdb=603), title="Movie 603")
    assert not_found is None
    assert unimplemented == []
    assert hits == [SearchHit(provider="tokened", ids=Ids(tmdb=1), title="Heat", year=1995)]
    assert disabled is None


def test_registry_pure_calls_and_introspection(registry_of: Callable[..., Registry]) -> None:
    env = {"METARR_KEYED_API_KEY": "k-keyed-123", "METARR_TOKENED_ACCESS_TOKEN": "tok-1234"}
    registry = registry_of(FAKES, env)
    result = ProviderResult(provider="keyed", ids=Ids(tmdb=603))
    assert registry.extract_ids("keyed", result) == Ids(tmdb=603)
    assert registry.extract_ids("tokened", result) is None
    assert registry.implements("keyed", "lookup_by_id")
    assert registry.implements("keyed", "extract_ids")
    assert not registry.implements("keyed", "search")
    assert registry.implements("tokened", "search")
    assert not registry.implements("paired", "field_priority")  # disabled: not registered
    assert not registry.implements("nobody", "search")
    assert registry.id_types("keyed") == frozenset({"tmdb", "imdb"})
    assert registry.id_types("tokened") == frozenset()
    assert registry.languages("keyed") == frozenset({"en"})
    assert registry.languages("tokened") is None
    assert registry.reason("nobody") is None


def test_field_priorities_of_enabled_providers(registry_of: Callable[..., Registry]) -> None:
    env = {"METARR_KEYED_API_KEY": "k-keyed-123"}
    # paired ranks images but is disabled; free answers None; tokened has no hook.
    assert registry_of(FAKES, env).field_priorities() == {"keyed": {"title": 10, "ids.tmdb": 5}}


class BadRanks(metarr.Provider):
    requires: ClassVar[tuple[tuple[str, ...], ...]] = ()
    default_base_url: ClassVar[str] = "https://bad-ranks.test"

    @metarr.hookimpl
    def field_priority(self) -> dict[str, Any]:
        return {"title": "first"}


class RaisingRanks(BadRanks):
    @metarr.hookimpl
    def field_priority(self) -> dict[str, Any]:
        raise KeyError("ranks")


class MisspelledRanks(BadRanks):
    @metarr.hookimpl
    def field_priority(self) -> dict[str, Any]:
        return {"title": 10, "rating": 20, "ids.imbd": 5}


def test_one_plugins_bad_ranks_make_it_broken_and_the_others_run(
    registry_of: Callable[..., Registry],
) -> None:
    env = {"METARR_KEYED_API_KEY": "k-keyed-123"}
    registry = registry_of(
        {"bad": BadRanks, "keyed": Keyed, "raising": RaisingRanks, "typo": MisspelledRanks}, env
    )
    assert registry.field_priorities() == {"keyed": {"title": 10, "ids.tmdb": 5}}
    assert registry.enabled == ["keyed"]
    assert registry.broken == ["bad", "raising", "typo"]
    assert registry.reason("bad") == (
        "plugin bug in bad.field_priority: ranks must be integers (lower wins), not title='first'"
    )
    assert registry.reason("raising") == (
        "plugin bug in raising.field_priority: raised KeyError: 'ranks'"
    )
    typo = registry.reason("typo") or ""
    assert typo.startswith(
        "plugin bug in typo.field_priority: unknown field(s) 'rating', 'ids.imbd'; "
        "'rating': did you mean 'ratings'?; 'ids.imbd': did you mean 'ids.imdb'?; "
        "the fields are title, original_title,"
    )
    assert registry.pm.get_plugin("typo") is None


def test_the_provider_gets_its_context(registry_of: Callable[..., Registry]) -> None:
    env = {
        "METARR_KEYED_API_KEY": "k-keyed-123",
        "METARR_KEYED_TIMEOUT": "3",
        "METARR_KEYED_BASE_URL": "http://127.0.0.1:9/k",
        "METARR_LANGUAGE": "de",
    }
    provider = registry_of(FAKES, env).provider("keyed")
    assert isinstance(provider, Keyed)
    assert provider.name == "keyed"
    assert provider.settings.get("api_key") == "k-keyed-123"
    assert provider.context.language == "de"
    assert provider.http.provider == "keyed"
    assert provider.http.base_url == "http://127.0.0.1:9/k"
    assert provider.http.timeout == 3.0
    assert provider.log.name == "metarr.provider.keyed"
    assert "k-keyed-123" not in repr(provider.settings)


def test_each_registry_has_its_own_plugin_manager(registry_of: Callable[..., Registry]) -> None:
    first = registry_of({"free": Free})
    second = registry_of({"free": Free})
    assert first.pm is not second.pm
    assert first.provider("free") is not second.provider("free")
    assert make_plugin_manager() is not make_plugin_manager()


# -- the example third-party provider ---------------------------------------------------------

EXAMPLE_BODY = {
    "imdb_id": "tt0133093",
    "title": "The Matrix",
    "year": 1999,
    "average": 4.2,
    "scale": 5,
    "votes": 1234,
}


def test_example_provider_is_configured_and_merged(tmp_path: Path, httpx_mock: HTTPXMock) -> None:
    # The example is a test fixture, never installed: injected, it works like any plugin.
    from metarr_example import ExampleProvider

    example_info = PluginInfo(
        name="example", distribution="metarr-example", version="0.1.0", factory=ExampleProvider
    )
    assert example_info.id_types == ("imdb",)
    assert "search" not in example_info.hooks
    config = tmp_path / "config.toml"
    config.write_text(
        '[providers.example]\napi_key = "example-file-key"\nbase_url = "https://ratings.test/v1"\n'
    )
    found = sorted([*discover(), example_info], key=lambda info: info.name)
    names = [p.name for p in found]
    settings = load_settings(
        names,
        config_path=config,
        env={"METARR_EXAMPLE_API_KEY": "example-env-key", "METARR_TMDB_API_KEY": "tmdb-key-1"},
    )
    assert settings.provider("example").base_url == "https://ratings.test/v1"  # from the file
    assert settings.provider("example").get("api_key") == "example-env-key"  # env wins
    httpx_mock.add_response(
        url="https://ratings.test/v1/ratings/tt0133093?key=example-env-key", json=EXAMPLE_BODY
    )

    async def identify() -> tuple[Registry, Any]:
        async with httpx.AsyncClient() as client:
            registry = build_registry(settings, client, plugins=found, only=["tmdb", "example"])
            result = await registry.lookup("example", Ids(imdb="tt0133093"))
            return registry, result

    registry, example = asyncio.run(identify())
    assert registry.enabled == ["example", "tmdb"]
    assert registry.entries["example"].info.distribution == "metarr-example"
    assert isinstance(example, ProviderResult)

    tmdb = ProviderResult(
        provider="tmdb",
        ids=Ids(tmdb=603, imdb="tt0133093"),
        title="The Matrix",
        year=1999,
        ratings=[Rating(source="tmdb", value=8.2, max=10, provider="tmdb", votes=26000)],
    )
    movie = merge({"tmdb": tmdb, "example": example}, registry.field_priorities())
    assert [(r.source, r.provider) for r in movie.ratings] == [
        ("tmdb", "tmdb"),
        ("community", "example"),
    ]
    community = movie.ratings[1]
    assert (community.value, community.max, community.votes) == (4.2, 5.0, 1234)
    assert movie.title == "The Matrix"
    assert movie.provenance["title"] == "tmdb"  # the example ranks only ratings
    assert movie.ids == Ids(tmdb=603, imdb="tt0133093")


# -- the author API -----------------------------------------------------------------------------

AUTHOR_API = (
    "Provider",
    "ProviderContext",
    "ProviderSettings",
    "ProviderHttp",
    "Option",
    "ProviderSpec",
    "hookimpl",
    "Ids",
    "IdKind",
    "ProviderResult",
    "SearchHit",
    "Rating",
    "Image",
    "IMAGE_KINDS",
    "CastMember",
    "CrewMember",
    "Classifier",
    "error_for_status",
    "env_name",
    "redact",
    "sanitize",
    "read_private",
    "write_private",
    "remove_private",
    "ProviderError",
    "NotFoundError",
    "AuthError",
    "RateLimitedError",
    "UnavailableError",
    "InvalidResponseError",
    "PluginError",
    "ConfigError",
)
PLUGIN_SOURCES = sorted((Path(__file__).resolve().parents[1] / "plugins").glob("*/src/**/*.py"))


def test_the_author_api_is_importable_from_metarr() -> None:
    missing = [name for name in AUTHOR_API if name not in metarr.__all__]
    assert missing == []
    for name in AUTHOR_API:
        assert getattr(metarr, name) is not None


def _metarr_imports(path: Path) -> list[tuple[str, tuple[str, ...]]]:
    """Every (module, names) a source file imports from metarr."""
    found: list[tuple[str, tuple[str, ...]]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "metarr":
            found.append((node.module or "", tuple(alias.name for alias in node.names)))
        elif isinstance(node, ast.Import):
            found.extend(
                (alias.name, ()) for alias in node.names if alias.name.split(".")[0] == "metarr"
            )
    return found


@pytest.mark.parametrize("path", PLUGIN_SOURCES, ids=lambda p: f"{p.parts[-4]}/{p.name}")
def test_bundled_plugins_use_only_the_author_api(path: Path) -> None:
    private = [
        f"{module} ({', '.join(names) or 'module'})"
        for module, names in _metarr_imports(path)
        if module != "metarr" or any(name not in metarr.__all__ for name in names)
    ]
    assert private == [], f"{path.name} imports outside metarr's public API"
    text = path.read_text(encoding="utf-8")
    assert '"METARR_' not in text and "'METARR_" not in text, "use metarr.env_name"


def test_the_plugin_sources_are_found() -> None:
    assert {p.parts[-4] for p in PLUGIN_SOURCES} == set(BUNDLED)
