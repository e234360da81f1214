"""What the full command set up last time, kept so a cached read can start without it.

Discovering the provider plugins imports each of them (and the HTTP stack); deciding which are
enabled reads the config file and ``METARR_*``. `metarr.cli.cached` answers a cached read
before any of that, from the census the last full command wrote: each provider's state, whether
it looks movies up by id, its TTL, the refresh rules, the default cache file and the schema
version. The census holds only for the setup it was taken in (its fingerprint: metarr's
version, the interpreter and its import path, the config file's size and modification time,
every ``METARR_*`` variable (a secret's length only), the plugins' own source files); anything
else changed, it is ignored and the full command runs (and writes a new one).

It is a file of the state directory (`metarr.statedir`, mode 0600, written whole). The
fingerprint never takes a secret's value (a digest of a short key could be searched for): a
key may change without making the census stale, since no cached read depends on its value.
It is a keyed BLAKE2 digest with a random key of the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from metarr import __version__
from metarr.statedir import STATE_DIR_VAR, read_private, write_private

CENSUS_FILE = "cli-census.json"
FORMAT = 1


def census_path(env: Mapping[str, str] | None = None) -> Path:
    """Where the census is kept: the state directory's root."""
    env = os.environ if env is None else env
    root = env.get(STATE_DIR_VAR)
    if not root:
        import platformdirs

        root = platformdirs.user_state_dir("metarr")
    return Path(root).expanduser() / CENSUS_FILE


def config_file(config: str | Path | None, env: Mapping[str, str]) -> Path:
    """The config file `metarr.config.load_settings` reads for this ``--config``."""
    explicit = config or env.get("METARR_CONFIG")
    if explicit:
        return Path(explicit).expanduser()
    import platformdirs

    return Path(platformdirs.user_config_dir("metarr")) / "config.toml"


def is_secret_name(variable: str) -> bool:
    """Whether a ``METARR_*`` variable holds a secret, as `metarr.config.is_secret_key`
    judges its setting (the words are repeated here to keep that module's imports off this
    path; a test keeps them equal)."""
    return any(word in variable.lower() for word in _SECRET_WORDS)


_SECRET_WORDS = ("key", "token", "secret", "password", "pin")


def _stamp(path: str) -> list[Any]:
    try:
        found = os.stat(path)
    except OSError:
        return [path, None, None]
    return [path, found.st_mtime_ns, found.st_size]


def fingerprint(
    key: bytes, config: str | Path | None, env: Mapping[str, str], files: Iterable[str]
) -> str:
    """The keyed digest of everything a command's setup depends on (see the module)."""
    digest = hashlib.blake2b(key=key, digest_size=32)
    setup = {
        "format": FORMAT,
        "version": __version__,
        "python": sys.executable,
        "path": [_stamp(entry) for entry in sys.path if entry],
        "env": sorted(
            (k, f"<secret of {len(v)}>" if is_secret_name(k) else v)
            for k, v in env.items()
            if k.startswith("METARR_")
        ),
        "config": _stamp(str(config_file(config, env))),
        "files": [_stamp(path) for path in files],
    }
    digest.update(json.dumps(setup, sort_keys=True).encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def read(config: str | Path | None, env: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """The census, when it was taken in this very setup; None otherwise."""
    env = os.environ if env is None else env
    data = read_private(census_path(env))
    if data is None:
        return None
    try:
        census = json.loads(data)
        if census.get("format") != FORMAT:
            return None
        key = bytes.fromhex(census["key"])
        if census["fingerprint"] != fingerprint(key, config, env, census["files"]):
            return None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return dict(census)


def write(
    config: str | Path | None,
    facts: Mapping[str, Any],
    files: Iterable[str],
    env: Mapping[str, str] | None = None,
) -> None:
    """Keep ``facts`` for this setup (unchanged ones are not written again). A failure to
    write is ignored: the census only saves time."""
    env = os.environ if env is None else env
    path = census_path(env)
    files = sorted(set(files))
    old = read(config, env)
    if old is not None and old.get("facts") == json.loads(json.dumps(facts)):
        return
    key = os.urandom(32)
    census = {
        "format": FORMAT,
        "key": key.hex(),
        "fingerprint": fingerprint(key, config, env, files),
        "files": files,
        "facts": facts,
    }
    with contextlib.suppress(OSError):
        write_private(path, json.dumps(census, sort_keys=True).encode("utf-8"))


def listed_plugins(
    config: str | Path | None, env: Mapping[str, str] | None = None
) -> list[list[str | None]] | None:
    """The provider plugins the census lists (``[name, distribution, version, location]``,
    see `plugin_location`), when it holds for this setup and lists them; None otherwise."""
    found = read(config, env)
    listed = None if found is None else found["facts"].get("plugins")
    if not isinstance(listed, list) or not all(
        isinstance(entry, list)
        and len(entry) == 4
        and all(isinstance(part, str | None) for part in entry)
        and isinstance(entry[0], str)
        and isinstance(entry[3], str)
        for entry in listed
    ):
        return None
    return listed


def plugin_location(factory: object) -> str | None:
    """``module:qualified.name`` of a plugin factory, when that is where it can be found again
    (`find_plugin`); None for one that cannot (a closure, an instance, a changed name)."""
    module = getattr(factory, "__module__", None)
    name = getattr(factory, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(name, str) or "<" in name:
        return None
    location = f"{module}:{name}"
    try:
        return location if find_plugin(location) is factory else None
    except Exception:  # whatever it is, it is not found there: the census does not list it
        return None


def find_plugin(location: str) -> Any:
    """The object at ``module:qualified.name`` (what an entry point's load does), importing
    the module."""
    import importlib

    module, _, name = location.partition(":")
    found: Any = importlib.import_module(module)
    for part in name.split("."):
        found = getattr(found, part)
    return found


def plugin_files(factories: Iterable[object]) -> list[str]:
    """The source files of the packages the plugin factories come from (already imported)."""
    tops = {getattr(f, "__module__", "").split(".")[0] for f in factories} - {"", "metarr"}
    files = []
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in tops:
            file = getattr(module, "__file__", None)
            if file:
                files.append(str(file))
    return files
