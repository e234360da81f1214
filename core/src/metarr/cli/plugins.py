"""``metarr plugins``: every installed provider, its state and why; ``plugins new``,
``plugins install`` and ``plugins uninstall``; and ``metarr priorities``."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click

from metarr.cli import exits, install, output
from metarr.cli.common import finish
from metarr.cli.state import get_state
from metarr.config import Settings
from metarr.errors import ConfigError
from metarr.http import new_client
from metarr.merge import priority_table
from metarr.plugins import Registry, build_registry, spec_of
from metarr.scaffold import scaffold


def plugin_rows(registry: Registry) -> list[dict[str, Any]]:
    """One record per installed provider: where it comes from, its state, hooks and options."""
    rows = []
    for name, entry in registry.entries.items():
        info = entry.info
        options = []
        if entry.state != "broken" and info.factory is not None:
            options = [
                {
                    "name": option.name,
                    "type": option.type.__name__,
                    "secret": option.secret,
                    "variable": option.env_var(name),
                    "help": option.help,
                }
                for option in spec_of(info).options.values()
            ]
        rows.append(
            {
                "name": name,
                "distribution": info.distribution,
                "version": info.version,
                "state": entry.state,
                "reason": entry.reason,
                "hooks": list(info.hooks),
                "id_types": list(info.id_types),
                "options": options,
            }
        )
    return rows


async def _registry(settings: Settings, only: Any, without: Any, plugins: Any) -> Registry:
    async with new_client() as client:
        return build_registry(settings, client, plugins=plugins, only=only, without=without)


def _current_registry() -> tuple[Registry, Settings, str | None]:
    """This run's registry, also when the configuration cannot be loaded (then: why)."""
    state = get_state()
    infos = state.infos()
    note = None
    try:
        settings = state.load_settings()
    except ConfigError as exc:  # still show the plugins; say why they may look unconfigured
        settings = Settings()
        note = f"configuration not loaded: {exc}"
    return asyncio.run(_registry(settings, state.only, state.without, infos)), settings, note


@click.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def plugins(ctx: click.Context, as_json: bool) -> None:
    """List every installed provider: version, state (and why), hooks and id types.

    Ends with exit code 7 while a plugin is broken. The subcommands make, install and
    remove provider packages.
    """
    if ctx.invoked_subcommand is not None:
        return
    registry, _, note = _current_registry()
    rows = plugin_rows(registry)
    if as_json:
        output.echo_json(rows)
    elif not rows:
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
                ("provider", "state", "distribution", "version", "hooks", "id types"), table_rows
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


@plugins.command("new")
@click.argument("name")
@click.option(
    "--path",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to create (default: ./metarr-NAME).",
)
def plugins_new(name: str, path: Path | None) -> None:
    """Make a provider package NAME whose tests pass as generated."""
    try:
        root = scaffold(name, path)
    except ValueError as exc:
        raise exits.CliError(str(exc)) from None
    files = sorted(p for p in root.rglob("*") if p.is_file())
    click.echo(f"created {root}/ ({len(files)} files):")
    for file in files:
        click.echo(f"  {file.relative_to(root)}")
    click.echo("")
    click.echo("next:")
    click.echo(f"  cd {root} && uv sync && uv run pytest")
    click.echo(f"  metarr plugins install -e {root}")


@plugins.command("install")
@click.argument("target")
@click.option("-e", "--editable", is_flag=True, help="Install a folder in editable mode.")
def plugins_install(target: str, editable: bool) -> None:
    """Install a provider package (a folder, a wheel, or a requirement) into the environment
    metarr runs in, and list the providers it brings."""
    added = install.install(target, editable=editable)
    if not added:
        click.echo(
            f"installed {target}; it brings no provider (entry-point group metarr.providers)"
        )
        return
    for name, dist, version in added:
        click.echo(f"installed {dist} {version}: provider {name} (metarr plugins shows its state)")


@plugins.command("uninstall")
@click.argument("name")
def plugins_uninstall(name: str) -> None:
    """Remove the package of provider NAME (or the distribution NAME) from metarr's environment."""
    dist = install.uninstall(name)
    click.echo(f"uninstalled {dist}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def priorities(as_json: bool) -> None:
    """Every merged field: each enabled provider's rank, the order they are used in, and who
    wins. Lower ranks win; equal ranks go by provider name; [priority] in the config file
    goes first; with another language than English, providers that cannot serve it fall
    behind for title, plot, outline, tagline and genres."""
    registry, settings, note = _current_registry()
    table = priority_table(
        registry.field_priorities(),
        overrides=settings.priority,
        language=settings.language,
        languages={name: registry.languages(name) for name in registry.enabled},
    )
    if as_json:
        output.echo_json(table)
    else:
        names = table["providers"]
        rows = []
        for field, row in table["fields"].items():
            ranks = row["ranks"]
            order = " > ".join(row["order"]) or "nobody"
            notes = [f"{why}" for why in row["notes"]]
            rows.append(
                (
                    field,
                    *(("–" if ranks.get(n) is None else ranks[n]) for n in names),
                    row["winner"] or "–",
                    order + (f"  ({'; '.join(notes)})" if notes else ""),
                )
            )
        click.echo(output.table(("field", *names, "wins", "order"), rows))
        left_out = [n for n in registry.names if n not in registry.enabled]
        if left_out:
            click.echo("")
            for name in left_out:
                click.echo(f"{name}: not enabled ({registry.reason(name)})")
    if note:
        click.echo(click.style("warning: ", fg="yellow") + note, err=True)
