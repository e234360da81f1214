"""``metarr provider NAME lookup|search|ids``: call one provider's hooks directly.

For checking a provider (or a plugin being written) against its API or any server
(``--base-url``): prints the raw response bodies and what the plugin parsed from them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import click

from metarr import http
from metarr.cli import exits, output
from metarr.cli.common import finish, id_options, ids_from_options, json_option
from metarr.cli.state import get_state
from metarr.config import Settings
from metarr.convert import to_json
from metarr.errors import ConfigError
from metarr.models import ProviderResult
from metarr.orchestrator import Orchestrator
from metarr.redaction import scrub


@click.group()
@click.argument("name")
@click.option("--base-url", metavar="URL", help="Send the requests to this server instead.")
@click.pass_context
def provider(ctx: click.Context, name: str, base_url: str | None) -> None:
    """Call provider NAME's hooks directly and show raw and parsed results."""
    ctx.meta["metarr.provider"] = (name, base_url)


def base_url_option(func: Any) -> Any:
    """``--base-url`` on a subcommand (overrides the group's)."""
    return click.option(
        "--base-url", "sub_base_url", metavar="URL", help="Send the requests to this server."
    )(func)


def _settings(name: str, base_url: str | None) -> Settings:
    settings = get_state().load_settings()
    if base_url is None:
        return settings
    if not base_url.startswith(("http://", "https://")):
        raise exits.CliError(f"--base-url must start with http:// or https://, not {base_url!r}")
    current = settings.provider(name)
    providers = {**settings.providers, name: attrs.evolve(current, base_url=base_url.rstrip("/"))}
    return attrs.evolve(settings, providers=providers)


def _call(
    sub_base_url: str | None, hook: Callable[[Orchestrator, str], Awaitable[Any]]
) -> tuple[str, Any, list[tuple[str, Any]]]:
    """Run ``hook`` against the selected provider; returns (name, value, raw bodies)."""
    name, base_url = click.get_current_context().meta["metarr.provider"]
    settings = _settings(name, sub_base_url or base_url)
    state = get_state()
    known = [info.name for info in state.infos()]
    if name not in known:
        raise ConfigError(f"unknown provider {name!r}; installed: {', '.join(known) or 'none'}")

    async def work(orc: Orchestrator) -> tuple[Any, list[tuple[str, Any]]]:
        entry = orc.registry.entries[name]
        if entry.state != "enabled":
            code = exits.PLUGIN if entry.state == "broken" else exits.USAGE
            raise exits.CliError(f"{name} is {entry.state}: {entry.reason}", code)
        with http.retry_policy(http.INTERACTIVE), http.request_memo() as memo:
            value = await hook(orc, name)
        return value, _bodies(memo)

    value, bodies = state.run(work, settings=settings, only=[name], without=())
    return name, value, bodies


def _bodies(memo: http.RequestMemo) -> list[tuple[str, Any]]:
    """The responses the memo kept, as (``METHOD url?query``, body), secrets masked."""
    return [(f"{method} {url}", body) for _, method, url, body in memo.responses()]


def _pretty(data: Any) -> str:
    # Strings only: masking the JSON text would turn a number that equals a secret into ***.
    return output.json_text(scrub(data), indent=2)


def _echo_raw(raw: Any) -> None:
    click.echo(click.style("raw response", bold=True))
    click.echo(_pretty(raw))
    click.echo("")


@provider.command("lookup")
@id_options
@base_url_option
@json_option
def provider_lookup(
    tmdb: str | None, imdb: str | None, tvdb: str | None, sub_base_url: str | None, as_json: bool
) -> None:
    """Call the provider's lookup_by_id with these ids."""
    ids = ids_from_options(tmdb, imdb, tvdb)

    async def hook(orc: Orchestrator, name: str) -> Any:
        return await orc.registry.lookup(name, ids)

    name, result, _ = _call(sub_base_url, hook)
    _show_result(name, result, as_json)


def _show_result(name: str, result: Any, as_json: bool, extracted: Any = None) -> None:
    if not isinstance(result, ProviderResult):
        if as_json:
            output.echo_json({"provider": name, "raw": None, "result": None})
        else:
            click.echo(f"{name}: not found")
        finish(exits.NEEDS_PERSON)
        return
    if as_json:
        data: dict[str, Any] = {
            "provider": name,
            "raw": result.raw,
            "result": output.result_data(result),
        }
        if extracted is not None:
            data["extracted_ids"] = to_json(extracted)
        click.echo(_pretty(data))
        return
    _echo_raw(result.raw)
    click.echo(click.style("parsed", bold=True))
    click.echo(_pretty(output.result_data(result)))
    if extracted is not None:
        click.echo("")
        click.echo(click.style("extract_ids", bold=True) + f"  {extracted}")


@provider.command("ids")
@id_options
@base_url_option
@json_option
def provider_ids(
    tmdb: str | None, imdb: str | None, tvdb: str | None, sub_base_url: str | None, as_json: bool
) -> None:
    """Look up with these ids and show the ids the provider's extract_ids finds in the result."""
    ids = ids_from_options(tmdb, imdb, tvdb)

    async def hook(orc: Orchestrator, name: str) -> Any:
        result = await orc.registry.lookup(name, ids)
        extracted = None if result is None else orc.registry.extract_ids(name, result)
        return result, extracted

    name, (result, extracted), _ = _call(sub_base_url, hook)
    if isinstance(result, ProviderResult) and extracted is None:
        extracted = result.ids
    _show_result(name, result, as_json, extracted)


@provider.command("search")
@click.argument("query")
@click.option("--year", type=int, help="Release year.")
@base_url_option
@json_option
def provider_search(query: str, year: int | None, sub_base_url: str | None, as_json: bool) -> None:
    """Call the provider's search hook with QUERY (and --year)."""

    async def hook(orc: Orchestrator, name: str) -> Any:
        if not orc.registry.implements(name, "search"):
            raise exits.CliError(f"{name} does not implement search", exits.USAGE)
        return await orc.registry.search(name, query, year)

    name, hits, bodies = _call(sub_base_url, hook)
    if as_json:
        data = {
            "provider": name,
            "raw": [{"request": r, "body": b} for r, b in bodies],
            "result": to_json(hits),
        }
        click.echo(_pretty(data))
    else:
        for request, body in bodies:
            click.echo(click.style("raw response", bold=True) + f"  {request}")
            click.echo(_pretty(body))
            click.echo("")
        click.echo(click.style("parsed", bold=True))
        rows = [
            (
                i,
                output.shorten(h.title, 50),
                h.year or "",
                h.ids,
                h.original_title or "",
                "" if h.popularity is None else f"{h.popularity:g}",
            )
            for i, h in enumerate(hits, start=1)
        ]
        click.echo(
            output.table(("#", "title", "year", "ids", "original title", "popularity"), rows)
            if rows
            else "no hits"
        )
    if not hits:
        finish(exits.NEEDS_PERSON)
