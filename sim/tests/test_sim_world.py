"""The simulator's world: MovieLens title parsing, ids, ambiguity, search, provenance."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import pytest
from metarr_sim import World, content
from metarr_sim.titles import normalise, split_title
from metarr_sim.world import DEFAULT_WORLD_PATH

ML_SMALL = Path(__file__).resolve().parents[3] / "shared/data/movielens/ml-latest-small"
needs_movielens = pytest.mark.skipif(not ML_SMALL.exists(), reason="MovieLens data not present")


@pytest.fixture(scope="module")
def world() -> World:
    return World.load()


@pytest.mark.parametrize(
    ("raw", "title", "alternatives", "year"),
    [
        ("Usual Suspects, The (1995)", "The Usual Suspects", (), 1995),
        ("Atalante, L' (1934)", "L'Atalante", (), 1934),
        ("Postman, The (Postino, Il) (1994)", "The Postman", ("Il Postino",), 1994),
        ("Seven (a.k.a. Se7en) (1995)", "Seven", ("Se7en",), 1995),
        (
            "City of Lost Children, The (Cité des enfants perdus, La) (1995)",
            "The City of Lost Children",
            ("La Cité des enfants perdus",),
            1995,
        ),
        (
            "Léon: The Professional (a.k.a. The Professional) (Léon) (1994)",
            "Léon: The Professional",
            ("The Professional", "Léon"),
            1994,
        ),
        ("(500) Days of Summer (2009)", "(500) Days of Summer", (), 2009),
        ("Death Note: Desu nôto (2006–2007)", "Death Note: Desu nôto", (), 2006),
        ("Babylon 5", "Babylon 5", (), None),
        ("Runaway Brain (1995) ", "Runaway Brain", (), 1995),
    ],
)
def test_split_title(raw: str, title: str, alternatives: tuple[str, ...], year: int | None) -> None:
    parsed = split_title(raw)
    assert (parsed.title, parsed.alternatives, parsed.year) == (title, alternatives, year)


def test_original_title_skips_aka_forms() -> None:
    assert split_title("Seven (a.k.a. Se7en) (1995)").original is None
    assert split_title("Postman, The (Postino, Il) (1994)").original == "Il Postino"


def test_normalise_folds_case_accents_and_punctuation() -> None:
    assert normalise("Amélie & Co's [Cargo]!") == "amelie and cos cargo"
    assert normalise("Mother!") == normalise("mother")


def test_bundled_world_size_and_unique_ids(world: World) -> None:
    assert len(world) == 9742
    tvdb_ids = [m.tvdb_id for m in world]
    assert len(set(tvdb_ids)) == len(tvdb_ids)
    assert min(tvdb_ids) > 0
    assert len({m.movie_id for m in world}) == len(world)
    assert len({m.imdb_id for m in world}) == len(world)
    without_tmdb = [m for m in world if m.tmdb_id is None]
    assert len(without_tmdb) == 8
    for movie in without_tmdb:
        assert movie.imdb_id is not None
        assert world.tmdb_by_imdb(movie.imdb_id) is None
        assert world.tvdb(movie.tvdb_id) is movie  # TVDB knows them
        assert not movie.in_fanart


def test_ambiguity_is_kept(world: World) -> None:
    pairs = world.same_title_same_year_pairs()
    assert len(pairs) == 5
    assert ("Emma", 1996) in {(a.title, a.year) for a, _ in pairs}
    assert all(a.imdb_id != b.imdb_id for a, b in pairs)
    years: dict[str, set[int]] = {}
    for movie in world:
        if movie.year is not None:
            years.setdefault(normalise(movie.title), set()).add(movie.year)
    adjacent = {t for t, ys in years.items() if any(y + 1 in ys for y in ys)}
    assert {"whiplash", "saw", "the island"} <= adjacent
    mains = {normalise(m.title) for m in world}
    assert any(normalise(alt) in mains for m in world for alt in m.alternatives)
    # MovieLens link error kept: two movies share TMDB id 4912, TMDB's record belongs to one.
    shared = [m for m in world if m.tmdb_id == 4912]
    assert len(shared) == 2
    assert world.tmdb(4912) is shared[0]
    assert world.tmdb_by_imdb(shared[1].imdb_id or "") is None


def test_year_disagreement_about_three_percent(world: World) -> None:
    shifted = [m for m in world if m.tmdb_year_shift]
    assert 0.02 < len(shifted) / len(world) < 0.04
    assert {m.tmdb_year_shift for m in shifted} == {-1, 1}
    for movie in shifted[:50]:
        years = {r.date.year for r in content.releases(movie)}
        assert movie.tmdb_year in years
        assert movie.year in years
        assert content.releases(movie)[0].date.year == movie.tmdb_year


def test_simulated_text_is_marked(world: World) -> None:
    movie = world.movies[0]
    assert content.plot(movie).startswith("[simulated]")
    assert content.plot(movie, full=True).startswith("[simulated]")
    assert all(
        t == "" or t.startswith("[simulated]") for t in map(content.tagline, world.movies[:200])
    )


def test_search_is_tokenised_ranked_and_returns_near_misses(world: World) -> None:
    hits = world.search("ALIEN")
    assert hits[0].title == "Alien"
    assert {"Aliens", "Alien: Resurrection"} <= {m.title for m in hits}
    assert world.search("amelie")[0].title == "Amelie"
    assert world.search("fabuleux destin amelie poulain")[0].title == "Amelie"  # alt title
    assert world.search("fabuleux destin amelie poulain", alternatives=False) == []
    steel = [m.title for m in world.search("man of steel")]
    assert steel[0] == "Man of Steel"
    assert len(steel) > 3
    assert [m.year for m in world.search("emma")[:2]] == [1996, 1996]
    assert world.search("   ") == []


def test_world_file_columns_are_movielens_only() -> None:
    with gzip.open(DEFAULT_WORLD_PATH, "rt", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert header == [
        "movie_id", "ml_title", "title", "alternatives", "original_title", "year", "imdb_id",
        "tmdb_id", "tvdb_id", "genres", "n_ratings", "mean_rating",
    ]  # fmt: skip


@needs_movielens
def test_world_file_rebuilds_identically_from_ml_latest_small(tmp_path: Path) -> None:
    rebuilt = World.from_movielens(ML_SMALL)
    rebuilt.save(tmp_path / "w.csv.gz")
    assert (tmp_path / "w.csv.gz").read_bytes() == DEFAULT_WORLD_PATH.read_bytes()
    with (ML_SMALL / "links.csv").open(encoding="utf-8") as handle:
        links = {int(r["movieId"]): r for r in csv.DictReader(handle)}
    for movie in rebuilt:
        row = links[movie.movie_id]
        assert movie.imdb_id == f"tt{row['imdbId']}"
        assert movie.tmdb_id == (int(row["tmdbId"]) if row["tmdbId"] else None)


@needs_movielens
def test_from_movielens_accepts_explicit_files_without_ratings() -> None:
    world = World.from_movielens(
        movies_csv=ML_SMALL / "movies.csv", links_csv=ML_SMALL / "links.csv"
    )
    assert len(world) == 9742
    assert all(m.mean_rating is None for m in world)
    toy = world.movielens(1)
    assert toy is not None
    assert toy.title == "Toy Story"
    assert toy.tmdb_id == 862
