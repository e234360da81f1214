"""Scanning a library with the cache: the evidence per item, and what a rescan remembers."""

from __future__ import annotations

import gc
import importlib
import os
import shutil
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import metarr.scan.evidence as evidence_module
import metarr.scan.library as library_module
import metarr.scan.names as names_module
import metarr.scan.nfo as nfo_module
import pytest
from hypothesis import given
from hypothesis import strategies as st
from metarr.cache import Cache, scans
from metarr.cache.database import write_transaction
from metarr.ids import Ids
from metarr.scan import Clue, Evidence, Item, ScanEntry, root_name, scan_library
from metarr.scan.evidence import CLUE_KINDS, SOURCES
from metarr_sim import World
from scan.libraries import EVERY_LAYOUT, EXPECTED, build, nfo


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[Cache]:
    with Cache(tmp_path / "cache.sqlite") as opened:
        yield opened


@pytest.fixture
def library(tmp_path: Path) -> Path:
    return build(tmp_path / "library", EVERY_LAYOUT)


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts every NFO read and every name parsed."""
    counts: Counter[str] = Counter()

    def counting(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any) -> Any:
            counts[name] += 1
            return real(*args)

        return wrapper

    monkeypatch.setattr(nfo_module, "read", counting("nfo", nfo_module.read))
    monkeypatch.setattr(names_module, "title_year", counting("name", names_module.title_year))
    return counts


def _scan(root: Path, cache: Cache | None, **options: Any) -> dict[str, ScanEntry]:
    found: dict[str, ScanEntry] = {}
    for entry in scan_library(root, cache.db if cache else None, **options):
        assert entry.key not in found
        found[entry.key] = entry
    return found


def _clues(entry: ScanEntry) -> list[tuple[str, object, str]]:
    assert entry.evidence is not None
    return [(clue.kind, clue.value, clue.source) for clue in entry.evidence.clues]


def test_every_item_gives_its_expected_evidence(library: Path, cache: Cache) -> None:
    found = _scan(library, cache)
    got: dict[str, object] = {
        key: _clues(e) if e.status == "item" else e.reason for key, e in found.items()
    }
    assert got == EXPECTED
    assert {e.change for e in found.values() if e.status == "item"} == {"new"}


def test_queries_keep_ids_and_names_together_for_the_engine(library: Path) -> None:
    found = _scan(library, None)
    stale = found["Heat (1995)"].query()
    # The NFO's ids (The Matrix) go with the folder's name (Heat): the engine sees they differ.
    assert stale is not None
    assert (stale.ids, stale.title, stale.year) == (Ids(tmdb=603, imdb="tt0133093"), "Heat", 1995)
    assert stale.key == "Heat (1995)"
    confused = found["Confused (2001)"]
    assert confused.evidence is not None
    assert confused.evidence.contradictions() == (
        'tmdb 949 (nfo movie.nfo: uniqueid type="tmdb") vs 603 (nfo movie.nfo: <tmdbid>)',
    )
    princess = found["Princess of Montpensier, The (La princesse de Montpensier) (2010)"]
    assert princess.evidence is not None
    assert princess.evidence.title_forms()[1:] == (
        "The Princess of Montpensier",
        "La princesse de Montpensier",
    )
    release = found["Unsorted/The.Matrix.Reloaded.2003.1080p.BluRay.x264-GROUP.mkv"].query()
    assert release is not None and (release.title, release.year) == ("The Matrix Reloaded", 2003)
    tagged = found["Prometheus tt1446714"].query()
    assert tagged is not None and tagged.ids == Ids(imdb="tt1446714")
    # Every item makes a query; nothing else does.
    assert all((e.query() is not None) == (e.status == "item") for e in found.values())


def test_a_rescan_of_an_unchanged_library_parses_nothing(
    library: Path, cache: Cache, reads: Counter[str]
) -> None:
    first = _scan(library, cache)
    assert reads["nfo"] > 0 and reads["name"] > 0
    reads.clear()
    second = _scan(library, cache)
    assert reads == Counter()
    assert {e.change for e in second.values() if e.status == "item"} == {"unchanged"}
    assert {k: e.evidence for k, e in second.items()} == {k: e.evidence for k, e in first.items()}
    assert not any(e.parsed for e in second.values())


def test_a_changed_nfo_is_read_again(library: Path, cache: Cache, reads: Counter[str]) -> None:
    _scan(library, cache)
    (library / "Heat (1995)" / "Heat.1995.nfo").write_text(nfo(tmdb=949, imdb="tt0113277"))
    reads.clear()
    found = _scan(library, cache)
    heat = found["Heat (1995)"]
    assert (heat.change, heat.parsed) == ("changed", True)
    assert heat.evidence is not None and heat.evidence.ids() == Ids(tmdb=949, imdb="tt0113277")
    assert reads["nfo"] == 1
    assert [e.key for e in found.values() if e.change != "unchanged" and e.status == "item"] == [
        "Heat (1995)"
    ]


def test_a_touched_nfo_is_read_again(library: Path, cache: Cache) -> None:
    _scan(library, cache)
    path = library / "The Matrix (1999)" / "movie.nfo"
    info = path.stat()
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns + 1_000_000))
    assert _scan(library, cache)["The Matrix (1999)"].change == "changed"


def test_a_renamed_folder_is_a_new_item_and_the_old_key_is_missing(
    library: Path, cache: Cache
) -> None:
    _scan(library, cache)
    (library / "Up (2009)").rename(library / "Up (2009) {tmdb-14160}")
    found = _scan(library, cache)
    renamed = found["Up (2009) {tmdb-14160}"]
    assert (renamed.change, renamed.parsed) == ("new", True)
    assert renamed.evidence is not None and renamed.evidence.ids() == Ids(tmdb=14160)
    assert found["Up (2009)"].status == "missing"


def _identify(cache: Cache, root: Path, key: str, ids: Ids) -> None:
    """What phase 2 does with a scan entry it identified."""
    record = scans.get(cache.db, root_name(root), key)
    assert record is not None
    entry = _scan(root, cache, remember=False)[key]
    assert entry.fingerprint == record.fingerprint
    with write_transaction(cache.db) as db:
        assert scans.record_ids(
            db,
            root=root_name(root),
            key=key,
            fingerprint=entry.fingerprint,
            ids=ids,
            now=cache.now(),
        )


def test_a_moved_folder_keeps_its_evidence_and_identity(
    library: Path, cache: Cache, reads: Counter[str]
) -> None:
    _scan(library, cache)
    _identify(cache, library, "The Matrix (1999)", Ids(tmdb=603))
    (library / "Sci-Fi").mkdir()
    shutil.move(library / "The Matrix (1999)", library / "Sci-Fi" / "The Matrix (1999)")
    reads.clear()
    found = _scan(library, cache)
    moved = found["Sci-Fi/The Matrix (1999)"]
    assert (moved.change, moved.moved_from, moved.parsed) == ("moved", "The Matrix (1999)", False)
    assert moved.ids == Ids(tmdb=603)
    assert "The Matrix (1999)" not in found  # moved, not missing
    assert reads == Counter()
    again = _scan(library, cache)["Sci-Fi/The Matrix (1999)"]
    assert (again.change, again.ids) == ("unchanged", Ids(tmdb=603))


def test_a_copied_folder_is_read_as_a_new_item(library: Path, cache: Cache) -> None:
    _scan(library, cache)
    _identify(cache, library, "Up (2009)", Ids(tmdb=14160))
    shutil.copytree(
        library / "Up (2009)", library / "Backup" / "Up (2009)", copy_function=shutil.copy2
    )
    found = _scan(library, cache)
    copy = found["Backup/Up (2009)"]
    assert (copy.change, copy.parsed, copy.ids) == ("new", True, None)
    assert found["Up (2009)"].ids == Ids(tmdb=14160)


def test_items_gone_from_disk_are_missing_and_nothing_is_deleted(
    library: Path, cache: Cache
) -> None:
    _scan(library, cache)
    _identify(cache, library, "Jaws (1975).mp4", Ids(tmdb=578))
    rows = cache.db["scan_items"].count
    shutil.rmtree(library / "Vertigo (1958)")
    (library / "Jaws (1975).mp4").unlink()
    for _ in range(2):
        found = _scan(library, cache)
        missing = {k: e for k, e in found.items() if e.status == "missing"}
        assert set(missing) == {"Vertigo (1958)", "Jaws (1975).mp4"}
        assert missing["Jaws (1975).mp4"].ids == Ids(tmdb=578)
        assert cache.db["scan_items"].count == rows


def test_items_in_an_unreadable_folder_are_not_called_missing(
    library: Path, cache: Cache, monkeypatch: pytest.MonkeyPatch
) -> None:
    _scan(library, cache)
    walk_module = importlib.import_module("metarr.scan.walk")
    real = os.scandir
    locked = library / "Unsorted"

    def scandir(path: Any) -> Any:
        if Path(os.fsdecode(path)) == locked:
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(walk_module, "_scandir", scandir)
    found = _scan(library, cache)
    assert found["Unsorted"].status == "problem"
    assert not [k for k, e in found.items() if e.status == "missing"]


def test_changed_evidence_makes_recorded_ids_stale_without_erasing_them(
    library: Path, cache: Cache
) -> None:
    _scan(library, cache)
    _identify(cache, library, "Heat (1995)", Ids(tmdb=949))
    assert _scan(library, cache)["Heat (1995)"].ids == Ids(tmdb=949)
    (library / "Heat (1995)" / "Heat.1995.nfo").write_text(nfo(tmdb=949, imdb="tt0113277"))
    assert _scan(library, cache)["Heat (1995)"].ids is None
    record = scans.get(cache.db, root_name(library), "Heat (1995)")
    assert record is not None and record.ids == Ids(tmdb=949) and record.identified is None
    with write_transaction(cache.db) as db:  # ids for the old fingerprint are refused
        assert not scans.record_ids(
            db,
            root=record.root,
            key=record.key,
            fingerprint="old",
            ids=Ids(tmdb=1),
            now=cache.now(),
        )


def test_a_dry_run_reads_the_cache_and_writes_nothing(
    library: Path, cache: Cache, reads: Counter[str]
) -> None:
    found = _scan(library, cache, remember=False)
    assert cache.db["scan_items"].count == 0
    assert {e.change for e in found.values() if e.status == "item"} == {"new"}
    _scan(library, cache)
    shutil.rmtree(library / "Vertigo (1958)")
    (library / "Sci-Fi").mkdir()
    shutil.move(library / "The Matrix (1999)", library / "Sci-Fi" / "The Matrix (1999)")
    before = cache.db.execute("SELECT key, last_seen FROM scan_items ORDER BY key").fetchall()
    reads.clear()
    found = _scan(library, cache, remember=False)
    assert reads == Counter()
    assert found["Vertigo (1958)"].status == "missing"
    assert found["Sci-Fi/The Matrix (1999)"].change == "moved"
    assert "The Matrix (1999)" not in found
    assert (
        cache.db.execute("SELECT key, last_seen FROM scan_items ORDER BY key").fetchall() == before
    )


def test_a_scan_stopped_halfway_keeps_what_it_read(library: Path, cache: Cache) -> None:
    entries = scan_library(library, cache.db)
    first = [next(entries) for _ in range(5)]
    entries.close()  # the consumer went away (Ctrl-C, a closed pipe)
    remembered = {row["key"] for row in cache.db.query("SELECT key FROM scan_items")}
    assert {e.key for e in first if e.status == "item"} <= remembered
    assert _scan(library, cache)  # and the next scan runs


def test_two_scans_of_one_library_at_once(library: Path, tmp_path: Path) -> None:
    with Cache(tmp_path / "cache.sqlite") as one, Cache(tmp_path / "cache.sqlite") as two:
        first = scan_library(library, one.db)
        head = [next(first) for _ in range(3)]
        second = list(scan_library(library, two.db))
        rest = list(first)
        assert len(head) + len(rest) == len(second)
        items = [e for e in second if e.status == "item"]
        assert one.db["scan_items"].count == len(items)


def test_library_roots_are_kept_apart(tmp_path: Path, cache: Cache) -> None:
    build(tmp_path / "a", {"Heat (1995)/h.mkv": ""})
    build(tmp_path / "b", {"Heat (1995)/h.mkv": "", "Ronin (1998)/r.mkv": ""})
    _scan(tmp_path / "a", cache)
    found = _scan(tmp_path / "b", cache)
    assert {e.change for e in found.values()} == {"new"}
    assert not [e for e in _scan(tmp_path / "a", cache).values() if e.status == "missing"]


_clue = st.builds(
    Clue,
    kind=st.sampled_from(CLUE_KINDS),
    value=st.one_of(st.integers(1, 10**6), st.text(max_size=20)),
    source=st.sampled_from(SOURCES),
    detail=st.text(max_size=20),
)


@given(st.lists(_clue, max_size=6), st.lists(st.text(max_size=10), max_size=2))
def test_evidence_round_trips_through_json(clues: list[Clue], notes: list[str]) -> None:
    evidence = Evidence(clues=tuple(clues), notes=tuple(notes))
    assert Evidence.from_json(evidence.to_json()) == evidence


def _movielens_library(root: Path, count: int) -> dict[str, Any]:
    """Radarr-named folders for real MovieLens films, every fourth with a Kodi NFO, every
    fifth as a release-named loose file; returns what each key must give."""
    expected: dict[str, Any] = {}
    for number, movie in enumerate(World.load().movies[:count]):
        if movie.year is None:
            continue
        title = movie.ml_title[: movie.ml_title.rindex("(")].strip()
        safe = title.replace("/", "+").replace(":", " -").replace("?", "!").replace("*", "-")
        if number % 5 == 4:
            dotted = ".".join(safe.replace(",", "").split())
            name = f"{dotted}.{movie.year}.1080p.BluRay.x264-GRP.mkv"
            build(root, {f"Loose/{name}": "", "Loose/Other (2000).mkv": ""})
            expected[f"Loose/{name}"] = (None, movie.year)
            continue
        folder = f"{safe} ({movie.year})"
        files = {f"{folder}/{safe} ({movie.year}).mkv": ""}
        if number % 4 == 0:
            files[f"{folder}/movie.nfo"] = nfo(tmdb=movie.tmdb_id, imdb=movie.imdb_id)
        build(root, files)
        expected[folder] = (
            safe,
            movie.year,
            Ids(tmdb=movie.tmdb_id, imdb=movie.imdb_id) if number % 4 == 0 else Ids(),
        )
    return expected


def test_a_realistic_library_from_movielens(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _movielens_library(tmp_path / "movies", 600)
    cpu: list[float] = []
    real: Callable[[Item], Evidence] = evidence_module.gather

    def timed(item: Item) -> Evidence:
        start = time.process_time()
        try:
            return real(item)
        finally:
            cpu.append(time.process_time() - start)

    monkeypatch.setattr(evidence_module, "gather", timed)
    found = _scan(tmp_path / "movies", None)
    for key, want in expected.items():
        query = found[key].query()
        assert query is not None, key
        if want[0] is None:  # a release name: guessit's reading, the year must be right
            assert query.year == want[1], key
        else:
            assert (query.title, query.year, query.ids) == want, key
    cpu.sort()
    assert cpu[len(cpu) // 2] < 0.002  # parsing ≤ 2 ms CPU per item (median)


PER_ITEM_BYTES = 80
"""Growth of a rescan's peak memory per item that still counts as flat (measured: 27–34 bytes;
a scan holding each item's key alone: ~100)."""


