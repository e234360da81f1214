"""The hook contract, checked where a provider's results enter the core.

Every value a hook returns goes through one of these checks before the engine (or the
`metarr.testing.ProviderContract`) uses it: the right model types, the result's own provider
name, a ``raw`` payload that is JSON (it is stored, so it must come back from ``json`` as it
went in) and ranks for fields that exist. A violation is a `metarr.errors.PluginError` whose
message names the provider, the hook and the problem; the engine makes that provider's part an
``error`` and the others go on.
"""

from __future__ import annotations

import difflib
import json
import marshal
import math
from collections.abc import Mapping
from typing import Any

import orjson

from metarr.errors import PluginError
from metarr.ids import Ids
from metarr.models import (
    PRIORITY_FIELDS,
    CastMember,
    CrewMember,
    Image,
    ProviderResult,
    Rating,
    SearchHit,
)
from metarr.redaction import redact

# orjson refuses, with no ``default``, what it would write and `json` would not or would write
# differently: dates, dataclasses, subclasses of str/int/dict/list. (A UUID or an Enum it
# writes as text or a number: those do not read back equal, so `json` decides.)
_ORJSON_NATIVE_ONLY = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_DATACLASS
    | orjson.OPT_PASSTHROUGH_SUBCLASS
)
_ITEM_TYPES: tuple[tuple[str, type], ...] = (
    ("ratings", Rating),
    ("images", Image),
    ("cast", CastMember),
    ("crew", CrewMember),
)


def bug(provider: str, hook: str, problem: str) -> PluginError:
    """The error for a contract violation: ``plugin bug in tmdb.lookup_by_id: <problem>``
    (secrets masked: the problem may quote a plugin's exception or value)."""
    message = redact(f"plugin bug in {provider}.{hook}: {problem}")
    return PluginError(message, provider=provider, hook=hook)


