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
import math
from collections.abc import Mapping
from typing import Any

from metarr.convert import to_json
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

_ITEM_TYPES: tuple[tuple[str, type], ...] = (
    ("ratings", Rating),
    ("images", Image),
    ("cast", CastMember),
    ("crew", CrewMember),
)


def bug(provider: str, hook: str, problem: str) -> PluginError:
    """The error for a contract violation: ``plugin bug in tmdb.lookup_by_id: <problem>``."""
    return PluginError(f"plugin bug in {provider}.{hook}: {problem}", provider=provider, hook=hook)


def raised(provider: str, hook: str, exc: BaseException) -> PluginError:
    """The error for a hook that raised something other than a `metarr.ProviderError`."""
    error = bug(provider, hook, f"raised {type(exc).__name__}: {exc}")
    error.__cause__ = exc
    return error


def result(provider: str, hook: str, value: Any) -> ProviderResult | None:
    """A ``lookup_by_id`` answer: None, or a well-formed `ProviderResult` of this provider."""
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
            if not isinstance(item, kind):
                raise bug(
                    provider,
                    hook,
                    f"result.{field}[{index}] is {_a(item)}, not a metarr.{kind.__name__}",
                )
    if not isinstance(value.raw, dict):
        raise bug(provider, hook, f"result.raw is {_a(value.raw)}, not a dict")
    problem = json_problem(value.raw, "result.raw")
    if problem is not None:
        raise bug(provider, hook, problem)
    try:
        json.dumps(to_json(value), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise bug(provider, hook, f"the result is not JSON: {exc}") from exc
    return value


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


def json_problem(value: Any, where: str) -> str | None:
    """Why ``value`` would not come back from a JSON round trip as it is (None when it would):
    a type JSON lacks, a key that is not text, NaN or infinity, a tuple (JSON gives a list)."""
    stack: list[tuple[Any, str]] = [(value, where)]
    while stack:
        item, path = stack.pop()
        if item is None or isinstance(item, str | bool | int):
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                return f"{path} is {item!r}: JSON has no NaN or infinity"
        elif isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    return f"{path} has the key {key!r} ({_a(key)}): JSON keys are text"
                stack.append((child, f"{path}[{key!r}]"))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]") for i, child in enumerate(item))
        elif isinstance(item, tuple):
            return f"{path} is a tuple: JSON gives back a list (store lists)"
        else:
            return f"{path} is {_a(item)} ({item!r}), not a JSON value"
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _a(value: Any) -> str:
    """``a dict``, ``an int``, ``None``."""
    if value is None:
        return "None"
    name = type(value).__name__
    return f"{'an' if name[0].lower() in 'aeiou' else 'a'} {name}"
