"""Converters that keep provider data sane: absurd values become ``None``, never stored as truth.

Every model field that holds provider data runs through one of these, so a hostile or broken
response (runtime -1, year 99999, a 10 MB title, a ``javascript:`` image URL) cannot reach the
cache, whichever plugin parsed it.

Text is one line (`text`, `one_line`): control characters (C0, C1), format characters (bidi
overrides and isolates, zero-width spaces and joiners, the BOM: Unicode category Cf) and lone
surrogates are removed, each line break and tab becomes a space. Long
texts (`long_text`: plots, outlines, awards) keep their paragraphs: line breaks become ``\n``,
with at most one empty line in a row. Image URLs must be public: no credentials, no loopback,
private, link-local or otherwise non-global address, no ``localhost``.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Iterable
from datetime import date
from urllib.parse import urlsplit

MIN_YEAR = 1870  # the oldest surviving motion pictures
MAX_YEAR = 2100
MAX_RUNTIME = 1500  # minutes; the longest released films run about 14 hours
SHORT_TEXT = 1_000  # titles, taglines, ratings, names
LONG_TEXT = 20_000  # plots and awards
MAX_URL = 2_000
# Line breaks, as `str.splitlines` sees them (a text "line" must never hold one), and tabs.
_BREAKS = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_LINE_BREAK = re.compile(f"\r\n|[{_BREAKS}]")
# Never text: the other C0 and C1 controls, lone surrogates (a JSON "\ud800" escape) and the
# format characters (Unicode 15 category Cf: soft hyphen, Arabic and Syriac marks, zero-width
# space / non-joiner / joiner, bidi marks, embeddings, overrides and isolates, invisible
# operators, the BOM, interlinear annotations, tags). Invisible or reordering: a way to forge.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0e-\x1b\x1f\x7f-\x84\x86-\x9f\ud800-\udfff"
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e"
    "\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f]"
)
_EMPTY_LINES = re.compile("\n{3,}")
# A bare host name (letters, digits, hyphens, dots: no user, no port, no brackets).
_PLAIN_HOST = re.compile(r"[a-z0-9-]+(?:\.[a-z0-9-]+)*\.?", re.ASCII | re.IGNORECASE)
_LANGUAGE_CODE = re.compile(r"[A-Za-z]{2,3}(-[A-Za-z]{2})?")
_LEADING_INT = re.compile(r"^(-?\d+)")
_SPACE = re.compile(r"\s")  # what str.isspace() says is whitespace (the same Unicode table)


# What must never reach a line of output as is: line breaks, tabs and the invisible characters.
HIDDEN = re.compile(f"\r\n|[\t{_BREAKS}]|{_INVISIBLE.pattern}")


def visible(value: str) -> str:
    """The text with each line break and tab as a space and invisible characters removed;
    its other spacing is kept."""
    if value.isprintable():  # nothing `HIDDEN` matches is printable (the common case: as is)
        return value
    return HIDDEN.sub(lambda m: "" if _INVISIBLE.fullmatch(m[0]) else " ", value)


def one_line(value: str) -> str:
    """The text on one line (`visible`), stripped."""
    return visible(value).strip()


def paragraphs(value: str) -> str:
    """The text with its line breaks as ``\n`` (a paragraph separator as an empty line, at
    most one in a row), tabs as spaces, invisible characters removed, lines stripped."""
    if value.isprintable():  # no line break, tab or invisible character: one line
        return value.strip()
    unified = _LINE_BREAK.sub(lambda m: "\n\n" if m.group() == "\u2029" else "\n", value)
    unified = _INVISIBLE.sub("", unified.replace("\t", " "))
    lines = (line.strip() for line in unified.split("\n"))
    return _EMPTY_LINES.sub("\n\n", "\n".join(lines)).strip()


def text(value: object, limit: int = SHORT_TEXT, *, multiline: bool = False) -> str | None:
    """Clean text on one line (with ``multiline``: its paragraphs kept); ``None`` for empty,
    ``"N/A"`` or too long."""
    if type(value) is str and len(value) <= limit and value.isprintable():
        # most values: `visible` and `paragraphs` give it back as it is, stripped (no longer)
        cleaned = value.strip()
        return cleaned if cleaned and cleaned != "N/A" else None
    if type(value) is not str:
        if value is None or isinstance(value, bool):
            return None
        if not isinstance(value, str):
            value = str(value) if isinstance(value, int | float) else None
            if value is None:
                return None
    if len(value) > limit * 4:
        return None
    if value.isprintable():  # `visible` and `paragraphs` would give it back as it is
        cleaned = value.strip()
    else:
        cleaned = paragraphs(value) if multiline else one_line(value)
    if not cleaned or cleaned == "N/A" or len(cleaned) > limit:
        return None
    return cleaned


def long_text(value: object) -> str | None:
    """Like `text`, with room for a plot, and its paragraphs kept."""
    return text(value, LONG_TEXT, multiline=True)


def year(value: object) -> int | None:
    """A plausible release year, from an int or a string starting with one (``"1999-03-31"``)."""
    number = _leading_int(value, digits=4)
    return number if number is not None and MIN_YEAR <= number <= MAX_YEAR else None


def runtime(value: object) -> int | None:
    """A positive runtime in minutes (``136`` or ``"136 min"``)."""
    number = _leading_int(value)
    return number if number is not None and 0 < number <= MAX_RUNTIME else None


def release_date(value: object) -> date | None:
    """An ISO date (or the date part of an ISO timestamp) within the plausible years."""
    if isinstance(value, date):
        parsed = value
    else:
        raw = text(value, 40)
        if raw is None:
            return None
        try:
            parsed = date.fromisoformat(raw[:10])
        except ValueError:
            return None
    return parsed if MIN_YEAR <= parsed.year <= MAX_YEAR else None


def url(value: object) -> str | None:
    """An absolute http(s) URL on a public host, without credentials (``http`` upgraded to
    ``https``); otherwise None. Artwork is downloaded by other tools later: a URL naming
    ``localhost``, a loopback, private, link-local or other non-global address (in any
    spelling: ``[::1]``, ``[::ffff:10.0.0.1]``, ``2130706433``, ``0x7f.1``) must not reach them."""
    if not isinstance(value, str) or len(value) > MAX_URL * 4:
        return None
    if len(value) <= MAX_URL:  # what almost every provider sends, judged without urlsplit:
        scheme, _, rest = value.partition("://")  # http(s)://host/printable ASCII, no space
        host, _, path = rest.partition("/")
        if (scheme == "https" or scheme == "http") and (not path or _plain_path(path)):
            public = _plain_host(host)
            if public is False:
                return None
            if public:
                return "https" + value[4:] if scheme == "http" else value
    return _checked_url(value)


def _plain_path(path: str) -> bool:
    """Whether a path has only printable ASCII and no space (nothing `urlsplit` changes)."""
    return path.isascii() and path.isprintable() and " " not in path


@functools.lru_cache(maxsize=1024)
def _plain_host(host: str) -> bool | None:
    """For a host name of letters, digits, hyphens and dots (no user, port or brackets:
    `urlsplit` reads it as it is), whether it is public; None for any other host."""
    return public_host(host.lower()) if _PLAIN_HOST.fullmatch(host) else None


def _checked_url(value: str) -> str | None:
    """`url` for any text (urlsplit reads it; `url` alone reads the plain shapes)."""
    raw = value.strip()
    # A hidden character inside a URL is refused, not removed: removing it changes the host.
    if not raw or len(raw) > MAX_URL or one_line(raw) != raw or _SPACE.search(raw):
        return None
    try:
        parts = urlsplit(raw)
        hostname = parts.hostname
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not hostname:
        return None
    if "@" in parts.netloc or not public_host(hostname):
        return None
    if parts.scheme.lower() == "http":
        raw = "https" + raw[len(parts.scheme) :]
    return raw


@functools.lru_cache(maxsize=1024)
def public_host(host: str) -> bool:
    """Whether a URL's host is a public name or a globally routable address (remembered per
    host: a movie's hundred image URLs name two or three hosts)."""
    name = host.rstrip(".").lower()
    if not name or name == "localhost" or name.endswith(".localhost"):
        return False
    address = _ip_address(name)
    if address is None:
        return True
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or _nat64(address)
        if embedded is not None and not embedded.is_global:
            return False
    return address.is_global and not address.is_multicast


