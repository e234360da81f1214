"""The simulated world: real MovieLens movies plus deterministic simulated facts.

The bundled world (``world.csv.gz`` next to this module) is built by
``scripts/build_sim_world.py`` from MovieLens *ml-latest-small* only (see
``NOTICE-MovieLens.txt``). Each row keeps the MovieLens facts (title, year, genres, IMDb and TMDB
ids, the mean user rating); everything else (TVDB ids, runtimes, which provider knows which
movie, year disagreements) is derived from the ids by `metarr_sim.synth` when the world loads.
"""

from __future__ import annotations

import bisect
import csv
import gzip
import io
import json
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import attrs

from metarr_sim import synth
from metarr_sim.titles import normalise, split_title, tokens

__all__ = ["DEFAULT_WORLD_PATH", "Movie", "World"]

DEFAULT_WORLD_PATH = Path(__file__).with_name("world.csv.gz")
_COLUMNS = (
    "movie_id",
    "ml_title",
    "title",
    "alternatives",
    "original_title",
    "year",
    "imdb_id",
    "tmdb_id",
    "tvdb_id",
    "genres",
    "n_ratings",
    "mean_rating",
)
_TVDB_PRIME = 999_983
_MAX_VARIANTS = 16


def tvdb_id_for(movie_id: int) -> int:
    """A unique positive simulated TVDB id: an affine permutation of the MovieLens id."""
    return 100_000 + (movie_id * 48_271 + 9_973) % _TVDB_PRIME


@attrs.frozen(kw_only=True)
class Movie:
    """One movie: MovieLens facts plus the simulated facts derived from its ids."""

    movie_id: int
    ml_title: str
    title: str
    alternatives: tuple[str, ...] = ()
    original_title: str | None = None
    year: int | None = None
    imdb_id: str | None = None
    tmdb_id: int | None = None
    tvdb_id: int
    genres: tuple[str, ...] = ()
    n_ratings: int = 0
    mean_rating: float | None = None
    # Simulated facts, derived from the ids in `build`.
    tmdb_year_shift: int = 0
    """TMDB's primary release year minus the MovieLens year (-1, 0 or +1; non-zero for ~3 %)."""
    runtime: int = 100
    popularity: float = 1.0
    in_tvdb: bool = True
    in_fanart: bool = True
    tvdb_extra_entry: bool = False
    """TVDB's remote-id search puts an unrelated series entry first for this movie."""

    @classmethod
    def build(
        cls,
        *,
        movie_id: int,
        ml_title: str,
        imdb_id: str | None,
        tmdb_id: int | None,
        genres: Sequence[str] = (),
        n_ratings: int = 0,
        mean_rating: float | None = None,
        tvdb_id: int | None = None,
        parsed: tuple[str, tuple[str, ...], str | None, int | None] | None = None,
    ) -> Movie:
        """A movie from MovieLens facts; the simulated facts are derived from its ids."""
        if parsed is None:
            p = split_title(ml_title)
            title, alternatives, original, year = p.title, p.alternatives, p.original, p.year
        else:
            title, alternatives, original, year = parsed
        shift = 0
        if tmdb_id is not None and year is not None and synth.unit("yearshift", movie_id) < 0.03:
            shift = -1 if synth.unit("yearshift-dir", movie_id) < 0.45 else 1
        popularity = round(0.6 + n_ratings * 0.35 + synth.unit("pop", movie_id) * 4, 3)
        fame = min(1.0, math.log1p(n_ratings) / math.log(300))
        return cls(
            movie_id=movie_id,
            ml_title=ml_title,
            title=title,
            alternatives=tuple(alternatives),
            original_title=original,
            year=year,
            imdb_id=imdb_id,
            tmdb_id=tmdb_id,
            tvdb_id=tvdb_id if tvdb_id is not None else tvdb_id_for(movie_id),
            genres=tuple(g for g in genres if g and g != "(no genres listed)"),
            n_ratings=n_ratings,
            mean_rating=mean_rating,
            tmdb_year_shift=shift,
            runtime=70 + int(synth.unit("runtime", movie_id) ** 1.6 * 95),
            popularity=popularity,
            in_tvdb=tmdb_id is None or synth.unit("tvdb", movie_id) < 0.92,
            in_fanart=tmdb_id is not None and synth.unit("fanart", movie_id) < 0.5 + 0.45 * fame,
            tvdb_extra_entry=synth.unit("tvdb-extra", movie_id) < 0.05,
        )

    @property
    def tmdb_year(self) -> int | None:
        """The year of TMDB's primary release date."""
        return None if self.year is None else self.year + self.tmdb_year_shift

    @property
    def titles(self) -> tuple[str, ...]:
        """The main title followed by the alternative titles."""
        return (self.title, *self.alternatives)


