"""What every command shares: the global options, settings, and running the orchestrator."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

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

    def infos(self) -> list[PluginInfo]:
        """The installed provider plugins (discovered once)."""
        if self._infos is None:
            from metarr.plugins import discover

            self._infos = list(discover() if self.plugins is None else self.plugins)
        return self._infos

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
        if resolved.plugins is None:
            resolved = attrs.evolve(resolved, plugins=self.infos())
        return Orchestrator(
            resolved,
            only=self.only if only is None else only,
            without=self.without if without is None else without,
        )

    def run(
        self,
        work: Callable[[Orchestrator], Awaitable[T]],
        *,
        settings: Settings | None = None,
        only: Iterable[str] | None = None,
        without: Iterable[str] | None = None,
    ) -> T:
        """Open an orchestrator, await ``work`` with it, and close it, on a fresh event loop."""
        import asyncio

        resolved = settings or self.load_settings()

        async def go() -> T:
            async with self.orchestrator(resolved, only=only, without=without) as orchestrator:
                return await work(orchestrator)

        return asyncio.run(go())


def get_state() -> CliState:
    """The `CliState` of the running command."""
    return click.get_current_context().find_object(CliState) or CliState()


def split_names(value: str | None) -> tuple[str, ...] | None:
    """``"tmdb, omdb"`` as ``("tmdb", "omdb")``; None stays None."""
    if value is None:
        return None
    return tuple(name.strip() for name in value.split(",") if name.strip())
