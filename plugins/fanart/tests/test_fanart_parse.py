"""Parsing real Fanart.tv v3 bodies (and hostile variants of them) into provider results."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from metarr import Ids, Image
from metarr.convert import from_json, to_json
from metarr.models import IMAGE_KINDS, ProviderResult
from metarr_fanart import IMAGE_KEYS, parse_images, parse_movie

SAMPLES = Path(__file__).parent / "samples"


def sample(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


HUNGER_GAMES = "fanart_movie_70160.json"
BLADE_RUNNER = "fanart_movie_78.json"

EXPECTED_COUNTS = {
    HUNGER_GAMES: {
        "logo": 12 + 3,
        "clearart": 14 + 2,
        "poster": 22,
        "backdrop": 19,
        "banner": 6,
        "thumb": 8,
        "discart": 13,
    },
    BLADE_RUNNER: {
        "logo": 6 + 4,
        "clearart": 17 + 2,
        "poster": 15,
        "backdrop": 9,
        "banner": 13,
        "thumb": 28,
        "discart": 5,
    },
}


@pytest.mark.parametrize("name", [HUNGER_GAMES, BLADE_RUNNER])
def test_every_image_kind_is_parsed_with_counts(name: str) -> None:
    body = sample(name)
    images = parse_images(body, "fanart")
    assert Counter(image.kind for image in images) == EXPECTED_COUNTS[name]
    assert len(images) == sum(len(body[key]) for key in IMAGE_KEYS if key in body) == 99
    assert all(image.provider == "fanart" for image in images)


def test_image_keys_cover_the_nine_documented_kinds() -> None:
    assert set(IMAGE_KEYS) == {
        "hdmovielogo",
        "movielogo",
        "hdmovieclearart",
        "movieart",
        "movieposter",
        "moviebackground",
        "moviebanner",
        "moviethumb",
        "moviedisc",
    }
    assert {kind for kind, _ in IMAGE_KEYS.values()} == set(IMAGE_KINDS)


def test_images_are_grouped_by_kind_in_canonical_order() -> None:
    images = parse_images(sample(HUNGER_GAMES), "fanart")
    order = [IMAGE_KINDS.index(image.kind) for image in images]
    assert order == sorted(order)


def test_hd_variants_come_before_sd_then_likes_descending() -> None:
    body = sample(HUNGER_GAMES)
    logos = [image for image in parse_images(body, "fanart") if image.kind == "logo"]
    hd_urls = {item["url"] for item in body["hdmovielogo"]}
    assert [image.url in hd_urls for image in logos] == [True] * 12 + [False] * 3
    # the SD logo with 3 likes still ranks after the HD logos with 0
    assert [image.score for image in logos] == [11, 7, 7, 4, 2, 2, 2, 1, 1, 1, 0, 0, 3, 2, 1]
    # ties keep Fanart's order
    assert logos[1].url == body["hdmovielogo"][1]["url"]
    assert logos[2].url == body["hdmovielogo"][2]["url"]


def test_likes_are_scores_without_votes() -> None:
    images = parse_images(sample(HUNGER_GAMES), "fanart")
    poster = next(image for image in images if image.kind == "poster")
    assert poster.score == 7.0
    assert poster.votes is None
    assert all(image.votes is None for image in images)
    assert all(isinstance(image.score, float) for image in images)


def test_textless_languages_become_none() -> None:
    images = parse_images(sample(HUNGER_GAMES), "fanart")
    textless = [image for image in images if image.language is None]
    # 4 posters with lang "00" and 19 backdrops with lang ""
    assert Counter(image.kind for image in textless) == {"poster": 4, "backdrop": 19}
    assert {image.language for image in images} - {None} == {"en", "fr", "pl", "es", "de", "ru"}


def test_disc_type_is_kept_for_disc_art_only() -> None:
    images = parse_images(sample(HUNGER_GAMES), "fanart")
    discs = [image for image in images if image.kind == "discart"]
    assert Counter(image.disc_type for image in discs) == {"bluray": 12, "dvd": 1}
    assert all(image.disc_type is None for image in images if image.kind != "discart")


def test_disc_type_is_normalised_and_optional() -> None:
    body = {
        "moviedisc": [
            {"url": "https://assets.fanart.tv/a.png", "disc_type": " BluRay "},
            {"url": "https://assets.fanart.tv/b.png", "disc_type": "3d"},
            {"url": "https://assets.fanart.tv/c.png"},
            {"url": "https://assets.fanart.tv/d.png", "disc_type": 7},
        ],
        "movieposter": [{"url": "https://assets.fanart.tv/e.jpg", "disc_type": "dvd"}],
    }
    by_url = {image.url.rsplit("/", 1)[1]: image for image in parse_images(body, "fanart")}
    assert by_url["a.png"].disc_type == "bluray"
    assert by_url["b.png"].disc_type == "3d"
    assert by_url["c.png"].disc_type is None
    assert by_url["d.png"].disc_type is None
    assert by_url["e.jpg"].disc_type is None


def test_http_urls_of_the_2014_sample_are_upgraded_to_https() -> None:
    body = sample(BLADE_RUNNER)
    raw_urls = [item["url"] for key in IMAGE_KEYS for item in body.get(key, [])]
    assert all(url.startswith("http://assets.fanart.tv/") for url in raw_urls)
    images = parse_images(body, "fanart")
    assert all(image.url.startswith("https://assets.fanart.tv/") for image in images)
    assert {image.url for image in images} == {"https" + url[4:] for url in raw_urls}


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JavaScript:alert(document.cookie)",
        "file:///etc/passwd",
        "data:image/png;base64,iVBORw0KGgo=",
        "ftp://assets.fanart.tv/x.png",
        "//assets.fanart.tv/x.png",
        "/fanart/movies/1/x.png",
        "https://",
        "https://assets.fanart.tv/a b.png",
        "",
        None,
        42,
        ["https://assets.fanart.tv/x.png"],
    ],
)
def test_hostile_or_broken_urls_are_dropped(url: object) -> None:
    good = {"id": "1", "url": "https://assets.fanart.tv/good.png", "lang": "en", "likes": "1"}
    body = {"hdmovielogo": [{"id": "2", "url": url, "lang": "en", "likes": "9"}, good]}
    images = parse_images(body, "fanart")
    assert [image.url for image in images] == [good["url"]]


def test_hostile_urls_mixed_into_a_real_sample_are_dropped() -> None:
    body = sample(HUNGER_GAMES)
    hostile = ["javascript:alert(1)", "file:///etc/passwd", "data:text/html,<script>x</script>"]
    for key, url in zip(("movieposter", "moviedisc", "moviebackground"), hostile, strict=True):
        body[key].insert(0, {"id": "666", "url": url, "lang": "en", "likes": "999"})
    images = parse_images(body, "fanart")
    assert len(images) == 99
    assert not any(image.url.startswith(("javascript:", "file:", "data:")) for image in images)


def test_wrongly_typed_items_and_arrays_are_ignored() -> None:
    good = {"url": "https://assets.fanart.tv/ok.jpg", "lang": "en", "likes": "2"}
    body: dict[str, Any] = {
        "movieposter": ["not an object", 3, None, [good], good],
        "moviebackground": "not a list",
        "moviebanner": {"url": "https://assets.fanart.tv/banner.jpg"},
        "moviethumb": None,
        "unknownkind": [good],
    }
    images = parse_images(body, "fanart")
    assert [(image.kind, image.url) for image in images] == [("poster", good["url"])]


@pytest.mark.parametrize(
    ("likes", "score"),
    [("11", 11.0), ("0", 0.0), (5, 5.0), ("-3", None), ("many", None), (None, None), ("", None)],
)
def test_likes_values(likes: object, score: float | None) -> None:
    body = {"movieposter": [{"url": "https://assets.fanart.tv/p.jpg", "likes": likes}]}
    [image] = parse_images(body, "fanart")
    assert image.score == score


def test_images_without_likes_sort_last_within_their_variant() -> None:
    body = {
        "movieposter": [
            {"url": "https://assets.fanart.tv/none.jpg"},
            {"url": "https://assets.fanart.tv/zero.jpg", "likes": "0"},
            {"url": "https://assets.fanart.tv/two.jpg", "likes": "2"},
        ]
    }
    names = [image.url.rsplit("/", 1)[1] for image in parse_images(body, "fanart")]
    assert names == ["two.jpg", "zero.jpg", "none.jpg"]


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("en", "en"), ("DE", "de"), ("00", None), ("", None), (" ", None), (None, None), (7, None)],
)
def test_language_values(lang: object, expected: str | None) -> None:
    body = {"movieposter": [{"url": "https://assets.fanart.tv/p.jpg", "lang": lang}]}
    [image] = parse_images(body, "fanart")
    assert image.language == expected


def test_duplicate_urls_are_kept_once() -> None:
    item = {"url": "https://assets.fanart.tv/same.png", "likes": "1"}
    body = {"hdmovielogo": [item], "movielogo": [item, dict(item)]}
    assert len(parse_images(body, "fanart")) == 1


def test_parse_movie_of_a_real_sample() -> None:
    body = sample(HUNGER_GAMES)
    result = parse_movie(body, "fanart")
    assert result.provider == "fanart"
    assert result.title == "The Hunger Games"
    assert result.ids == Ids(tmdb=70160, imdb="tt1392170")
    assert len(result.images) == 99
    assert result.raw == {"movie": body}
    # Fanart knows nothing but art: no text fields are filled
    assert result.plot is None
    assert result.year is None
    assert result.genres == ()
    assert from_json(ProviderResult, to_json(result)) == result


def test_parse_movie_tolerates_an_empty_or_odd_body() -> None:
    result = parse_movie({}, "fanart")
    assert result.title is None
    assert result.ids == Ids()
    assert result.images == ()
    odd = parse_movie({"name": ["x"], "tmdb_id": "abc", "imdb_id": 12, "movieposter": 1}, "fanart")
    assert odd.title is None
    assert odd.ids == Ids()
    assert odd.images == ()


def test_parse_movie_does_not_share_the_input_dict() -> None:
    body = sample(BLADE_RUNNER)
    original = copy.deepcopy(body)
    result = parse_movie(body, "fanart")
    body["name"] = "changed"
    assert result.raw["movie"] == original


def test_image_safe_is_what_builds_images() -> None:
    # a sanity check on the core contract this parser relies on
    assert Image.safe(provider="fanart", kind="logo", url="javascript:alert(1)") is None
