"""Keeping secrets (API keys, tokens, pins) out of logs, messages and reprs — never out of data.

Secrets live only in request URLs and headers, which are never stored. Configuration wraps each
one in `Secret` (whose repr is ``***``) and registers its value here, and so does every
`metarr.http.ProviderHttp` for the secrets it sends, however they were configured. Then:

- `scrub` masks them in the string leaves of a parsed provider response, at the HTTP boundary,
  so a provider that echoes a key never hands it to a plugin, the cache or an export;
- `redact` masks them in text bound for a sink: error messages, ``--debug`` output, and the
  log records of metarr and of the HTTP libraries it drives (`install_log_redaction` puts a
  filter on those loggers only: a host application's own records are never touched).

This module is the one place that knows the secrets and the forms they take on the wire: as
they are, percent-encoded (either hex case, ``+`` for a space), JSON-escaped (``\\u0041``,
``\\/``), or any mix of these. Sinks (never data) also mask the value of any query parameter or
header named like a credential (``api_key=…``, ``Authorization: Bearer …``), so even a value
too short to register stays out of a log line.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import unicodedata
from collections.abc import Iterable
from typing import Any

import attrs

MASK = "***"
MIN_LENGTH = 8
"""The shortest secret accepted. The shortest real credential (an OMDb key) has 8 characters;
a shorter value is too likely to occur in normal data (a year, an id, a word), where masking it
would hide real data and not masking it would leak it."""

_registered: set[str] = set()
_generation = 0  # bumped by every `register`: the masker of a generation is kept
_lock = threading.Lock()

# Credentials by name, in sinks only: ``api_key=…``, ``apikey=…``, ``client-key: …``,
# ``"access_token": "…"``, ``pin=…`` and ``Bearer …``.
_NAMED = re.compile(
    r"""(?ix)
    (?P<name>
        (?<![a-z0-9_-])
        (?:[a-z0-9]+[_-])*(?:api_?key|key|token|secret|password|passwd|pin)
        (?:=|["']?[ \t]*:[ \t]*["']?)
    )
    (?P<value>[^\s&"',;)}\]]+)
    |
    (?P<scheme>\bbearer[ \t]+)(?P<credential>[A-Za-z0-9._~+/=%-]+)
    """
)
# Names that end like a credential but hold none.
_NOT_CREDENTIALS = frozenset({"key", "input_key", "sort_key", "cache_key"})


@attrs.frozen
class Secret:
    """A secret value that never shows itself in ``str``, ``repr`` or logs."""

    _value: str = attrs.field(repr=False, alias="value")

    def reveal(self) -> str:
        """The real value, for the one place that sends it."""
        return self._value

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"


def problem(value: str) -> str | None:
    """Why ``value`` cannot be a secret (None when it can): empty, too short, or holding
    whitespace or control characters (a pasted line break, a stray space)."""
    if not value:
        return "is empty"
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs") for ch in value):
        return "contains a control character (a line break, a tab, an invisible character)"
    if any(ch.isspace() for ch in value):
        return "contains whitespace"
    if len(value) < MIN_LENGTH:
        return (
            f"is {len(value)} characters long; a secret needs at least {MIN_LENGTH} "
            "(a shorter value is too likely to occur in normal data to be masked safely)"
        )
    return None


def register(*values: str) -> None:
    """Remember secret values so `redact` and `scrub` mask them everywhere.

    Values shorter than `MIN_LENGTH` are not registered (the configuration refuses them; one
    given in code is masked only where its parameter or header name shows it).
    """
    global _generation
    with _lock:
        _registered.update(v for v in values if isinstance(v, str) and len(v) >= MIN_LENGTH)
        _generation += 1


def _hex(digits: str) -> str:
    """Hex digits as a regex that accepts either case (``2F`` or ``2f``)."""
    return "".join(f"[{d}{d.lower()}]" if d.isalpha() else d for d in digits)


def _char_forms(ch: str) -> str:
    """A regex matching one character in each form it may take on the wire."""
    code = ord(ch)
    units = (
        [code] if code < 0x10000 else [0xD800 + ((code - 0x10000) >> 10), 0xDC00 + (code & 0x3FF)]
    )
    forms = [
        re.escape(ch),
        "".join("%" + _hex(f"{byte:02X}") for byte in ch.encode("utf-8")),  # percent-encoded
        "".join(r"\\u" + _hex(f"{unit:04X}") for unit in units),  # JSON \uXXXX (pairs too)
    ]
    if ch == " ":
        forms.append(r"\+")  # form-encoded space
    if ch in '"\\/':
        forms.append(r"\\" + re.escape(ch))  # JSON \" \\ \/
    return "(?:" + "|".join(forms) + ")"


@attrs.frozen
class _Masker:
    """Patterns for one set of secrets: every wire form (`forms`, compiled when first needed:
    tens of milliseconds for four API keys), and the plain values."""

    forms_text: str
    plain: re.Pattern[str]
    secrets: tuple[str, ...]

    @classmethod
    def of(cls, secrets: frozenset[str]) -> _Masker:
        ordered = sorted(secrets, key=len, reverse=True)  # a longer secret wins over its prefix
        # Every form starts with the secret's first character, a "%" or a "\\": the lookahead
        # lets the scan skip every other position cheaply.
        firsts = {secret[0] for secret in ordered}
        starts = re.escape(
            "".join(sorted(firsts | {"%", "\\"} | ({"+"} if " " in firsts else set())))
        )
        forms = "|".join("".join(_char_forms(ch) for ch in secret) for secret in ordered)
        return cls(
            forms_text=f"(?=[{starts}])(?:{forms})",
            plain=re.compile("|".join(re.escape(secret) for secret in ordered)),
            secrets=tuple(ordered),
        )

    @functools.cached_property
    def forms(self) -> re.Pattern[str]:
        """Every wire form of every secret."""
        return re.compile(self.forms_text)

    def mask(self, text: str) -> str:
        """The text with every form of every secret as ``***``."""
        if "%" in text or "\\" in text or "+" in text:
            return self.forms.sub(MASK, text)
        return self.plain.sub(MASK, text) if self.plain.search(text) else text

    def finds(self, text: str) -> bool:
        """Whether `mask` would mask anything in ``text`` or in any part of it (no pattern here
        looks behind or past its match, so a match in a part is one in the whole). A form other
        than the plain value needs a backslash, a "+" or a "%" and two hex digits: without
        them (a rating's "52%" is not one), the plain values are all there is to look for."""
        if "\\" in text or "+" in text or _PERCENT_BYTE.search(text):
            return self.forms.search(text) is not None
        return any(secret in text for secret in self.secrets)  # no other form can occur


_PERCENT_BYTE = re.compile("%[0-9A-Fa-f]{2}")
"""What every percent-encoded form begins with."""

_cached: tuple[set[str] | None, int, frozenset[str], _Masker | None] = (None, -1, frozenset(), None)


def _masker(extra: Iterable[str] = ()) -> _Masker | None:
    """The masker for every registered (and extra) secret; None when there is none."""
    global _cached
    registered, generation, known, masker = _cached
    if not extra and registered is _registered and generation == _generation:
        return masker  # nothing registered since (the cache holds the set: its id is its own)
    with _lock:
        registered, generation, current = _registered, _generation, frozenset(_registered)
    more = frozenset(v for v in extra if isinstance(v, str) and len(v) >= MIN_LENGTH)
    if not more - current:
        if known != current:
            masker = _Masker.of(current) if current else None
        _cached = (registered, generation, current, masker)
        return masker
    return _Masker.of(current | more)


def mask_secrets(text: str, extra: Iterable[str] = ()) -> str:
    """The text with every registered (and extra) secret, in any wire form, as ``***``."""
    masker = _masker(extra)
    return text if masker is None else masker.mask(text)


def contains_secret(text: str) -> bool:
    """Whether `mask_secrets` would mask anything in ``text``, or in any slice of it."""
    masker = _masker()
    return masker is not None and masker.finds(text)


def _mask_named(match: re.Match[str]) -> str:
    if match.group("scheme") is not None:
        return match.group("scheme") + MASK
    name = match.group("name")
    bare = re.sub(r"[\"'\s:=]", "", name).lower()
    if bare in _NOT_CREDENTIALS or match.group("value") == MASK:
        return match.group(0)
    return name + MASK


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """Text for a sink (a log line, an error, debug output): every registered (and extra)
    secret masked in any wire form, and every credential-named parameter's value masked."""
    return _NAMED.sub(_mask_named, mask_secrets(text, extra))


def scrub(data: Any) -> Any:
    """Parsed JSON with every registered secret masked in its strings (values and keys).

    Only strings change: numbers, booleans and the structure stay as they are, so a secret
    that happens to look like data (``19991231``) cannot corrupt a number in a stored record.
    Iterative, so a deeply nested body cannot exhaust the stack; containers change in place.
    """
    masker = _masker()
    if masker is None:
        return data
    if isinstance(data, str):
        return masker.mask(data)
    stack: list[Any] = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key in list(node):
                value = node[key]
                if isinstance(value, str):
                    node[key] = masker.mask(value)
                elif isinstance(value, dict | list):
                    stack.append(value)
                if isinstance(key, str) and (clean := masker.mask(key)) != key:
                    node[clean] = node.pop(key)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                if isinstance(value, str):
                    node[index] = masker.mask(value)
                elif isinstance(value, dict | list):
                    stack.append(value)
    return data


class RedactingFilter(logging.Filter):
    """Masks secrets in a record's message, traceback and stack before any handler sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            message = str(record.msg)
        clean = redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text, so the traceback is rendered (and masked) once here.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = RedactingFilter()
# The HTTP libraries metarr drives, and the retry library whose notices name its errors.
DRIVEN_LOGGERS = (
    "metarr",
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
    "httpcore.socks",
    "stamina",
)


def install_log_redaction(*names: str) -> None:
    """Put the redacting filter on metarr's loggers (every ``metarr.*`` one that exists, and
    ``names``) and on those of the libraries it drives (httpx, httpcore, stamina). Idempotent.

    A logger's filter sees only the records logged to that very logger, so the host's own
    records are never touched; no handler, level or record factory is installed.
    """
    existing = [
        name
        for name in list(logging.root.manager.loggerDict)
        if name.startswith(("metarr.", "httpcore."))
    ]
    for name in (*DRIVEN_LOGGERS, *existing, *names):
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
