"""Bad input through the command line: a clear one-line message and the documented exit code.

Malformed ids, empty/blank/huge/odd titles, broken batch files (reported with line numbers
while the rest of the file is identified) and bad configuration. Never a traceback.
"""

from __future__ import annotations

import os
import sqlite3
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from metarr.cli import main
from metarr.cli.exits import NEEDS_PERSON, OK, STORAGE, USAGE
from metarr_sim import SimServer
from metarr_sim.world import World
from reliability.helpers import PROVIDERS, check_db, cli_env, outcome_lines, run_cli

TRIED: Counter[str] = Counter()
BAD_IDS = [
    "tt",
    "tt12",
    "0",
    "-5",
    "abc",
    "10" + "0" * 29,
    "tt0133093 tt0111161",
    "tt 0133093",
    "603 604",
    "https://evil.example/title/tt0133093",
    "javascript:alert(1)",
    "603; DROP TABLE provider_cache_movies; --",
    "' OR 1=1 --",
    "",
    "   ",
    "tt0000000",
    "tt٠١٣٣٠٩٣",
    "9" * 40,
    "x" * 5000,
]
ODD_BUT_VALID_TITLES = [
    "Ocean's Eleven",
    'The "Quoted" Movie',
    "Robert'); DROP TABLE provider_cache_movies;--",
    "' OR '1'='1",
    "Title\x00With\x07Controls\x1b[31m",
    "\u202eevil\u202c",
    "Amélie",
    "%s %d {0} {title}",
]


@pytest.fixture(scope="module")
def sim(world: World) -> Iterator[SimServer]:
    with SimServer(world) as server:
        yield server


@pytest.fixture
def env(sim: SimServer, tmp_path: Path) -> dict[str, str]:
    return {
        **sim.settings_env(),
        "METARR_DB": str(tmp_path / "cache.sqlite"),
        "METARR_LOAD_PLUGINS": ",".join(PROVIDERS),
    }


def invoke(args: Sequence[str], env: Mapping[str, str], kind: str) -> Result:
    TRIED[kind] += 1
    result = CliRunner().invoke(main, list(args), env=dict(env))
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in result.output
    return result


def assert_one_line_error(result: Result, code: int) -> str:
    assert result.exit_code == code, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.stderr
    assert len(errors[0]) < 600
    return errors[0]


def assert_db_sound(env: Mapping[str, str]) -> None:
    db = Path(env["METARR_DB"])
    check_db(db)
    if db.exists():
        conn = sqlite3.connect(db)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        finally:
            conn.close()
        assert "provider_cache_movies" in tables


# -- ids -------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", BAD_IDS)
@pytest.mark.parametrize("kind", ["tmdb", "imdb", "tvdb"])
def test_malformed_ids_are_usage_errors(env: dict[str, str], kind: str, value: str) -> None:
    result = invoke(["lookup", f"--{kind}", value], env, "id")
    line = assert_one_line_error(result, USAGE)
    assert kind.upper().replace("IMDB", "IMDb") in line or "id" in line
    assert_db_sound(env)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("imdb", "  tt0133093  "),
        ("imdb", "TT0133093"),
        ("imdb", "https://www.imdb.com/title/tt0133093/"),
        ("imdb", "0133093"),
        ("tmdb", " 603 "),
        ("tmdb", "tmdb:603"),
        ("tvdb", "216822"),
    ],
)
def test_ids_with_harmless_decoration_are_accepted(
    env: dict[str, str], kind: str, value: str
) -> None:
    result = invoke(["lookup", f"--{kind}", value, "--json"], env, "id")
    assert result.exit_code == OK, result.output
    assert '"The Matrix"' in result.stdout


def test_refs_and_resolve_with_bad_ids(env: dict[str, str]) -> None:
    for ref in ("603", "tmdb:abc", "imdb:tt12", "nonsense", "tvdb:-1", ""):
        result = invoke(["cache", "show", ref], env, "id")
        assert_one_line_error(result, USAGE)
    result = invoke(["resolve", "some key", "--imdb", "tt1"], env, "id")
    assert_one_line_error(result, USAGE)
    result = invoke(["lookup"], env, "id")
    assert_one_line_error(result, USAGE)


# -- titles ----------------------------------------------------------------------------------


@pytest.mark.parametrize("title", ["", "   ", "\t\n", "!!!", "x" * 600, "y" * 1_000_000])
def test_unusable_titles_are_usage_errors(env: dict[str, str], title: str) -> None:
    result = invoke(["identify", title], env, "title")
    assert_one_line_error(result, USAGE)
    assert len(result.output) < 2_000  # a huge title is not echoed back


