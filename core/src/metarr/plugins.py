"""Finding, configuring and calling provider plugins.

Providers are discovered through the ``metarr.providers`` entry-point group; each entry point
names a factory (normally a `metarr.Provider` subclass) called with a `ProviderContext`. A plugin
that fails to import, or whose hook implementations do not match the specs, is reported as
broken and skipped; it never stops the others. ``METARR_LOAD_PLUGINS=tmdb,omdb`` loads only the
named entry points (empty: none), which is how to start when a broken plugin gets in the way.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, cast

import attrs
import httpx
import pluggy

from metarr import contract, hookspecs
from metarr.config import Settings, env_name
from metarr.errors import ConfigError, PluginError, ProviderError
from metarr.http import ProviderHttp, TrafficStats
from metarr.ids import ID_KINDS, Ids
from metarr.models import ProviderResult, SearchHit
from metarr.provider import ProviderContext
from metarr.spec import ProviderSpec, spec_of

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

__all__ = [
    "ENTRY_POINT_GROUP",
    "PluginInfo",
    "ProviderEntry",
    "ProviderSpec",
    "Registry",
    "build_registry",
    "discover",
    "make_plugin_manager",
    "spec_of",
]

ENTRY_POINT_GROUP = "metarr.providers"
log = logging.getLogger("metarr.plugins")


@attrs.frozen(kw_only=True)
class PluginInfo:
    """One discovered plugin: where it came from and its factory (or why it failed to load)."""

    name: str
    distribution: str | None = None
    version: str | None = None
    factory: Callable[[ProviderContext], Any] | None = None
    error: str | None = None

    @property
    def hooks(self) -> tuple[str, ...]:
        """The hooks the factory implements (none when it is broken)."""
        spec = self._spec()
        return () if spec is None else spec.hooks

    @functools.cached_property
    def id_types(self) -> tuple[str, ...]:
        """The id kinds its ``lookup_by_id`` accepts, in canonical order (read once: the
        engine asks for them a few times a movie, and a frozen info's factory never changes)."""
        spec = self._spec()
        return () if spec is None else tuple(k for k in ID_KINDS if k in spec.id_types)

    def _spec(self) -> ProviderSpec | None:
        try:
            return spec_of(self)
        except PluginError:
            return None


def entry_points(*, group: str) -> Iterable[EntryPoint]:
    """The installed entry points of ``group``. importlib.metadata loads with the first call:
    the ``metarr`` command finds the plugins its census lists without it (`metarr.cli.census`)."""
    from importlib.metadata import entry_points as installed

    return installed(group=group)


def discover(env: Mapping[str, str] | None = None) -> list[PluginInfo]:
    """Every installed provider plugin, loaded with per-plugin error capture, sorted by name."""
    env = os.environ if env is None else env
    wanted = env.get("METARR_LOAD_PLUGINS")
    allowed = None if wanted is None else {n.strip() for n in wanted.split(",") if n.strip()}
    found: dict[str, PluginInfo] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if (allowed is not None and ep.name not in allowed) or ep.name in found:
            continue
        dist = ep.dist
        info = PluginInfo(
            name=ep.name,
            distribution=dist.name if dist else None,
            version=dist.version if dist else None,
        )
        try:
            factory = ep.load()
        except Exception as exc:  # a broken plugin must not stop the others
            log.warning("provider plugin %s failed to load: %s", ep.name, exc)
            found[ep.name] = attrs.evolve(
                info, error=f"failed to load: {type(exc).__name__}: {exc}"
            )
            continue
        found[ep.name] = attrs.evolve(info, factory=factory)
    return [found[name] for name in sorted(found)]


def make_plugin_manager() -> pluggy.PluginManager:
    """A fresh plugin manager with metarr's hook specs (one per registry, never global)."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm


State = Literal["enabled", "disabled", "broken"]


@attrs.frozen(kw_only=True)
class ProviderEntry:
    """A provider's state for this run: enabled (with its object), disabled or broken, and why."""

    info: PluginInfo
    state: State
    reason: str | None = None
    provider: Any = None
    http: ProviderHttp | None = None  # the enabled provider's HTTP view (the engine listens to it)
    ranks: Mapping[str, int] | None = None  # its field_priority, read once when it was enabled

    @property
    def name(self) -> str:
        return self.info.name


class Registry:
    """The providers of one run, and the only way the core calls their hooks.

    The hook calls are typed methods (`lookup`, `search`, `extract_ids`); each checks what the
    hook returns (`metarr.contract`) and turns anything a hook raises other than a
    `metarr.ProviderError` into a `metarr.PluginError` naming the provider and the hook, with
    the original exception as its cause (``--debug`` shows its traceback).
    """

    def __init__(self, pm: pluggy.PluginManager, entries: Mapping[str, ProviderEntry]) -> None:
        self.pm = pm
        self.entries = dict(entries)

    @property
    def names(self) -> list[str]:
        """Every known provider, enabled or not."""
        return list(self.entries)

    @property
    def enabled(self) -> list[str]:
        """The providers taking part in this run."""
        return [n for n, e in self.entries.items() if e.state == "enabled"]

    @property
    def broken(self) -> list[str]:
        """The providers that cannot be used at all (their reason says why)."""
        return [n for n, e in self.entries.items() if e.state == "broken"]

    def reason(self, name: str) -> str | None:
        """Why a provider is not taking part (None when enabled)."""
        entry = self.entries.get(name)
        return None if entry is None else entry.reason

    def provider(self, name: str) -> Any:
        """The enabled provider object."""
        return self.entries[name].provider

    def implements(self, name: str, hook: str) -> bool:
        """Whether an enabled provider implements ``hook``."""
        return self._impl(name, hook) is not None

    def spec(self, name: str) -> ProviderSpec:
        """A provider's declarations (`PluginError` for a broken one)."""
        return spec_of(self.entries[name].info)

    def id_types(self, name: str) -> frozenset[str]:
        """The id kinds a provider's lookup accepts (none for a broken one)."""
        return frozenset(self.entries[name].info.id_types)

    def http(self, name: str) -> ProviderHttp | None:
        """The enabled provider's HTTP view (None for others, and for fakes built without one)."""
        entry = self.entries.get(name)
        return None if entry is None else entry.http

    def languages(self, name: str) -> frozenset[str] | None:
        """The metadata languages a provider serves (None: any)."""
        return self.spec(name).languages

    # -- hook calls ------------------------------------------------------------------------

    async def lookup(self, name: str, ids: Ids) -> ProviderResult | None:
        """The provider's record for these ids (None: not implemented, not applicable, or no
        such movie), checked, with its ``extract_ids`` answer checked too: a result enters the
        core whole or not at all."""
        impl = self._impl(name, "lookup_by_id")
        if impl is None:
            return None
        try:
            value = await cast(Awaitable[Any], impl.function(ids=ids))
        except ProviderError:
            raise
        except Exception as exc:
            raise contract.raised(name, "lookup_by_id", exc) from exc
        found = contract.result(name, "lookup_by_id", value)
        if found is not None:
            self.extract_ids(name, found)
        return found

    async def search(self, name: str, query: str, year: int | None) -> list[SearchHit]:
        """The provider's hits for a title, checked ([] when it has none or no search)."""
        impl = self._impl(name, "search")
        if impl is None:
            return []
        try:
            value = await cast(Awaitable[Any], impl.function(query=query, year=year))
        except ProviderError:
            raise
        except Exception as exc:
            raise contract.raised(name, "search", exc) from exc
        return contract.hits(name, "search", value)

    async def changed_since(self, name: str, since: datetime, until: datetime) -> set[str] | None:
        """The provider's own ids of the movies changed from ``since`` to ``until``, checked
        (None: it has no change feed or cannot tell)."""
        impl = self._impl(name, "changed_since")
        if impl is None:
            return None
        try:
            value = await cast(Awaitable[Any], impl.function(since=since, until=until))
        except ProviderError:
            raise
        except Exception as exc:
            raise contract.raised(name, "changed_since", exc) from exc
        return contract.changed(name, "changed_since", value)

    def extract_ids(self, name: str, result: ProviderResult) -> Ids | None:
        """The ids the provider says its result states (None: it says none, or has no hook)."""
        impl = self._impl(name, "extract_ids")
        if impl is None:
            return None
        try:
            value = impl.function(result=result)
        except Exception as exc:
            raise contract.raised(name, "extract_ids", exc) from exc
        return contract.ids(name, "extract_ids", value)

    def field_priorities(self) -> dict[str, dict[str, int]]:
        """Each enabled provider's ``field_priority`` ranks (read once, when it was enabled)."""
        return {
            name: dict(entry.ranks)
            for name, entry in self.entries.items()
            if entry.state == "enabled" and entry.ranks is not None
        }

    def _impl(self, name: str, hook: str) -> pluggy.HookImpl | None:
        caller: pluggy.HookCaller = getattr(self.pm.hook, hook)
        for impl in caller.get_hookimpls():
            if impl.plugin_name == name:
                return impl
        return None


def read_ranks(name: str, provider: Any) -> dict[str, int] | None:
    """A provider object's ``field_priority`` answer, checked (`PluginError` naming the
    problem: unknown fields with the valid ones, ranks that are not integers)."""
    try:
        value = provider.field_priority()
    except Exception as exc:
        raise contract.raised(name, "field_priority", exc) from exc
    return contract.ranks(name, "field_priority", value)


def build_registry(
    settings: Settings,
    client: httpx.AsyncClient,
    *,
    plugins: Iterable[PluginInfo] | None = None,
    only: Iterable[str] | None = None,
    without: Iterable[str] = (),
    stats: TrafficStats | None = None,
) -> Registry:
    """Construct and register every enabled provider; record why the others are not enabled.

    ``only``/``without`` select providers for this run; ``plugins`` replaces discovery (tests
    pass fakes this way).
    """
    infos = list(discover() if plugins is None else plugins)
    known = {info.name for info in infos}
    only_set = None if only is None else set(only)
    for name in (only_set or set()) | set(without):
        if name not in known:
            raise ConfigError(
                f"unknown provider {name!r}; installed: {', '.join(sorted(known)) or 'none'}"
            )
    stats = stats or TrafficStats()
    pm = make_plugin_manager()
    entries: dict[str, ProviderEntry] = {}
    for info in infos:
        entries[info.name] = _enable(info, settings, client, pm, only_set, set(without), stats)
    return Registry(pm, entries)


def _enable(
    info: PluginInfo,
    settings: Settings,
    client: httpx.AsyncClient,
    pm: pluggy.PluginManager,
    only: set[str] | None,
    without: set[str],
    stats: TrafficStats,
) -> ProviderEntry:
    name = info.name
    if info.factory is None:
        return ProviderEntry(info=info, state="broken", reason=info.error)
    try:
        spec = spec_of(info)
    except PluginError as exc:
        return ProviderEntry(info=info, state="broken", reason=str(exc))
    if (only is not None and name not in only) or name in without:
        return ProviderEntry(info=info, state="disabled", reason="not selected for this run")
    psettings = settings.provider(name)
    if not psettings.enabled:
        return ProviderEntry(
            info=info,
            state="disabled",
            reason=f"disabled in configuration ({env_name(name, 'enabled')}=false)",
        )
    missing = spec.missing(psettings)
    if missing:
        return ProviderEntry(info=info, state="disabled", reason=missing)
    base_url = psettings.base_url or spec.default_base_url
    if not base_url:
        return ProviderEntry(
            info=info,
            state="disabled",
            reason=f"no base_url: set {env_name(name, 'base_url')}",
        )
    psettings = attrs.evolve(psettings, options=spec.check(name, psettings.options, unknown="keep"))
    http = ProviderHttp(
        client,
        provider=name,
        base_url=base_url,
        timeout=psettings.timeout,
        secrets=tuple(psettings.secrets()),
        stats=stats,
    )
    context = ProviderContext(
        name=name,
        settings=psettings,
        http=http,
        language=settings.language,
        log=logging.getLogger(f"metarr.provider.{name}"),
    )
    try:
        provider = info.factory(context)
        ranks = read_ranks(name, provider) if spec.implements("field_priority") else None
        pm.register(provider, name=name)
        pm.check_pending()
    except ConfigError:
        raise  # the person's settings are wrong (not the plugin): say so, as for any setting
    except PluginError as exc:  # its field_priority broke the contract
        return ProviderEntry(info=info, state="broken", reason=str(exc))
    except Exception as exc:  # construction or hook validation failed: this plugin only
        if pm.get_plugin(name) is not None:
            pm.unregister(name=name)
        return ProviderEntry(
            info=info, state="broken", reason=f"failed to start: {type(exc).__name__}: {exc}"
        )
    return ProviderEntry(info=info, state="enabled", provider=provider, http=http, ranks=ranks)
