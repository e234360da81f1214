"""``metarr scan PATH --dry-run``: one line per entry, nothing sent, nothing written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from metarr.cache import Cache, scans
from metarr.cache.database import write_transaction
from metarr.cli import main
from metarr.ids import Ids
from metarr.scan import root_name, scan_library
from scan.libraries import EVERY_LAYOUT, EXPECTED, build


def _run(db: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--db", str(db), "scan", *args], catch_exceptions=False)


def _error_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


@pytest.fixture
def library(tmp_path: Path) -> Path:
    return build(tmp_path / "library", EVERY_LAYOUT)


def test_json_lines_give_every_entry_with_its_evidence(library: Path, tmp_path: Path) -> None:
    db = tmp_path / "cache.sqlite"
    result = _run(db, str(library), "--dry-run", "--json")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    by_key = {line["key"]: line for line in lines}
    assert len(by_key) == len(lines) == len(EXPECTED)
    for key, want in EXPECTED.items():
        line = by_key[key]
        if isinstance(want, str):
            assert line == {"key": key, "status": "skipped", "reason": want}
            continue
        assert line["status"] == "dry_run" and line["change"] == "new"
        assert [(c["kind"], c["value"], c["source"]) for c in line["evidence"]] == want
        assert line["remembered_ids"] is None
    heat = by_key["Heat (1995)"]
    assert heat["query"] == {
        "ids": {"tmdb": 603, "imdb": "tt0133093"},
        "title": "Heat",
        "year": 1995,
        "title_forms": ["Heat"],
    }
    assert by_key["Confused (2001)"]["contradictions"]
    assert "dry run: nothing sent" in result.stderr
    assert not db.exists()  # a dry run creates no cache


def test_readable_output_names_the_evidence_and_what_would_be_asked(
    library: Path, tmp_path: Path
) -> None:
    result = _run(tmp_path / "cache.sqlite", str(library), "--dry-run")
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert '-> would look up tmdb:603 imdb:tt0133093, checking it fits "Heat" (1995)' in text
    assert (
        '-> would search "Princess of Montpensier, The (La princesse de Montpensier)" or '
        '"The Princess of Montpensier" or "La princesse de Montpensier" (2010)'
    ) in text
    assert "contradiction: tmdb 949" in text
    assert "skipped    Breaking Bad/Season 01  (TV season folder)" in text
    assert "Am\\xe9lie (2001)" in text
    assert text.splitlines()[-1].startswith("scan  ")


def test_a_dry_run_uses_what_the_cache_remembers(library: Path, tmp_path: Path) -> None:
    db = tmp_path / "cache.sqlite"
    with Cache(db) as cache:
        list(scan_library(library, cache.db))
        record = scans.get(cache.db, root_name(library), "Jaws (1975).mp4")
        assert record is not None
        with write_transaction(cache.db) as tx:
            scans.record_ids(
                tx,
                root=record.root,
                key=record.key,
                fingerprint=record.fingerprint,
                ids=Ids(tmdb=578),
                now=cache.now(),
            )
        before = cache.db.execute("SELECT * FROM scan_items ORDER BY key").fetchall()
    (library / "Vertigo (1958)" / "BDMV" / "index.bdmv").unlink()
    (library / "Vertigo (1958)" / "BDMV" / "STREAM" / "00000.m2ts").unlink()
    lines = [
        json.loads(x) for x in _run(db, str(library), "--dry-run", "--json").stdout.splitlines()
    ]
    by_key = {line["key"]: line for line in lines}
    assert by_key["Jaws (1975).mp4"]["remembered_ids"] == {"tmdb": 578}
    assert {line.get("change") for line in lines if line["status"] == "dry_run"} == {"unchanged"}
    with Cache(db) as cache:
        assert cache.db.execute("SELECT * FROM scan_items ORDER BY key").fetchall() == before


@pytest.mark.parametrize("args", [["--concurrency", "0"], ["--concurrency", "x"]])
def test_bad_options_are_usage_errors(library: Path, tmp_path: Path, args: list[str]) -> None:
    result = _run(tmp_path / "cache.sqlite", str(library), "--dry-run", *args)
    assert result.exit_code == 2


def test_a_path_that_cannot_be_scanned_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = _run(tmp_path / "cache.sqlite", str(tmp_path / "nope"), "--dry-run")
    assert result.exit_code == 2
    assert (
        _error_line(result) == f"error: cannot scan {tmp_path / 'nope'}: No such file or directory"
    )


@pytest.mark.slow
def test_a_closed_pipe_stops_the_scan_quietly(library: Path, tmp_path: Path) -> None:
    for number in range(300):
        (library / f"Filler {number} (2000)").mkdir()
        (library / f"Filler {number} (2000)" / "f.mkv").touch()
    command = (
        f"{sys.executable} -m metarr --db {tmp_path / 'c.sqlite'} scan '{library}' --dry-run --json"
        ' | head -1; echo "status=${PIPESTATUS[0]}" >&2'
    )
    done = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=60, env=dict(os.environ)
    )
    assert len(done.stdout.splitlines()) == 1
    assert "status=141" in done.stderr, done.stderr  # as batch: the output was closed
    assert "Traceback" not in done.stderr and "Exception" not in done.stderr, done.stderr
