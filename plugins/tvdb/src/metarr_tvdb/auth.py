"""TheTVDB v4 authentication: one ``POST /login``, a bearer token after, kept across processes.

The token (valid about a month) is kept in memory and, when the provider has a state
directory, in a file there (mode 0600, written by atomic rename), so the next process skips
the login. The file is keyed by base URL, API key and PIN: a token is never sent to another
server or used for another key. It is renewed once when a data endpoint answers 401, and
before it expires (the JWT's ``exp``, at most `TOKEN_MAX_AGE` after the login). The API key,
PIN and token never appear in a log line or an error message.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import logging
import time
from pathlib import Path
from typing import Any

from metarr import (
    AuthError,
    InvalidResponseError,
    ProviderError,
    ProviderHttp,
    env_name,
    read_private,
    remove_private,
    write_private,
)

from metarr_tvdb.parse import message_text, unwrap

# Tokens last about 30 days [API.md §4.2]; renew well before that in a long-lived process.
TOKEN_MAX_AGE = 25 * 86_400.0
# A token this close to its expiry is not used (a lookup must not start with a dying token).
EXPIRY_MARGIN = 3_600.0


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
        state_dir: Path | None = None,
    ) -> None:
        self._http = http
        self._provider = provider
        self._api_key = api_key
        self._pin = pin or None
        self._log = log or logging.getLogger("metarr.provider.tvdb")
        self._token: str | None = None
        self._expires = 0.0  # wall-clock seconds (the file outlives this process)
        self._file = None if state_dir is None else state_dir / f"token-{self._fingerprint()}.json"
        self._lock = asyncio.Lock()
        self._finished = 0  # logins that have ended, successfully or not
        self._failure: ProviderError | None = None
        self.logins = 0

    def __repr__(self) -> str:
        state = "logged in" if self._token else "not logged in"
        return f"<TvdbAuth {self._provider!r} {state}>"

    def _fingerprint(self) -> str:
        """What the token file is keyed by: base URL, API key and PIN, hashed."""
        material = "\0".join((self._http.base_url, self._api_key, self._pin or ""))
        return hashlib.sha256(material.encode()).hexdigest()[:32]

    def _fresh(self) -> str | None:
        if self._token is not None and time.time() < self._expires - EXPIRY_MARGIN:
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
            if await asyncio.to_thread(self._load):
                current = self._fresh()
                if current is not None:
                    self._log.debug(
                        "%s: reusing the TheTVDB token kept from an earlier run", self._provider
                    )
                    return current
            return await self._login()

    async def renew(self, stale: str) -> str:
        """A new token after ``stale`` was rejected (one login however many callers saw it)."""
        async with self._lock:
            if self._token is not None and self._token != stale:
                return self._token
            self._token = None
            if self._file is not None:
                await asyncio.to_thread(remove_private, self._file)
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
        self._expires = token_expiry(self._token, time.time())
        self._log.debug("%s: logged in to TheTVDB", self._provider)
        await asyncio.to_thread(self._save)
        return self._token

    def _load(self) -> bool:
        """Adopt the token kept in the state directory, if any is there for this key."""
        data = read_private(self._file) if self._file is not None else None
        if data is None:
            return False
        try:
            kept = json.loads(data)
            token, expires = kept["token"], float(kept["expires"])
            ok = kept.get("base_url") == self._http.base_url and isinstance(token, str)
        except (ValueError, TypeError, KeyError, AttributeError):
            return False  # a damaged file is ignored, and replaced after the next login
        if not ok or not token.strip():
            return False
        self._token, self._expires = token.strip(), expires
        return True

    def _save(self) -> None:
        if self._file is None or self._token is None:
            return
        kept = {"base_url": self._http.base_url, "token": self._token, "expires": self._expires}
        try:
            write_private(self._file, json.dumps(kept).encode())
        except OSError as exc:  # a read-only or full disk costs the next process a login
            self._log.debug(
                "%s: could not keep the TheTVDB token: %s", self._provider, type(exc).__name__
            )

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


def token_expiry(token: str, now: float) -> float:
    """When ``token`` expires (wall-clock seconds): its JWT ``exp`` when it has one, and at most
    `TOKEN_MAX_AGE` after ``now``."""
    latest = now + TOKEN_MAX_AGE
    parts = token.split(".")
    if len(parts) != 3:
        return latest
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        exp = claims["exp"]
    except (ValueError, TypeError, KeyError, binascii.Error):
        return latest
    if isinstance(exp, bool) or not isinstance(exp, int | float):
        return latest
    return min(float(exp), latest)