def _scan_peak(root: Path, cache: Cache) -> int:
    list(scan_library(root, cache.db))  # remember everything first: then measure a rescan
    gc.collect()
    tracemalloc.start()
    try:
        for number, _ in enumerate(scan_library(root, cache.db)):
            if number % 50 == 0:
                gc.collect()  # the peak is then what is alive, not garbage awaiting collection
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_scan_memory_is_flat_in_the_library_size(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(library_module, "WRITE_BATCH", 16)  # both libraries fill many batches
    small_root = tmp_path / "small"
    large_root = tmp_path / "large"
    for root, count in ((small_root, 60), (large_root, 1_200)):
        build(root, {f"Movie {n} ({1900 + n % 120})/m.mkv": "" for n in range(count)})
        build(
            root,
            {
                f"Movie {n} ({1900 + n % 120})/movie.nfo": nfo(tmdb=n + 1)
                for n in range(0, count, 3)
            },
        )
    with Cache(tmp_path / "a.sqlite") as small, Cache(tmp_path / "b.sqlite") as large:
        small_peak = _scan_peak(small_root, small)
        large_peak = _scan_peak(large_root, large)
    # Per added item, the rescan's peak may grow by a few bytes (bounded caches — names,
    # timestamps, SQLite statements — fill further with more distinct items); anything held per
    # item (an entry, a key, a path) is hundreds of bytes. A ratio of the peaks is no measure:
    # the small library's peak is ~36 KB, and how much of it the earlier tests in the same
    # process already paid for decides it.
    per_item = (large_peak - small_peak) / (1_200 - 60)
    assert per_item < PER_ITEM_BYTES, (small_peak, large_peak, per_item)
