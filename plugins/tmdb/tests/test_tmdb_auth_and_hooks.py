"""Credentials (Bearer vs api_key), settings validation, the pure hooks and plugin registration."""

from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

import httpx
import pytest
from metarr import ConfigError, Ids, ProviderResult
from metarr.config import ProviderSettings, Settings
from metarr.models import PRIORITY_FIELDS
from metarr.plugins import PluginInfo, build_registry, spec_of
from metarr_tmdb import TmdbProvider


def sent(httpx_mock: Any) -> httpx.Request:
    [request] = httpx_mock.get_requests()
    return request


@pytest.fixture
def ok(httpx_mock: Any, tmdb_url: Any, sample: Any) -> None:
    httpx_mock.add_response(
        url=tmdb_url("/search/movie"), json=sample("tmdb_search_movie_no_results.json")
    )


@pytest.mark.usefixtures("ok")
def test_api_key_goes_in_the_query(httpx_mock: Any, make_tmdb: Any, creds: Any) -> None:
    make_tmdb(settings={"api_key": creds["api_key"]}).search("Heat")
    request = sent(httpx_mock)
    assert request.url.params["api_key"] == creds["api_key"]
    assert "Authorization" not in request.headers


@pytest.mark.usefixtures("ok")
def test_access_token_goes_in_the_bearer_header(
    httpx_mock: Any, make_tmdb: Any, creds: Any
) -> None:
    make_tmdb(settings={"access_token": creds["access_token"]}).search("Heat")
    request = sent(httpx_mock)
    assert request.headers["Authorization"] == f"Bearer {creds['access_token']}"
    assert "api_key" not in request.url.params


@pytest.mark.usefixtures("ok")
def test_token_pasted_as_api_key_is_sent_as_bearer(
    httpx_mock: Any, make_tmdb: Any, creds: Any
) -> None:
    make_tmdb(settings={"api_key": creds["access_token"]}).search("Heat")
    request = sent(httpx_mock)
    assert request.headers["Authorization"] == f"Bearer {creds['access_token']}"
    assert "api_key" not in request.url.params


@pytest.mark.usefixtures("ok")
def test_access_token_wins_over_api_key(httpx_mock: Any, make_tmdb: Any, creds: Any) -> None:
    settings = {"api_key": creds["api_key"], "access_token": creds["access_token"]}
    make_tmdb(settings=settings).search("Heat")
    request = sent(httpx_mock)
    assert request.headers["Authorization"] == f"Bearer {creds['access_token']}"
    assert "api_key" not in request.url.params


def test_no_credential_is_a_config_error(make_tmdb: Any) -> None:
    with pytest.raises(ConfigError, match="METARR_TMDB_API_KEY or METARR_TMDB_ACCESS_TOKEN"):
        make_tmdb(settings={}).provider()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("image_size", "w 500"),
        ("image_size", "../x"),
        ("image_base_url", "ftp://image.tmdb.org/t/p/"),
        ("image_base_url", "image.tmdb.org"),
    ],
)
def test_bad_image_settings_are_config_errors(
    make_tmdb: Any, creds: Any, key: str, value: str
) -> None:
    with pytest.raises(ConfigError, match=key):
        make_tmdb(settings={"api_key": creds["api_key"], key: value}).provider()


def test_reprs_show_no_credentials(make_tmdb: Any, creds: Any) -> None:
    settings = {"api_key": creds["api_key"], "access_token": creds["access_token"]}
    provider = make_tmdb(settings=settings).provider()
    for text in (repr(provider), repr(provider.auth), repr(provider.settings)):
        assert creds["api_key"] not in text
        assert creds["access_token"] not in text


def test_class_attributes() -> None:
    assert TmdbProvider.id_types == frozenset({"tmdb", "imdb"})
    assert TmdbProvider.requires == (("api_key",), ("access_token",))
    assert TmdbProvider.default_base_url == "https://api.themoviedb.org/3"
    assert TmdbProvider.default_ttl_days == 7
    assert TmdbProvider.languages is None


@pytest.mark.parametrize(
    ("options", "enabled"),
    [({"api_key": "k"}, True), ({"access_token": "t"}, True), ({}, False)],
)
def test_either_credential_enables_it(options: dict[str, str], enabled: bool) -> None:
    psettings = ProviderSettings(name="tmdb", options=options)
    assert (spec_of(TmdbProvider).missing(psettings) is None) is enabled


def test_field_priority_is_the_tmdb_column(tmdb: Any) -> None:
    ranks = tmdb.provider().field_priority()
    assert set(ranks) <= set(PRIORITY_FIELDS)
    assert ranks == {
        "title": 20,
        "year": 20,
        "release_date": 20,
        "runtime": 20,
        "plot": 20,
        "content_rating": 20,
        "original_title": 10,
        "tagline": 10,
        "collection": 10,
        "genres": 10,
        "ratings": 20,
        "images": 10,
        "cast": 10,
        "crew": 10,
        "ids.tmdb": 10,
        "ids.imdb": 20,
    }
    assert "outline" not in ranks
    assert "awards" not in ranks
    assert "ids.tvdb" not in ranks


def test_extract_ids_returns_the_result_ids(tmdb: Any) -> None:
    provider = tmdb.provider()
    result = ProviderResult(provider="tmdb", ids=Ids(tmdb=550, imdb="tt0137523"), title="X")
    assert provider.extract_ids(result=result) == Ids(tmdb=550, imdb="tt0137523")
    assert provider.extract_ids(result=ProviderResult(provider="tmdb")) is None


def test_entry_point_names_the_provider() -> None:
    [ep] = [ep for ep in entry_points(group="metarr.providers") if ep.name == "tmdb"]
    assert ep.value == "metarr_tmdb:TmdbProvider"
    assert ep.load() is TmdbProvider


def test_registry_enables_it_with_every_hook(creds: Any) -> None:
    settings = Settings(
        providers={"tmdb": ProviderSettings(name="tmdb", options={"api_key": creds["api_key"]})}
    )
    registry = build_registry(
        settings, httpx.AsyncClient(), plugins=[PluginInfo(name="tmdb", factory=TmdbProvider)]
    )
    assert registry.enabled == ["tmdb"]
    for hook in ("lookup_by_id", "search", "extract_ids", "field_priority"):
        assert registry.implements("tmdb", hook)
    assert registry.id_types("tmdb") == frozenset({"tmdb", "imdb"})
