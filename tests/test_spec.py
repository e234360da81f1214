"""Provider specs: declarations read once, options typed and checked, every mistake named."""

from __future__ import annotations

import re
from typing import Any, ClassVar

import metarr
import pytest
from metarr import ConfigError, Ids, Option, PluginError, ProviderResult, ProviderSpec
from metarr.config import ProviderSettings
from metarr.plugins import PluginInfo, discover, spec_of
from metarr.redaction import Secret

BUNDLED_OPTIONS = {
    "tmdb": {"api_key", "access_token", "image_size", "image_base_url", "feed_max_pages"},
    "omdb": {"api_key", "fetch_short_plot", "daily_requests"},
    "fanart": {"api_key", "client_key"},
    "tvdb": {"api_key", "pin"},
}


class Declared(metarr.Provider):
    """A provider using every declaration."""

    id_types: ClassVar[frozenset[metarr.IdKind]] = frozenset({"imdb", "tmdb"})
    authority_for: ClassVar[frozenset[metarr.IdKind]] = frozenset({"imdb"})
    options: ClassVar[tuple[Option, ...]] = (
        Option("api_key", help="the key"),
        Option("session", secret=True, help="a secret without a secret-looking name"),
        Option("fetch_more", type=bool, default=False, help="ask twice"),
        Option("page_size", type=int, default=20),
        Option("min_score", type=float),
        Option("region", default="US"),
    )
    requires: ClassVar[tuple[tuple[str, ...], ...]] = (("api_key",), ("session",))
    default_base_url: ClassVar[str] = "https://declared.test/v1/"
    default_ttl_days: ClassVar[float] = 2
    languages: ClassVar[frozenset[str] | None] = frozenset({"EN", "de"})

    @metarr.hookimpl
    async def lookup_by_id(self, ids: Ids) -> ProviderResult | None:
        return None

    @metarr.hookimpl
    def field_priority(self) -> dict[str, int]:
        return {"title": 10}


def test_the_spec_holds_every_declaration() -> None:
    spec = spec_of(Declared)
    assert isinstance(spec, ProviderSpec)
    assert spec.factory is Declared
    assert spec.hooks == ("lookup_by_id", "field_priority")
    assert spec.implements("lookup_by_id") and not spec.implements("search")
    assert spec.id_types == {"tmdb", "imdb"}
    assert spec.authority_for == {"imdb"}
    assert list(spec.options) == [
        "api_key",
        "session",
        "fetch_more",
        "page_size",
        "min_score",
        "region",
    ]
    assert spec.secrets == {"api_key", "session"}
    assert spec.requires == (("api_key",), ("session",))
    assert spec.default_base_url == "https://declared.test/v1"
    assert spec.default_ttl_days == 2.0
    assert spec.languages == {"en", "de"}
    with pytest.raises(TypeError):
        spec.options["x"] = Option("x")  # type: ignore[index]


def test_a_spec_is_read_once_per_class() -> None:
    assert spec_of(Declared) is spec_of(Declared)
    info = PluginInfo(name="declared", factory=Declared)
    assert spec_of(info) is spec_of(Declared)


@pytest.mark.parametrize("name", sorted(BUNDLED_OPTIONS))
def test_bundled_plugins_declare_their_options(name: str) -> None:
    [info] = [p for p in discover() if p.name == name]
    spec = spec_of(info)
    assert set(spec.options) == BUNDLED_OPTIONS[name]
    assert all(option.help for option in spec.options.values()), "every option has help text"
    for group in spec.requires:
        assert set(group) <= set(spec.options)
    secret = {"api_key", "access_token", "client_key", "pin"}
    assert spec.secrets == BUNDLED_OPTIONS[name] & secret


