"""``metarr scan PATH`` and ``orc.scan(path)`` identify a library end to end against the
simulator: every layout, each item's result checked (no wrong identification), keys that
``queue`` shows and ``resolve`` settles, and a memory that makes rescans free."""

from __future__ import annotations

import importlib
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from metarr import Ids, SyncOrchestrator, sanitize
from metarr.cache import Cache, scans
from metarr.cli import main
from metarr.cli.scan import json_line
from metarr.runner import DEFAULT_CONCURRENCY
from metarr.scan import root_name
from metarr_sim import SimServer, World
from scan.libraries import EVERY_LAYOUT, EXPECTED, build, nfo
from scan.simworld import MONTPENSIER, ROSEMARY, settings

pytestmark = pytest.mark.usefixtures("quick_retries")
walk_module = importlib.import_module("metarr.scan.walk")  # the package exports walk()

# What each movie item of EVERY_LAYOUT is (its TMDB id), or what it must end as.
IDENTIFIED: dict[str, int] = {
    "The Matrix (1999)": 603,
    "Alien (1979) {tmdb-348}": 348,
    "Aliens (1986)": 679,
    "Alien 3 (1992)": 8077,
    "Prometheus tt1446714": 70981,
    "Amelie (2001)": 194,
    "Am\\xe9lie (2001)": 194,
    f"{MONTPENSIER} (2010)": 57695,
    f"{ROSEMARY} (1976)": 117258,
    "Face+Off (1997)": 754,
    "Gone with the Wind (1939)": 770,
    "Casablanca (1942)": 289,
    "Vertigo (1958)": 426,
    "Up (2009)": 14160,
    "Unsorted/The.Matrix.Reloaded.2003.1080p.BluRay.x264-GROUP.mkv": 604,
    "Unsorted/Se7en.1995.REMASTERED.720p.mkv": 807,
    "Memento (2000)": 77,
    "...And Justice for All (1979)": 17443,
    "The Interview (2014)": 228967,
    "Jaws (1975).mp4": 578,
    "Psycho (1960)": 539,
}
CONFLICTS = {
    "Heat (1995)",  # a stale NFO: The Matrix's ids in Heat's folder
    "Confused (2001)",  # an NFO naming two TMDB ids
    "Kill Bill (2003)",  # NFO tmdb 24 is 'Kill Bill: Vol. 1', not the folder's 'Kill Bill'
}
NOT_FOUND = "Zzyzx Qwvbnm Flarp (1990)"


def _library(root: Path, world: World) -> tuple[Path, str]:
    """EVERY_LAYOUT plus a title that two films share and one that none has."""
    first, _ = world.same_title_same_year_pairs()[0]
    twins = f"{first.title} ({first.year})"
    files = {**EVERY_LAYOUT, f"{twins}/{twins}.mkv": "", f"{NOT_FOUND}/x.mkv": ""}
    return build(root, files), twins


def _scan(db: Path, sim: SimServer, *args: str) -> Result:
    return CliRunner().invoke(
        main, ["--db", str(db), "scan", *args], env=sim.settings_env(), catch_exceptions=False
    )


def _lines(result: Result) -> dict[str, dict[str, Any]]:
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    by_key = {line["key"]: line for line in lines}
    assert len(by_key) == len(lines)
    return by_key


def _tmdb(line: dict[str, Any]) -> int | None:
    movie = line.get("movie")
    return movie["ids"].get("tmdb") if movie else None


