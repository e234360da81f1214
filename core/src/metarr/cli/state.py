"""What every command shares: the global options, settings, and running the orchestrator."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import click

if TYPE_CHECKING:  # imported when a command needs them: `metarr --help` does not
    from metarr.config import Settings
    from metarr.orchestrator import Orchestrator
    from metarr.plugins import PluginInfo

T = TypeVar("T")


@attrs.define
class CliState:
    """The global options, plus hooks for tests and the demo (plugins, settings in memory)."""

    config: Path | None = None
    db: Path | None = None
    debug: bool = False
    only: tuple[str, ...] | None = None
    without: tuple[str, ...] = ()
    plugins: list[PluginInfo] | None = None
    settings: Settings | None = None
    db_path: Path | None = None
    """The cache file of this run, once the settings are loaded (for error messages)."""
    _infos: list[PluginInfo] | None = None
    _warned: bool = False
    _loaded: Settings | None = None

    def infos(self) -> list[PluginInfo]:
        """The installed provider plugins (found once): those the census of the last full
        command lists while it holds (`census.listed_plugins`), else those entry-point
        discovery finds (it reads every installed distribution's metadata)."""
        if self._infos is None:
            if self.plugins is not None:
                self._infos = list(self.plugins)
            else:
                from metarr import plugins

                self._infos = self._listed() or plugins.discover()
        return self._infos

    def _listed(self) -> list[PluginInfo] | None:
        """The plugins the census lists, each loaded; None when it lists none or one of them
        does not load as listed any more (discovery then says what is installed now)."""
        from metarr.cli import census
        from metarr.plugins import PluginInfo

        listed = census.listed_plugins(self.config)
        if listed is None:
            return None
        infos = []
        for name, distribution, version, location in listed:
            try:
                factory = census.find_plugin(str(location))
            except Exception:  # a plugin that fails now is discovery's to report
                return None
            infos.append(
                PluginInfo(
                    name=str(name), distribution=distribution, version=version, factory=factory
                )
            )
        return infos

    def load_settings(self) -> Settings:
        """Settings from the config file and the environment, with ``--config``/``--db``; their
        warnings are shown once on stderr."""
        if self.settings is not None:
            settings = self.settings
            if self.db is not None:
                settings = attrs.evolve(settings, db=self.db)
        else:
            from metarr.config import load_settings

            settings = load_settings(self.infos(), config_path=self.config, db_path=self.db)
            self._loaded = settings
        self.db_path = settings.db
        if not self._warned:
            self._warned = True
            for warning in settings.warnings:
                click.echo(f"metarr: warning: {warning}", err=True)
        return settings

    def orchestrator(
        self,
        settings: Settings | None = None,
        *,
        only: Iterable[str] | None = None,
        without: Iterable[str] | None = None,
    ) -> Orchestrator:
        """An orchestrator for this run (call it inside the event loop that will use it)."""
        from metarr.orchestrator import Orchestrator

        resolved = settings or self.load_settings()
        loaded = self._loaded is not None and resolved is self._loaded
        if resolved.plugins is None:
            resolved = attrs.evolve(resolved, plugins=self.infos())
        chosen_only = self.only if only is None else only
        chosen_without = tuple(self.without if without is None else without)
        orchestrator = Orchestrator(resolved, only=chosen_only, without=chosen_without)
        if loaded and chosen_only is None and not chosen_without:
            self._take_census(orchestrator)
        return orchestrator

    def _take_census(self, orchestrator: Orchestrator) -> None:
        """Keep what this setup decided for `metarr.cli.cached` (the installed plugins and the
        settings of the environment only: not a test's or the demo's, not one that warns on
        stderr, about its settings or a broken plugin, which the cached read would not do)."""
        if (
            self.plugins is not None
            or self.settings is not None
            or orchestrator.settings.warnings
            or orchestrator.registry.broken
        ):
            return
        from metarr.cache.schema import MIGRATIONS
        from metarr.cli import census

        registry = orchestrator.registry
        rules = orchestrator.settings.refresh
        facts: dict[str, Any] = {
            "db": None if self.db is not None else str(orchestrator.settings.db),
            "migrations": [step.__name__ for step in MIGRATIONS],
            "providers": [
                [
                    name,
                    registry.entries[name].state,
                    name in registry.enabled and registry.implements(name, "lookup_by_id"),
                    orchestrator.ttl_days[name],
                ]
                for name in registry.names
            ],
            "refresh": {
                "age_ttl": [list(band) for band in rules.age_ttl],
                "feed_lookback_days": rules.feed_lookback_days,
                "refresh_share": rules.refresh_share,
            },
        }
        infos = self.infos()
        listed = [
            [info.name, info.distribution, info.version, census.plugin_location(info.factory)]
            for info in infos
        ]
        if all(entry[3] is not None for entry in listed):
            facts["plugins"] = listed
        factories = [info.factory for info in infos if info.factory is not None]
        census.write(self.config, facts, census.plugin_files(factories))

    def run(
        self,
        work: Callable[[Orchestrator], Awaitable[T]],
        *,
        settings: Settings | None = None,
        only: Iterable[str] | None = None,
        without: Iterable[str] | None = None,
    ) -> T:
        """Open an orchestrator, await ``work`` with it, and close it, on a fresh event loop
        (`metarr.cli.loop`)."""
        from metarr.cli import loop

        resolved = settings or self.load_settings()

        async def go() -> T:
            async with self.orchestrator(resolved, only=only, without=without) as orchestrator:
                return await work(orchestrator)

        with loop.runner() as runner:
            return runner.run(go())


def get_state() -> CliState:
    """The `CliState` of the running command."""
    return click.get_current_context().find_object(CliState) or CliState()


def split_names(value: str | None) -> tuple[str, ...] | None:
    """``"tmdb, omdb"`` as ``("tmdb", "omdb")``; None stays None."""
    if value is None:
        return None
    return tuple(name.strip() for name in value.split(",") if name.strip())
