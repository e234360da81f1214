"""Parsing OMDb bodies: every field, "N/A" handling, ratings, outlines and search hits."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from metarr import Ids, ProviderResult
from metarr.convert import from_json, to_json
from metarr_omdb import parse


def movie(body: dict[str, Any], **kwargs: Any) -> ProviderResult:
    return parse.parse_movie(body, "omdb", requested=kwargs.pop("requested", Ids()), **kwargs)


def test_every_field_of_the_recorded_title(sample: Any) -> None:
    body = sample("omdb_tt0770828.json")
    result = movie(body)
    assert result.provider == "omdb"
    assert result.ids == Ids(imdb="tt0770828")
    assert result.title == "Man of Steel"
    assert result.year == 2013
    assert result.release_date == date(2013, 6, 14)
    assert result.runtime == 143
    assert result.content_rating == "PG-13"
    assert result.genres == ("Action", "Adventure", "Sci-Fi")
    assert result.plot == body["Plot"]
    assert result.outline == (
        "An alien child is evacuated from his dying world and sent to Earth to live among humans."
    )
    assert result.awards == "Nominated for 1 BAFTA Award7 wins & 46 nominations total"
    assert result.language == "en"
    assert result.tagline is None
    assert result.original_title is None
    assert [(c.name, c.job, c.department) for c in result.crew] == [
        ("Zack Snyder", "Director", "Directing"),
        ("David S. Goyer", "Writer", "Writing"),
        ("Christopher Nolan", "Writer", "Writing"),
        ("Jerry Siegel", "Writer", "Writing"),
    ]
    assert [(c.name, c.order, c.character) for c in result.cast] == [
        ("Henry Cavill", 0, None),
        ("Amy Adams", 1, None),
        ("Michael Shannon", 2, None),
    ]
    assert all(p.provider == "omdb" for p in (*result.cast, *result.crew))
    (image,) = result.images
    assert image.kind == "poster"
    assert image.url == body["Poster"]
    assert image.width == 300
    assert [(r.source, r.value, r.max, r.votes) for r in result.ratings] == [
        ("imdb", 7.1, 10.0, 858780),
        ("rotten_tomatoes", 57.0, 100.0, None),
        ("metacritic", 55.0, 100.0, None),
    ]
    assert result.raw == {"title": body}
    assert from_json(ProviderResult, to_json(result)) == result


def test_title_sample_parses_the_same(sample: Any) -> None:
    by_title = movie(sample("omdb_t_man_of_steel.json"))
    by_id = movie(sample("omdb_tt0770828.json"))
    assert by_title == by_id


def test_na_means_absent_everywhere(sample: Any) -> None:
    # DERIVED from omdb_tt0770828.json: every optional field set to "N/A".
    body = sample("omdb_tt0770828.json")
    for key in body:
        if key not in ("imdbID", "Response", "Title", "Type"):
            body[key] = "N/A"
    result = movie(body)
    assert result.title == "Man of Steel"
    assert result.ids == Ids(imdb="tt0770828")
    for field in ("year", "release_date", "runtime", "plot", "outline", "content_rating"):
        assert getattr(result, field) is None, field
    assert result.awards is None
    assert result.genres == result.images == result.cast == result.crew == result.ratings == ()


def test_na_items_inside_lists_are_dropped() -> None:
    result = movie({"Genre": "Drama, N/A", "Actors": "N/A, Jane Doe", "Director": "N/A"})
    assert result.genres == ("Drama",)
    assert [(c.name, c.order) for c in result.cast] == [("Jane Doe", 0)]
    assert result.crew == ()


def test_wrong_types_are_ignored() -> None:
    body = {
        "Title": 42,
        "Year": 2013,
        "Ratings": {"Source": "Metacritic"},
        "Genre": ["Action"],
        "imdbVotes": None,
        "Actors": {"name": "x"},
    }
    result = movie(body)
    assert result.title is None
    assert result.year is None
    assert result.ratings == result.genres == result.cast == ()


def test_writer_notes_in_parentheses_are_stripped_and_names_deduplicated() -> None:
    # DERIVED: the shape of a Writer field with credits notes (e.g. The Dark Knight).
    body = {
        "Writer": "Jonathan Nolan (screenplay), Christopher Nolan (screenplay), "
        "Christopher Nolan (story), David S. Goyer (story), Bob Kane (characters)",
        "Director": "Lana Wachowski, Lilly Wachowski",
    }
    result = movie(body)
    writers = [c.name for c in result.crew if c.job == "Writer"]
    assert writers == ["Jonathan Nolan", "Christopher Nolan", "David S. Goyer", "Bob Kane"]
    directors = [c.name for c in result.crew if c.job == "Director"]
    assert directors == ["Lana Wachowski", "Lilly Wachowski"]


def test_votes_with_thousands_separators() -> None:
    body = {"Ratings": [{"Source": "Internet Movie Database", "Value": "8.7/10"}]}
    body["imdbVotes"] = "2,134,567"
    (rating,) = movie(body).ratings
    assert (rating.source, rating.value, rating.votes) == ("imdb", 8.7, 2134567)


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"Source": "Internet Movie Database", "Value": "7.1/10"}, ("imdb", 7.1, 10.0)),
        ({"Source": "Rotten Tomatoes", "Value": "57%"}, ("rotten_tomatoes", 57.0, 100.0)),
        ({"Source": "Metacritic", "Value": "55/100"}, ("metacritic", 55.0, 100.0)),
    ],
)
def test_each_rating_source(entry: dict[str, str], expected: tuple[str, float, float]) -> None:
    (rating,) = movie({"Ratings": [entry]}).ratings
    assert (rating.source, rating.value, rating.max) == expected
    assert rating.provider == "omdb"


def test_missing_ratings_fall_back_to_imdb_rating_and_metascore(sample: Any) -> None:
    body = sample("omdb_tt0770828.json")
    del body["Ratings"]
    ratings = movie(body).ratings
    assert [(r.source, r.value, r.max, r.votes) for r in ratings] == [
        ("imdb", 7.1, 10.0, 858780),
        ("metacritic", 55.0, 100.0, None),
    ]


def test_partial_ratings_are_completed_from_the_fallbacks(sample: Any) -> None:
    body = sample("omdb_tt0770828.json")
    body["Ratings"] = [{"Source": "Rotten Tomatoes", "Value": "57%"}]
    sources = [r.source for r in movie(body).ratings]
    assert sources == ["imdb", "rotten_tomatoes", "metacritic"]


def test_empty_ratings_without_fallbacks() -> None:
    assert movie({"Ratings": [], "imdbRating": "N/A", "Metascore": "N/A"}).ratings == ()


@pytest.mark.parametrize(
    "entry",
    [
        {"Source": "Internet Movie Database", "Value": "11/10"},
        {"Source": "Internet Movie Database", "Value": "7.1/5"},
        {"Source": "Rotten Tomatoes", "Value": "N/A"},
        {"Source": "Metacritic", "Value": "abc/100"},
        {"Source": "Letterboxd", "Value": "4/5"},
        {"Source": "Metacritic"},
        "not an object",
    ],
)
def test_bad_or_unknown_ratings_are_skipped(entry: Any) -> None:
    assert movie({"Ratings": [entry]}).ratings == ()


@pytest.mark.parametrize(
    ("text", "expected"),
    [("2013", 2013), ("2007–2019", 2007), ("2015–", 2015), ("N/A", None), ("13", None)],
)
def test_year(text: str, expected: int | None) -> None:
    assert movie({"Year": text}).year == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("14 Jun 2013", date(2013, 6, 14)),
        ("1 Mar 1999", date(1999, 3, 1)),
        ("31 Feb 2000", None),
        ("June 14, 2013", None),
        ("14 Foo 2013", None),
        ("N/A", None),
    ],
)
def test_released(text: str, expected: date | None) -> None:
    assert movie({"Released": text}).release_date == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("136 min", 136), ("143 min", 143), ("2 h 16 min", 136), ("0 min", None), ("N/A", None)],
)
def test_runtime(text: str, expected: int | None) -> None:
    assert movie({"Runtime": text}).runtime == expected


@pytest.mark.parametrize(
    ("plot", "outline"),
    [
        ("One sentence only.", None),
        ("First one. Second one.", "First one."),
        ("Is it? Yes.", "Is it?"),
        ('He says "Go." Then he goes.', 'He says "Go."'),
        ("Dr. Who travels. He returns.", "Dr. Who travels."),
        ("J. R. R. Tolkien writes a book. It sells.", "J. R. R. Tolkien writes a book."),
        ("The U.S. Army attacks. It loses.", "The U.S. Army attacks."),
        ("x" * 301 + ". Second.", None),
        ("x" * 299 + ". Second.", "x" * 299 + "."),
        ("lowercase after period. then more", None),
        (None, None),
    ],
)
def test_outline_is_the_first_of_several_short_sentences(
    plot: str | None, outline: str | None
) -> None:
    assert parse.first_sentence(plot) == outline


def test_explicit_outline_wins_over_the_derived_one(sample: Any) -> None:
    result = movie(sample("omdb_tt0770828.json"), outline="Short plot.")
    assert result.outline == "Short plot."


def test_ids_fall_back_to_the_requested_imdb_id() -> None:
    result = movie({"imdbID": "N/A"}, requested=Ids(imdb="tt0133093", tmdb=603))
    assert result.ids == Ids(imdb="tt0133093")


def test_hostile_poster_url_is_dropped() -> None:
    assert movie({"Poster": "javascript:alert(1)"}).images == ()


def test_search_drops_the_game_and_keeps_order(sample: Any) -> None:
    body = sample("omdb_search_man_of_steel_page1.json")
    hits = parse.parse_search(body, "omdb")
    assert "tt1453257" not in {hit.ids.imdb for hit in hits}  # "Type": "game"
    assert len(hits) == len(body["Search"]) - 1
    assert [hit.ids.imdb for hit in hits] == [
        item["imdbID"] for item in body["Search"] if item["Type"] == "movie"
    ]
    first = hits[0]
    assert (first.title, first.year, first.provider) == ("Man of Steel", 2013, "omdb")
    assert first.poster == body["Search"][0]["Poster"]
    no_poster = next(hit for hit in hits if hit.ids.imdb == "tt3327446")
    assert no_poster.poster is None


def test_search_page3_and_type_movie_samples(sample: Any) -> None:
    page3 = parse.parse_search(sample("omdb_search_man_of_steel_page3.json"), "omdb")
    assert len(page3) == 9
    assert "tt2911220" not in {h.ids.imdb for h in page3}
    typed = parse.parse_search(sample("omdb_search_man_of_steel_type_movie.json"), "omdb")
    assert len(typed) == 10


def test_search_skips_broken_items() -> None:
    body = {
        "Search": [
            "nope",
            {"Title": "No id", "imdbID": "N/A", "Type": "movie"},
            {"Title": "N/A", "imdbID": "tt0000002"},
            {"Title": "Kept", "imdbID": "tt0000003", "Year": "N/A"},
        ]
    }
    hits = parse.parse_search(body, "omdb")
    assert [(h.title, h.year) for h in hits] == [("Kept", None)]
    assert parse.parse_search({"Search": "x"}, "omdb") == []