@pytest.mark.parametrize("title", ODD_BUT_VALID_TITLES)
def test_odd_titles_are_searched_safely(env: dict[str, str], title: str) -> None:
    result = invoke(["identify", title, "--year", "2001"], env, "title")
    assert result.exit_code in (OK, NEEDS_PERSON), result.output
    assert "\x1b[31m" not in result.output and "\x00" not in result.output
    assert_db_sound(env)


@pytest.mark.parametrize("year", ["abc", "-5", "99999", "0", "19 99"])
def test_bad_years_are_usage_errors(env: dict[str, str], year: str) -> None:
    result = invoke(["identify", "Heat", "--year", year], env, "title")
    assert result.exit_code == USAGE, result.output


# -- batch files -----------------------------------------------------------------------------

BAD_JSONL_LINES: list[bytes] = [
    b"{not json",
    b"[1, 2, 3]",
    b'"just a string"',
    b'{"tmdb_id": "abc"}',
    b'{"imdb_id": "tt12"}',
    b'{"tvdb_id": -5}',
    b'{"title": ""}',
    b'{"title": "' + b"x" * 2000 + b'"}',
    b'{"title": "Heat", "year": "19x5"}',
    b"{}",
    b'{"unknown": 1}',
    b'{"title": "Heat\xff\xfe"}',
    b"\xff\xfe\xfd",
    b'{"tmdb_id": 1e400}',
    b'{"tmdb_id": true}',
    b'{"imdb_id": ["tt0133093"]}',
    b"[" * 100_000,
    b'{"tmdb_id": ' + b"[" * 100_000,
    b'{"title": "Heat", "title": "Casino"}',
    b'{"title": "Heat", "TITLE": "Casino"}',
    b'{"imdb_id": "tt0133093", "IMDB_ID": "tt0113277"}',
]


def test_bad_jsonl_lines_are_reported_and_the_rest_continues(
    env: dict[str, str], tmp_path: Path
) -> None:
    good = [b'{"tmdb_id": 603}', b'{"imdb_id": "tt0113277"}', b'{"title": "Toy Story"}']
    lines = [good[0], *BAD_JSONL_LINES[:8], good[1], *BAD_JSONL_LINES[8:], good[2]]
    path = tmp_path / "lib.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    TRIED["batch line"] += len(BAD_JSONL_LINES)
    result = invoke(["batch", str(path), "--json"], env, "batch file")
    assert result.exit_code == USAGE, result.output
    reported = [line for line in result.stderr.splitlines() if line.startswith("batch: line ")]
    bad_numbers = [i + 1 for i, line in enumerate(lines) if line not in good]
    assert [int(line.split()[2].rstrip(":")) for line in reported] == bad_numbers
    stored = check_db(Path(env["METARR_DB"]))
    assert {m.movie.ids.tmdb for m in stored} >= {603, 949}  # Heat, found by IMDb id
    statuses = [line["status"] for line in outcome_lines(result.stdout_bytes)]
    assert statuses == ["identified"] * 3


def test_bad_csv_lines_are_reported_and_the_rest_continues(
    env: dict[str, str], tmp_path: Path
) -> None:
    lines = [
        b"tmdb_id,title,year",
        b"603,,",
        b"1,2,3,4,5",
        b"abc,,",
        b",,",
        b"\xff\xfe,Heat,1995",
        b",Heat,19x5",
        b'949,"Heat\r\n",1995',  # one record over lines 8 and 9
        b"1,x\rbad,",
        b"862,,",
        b'"unclosed,quote,1999',
        b"12,,",
    ]
    path = tmp_path / "lib.csv"
    path.write_bytes(b"\r\n".join(lines) + b"\r\n")
    TRIED["batch line"] += 7
    result = invoke(["batch", str(path), "--json"], env, "batch file")
    assert result.exit_code == USAGE, result.output
    reported = [line for line in result.stderr.splitlines() if line.startswith("batch: line ")]
    assert [int(line.split()[2].rstrip(":")) for line in reported] == [3, 4, 5, 6, 7, 10, 12]
    assert "lines 12-13 are one record" in reported[-1]
    assert {m.movie.ids.tmdb for m in check_db(Path(env["METARR_DB"]))} == {603, 949, 862}
    [heat] = [line for line in outcome_lines(result.stdout_bytes) if line["line"] == 8]
    assert heat["input"] == {"tmdb_id": 949, "title": "Heat", "year": 1995}


