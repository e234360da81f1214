"""Test helpers for provider authors: the `ProviderContract`, `make_provider` and `run`.

``pip install "metarr[testing]"`` brings pytest and pytest-httpx, and the fixtures of
`metarr.pytest_plugin` (``no_retry_wait``, ``quick_retries``). Subclass `ProviderContract` in
your plugin's tests, set its class attributes and implement `ProviderContract.mock_found`, and
pytest checks your provider against the contract the core enforces: declarations and hook
markers, not-found gives None, unusable ids give None without a request, 401/403/429/5xx,
network errors and bad bodies are classified, no secret leaks into an error, results and their
raw payloads survive a JSON round trip, extracted ids are valid and ranks name real fields.
Every failure is one message naming the problem.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
from collections.abc import Callable, Coroutine, Iterator, Mapping
from typing import Any, ClassVar, NoReturn, TypeVar

import attrs
import httpx
import pytest

from metarr import contract, redaction
from metarr.config import ProviderSettings, is_secret_key
from metarr.convert import from_json, to_json
from metarr.errors import (
    AuthError,
    InvalidResponseError,
    PluginError,
    ProviderError,
    RateLimitedError,
    UnavailableError,
)
from metarr.http import ProviderHttp, new_client
from metarr.ids import Ids
from metarr.models import ProviderResult, SearchHit
from metarr.provider import ProviderContext
from metarr.pytest_plugin import retries_without_waiting
from metarr.redaction import Secret
from metarr.spec import COMMON_OPTIONS, ProviderSpec, spec_of

__all__ = ["ProviderContract", "make_provider", "provider_settings", "run"]

T = TypeVar("T")
UNMATCHED = "No response can be found"  # how pytest-httpx starts its "no mock matched" message


def provider_settings(name: str, values: Mapping[str, Any]) -> ProviderSettings:
    """Settings as the config loader would build them (secret-named keys wrapped in `Secret`)."""
    common = {k: values[k] for k in COMMON_OPTIONS if k in values}
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
    checked against its declared options (`metarr.ConfigError` for a key it does not declare
    or a value of the wrong type; `metarr.PluginError` for a wrong declaration)."""
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

    Set ``factory`` (your `metarr.Provider` subclass), ``name`` (its entry-point name),
    ``settings`` (include every secret your provider uses: the contract checks that none
    leaks into errors), ``base_url`` (the mocks' server) and ``known_ids`` (ids of a movie
    `mock_found` serves), and implement `mock_found`. Override `mock_not_found` and
    `mock_failure` when your API signals those differently from plain HTTP status codes, and
    implement `mock_search` when your provider implements ``search``.
    """

    factory: ClassVar[Callable[[ProviderContext], Any]]
    name: ClassVar[str]
    settings: ClassVar[dict[str, Any]] = {"api_key": "contract-test-key"}
    base_url: ClassVar[str] = "https://provider.test/api"
    known_ids: ClassVar[Ids]

    def mock_found(self, httpx_mock: Any) -> None:
        """Register the responses that make ``lookup_by_id(known_ids)`` find the movie."""
        raise NotImplementedError("implement mock_found: the responses for known_ids")

    def mock_not_found(self, httpx_mock: Any) -> None:
        """Register your API's own answer that the movie does not exist (default: HTTP 404
        with ``{"error": "not found"}`` everywhere). Your ``classify`` must claim it."""
        httpx_mock.add_response(status_code=404, json={"error": "not found"}, is_reusable=True)

    def mock_failure(self, httpx_mock: Any, status: int, headers: dict[str, str]) -> None:
        """Register a failing response for every request."""
        httpx_mock.add_response(
            status_code=status, headers=headers, json={"error": "failure"}, is_reusable=True
        )

    def mock_search(self, httpx_mock: Any) -> None:
        """Register responses for ``search(query="Heat", year=1995)`` (providers with search)."""
        raise NotImplementedError("implement mock_search: the provider implements search")

    # -- helpers ---------------------------------------------------------------------------

    @pytest.fixture(autouse=True)
    def _no_retry_wait(self) -> Iterator[None]:
        with retries_without_waiting(1):
            yield

    @property
    def spec(self) -> ProviderSpec:
        """The provider's spec; the test fails with the problem when the declarations are wrong."""
        factory = inspect.getattr_static(type(self), "factory", None)
        if isinstance(factory, staticmethod):  # a function set as a class attribute
            factory = factory.__func__
        if factory is None:
            _fail("set factory = YourProvider (your metarr.Provider subclass)")
        try:
            return spec_of(factory)
        except PluginError as exc:
            _fail(str(exc))

    def lookup(self, ids: Ids, *, when: str = "") -> ProviderResult | None:
        """Run the provider's ``lookup_by_id``, as the core would check its answer."""
        value = self._call(lambda p: p.lookup_by_id(ids=ids), "lookup_by_id", when)
        return self._checked(functools.partial(contract.result, strict=True), "lookup_by_id", value)

    def extract_ids(self, result: ProviderResult) -> Ids | None:
        """Run the provider's ``extract_ids`` (None when it does not implement it)."""
        if not self.spec.implements("extract_ids"):
            return None

        async def call(client: httpx.AsyncClient) -> Any:
            return self._provider(client).extract_ids(result=result)

        try:
            value = run(call)
        except Exception as exc:
            _fail(f"plugin bug in {self.name}.extract_ids: raised {type(exc).__name__}: {exc}")
        return self._checked(contract.ids, "extract_ids", value)

    def search(self, query: str, year: int | None) -> list[SearchHit]:
        """Run the provider's ``search``, as the core would check its answer."""
        value = self._call(lambda p: p.search(query=query, year=year), "search", "on mock_search")
        return self._checked(contract.hits, "search", value)

    def _provider(self, client: httpx.AsyncClient) -> Any:
        try:
            return make_provider(
                self.spec.factory, self.name, self.settings, client=client, base_url=self.base_url
            )
        except PluginError as exc:
            _fail(str(exc))

    def _call(self, hook: Callable[[Any], Any], name: str, when: str) -> Any:
        """Await one hook; a request no mock matched fails with pytest-httpx's own message, and
        an exception other than metarr's provider errors fails naming it."""

        async def call(client: httpx.AsyncClient) -> Any:
            return await hook(self._provider(client))

        try:
            return run(call)
        except Exception as exc:
            unmatched = _unmatched(exc)
            if unmatched is not None:
                _fail(f"a request matched none of your mocks: {unmatched}")
            if isinstance(exc, ProviderError):
                raise
            _fail(
                f"plugin bug in {self.name}.{name}: raised {type(exc).__name__}: {exc}"
                + (f" {when}" if when else "")
                + "; a hook returns None for a movie your API does not have and raises only "
                "metarr's provider errors (AuthError, RateLimitedError, UnavailableError, "
                "InvalidResponseError)"
            )

    def _checked(self, check: Callable[[str, str, Any], T], hook: str, value: Any) -> T:
        try:
            return check(self.name, hook, value)
        except PluginError as exc:
            _fail(str(exc))

    def _secrets(self) -> list[str]:
        secret = self.spec.secrets
        return [str(v) for k, v in self.settings.items() if k in secret or is_secret_key(k)]

    def _assert_no_secret(self, exc: BaseException) -> None:
        for secret in self._secrets():
            assert secret not in str(exc), f"a secret leaked into an error message: {exc}"
            assert secret not in repr(exc), f"a secret leaked into an error repr: {exc!r}"

    # -- the contract ----------------------------------------------------------------------

    def test_declarations_and_hook_markers(self) -> None:
        spec = self.spec
        assert self.name, "set name = your entry-point name"
        assert spec.implements("lookup_by_id") or spec.implements("search"), (
            "the provider implements neither lookup_by_id nor search: the core never calls it"
        )

    def test_found_result_is_typed_and_round_trips(self, httpx_mock: Any) -> None:
        self.mock_found(httpx_mock)
        result = self.lookup(self.known_ids, when="on mock_found")
        if result is None:
            _fail(f"lookup_by_id({self.known_ids}) returned None with mock_found's responses")
        stored = json.loads(json.dumps(to_json(result), allow_nan=False))
        again = from_json(ProviderResult, stored)
        assert again == result, "the result changes when the cache stores and reads it back"
        assert again.raw == result.raw, "raw changes when the cache stores and reads it back"

    def test_extracted_ids_are_valid_and_consistent(self, httpx_mock: Any) -> None:
        self.mock_found(httpx_mock)
        result = self.lookup(self.known_ids, when="on mock_found")
        if result is None:
            _fail(f"lookup_by_id({self.known_ids}) returned None with mock_found's responses")
        extracted = self.extract_ids(result)
        for kind, value in (extracted or Ids()).items():
            known = self.known_ids.get(kind)
            assert known is None or known == value, (
                f"extract_ids says {kind} {value}, but the movie was looked up by {kind} {known}"
            )

    def test_not_found_gives_none(self, httpx_mock: Any) -> None:
        self.mock_not_found(httpx_mock)
        when = "on your API's not-found answer (mock_not_found)"
        try:
            found = self.lookup(self.known_ids, when=when)
        except ProviderError as exc:
            _fail(
                f"lookup_by_id raised {type(exc).__name__}: {exc} {when}; claim that answer in "
                "classify with metarr.NotFoundError, catch it in the hook and return None"
            )
        assert found is None, f"lookup_by_id returned a result {when}"

    def test_a_404_that_is_not_your_not_found_answer_is_invalid(self, httpx_mock: Any) -> None:
        # A base URL missing its version path answers 404 to everything: an error to report
        # (and to ask again later), never "no such movie", which the cache keeps as settled.
        httpx_mock.add_response(status_code=404, text="<html>Not Found</html>", is_reusable=True)
        when = "on an HTML 404 that is not your API's answer (a wrong base_url)"
        try:
            found = self.lookup(self.known_ids, when=when)
        except InvalidResponseError as exc:
            self._assert_no_secret(exc)
            return
        except ProviderError as exc:
            _fail(
                f"lookup_by_id raised {type(exc).__name__} {when}; let the core's "
                "InvalidResponseError through (claim only your API's own not-found answer)"
            )
        _fail(
            f"lookup_by_id returned {found!r} {when}: claim only your API's own not-found "
            "answer in classify, and let the core's InvalidResponseError through"
        )

    def test_unusable_ids_give_none_without_a_request(self, httpx_mock: Any) -> None:
        usable = self.spec.id_types
        others = {"tmdb": 1, "imdb": "tt0000001", "tvdb": 1}
        ids = Ids(**{k: v for k, v in others.items() if k not in usable})
        assert self.lookup(ids) is None, f"lookup_by_id({ids}) uses ids outside id_types"
        assert self.lookup(Ids()) is None, "lookup_by_id without ids must return None"
        assert httpx_mock.get_requests() == [], "ids outside id_types must send no request"

    @pytest.mark.parametrize("status", [401, 403])
    def test_rejected_credentials_are_an_auth_error(self, httpx_mock: Any, status: int) -> None:
        self.mock_failure(httpx_mock, status, {})
        with pytest.raises(AuthError) as info:
            self.lookup(self.known_ids, when=f"on HTTP {status}")
        self._assert_no_secret(info.value)

    def test_429_is_rate_limited_with_retry_after(self, httpx_mock: Any) -> None:
        self.mock_failure(httpx_mock, 429, {"Retry-After": "7"})
        with pytest.raises(RateLimitedError) as info:
            self.lookup(self.known_ids, when="on HTTP 429")
        assert info.value.retry_after == 7
        self._assert_no_secret(info.value)

    @pytest.mark.parametrize("status", [500, 502, 503])
    def test_server_errors_are_unavailable(self, httpx_mock: Any, status: int) -> None:
        self.mock_failure(httpx_mock, status, {})
        with pytest.raises(UnavailableError) as info:
            self.lookup(self.known_ids, when=f"on HTTP {status}")
        self._assert_no_secret(info.value)

    def test_network_errors_are_unavailable(self, httpx_mock: Any) -> None:
        httpx_mock.add_exception(httpx.ConnectError("connection refused"), is_reusable=True)
        with pytest.raises(UnavailableError):
            self.lookup(self.known_ids, when="on a network error")

    def test_malformed_body_is_invalid_response(self, httpx_mock: Any) -> None:
        httpx_mock.add_response(status_code=200, content=b"{not json", is_reusable=True)
        with pytest.raises(InvalidResponseError) as info:
            self.lookup(self.known_ids, when="on a body that is not JSON")
        self._assert_no_secret(info.value)

    def test_wrong_shape_is_invalid_response_or_none(self, httpx_mock: Any) -> None:
        httpx_mock.add_response(status_code=200, json=["not", "an", "object"], is_reusable=True)
        when = "on a body of the wrong shape (a JSON list); raise InvalidResponseError for it"
        try:
            found = self.lookup(self.known_ids, when=when)
        except InvalidResponseError as exc:
            self._assert_no_secret(exc)
            return
        assert found is None, f"lookup_by_id returned a result {when}"

    def test_field_priority_names_known_fields(self) -> None:
        if not self.spec.implements("field_priority"):
            return

        async def ranks(client: httpx.AsyncClient) -> Any:
            return self._provider(client).field_priority()

        try:
            value = run(ranks)
        except Exception as exc:
            _fail(f"plugin bug in {self.name}.field_priority: raised {type(exc).__name__}: {exc}")
        self._checked(contract.ranks, "field_priority", value)

    def test_search_hits_are_typed(self, httpx_mock: Any) -> None:
        if not self.spec.implements("search"):
            return
        self.mock_search(httpx_mock)
        hits = self.search("Heat", 1995)
        assert hits, "mock_search should serve at least one hit"
        for hit in hits:
            assert from_json(SearchHit, to_json(hit)) == hit


def _unmatched(exc: BaseException) -> str | None:
    """pytest-httpx's message when ``exc`` (or what it came from) is a request no mock matched
    (the HTTP layer turns it into an `UnavailableError` such as "timed out after 10 s")."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, httpx.TimeoutException) and str(current).startswith(UNMATCHED):
            return str(current)
        current = current.__cause__ or current.__context__
    return None


def _fail(message: str) -> NoReturn:
    """Fail the test with this one message: no traceback, no chained exception."""
    raise pytest.fail.Exception(message, pytrace=False) from None
