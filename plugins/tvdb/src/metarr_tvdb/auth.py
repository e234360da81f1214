"""TheTVDB v4 authentication: one ``POST /login`` per provider object, a bearer token after.

The token (valid about a month) is kept in memory only; it is renewed once when a data
endpoint answers 401, and after `TOKEN_MAX_AGE` seconds. The API key, PIN and token never
appear in a log line or an error message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from metarr import AuthError, InvalidResponseError, ProviderError, ProviderHttp, env_name

from metarr_tvdb.parse import message_text, unwrap

# Tokens last about 30 days [API.md §4.2]; renew well before that in a long-lived process.
TOKEN_MAX_AGE = 25 * 86_400.0


class TvdbAuth:
    """Hands out the bearer token, logging in lazily; concurrent callers share one login."""

    def __init__(
        self,
        http: ProviderHttp,
        *,
        provider: str,
        api_key: str,
        pin: str | None = None,
        log: logging.Logger | None = None,
    ) -> None:
        self._http = http
        self._provider = provider
        self._api_key = api_key
        self._pin = pin or None
        self._log = log or logging.getLogger("metarr.provider.tvdb")
        self._token: str | None = None
        self._obtained = 0.0
        self._lock = asyncio.Lock()
        self._finished = 0  # logins that have ended, successfully or not
        self._failure: ProviderError | None = None
        self.logins = 0

    def __repr__(self) -> str:
        state = "logged in" if self._token else "not logged in"
        return f"<TvdbAuth {self._provider!r} {state}>"

    def _fresh(self) -> str | None:
        if self._token is not None and time.monotonic() - self._obtained < TOKEN_MAX_AGE:
            return self._token
        return None

    async def token(self) -> str:
        """The current token, logging in first if there is none (one login at a time)."""
        current = self._fresh()
        if current is not None:
            return current
        seen = self._finished
        async with self._lock:
            current = self._fresh()
            if current is not None:
                return current
            if self._failure is not None and (
                self._finished != seen or isinstance(self._failure, AuthError)
            ):
                # The login we waited for failed (or the credentials are known to be bad).
                raise self._failure
            return await self._login()

    async def renew(self, stale: str) -> str:
        """A new token after ``stale`` was rejected (one login however many callers saw it)."""
        async with self._lock:
            if self._token is not None and self._token != stale:
                return self._token
            self._token = None
            return await self._login()

    async def _login(self) -> str:
        body: dict[str, str] = {"apikey": self._api_key}
        if self._pin is not None:
            body["pin"] = self._pin
        try:
            response = await self._http.request(
                "POST", "/login", json_body=body, classify=self._classify, memo=False
            )
            data = unwrap(self._provider, response, dict, "login")
            token = data.get("token")
            if not isinstance(token, str) or not token.strip():
                raise InvalidResponseError(self._provider, "login: the answer holds no token")
        except ProviderError as exc:
            self._failure = exc
            raise
        finally:
            self._finished += 1
        self.logins += 1
        self._failure = None
        self._token = token.strip()
        self._obtained = time.monotonic()
        self._log.debug("%s: logged in to TheTVDB", self._provider)
        return self._token

    def _classify(self, status: int, body: Any) -> ProviderError | None:
        """Login failures: bad key (401/403), PIN needed or refused (400), wrong base URL (404)."""
        key_var, pin_var = env_name(self._provider, "api_key"), env_name(self._provider, "pin")
        credentials = f"{key_var} and {pin_var}" if self._pin else key_var
        if status in (401, 403):
            return AuthError(
                self._provider,
                f"TheTVDB rejected the API key at login (HTTP {status}): check {credentials}",
            )
        if status == 400:
            if "pin" in message_text(body):
                if self._pin is None:
                    return AuthError(
                        self._provider,
                        "TheTVDB requires a subscriber PIN for this API key (HTTP 400): "
                        f"set {pin_var}",
                    )
                return AuthError(
                    self._provider,
                    f"TheTVDB refused the subscriber PIN (HTTP 400): check {pin_var}",
                )
            return AuthError(
                self._provider, f"TheTVDB refused the login (HTTP 400): check {credentials}"
            )
        if status == 404:
            return InvalidResponseError(
                self._provider,
                "login endpoint not found (HTTP 404): check "
                f"{env_name(self._provider, 'base_url')}",
            )
        return None
