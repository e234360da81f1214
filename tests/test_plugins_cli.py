"""``metarr plugins`` (list, new, install, uninstall), ``metarr priorities``, and how the
commands report a buggy plugin: its own exit code, never a usage error blaming the input."""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, ClassVar

import metarr
import pytest
from click.testing import CliRunner, Result
from metarr import Ids, ProviderResult
from metarr.cli import CliState, exits, install, main
from metarr.plugins import PluginInfo, discover

pytestmark = pytest.mark.usefixtures("no_retry_wait", "forget_secrets")


def invoke(*args: str, obj: CliState | None = None) -> Result:
    return CliRunner().invoke(main, list(args), obj=obj, catch_exceptions=False)


class Moviebuff(metarr.Provider):
    """Answers every IMDb lookup; ``bug`` says how it breaks the contract."""

    id_types: ClassVar[frozenset[metarr.IdKind]] = frozenset({"imdb"})
    options: ClassVar[tuple[metarr.Option, ...]] = (
        metarr.Option("api_key", help="the key"),
        metarr.Option("region", help="where"),
        metarr.Option("page_size", type=int, default=20, help="hits per page"),
    )
    requires: ClassVar[tuple[tuple[str, ...], ...]] = ()
    default_base_url: ClassVar[str] = "https://moviebuff.test/v1"
    bug: ClassVar[str] = "raw"

    @metarr.hookimpl
    async def lookup_by_id(self, ids: Ids) -> ProviderResult | None:
        if ids.imdb is None:
            return None
        raw: dict[str, Any] = {"movie": {"budget": Decimal("63e6")}} if self.bug == "raw" else {}
        return ProviderResult(provider=self.name, ids=Ids(imdb=ids.imdb), title="X", raw=raw)

    @metarr.hookimpl
    def extract_ids(self, result: ProviderResult) -> Ids | None:
        return Ids(imdb="tt133093") if self.bug == "ids" else result.ids

    @metarr.hookimpl
    def field_priority(self) -> dict[str, int]:
        return {"plot": 50, "ratings": 15, "title": 20}


class BadIds(Moviebuff):
    bug: ClassVar[str] = "ids"


def with_moviebuff(factory: type[Moviebuff] = Moviebuff) -> CliState:
    infos = [
        *discover(),
        PluginInfo(
            name="moviebuff", distribution="metarr-moviebuff", version="0.1.0", factory=factory
        ),
    ]
    return CliState(plugins=sorted(infos, key=lambda info: info.name))


# -- a buggy plugin through the real commands -----------------------------------------------


def test_a_lookup_with_a_buggy_plugin_is_identified_and_names_the_bug(
    sim_env: dict[str, str], tmp_path: Path
) -> None:
    result = invoke(
        "--db", str(tmp_path / "c.sqlite"), "lookup", "--imdb", "tt0133093", obj=with_moviebuff()
    )
    assert result.exit_code == 0, result.output
    assert "moviebuff error" in result.stdout
    assert (
        "moviebuff is missing from this record (plugin bug in moviebuff.lookup_by_id: "
        "result.raw['movie']['budget'] is a Decimal (Decimal('6.3E+7')), not a JSON value); "
        "report it to the plugin's authors (metarr-moviebuff 0.1.0)"
    ) in " ".join(result.stdout.split())
    assert "refresh" not in result.stdout
    [warning] = [line for line in result.stderr.splitlines() if "plugin bug" in line]
    assert warning.startswith("metarr: warning: plugin bug in moviebuff.lookup_by_id")
    assert "Traceback" not in result.stderr
    shown = invoke(
        "--db", str(tmp_path / "c.sqlite"), "cache", "show", "imdb:tt0133093", obj=with_moviebuff()
    )
    assert shown.exit_code == 0, shown.output
    parts = {
        line.split()[0]: line.split()[1]
        for line in shown.stdout.split("provider   part")[1].split("\n\n")[0].splitlines()[1:]
    }
    assert parts == {
        "fanart": "ok",
        "moviebuff": "error",
        "omdb": "ok",
        "tmdb": "ok",
        "tvdb": "ok",
    }
    assert "plugin bug in moviebuff.lookup_by_id: result.raw['movie']['budget']" in shown.stdout


