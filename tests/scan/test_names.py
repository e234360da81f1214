"""Reading folder and file names: id tags, title and year, and what is not a movie."""

from __future__ import annotations

import time

import pytest
from metarr.scan import names
from metarr.scan.names import TitleYear
from metarr_sim import World


@pytest.mark.parametrize(
    ("name", "ids"),
    [
        ("The Matrix (1999) {tmdb-603}", [("tmdb", 603)]),
        ("The Matrix (1999) {imdb-tt0133093}", [("imdb", "tt0133093")]),
        ("The Matrix (1999) {tvdb-169}", [("tvdb", 169)]),
        ("The Matrix (1999) [tmdbid-603]", [("tmdb", 603)]),
        ("The Matrix (1999) [imdbid-tt0133093]", [("imdb", "tt0133093")]),
        ("The Matrix (1999) [tvdbid-169]", [("tvdb", 169)]),
        ("The Matrix (1999) [tmdbid=603]", [("tmdb", 603)]),
        ("The Matrix (1999) [IMDBID=tt0133093]", [("imdb", "tt0133093")]),
        ("The.Matrix.1999.tt0133093.1080p", [("imdb", "tt0133093")]),
        ("Heat {tmdb-949} {imdb-tt0113277}", [("tmdb", 949), ("imdb", "tt0113277")]),
        # Not ids: too short, inside a word, zero, non-numeric TMDB.
        ("Movie tt123", []),
        ("Mutt0133093ant", []),
        ("X {tmdb-0}", []),
        ("X [tmdbid-abc]", []),
        ("Fight Club (1999) {edition-Director's Cut}", []),
    ],
)
def test_id_tags(name: str, ids: list[tuple[str, object]]) -> None:
    assert names.id_tags(name) == ids


@pytest.mark.parametrize(
    ("name", "title", "year", "via"),
    [
        ("The Matrix (1999)", "The Matrix", 1999, "library"),
        ("The Matrix (1999) Bluray-1080p Proper", "The Matrix", 1999, "library"),
        ("The Matrix (1999) {imdb-tt0133093} {edition-Remastered}", "The Matrix", 1999, "library"),
        ("Heat (1995) [tmdbid-949]", "Heat", 1995, "library"),
        ("Matrix, The (1999)", "Matrix, The", 1999, "library"),
        ("1984 (1984)", "1984", 1984, "library"),
        ("Blade Runner 2049 (2017)", "Blade Runner 2049", 2017, "library"),
        ("Mission - Impossible (1996)", "Mission - Impossible", 1996, "library"),
        ("Face+Off (1997)", "Face+Off", 1997, "library"),
        ("Movie [2004]", "Movie", 2004, "library"),
        ("Death Note: Desu nôto (2006–2007)", "Death Note: Desu nôto", 2006, "library"),
        (
            "Princess of Montpensier, The (La princesse de Montpensier) (2010)",
            "Princess of Montpensier, The (La princesse de Montpensier)",
            2010,
            "library",
        ),
        ("The.Matrix.1999.1080p.BluRay.x264-GROUP", "The Matrix", 1999, "release"),
        ("Se7en.1995.REMASTERED.720p", "Se7en", 1995, "release"),
        ("Alien 1979 1080p BluRay", "Alien", 1979, "release"),
        ("Heat 1995", "Heat", 1995, "plain"),
        ("Blade Runner 2049", "Blade Runner 2049", None, "plain"),
        ("2001 - A Space Odyssey", "2001 - A Space Odyssey", None, "plain"),
        ("Heat", "Heat", None, "plain"),
        ("Am\udce9lie (2001)", "Amélie", 2001, "library"),
    ],
)
def test_title_year(name: str, title: str, year: int | None, via: str) -> None:
    assert names.title_year(name) == TitleYear(title=title, year=year, via=via)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["tt0133093", "{tmdb-603}", "---", ""])
def test_names_without_a_title(name: str) -> None:
    assert names.title_year(name) is None


