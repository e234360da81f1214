"""A provider's declarations, read once into a `ProviderSpec` (`spec_of`), and checked.

`spec_of` reads a `metarr.Provider` subclass's class attributes (``id_types``, ``options``,
``requires``, ``default_base_url``, ``default_ttl_days``, ``languages``, ``authority_for``) and
its hook markers, and checks them all. Anything wrong is one `metarr.errors.PluginError` naming
every problem: the plugin is ``broken`` with that reason, and `metarr.testing.ProviderContract`
fails with it. The rest of the core knows a provider through its spec only.

Options: the core owns the common keys (`COMMON_OPTIONS`); a provider declares the others as
`metarr.Option` s. `ProviderSpec.check` converts a section's values to the declared types, wraps
secrets and fills defaults; it is what validates configuration, from a file, the environment or
code.
"""

from __future__ import annotations

import difflib
import inspect
import math
import types
import weakref
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import attrs

from metarr import hookspecs
from metarr.config import ProviderSettings, env_name
from metarr.errors import ConfigError, PluginError
from metarr.ids import ID_KINDS, IdKind
from metarr.provider import Option, Provider
from metarr.redaction import Secret

COMMON_OPTIONS: tuple[str, ...] = ("enabled", "base_url", "timeout", "ttl_days")
"""Settings every provider has, typed and checked by the core (never declared by a plugin)."""
MARKER = f"{hookspecs.PROJECT}_impl"


