"""Configuration: a TOML file, then ``METARR_*`` environment variables, then command-line flags.

Each provider has a section ``[providers.<name>]``; every key in it can also be set as
``METARR_<NAME>_<KEY>`` (``METARR_TMDB_API_KEY``, ``METARR_FANART_ENABLED=false``). Third-party
providers get the same treatment with no core change: their name comes from their entry point.
An empty variable (``METARR_TMDB_API_KEY=``) counts as unset.

Secrets (`is_secret_key`) are wrapped in `Secret` and registered for redaction, whether they
come from the file, the environment or code; the loader refuses empty, short (see
`metarr.redaction.MIN_LENGTH`), whitespace- or control-character-bearing values, naming the
setting. A file holding secrets that others can read earns a warning in `Settings.warnings`.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import platformdirs

from metarr import redaction
from metarr.errors import ConfigError
from metarr.freshness import RefreshRules, rules_from
from metarr.models import PRIORITY_FIELDS
from metarr.redaction import Secret

if TYPE_CHECKING:
    from metarr.plugins import PluginInfo

APP_NAME = "metarr"
SECRET_KEYS = frozenset({"api_key", "access_token", "client_key", "pin"})
_SECRET_HINTS = ("key", "token", "secret", "password", "pin")
COMMON_KEYS = {"enabled": bool, "base_url": str, "timeout": float, "ttl_days": float}
TOP_LEVEL_KEYS = frozenset({"db", "language", "tmdb_policy", "providers", "priority", "refresh"})
TMDB_POLICIES = ("block", "warn")
# Variables that are not provider settings although they may share a provider's prefix.
TOP_LEVEL_ENV = frozenset(
    {"METARR_CONFIG", "METARR_DB", "METARR_LANGUAGE", "METARR_TMDB_POLICY", "METARR_LOAD_PLUGINS"}
)


def default_config_path() -> Path:
    """``config.toml`` in the platform's config dir (``~/.config/metarr`` on Linux)."""
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def default_db_path() -> Path:
    """``metarr.sqlite`` in the platform's data dir (``~/.local/share/metarr`` on Linux)."""
    return Path(platformdirs.user_data_dir(APP_NAME)) / "metarr.sqlite"


def is_secret_key(key: str) -> bool:
    """Whether a provider setting holds a secret (bundled names, or any *key/*token/… name)."""
    return key in SECRET_KEYS or any(hint in key for hint in _SECRET_HINTS)


def _wrap_secrets(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options with every secret-named text value wrapped in `Secret` and registered, so
    a key given in code is protected exactly like one read from the environment."""
    wrapped: dict[str, Any] = {}
    for key, value in options.items():
        if isinstance(value, str | int) and not isinstance(value, bool) and is_secret_key(key):
            value = Secret(str(value))
        if isinstance(value, Secret):
            redaction.register(value.reveal())
        wrapped[key] = value
    return wrapped


@attrs.frozen(kw_only=True)
class ProviderSettings:
    """One provider's settings, merged from file and environment (or given in code)."""

    name: str
    enabled: bool = True
    base_url: str | None = None
    timeout: float = 10.0
    ttl_days: float | None = None
    options: Mapping[str, Any] = attrs.field(factory=dict, converter=_wrap_secrets)

    def get(self, key: str, default: Any = None) -> Any:
        """A plugin-specific option; secrets come back revealed."""
        value = self.options.get(key, default)
        return value.reveal() if isinstance(value, Secret) else value

    def has(self, key: str) -> bool:
        """Whether a non-empty value is set for ``key``."""
        return self.get(key) not in (None, "")

    def secrets(self) -> list[str]:
        """The secret values, for redaction."""
        return [v.reveal() for v in self.options.values() if isinstance(v, Secret)]


ProviderOptions = Mapping[str, Any]
"""A provider's settings given in code: ``{"api_key": "…", "base_url": "…", "timeout": 5}``."""


def _providers(
    value: Mapping[str, ProviderSettings | ProviderOptions],
) -> dict[str, ProviderSettings]:
    """Each provider's settings: given as `ProviderSettings`, or as a plain mapping checked
    and coerced exactly like a config file section (common keys typed, secrets wrapped)."""
    if not isinstance(value, Mapping):
        raise ConfigError("providers must map provider names to their settings")
    providers: dict[str, ProviderSettings] = {}
    for name, given in value.items():
        if isinstance(given, ProviderSettings):
            if given.name != name:
                raise ConfigError(f"providers[{name!r}] holds the settings of {given.name!r}")
            providers[name] = given
        elif isinstance(given, Mapping):
            providers[name] = provider_settings_from(name, given)
        else:
            raise ConfigError(f"providers[{name!r}] must be a mapping of settings")
    return providers


def _language(value: Any) -> str:
    if not isinstance(value, str) or not 2 <= len(value.strip()) <= 8:
        raise ConfigError(f"language must be a code such as 'en' or 'de-DE', not {value!r}")
    return value.strip()


def _plugin_tuple(value: Iterable[PluginInfo] | None) -> tuple[PluginInfo, ...] | None:
    return None if value is None else tuple(value)


def _db(value: str | Path) -> Path:
    return Path(value).expanduser()


def _policy(value: str) -> str:
    if value not in TMDB_POLICIES:
        raise ConfigError(f"tmdb_policy must be one of {', '.join(TMDB_POLICIES)}, not {value!r}")
    return value


def _orders(value: Mapping[str, Iterable[str]]) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, Mapping):
        raise ConfigError("priority must map field names to lists of providers")
    orders: dict[str, tuple[str, ...]] = {}
    for field, order in value.items():
        if field not in PRIORITY_FIELDS:
            raise ConfigError(
                f"priority: {field!r} is not a merged field; fields: {', '.join(PRIORITY_FIELDS)}"
            )
        if isinstance(order, str) or not all(isinstance(p, str) for p in order):
            raise ConfigError(f"priority: {field} must be a list of provider names")
        orders[field] = tuple(order)
    return orders


