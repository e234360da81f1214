"""The docs stay true: every hook documented with its signature; the README examples run."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from metarr import hookspecs
from metarr.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_every_hook_is_documented_with_its_exact_signature() -> None:
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    headings = set(re.findall(r"^### `(\w+)\(([^)]*)\)`$", text, flags=re.MULTILINE))
    for name in hookspecs.HOOK_NAMES:
        params = ", ".join(inspect.signature(getattr(hookspecs, name)).parameters)
        assert (name, params) in headings, f"CONTRIBUTING.md lacks '### `{name}({params})`'"


def test_readme_quick_start_has_exactly_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```(?:bash|console)\n(.*?)```", quick, flags=re.DOTALL)
    assert block is not None
    commands = [
        line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")
    ]
    assert commands == ["uv run metarr demo", "uv run pytest"]


def test_readme_has_no_unfilled_placeholders() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "CLI_EXAMPLES" not in text


def test_readme_priorities_are_what_the_command_prints(monkeypatch: pytest.MonkeyPatch) -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("### Field priority", 1)[1]
    block = re.search(r"```console\n\$ metarr priorities\n(.*?)```", section, flags=re.DOTALL)
    assert block is not None
    for name in ("tmdb", "omdb", "fanart", "tvdb"):
        monkeypatch.setenv(f"METARR_{name.upper()}_API_KEY", f"{name}-test-key")
    monkeypatch.setenv("METARR_LOAD_PLUGINS", "tmdb,omdb,fanart,tvdb")
    result = CliRunner().invoke(main, ["priorities"], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.stdout == block.group(1)


def test_every_model_field_is_in_the_model_reference() -> None:
    import attrs
    import metarr

    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    reference = text.split("## Model reference", 1)[1].split("\n## ", 1)[0]
    for model in (
        metarr.ProviderResult,
        metarr.SearchHit,
        metarr.Rating,
        metarr.Image,
        metarr.CastMember,
        metarr.CrewMember,
        metarr.Ids,
    ):
        section = reference.split(f"**`{model.__name__}`**", 1)[1]
        section = re.split(r"\*\*`\w+`\*\*", section, maxsplit=1)[0]
        for field in attrs.fields(model):
            assert f"`{field.name}`" in section, f"{model.__name__}.{field.name} undocumented"