class _Index:
    """An inverted index of title words for one set of title variants per movie."""

    def __init__(self, variants: Sequence[Sequence[str]]) -> None:
        postings: dict[str, list[int]] = defaultdict(list)
        self.norms: list[tuple[str, ...]] = []
        for position, titles in enumerate(variants):
            norms = []
            for number, title in enumerate(titles[:_MAX_VARIANTS]):
                norms.append(normalise(title))
                for word in set(tokens(title)):
                    postings[word].append(position * _MAX_VARIANTS + number)
            self.norms.append(tuple(norms))
        self.postings = dict(postings)
        self.vocabulary = sorted(self.postings)

    def keys(self, word: str, *, prefix: bool) -> set[int]:
        found = set(self.postings.get(word, ()))
        if prefix:
            start = bisect.bisect_left(self.vocabulary, word)
            for other in self.vocabulary[start:]:
                if not other.startswith(word):
                    break
                found.update(self.postings[other])
        return found


class World:
    """A set of movies with lookups by every id and a tokenised title search."""

    def __init__(self, movies: Iterable[Movie]) -> None:
        self.movies: tuple[Movie, ...] = tuple(sorted(movies, key=lambda m: m.movie_id))
        self.by_movie_id = {m.movie_id: m for m in self.movies}
        self.by_tmdb: dict[int, Movie] = {}
        self.by_imdb: dict[str, Movie] = {}
        self.by_tvdb: dict[int, Movie] = {}
        for movie in self.movies:
            # Shared ids are MovieLens link errors: the first movie owns the provider record.
            if movie.tmdb_id is not None:
                self.by_tmdb.setdefault(movie.tmdb_id, movie)
            if movie.imdb_id is not None:
                self.by_imdb.setdefault(movie.imdb_id, movie)
            if movie.in_tvdb:
                self.by_tvdb.setdefault(movie.tvdb_id, movie)
        self._main = _Index([(m.title,) for m in self.movies])
        self._all = _Index([m.titles for m in self.movies])

    def __len__(self) -> int:
        return len(self.movies)

    def __iter__(self) -> Iterator[Movie]:
        return iter(self.movies)

    def __repr__(self) -> str:
        return f"<World of {len(self.movies)} movies>"

    # ------------------------------------------------------------------ lookups

    def tmdb(self, tmdb_id: int) -> Movie | None:
        """The movie TMDB knows under ``tmdb_id``."""
        return self.by_tmdb.get(tmdb_id)

    def tmdb_by_imdb(self, imdb_id: str) -> Movie | None:
        """What TMDB's ``/find`` returns for an IMDb id (None when TMDB's record lists another)."""
        movie = self.by_imdb.get(imdb_id)
        if movie is None or movie.tmdb_id is None or self.by_tmdb.get(movie.tmdb_id) is not movie:
            return None
        return movie

    def imdb(self, imdb_id: str) -> Movie | None:
        """The movie OMDb knows under ``imdb_id``."""
        return self.by_imdb.get(imdb_id)

    def tvdb(self, tvdb_id: int) -> Movie | None:
        """The movie TVDB knows under ``tvdb_id``."""
        return self.by_tvdb.get(tvdb_id)

    def movielens(self, movie_id: int) -> Movie | None:
        """The movie with this MovieLens id."""
        return self.by_movie_id.get(movie_id)

    # ------------------------------------------------------------------- search

    def search(self, query: str, *, alternatives: bool = True) -> list[Movie]:
        """Movies whose title words match ``query``, best first, like a real search engine.

        Matching is per title variant (main title, and the alternative titles when
        ``alternatives``), case- and accent-insensitive. A variant matches when it holds every
        query word (the last one may match as a prefix), or, for three words or more, at least
        two thirds of them. Ranking: exact title, then fewest missing words, then whole words
        before prefixes, then popularity.
        """
        words = list(dict.fromkeys(tokens(query)))
        if not words:
            return []
        index = self._all if alternatives else self._main
        need = len(words) if len(words) <= 2 else math.ceil(2 * len(words) / 3)
        hits: Counter[int] = Counter()
        for word in words[:-1]:
            hits.update(index.keys(word, prefix=False))
        last = words[-1]
        whole = index.keys(last, prefix=False)
        hits.update(whole)
        partial = set()
        if len(last) >= 3:
            # A prefix match counts only when every other word matched ("star wa" → Star Wars).
            for key in index.keys(last, prefix=True) - whole:
                if hits[key] == len(words) - 1:
                    hits[key] += 1
                    partial.add(key)
        wanted = normalise(query)
        best: dict[int, tuple[int, int, int]] = {}
        for key, count in hits.items():
            if count < need:
                continue
            position, variant = divmod(key, _MAX_VARIANTS)
            exact = index.norms[position][variant] == wanted
            rank = (0 if exact else 1, len(words) - count, 1 if key in partial else 0)
            if position not in best or rank < best[position]:
                best[position] = rank
        ordered = sorted(
            best.items(),
            key=lambda item: (*item[1], -self.movies[item[0]].popularity, item[0]),
        )
        return [self.movies[position] for position, _ in ordered]

    # -------------------------------------------------------------------- stats

    def same_title_same_year_pairs(self) -> list[tuple[Movie, Movie]]:
        """Pairs of distinct movies with the same normalised main title and the same year."""
        groups: dict[tuple[str, int], list[Movie]] = defaultdict(list)
        for movie in self.movies:
            if movie.year is not None:
                groups[(normalise(movie.title), movie.year)].append(movie)
        return [
            (group[i], group[j])
            for group in groups.values()
            for i in range(len(group))
            for j in range(i + 1, len(group))
        ]

    # ------------------------------------------------------------ build / load

    @classmethod
    def load(cls, path: str | Path | None = None) -> World:
        """Load a built world file (the bundled ``world.csv.gz`` by default)."""
        target = Path(path) if path is not None else DEFAULT_WORLD_PATH
        with gzip.open(target, "rt", encoding="utf-8", newline="") as handle:
            return cls(_movie_from_row(row) for row in csv.DictReader(handle))

    @classmethod
    def from_movielens(
        cls,
        directory: str | Path | None = None,
        *,
        movies_csv: str | Path | None = None,
        links_csv: str | Path | None = None,
        ratings_csv: str | Path | None = None,
    ) -> World:
        """Build a world from MovieLens CSV files (``movies.csv``, ``links.csv``, ``ratings.csv``).

        ``directory`` supplies any file not given explicitly; ``ratings.csv`` is optional. A
        movie with no ``links.csv`` row has no IMDb or TMDB id (only TVDB knows it).
        """
        base = Path(directory) if directory is not None else None

        def pick(explicit: str | Path | None, name: str) -> Path | None:
            if explicit is not None:
                return Path(explicit)
            if base is not None and (base / name).exists():
                return base / name
            return None

        movies_path = pick(movies_csv, "movies.csv")
        if movies_path is None:
            raise FileNotFoundError("from_movielens needs a movies.csv")
        links_path = pick(links_csv, "links.csv")
        ratings_path = pick(ratings_csv, "ratings.csv")
        links: dict[int, tuple[str | None, int | None]] = {}
        if links_path is not None:
            for row in _read_csv(links_path):
                imdb = (row.get("imdbId") or "").strip()
                tmdb = (row.get("tmdbId") or "").strip()
                links[int(row["movieId"])] = (
                    f"tt{int(imdb):07d}" if imdb.isdigit() and int(imdb) > 0 else None,
                    int(tmdb) if tmdb.isdigit() and int(tmdb) > 0 else None,
                )
        sums: dict[int, list[float]] = defaultdict(lambda: [0, 0.0])
        if ratings_path is not None:
            for row in _read_csv(ratings_path):
                entry = sums[int(row["movieId"])]
                entry[0] += 1
                entry[1] += float(row["rating"])
        built = []
        for row in _read_csv(movies_path):
            movie_id = int(row["movieId"])
            imdb_id, tmdb_id = links.get(movie_id, (None, None))
            count, total = sums.get(movie_id, (0, 0.0))
            built.append(
                Movie.build(
                    movie_id=movie_id,
                    ml_title=row["title"].strip(),
                    imdb_id=imdb_id,
                    tmdb_id=tmdb_id,
                    genres=(row.get("genres") or "").split("|"),
                    n_ratings=int(count),
                    mean_rating=round(total / count, 3) if count else None,
                )
            )
        return cls(built)

    def save(self, path: str | Path) -> None:
        """Write the world as a reproducible gzip-compressed CSV (what `load` reads)."""
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(_COLUMNS)
        for m in self.movies:
            writer.writerow(
                (
                    m.movie_id,
                    m.ml_title,
                    m.title,
                    json.dumps(list(m.alternatives), ensure_ascii=False) if m.alternatives else "",
                    m.original_title or "",
                    "" if m.year is None else m.year,
                    m.imdb_id or "",
                    "" if m.tmdb_id is None else m.tmdb_id,
                    m.tvdb_id,
                    "|".join(m.genres),
                    m.n_ratings,
                    "" if m.mean_rating is None else f"{m.mean_rating:.3f}",
                )
            )
        data = gzip.compress(buffer.getvalue().encode("utf-8"), compresslevel=9, mtime=0)
        Path(path).write_bytes(data)


def _read_csv(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        yield from csv.DictReader(handle)


def _movie_from_row(row: dict[str, str]) -> Movie:
    alternatives = tuple(json.loads(row["alternatives"])) if row["alternatives"] else ()
    return Movie.build(
        movie_id=int(row["movie_id"]),
        ml_title=row["ml_title"],
        imdb_id=row["imdb_id"] or None,
        tmdb_id=int(row["tmdb_id"]) if row["tmdb_id"] else None,
        tvdb_id=int(row["tvdb_id"]),
        genres=row["genres"].split("|") if row["genres"] else (),
        n_ratings=int(row["n_ratings"]),
        mean_rating=float(row["mean_rating"]) if row["mean_rating"] else None,
        parsed=(
            row["title"],
            alternatives,
            row["original_title"] or None,
            int(row["year"]) if row["year"] else None,
        ),
    )