@attrs.frozen(kw_only=True)
class Settings:
    """Everything configurable, checked on construction; reads no file and no variable.

    ``Settings(db=PATH, providers={"tmdb": {"api_key": "…"}}, priority={"title": ["tmdb"]},
    language="de")``. A provider, option or priority field the installed providers do not know
    raises `ConfigError` naming it (``"tmbd"`` is a typo, not an unconfigured TMDB). Secrets
    given here are protected like those from the environment: never in a repr, a log line or
    an error. `load_settings` reads the config file and the ``METARR_*`` variables instead.

    ``refresh`` holds the refresh rules (`metarr.freshness.RefreshRules`, or a mapping of its
    fields: ``refresh={"age_ttl": [[1, 1], [5, 4], [float("inf"), 12]]}``).

    ``plugins`` replaces the installed provider plugins (entry points) with these: a provider
    that is not installed as a package, or test fakes. None: every installed one.
    """

    db: Path = attrs.field(factory=default_db_path, converter=_db)
    providers: Mapping[str, ProviderSettings] = attrs.field(factory=dict, converter=_providers)
    priority: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict, converter=_orders)
    language: str = attrs.field(default="en", converter=_language)
    tmdb_policy: str = attrs.field(default="block", converter=_policy)
    plugins: tuple[PluginInfo, ...] | None = attrs.field(default=None, converter=_plugin_tuple)
    refresh: RefreshRules = attrs.field(factory=RefreshRules, converter=rules_from)
    config_path: Path | None = None
    warnings: tuple[str, ...] = attrs.field(default=(), eq=False)
    """Things a person should fix that do not stop metarr (a config file others can read);
    the library never prints them, the CLI shows them once on stderr."""

    def __attrs_post_init__(self) -> None:
        if not self.providers and not self.priority:
            return
        known = {info.name: info for info in self.provider_plugins()}
        names = ", ".join(sorted(known)) or "none"
        for name, psettings in self.providers.items():
            if name not in known:
                raise ConfigError(f"unknown provider {name!r} in providers; installed: {names}")
            _check_options(psettings, known[name])
        for field, order in self.priority.items():
            for name in order:
                if name not in known:
                    raise ConfigError(
                        f"priority: {field} names unknown provider {name!r}; installed: {names}"
                    )

    def provider(self, name: str) -> ProviderSettings:
        """A provider's settings (defaults when it has none)."""
        return self.providers.get(name) or ProviderSettings(name=name)

    def provider_plugins(self) -> list[PluginInfo]:
        """The provider plugins these settings are for: ``plugins``, else the installed ones."""
        if self.plugins is not None:
            return list(self.plugins)
        from metarr.plugins import discover

        return discover(env={})


