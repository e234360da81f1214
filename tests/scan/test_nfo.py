"""NFO files: Kodi's schema and its older forms, URL-only files, and hostile or broken input."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from metarr.scan import nfo
from metarr.scan.nfo import NfoFinding


def _ids(data: bytes | str) -> list[tuple[str, object, str]]:
    raw = data.encode() if isinstance(data, str) else data
    return [
        (f.kind, f.value, f.where)
        for f in nfo.parse(raw).findings
        if f.kind in ("tmdb", "imdb", "tvdb")
    ]


def test_kodi_uniqueids_title_and_year() -> None:
    reading = nfo.parse(
        b"""<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>
        <movie>
            <title>The Matrix</title>
            <originaltitle>The Matrix</originaltitle>
            <year>1999</year>
            <uniqueid type="imdb">tt0133093</uniqueid>
            <uniqueid type="tmdb" default="true">603</uniqueid>
            <uniqueid type="tvdb">169</uniqueid>
            <actor><name>Keanu Reeves</name></actor>
        </movie>"""
    )
    assert reading.findings == (
        NfoFinding(kind="title", value="The Matrix", where="<title>"),
        NfoFinding(kind="original_title", value="The Matrix", where="<originaltitle>"),
        NfoFinding(kind="year", value=1999, where="<year>"),
        NfoFinding(kind="imdb", value="tt0133093", where='uniqueid type="imdb"'),
        NfoFinding(kind="tmdb", value=603, where='uniqueid type="tmdb"'),
        NfoFinding(kind="tvdb", value=169, where='uniqueid type="tvdb"'),
    )
    assert reading.notes == ()


@pytest.mark.parametrize(
    ("xml", "ids"),
    [
        ("<movie><id>tt0133093</id></movie>", [("imdb", "tt0133093", "<id>")]),
        ("<movie><id>603</id></movie>", [("tmdb", 603, "<id>")]),
        ("<movie><imdbid>tt0133093</imdbid></movie>", [("imdb", "tt0133093", "<imdbid>")]),
        ("<movie><tmdbid>603</tmdbid></movie>", [("tmdb", 603, "<tmdbid>")]),
        (
            "<movie><imdb>tt0133093</imdb><tmdb>603</tmdb></movie>",
            [("imdb", "tt0133093", "<imdb>"), ("tmdb", 603, "<tmdb>")],
        ),
        (
            '<movie><uniqueid type="themoviedb">603</uniqueid></movie>',
            [("tmdb", 603, 'uniqueid type="themoviedb"')],
        ),
        # Invalid values are dropped, not guessed.
        ('<movie><uniqueid type="tmdb">abc</uniqueid><imdbid>tt12</imdbid></movie>', []),
        ('<movie><uniqueid type="anidb">603</uniqueid></movie>', []),
    ],
)
def test_older_and_other_id_elements(xml: str, ids: list[tuple[str, object, str]]) -> None:
    assert _ids(xml) == ids


@pytest.mark.parametrize(
    ("text", "ids"),
    [
        ("https://www.imdb.com/title/tt0133093/\n", [("imdb", "tt0133093", "url")]),
        ("http://imdb.com/title/tt0133093", [("imdb", "tt0133093", "url")]),
        ("https://m.imdb.com/fr/title/tt0133093/?ref_=x", [("imdb", "tt0133093", "url")]),
        ("https://www.themoviedb.org/movie/603-the-matrix", [("tmdb", 603, "url")]),
        ("https://thetvdb.com/dereferrer/movie/169", [("tvdb", 169, "url")]),
        ("https://www.thetvdb.com/?tab=movie&id=169", [("tvdb", 169, "url")]),
        ("https://thetvdb.com/movies/the-matrix", []),
    ],
)
def test_an_nfo_holding_only_a_url(text: str, ids: list[tuple[str, object, str]]) -> None:
    assert _ids(text) == ids


def test_xml_followed_by_a_url_gives_both() -> None:
    data = (
        '<movie><title>Heat</title><uniqueid type="tmdb">949</uniqueid></movie>\n'
        "https://www.imdb.com/title/tt0113277/\n"
    )
    assert _ids(data) == [("tmdb", 949, 'uniqueid type="tmdb"'), ("imdb", "tt0113277", "url")]


def test_contradicting_ids_are_all_kept() -> None:
    data = (
        '<movie><uniqueid type="tmdb">949</uniqueid><tmdbid>603</tmdbid>'
        '<uniqueid type="imdb">tt0133093</uniqueid></movie>'
    )
    assert [(k, v) for k, v, _ in _ids(data)] == [
        ("tmdb", 949),
        ("tmdb", 603),
        ("imdb", "tt0133093"),
    ]


def test_broken_xml_is_searched_for_ids() -> None:
    reading = nfo.parse(b'<movie><title>Psycho<uniqueid type="tmdb">539</uniqueid> tt0054215 <//')
    assert [(f.kind, f.value) for f in reading.findings] == [("tmdb", 539), ("imdb", "tt0054215")]
    assert reading.notes and reading.notes[0].startswith("not well-formed XML")


def test_entity_expansion_is_refused_without_expanding() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        + "".join(
            f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">'
            for i in range(1, 10)
        )
        + ']><movie><title>&lol9;</title><uniqueid type="tmdb">603</uniqueid></movie>'
    )
    start = time.process_time()
    reading = nfo.parse(bomb.encode())
    assert time.process_time() - start < 0.5
    assert ("tmdb", 603) in [(f.kind, f.value) for f in reading.findings]
    assert not any(f.kind == "title" for f in reading.findings)  # nothing expanded
    assert "not well-formed XML" in reading.notes[0]


def test_external_entities_are_never_fetched(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("tt7777777")
    data = (
        f'<?xml version="1.0"?><!DOCTYPE m [<!ENTITY x SYSTEM "file://{secret}">]>'
        "<movie><title>&x;</title></movie>"
    )
    reading = nfo.parse(data.encode())
    assert "tt7777777" not in repr(reading)


def test_an_oversized_nfo_is_only_searched_at_its_start(tmp_path: Path) -> None:
    data = (
        b'<movie><uniqueid type="tmdb">603</uniqueid>' + b" " * nfo.MAX_BYTES + b"tt0133093</movie>"
    )
    path = tmp_path / "movie.nfo"
    path.write_bytes(data)
    reading = nfo.read(path)
    assert [(f.kind, f.value) for f in reading.findings] == [("tmdb", 603)]
    assert "larger than" in reading.notes[0]


def test_an_nfo_for_a_tv_show_gives_no_ids() -> None:
    reading = nfo.parse(b'<tvshow><uniqueid type="tvdb">81189</uniqueid></tvshow>')
    assert reading.findings == ()
    assert reading.notes == ("describes a <tvshow>, not a movie: ignored",)


def test_declared_encodings_are_honoured() -> None:
    data = '<?xml version="1.0" encoding="ISO-8859-1"?><movie><title>Amélie</title></movie>'
    reading = nfo.parse(data.encode("latin-1"))
    assert reading.findings == (NfoFinding(kind="title", value="Amélie", where="<title>"),)


def test_hostile_titles_are_cleaned() -> None:
    reading = nfo.parse("<movie><title>Fake\u202e Movie&#10;line 2</title></movie>".encode())
    assert reading.findings[0].value == "Fake Movie line 2"


def test_an_unreadable_nfo_is_a_note(tmp_path: Path) -> None:
    reading = nfo.read(tmp_path / "missing.nfo")
    assert reading.findings == () and reading.notes[0].startswith("cannot read")


def test_empty_and_binary_files() -> None:
    assert nfo.parse(b"").findings == ()
    assert nfo.parse(bytes(range(256)) * 10).findings == ()
