"""The base class for provider plugins and the context each one is built with."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import ClassVar

import attrs

from metarr.config import ProviderSettings
from metarr.http import ProviderHttp
from metarr.ids import IdKind
from metarr.statedir import provider_state_dir


def _default_state_dir(context: ProviderContext) -> Path:
    return provider_state_dir(context.name)


@attrs.frozen(kw_only=True)
class ProviderContext:
    """What a provider gets from the core: its name, settings, HTTP view, language, logger and
    state directory.

    ``state_dir`` is where the provider may keep small files between runs (a login token):
    its own directory under ``METARR_STATE_DIR`` or the platform's user state directory (see
    `metarr.statedir`, whose `~metarr.statedir.write_private` writes such files safely). It
    may not exist yet.
    """

    name: str
    settings: ProviderSettings
    http: ProviderHttp
    language: str = "en"
    log: logging.Logger = attrs.field(factory=lambda: logging.getLogger("metarr.provider"))
    state_dir: Path = attrs.field(
        default=attrs.Factory(_default_state_dir, takes_self=True), converter=Path
    )


class Provider:
    """Subclass this and decorate hook methods with ``@metarr.hookimpl``.

    Class attributes describe the provider to the core:

    - ``id_types``: the id kinds `lookup_by_id` can use (the engine calls it when one is known);
    - ``requires``: alternative groups of settings, one of which must be fully set for the
      provider to be enabled (TMDB: ``(("api_key",), ("access_token",))``);
    - ``default_base_url`` (including any API version path) and ``default_ttl_days``;
    - ``languages``: the metadata languages it can serve, or None for any (OMDb: ``{"en"}``);
    - ``authority_for``: the id kinds it issues or validates (TMDB: tmdb; OMDb, which validates
      against IMDb: imdb; TVDB: tvdb). When providers disagree about an id, the engine asks its
      authority; with the authority disabled or down the disagreement is a ``conflict``.

    The constructor must do no I/O: the first request happens in a hook.
    """

    id_types: ClassVar[frozenset[IdKind]] = frozenset()
    requires: ClassVar[tuple[tuple[str, ...], ...]] = (("api_key",),)
    default_base_url: ClassVar[str] = ""
    default_ttl_days: ClassVar[float] = 7.0
    languages: ClassVar[frozenset[str] | None] = None
    authority_for: ClassVar[frozenset[IdKind]] = frozenset()

    def __init__(self, context: ProviderContext) -> None:
        self.context = context
        self.name = context.name
        self.settings = context.settings
        self.http = context.http
        self.log = context.log

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