@pytest.mark.parametrize(
    ("name", "content", "extra"),
    [
        ("missing.jsonl", None, []),
        ("lib.txt", b'{"tmdb_id": 603}\n', []),
        ("lib.csv", b"\xff\xfe\n603\n", []),
        ("lib.csv", b"foo,bar\n1,2\n", []),
        ("lib.csv", b"", ["--format", "xml"]),
        ("-", None, []),
        ("dir.jsonl", "dir", []),
        ("lib.csv", b'"tmdb_id\n603\n', []),
    ],
)
def test_unusable_batch_files_are_usage_errors(
    env: dict[str, str], tmp_path: Path, name: str, content: object, extra: list[str]
) -> None:
    path = tmp_path / name
    if content == "dir":
        path.mkdir()
    elif isinstance(content, bytes):
        path.write_bytes(content)
    target = name if name == "-" else str(path)
    result = invoke(["batch", target, *extra], env, "batch file")
    assert result.exit_code == USAGE, result.output
    assert "Error" in result.output or "error: " in result.stderr


@pytest.mark.parametrize(
    ("header", "named"),
    [
        (b"title,title", "'title'"),
        (b"imdb_id,year,IMDB_ID", "'imdb_id'"),
        (b"\xef\xbb\xbfTmdb_Id, tmdb_id ", "'tmdb_id'"),
    ],
)
def test_duplicate_columns_refuse_the_file(
    env: dict[str, str], tmp_path: Path, header: bytes, named: str
) -> None:
    path = tmp_path / "lib.csv"
    path.write_bytes(header + b"\n603,1999,tt0133093\n")
    result = invoke(["batch", str(path)], env, "batch file")
    line = assert_one_line_error(result, USAGE)
    assert str(path) in line and named in line and "twice" in line
    assert not Path(env["METARR_DB"]).exists() or check_db(Path(env["METARR_DB"])) == []


def test_a_key_used_again_for_another_input_is_refused(env: dict[str, str], tmp_path: Path) -> None:
    rows = [
        b'{"key": "movie.mkv", "tmdb_id": 603}',
        b'{"key": "movie.mkv", "tmdb_id": 949}',  # the same handle, another movie: refused
        b'{"key": "movie.mkv", "tmdb_id": 603}',  # the same input again: fine
        b'{"tmdb_id": 862}',
        b'{"title": "Toy Story", "year": 1995}',
        b'{"title": "Toy Story", "year": 1995}',
    ]
    path = tmp_path / "lib.jsonl"
    path.write_bytes(b"\n".join(rows) + b"\n")
    result = invoke(["batch", str(path), "--json", "--concurrency", "1"], env, "batch line")
    assert result.exit_code == USAGE, result.output
    reported = [line for line in result.stderr.splitlines() if line.startswith("batch: line ")]
    assert len(reported) == 1 and reported[0].startswith("batch: line 2: key 'movie.mkv'")
    assert "already used by line 1" in reported[0] and "tmdb_id=603" in reported[0]
    done = {line["line"]: line for line in outcome_lines(result.stdout_bytes)}
    assert sorted(done) == [1, 3, 4, 5, 6]
    assert done[1]["movie"]["ids"]["tmdb"] == done[3]["movie"]["ids"]["tmdb"] == 603
    assert {m.movie.ids.tmdb for m in check_db(Path(env["METARR_DB"]))} == {603, 862}


def test_empty_batch_files_do_nothing(env: dict[str, str], tmp_path: Path) -> None:
    for name, content in (("e.jsonl", b""), ("b.jsonl", b"\n \n\t\n"), ("h.csv", b"tmdb_id\n")):
        path = tmp_path / name
        path.write_bytes(content)
        result = invoke(["batch", str(path)], env, "batch file")
        assert result.exit_code == OK, result.output
        assert "0 rows" in result.output


@pytest.mark.parametrize("concurrency", ["0", "-1", "1000", "many"])
def test_bad_concurrency_is_a_usage_error(
    env: dict[str, str], tmp_path: Path, concurrency: str
) -> None:
    path = tmp_path / "lib.jsonl"
    path.write_text('{"tmdb_id": 603}\n')
    result = invoke(["batch", str(path), "--concurrency", concurrency], env, "option")
    assert result.exit_code == USAGE
    assert "Error: Invalid value" in result.output


# -- configuration ---------------------------------------------------------------------------

BAD_CONFIGS: list[bytes] = [
    b"[providers.nope]\napi_key = 'x'\n",
    b"[providers.tmdb]\ntimeout = 'abc'\n",
    b"[providers.tmdb]\ntimeout = -3\n",
    b"[providers.tmdb]\nenabled = 'maybe'\n",
    b"[providers.fanart]\nclient_key = [1, 2]\n",
    b"[providers.tmdb]\nbase_url = 'ftp://example.test'\n",
    b"[providers.tmdb]\nbase_url = 5\n",
    b"[providers.omdb]\nfetch_short_plot = 'perhaps'\n",
    b"[providers.tmdb]\nimage_size = '../../etc'\n",
    b"providers = 5\n",
    b"[providers]\ntmdb = 'x'\n",
    b"colour = 'blue'\n",
    b"language = 5\n",
    b"tmdb_policy = 'yolo'\n",
    b"[priority]\ntitle = 'tmdb'\n",
    b"[priority]\nnot_a_field = ['tmdb']\n",
    b"[priority]\ntitle = ['nobody']\n",
    b"this is not toml\n",
    b"[providers.tmdb\n",
    b"key = 'unterminated\n",
    b"\xff\xfe[providers.tmdb]\n",
]


