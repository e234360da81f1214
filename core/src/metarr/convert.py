"""One cattrs converter for the JSON contract and the cache rows.

`to_json` gives plain data (dicts, lists, str, int, float, None) ready for `json.dumps`;
`from_json` rebuilds the models, running every validator again.
"""

from __future__ import annotations

import json
import typing
from datetime import date, datetime
from typing import Any, TypeVar

import cattrs
from cattrs.fns import identity
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from metarr.ids import Ids
from metarr.models import ProviderResult, SearchResult

T = TypeVar("T")


def _as_is(value: Any) -> Any:
    return value


converter = cattrs.Converter(forbid_extra_keys=False)
# ``str | None`` and the like are JSON as they are: an identity hook lets cattrs' generated
# functions read the attribute inline instead of calling a wrapper for each (384 calls a commit).
_PLAIN = {str, int, float, bool}
converter.register_unstructure_hook_func(
    lambda cls: (
        set(typing.get_args(cls)) - {type(None)} <= _PLAIN and type(None) in typing.get_args(cls)
    ),
    identity,
)
converter.register_unstructure_hook(date, lambda value: value.isoformat())
converter.register_structure_hook(date, lambda value, _: date.fromisoformat(value))
converter.register_unstructure_hook(datetime, lambda value: value.isoformat())
converter.register_structure_hook(datetime, lambda value, _: datetime.fromisoformat(value))
converter.register_unstructure_hook(
    Ids, lambda ids: {"tmdb": ids.tmdb, "imdb": ids.imdb, "tvdb": ids.tvdb}
)
converter.register_structure_hook(Ids, lambda value, _: Ids(**(value or {})))
# A search result's responses stay in memory: they answer requests that carry credentials.
converter.register_unstructure_hook(
    SearchResult,
    make_dict_unstructure_fn(SearchResult, converter, responses=override(omit=True)),
)
converter.register_structure_hook(
    SearchResult,
    make_dict_structure_fn(SearchResult, converter, responses=override(omit=True)),
)
# A result's raw bodies are parsed JSON already (the contract checks they serialize): handed on
# as they are, not walked and copied node by node (that walk was 40 % of a commit's CPU).
converter.register_unstructure_hook(
    ProviderResult,
    make_dict_unstructure_fn(ProviderResult, converter, raw=override(unstruct_hook=_as_is)),
)


def to_json(obj: Any) -> Any:
    """Plain JSON-ready data for a model (or a list or dict of models)."""
    return converter.unstructure(obj)


def from_json(cls: type[T], data: Any) -> T:
    """Rebuild a model from `to_json` data."""
    return converter.structure(data, cls)


def dumps(obj: Any, **kwargs: Any) -> str:
    """A model as a JSON string (UTF-8 text, no ASCII escaping)."""
    return json.dumps(to_json(obj), ensure_ascii=False, **kwargs)
