"""The provider hook specifications: the whole contract between metarr and a provider plugin.

A provider is a `metarr.Provider` subclass named by an entry point in the ``metarr.providers``
group (the entry-point name is the provider's name). Its hook implementations are methods marked
with ``@metarr.hookimpl``; `metarr.spec.spec_of` reads them with the class's declarations once
and names any that does not match these specs. The I/O hooks (`lookup_by_id`, `search`, the
optional `changed_since`) are ``async def``: the core calls each provider's implementation
itself, concurrently, with a per-provider error boundary, so one provider's failure never
sinks the others. The pure hooks (`extract_ids`, `field_priority`) are plain functions. Hooks
are called with keyword arguments; ``None`` means "not applicable" or "not found" — never raise
for those. What a hook returns is checked where it enters the core (`metarr.contract`): a
violation, or an exception that is not a `metarr.ProviderError`, is a `metarr.PluginError`
naming the provider and the hook.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

from metarr.ids import Ids
from metarr.models import ProviderResult, SearchHit

if TYPE_CHECKING:
    from datetime import datetime

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
async def changed_since(since: datetime, until: datetime) -> set[str] | None:
    """Optional: the ids (of the kinds this provider is the ``authority_for``, as text) of the
    movies whose record changed from ``since`` to ``until`` (UTC, ``until`` is now by the
    core's clock); None when it cannot tell.

    Implement it when the API has a change feed (TMDB's ``/movie/changes``). ``refresh --stale``
    calls it once per run with the oldest fetch it needs vouched for: a stale part whose movie
    is not in the answer is confirmed current without a request (and recorded as such); the
    others are refetched. Be conservative: a movie that may have changed must be in the set.
    Return None (never a partial set) when the window is longer than the feed keeps, the
    answer would take more pages than is reasonable, or anything fails; the core then
    refetches as if there were no feed. Raising a `ProviderError` means the same.
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


HOOK_NAMES: tuple[str, ...] = (
    "lookup_by_id",
    "search",
    "changed_since",
    "extract_ids",
    "field_priority",
)
ASYNC_HOOKS: frozenset[str] = frozenset({"lookup_by_id", "search", "changed_since"})