# -- options ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        (Option("flag", type=bool), "TRUE", True),
        (Option("flag", type=bool), "off", False),
        (Option("flag", type=bool), 0, False),
        (Option("flag", type=bool), False, False),
        (Option("flag", type=bool), "", None),
        (Option("count", type=int), " 42 ", 42),
        (Option("count", type=int), -3, -3),
        (Option("count", type=int), "", None),
        (Option("ratio", type=float), "0.5", 0.5),
        (Option("ratio", type=float), 2, 2.0),
        (Option("word"), 1234, "1234"),
        (Option("word"), "", ""),
        (Option("word"), None, None),
    ],
)
def test_option_values_are_converted(option: Option, value: Any, expected: Any) -> None:
    converted = option.convert(value)
    assert converted == expected
    assert type(converted) is type(expected)


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        (Option("flag", type=bool), "maybe", "must be true or false, not 'maybe'"),
        (Option("count", type=int), "4.5", "must be a whole number, not '4.5'"),
        (Option("count", type=int), "٤", "must be a whole number"),
        (Option("count", type=int), True, "must be a whole number, not True"),
        (Option("ratio", type=float), "nan", "must be a number, not 'nan'"),
        (Option("ratio", type=float), "fast", "must be a number, not 'fast'"),
        (Option("word"), ["a"], "must be text, not list"),
        (Option("word"), True, "must be text, not True"),
    ],
)
def test_bad_option_values_say_what_is_wrong(option: Option, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        option.convert(value)


def test_a_secret_value_is_never_shown() -> None:
    with pytest.raises(ValueError, match="must be text") as info:
        Option("pin_code", secret=True).convert(["hunter2-secret"])
    assert "hunter2" not in str(info.value)


def test_option_declarations_are_checked() -> None:
    with pytest.raises(ValueError, match="type must be str, int, float or bool"):
        Option("when", type=list)
    with pytest.raises(ValueError, match="a secret is text"):
        Option("api_key", type=int)
    assert Option("client_token").secret and not Option("region").secret
    assert Option("region", secret=True).secret
    assert Option("api_key").env_var("my-ratings") == "METARR_MY_RATINGS_API_KEY"


def test_check_converts_wraps_secrets_and_fills_defaults() -> None:
    spec = spec_of(Declared)
    checked = spec.check(
        "declared",
        {
            "api_key": "k-declared-1",
            "session": "s-declared-1",
            "fetch_more": "yes",
            "page_size": "5",
        },
    )
    assert isinstance(checked["api_key"], Secret) and checked["api_key"].reveal() == "k-declared-1"
    assert isinstance(checked["session"], Secret)
    assert checked["fetch_more"] is True
    assert checked["page_size"] == 5
    assert checked["region"] == "US"
    assert "min_score" not in checked
    settings = ProviderSettings(name="declared", options=checked)
    assert settings.get("session") == "s-declared-1"
    assert "s-declared-1" in settings.secrets()
    assert spec.check("declared", checked) == checked  # checking twice changes nothing


def test_check_names_the_setting_and_its_variable() -> None:
    spec = spec_of(Declared)
    with pytest.raises(ConfigError) as info:
        spec.check("declared", {"fetch_more": "perhaps"})
    assert str(info.value) == (
        "providers.declared.fetch_more (METARR_DECLARED_FETCH_MORE) must be true or false, "
        "not 'perhaps'"
    )


def test_unknown_settings_are_refused_with_what_the_provider_takes() -> None:
    spec = spec_of(Declared)
    with pytest.raises(ConfigError) as info:
        spec.check("declared", {"api_kye": "k-declared-1"})
    message = str(info.value)
    assert (
        "unknown setting 'api_kye' (METARR_DECLARED_API_KYE) (did you mean 'api_key'?)" in message
    )
    assert "declared takes api_key, session, fetch_more, page_size, min_score, region" in message
    assert "enabled, base_url, timeout, ttl_days" in message
    kept = spec.check("declared", {"extra": 1}, unknown="keep")
    assert kept["extra"] == 1


def test_missing_names_every_alternative() -> None:
    spec = spec_of(Declared)
    assert spec.missing(ProviderSettings(name="declared")) == (
        "no api_key or session configured: set METARR_DECLARED_API_KEY or "
        "METARR_DECLARED_SESSION (or [providers.declared] in the config file)"
    )
    assert spec.missing(ProviderSettings(name="declared", options={"session": "s-1234567"})) is None


# -- mistakes -------------------------------------------------------------------------------------


def build() -> Any:
    """A plain-function factory."""


class NotAProvider:
    pass


def test_a_plain_function_factory_is_named() -> None:
    with pytest.raises(PluginError) as info:
        spec_of(build)
    assert "the factory build is a plain function, not a metarr.Provider subclass" in str(
        info.value
    )
    with pytest.raises(
        PluginError, match=re.escape("NotAProvider is type, not a metarr.Provider subclass")
    ):
        spec_of(NotAProvider)


def test_a_plugin_that_failed_to_load_has_no_spec() -> None:
    with pytest.raises(PluginError, match="failed to load: ImportError: nope"):
        spec_of(PluginInfo(name="bad", error="failed to load: ImportError: nope"))


def _problems(**attrs_: Any) -> str:
    cls = type("Odd", (metarr.Provider,), attrs_)
    with pytest.raises(PluginError) as info:
        spec_of(cls)
    return str(info.value)


def _lookup() -> Any:
    async def lookup(self: Any, ids: Ids) -> None:
        return None

    return lookup


def _priority(self: Any) -> dict[str, int]:
    return {}


async def _async_extract(self: Any, result: ProviderResult) -> None:
    return None


@pytest.mark.parametrize(
    ("attrs_", "message"),
    [
        ({"serach": metarr.hookimpl(_lookup())}, "no hook 'serach' (did you mean 'search'?)"),
        ({"lookup_by_id": _lookup()}, "method lookup_by_id has no @metarr.hookimpl marker"),
        ({"field_priority": _priority}, "method field_priority has no @metarr.hookimpl marker"),
        (
            {"extract_ids": metarr.hookimpl(_async_extract)},
            "extract_ids must be a plain 'def', not 'async def'",
        ),
        (
            {"lookup_by_id": metarr.hookimpl(lambda self, ids: None)},
            "lookup_by_id must be 'async def'",
        ),
        (
            {"other": metarr.hookimpl(specname="lookup")(_lookup())},
            "no hook 'lookup' (did you mean 'lookup_by_id'?)",
        ),
        ({"id_types": frozenset({"imdb", "isbn"})}, "id_types names 'isbn': id kinds are"),
        ({"id_types": "imdb"}, "id_types must be a frozenset of id kinds"),
        ({"authority_for": frozenset({"tmbd"})}, "authority_for names 'tmbd'"),
        ({"requires": (("api_key", "pin"),)}, "requires names 'pin', which options does not"),
        ({"requires": ("api_key",)}, "requires must be a tuple of tuples of option names, such"),
        ({"options": {"api_key": Option("api_key")}}, "options must be a tuple of metarr.Option"),
        ({"options": ("api_key",)}, "options holds 'api_key', not a metarr.Option"),
        (
            {"options": (Option("api_key"), Option("api_key"))},
            "option 'api_key' is declared twice",
        ),
        ({"options": (Option("api_key"), Option("timeout"))}, "option 'timeout' is the core's"),
        ({"options": (Option("api_key"), Option("Api-Key"))}, "must be a lower-case identifier"),
        ({"default_base_url": "api.example.org"}, "default_base_url must be an http(s) URL"),
        ({"default_ttl_days": -1}, "default_ttl_days must be a number of days >= 0, not -1"),
        ({"default_ttl_days": "7"}, "default_ttl_days must be a number of days >= 0, not '7'"),
        ({"languages": "en"}, "languages must be None or a frozenset of codes"),
        ({"languages": frozenset({""})}, "languages must hold language codes"),
    ],
)
def test_every_declaration_mistake_is_named(attrs_: dict[str, Any], message: str) -> None:
    assert message in _problems(**attrs_)


def test_all_problems_are_named_at_once() -> None:
    message = _problems(serach=metarr.hookimpl(_lookup()), id_types=frozenset({"isbn"}))
    assert message.startswith("Odd: ")
    assert "serach" in message and "isbn" in message


def test_a_hook_taking_an_argument_the_core_does_not_pass() -> None:
    async def lookup(self: Any, ids: Ids, language: str) -> None:
        return None

    async def lenient(self: Any, ids: Ids, language: str = "en", **extra: Any) -> None:
        return None

    message = _problems(lookup_by_id=metarr.hookimpl(lookup))
    assert "lookup_by_id takes 'language', which the core does not pass (it passes: ids)" in message
    cls = type("Lenient", (metarr.Provider,), {"lookup_by_id": metarr.hookimpl(lenient)})
    assert spec_of(cls).hooks == ("lookup_by_id",)


def test_a_subclass_overriding_a_hook_without_the_marker_is_named() -> None:
    class Base(metarr.Provider):
        @metarr.hookimpl
        def field_priority(self) -> dict[str, int]:
            return {"title": 10}

    class Child(Base):
        def field_priority(self) -> dict[str, int]:
            return {"title": 20}

    assert spec_of(Base).hooks == ("field_priority",)
    with pytest.raises(
        PluginError, match=re.escape("method field_priority has no @metarr.hookimpl")
    ):
        spec_of(Child)


def test_static_method_hooks_are_read_and_a_misplaced_marker_is_named() -> None:
    class Static(metarr.Provider):
        @staticmethod
        @metarr.hookimpl
        def field_priority() -> dict[str, int]:
            return {"title": 10}

    class Misplaced(metarr.Provider):
        @metarr.hookimpl
        @staticmethod
        def field_priority() -> dict[str, int]:
            return {"title": 10}

    assert spec_of(Static).hooks == ("field_priority",)
    with pytest.raises(
        PluginError, match=re.escape("@metarr.hookimpl is above @staticmethod; put it below")
    ):
        spec_of(Misplaced)
