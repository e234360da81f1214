"""The provider hook specifications: the whole contract between metarr and a provider plugin.

A provider is a `metarr.Provider` subclass named by an entry point in the ``metarr.providers``
group (the entry-point name is the provider's name). Its hook implementations are methods marked
with ``@metarr.hookimpl``; `metarr.spec.spec_of` reads them with the class's declarations once
and names any that does not match these specs. The I/O hooks (`lookup_by_id`, `search`) are
``async def``: the core calls each provider's implementation itself, concurrently, with a
per-provider error boundary, so one provider's failure never sinks the others. The pure hooks
(`extract_ids`, `field_priority`) are plain functions. Hooks are called with keyword arguments;
``None`` means "not applicable" or "not found" — never raise for those. What a hook returns is
checked where it enters the core (`metarr.contract`): a violation, or an exception that is not
a `metarr.ProviderError`, is a `metarr.PluginError` naming the provider and the hook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

from metarr.ids import Ids
from metarr.models import ProviderResult, SearchHit

if TYPE_CHECKING:
    import click

PROJECT = "metarr"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
async def lookup_by_id(ids: Ids) -> ProviderResult | None:
    """This provider's full record for the movie with these ids (any subset of tmdb/imdb/tvdb).

    Return None when no given id is usable by this provider or it has no such movie. Raise
    `AuthError`, `RateLimitedError`, `UnavailableError` or `InvalidResponseError` on failure.
    Only your API's own not-found answer means "no such movie": claim it with a ``classify``
    callback (`metarr.http.ProviderHttp.get_json`); any other 404 is an `InvalidResponseError`.
    """


@hookspec
async def search(query: str, year: int | None) -> list[SearchHit] | None:
    """This provider's candidates for a title, best first; None or [] when it has none.

    Return the search engine's hits as they are, near misses included: the core decides what
    matches. ``year`` narrows the search when the API supports it.
    """


@hookspec
def extract_ids(result: ProviderResult) -> Ids | None:
    """The external ids present in one of this provider's own results (its cross-reference).

    Include only ids the payload really states (Fanart.tv echoes tmdb/imdb ids; TVDB lists
    remote ids); return None when there are none.
    """


@hookspec
def field_priority() -> dict[str, int] | None:
    """This provider's rank for each merged field it supplies: lower ranks win.

    Keys are the names in `metarr.models.PRIORITY_FIELDS` (``"title"``, ``"ratings"``,
    ``"ids.imdb"``, …); ranks are integers on the scale `metarr.merge` states (the bundled
    providers use 10 to 40; ties go by provider name). A field left out is never taken from
    this provider. Read once, when the provider is enabled: an unknown field makes the plugin
    broken. Without an ``authority_for`` declaration, the provider with the lowest
    ``ids.<kind>`` rank is the authority for that id kind.
    """


class CommandSpecs:
    """The hook of command plugins: modules named in the ``metarr.commands`` entry-point group."""

    @hookspec
    def register_commands(self, cli: click.Group) -> None:
        """Add commands to the ``metarr`` command group with ``cli.add_command(...)``."""


HOOK_NAMES: tuple[str, ...] = ("lookup_by_id", "search", "extract_ids", "field_priority")
ASYNC_HOOKS: frozenset[str] = frozenset({"lookup_by_id", "search"})
