"""The docs stay true: every hook documented with its signature; the README examples run."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

from metarr import hookspecs

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
