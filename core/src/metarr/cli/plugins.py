"""``metarr plugins``: every installed provider, its state and why."""

from __future__ import annotations

import asyncio
from typing import Any

import click

from metarr.cli import exits, output
from metarr.cli.common import finish
from metarr.cli.state import get_state
from metarr.config import Settings
from metarr.errors import ConfigError
from metarr.http import new_client
from metarr.plugins import Registry, build_registry


def plugin_rows(registry: Registry) -> list[dict[str, Any]]:
    """One record per installed provider: where it comes from, its state and its hooks."""
    rows = []
    for name, entry in registry.entries.items():
        info = entry.info
        rows.append(
            {
                "name": name,
                "distribution": info.distribution,
                "version": info.version,
                "state": entry.state,
                "reason": entry.reason,
                "hooks": list(info.hooks),
                "id_types": list(info.id_types),
            }
        )
    return rows


async def _registry(settings: Settings, only: Any, without: Any, plugins: Any) -> Registry:
    async with new_client() as client:
        return build_registry(settings, client, plugins=plugins, only=only, without=without)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def plugins(as_json: bool) -> None:
    """List every installed provider: version, state (and why), hooks and id types."""
    state = get_state()
    infos = state.infos()
    note = None
    try:
        settings = state.load_settings()
    except ConfigError as exc:  # still show the plugins; say why they may look unconfigured
        settings = Settings()
        note = f"configuration not loaded: {exc}"
    registry = asyncio.run(_registry(settings, state.only, state.without, infos))
    rows = plugin_rows(registry)
    if as_json:
        output.echo_json(rows)
    else:
        if not rows:
            click.echo("no provider plugins installed (entry-point group metarr.providers)")
        else:
            table_rows = [
                (
                    r["name"],
                    output.styled_status(r["state"]),
                    r["distribution"] or "",
                    r["version"] or "",
                    ", ".join(r["hooks"]),
                    ", ".join(r["id_types"]),
                )
                for r in rows
            ]
            click.echo(
                output.table(
                    ("provider", "state", "distribution", "version", "hooks", "id types"),
                    table_rows,
                )
            )
            reasons = [(r["name"], r["reason"]) for r in rows if r["reason"]]
            if reasons:
                click.echo("")
                for name, reason in reasons:
                    click.echo(f"{name}: {reason}")
    if note:
        click.echo(click.style("warning: ", fg="yellow") + note, err=True)
    if registry.broken:
        finish(exits.PLUGIN)
