"""Installing and removing provider packages in the environment metarr runs in.

As ``llm install`` does, the package goes into the Python that runs metarr (`sys.executable`),
whatever virtual environment is active: with ``uv pip … --python <it>`` when uv is on the
PATH (a uv-managed environment may have no pip), else with ``<it> -m pip``. The providers a
package brings are the ``metarr.providers`` entry points that appear (or go) with it.
"""

from __future__ import annotations

import importlib
import importlib.util
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

from metarr.cli import exits
from metarr.plugins import ENTRY_POINT_GROUP

CORE = "metarr"
Provided = tuple[str, str, str]  # provider name, distribution, version


def installer(verb: str) -> list[str]:
    """The command that runs ``verb`` (install/uninstall) for this Python."""
    uv = shutil.which("uv")
    if uv is not None:
        return [uv, "pip", verb, "--python", sys.executable]
    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip", verb, *(["-y"] if verb == "uninstall" else [])]
    raise exits.CliError(
        f"cannot {verb}: neither uv (https://docs.astral.sh/uv/) nor pip is available to "
        f"{sys.executable}",
        exits.FAILURE,
    )


def providers() -> set[Provided]:
    """Every installed provider entry point, with its distribution and version."""
    importlib.invalidate_caches()
    found = set()
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        dist = ep.dist
        found.add((ep.name, dist.name if dist else "", dist.version if dist else ""))
    return found


def install(target: str, *, editable: bool = False) -> list[Provided]:
    """Install ``target`` (a folder, a wheel or a requirement); the providers it added."""
    looks_like_path = target.startswith((".", "/", "~")) or Path(target).exists()
    if looks_like_path and not Path(target).expanduser().exists():
        raise exits.CliError(f"{target}: no such file or folder")
    if editable and not (looks_like_path and Path(target).expanduser().is_dir()):
        raise exits.CliError(f"-e installs a folder in editable mode; {target} is not one")
    spec = str(Path(target).expanduser().resolve()) if looks_like_path else target
    before = providers()
    _run([*installer("install"), *(["-e"] if editable else []), spec], f"install {target}")
    return sorted(providers() - before)


def uninstall(name: str) -> str:
    """Remove the distribution of provider ``name`` (or the distribution ``name``)."""
    if _same(name, CORE):
        raise exits.CliError("metarr is the core, not a plugin: remove it with uv or pip")
    found = {provider: dist for provider, dist, _ in providers()}
    dists = {dist for dist in found.values() if dist}
    dist = found.get(name) or next((d for d in dists if _same(d, name)), None)
    if dist is None:
        known = ", ".join(sorted(found)) or "none"
        raise exits.CliError(
            f"no installed provider or provider package {name!r}; providers: {known}"
        )
    if _same(dist, CORE):
        raise exits.CliError(f"provider {name} is part of metarr itself; nothing to uninstall")
    _run([*installer("uninstall"), dist], f"uninstall {dist}")
    return dist


def _run(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise exits.CliError(
            f"could not {what} ({' '.join(command[:3])} …): " + " / ".join(said), exits.FAILURE
        )


def _same(a: str, b: str) -> bool:
    """Whether two distribution names are the same (PEP 503 normalisation)."""

    def norm(text: str) -> str:
        return "-".join(text.lower().replace("_", "-").replace(".", "-").split("-"))

    return norm(a) == norm(b)
