"""The base class for provider plugins, the options they declare and the context they get."""

from __future__ import annotations

import builtins
import logging
import math
import re
from pathlib import Path
from typing import Any, ClassVar

import attrs

from metarr.config import ProviderSettings, env_name, is_secret_key
from metarr.http import ProviderHttp
from metarr.ids import IdKind
from metarr.statedir import provider_state_dir

OPTION_TYPES: tuple[builtins.type[Any], ...] = (str, int, float, bool)
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
_INTEGER = re.compile(r"^[+-]?[0-9]{1,18}$")


def _option_type(instance: Option, attribute: Any, value: Any) -> None:
    if value not in OPTION_TYPES:
        raise ValueError(f"Option {instance.name!r}: type must be str, int, float or bool")


def _secret_default(option: Option) -> bool:
    return is_secret_key(option.name)


@attrs.frozen
class Option:
    """One setting a provider reads from its section, declared on its class::

        options = (
            metarr.Option("api_key", secret=True, help="the v3 API key"),
            metarr.Option("image_size", default="original", help="poster size (w342, original)"),
        )

    ``type`` is ``str``, ``int``, ``float`` or ``bool``: values from the config file or the
    ``METARR_<NAME>_<KEY>`` variable are converted to it before the provider sees them (a
    variable is always text: ``"false"`` becomes ``False``). ``secret`` values are masked
    everywhere and reach the provider through ``self.settings.get(...)`` only; it defaults to
    true for names containing ``key``, ``token``, ``secret``, ``password`` or ``pin``.
    ``default`` is what ``self.settings.get(name)`` gives when nothing is configured.
    """

    name: str
    type: builtins.type[Any] = attrs.field(default=str, validator=_option_type)
    secret: bool = attrs.field(
        default=attrs.Factory(_secret_default, takes_self=True), kw_only=True
    )
    help: str = attrs.field(default="", kw_only=True)
    default: Any = attrs.field(default=None, kw_only=True)

    def __attrs_post_init__(self) -> None:
        if self.secret and self.type is not str:
            raise ValueError(f"Option {self.name!r}: a secret is text (type=str)")

    def env_var(self, provider: str) -> str:
        """``METARR_<PROVIDER>_<NAME>``: the variable that sets this option."""
        return env_name(provider, self.name)

    def convert(self, value: Any) -> Any:
        """The value as this option's type; `ValueError` saying what is wrong (no secret in it).

        Text is accepted for every type (environment variables are text); numbers for text.
        None, and empty text for a non-text option, mean unset (the default applies).
        """
        if value is None or (value == "" and self.type is not str):
            return None
        if self.type is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower() if isinstance(value, str | int) else None
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError(f"must be true or false, not {_shown(self, value)}")
        if isinstance(value, bool):
            raise ValueError(f"must be {_article(self.type)}, not {value!r}")
        if self.type is str:
            if isinstance(value, str | int):
                return str(value)
            raise ValueError(f"must be text, not {type(value).__name__}")
        if self.type is int:
            if isinstance(value, int):
                return value
            if isinstance(value, str) and _INTEGER.match(value.strip()):
                return int(value.strip())
            raise ValueError(f"must be a whole number, not {_shown(self, value)}")
        number: float
        try:
            number = float(value) if isinstance(value, str | int | float) else math.nan
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise ValueError(f"must be a number, not {_shown(self, value)}")
        return number


def _shown(option: Option, value: Any) -> str:
    return "***" if option.secret else repr(value)


def _article(kind: builtins.type[Any]) -> str:
    return {str: "text", int: "a whole number", float: "a number"}.get(kind, kind.__name__)


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

    Class attributes describe the provider to the core (read once into a
    `metarr.ProviderSpec` when the plugin is loaded; a wrong one makes the plugin ``broken``
    with the reason):

    - ``id_types``: the id kinds `lookup_by_id` can use (the engine calls it when one is known);
    - ``options``: the settings it reads (`Option`); ``enabled``, ``base_url``, ``timeout``
      and ``ttl_days`` are the core's and need no declaration;
    - ``requires``: alternative groups of options, one of which must be fully set for the
      provider to be enabled (TMDB: ``(("api_key",), ("access_token",))``; ``()``: none);
    - ``default_base_url`` (including any API version path) and ``default_ttl_days``;
    - ``languages``: the metadata languages it can serve, or None for any (OMDb: ``{"en"}``);
    - ``authority_for``: the id kinds it issues or validates (TMDB: tmdb; OMDb, which validates
      against IMDb: imdb; TVDB: tvdb). When providers disagree about an id, the engine asks its
      authority; with the authority disabled or down the disagreement is a ``conflict``.

    The constructor must do no I/O: the first request happens in a hook.
    """

    id_types: ClassVar[frozenset[IdKind]] = frozenset()
    options: ClassVar[tuple[Option, ...]] = (Option("api_key", help="the API key"),)
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
