"""The OMDb provider over HTTP: requests sent, the short-plot option, search, every error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import stamina
from metarr import (
    AuthError,
    ConfigError,
    Ids,
    InvalidResponseError,
    NotFoundError,
    ProviderError,
    RateLimitedError,
    UnavailableError,
)
from metarr.http import INTERACTIVE, retry_policy
from metarr.testing import make_provider
from metarr_omdb import OmdbProvider, make_classifier, next_midnight_utc
from pytest_httpx import HTTPXMock

IMDB = Ids(imdb="tt0770828")
BASE = "https://www.omdbapi.com/"
# HAND-WRITTEN bodies: no recording exists (texts and statuses from API.md §2.4).
INVALID_KEY = {"Response": "False", "Error": "Invalid API key!"}
NO_KEY = {"Response": "False", "Error": "No API key provided."}
QUOTA = {"Response": "False", "Error": "Request limit reached!"}
INCORRECT_ID = {"Response": "False", "Error": "Incorrect IMDb ID."}
TOO_MANY = {"Response": "False", "Error": "Too many results."}
SOMETHING_WRONG = {"Response": "False", "Error": "Something went wrong."}
FULL_PLOT = (
    "An alien child is evacuated from his dying world and sent to Earth to live among humans. "
    "His peace is threatened when other survivors of his home planet invade Earth, and he must "
    "decide whether to reveal himself."
)


def params(request: httpx.Request) -> dict[str, str]:
    return dict(request.url.params)


def lookup(ids: Ids = IMDB) -> Any:
    return lambda provider: provider.lookup_by_id(ids=ids)


def search(query: str, year: int | None = None) -> Any:
    return lambda provider: provider.search(query=query, year=year)


def assert_no_secret(exc: BaseException, api_key: str) -> None:
    assert api_key not in str(exc)
    assert api_key not in repr(exc)
    assert api_key not in str(getattr(exc, "detail", ""))


# -- lookup -----------------------------------------------------------------------------------


def test_lookup_sends_one_full_plot_request(
    httpx_mock: HTTPXMock, call: Any, sample: Any, api_key: str
) -> None:
    body = sample("omdb_tt0770828.json")
    httpx_mock.add_response(json=body)
    result = call(lookup())
    (request,) = httpx_mock.get_requests()
    assert request.method == "GET"
    assert request.url.copy_with(query=None) == "https://www.omdbapi.com/"
    assert params(request) == {
        "apikey": api_key,
        "i": "tt0770828",
        "plot": "full",
        "type": "movie",
        "r": "json",
    }
    assert result.ids == IMDB
    assert result.title == "Man of Steel"
    assert result.outline == (
        "An alien child is evacuated from his dying world and sent to Earth to live among humans."
    )
    assert result.raw == {"title": body}


def test_lookup_without_imdb_id_sends_nothing(httpx_mock: HTTPXMock, call: Any) -> None:
    assert call(lookup(Ids(tmdb=603, tvdb=1))) is None
    assert call(lookup(Ids())) is None
    assert httpx_mock.get_requests() == []


def test_lookup_of_a_series_gives_none(httpx_mock: HTTPXMock, call: Any, sample: Any) -> None:
    body = sample("omdb_tt0770828.json")
    body.update(Type="series", Year="2007–2019")  # DERIVED: a series record
    httpx_mock.add_response(json=body)
    assert call(lookup()) is None


def short_and_full(httpx_mock: HTTPXMock, sample: Any) -> None:
    """Serve the recorded (plot=short) body for plot=short, a DERIVED longer one for plot=full."""
    short = sample("omdb_tt0770828.json")
    full = {**short, "Plot": FULL_PLOT}

    def respond(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=short if request.url.params["plot"] == "short" else full)

    httpx_mock.add_callback(respond, is_reusable=True)


def test_default_outline_is_derived_without_a_second_request(
    httpx_mock: HTTPXMock, call: Any, sample: Any
) -> None:
    short_and_full(httpx_mock, sample)
    result = call(lookup())
    assert len(httpx_mock.get_requests()) == 1
    assert result.plot == FULL_PLOT
    assert result.outline == FULL_PLOT.split(". ")[0] + "."
    assert set(result.raw) == {"title"}


@pytest.mark.parametrize("flag", [True, "true", "TRUE", "1", "yes"])
def test_fetch_short_plot_makes_a_second_request(
    httpx_mock: HTTPXMock, call: Any, sample: Any, flag: Any
) -> None:
    short_and_full(httpx_mock, sample)
    result = call(lookup(), fetch_short_plot=flag)
    requests = httpx_mock.get_requests()
    assert [params(r)["plot"] for r in requests] == ["full", "short"]
    assert all(params(r)["i"] == "tt0770828" for r in requests)
    short = sample("omdb_tt0770828.json")
    assert result.plot == FULL_PLOT
    assert result.outline == short["Plot"]
    assert result.raw["short"] == short
    assert result.raw["title"]["Plot"] == FULL_PLOT


@pytest.mark.parametrize("flag", [False, "false", "False", "0", "no", ""])
def test_fetch_short_plot_false_values(
    httpx_mock: HTTPXMock, call: Any, sample: Any, flag: Any
) -> None:
    short_and_full(httpx_mock, sample)
    call(lookup(), fetch_short_plot=flag)
    assert len(httpx_mock.get_requests()) == 1


def test_fetch_short_plot_rejects_nonsense() -> None:
    with pytest.raises(ConfigError, match="METARR_OMDB_FETCH_SHORT_PLOT"):
        make_provider(
            OmdbProvider,
            "omdb",
            {"api_key": "k", "fetch_short_plot": "maybe"},
            client=httpx.AsyncClient(),
        )


def test_short_plot_failure_keeps_the_full_record(
    httpx_mock: HTTPXMock, call: Any, sample: Any
) -> None:
    full = {**sample("omdb_tt0770828.json"), "Plot": FULL_PLOT}
    httpx_mock.add_response(url=BASE, match_params=_p(plot="full"), json=full)
    httpx_mock.add_response(url=BASE, match_params=_p(plot="short"), status_code=503)
    result = call(lookup(), fetch_short_plot=True)
    assert result.outline == FULL_PLOT.split(". ")[0] + "."
    assert "short" not in result.raw


def test_short_plot_quota_propagates(httpx_mock: HTTPXMock, call: Any, sample: Any) -> None:
    full = {**sample("omdb_tt0770828.json"), "Plot": FULL_PLOT}
    httpx_mock.add_response(url=BASE, match_params=_p(plot="full"), json=full)
    httpx_mock.add_response(url=BASE, match_params=_p(plot="short"), status_code=401, json=QUOTA)
    with pytest.raises(RateLimitedError):
        call(lookup(), fetch_short_plot=True)


def _p(**extra: str) -> dict[str, str]:
    base = {"apikey": "omdb-secret-key-1234", "i": "tt0770828", "type": "movie", "r": "json"}
    return {**base, **extra}


# -- errors -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["omdb_error_tt9999999.json", "omdb_error_t_movie_not_found.json"])
def test_recorded_not_found_bodies_give_none(
    httpx_mock: HTTPXMock, call: Any, sample: Any, name: str
) -> None:
    httpx_mock.add_response(status_code=200, json=sample(name))
    assert call(lookup()) is None


def test_incorrect_imdb_id_gives_none(httpx_mock: HTTPXMock, call: Any) -> None:
    httpx_mock.add_response(status_code=200, json=INCORRECT_ID)
    assert call(lookup()) is None


@pytest.mark.parametrize("body", [INVALID_KEY, NO_KEY])
def test_401_rejected_key_is_an_auth_error(
    httpx_mock: HTTPXMock, call: Any, api_key: str, body: dict[str, str]
) -> None:
    httpx_mock.add_response(status_code=401, json=body)
    with pytest.raises(AuthError) as info:
        call(lookup())
    assert body["Error"] in str(info.value)
    assert "METARR_OMDB_API_KEY" in str(info.value)
    assert info.value.out_for_run
    assert_no_secret(info.value, api_key)


def test_401_quota_is_rate_limited_until_next_midnight_utc(
    httpx_mock: HTTPXMock, call: Any, api_key: str
) -> None:
    httpx_mock.add_response(status_code=401, json=QUOTA)
    before = datetime.now(UTC)
    with pytest.raises(RateLimitedError) as info:
        call(lookup())
    after = datetime.now(UTC)
    exc = info.value
    assert not isinstance(exc, AuthError)
    assert exc.until in {next_midnight_utc(before), next_midnight_utc(after)}
    assert exc.until is not None
    assert (exc.until.hour, exc.until.minute, exc.until.second) == (0, 0, 0)
    assert exc.until.utcoffset() == timedelta(0)
    assert exc.retry_after is not None
    expected = (exc.until - before).total_seconds()
    assert expected - 5 <= exc.retry_after <= expected
    assert "daily request limit" in str(exc)
    assert_no_secret(exc, api_key)


def test_quota_is_never_retried(httpx_mock: HTTPXMock, call: Any) -> None:
    stamina.set_testing(True, attempts=3)
    httpx_mock.add_response(status_code=401, json=QUOTA, is_reusable=True)
    with retry_policy(INTERACTIVE), pytest.raises(RateLimitedError):
        call(lookup())
    assert len(httpx_mock.get_requests()) == 1


def test_quota_with_200_status_is_also_rate_limited(httpx_mock: HTTPXMock, call: Any) -> None:
    httpx_mock.add_response(status_code=200, json=QUOTA)
    with pytest.raises(RateLimitedError):
        call(lookup())


def test_401_without_a_body_is_an_auth_error(httpx_mock: HTTPXMock, call: Any) -> None:
    httpx_mock.add_response(status_code=401, text="Unauthorized")
    with pytest.raises(AuthError):
        call(lookup())


@pytest.mark.parametrize(("headers", "retry_after"), [({"Retry-After": "12"}, 12.0), ({}, None)])
def test_429(
    httpx_mock: HTTPXMock,
    call: Any,
    api_key: str,
    headers: dict[str, str],
    retry_after: float | None,
) -> None:
    httpx_mock.add_response(status_code=429, headers=headers, text="slow down", is_reusable=True)
    with pytest.raises(RateLimitedError) as info:
        call(lookup())
    assert info.value.retry_after == retry_after
    assert info.value.until is None
    assert_no_secret(info.value, api_key)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_unavailable(
    httpx_mock: HTTPXMock, call: Any, api_key: str, status: int
) -> None:
    httpx_mock.add_response(status_code=status, json=SOMETHING_WRONG, is_reusable=True)
    with pytest.raises(UnavailableError) as info:
        call(lookup())
    assert_no_secret(info.value, api_key)


def test_timeout_is_unavailable(httpx_mock: HTTPXMock, call: Any, api_key: str) -> None:
    httpx_mock.add_exception(httpx.ReadTimeout("read timed out"), is_reusable=True)
    with pytest.raises(UnavailableError) as info:
        call(lookup())
    assert "timed out" in str(info.value)
    assert_no_secret(info.value, api_key)


def test_network_error_message_is_redacted(httpx_mock: HTTPXMock, call: Any, api_key: str) -> None:
    url = f"https://www.omdbapi.com/?apikey={api_key}&i=tt0770828"
    httpx_mock.add_exception(httpx.ConnectError(f"cannot reach {url}"), is_reusable=True)
    with pytest.raises(UnavailableError) as info:
        call(lookup())
    assert_no_secret(info.value, api_key)


def test_unknown_error_text_is_unavailable_and_redacted(
    httpx_mock: HTTPXMock, call: Any, api_key: str
) -> None:
    # HAND-WRITTEN: an unknown error that echoes the key back.
    body = {"Response": "False", "Error": f"Something went wrong with {api_key}."}
    httpx_mock.add_response(status_code=200, json=body, is_reusable=True)
    with pytest.raises(UnavailableError) as info:
        call(lookup())
    assert "Something went wrong" in str(info.value)
    assert_no_secret(info.value, api_key)


def test_malformed_json_is_invalid(httpx_mock: HTTPXMock, call: Any, api_key: str) -> None:
    httpx_mock.add_response(status_code=200, content=b'{"Title": "Man of')
    with pytest.raises(InvalidResponseError) as info:
        call(lookup())
    assert_no_secret(info.value, api_key)


@pytest.mark.parametrize(
    "content",
    [b"[1, 2]", b'"text"', b"42", b"null", b"", b'{"Title": "Man of Steel"}'],
)
def test_wrong_shape_is_invalid(httpx_mock: HTTPXMock, call: Any, content: bytes) -> None:
    httpx_mock.add_response(status_code=200, content=content)
    with pytest.raises(InvalidResponseError):
        call(lookup())


def test_non_json_error_page_keeps_its_status_meaning(httpx_mock: HTTPXMock, call: Any) -> None:
    httpx_mock.add_response(status_code=502, text="<html>Bad gateway</html>")
    with pytest.raises(UnavailableError):
        call(lookup())


# -- search -----------------------------------------------------------------------------------


def test_search_request_and_hits(
    httpx_mock: HTTPXMock, call: Any, sample: Any, api_key: str
) -> None:
    body = sample("omdb_search_man_of_steel_type_movie.json")
    httpx_mock.add_response(json=body)
    hits = call(search("Man of Steel", 2013))
    (request,) = httpx_mock.get_requests()
    assert params(request) == {
        "apikey": api_key,
        "s": "Man of Steel",
        "type": "movie",
        "y": "2013",
        "page": "1",
        "r": "json",
    }
    assert [hit.ids.imdb for hit in hits] == [item["imdbID"] for item in body["Search"]]
    assert all(hit.provider == "omdb" for hit in hits)


def test_search_without_year_omits_y(httpx_mock: HTTPXMock, call: Any, sample: Any) -> None:
    httpx_mock.add_response(json=sample("omdb_search_man_of_steel_type_movie.json"))
    call(search("Man of Steel"))
    (request,) = httpx_mock.get_requests()
    assert "y" not in params(request)


def test_search_drops_non_movie_hits(httpx_mock: HTTPXMock, call: Any, sample: Any) -> None:
    httpx_mock.add_response(json=sample("omdb_search_man_of_steel_page1.json"))
    hits = call(search("Man of Steel"))
    assert len(hits) == 9
    assert "tt1453257" not in {hit.ids.imdb for hit in hits}  # Superman: The Man of Steel (game)


@pytest.mark.parametrize("body", ["omdb_search_error_movie_not_found.json", TOO_MANY])
def test_search_without_results_is_empty(
    httpx_mock: HTTPXMock, call: Any, sample: Any, body: Any
) -> None:
    httpx_mock.add_response(json=sample(body) if isinstance(body, str) else body)
    assert call(search("Meen of Stal")) == []


def test_search_of_blank_query_sends_nothing(httpx_mock: HTTPXMock, call: Any) -> None:
    assert call(search("   ")) == []
    assert httpx_mock.get_requests() == []


def test_search_errors_propagate(httpx_mock: HTTPXMock, call: Any, api_key: str) -> None:
    httpx_mock.add_response(status_code=401, json=INVALID_KEY)
    with pytest.raises(AuthError) as info:
        call(search("Man of Steel"))
    assert_no_secret(info.value, api_key)


def test_search_wrong_shape_is_invalid(httpx_mock: HTTPXMock, call: Any) -> None:
    httpx_mock.add_response(json=["Man of Steel"])
    with pytest.raises(InvalidResponseError):
        call(search("Man of Steel"))


# -- pure hooks and helpers -------------------------------------------------------------------


def test_extract_ids_and_field_priority(httpx_mock: HTTPXMock, call: Any, sample: Any) -> None:
    httpx_mock.add_response(json=sample("omdb_tt0770828.json"))
    result = call(lookup())
    provider = make_provider(OmdbProvider, "omdb", {"api_key": "k"}, client=httpx.AsyncClient())
    assert provider.extract_ids(result=result) == IMDB
    ranks = provider.field_priority()
    assert ranks["ids.imdb"] == ranks["ratings"] == ranks["outline"] == 10
    assert ranks["images"] == 40
    assert "tagline" not in ranks
    assert "ids.tmdb" not in ranks


def test_class_attributes() -> None:
    assert OmdbProvider.id_types == frozenset({"imdb"})
    assert OmdbProvider.requires == (("api_key",),)
    assert OmdbProvider.default_base_url == "https://www.omdbapi.com"
    assert OmdbProvider.default_ttl_days == 7
    assert OmdbProvider.languages == frozenset({"en"})


@pytest.mark.parametrize(
    ("now", "midnight"),
    [
        (datetime(2026, 2, 13, 15, 30, tzinfo=UTC), datetime(2026, 2, 14, tzinfo=UTC)),
        (datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)),
        (datetime(2026, 2, 14, 0, 0, tzinfo=UTC), datetime(2026, 2, 15, tzinfo=UTC)),
        (
            datetime(2026, 2, 13, 23, 0, tzinfo=UTC) + timedelta(0),
            datetime(2026, 2, 14, tzinfo=UTC),
        ),
    ],
)
def test_next_midnight_utc(now: datetime, midnight: datetime) -> None:
    assert next_midnight_utc(now) == midnight


def test_classifier_with_a_fixed_clock() -> None:
    now = datetime(2026, 2, 13, 18, 0, tzinfo=UTC)
    classify = make_classifier("omdb", now=lambda: now)
    error = classify(401, QUOTA)
    assert isinstance(error, RateLimitedError)
    assert error.until == datetime(2026, 2, 14, tzinfo=UTC)
    assert error.retry_after == 6 * 3600


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (200, {"Response": "True"}, None),
        (200, {"Response": "False", "Error": "Movie not found!"}, NotFoundError),
        (200, {"Response": "False", "Error": "Error getting data."}, NotFoundError),
        (200, TOO_MANY, UnavailableError),  # only search treats it as "no results"
        (401, INVALID_KEY, AuthError),
        (401, QUOTA, RateLimitedError),
        (401, SOMETHING_WRONG, None),  # unknown text on an error status: the status decides
        (429, {"error": "x"}, None),
        (200, {"Response": "False"}, UnavailableError),
        (200, {"Title": "x"}, InvalidResponseError),
        (200, [], InvalidResponseError),
        (500, [], None),
        (200, None, None),
    ],
)
def test_classifier_table(status: int, body: Any, expected: type[ProviderError] | None) -> None:
    result = make_classifier("omdb")(status, body)
    if expected is None:
        assert result is None
    else:
        assert type(result) is expected


@pytest.mark.parametrize("body", [INCORRECT_ID, {"error": "not a route"}])
def test_404_is_never_omdbs_not_found(httpx_mock: HTTPXMock, call: Any, body: Any) -> None:
    """OMDb says "no result" with HTTP 200; a 404, whatever its text, is a wrong base URL."""
    httpx_mock.add_response(status_code=404, json=body)
    with pytest.raises(InvalidResponseError, match="METARR_OMDB_BASE_URL"):
        call(lookup())
