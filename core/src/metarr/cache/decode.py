"""Reading a stored merged movie back fast: the record as stored, without cleaning it again.

`metarr.convert.from_json` rebuilds a model through its constructor, so every sanitizer runs
again: for a merged movie with a hundred images that is milliseconds, mostly spent proving
again that each image URL is public. What the cache stores was built by those constructors
before it was written (`metarr.cache.store` writes nothing else), so the light read
(`Cache.get` without parts) builds the objects straight from the stored values instead.

The builders are generated from the models' attrs fields and their types, once: a field
whose type has no builder fails loudly when this module is imported (add it here), never
silently. A missing required value or a wrong shape raises `ValueError`, which the cache
turns into `UnreadableMovieError` like any unreadable record. The full read (with parts)
still goes through the constructors.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from datetime import date
from typing import Any

import attrs

from metarr.ids import Ids
from metarr.models import CastMember, CrewMember, Image, Movie, Rating

Builder = Callable[[Any], Any]
_SCALARS = (str, int, float, bool)
_FACTORY: type = attrs.Factory  # type: ignore[assignment]
_set = object.__setattr__


def _date(value: Any) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _float(value: Any) -> float | None:
    """JSON writes a whole float as an integer (``10``): read back as the float it was."""
    return None if value is None else float(value)


def _ids(value: Any) -> Ids:
    return Ids(**value) if value else Ids()


def _tuple_of(build: Builder) -> Builder:
    def tuple_of(values: Any) -> tuple[Any, ...]:
        return tuple(map(build, values)) if values else ()

    return tuple_of


def _plain_tuple(values: Any) -> tuple[Any, ...]:
    return tuple(values) if values else ()


def _plain_dict(value: Any) -> dict[Any, Any]:
    return dict(value) if value else {}


def _builder_for(tp: Any, owner: str) -> Builder | None:
    """How to rebuild a value of type ``tp`` (None: it is stored as is)."""
    args = typing.get_args(tp)
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        rest = [arg for arg in args if arg is not type(None)]
        if len(rest) == 1:
            return _builder_for(rest[0], owner)
    elif tp is float:
        return _float
    elif tp in _SCALARS:
        return None
    elif tp is date:
        return _date
    elif tp is Ids:
        return _ids
    elif origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = args[0]
        return _plain_tuple if item in _SCALARS else _tuple_of(builder(item))
    elif origin is dict and all(arg in _SCALARS for arg in args):
        return _plain_dict
    raise TypeError(f"{owner}: no fast reader for type {tp!r}: add one to {__name__}")


_BUILDERS: dict[type, Builder] = {}


def _setter(cls: type, name: str) -> Callable[[Any, Any], None]:
    """What sets attribute ``name`` on an instance of ``cls``: its slot's descriptor."""
    for klass in cls.__mro__:
        slot = klass.__dict__.get(name)
        if slot is not None and hasattr(slot, "__set__"):
            setter: Callable[[Any, Any], None] = slot.__set__
            return setter
    return lambda obj, value: _set(obj, name, value)


def builder(cls: type) -> Builder:
    """A function rebuilding an instance of the attrs class ``cls`` from its stored JSON.

    Generated as straight-line code (one statement per field): this is the hot path of
    every cache read.
    """
    if cls in _BUILDERS:
        return _BUILDERS[cls]
    hints = typing.get_type_hints(cls)
    scope: dict[str, Any] = {"cls": cls, "new": object.__new__}
    lines = [
        "def build(data):",
        "    if data.__class__ is not dict:",
        f"        raise ValueError('{cls.__name__} is not a JSON object')",
        "    obj = new(cls)",
        "    get = data.get",
    ]
    for number, field in enumerate(attrs.fields(cls)):
        # A slot's own descriptor sets it three times faster than object.__setattr__.
        scope[f"set{number}"] = _setter(cls, field.name)
        make = _builder_for(hints[field.name], cls.__name__)
        if field.default is attrs.NOTHING:
            value = f"data[{field.name!r}]"
        elif isinstance(field.default, _FACTORY):
            scope[f"factory{number}"] = getattr(field.default, "factory")  # noqa: B009
            lines.append(f"    value = get({field.name!r})")
            value = f"factory{number}() if value is None else value"
        else:
            scope[f"default{number}"] = field.default
            value = f"get({field.name!r}, default{number})"
        if make is not None:
            scope[f"make{number}"] = make
            value = f"make{number}({value})"
        lines.append(f"    set{number}(obj, {value})")
    lines.append("    return obj")
    exec("\n".join(lines), scope)  # generated from the attrs fields above
    built: Builder = scope["build"]
    _BUILDERS[cls] = built
    return built


for _model in (Image, Rating, CastMember, CrewMember, Movie):
    builder(_model)


def movie(data: Any) -> Movie:
    """The merged `Movie` from its stored JSON data (`ValueError` for a wrong shape)."""
    try:
        built: Movie = _BUILDERS[Movie](data)
    except (TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"{type(exc).__name__}: {exc}") from exc
    return built