@attrs.frozen(kw_only=True)
class ProviderSpec:
    """Everything a provider plugin declares, read once from its class (`spec_of`)."""

    factory: type[Provider]
    hooks: tuple[str, ...]
    """The hooks it implements, in `metarr.hookspecs.HOOK_NAMES` order."""
    id_types: frozenset[IdKind]
    options: Mapping[str, Option]
    """Its own settings by name (the `COMMON_OPTIONS` are not in it)."""
    requires: tuple[tuple[str, ...], ...]
    default_base_url: str
    default_ttl_days: float
    languages: frozenset[str] | None
    authority_for: frozenset[IdKind]

    def implements(self, hook: str) -> bool:
        """Whether the provider implements ``hook``."""
        return hook in self.hooks

    @property
    def secrets(self) -> frozenset[str]:
        """The names of its secret options."""
        return frozenset(name for name, option in self.options.items() if option.secret)

    def check(
        self,
        provider: str,
        values: Mapping[str, Any],
        *,
        unknown: Literal["error", "keep"] = "error",
    ) -> dict[str, Any]:
        """The provider's own settings, converted to the declared types, secrets wrapped in
        `Secret`, unset options with a default filled in.

        ``values`` are a section without the `COMMON_OPTIONS`. A value of the wrong type, or
        (with ``unknown="error"``) a key the provider does not declare, is a `ConfigError`
        naming the setting and its variable; a secret's value is never in the message.
        """
        checked: dict[str, Any] = {}
        for key, value in values.items():
            option = self.options.get(key)
            if option is None:
                if unknown == "error":
                    raise ConfigError(self._unknown(provider, key))
                checked[key] = value
                continue
            plain = value.reveal() if isinstance(value, Secret) else value
            try:
                converted = option.convert(plain)
            except ValueError as exc:
                where = f"providers.{provider}.{key} ({env_name(provider, key)})"
                raise ConfigError(f"{where} {exc}") from None
            if converted is not None:
                checked[key] = Secret(converted) if option.secret else converted
        for name, option in self.options.items():
            if name not in checked and option.default is not None:
                checked[name] = option.default
        return checked

    def missing(self, settings: ProviderSettings) -> str | None:
        """Why the provider cannot be enabled with these settings (None when one `requires`
        group is complete), naming the variables to set."""
        groups = self.requires
        if not groups or any(all(settings.has(key) for key in group) for group in groups):
            return None
        name = settings.name
        alternatives = " or ".join(" + ".join(env_name(name, key) for key in g) for g in groups)
        keys = " or ".join(" + ".join(group) for group in groups)
        return (
            f"no {keys} configured: set {alternatives} (or [providers.{name}] in the config file)"
        )

    def _unknown(self, provider: str, key: str) -> str:
        takes = ", ".join(self.options) or "no settings of its own"
        close = difflib.get_close_matches(key, [*self.options, *COMMON_OPTIONS], n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        return (
            f"providers.{provider}: unknown setting {key!r} ({env_name(provider, key)}){hint}; "
            f"{provider} takes {takes}, and {', '.join(COMMON_OPTIONS)}"
        )


def spec_of(plugin: Any) -> ProviderSpec:
    """The spec of a provider: a `metarr.Provider` subclass, or a
    `metarr.plugins.PluginInfo` naming one. Read once per class; `PluginError` naming every
    problem with its declarations or hook markers."""
    factory = plugin
    if not isinstance(plugin, type) and hasattr(plugin, "factory"):
        factory = plugin.factory
        if factory is None:
            raise PluginError(str(getattr(plugin, "error", None) or "not loaded"))
    if not isinstance(factory, type) or not issubclass(factory, Provider):
        what = "a plain function" if inspect.isfunction(factory) else type(factory).__name__
        shown = getattr(factory, "__qualname__", repr(factory))
        raise PluginError(
            f"the factory {shown} is {what}, not a metarr.Provider subclass: point the entry "
            "point (and ProviderContract.factory) at the provider class itself"
        )
    spec = _SPECS.get(factory)
    if spec is None:
        spec = _SPECS[factory] = _read(factory)
    return spec


_SPECS: weakref.WeakKeyDictionary[type[Provider], ProviderSpec] = weakref.WeakKeyDictionary()


def _read(factory: type[Provider]) -> ProviderSpec:
    problems: list[str] = []
    hooks = _hooks(factory, problems)
    options = _options(factory, problems)
    spec = ProviderSpec(
        factory=factory,
        hooks=hooks,
        id_types=_kinds(factory, "id_types", problems),
        options=types.MappingProxyType(options),
        requires=_requires(factory, options, problems),
        default_base_url=_base_url(factory, problems),
        default_ttl_days=_ttl(factory, problems),
        languages=_languages(factory, problems),
        authority_for=_kinds(factory, "authority_for", problems),
    )
    if problems:
        raise PluginError(f"{factory.__qualname__}: " + "; ".join(problems))
    return spec


# -- hooks -----------------------------------------------------------------------------------


def _hooks(factory: type, problems: list[str]) -> tuple[str, ...]:
    found: set[str] = set()
    for attr in dir(factory):
        if attr.startswith("__"):
            continue
        static = inspect.getattr_static(factory, attr)
        function, bound = _function(static)
        if function is None:
            continue
        marker = getattr(function, MARKER, None)
        if marker is None and getattr(static, MARKER, None) is not None:
            problems.append(
                f"{attr}: @metarr.hookimpl is above @{type(static).__name__}; put it below, "
                "on the function itself"
            )
            continue
        if marker is None:
            if attr in hookspecs.HOOK_NAMES:
                problems.append(
                    f"method {attr} has no @metarr.hookimpl marker, so the core never calls it"
                )
            continue
        hook = marker.get("specname") or attr
        if hook not in hookspecs.HOOK_NAMES:
            close = difflib.get_close_matches(hook, hookspecs.HOOK_NAMES, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(
                f"method {attr} is marked @metarr.hookimpl but there is no hook {hook!r}{hint}; "
                f"the hooks are {', '.join(hookspecs.HOOK_NAMES)}"
            )
            continue
        if marker.get("hookwrapper") or marker.get("wrapper"):
            problems.append(f"{hook} is marked as a wrapper; provider hooks are plain hooks")
        problems.extend(_signature_problems(hook, function, bound))
        found.add(hook)
    return tuple(name for name in hookspecs.HOOK_NAMES if name in found)


def _function(value: Any) -> tuple[Any, int]:
    """The function behind a class attribute and how many leading parameters are bound."""
    if isinstance(value, staticmethod):
        return value.__func__, 0
    if isinstance(value, classmethod):
        return value.__func__, 1
    if inspect.isfunction(value):
        return value, 1
    return None, 0


def _signature_problems(hook: str, function: Any, bound: int) -> list[str]:
    problems: list[str] = []
    is_async = inspect.iscoroutinefunction(function)
    if hook in hookspecs.ASYNC_HOOKS and not is_async:
        problems.append(f"{hook} must be 'async def' (it does I/O; the core awaits it)")
    elif hook not in hookspecs.ASYNC_HOOKS and (is_async or inspect.isasyncgenfunction(function)):
        problems.append(
            f"{hook} must be a plain 'def', not 'async def' (the core calls it directly)"
        )
    passed = list(inspect.signature(getattr(hookspecs, hook)).parameters)
    params = list(inspect.signature(function).parameters.values())[bound:]
    for param in params:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.name not in passed and param.default is param.empty:
            given = ", ".join(passed) or "nothing"
            problems.append(
                f"{hook} takes {param.name!r}, which the core does not pass (it passes: {given})"
            )
    return problems


# -- declarations ----------------------------------------------------------------------------


def _options(factory: type, problems: list[str]) -> dict[str, Option]:
    declared = getattr(factory, "options", ())
    if isinstance(declared, Option):
        declared = (declared,)
    if isinstance(declared, str | bytes | Mapping) or not isinstance(declared, Iterable):
        problems.append("options must be a tuple of metarr.Option")
        return {}
    options: dict[str, Option] = {}
    for option in declared:
        if not isinstance(option, Option):
            problems.append(f"options holds {option!r}, not a metarr.Option")
        elif option.name in COMMON_OPTIONS:
            problems.append(f"option {option.name!r} is the core's own setting: leave it out")
        elif option.name in options:
            problems.append(f"option {option.name!r} is declared twice")
        elif not option.name.isidentifier() or option.name != option.name.lower():
            problems.append(f"option name {option.name!r} must be a lower-case identifier")
        else:
            options[option.name] = option
    return options


def _requires(
    factory: type, options: Mapping[str, Option], problems: list[str]
) -> tuple[tuple[str, ...], ...]:
    declared = getattr(factory, "requires", ())
    if isinstance(declared, str) or any(isinstance(group, str) for group in declared):
        problems.append(
            f"requires must be a tuple of tuples of option names, such as (('api_key',),), "
            f"not {declared!r}"
        )
        return ()
    try:
        groups = tuple(tuple(group) for group in declared)
    except TypeError:
        problems.append("requires must be a tuple of tuples of option names")
        return ()
    for group in groups:
        if not group or not all(isinstance(key, str) for key in group):
            problems.append(f"requires holds {group!r}, not a non-empty tuple of option names")
            continue
        for key in group:
            if key not in options and key not in COMMON_OPTIONS:
                problems.append(f"requires names {key!r}, which options does not declare")
    return groups


def _kinds(factory: type, attr: str, problems: list[str]) -> frozenset[IdKind]:
    declared = getattr(factory, attr, ())
    if isinstance(declared, str) or not isinstance(declared, Iterable):
        problems.append(f"{attr} must be a frozenset of id kinds ({', '.join(ID_KINDS)})")
        return frozenset()
    kinds = set(declared)
    unknown = sorted(map(repr, kinds - set(ID_KINDS)))
    if unknown:
        problems.append(f"{attr} names {', '.join(unknown)}: id kinds are {', '.join(ID_KINDS)}")
    return frozenset(kind for kind in ID_KINDS if kind in kinds)


def _base_url(factory: type, problems: list[str]) -> str:
    value = getattr(factory, "default_base_url", "")
    if not isinstance(value, str) or (value and not value.startswith(("http://", "https://"))):
        problems.append(f"default_base_url must be an http(s) URL or '', not {value!r}")
        return ""
    return value.rstrip("/")


def _ttl(factory: type, problems: list[str]) -> float:
    value = getattr(factory, "default_ttl_days", 7.0)
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        problems.append(f"default_ttl_days must be a number of days >= 0, not {value!r}")
        return 7.0
    return float(value)


def _languages(factory: type, problems: list[str]) -> frozenset[str] | None:
    value = getattr(factory, "languages", None)
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Iterable):
        problems.append(
            f"languages must be None or a frozenset of codes such as 'en', not {value!r}"
        )
        return None
    codes = list(value)
    if not all(isinstance(code, str) and code.strip() for code in codes):
        problems.append(f"languages must hold language codes such as 'en', not {value!r}")
        return None
    return frozenset(code.strip().lower() for code in codes)