def test_a_buggy_extract_ids_is_a_plugin_error_not_a_usage_error(
    sim_env: dict[str, str], tmp_path: Path
) -> None:
    db = str(tmp_path / "c.sqlite")
    lookup = invoke("--db", db, "lookup", "--imdb", "tt0133093", obj=with_moviebuff(BadIds))
    assert lookup.exit_code == 0, lookup.output
    assert "plugin bug in moviebuff.extract_ids: raised InvalidIdError" in lookup.stdout
    direct = invoke(
        "--db",
        db,
        "provider",
        "moviebuff",
        "ids",
        "--imdb",
        "tt0133093",
        obj=with_moviebuff(BadIds),
    )
    assert direct.exit_code == exits.PLUGIN == 7
    assert direct.stderr.strip() == (
        "error: plugin bug in moviebuff.extract_ids: raised InvalidIdError: IMDb id 'tt133093' "
        "is not 'tt' followed by 7 to 10 digits"
    )
    debug = invoke(
        "--db",
        db,
        "--debug",
        "provider",
        "moviebuff",
        "ids",
        "--imdb",
        "tt0133093",
        obj=with_moviebuff(BadIds),
    )
    assert debug.exit_code == 7
    assert "Traceback" in debug.stderr
    assert "InvalidIdError" in debug.stderr and "PluginError" in debug.stderr


def test_a_broken_plugin_makes_metarr_plugins_exit_7_and_shows_why(sim_env: dict[str, str]) -> None:
    class Typo(Moviebuff):
        @metarr.hookimpl
        def field_priority(self) -> dict[str, int]:
            return {"rating": 1}

    result = invoke("plugins", obj=with_moviebuff(Typo))
    assert result.exit_code == exits.PLUGIN
    assert "moviebuff: plugin bug in moviebuff.field_priority: unknown field(s) 'rating'" in (
        result.stdout
    )
    assert invoke("plugins", obj=with_moviebuff()).exit_code == 0


def test_plugins_json_lists_the_declared_options(sim_env: dict[str, str]) -> None:
    rows = json.loads(invoke("plugins", "--json", obj=with_moviebuff()).stdout)
    [row] = [r for r in rows if r["name"] == "moviebuff"]
    assert row["options"] == [
        {
            "name": "api_key",
            "type": "str",
            "secret": True,
            "variable": "METARR_MOVIEBUFF_API_KEY",
            "help": "the key",
        },
        {
            "name": "region",
            "type": "str",
            "secret": False,
            "variable": "METARR_MOVIEBUFF_REGION",
            "help": "where",
        },
        {
            "name": "page_size",
            "type": "int",
            "secret": False,
            "variable": "METARR_MOVIEBUFF_PAGE_SIZE",
            "help": "hits per page",
        },
    ]


# -- priorities ---------------------------------------------------------------------------------


def test_priorities_print_every_rank_the_order_and_who_wins(sim_env: dict[str, str]) -> None:
    result = invoke("priorities", obj=with_moviebuff())
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split() for line in result.stdout.splitlines() if line}
    assert lines["field"] == [
        "field",
        "fanart",
        "moviebuff",
        "omdb",
        "tmdb",
        "tvdb",
        "wins",
        "order",
    ]
    assert lines["ratings"][:8] == ["ratings", "–", "15", "10", "20", "–", "omdb", "omdb"]
    assert " ".join(lines["ratings"][7:]) == "omdb > moviebuff > tmdb"
    assert " ".join(lines["title"][7:]) == (
        "omdb > moviebuff > tmdb > tvdb (moviebuff and tmdb tie at 20: by name)"
    )
    assert lines["ids.tvdb"][6:] == ["tvdb", "tvdb"]