def raised(provider: str, hook: str, exc: BaseException) -> PluginError:
    """The error for a hook that raised something other than a `metarr.ProviderError`."""
    error = bug(provider, hook, f"raised {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


def result(provider: str, hook: str, value: Any, *, strict: bool = False) -> ProviderResult | None:
    """A ``lookup_by_id`` answer: None, or a well-formed `ProviderResult` of this provider.

    ``raw`` must serialize to JSON, as the cache stores it. ``strict`` (the
    `metarr.testing.ProviderContract`) also wants it back from JSON unchanged: no NaN or
    infinity, no tuple, only text keys.
    """
    if value is None:
        return None
    if not isinstance(value, ProviderResult):
        raise bug(provider, hook, f"returned {_a(value)}, not a metarr.ProviderResult or None")
    if value.provider != provider:
        raise bug(
            provider,
            hook,
            f"returned a result for provider {value.provider!r}: build it with provider=self.name",
        )
    if not isinstance(value.ids, Ids):
        raise bug(provider, hook, f"result.ids is {_a(value.ids)}, not metarr.Ids")
    for field, kind in _ITEM_TYPES:
        for index, item in enumerate(getattr(value, field)):
            owner = getattr(item, "provider", None)
            if type(item) is kind and kind is not Rating and type(owner) is str:
                continue  # what `_item_problem` passes, known without its call
            problem = _item_problem(item, kind)
            if problem is not None:
                raise bug(provider, hook, f"result.{field}[{index}] {problem}")
    if not isinstance(value.raw, dict):
        raise bug(provider, hook, f"result.raw is {_a(value.raw)}, not a dict")
    problem = json_problem(value.raw, "result.raw", strict=True) if strict else None
    if not strict and not _plain_json(value.raw):
        try:
            json.dumps(value.raw)
        except (TypeError, ValueError, RecursionError) as exc:
            problem = json_problem(value.raw, "result.raw") or f"result.raw is not JSON: {exc}"
    if problem is not None:
        raise bug(provider, hook, problem)
    return value


def _plain_json(value: Any) -> bool:
    """Whether `json` writes ``value``, known without it: orjson writes it (dicts with text
    keys, lists, tuples, text, numbers, booleans, None, no cycle, at most 254 levels, or one
    of the few classes orjson writes and `json` refuses: a UUID, an Enum, a Fragment) and
    `marshal` writes it (every value exactly one of Python's own types: no other class nor a
    subclass). Twice as fast as reading orjson's JSON back and comparing. False does not mean
    it is not JSON: `json` decides then (an int beyond 64 bits, a number key, a subclass of
    str or int, nesting deeper than orjson's 254 levels)."""
    try:
        orjson.dumps(value, option=_ORJSON_NATIVE_ONLY)
        marshal.dumps(value)
    except (TypeError, ValueError, RecursionError):  # orjson.JSONEncodeError is a TypeError
        return False
    return True


def _item_problem(item: Any, kind: type) -> str | None:
    """What is wrong with one rating, image or person (the fields no converter checks)."""
    if not isinstance(item, kind):
        return f"is {_a(item)}, not a metarr.{kind.__name__}"
    owner = getattr(item, "provider", None)
    if not isinstance(owner, str):
        return f"has provider {owner!r}, not text"
    if isinstance(item, Rating):
        if not isinstance(item.source, str):
            return f"has source {item.source!r}, not text"
        for name in ("value", "max"):
            number = getattr(item, name)
            if not _is_real(number):
                return f"has {name} {number!r}, not a finite number (build it with Rating.safe)"
    return None


def hits(provider: str, hook: str, value: Any) -> list[SearchHit]:
    """A ``search`` answer: None (no hits) or a list of this provider's `SearchHit` s."""
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise bug(provider, hook, f"returned {_a(value)}, not a list of metarr.SearchHit")
    for index, hit in enumerate(value):
        if not isinstance(hit, SearchHit):
            raise bug(provider, hook, f"hit {index} is {_a(hit)}, not a metarr.SearchHit")
        if hit.provider != provider:
            raise bug(
                provider,
                hook,
                f"hit {index} is for provider {hit.provider!r}: build it with provider=self.name",
            )
        if not isinstance(hit.ids, Ids):
            raise bug(provider, hook, f"hit {index}.ids is {_a(hit.ids)}, not metarr.Ids")
    return list(value)


def ids(provider: str, hook: str, value: Any) -> Ids | None:
    """An ``extract_ids`` answer: None or `Ids`."""
    if value is None or isinstance(value, Ids):
        return value
    shown = "" if not isinstance(value, Mapping) else " (build one: metarr.Ids(imdb=...))"
    raise bug(provider, hook, f"returned {_a(value)}, not metarr.Ids or None{shown}")


def changed(provider: str, hook: str, value: Any) -> set[str] | None:
    """A ``changed_since`` answer: None, or a set of ids as text."""
    if value is None:
        return None
    if not isinstance(value, set | frozenset) or not all(isinstance(i, str) for i in value):
        raise bug(provider, hook, f"returned {_a(value)}, not a set of id strings or None")
    return set(value)


def ranks(provider: str, hook: str, value: Any) -> dict[str, int] | None:
    """A ``field_priority`` answer: None, or integer ranks for merged fields that exist."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise bug(provider, hook, f"returned {_a(value)}, not a dict of field -> rank")
    unknown = [str(field) for field in value if field not in PRIORITY_FIELDS]
    if unknown:
        close = {
            name: match[0]
            for name in unknown
            if (match := difflib.get_close_matches(name, PRIORITY_FIELDS, n=1))
        }
        hints = "".join(f"; {name!r}: did you mean {to!r}?" for name, to in close.items())
        raise bug(
            provider,
            hook,
            f"unknown field(s) {', '.join(map(repr, unknown))}{hints}; the fields are "
            f"{', '.join(PRIORITY_FIELDS)}",
        )
    bad = [f"{field}={rank!r}" for field, rank in value.items() if not _is_int(rank)]
    if bad:
        raise bug(provider, hook, f"ranks must be integers (lower wins), not {', '.join(bad)}")
    return {str(field): int(rank) for field, rank in value.items()}


def json_problem(value: Any, where: str, *, strict: bool = False) -> str | None:
    """Why ``value`` cannot be written as JSON (None when it can): a type JSON lacks, a key
    that is neither text nor a number, a container inside itself. ``strict``: also why it
    would not come back as it is: NaN or infinity, a key that is not text, a tuple."""
    try:
        return _problem(value, where, strict, set())
    except RecursionError:
        return f"{where} is nested too deep for JSON"


def _problem(item: Any, path: str, strict: bool, ancestors: set[int]) -> str | None:
    if item is None or isinstance(item, str | bool | int):
        return None
    if isinstance(item, float):
        if strict and not math.isfinite(item):
            return f"{path} is {item!r}: JSON has no NaN or infinity"
        return None
    if isinstance(item, tuple) and strict:
        return f"{path} is a tuple: JSON gives back a list (store lists)"
    if not isinstance(item, dict | list | tuple):
        return f"{path} is {_a(item)} ({item!r}), not a JSON value"
    if id(item) in ancestors:
        return f"{path} contains itself: JSON has no circular values"
    ancestors.add(id(item))
    try:
        if isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str) and (strict or not _json_key(key)):
                    return f"{path} has the key {key!r} ({_a(key)}): JSON keys are text"
                found = _problem(child, f"{path}[{key!r}]", strict, ancestors)
                if found is not None:
                    return found
        else:
            for index, child in enumerate(item):
                found = _problem(child, f"{path}[{index}]", strict, ancestors)
                if found is not None:
                    return found
    finally:
        ancestors.discard(id(item))
    return None


def _json_key(key: Any) -> bool:
    """Whether ``json`` writes this key (as text): text, numbers, booleans and None."""
    return key is None or isinstance(key, str | int | float)


def _is_real(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _a(value: Any) -> str:
    """``a dict``, ``an int``, ``None``."""
    if value is None:
        return "None"
    name = type(value).__name__
    return f"{'an' if name[0].lower() in 'aeiou' else 'a'} {name}"