def test_every_layout_end_to_end_then_a_rescan_sends_nothing(
    sim: SimServer, forms_world: World, tmp_path: Path
) -> None:
    root, twins = _library(tmp_path / "library", forms_world)
    db = tmp_path / "c.db"
    first = _scan(db, sim, str(root), "--json")
    cold = sim.total()
    assert first.exit_code == 3, first.output  # conflicts and the rest need a person
    lines = _lines(first)
    for key, tmdb in IDENTIFIED.items():
        assert lines[key]["status"] == "identified", (key, lines[key]["reasons"])
        assert _tmdb(lines[key]) == tmdb, key
        assert lines[key]["evidence"] and lines[key]["providers"]["tmdb"] == "ok"
    for key in CONFLICTS:
        assert lines[key]["status"] == "conflict" and lines[key]["movie"] is None, key
    assert lines[twins]["status"] == "ambiguous" and len(lines[twins]["candidates"]) >= 2
    assert lines[NOT_FOUND]["status"] == "not_found"
    skipped = {key for key, want in EXPECTED.items() if isinstance(want, str)}
    for key in skipped:
        assert lines[key] == {"key": key, "status": "skipped", "reason": EXPECTED[key]}
    items = len(IDENTIFIED) + len(CONFLICTS) + 2
    assert len(lines) == items + len(skipped)
    # never a wrong identification: every identified item is the film its names say
    for key, line in lines.items():
        if line["status"] == "identified":
            assert key in IDENTIFIED, key
    assert "24 identified" not in first.stderr and first.stderr.startswith("scan  26 items")
    # queue shows the keys; the conflicts say which ids disagree
    queued = json.loads(
        CliRunner().invoke(main, ["--db", str(db), "queue", "--json"]).stdout or "[]"
    )
    assert {q["key"] for q in queued} == {*CONFLICTS, twins, NOT_FOUND}
    # a rescan of the unchanged library: the same results, nothing sent, nothing parsed
    sim.reset_counts()
    again = _scan(db, sim, str(root), "--json")
    assert sim.total() == 0, sim.counts()
    assert again.exit_code == 3
    relines = _lines(again)
    assert relines.keys() == lines.keys()
    for key, line in lines.items():
        assert relines[key]["status"] == line["status"], key
        assert _tmdb(relines[key]) == _tmdb(line), key
        assert relines[key].get("movie") == line.get("movie"), key  # the whole committed movie
        assert relines[key].get("evidence") == line.get("evidence"), key
        assert relines[key].get("change") in (None, "unchanged"), key
    print(f"cold scan: {cold} requests for {items} items ({cold / items:.1f} per item)")


def test_a_persons_choice_for_a_scanned_item_stands(sim: SimServer, tmp_path: Path) -> None:
    root = build(
        tmp_path / "lib",
        {
            "Heat (1995)/Heat.1995.mkv": "",
            "Heat (1995)/Heat.1995.nfo": nfo(tmdb=603, imdb="tt0133093"),
            "Jaws (1975)/Jaws.mkv": "",
        },
    )
    db = tmp_path / "c.db"
    assert _lines(_scan(db, sim, str(root), "--json"))["Heat (1995)"]["status"] == "conflict"
    resolved = CliRunner().invoke(
        main, ["--db", str(db), "resolve", "Heat (1995)", "--tmdb", "949"], env=sim.settings_env()
    )
    assert resolved.exit_code == 0, resolved.output
    sim.reset_counts()
    heat = _lines(_scan(db, sim, str(root), "--json"))["Heat (1995)"]
    assert heat["status"] == "identified" and _tmdb(heat) == 949
    assert "a person chose" in heat["reasons"][0]
    assert sim.total() == 0
    # the NFO changes (still The Matrix's id): the person's choice is not overridden
    (root / "Heat (1995)" / "Heat.1995.nfo").write_text(nfo(tmdb=603), encoding="utf-8")
    heat = _lines(_scan(db, sim, str(root), "--json"))["Heat (1995)"]
    assert heat["change"] == "changed"
    assert heat["status"] == "identified" and _tmdb(heat) == 949
    with SyncOrchestrator(settings(sim, db)) as orc:
        identity = orc.identity("Heat (1995)")
    assert identity is not None and identity.by == "person" and identity.ids.tmdb == 949


