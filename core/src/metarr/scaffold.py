"""``metarr plugins new``: a provider package whose tests pass as generated.

The templates (package data under ``metarr/templates/plugin``) give a pyproject with the
entry point and a dev dependency on ``metarr[testing]``, a provider module for a stand-in API,
tests that subclass `metarr.testing.ProviderContract`, a README and a ``.gitignore``. When the
running metarr was installed from a folder or a git checkout (not from a package index), the
pyproject depends on that same source through ``[tool.uv.sources]``, so ``uv sync`` works
before metarr is published.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterator
from importlib import metadata, resources
from importlib.resources.abc import Traversable
from pathlib import Path
from urllib.parse import unquote, urlparse

from metarr import __version__

NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
TEMPLATES = ("templates", "plugin")
SUFFIX = ".tmpl"


def check_name(name: str) -> str:
    """The provider name, or `ValueError` saying what a name must look like."""
    if not NAME.match(name):
        raise ValueError(
            f"provider name {name!r} must be lower-case letters, digits and underscores, "
            "starting with a letter (it names the entry point, the [providers.NAME] section "
            "and the METARR_NAME_* variables)"
        )
    return name


def scaffold(name: str, path: Path | None = None) -> Path:
    """Write a new provider package for ``name`` into ``path`` (default ``./metarr-<name>``,
    which must not exist or be empty); returns that folder."""
    check_name(name)
    target = Path(path) if path is not None else Path(f"metarr-{name.replace('_', '-')}")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ValueError(f"{target} already exists and is not an empty folder")
    values = _values(name)
    for relative, template in _templates():
        parts = [values["package"] if p == "PACKAGE" else p for p in relative]
        parts[-1] = parts[-1].removesuffix(SUFFIX)
        if parts[-1] == "gitignore":
            parts[-1] = ".gitignore"
        destination = target.joinpath(*parts)
        destination.parent.mkdir(parents=True, exist_ok=True)
        text = string.Template(template.read_text(encoding="utf-8")).substitute(values)
        destination.write_text(text, encoding="utf-8")
    return target


def core_source() -> str | None:
    """The ``[tool.uv.sources]`` entry for metarr when it was installed from a folder or a
    git checkout (PEP 610 ``direct_url.json``); None when it came from a package index."""
    try:
        text = metadata.distribution("metarr").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    if not text:
        return None
    direct = json.loads(text)
    url = str(direct.get("url", ""))
    vcs = direct.get("vcs_info")
    sub = direct.get("subdirectory")
    if isinstance(vcs, dict) and vcs.get("vcs") == "git":
        fields = [f"git = {json.dumps(url.removeprefix('git+'))}"]
        if vcs.get("commit_id"):
            fields.append(f"rev = {json.dumps(vcs['commit_id'])}")
        if sub:
            fields.append(f"subdirectory = {json.dumps(sub)}")
        return "metarr = { " + ", ".join(fields) + " }"
    parsed = urlparse(url)
    if parsed.scheme == "file" and "dir_info" in direct:
        folder = unquote(parsed.path)
        editable = ", editable = true" if direct["dir_info"].get("editable") else ""
        return f"metarr = {{ path = {json.dumps(folder)}{editable} }}"
    return None


def _values(name: str) -> dict[str, str]:
    source = core_source()
    sources = (
        ""
        if source is None
        else "\n# metarr as installed where this package was made (it is not on an index yet).\n"
        f"[tool.uv.sources]\n{source}\n"
    )
    return {
        "name": name,
        "NAME": name.upper(),
        "dist": f"metarr-{name.replace('_', '-')}",
        "package": f"metarr_{name}",
        "cls": "".join(part.capitalize() for part in name.split("_")) + "Provider",
        "base_url": f"https://api.{name.replace('_', '-')}.example/v1",
        "core_version": __version__,
        "sources": sources,
    }


def _templates() -> Iterator[tuple[tuple[str, ...], Traversable]]:
    root = resources.files("metarr").joinpath(*TEMPLATES)
    stack: list[tuple[tuple[str, ...], Traversable]] = [((), root)]
    while stack:
        prefix, folder = stack.pop()
        for entry in folder.iterdir():
            if entry.is_dir():
                stack.append(((*prefix, entry.name), entry))
            elif entry.name.endswith(SUFFIX):
                yield (*prefix, entry.name), entry
