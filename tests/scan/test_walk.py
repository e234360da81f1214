"""The walk: what is a movie item, what is skipped and why, what cannot be read."""

from __future__ import annotations

import importlib
import os
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from metarr.scan import Item, Problem, ScanRootError, Skipped, walk
from scan.libraries import EVERY_LAYOUT, EXPECTED, LAYOUTS, build

walk_module = importlib.import_module("metarr.scan.walk")  # the package exports walk()


def _by_key(root: Path) -> dict[str, Item | Skipped | Problem]:
    found: dict[str, Item | Skipped | Problem] = {}
    for entry in walk(root):
        assert entry.key not in found, f"{entry.key} reported twice"
        found[entry.key] = entry
    return found


def test_every_layout_gives_exactly_the_expected_items_and_skips(tmp_path: Path) -> None:
    found = _by_key(build(tmp_path, EVERY_LAYOUT))
    items = {key for key, entry in found.items() if isinstance(entry, Item)}
    skipped = {key: e.reason for key, e in found.items() if isinstance(e, Skipped)}
    assert items == {key for key, want in EXPECTED.items() if isinstance(want, list)}
    assert skipped == {key: want for key, want in EXPECTED.items() if isinstance(want, str)}
    assert not [e for e in found.values() if isinstance(e, Problem)]
    for key, layout in LAYOUTS.items():
        entry = found[key]
        assert isinstance(entry, Item) and entry.layout == layout, key


def test_hidden_system_and_companion_folders_are_never_entered(tmp_path: Path) -> None:
    found = _by_key(build(tmp_path, EVERY_LAYOUT))
    for prefix in ("@eaDir", "#recycle", ".Trash-1000", "lost+found", ".hidden", "Up (2009)/Subs"):
        assert not [key for key in found if key.startswith(prefix)], prefix


def test_a_movie_folder_lists_its_main_video_and_its_nfos(tmp_path: Path) -> None:
    found = _by_key(build(tmp_path, EVERY_LAYOUT))
    memento = found["Memento (2000)"]
    assert isinstance(memento, Item)
    assert memento.videos == ("Memento (2000).mkv",)  # not the AppleDouble "._" file
    kill_bill = found["Kill Bill (2003)"]
    assert isinstance(kill_bill, Item)
    assert kill_bill.videos == ("Kill Bill (2003) - cd1.avi", "Kill Bill (2003) - cd2.avi")
    assert [nfo.name for nfo in kill_bill.nfos] == ["Kill Bill (2003).nfo"]
    dvd = found["Casablanca (1942)"]
    assert isinstance(dvd, Item) and [n.name for n in dvd.nfos] == ["VIDEO_TS/VIDEO_TS.nfo"]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # Two unrelated videos: each is a loose item keyed by its file.
        (
            {"Pair/Heat (1995).mkv": "", "Pair/Ronin (1998).mkv": ""},
            {"Pair/Heat (1995).mkv", "Pair/Ronin (1998).mkv"},
        ),
        # Parts that do not form one set (two cd1s): not one movie.
        ({"Two/A cd1.avi": "", "Two/B cd1.avi": ""}, {"Two/A cd1.avi", "Two/B cd1.avi"}),
        # part1/part2 and disc1/disc2 are sets.
        ({"P (2000)/P part1.mkv": "", "P (2000)/P part2.mkv": ""}, {"P (2000)"}),
        ({"D (2000)/D disc1.mkv": "", "D (2000)/D disc2.mkv": ""}, {"D (2000)"}),
        # A video beside another movie's folder: the folder holds several movies.
        (
            {"Star Wars/Star Wars (1977).mkv": "", "Star Wars/Empire (1980)/e.mkv": ""},
            {"Star Wars/Star Wars (1977).mkv", "Star Wars/Empire (1980)"},
        ),
        # Collections: folders of movie folders.
        (
            {"Alien Collection/Alien (1979)/a.mkv": "", "Alien Collection/Aliens (1986)/b.mkv": ""},
            {"Alien Collection/Alien (1979)", "Alien Collection/Aliens (1986)"},
        ),
        # A folder with no video is no item; an empty library has none.
        ({"Empty (2000)/movie.nfo": "<movie/>"}, set()),
    ],
)
def test_folder_rules(tmp_path: Path, files: dict[str, str], expected: set[str]) -> None:
    found = _by_key(build(tmp_path, files))
    assert {key for key, e in found.items() if isinstance(e, Item)} == expected


def test_nothing_depends_on_file_sizes(tmp_path: Path) -> None:
    """A big sample stays a sample; a one-byte main file is the movie."""
    build(tmp_path, {"Up (2009)/Up.mkv": "x", "Up (2009)/Up-sample.mkv": "x" * 100_000})
    found = _by_key(tmp_path)
    assert isinstance(found["Up (2009)"], Item)
    assert found["Up (2009)/Up-sample.mkv"] == Skipped(
        key="Up (2009)/Up-sample.mkv", reason="sample"
    )


def _refusing(paths: set[Path]):  # type: ignore[no-untyped-def]
    real = os.scandir

    def scandir(path: object) -> object:
        if Path(os.fsdecode(path)) in paths:  # type: ignore[arg-type]
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)  # type: ignore[call-overload]

    return scandir