def _ip_address(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a host names, as a browser reads it: IPv6, or IPv4 in any of the forms
    the URL standard accepts (``127.1``, ``0x7f000001``, ``2130706433``, ``0177.0.0.1``)."""
    try:
        return ipaddress.ip_address(name.split("%", 1)[0])  # an IPv6 zone id is not the address
    except ValueError:
        pass
    labels = name.split(".")
    if labels and labels[-1] == "":
        labels.pop()
    if not labels or not re.fullmatch(r"0x[0-9a-f]*|[0-9]+", labels[-1]):
        return None  # not numeric: a name
    numbers = [_ipv4_number(label) for label in labels]
    if len(numbers) > 4 or any(n is None for n in numbers):
        return ipaddress.IPv4Address(0)  # numeric but invalid: never a public host
    *head, last = [n for n in numbers if n is not None]
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        return ipaddress.IPv4Address(0)
    value = last + sum(n << (8 * (3 - i)) for i, n in enumerate(head))
    return ipaddress.IPv4Address(value)


def _ipv4_number(label: str) -> int | None:
    try:
        if label.startswith("0x"):
            return int(label[2:] or "0", 16)
        if len(label) > 1 and label.startswith("0"):
            return int(label, 8)
        return int(label)
    except ValueError:
        return None


_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def _nat64(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def number(value: object, low: float = 0.0, high: float = 1e12) -> float | None:
    """A finite number within bounds (``"7.1"``, ``"858,780"``, ``7``)."""
    if type(value) is float and low <= value <= high:  # float(value) is value (NaN fails)
        return value
    if type(value) is int and low <= value <= high:  # float() keeps it within the bounds
        return float(value)
    return _number(value, low, high)


def _number(value: object, low: float, high: float) -> float | None:
    """`number`'s general rule (its shortcuts above give what this gives)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        value = value.replace(",", "").strip()
    try:
        result = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if result != result or not low <= result <= high:  # NaN or out of bounds
        return None
    return result


def count(value: object) -> int | None:
    """A non-negative integer count (votes, likes, order)."""
    if value is None:  # an absent count (most of them)
        return None
    if type(value) is int and 0 <= value <= 1e12:  # int(float(value)) is value up to 2**53
        return value
    result = number(value, 0, 1e12)
    return None if result is None else int(result)


def texts(values: object, limit: int = SHORT_TEXT) -> tuple[str, ...]:
    """A tuple of distinct clean strings, order kept."""
    if not isinstance(values, (list, tuple)):  # (those are iterable and not text)
        if values is None or isinstance(values, str | bytes):
            values = [] if values is None else [values]
        if not isinstance(values, Iterable):
            return ()
    seen: dict[str, None] = {}
    for item in values:
        cleaned = text(item, limit)
        if cleaned is not None and cleaned not in seen:
            seen[cleaned] = None
    return tuple(seen)


def language(value: object) -> str | None:
    """A lower-case language code, or ``None`` for textless (``"00"``, ``""``, ``null``)."""
    if value is None:
        return None
    if type(value) is str and len(value) <= 48:  # longer is never a code (`text` refuses it)
        return _language_text(value)
    return _language(value)


@functools.lru_cache(maxsize=256)
def _language_text(value: str) -> str | None:
    """`language` of short text (remembered: every image of a record names one of a few)."""
    return _language(value)


def _language(value: object) -> str | None:
    raw = text(value, 12)
    if raw is None or raw in ("00", "xx", "null"):
        return None
    return raw.lower() if _LANGUAGE_CODE.fullmatch(raw) else None


def _leading_int(value: object, digits: int | None = None) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value == value and abs(value) < 1e9 else None
    raw = text(value, 40)
    if raw is None:
        return None
    match = (_LEADING_INT if digits is None else _leading_digits(digits)).match(raw)
    return int(match.group(1)) if match else None


@functools.cache
def _leading_digits(digits: int) -> re.Pattern[str]:
    return re.compile(rf"^(\d{{{digits}}})(?!\d)")