def test_changed_renamed_moved_and_missing_items(sim: SimServer, tmp_path: Path) -> None:
    root = build(
        tmp_path / "lib",
        {
            "Heat (1995)/Heat.1995.mkv": "",
            "Heat (1995)/movie.nfo": nfo(tmdb=603),  # stale: a conflict
            "Jaws (1975)/Jaws.mkv": "",
            "Memento (2000)/Memento.mkv": "",
            "Psycho (1960)/Psycho.mkv": "",
            "Up (2009)/Up.mkv": "",
        },
    )
    db = tmp_path / "c.db"
    with SyncOrchestrator(settings(sim, db)) as orc:
        first = {r.key: r for r in orc.scan(root)}
        assert first["Heat (1995)"].status == "conflict"
        assert all(first[k].status == "identified" for k in first if k != "Heat (1995)")
        # the NFO is fixed, Jaws is renamed, Memento moved into a folder, Up deleted
        (root / "Heat (1995)" / "movie.nfo").write_text(nfo(tmdb=949), encoding="utf-8")
        (root / "Jaws (1975)").rename(root / "Jaws (1975) {tmdb-578}")
        (root / "Thrillers").mkdir()
        (root / "Memento (2000)").rename(root / "Thrillers" / "Memento (2000)")
        shutil.rmtree(root / "Up (2009)")
        sim.reset_counts()
        second = {r.key: r for r in orc.scan(root)}
        moved_identity = orc.identity("Thrillers/Memento (2000)")
        up = orc.get(Ids(tmdb=14160))
    heat = second["Heat (1995)"]
    assert heat.entry.change == "changed" and heat.status == "identified"
    assert heat.outcome is not None and heat.outcome.movie is not None
    assert heat.outcome.movie.ids.tmdb == 949
    jaws = second["Jaws (1975) {tmdb-578}"]
    assert jaws.entry.change == "new" and jaws.status == "identified"
    assert second["Jaws (1975)"].status == "missing"
    memento = second["Thrillers/Memento (2000)"]
    assert memento.entry.change == "moved" and memento.entry.moved_from == "Memento (2000)"
    assert memento.status == "identified" and memento.outcome is not None
    assert "Memento (2000)" not in second  # moved: not missing
    assert moved_identity is not None and moved_identity.ids.tmdb == 77
    assert second["Up (2009)"].status == "missing" and second["Up (2009)"].entry.ids
    assert up is not None  # nothing is deleted from the cache
    assert second["Psycho (1960)"].entry.change == "unchanged"
    # only the changed item was asked about: the renamed one was re-read, and its id tag
    # names a movie the cache holds (fresh), so it cost nothing
    asked = {name: sum(c.values()) for name, c in sim.counts().items() if sum(c.values())}
    with SyncOrchestrator(settings(sim, tmp_path / "solo.db")) as orc:
        sim.reset_counts()
        orc.lookup(Ids(tmdb=949))
        solo = {name: sum(c.values()) for name, c in sim.counts().items() if sum(c.values())}
    assert asked == solo


def test_a_moved_item_waiting_for_a_person_keeps_its_queue_entry(
    sim: SimServer, tmp_path: Path
) -> None:
    root = build(
        tmp_path / "lib",
        {"Heat (1995)/Heat.mkv": "", "Heat (1995)/movie.nfo": nfo(tmdb=603)},
    )
    db = tmp_path / "c.db"
    with SyncOrchestrator(settings(sim, db)) as orc:
        assert [r.status for r in orc.scan(root)] == ["conflict"]
        (root / "Crime").mkdir()
        (root / "Heat (1995)").rename(root / "Crime" / "Heat (1995)")
        sim.reset_counts()
        [moved] = list(orc.scan(root))
        queued = {q.key for q in orc.queue()}
    assert moved.key == "Crime/Heat (1995)" and moved.status == "conflict"
    assert sim.total() == 0  # answered from the queue
    assert queued == {"Heat (1995)", "Crime/Heat (1995)"}


def test_the_scan_remembers_ids_with_the_fingerprint(sim: SimServer, tmp_path: Path) -> None:
    root = build(tmp_path / "lib", {"Jaws (1975)/Jaws.mkv": ""})
    db = tmp_path / "c.db"
    with SyncOrchestrator(settings(sim, db)) as orc:
        list(orc.scan(root))
    with Cache(db) as cache:
        record = scans.get(cache.db, root_name(root), "Jaws (1975)")
    assert record is not None and record.identified is not None
    assert record.identified.tmdb == 578 and record.identified_fingerprint == record.fingerprint


def test_a_dry_run_through_the_library_sends_nothing(sim: SimServer, tmp_path: Path) -> None:
    root = build(tmp_path / "lib", {"Jaws (1975)/Jaws.mkv": "", "Up (2009)/sample.mkv": ""})
    with SyncOrchestrator(settings(sim, tmp_path / "c.db")) as orc:
        results = {r.key: r.status for r in orc.scan(root, dry_run=True)}
    assert results == {"Jaws (1975)": "dry_run", "Up (2009)/sample.mkv": "skipped"}
    assert sim.total() == 0