def test_priorities_follow_the_config_and_the_language(
    sim_env: dict[str, str], tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text('language = "de"\n[priority]\nplot = ["moviebuff"]\n', encoding="utf-8")
    data = json.loads(
        invoke("--config", str(config), "priorities", "--json", obj=with_moviebuff()).stdout
    )
    assert data["language"] == "de"
    plot = data["fields"]["plot"]
    assert plot["order"] == ["moviebuff", "tmdb", "omdb", "tvdb"]
    assert plot["winner"] == "moviebuff"
    assert plot["notes"] == [
        "[priority] plot = moviebuff",
        "omdb, tvdb cannot serve de: behind",
    ]
    title = data["fields"]["title"]
    assert title["order"] == ["moviebuff", "tmdb", "omdb", "tvdb"]
    assert title["notes"] == [
        "moviebuff and tmdb tie at 20: by name",
        "omdb, tvdb cannot serve de: behind",
    ]
    assert title["ranks"] == {"moviebuff": 20, "omdb": 10, "tmdb": 20, "tvdb": 30}


# -- new ------------------------------------------------------------------------------------------


def test_plugins_new_writes_a_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("plugins", "new", "moviebuff")
    assert result.exit_code == 0, result.output
    root = tmp_path / "metarr-moviebuff"
    assert result.stdout.splitlines()[0] == "created metarr-moviebuff/ (6 files):"
    assert f"metarr plugins install -e {Path('metarr-moviebuff')}" in result.stdout
    pyproject = (root / "pyproject.toml").read_text(encoding="utf-8")
    assert 'moviebuff = "metarr_moviebuff:MoviebuffProvider"' in pyproject
    assert 'dev = ["metarr[testing]>=' in pyproject
    core = Path(metarr.__file__).resolve().parents[2]
    assert f'metarr = {{ path = "{core}", editable = true }}' in pyproject
    assert (root / "src" / "metarr_moviebuff" / "provider.py").is_file()
    assert (root / "tests" / "test_provider.py").is_file()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["My-Plugin"], "provider name 'My-Plugin' must be lower-case letters"),
        (["1st"], "provider name '1st' must be"),
        (["ok", "--path", "taken"], "taken already exists and is not an empty folder"),
    ],
)
def test_plugins_new_refusals(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    result = invoke("plugins", "new", *args)
    assert result.exit_code == exits.USAGE
    assert message in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


# -- install / uninstall ----------------------------------------------------------------------


@pytest.fixture
def installer(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Record the installer commands; installing adds provider ``moviebuff``."""
    ran: list[list[str]] = []
    installed: set[tuple[str, str, str]] = {("tmdb", "metarr-tmdb", "0.1.0")}

    def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        ran.append(command)
        if "install" in command:
            installed.add(("moviebuff", "metarr-moviebuff", "0.1.0"))
        else:
            installed.discard(("moviebuff", "metarr-moviebuff", "0.1.0"))
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(install.subprocess, "run", run)
    monkeypatch.setattr(install, "providers", lambda: set(installed))
    monkeypatch.setattr(install.shutil, "which", lambda name: "/bin/uv")
    return ran


def test_install_uses_uv_for_this_python(installer: list[list[str]], tmp_path: Path) -> None:
    result = invoke("plugins", "install", "-e", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert installer == [
        ["/bin/uv", "pip", "install", "--python", sys.executable, "-e", str(tmp_path)]
    ]
    assert result.stdout.strip() == (
        "installed metarr-moviebuff 0.1.0: provider moviebuff (metarr plugins shows its state)"
    )
    result = invoke("plugins", "uninstall", "moviebuff")
    assert result.exit_code == 0, result.output
    assert installer[-1] == [
        "/bin/uv",
        "pip",
        "uninstall",
        "--python",
        sys.executable,
        "metarr-moviebuff",
    ]
    assert result.stdout.strip() == "uninstalled metarr-moviebuff"


def test_without_uv_pip_is_used(
    installer: list[list[str]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(install.shutil, "which", lambda name: None)
    assert invoke("plugins", "install", str(tmp_path)).exit_code == 0
    assert installer[-1] == [sys.executable, "-m", "pip", "install", str(tmp_path)]
    assert invoke("plugins", "uninstall", "metarr-moviebuff").exit_code == 0
    assert installer[-1] == [sys.executable, "-m", "pip", "uninstall", "-y", "metarr-moviebuff"]
    monkeypatch.setattr(install.importlib.util, "find_spec", lambda name: None)
    result = invoke("plugins", "install", str(tmp_path))
    assert result.exit_code == exits.FAILURE
    assert "neither uv (https://docs.astral.sh/uv/) nor pip is available to" in result.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["install", "./nowhere"], 2, "./nowhere: no such file or folder"),
        (["install", "-e", "metarr-foo"], 2, "-e installs a folder in editable mode"),
        (
            ["uninstall", "nothing"],
            2,
            "no installed provider or provider package 'nothing'; providers: tmdb",
        ),
        (["uninstall", "metarr"], 2, "metarr is the core, not a plugin"),
    ],
)
def test_install_refusals(
    installer: list[list[str]], args: list[str], code: int, message: str
) -> None:
    result = invoke("plugins", *args)
    assert result.exit_code == code
    assert message in result.stderr
    assert installer == []


def test_a_failing_installer_is_one_line_with_its_last_words(
    monkeypatch: pytest.MonkeyPatch, installer: list[list[str]], tmp_path: Path
) -> None:
    def fail(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(command, 1, "", "Resolving...\nerror: no pyproject")

    monkeypatch.setattr(install.subprocess, "run", fail)
    result = invoke("plugins", "install", str(tmp_path))
    assert result.exit_code == exits.FAILURE
    assert result.stderr.strip() == (
        f"error: could not install {tmp_path} (/bin/uv pip install …): Resolving... / "
        "error: no pyproject"
    )


def test_providers_lists_installed_entry_points() -> None:
    found: set[tuple[str, str, str]] = install.providers()
    assert {(name, dist) for name, dist, _ in found} >= {
        ("tmdb", "metarr-tmdb"),
        ("omdb", "metarr-omdb"),
    }