def test_hostile_characters_never_reach_a_title() -> None:
    found = names.title_year("Evil\u202e\u200b\x1b[31m Movie (2000)")
    assert found is not None and found.title == "Evil[31m Movie" and found.year == 2000


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Movie-trailer.mkv", "trailer"),
        ("Movie.trailer.mkv", "trailer"),
        ("Movie_trailer.mkv", "trailer"),
        ("Movie-sample.mkv", "sample"),
        ("sample.mkv", "sample"),
        ("sample-grp-movie.mkv", "sample"),
        ("Movie-behindthescenes.mkv", "extra"),
        ("Movie-deleted.mkv", "extra"),
        ("Movie-featurette.mkv", "extra"),
        ("Movie-interview.mkv", "extra"),
        ("Movie-scene.mkv", "extra"),
        ("Movie-short.mkv", "extra"),
        ("Movie-other.mkv", "extra"),
        ("Show.S01E02.mkv", "TV episode"),
        ("Show s1e2.mkv", "TV episode"),
        ("Show 1x02.mkv", "TV episode"),
        ("._Movie.mkv", "hidden file"),
        ("Movie 1920x1080.mkv", None),
        ("Sample People (2000).mkv", None),
        ("The Short Film (2000).mkv", None),
        ("Trailer Park Boys (2006).mkv", None),
        ("The Interview.mkv", None),
        ("...And Justice for All (1979).mkv", None),
        ("Movie trailer.mkv", "trailer"),
    ],
)
def test_ignored_videos(name: str, reason: str | None) -> None:
    assert names.ignored_video(name) == reason


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("Extras", "extras folder"),
        ("Featurettes", "extras folder"),
        ("Behind The Scenes", "extras folder"),
        ("Deleted Scenes", "extras folder"),
        ("Interviews", "extras folder"),
        ("Scenes", "extras folder"),
        ("Shorts", "extras folder"),
        ("Trailers", "extras folder"),
        ("Other", "extras folder"),
        ("Samples", "extras folder"),
        ("Sample", "extras folder"),
        ("Season 01", "TV season folder"),
        ("Season 1", "TV season folder"),
        ("Staffel 2", "TV season folder"),
        ("@eaDir", names.HIDDEN),
        (".@__thumb", names.HIDDEN),
        ("#recycle", names.HIDDEN),
        (".Trash-1000", names.HIDDEN),
        ("lost+found", names.HIDDEN),
        (".hidden", names.HIDDEN),
        ("Subs", names.COMPANION),
        ("Heat (1995)", None),
        ("Seasons (2015)", None),
        ("...And Justice for All (1979)", None),
    ],
)
def test_ignored_folders(name: str, reason: str | None) -> None:
    assert names.ignored_folder(name) == reason


@pytest.mark.parametrize(
    ("stem", "part"),
    [
        ("Kill Bill - cd1", ("kill bill", "1")),
        ("Kill.Bill.CD2", ("kill.bill", "2")),
        ("Movie part1", ("movie", "1")),
        ("Movie-pt3", ("movie", "3")),
        ("Movie disc 2", ("movie", "2")),
        ("Movie - Disk1", ("movie", "1")),
        ("Movie cd-a", ("movie", "a")),
        ("Party Girl (1995)", None),
        ("Cdrom", None),
    ],
)
def test_parts(stem: str, part: tuple[str, str] | None) -> None:
    assert names.part_of(stem) == part


def test_printable_and_text() -> None:
    assert names.printable("Am\udce9lie/x\n\u202e") == "Am\\xe9lie/x\\n\\u202e"
    assert names.printable("Amélie") == "Amélie"
    assert names.text("Am\udce9lie") == "Amélie"


def test_library_forms_parse_fast_and_guessit_only_runs_for_release_names(sim_world: World) -> None:
    """Every MovieLens title in Radarr's folder form is read by the library forms (cheap);
    median CPU well under the 2 ms per item budget."""
    movies = sim_world.movies[:2000]
    times = []
    for movie in movies:
        start = time.process_time()
        found = names.title_year(movie.ml_title.replace("/", "+").replace(":", " -"))
        times.append(time.process_time() - start)
        assert found is not None and found.via == "library" and found.year == movie.year
    times.sort()
    assert times[len(times) // 2] < 0.0005