def test_an_item_with_nothing_to_search_for_sends_nothing(sim: SimServer, tmp_path: Path) -> None:
    root = build(tmp_path / "lib", {"!!!/---.mkv": ""})
    with SyncOrchestrator(settings(sim, tmp_path / "c.db")) as orc:
        [result] = list(orc.scan(root))
    assert result.status == "not_found" and sim.total() == 0
    assert result.outcome is not None and "nothing to identify" in result.outcome.reasons[0]


def test_a_path_that_cannot_be_scanned_is_one_line_and_exit_2(
    sim: SimServer, tmp_path: Path
) -> None:
    result = _scan(tmp_path / "c.db", sim, str(tmp_path / "nope"))
    assert result.exit_code == 2
    want = f"error: cannot scan {tmp_path / 'nope'}: No such file or directory"
    assert result.stderr.strip() == want


def test_json_lines_escape_what_json_text_escapes() -> None:
    """The scan's fast line writer escapes every hidden character (`output.json_text`'s set),
    astral ones as surrogate pairs, and the values read back the same."""
    # (apart: two lone surrogates side by side would read back as one character)
    hidden = "x".join(chr(c) for c in range(0x110000) if sanitize.HIDDEN.fullmatch(chr(c)))
    data = {"key": f"A{hidden}é\u2028\r\n\tB", "movie": {"title": hidden[::-1]}, "n": [1, None]}
    line = json_line(data)
    assert json.loads(line) == data
    assert sanitize.HIDDEN.search(line) is None
    assert json.loads(json_line({"odd": "\ud800"})) == {"odd": "\ud800"}  # orjson refuses it


def test_a_dated_file_name_beats_an_undated_folder_name(sim: SimServer, tmp_path: Path) -> None:
    """ "Unsorted/Se7en.1995.720p.mkv" alone in its folder: the folder is the item, and its
    name gives no year, so the file's title and year are asked (not "Unsorted" (1995))."""
    root = build(tmp_path / "lib", {"Unsorted/Se7en.1995.REMASTERED.720p.mkv": ""})
    with SyncOrchestrator(settings(sim, tmp_path / "c.db")) as orc:
        [result] = list(orc.scan(root))
    assert result.key == "Unsorted" and result.status == "identified"
    assert result.outcome is not None and result.outcome.movie is not None
    assert result.outcome.movie.ids.tmdb == 807


def test_unreadable_folders_and_loops_are_problems_and_hide_nothing(
    sim: SimServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = build(tmp_path / "lib", {"Jaws (1975)/Jaws.mkv": "", "Crime/Memento (2000)/m.mkv": ""})
    (root / "Loop").symlink_to(root, target_is_directory=True)
    with SyncOrchestrator(settings(sim, tmp_path / "c.db")) as orc:
        first = {r.key: r.status for r in orc.scan(root)}
        real = walk_module._scandir

        def refusing(path: Any) -> Any:
            if Path(path) == root / "Crime":
                raise PermissionError(13, "Permission denied")
            return real(path)

        monkeypatch.setattr(walk_module, "_scandir", refusing)
        sim.reset_counts()
        second = {r.key: r for r in orc.scan(root)}
    assert first == {
        "Jaws (1975)": "identified",
        "Crime/Memento (2000)": "identified",
        "Loop": "problem",
    }
    assert second["Crime"].status == "problem"
    assert second["Crime"].entry.reason == "cannot read folder: Permission denied"
    assert "Crime/Memento (2000)" not in second  # not read: not reported missing either
    assert second["Jaws (1975)"].status == "identified" and sim.total() == 0


def test_a_blocked_configuration_stops_the_scan_with_exit_2(tmp_path: Path) -> None:
    """No TMDB key: the first item is blocked, nothing more starts, one error line, exit 2."""
    root = build(tmp_path / "lib", {f"Film {n} (2000)/f.mkv": "" for n in range(40)})
    result = CliRunner().invoke(main, ["--db", str(tmp_path / "c.db"), "scan", str(root)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: TMDB, the cross-reference")
    blocked = [line for line in result.stdout.splitlines() if line.startswith("blocked")]
    assert 1 <= len(blocked) <= DEFAULT_CONCURRENCY + 1  # in flight when the first came back