def test_an_unreadable_folder_is_a_problem_and_the_walk_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build(tmp_path, {"A (2000)/a.mkv": "", "Locked/B (2001)/b.mkv": "", "Z (2009)/z.mkv": ""})
    build(tmp_path, {"Locked (2002)/c.mkv": ""})
    monkeypatch.setattr(
        walk_module, "_scandir", _refusing({tmp_path / "Locked", tmp_path / "Locked (2002)"})
    )
    found = _by_key(tmp_path)
    assert found["Locked"] == Problem(key="Locked", reason="cannot read folder: Permission denied")
    assert found["Locked (2002)"] == Problem(
        key="Locked (2002)", reason="cannot read folder: Permission denied"
    )
    assert isinstance(found["A (2000)"], Item) and isinstance(found["Z (2009)"], Item)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads folders whatever their mode")
def test_a_folder_without_read_permission_is_a_problem(tmp_path: Path) -> None:
    build(tmp_path, {"A (2000)/a.mkv": "", "Locked/B (2001)/b.mkv": ""})
    (tmp_path / "Locked").chmod(0)
    try:
        found = _by_key(tmp_path)
    finally:
        (tmp_path / "Locked").chmod(0o755)
    assert isinstance(found["Locked"], Problem)
    assert isinstance(found["A (2000)"], Item)


def test_an_unreadable_root_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ScanRootError, match="No such file"):
        list(walk(tmp_path / "nope"))
    (tmp_path / "file").write_text("")
    with pytest.raises(ScanRootError, match="not a folder"):
        list(walk(tmp_path / "file"))
    monkeypatch.setattr(walk_module, "_scandir", _refusing({tmp_path}))
    with pytest.raises(ScanRootError, match="Permission denied"):
        list(walk(tmp_path))


def test_symlink_loops_are_reported_and_the_walk_ends(tmp_path: Path) -> None:
    build(tmp_path, {"Movies/A (2000)/a.mkv": "", "Movies/B (2001)/b.mkv": ""})
    (tmp_path / "Movies" / "loop").symlink_to(tmp_path / "Movies", target_is_directory=True)
    (tmp_path / "Movies" / "Sub").mkdir()
    (tmp_path / "Movies" / "Sub" / "up").symlink_to(tmp_path, target_is_directory=True)
    found = _by_key(tmp_path)
    loop = "symlink loop: this folder contains itself"
    assert found["Movies/loop"] == Problem(key="Movies/loop", reason=loop)
    assert found["Movies/Sub/up"] == Problem(key="Movies/Sub/up", reason=loop)
    assert {k for k, e in found.items() if isinstance(e, Item)} == {
        "Movies/A (2000)",
        "Movies/B (2001)",
    }


def test_a_symlinked_movie_folder_is_an_item(tmp_path: Path) -> None:
    build(tmp_path, {"store/Heat (1995)/heat.mkv": "", "lib/": ""})
    (tmp_path / "lib" / "Heat (1995)").symlink_to(tmp_path / "store" / "Heat (1995)")
    assert set(_by_key(tmp_path / "lib")) == {"Heat (1995)"}


def test_non_utf8_names_survive_as_printable_keys(tmp_path: Path) -> None:
    build(
        tmp_path,
        {
            "Am\udce9lie (2001)/Am\udce9lie.mkv": "",
            "Caf\udce9/x\udcff (1999).mkv": "",
            "Caf\udce9/y (2000).mkv": "",
        },
    )
    found = _by_key(tmp_path)
    assert set(found) == {
        "Am\\xe9lie (2001)",
        "Caf\\xe9/x\\xff (1999).mkv",
        "Caf\\xe9/y (2000).mkv",
    }
    for key, entry in found.items():
        key.encode("utf-8")  # storable: no lone surrogates
        assert key.isprintable()
        assert isinstance(entry, Item) and os.path.exists(entry.path)  # the real path is kept


def test_hostile_names_give_one_line_keys(tmp_path: Path) -> None:
    build(tmp_path, {"Evil\n(2000)\u202e/e.mkv": ""})
    (key,) = _by_key(tmp_path)
    assert key == "Evil\\n(2000)\\u202e"


def _library(root: Path, count: int) -> Path:
    root.mkdir(exist_ok=True)
    for number in range(count):
        folder = root / f"Movie {number} ({1900 + number % 120})"
        folder.mkdir()
        (folder / f"Movie {number}.mkv").touch()
    return root


def _peak(root: Path) -> tuple[int, int]:
    tracemalloc.start()
    try:
        count = sum(1 for _ in walk(root))
        return count, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_walk_streams_with_memory_flat_in_the_library_size(tmp_path: Path) -> None:
    small, small_peak = _peak(_library(tmp_path / "small", 200))
    large, large_peak = _peak(_library(tmp_path / "large", 2_000))
    assert (small, large) == (200, 2_000)
    assert large_peak < small_peak * 2, (small_peak, large_peak)


def test_the_walk_is_lazy(tmp_path: Path) -> None:
    calls: list[str] = []
    real = os.scandir

    def counting(path: object) -> object:
        calls.append(os.fsdecode(path))  # type: ignore[arg-type]
        return real(path)  # type: ignore[call-overload]

    _library(tmp_path, 50)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(walk_module, "_scandir", counting)
        entries: Iterator[object] = walk(tmp_path)
        next(entries)
        assert len(calls) < 5  # one movie found after reading a few folders, not all 50
