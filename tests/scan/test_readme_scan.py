"""The README's "Scan a library" section is real: its library, its output and its Python
example, against the simulator (results stream in the order they finish, so lines compare as
a set; the summary's timings are masked)."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from metarr.cli import main
from metarr_sim import SimServer, World
from scan.libraries import build, nfo

ROOT = Path(__file__).resolve().parents[2]
NFOS = {  # what the README says of them: The Matrix's own ids; The Matrix's ids beside Heat
    "Movies/The Matrix (1999)/movie.nfo": nfo(tmdb=603, imdb="tt0133093", title="The Matrix"),
    "Movies/Heat (1995)/Heat.1995.nfo": nfo(tmdb=603),
}
TIMING = re.compile(r"in \d+\.\d+ s \(\d+\.\d movies/s\)")

pytestmark = pytest.mark.usefixtures("quick_retries")


def _section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return text.split("### Scan a library\n", 1)[1].split("\n## ", 1)[0]


def _output(section: str, command: str, nth: int = 0) -> list[str]:
    """The lines shown after the ``nth`` ``$ command`` (up to the next prompt or fence)."""
    block = section.split(f"$ {command}\n")[nth + 1]
    return block.split("```", 1)[0].split("\n$ ", 1)[0].rstrip("\n").splitlines()


def _masked(lines: list[str]) -> list[str]:
    return [TIMING.sub("in … s (… movies/s)", line.rstrip()) for line in lines]


def test_the_readme_scan_is_real(sim_world: World, tmp_path: Path) -> None:
    section = _section()
    files = _output(section, "find Movies -type f | sort")
    assert files == sorted(files) and set(NFOS) <= set(files)
    build(tmp_path, {name: NFOS.get(name, "") for name in files})
    library = tmp_path / "Movies"
    with SimServer(sim_world) as sim:
        env = sim.settings_env()
        db = str(tmp_path / "c.db")

        def run(*args: str) -> list[str]:
            result = CliRunner().invoke(main, ["--db", db, *args], env=env)
            return result.stdout.splitlines()

        first = run("scan", str(library))
        shown = _output(section, "metarr scan Movies")
        summary = next(i for i, line in enumerate(shown) if line.startswith("scan  "))
        real = next(i for i, line in enumerate(first) if line.startswith("scan  "))
        assert sorted(shown[:summary]) == sorted(first[:real])  # the results, as a set
        assert _masked(shown[summary:]) == _masked(first[real:])
        assert run("resolve", "Heat (1995)", "--tmdb", "949")[0].startswith("outcome    ident")
        again = run("scan", str(library))
        shown = _output(section, "metarr scan Movies", 1)
        assert shown[0] == "…"
        real = next(i for i, line in enumerate(again) if line.startswith("scan  "))
        assert _masked(shown[1:]) == _masked(again[real:])
        # the Python example, in the folder that holds Movies, with the simulator's variables
        [block] = re.findall(r"```python\n(.*?)```", section, re.S)
        out = io.StringIO()
        with pytest.MonkeyPatch.context() as patch, contextlib.redirect_stdout(out):
            for key, value in {**env, "METARR_DB": db}.items():
                patch.setenv(key, value)
            patch.chdir(tmp_path)
            exec(compile(block, "README.md", "exec"), {})
    lines = out.getvalue().splitlines()
    assert "Heat (1995) identified tmdb:949 imdb:tt0113277 tvdb:399599" in lines
    assert len(lines) == 11
