"""TMDB error answers → metarr errors: the HTTP status decides, TMDB's ``status_code`` adds detail.

TMDB's envelope is ``{"success": false, "status_code": 7, "status_message": "…"}``, but not
always (the recorded 404 has no ``success``; validation errors are ``{"errors": […]}``), so the
status code is never required. Messages use our own wording for each known code and never
echo the server's text, so nothing from the response (or a secret) can end up in them.
"""

from __future__ import annotations

from typing import Any

from metarr import NotFoundError, ProviderError, error_for_status

# TMDB's not-found answer: HTTP 404 with one of these codes (34 resource not found, 6 invalid
# id). Any other 404 is not TMDB saying "no such movie" (a wrong base URL); the core reports it.
NOT_FOUND_CODES = frozenset({6, 34})

# TMDB status codes a read-only movie client can meet (API.md §1.6).
CODES: dict[int, str] = {
    3: "authentication failed",
    5: "invalid parameters",
    6: "invalid id",
    7: "invalid API key",
    9: "service offline",
    10: "suspended API key",
    11: "internal error",
    18: "validation failed",
    19: "invalid Accept header",
    22: "invalid page",
    24: "backend timed out",
    25: "request count over the limit",
    27: "too many append_to_response items",
    34: "resource not found",
    43: "could not connect to the backend",
    46: "API under maintenance",
    47: "invalid input",
}


def describe(status: int, body: Any) -> str:
    """``HTTP 401, TMDB code 7: invalid API key`` (the code part only when the body has one)."""
    code = body.get("status_code") if isinstance(body, dict) else None
    if isinstance(code, bool) or not isinstance(code, int):
        return f"HTTP {status}"
    meaning = CODES.get(code)
    return f"HTTP {status}, TMDB code {code}" + (f": {meaning}" if meaning else "")


class Classifier:
    """The ``classify`` callback for `metarr.http.ProviderHttp.get_json`.

    A 404 is "not found" only with TMDB's own body (`NOT_FOUND_CODES`). ``auth_hint`` says
    which setting to check on a 401/403 (it names settings, never values).
    A 429 is left to the core, which reads ``Retry-After`` from the headers this callback
    does not see.
    """

    def __init__(self, provider: str, auth_hint: str) -> None:
        self.provider = provider
        self.auth_hint = auth_hint

    def __call__(self, status: int, body: Any) -> ProviderError | None:
        if status < 400 or status == 429:
            return None
        detail = describe(status, body)
        if status == 404:
            code = body.get("status_code") if isinstance(body, dict) else None
            if code in NOT_FOUND_CODES and not isinstance(code, bool):
                return NotFoundError(self.provider, f"not found ({detail})")
            return None  # not TMDB's answer: the core reports a bad response (check base_url)
        return error_for_status(self.provider, status, detail=detail, hint=self.auth_hint)