def _check_options(psettings: ProviderSettings, info: PluginInfo) -> None:
    """`ConfigError` for an option the provider does not declare, or a value of the wrong
    type (its `metarr.ProviderSpec` says); a broken plugin is left to the registry to report."""
    from metarr.errors import PluginError
    from metarr.spec import spec_of

    if info.factory is None:
        return
    try:
        spec = spec_of(info)
    except PluginError:
        return
    spec.check(psettings.name, psettings.options, unknown="error")


def env_name(provider: str, key: str) -> str:
    """The environment variable for a provider setting: ``METARR_TMDB_API_KEY``."""
    return f"METARR_{provider}_{key}".upper().replace("-", "_").replace(".", "_")


def load_settings(
    plugins: Iterable[PluginInfo | str] | None = None,
    *,
    config_path: str | Path | None = None,
    db_path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
) -> Settings:
    """Settings from the config file and the environment: file < ``METARR_*`` variables < the
    explicit arguments (command-line flags). The one call that reads either.

    ``plugins`` are the provider plugins to configure (or their names); None: the installed
    ones (``METARR_LOAD_PLUGINS`` picks among them). A file section naming another provider is
    an error (a typo would otherwise silently leave a provider unconfigured).
    """
    env = os.environ if env is None else env
    infos = _plugin_infos(plugins, env)
    known = sorted({info.name for info in infos})
    explicit = config_path or env.get("METARR_CONFIG")
    path = Path(explicit).expanduser() if explicit else default_config_path()
    data = _read_toml(path, required=bool(explicit))
    unknown_top = set(data) - TOP_LEVEL_KEYS
    if unknown_top:
        raise ConfigError(
            f"{path}: unknown setting(s) {', '.join(sorted(unknown_top))}; "
            f"valid top-level keys are {', '.join(sorted(TOP_LEVEL_KEYS))}"
        )
    sections = data.get("providers", {})
    if not isinstance(sections, dict):
        raise ConfigError(f"{path}: [providers] must be a table of provider sections")
    for name in sections:
        if name not in known:
            raise ConfigError(
                f"{path}: [providers.{name}] names no installed provider; "
                f"installed: {', '.join(known) or 'none'}"
            )
    providers = {
        name: _provider_settings(name, sections.get(name, {}), env, path, known) for name in known
    }
    language = env.get("METARR_LANGUAGE") or data.get("language", "en")
    policy = env.get("METARR_TMDB_POLICY") or data.get("tmdb_policy", "block")
    db = db_path or env.get("METARR_DB") or data.get("db")
    try:
        return Settings(
            providers=providers,
            db=db if db else default_db_path(),
            language=language,
            tmdb_policy=policy,
            priority=_priority(data.get("priority", {}), known, path),
            plugins=infos,
            refresh=data.get("refresh"),
            config_path=path if path.exists() else None,
            warnings=_exposed_secrets(path, sections),
        )
    except ConfigError as exc:
        if path.exists() and str(path) not in str(exc):
            raise ConfigError(f"{path}: {exc}") from None
        raise


def _plugin_infos(
    plugins: Iterable[PluginInfo | str] | None, env: Mapping[str, str]
) -> list[PluginInfo]:
    """The plugins to configure: given ones, names (the installed plugin of that name, or a
    stand-in that says it is not installed), or the installed ones."""
    from metarr.plugins import PluginInfo, discover

    if plugins is None:
        return discover(env)
    given = list(plugins)
    if all(not isinstance(p, str) for p in given):
        return [p for p in given if not isinstance(p, str)]
    installed = {info.name: info for info in discover(env={})}
    return [
        p
        if not isinstance(p, str)
        else installed.get(p) or PluginInfo(name=p, error="not installed (no entry point)")
        for p in given
    ]