@pytest.mark.parametrize("content", BAD_CONFIGS)
def test_bad_configuration_is_a_usage_error(
    env: dict[str, str], tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(content)
    if b"base_url" in content:  # the environment would win over the file
        env = {k: v for k, v in env.items() if k != "METARR_TMDB_BASE_URL"}
    result = invoke(["--config", str(path), "lookup", "--tmdb", "603"], env, "config")
    line = assert_one_line_error(result, USAGE)
    assert len(line) > len("error: ") + 10


@pytest.mark.parametrize(
    ("var", "value"),
    [
        ("METARR_TMDB_TIMEOUT", "abc"),
        ("METARR_TMDB_TIMEOUT", "0"),
        ("METARR_FANART_ENABLED", "maybe"),
        ("METARR_OMDB_BASE_URL", "gopher://x"),
        ("METARR_LANGUAGE", "x"),
        ("METARR_TMDB_POLICY", "never"),
        ("METARR_CONFIG", "/nonexistent/metarr.toml"),
    ],
)
def test_bad_environment_is_a_usage_error(env: dict[str, str], var: str, value: str) -> None:
    result = invoke(["lookup", "--tmdb", "603"], {**env, var: value}, "config")
    line = assert_one_line_error(result, USAGE)
    assert var.removeprefix("METARR_").split("_")[-1].lower() in line.lower() or "config" in line


def test_unreadable_config_is_a_usage_error(env: dict[str, str], tmp_path: Path) -> None:
    folder = tmp_path / "config.toml"
    folder.mkdir()
    result = invoke(["lookup", "--tmdb", "603"], {**env, "METARR_CONFIG": str(folder)}, "config")
    assert_one_line_error(result, USAGE)
    if os.geteuid() != 0:  # root reads anything
        locked = tmp_path / "locked.toml"
        locked.write_text("[providers.tmdb]\n")
        locked.chmod(0)
        result = invoke(["--config", str(locked), "lookup", "--tmdb", "603"], env, "config")
        assert_one_line_error(result, USAGE)


@pytest.mark.parametrize("kind", ["directory", "not sqlite", "foreign sqlite"])
def test_unusable_cache_file_is_a_clear_failure(
    env: dict[str, str], tmp_path: Path, kind: str
) -> None:
    db = tmp_path / "bad.sqlite"
    if kind == "directory":
        db.mkdir()
    elif kind == "not sqlite":
        db.write_bytes(b"this is not a database at all" * 100)
    else:
        conn = sqlite3.connect(db)
        conn.execute("CREATE TABLE customers (id INTEGER)")
        conn.commit()
        conn.close()
    result = invoke(["lookup", "--tmdb", "603"], {**env, "METARR_DB": str(db)}, "cache file")
    line = assert_one_line_error(result, STORAGE)
    assert "cache" in line and str(db) in line


# -- the real process: argv that is not UTF-8 --------------------------------------------------


@pytest.mark.slow
def test_non_utf8_arguments_in_a_real_process(sim: SimServer, tmp_path: Path) -> None:
    env = cli_env({**sim.settings_env(), "METARR_DB": str(tmp_path / "c.sqlite")})
    cases: list[tuple[list[str | bytes], set[int]]] = [
        (["identify", b"Heat \xff\xfe"], {OK, NEEDS_PERSON, USAGE}),
        (["lookup", "--imdb", b"tt0133093\xff"], {USAGE}),
        (["lookup", "--tmdb", b"\xc3\x28"], {USAGE}),
        (["batch", b"/nonexistent/\xff.jsonl"], {USAGE}),
    ]
    for args, codes in cases:
        TRIED["argv"] += 1
        done = run_cli(args, env)  # type: ignore[arg-type]
        assert done.returncode in codes, (args, done.stderr)
        assert b"Traceback" not in done.stdout + done.stderr
        assert done.stderr.count(b"error: ") <= 1


def test_bad_input_counts() -> None:
    """Not a check: prints how many bad inputs were tried, by kind."""
    print(f"bad inputs tried: {sum(TRIED.values())} ({dict(TRIED)})")
