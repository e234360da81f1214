"""The README's Embedding section is true: every example runs against the simulator, and the
README and CONTRIBUTING examples import only public names."""

from __future__ import annotations

import ast
import asyncio
import importlib
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import httpx
import metarr
import pytest
from metarr_sim import SimServer

ROOT = Path(__file__).resolve().parents[1]
PUBLIC_MODULES = ("metarr", "metarr.testing")  # the embedders' and the plugin authors'


def python_blocks(document: str, section: str | None = None) -> list[str]:
    text = (ROOT / document).read_text(encoding="utf-8")
    if section is not None:
        text = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)


def test_the_documents_import_only_public_names() -> None:
    blocks = python_blocks("README.md") + python_blocks("CONTRIBUTING.md")
    assert blocks
    for block in blocks:
        for node in ast.walk(ast.parse(textwrap.dedent(block))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
                assert not [n for n in names if n.startswith("metarr.")], names
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("metarr"):
                assert node.module in PUBLIC_MODULES or not node.module.startswith("metarr."), (
                    f"{node.module} is not a public module"
                )
                module = importlib.import_module(node.module)
                public = getattr(module, "__all__", None)
                for alias in node.names:
                    assert not alias.name.startswith("_"), alias.name
                    if public is not None and node.module == "metarr":
                        assert alias.name in public, f"{alias.name} is not in metarr.__all__"


def test_the_embedding_section_covers_what_embedders_need() -> None:
    blocks = python_blocks("README.md", "Embedding")
    text = "\n".join(blocks)
    for needed in (
        "Settings(",
        "async with Orchestrator",
        "ThreadPoolExecutor",
        "Starlette",
        "CacheReader",
        "identify_many",
    ):
        assert needed in text, needed
    assert "build/api" in (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.mark.slow
def test_every_embedding_example_runs_against_the_simulator(
    sim_server: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("METARR_")}
    env.update(sim_server.settings_env())
    env.update(METARR_DB="movies.sqlite", METARR_LOAD_PLUGINS="tmdb,omdb,fanart,tvdb")
    env.update(HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"))
    outputs = []
    for block in python_blocks("README.md", "Embedding"):
        if "Starlette(" in block:
            outputs.append(serve(block, env, tmp_path, monkeypatch))
            continue
        done = subprocess.run(
            [sys.executable, "-c", block],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, block + done.stderr
        assert done.stderr == "", done.stderr  # metarr prints nothing a host did not ask for
        outputs.append(done.stdout)
    from_code, scanner, threads, web, enrichment = outputs
    assert from_code.splitlines()[0] == "The Matrix"
    assert "unknown provider 'tmbd'" in from_code
    assert "/movies/Heat (1995).mkv identified" in scanner
    assert "{'identified': 2, 'ambiguous': 1}" in scanner
    assert "needs a person: /movies/War of the Worlds (2005).mkv ambiguous 2" in scanner
    assert threads.count("identified") == 4
    assert web.strip() == "The Matrix"
    assert enrichment.splitlines()[0] == "The Matrix omdb"
    assert len(enrichment.splitlines()) == 1 + 4  # every cached movie (4), one line each
    assert metarr.__version__


def serve(block: str, env: dict[str, str], cwd: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the web example's application as an ASGI server would: its lifespan around the
    requests, each request through the application (its `def` endpoint in a worker thread)."""
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(cwd)
    scope: dict[str, object] = {"__name__": "webexample"}
    exec(block, scope)  # the README's module, as written
    app: Any = scope["app"]

    async def requests() -> tuple[str, httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://web") as client,
        ):
            found = (await client.get("/movies/tt0133093")).json()["title"]
            return found, await client.get("/movies/tt0000001")

    found, missing = asyncio.run(requests())
    assert missing.status_code == 404 and missing.json()["status"] == "not_found"
    return str(found)