def _exposed_secrets(path: Path, sections: Mapping[str, Any]) -> tuple[str, ...]:
    """A warning when the config file holds secrets and its group or others may read it."""
    held = [
        f"providers.{name}.{key}"
        for name, section in sections.items()
        if isinstance(section, dict)
        for key in section
        if is_secret_key(key)
    ]
    try:
        mode = path.stat().st_mode
    except OSError:
        return ()
    readers = [
        who for who, bit in (("group", stat.S_IRGRP), ("others", stat.S_IROTH)) if mode & bit
    ]
    if not held or not readers:
        return ()
    return (
        f"config file {path} holds secrets ({', '.join(held)}) and its "
        f"{' and '.join(readers)} can read it: run chmod 600 {path}",
    )


def _read_toml(path: Path, *, required: bool) -> dict[str, Any]:
    if not path.exists():
        if required:
            raise ConfigError(f"config file {path} does not exist")
        return {}
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    if not data.strip():  # an empty file is an empty table; the parser is not imported for it
        return {}
    import tomllib

    try:
        return tomllib.loads(data.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None


def _provider_settings(
    name: str, section: Any, env: Mapping[str, str], path: Path, known: Iterable[str] = ()
) -> ProviderSettings:
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [providers.{name}] must be a table")
    values: dict[str, Any] = dict(section)
    prefix = env_name(name, "")
    # METARR_MY_RATINGS_API_KEY belongs to provider my_ratings, not to provider my.
    longer = [env_name(other, "") for other in known if len(other) > len(name)]
    for var, value in env.items():
        if (
            var.startswith(prefix)
            and len(var) > len(prefix)
            and var not in TOP_LEVEL_ENV
            and not any(var.startswith(other) for other in longer)
            and value != ""  # an empty variable is unset: the file's value stands
        ):
            values[var[len(prefix) :].lower()] = value
    return provider_settings_from(name, values)


def provider_settings_from(name: str, values: Mapping[str, Any]) -> ProviderSettings:
    """A provider's settings from plain values (a file section, variables or code): the
    common keys checked and typed, secrets checked and wrapped; `ConfigError` naming the
    setting otherwise."""
    common: dict[str, Any] = {}
    options: dict[str, Any] = {}
    for key, value in values.items():
        if not isinstance(key, str):
            raise ConfigError(f"providers.{name}: setting names must be text, not {key!r}")
        if key in COMMON_KEYS:
            common[key] = _coerce(name, key, value, COMMON_KEYS[key])
        elif is_secret_key(key):
            options[key] = value if isinstance(value, Secret) else Secret(_secret(name, key, value))
        else:
            options[key] = value
    return ProviderSettings(name=name, options=options, **common)


def _secret(provider: str, key: str, value: Any) -> str:
    """A secret's text, or a `ConfigError` naming the setting and its variable."""
    where = f"providers.{provider}.{key} ({env_name(provider, key)})"
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ConfigError(f"{where} must be text")
    text = str(value)
    problem = redaction.problem(text)
    if problem is not None:
        raise ConfigError(f"{where} {problem}")
    return text


def _coerce(provider: str, key: str, value: Any, kind: type) -> Any:
    where = f"providers.{provider}.{key} ({env_name(provider, key)})"
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{where} must be true or false, not {value!r}")
    if kind is float:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where} must be a number, not {value!r}") from None
        if not number > 0:
            raise ConfigError(f"{where} must be greater than 0, not {value!r}")
        return number
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where} must be non-empty text")
    if key == "base_url" and not value.startswith(("http://", "https://")):
        raise ConfigError(f"{where} must start with http:// or https://, not {value!r}")
    return value.strip().rstrip("/")


def _priority(data: Any, known: list[str], path: Path) -> dict[str, tuple[str, ...]]:
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: [priority] must map field names to lists of providers")
    result: dict[str, tuple[str, ...]] = {}
    for field, order in data.items():
        if field not in PRIORITY_FIELDS:
            raise ConfigError(
                f"{path}: [priority] {field!r} is not a merged field; "
                f"fields: {', '.join(PRIORITY_FIELDS)}"
            )
        if not isinstance(order, list) or not all(isinstance(p, str) for p in order):
            raise ConfigError(f"{path}: [priority] {field} must be a list of provider names")
        for provider in order:
            if provider not in known:
                raise ConfigError(f"{path}: [priority] {field} names unknown provider {provider!r}")
        result[field] = tuple(order)
    return result
