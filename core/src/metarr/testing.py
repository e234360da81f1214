"""Test helpers for provider authors: build a provider in a test, and the `ProviderContract`.

Subclass `ProviderContract` in your plugin's tests (pytest-httpx required), set the class
attributes and implement `mock_found`, and pytest runs the contract against your provider:
not-found gives None, unusable ids give None without a request, 401/429/5xx/bad bodies are
classified, results round-trip through the converter and extracted ids are valid.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, ClassVar, TypeVar

import attrs
import httpx
import pytest
import stamina

from metarr import redaction
from metarr.config import ProviderSettings, is_secret_key
from metarr.convert import from_json, to_json
from metarr.errors import AuthError, InvalidResponseError, RateLimitedError, UnavailableError
from metarr.http import ProviderHttp, new_client
from metarr.ids import Ids
from metarr.models import PRIORITY_FIELDS, ProviderResult, SearchHit
from metarr.provider import ProviderContext
from metarr.redaction import Secret
from metarr.spec import spec_of

T = TypeVar("T")


def provider_settings(name: str, values: Mapping[str, Any]) -> ProviderSettings:
    """Settings as the config loader would build them (secret keys wrapped in `Secret`)."""
    common = {k: values[k] for k in ("enabled", "base_url", "timeout", "ttl_days") if k in values}
    options = {
        k: Secret(str(v)) if is_secret_key(k) else v for k, v in values.items() if k not in common
    }
    return ProviderSettings(name=name, options=options, **common)


def make_provider(
    factory: Callable[[ProviderContext], T],
    name: str,
    settings: Mapping[str, Any],
    *,
    client: httpx.AsyncClient,
    base_url: str | None = None,
    language: str = "en",
) -> T:
    """Construct a provider the way the core does, around the given client: its settings
    checked against its declared options (a key it does not declare is a `ConfigError`)."""
    spec = spec_of(factory)
    psettings = provider_settings(name, settings)
    psettings = attrs.evolve(psettings, options=spec.check(name, psettings.options))
    redaction.register(*psettings.secrets())
    http = ProviderHttp(
        client,
        provider=name,
        base_url=base_url or psettings.base_url or spec.default_base_url,
        timeout=psettings.timeout,
        secrets=tuple(psettings.secrets()),
    )
    context = ProviderContext(
        name=name,
        settings=psettings,
        http=http,
        language=language,
        log=logging.getLogger(f"metarr.provider.{name}"),
    )
    return factory(context)


def run(coro_factory: Callable[[httpx.AsyncClient], Coroutine[Any, Any, T]]) -> T:
    """Run ``coro_factory(client)`` on a fresh event loop with a fresh shared client."""

    async def main() -> T:
        async with new_client() as client:
            return await coro_factory(client)

    return asyncio.run(main())


class ProviderContract:
    """The hook contract every provider must honour. Subclass it in your plugin's tests.

    Set ``factory``, ``name``, ``settings`` (include every secret your provider uses: the
    contract checks none leaks into errors), ``known_ids`` (ids of a movie `mock_found` serves)
    and implement `mock_found`. Override `mock_not_found` and `mock_failure` when your API
    signals those differently from plain HTTP status codes.
    """

    factory: ClassVar[Callable[[ProviderContext], Any]]
    name: ClassVar[str]
    settings: ClassVar[dict[str, Any]] = {"api_key": "contract-test-key"}
    base_url: ClassVar[str] = "https://provider.test/api"
    known_ids: ClassVar[Ids]

    def mock_found(self, httpx_mock: Any) -> None:
        """Register the responses that make ``lookup_by_id(known_ids)`` find the movie."""
        raise NotImplementedError

    def mock_not_found(self, httpx_mock: Any) -> None:
        """Register your API's own answer that the movie does not exist (default: HTTP 404
        with ``{"error": "not found"}`` everywhere). Your ``classify`` must claim it."""
        httpx_mock.add_response(status_code=404, json={"error": "not found"}, is_reusable=True)

    def mock_failure(self, httpx_mock: Any, status: int, headers: dict[str, str]) -> None:
        """Register a failing response for every request."""
        httpx_mock.add_response(
            status_code=status, headers=headers, json={"error": "failure"}, is_reusable=True
        )

    # -- helpers ---------------------------------------------------------------------------

    @pytest.fixture(autouse=True)
    def _no_retry_sleep(self) -> Any:
        stamina.set_testing(True, attempts=1)
        yield
        stamina.set_testing(False)

    def lookup(self, ids: Ids) -> ProviderResult | None:
        """Run the provider's ``lookup_by_id``."""
        return run(lambda client: self._provider(client).lookup_by_id(ids=ids))

    def _provider(self, client: httpx.AsyncClient) -> Any:
        return make_provider(
            self.factory, self.name, self.settings, client=client, base_url=self.base_url
        )

    def _secrets(self) -> list[str]:
        return [str(v) for k, v in self.settings.items() if is_secret_key(k)]

    def _assert_no_secret(self, exc: BaseException) -> None:
        for secret in self._secrets():
            assert secret not in str(exc), "a secret leaked into an error message"
            assert secret not in repr(exc), "a secret leaked into an error repr"

    # -- the contract ----------------------------------------------------------------------

    def test_found_result_is_typed_and_round_trips(self, httpx_mock: Any) -> None:
        self.mock_found(httpx_mock)
        result = self.lookup(self.known_ids)
        assert isinstance(result, ProviderResult)
        assert result.provider == self.name
        assert from_json(ProviderResult, to_json(result)) == result

    def test_extracted_ids_are_valid_and_consistent(self, httpx_mock: Any) -> None:
        self.mock_found(httpx_mock)
        result = self.lookup(self.known_ids)
        assert result is not None

        async def extract(client: httpx.AsyncClient) -> Any:
            return self._provider(client).extract_ids(result=result)

        extracted = run(extract)
        if extracted is not None:
            assert isinstance(extracted, Ids)
            for kind, value in extracted.items():
                assert Ids(**{kind: value}).get(kind) == value
                known = self.known_ids.get(kind)
                assert known is None or known == value, f"extracted {kind} contradicts the input"

    def test_not_found_gives_none(self, httpx_mock: Any) -> None:
        self.mock_not_found(httpx_mock)
        assert self.lookup(self.known_ids) is None

    def test_a_404_that_is_not_your_not_found_answer_is_invalid(self, httpx_mock: Any) -> None:
        # A base URL missing its version path answers 404 to everything: an error to report
        # (and to ask again later), never "no such movie", which the cache keeps as settled.
        httpx_mock.add_response(status_code=404, text="<html>Not Found</html>", is_reusable=True)
        with pytest.raises(InvalidResponseError) as info:
            self.lookup(self.known_ids)
        self._assert_no_secret(info.value)

    def test_unusable_ids_give_none_without_a_request(self, httpx_mock: Any) -> None:
        usable = set(getattr(self.factory, "id_types", ()))
        others = {"tmdb": 1, "imdb": "tt0000001", "tvdb": 1}
        ids = Ids(**{k: v for k, v in others.items() if k not in usable})
        assert self.lookup(ids) is None
        assert self.lookup(Ids()) is None
        assert httpx_mock.get_requests() == []

    @pytest.mark.parametrize("status", [401, 403])
    def test_rejected_credentials_are_an_auth_error(self, httpx_mock: Any, status: int) -> None:
        self.mock_failure(httpx_mock, status, {})
        with pytest.raises(AuthError) as info:
            self.lookup(self.known_ids)
        self._assert_no_secret(info.value)

    def test_429_is_rate_limited_with_retry_after(self, httpx_mock: Any) -> None:
        self.mock_failure(httpx_mock, 429, {"Retry-After": "7"})
        with pytest.raises(RateLimitedError) as info:
            self.lookup(self.known_ids)
        assert info.value.retry_after == 7
        self._assert_no_secret(info.value)

    @pytest.mark.parametrize("status", [500, 502, 503])
    def test_server_errors_are_unavailable(self, httpx_mock: Any, status: int) -> None:
        self.mock_failure(httpx_mock, status, {})
        with pytest.raises(UnavailableError) as info:
            self.lookup(self.known_ids)
        self._assert_no_secret(info.value)

    def test_network_errors_are_unavailable(self, httpx_mock: Any) -> None:
        httpx_mock.add_exception(httpx.ConnectError("connection refused"), is_reusable=True)
        with pytest.raises(UnavailableError):
            self.lookup(self.known_ids)

    def test_malformed_body_is_invalid_response(self, httpx_mock: Any) -> None:
        httpx_mock.add_response(status_code=200, content=b"{not json", is_reusable=True)
        with pytest.raises(InvalidResponseError) as info:
            self.lookup(self.known_ids)
        self._assert_no_secret(info.value)

    def test_wrong_shape_is_invalid_response_or_none(self, httpx_mock: Any) -> None:
        httpx_mock.add_response(status_code=200, json=["not", "an", "object"], is_reusable=True)
        try:
            assert self.lookup(self.known_ids) is None
        except InvalidResponseError as exc:
            self._assert_no_secret(exc)

    def test_field_priority_names_known_fields(self) -> None:
        ranks = run(lambda client: _call_pure(self._provider(client), "field_priority"))
        if ranks is not None:
            assert set(ranks) <= set(PRIORITY_FIELDS), set(ranks) - set(PRIORITY_FIELDS)
            assert all(isinstance(rank, int) for rank in ranks.values())

    def test_search_hits_are_typed(self, httpx_mock: Any) -> None:
        if getattr(getattr(self.factory, "search", None), "metarr_impl", None) is None:
            return  # the provider does not implement search
        self.mock_search(httpx_mock)
        hits = run(lambda client: self._provider(client).search(query="Heat", year=1995))
        assert hits, "mock_search should serve at least one hit"
        for hit in hits:
            assert isinstance(hit, SearchHit)
            assert hit.provider == self.name
            assert from_json(SearchHit, to_json(hit)) == hit

    def mock_search(self, httpx_mock: Any) -> None:
        """Register responses for ``search(query="Heat", year=1995)`` (providers with search)."""
        raise NotImplementedError("implement mock_search: the provider implements search")


async def _call_pure(provider: Any, hook: str) -> Any:
    method = getattr(provider, hook, None)
    return None if method is None else method()
