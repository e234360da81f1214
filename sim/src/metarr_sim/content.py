"""Simulated movie content shared by every simulated provider, so providers agree with each other.

Everything is a pure function of a `Movie` (see `metarr_sim.synth`): plots and taglines are
marked ``[simulated]``, people have invented names, dates and ratings are derived from the
MovieLens year and mean rating.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any, NamedTuple

from metarr_sim import synth
from metarr_sim.world import Movie

# MovieLens genre → (TMDB id, TMDB name, OMDb name, TVDB id, TVDB name).
GENRES: dict[str, tuple[int, str, str, int, str]] = {
    "Action": (28, "Action", "Action", 19, "Action"),
    "Adventure": (12, "Adventure", "Adventure", 18, "Adventure"),
    "Animation": (16, "Animation", "Animation", 17, "Animation"),
    "Children": (10751, "Family", "Family", 10, "Family"),
    "Comedy": (35, "Comedy", "Comedy", 16, "Comedy"),
    "Crime": (80, "Crime", "Crime", 15, "Crime"),
    "Documentary": (99, "Documentary", "Documentary", 14, "Documentary"),
    "Drama": (18, "Drama", "Drama", 13, "Drama"),
    "Fantasy": (14, "Fantasy", "Fantasy", 12, "Fantasy"),
    "Film-Noir": (80, "Crime", "Film-Noir", 15, "Crime"),
    "Horror": (27, "Horror", "Horror", 11, "Horror"),
    "Musical": (10402, "Music", "Musical", 24, "Musical"),
    "Mystery": (9648, "Mystery", "Mystery", 9, "Mystery"),
    "Romance": (10749, "Romance", "Romance", 8, "Romance"),
    "Sci-Fi": (878, "Science Fiction", "Sci-Fi", 7, "Science Fiction"),
    "Thriller": (53, "Thriller", "Thriller", 6, "Thriller"),
    "War": (10752, "War", "War", 5, "War"),
    "Western": (37, "Western", "Western", 4, "Western"),
}
_ADJECTIVES = [
    "quiet",
    "restless",
    "stubborn",
    "luminous",
    "reluctant",
    "tireless",
    "forgotten",
    "unlikely",
    "wandering",
    "fearless",
    "curious",
    "weary",
    "brilliant",
    "secretive",
]
_HEROES = [
    "archivist",
    "lighthouse keeper",
    "cartographer",
    "night-shift nurse",
    "retired pilot",
    "street musician",
    "botanist",
    "tax inspector",
    "ferry captain",
    "clockmaker",
    "schoolteacher",
    "radio host",
]
_GOALS = [
    "recover a stolen map",
    "keep a promise made years ago",
    "find a missing sister",
    "win one last race",
    "save a crumbling theatre",
    "decode a message from the past",
    "outrun a long winter",
    "bring a small town back together",
    "expose a careful lie",
    "finish an impossible journey",
]
_TWISTS = [
    "nobody can be trusted",
    "the past refuses to stay buried",
    "every choice has a price",
    "the real enemy is much closer",
    "time is running out",
    "the rules keep changing",
]
_TAGLINES = [
    "Some stories refuse to end.",
    "Everything changes tonight.",
    "No map. No rules. No way back.",
    "The truth has a long memory.",
    "One chance is all it takes.",
    "Hold on to what matters.",
]
_LANGUAGES = {
    "en": ("English", "English", "eng", "US", "usa", "United States of America"),
    "fr": ("French", "Français", "fra", "FR", "fra", "France"),
    "it": ("Italian", "Italiano", "ita", "IT", "ita", "Italy"),
    "de": ("German", "Deutsch", "deu", "DE", "deu", "Germany"),
    "es": ("Spanish", "Español", "spa", "ES", "esp", "Spain"),
    "ja": ("Japanese", "日本語", "jpn", "JP", "jpn", "Japan"),
    "sv": ("Swedish", "svenska", "swe", "SE", "swe", "Sweden"),
    "pt": ("Portuguese", "Português", "por", "BR", "bra", "Brazil"),
}
_ARTICLE_LANGUAGE = {
    "Il": "it", "Lo": "it", "Gli": "it", "I": "it", "La": "fr", "Le": "fr", "Les": "fr",
    "L'": "fr", "Un": "fr", "Une": "fr", "Der": "de", "Die": "de", "Das": "de", "Ein": "de",
    "Eine": "de", "El": "es", "Los": "es", "Las": "es", "Una": "es", "Det": "sv", "Den": "sv",
    "En": "sv", "Ett": "sv", "O": "pt", "Os": "pt", "As": "pt",
}  # fmt: skip
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
CERTIFICATIONS = {  # US certification → (GB, DE, FR)
    "G": ("U", "0", "U"),
    "PG": ("PG", "6", "U"),
    "PG-13": ("12A", "12", "U"),
    "R": ("15", "16", "12"),
    "NC-17": ("18", "18", "16"),
    "Not Rated": ("", "", ""),
    "Approved": ("U", "12", "U"),
}


class Person(NamedTuple):
    """A simulated person in a movie's credits."""

    person_id: int
    name: str
    role: str  # the character for cast, the job for crew
    department: str
    order: int


class Release(NamedTuple):
    """One simulated release of a movie."""

    country: str  # ISO-3166-1 alpha-2
    date: dt.date
    type: int  # TMDB release type: 1 premiere, 3 theatrical, 4 digital, 5 physical
    certification: str
    note: str


def genre_values(movie: Movie, column: int) -> list[Any]:
    """One `GENRES` column for the movie's genres (unknown ones such as IMAX skipped)."""
    return list(dict.fromkeys(GENRES[g][column] for g in movie.genres if g in GENRES))


def original_language(movie: Movie) -> str:
    """ISO-639-1 language of the original title (English unless MovieLens gives a foreign one)."""
    if not movie.original_title:
        return "en"
    first = movie.original_title.split(" ")[0]
    if first in _ARTICLE_LANGUAGE:
        return _ARTICLE_LANGUAGE[first]
    if first.startswith("L'"):
        return "fr"
    choices = ("fr", "it", "de", "es", "ja", "sv", "pt")
    return choices[synth.stable("lang", movie.movie_id) % len(choices)]


def language_info(code: str) -> tuple[str, str, str, str, str, str]:
    """(English name, native name, ISO-639-2, ISO-3166 country, TVDB country, country name)."""
    return _LANGUAGES.get(code, _LANGUAGES["en"])


def plot(movie: Movie, *, full: bool = False) -> str:
    """A clearly synthetic plot (``[simulated] …``); ``full`` adds two more sentences."""
    r = synth.rng("plot", movie.movie_id)
    genre = (movie.genres[0] if movie.genres else "drama").lower()
    article = "an" if genre[0] in "aeiou" else "a"
    text = (
        f"[simulated] A {r.choice(_ADJECTIVES)} {r.choice(_HEROES)} sets out to "
        f"{r.choice(_GOALS)}, only to learn that {r.choice(_TWISTS)}."
    )
    if full:
        text += (
            f" Told as {article} {genre} story, {movie.title} follows the journey from its first "
            f"uncertain step to a {r.choice(_ADJECTIVES)} ending. This text is generated by the "
            "metarr simulator and describes no real film."
        )
    return text


def tagline(movie: Movie) -> str:
    """A synthetic tagline, or ``""`` (about one movie in five has none)."""
    if synth.unit("tagline?", movie.movie_id) < 0.2:
        return ""
    return "[simulated] " + synth.rng("tagline", movie.movie_id).choice(_TAGLINES)


def certification(movie: Movie) -> str:
    """The simulated US certification."""
    if movie.year is not None and movie.year < 1968:
        return "Approved" if synth.unit("cert-old", movie.movie_id) < 0.6 else "Not Rated"
    genres = set(movie.genres)
    options: tuple[str, ...]
    if "Children" in genres or "Animation" in genres:
        options = ("G", "PG", "PG")
    elif "Horror" in genres or "Crime" in genres:
        options = ("R", "R", "PG-13", "NC-17")
    else:
        options = ("PG", "PG-13", "PG-13", "R", "R", "Not Rated")
    return options[synth.stable("cert", movie.movie_id) % len(options)]


def _date(year: int, *parts: object) -> dt.date:
    day = synth.stable("date", *parts) % 365
    return dt.date(year, 1, 1) + dt.timedelta(days=min(day, 364))


@functools.lru_cache(maxsize=1 << 15)
def releases(movie: Movie) -> tuple[Release, ...]:
    """Simulated releases; the first is TMDB's primary release (in `Movie.tmdb_year`).

    A movie whose TMDB year differs from MovieLens keeps another release in the MovieLens year,
    as real data does (festival premiere a year early, or a home-country release a year late).
    """
    if movie.year is None:
        return ()
    cert = certification(movie)
    gb, de, fr = CERTIFICATIONS.get(cert, ("", "", ""))
    lang = original_language(movie)
    home = language_info(lang)[3]
    primary = _date(movie.tmdb_year or movie.year, "primary", movie.movie_id)
    result = [Release(home, primary, 3, cert if home == "US" else "", "")]
    if movie.tmdb_year_shift > 0:
        result.append(
            Release("US", _date(movie.year, "premiere", movie.movie_id), 1, "", "Festival")
        )
    elif movie.tmdb_year_shift < 0:
        result.append(Release("US", _date(movie.year, "us", movie.movie_id), 3, cert, ""))
    elif home != "US":
        result.append(Release("US", primary + dt.timedelta(days=45), 3, cert, ""))
    later = primary + dt.timedelta(days=30 + synth.stable("gb", movie.movie_id) % 90)
    result.append(Release("GB", later, 3, gb, ""))
    result.append(Release("DE", later + dt.timedelta(days=14), 3, de, ""))
    if movie.year >= 1997:
        result.append(Release("US", primary + dt.timedelta(days=150), 5, cert, "DVD"))
    if home not in {r.country for r in result}:
        result.append(Release(home, primary, 3, fr if home == "FR" else "", ""))
    return tuple(result)


def release_in_movielens_year(movie: Movie) -> dt.date | None:
    """The release OMDb and TVDB report: the first one in the MovieLens year."""
    for release in releases(movie):
        if release.date.year == movie.year and release.type in (1, 3):
            return release.date
    return None


def omdb_date(value: dt.date | None) -> str:
    """``DD Mon YYYY`` as OMDb writes dates, or ``N/A``."""
    return "N/A" if value is None else f"{value.day:02d} {_MONTHS[value.month - 1]} {value.year}"


@functools.lru_cache(maxsize=1 << 15)
def cast(movie: Movie) -> tuple[Person, ...]:
    """Six to twelve simulated actors; people recur across movies (a shared pool of ids)."""
    r = synth.rng("cast", movie.movie_id)
    size = 6 + synth.stable("cast-size", movie.movie_id) % 7
    seen: set[int] = set()
    people = []
    for order in range(size):
        person_id = 1_000_000 + r.randrange(30_000)
        if person_id in seen:
            continue
        seen.add(person_id)
        character = synth.person_name(person_id + 7_777_777).split(" ")[0]
        people.append(Person(person_id, synth.person_name(person_id), character, "Acting", order))
    return tuple(people)


_CREW_JOBS = (
    ("Director", "Directing"),
    ("Screenplay", "Writing"),
    ("Writer", "Writing"),
    ("Producer", "Production"),
    ("Director of Photography", "Camera"),
    ("Original Music Composer", "Sound"),
    ("Editor", "Editing"),
)


@functools.lru_cache(maxsize=1 << 15)
def crew(movie: Movie) -> tuple[Person, ...]:
    """Simulated crew: one director (sometimes two), writers, producer, camera, music, editor."""
    r = synth.rng("crew", movie.movie_id)
    jobs = list(_CREW_JOBS)
    if synth.unit("two-directors", movie.movie_id) < 0.06:
        jobs.insert(1, ("Director", "Directing"))
    people = []
    for order, (job, department) in enumerate(jobs):
        person_id = 2_000_000 + r.randrange(20_000)
        people.append(Person(person_id, synth.person_name(person_id), job, department, order))
    return tuple(people)


def directors(movie: Movie) -> list[str]:
    """The directors' names."""
    return [p.name for p in crew(movie) if p.role == "Director"]


def writers(movie: Movie) -> list[str]:
    """The writers' names."""
    return [p.name for p in crew(movie) if p.department == "Writing"]


def imdb_rating(movie: Movie) -> float | None:
    """An IMDb-style rating out of 10, derived from the MovieLens mean rating."""
    if movie.mean_rating is None:
        return None
    jitter = (synth.unit("imdb-jitter", movie.movie_id) - 0.5) * 0.8
    return round(min(9.8, max(1.2, movie.mean_rating * 1.7 + 1.0 + jitter)), 1)


def imdb_votes(movie: Movie) -> int:
    """Simulated IMDb vote count, proportional to the number of MovieLens ratings."""
    return movie.n_ratings * (900 + synth.stable("votes", movie.movie_id) % 2400) + 17


def rotten_tomatoes(movie: Movie) -> int | None:
    """A Rotten Tomatoes percentage for better-known movies."""
    rating = imdb_rating(movie)
    if rating is None or movie.n_ratings < 8:
        return None
    spread = synth.stable("rt", movie.movie_id) % 21 - 10
    return max(0, min(100, int((rating - 3.5) * 16 + spread)))


def metascore(movie: Movie) -> int | None:
    """A Metacritic score for popular movies."""
    rating = imdb_rating(movie)
    if rating is None or movie.n_ratings < 20:
        return None
    spread = synth.stable("mc", movie.movie_id) % 15 - 7
    return max(1, min(100, int(rating * 10 - 12 + spread)))


def tmdb_vote(movie: Movie) -> tuple[float, int]:
    """(vote_average, vote_count) as TMDB reports them."""
    rating = imdb_rating(movie)
    if rating is None:
        return 0.0, 0
    average = round(rating + (synth.unit("tmdb-vote", movie.movie_id) - 0.5) * 0.6, 3)
    return max(0.0, min(10.0, average)), movie.n_ratings * 37 + synth.stable(
        "tv", movie.movie_id
    ) % 50


def image_count(movie: Movie, kind: str, low: int, high: int) -> int:
    """How many images of a kind a provider has (more for popular movies)."""
    fame = min(1.0, movie.n_ratings / 150)
    span = high - low
    return low + int(span * (0.35 * synth.unit("images", kind, movie.movie_id) + 0.65 * fame))


def companies(movie: Movie) -> list[tuple[int, str, str]]:
    """One to three simulated production companies: (id, name, origin country)."""
    r = synth.rng("companies", movie.movie_id)
    home = language_info(original_language(movie))[3]
    result = []
    for _ in range(1 + synth.stable("n-companies", movie.movie_id) % 3):
        company_id = 90_000 + r.randrange(400)
        name = synth.person_name(company_id).split(" ")[1] + r.choice(
            (" Pictures", " Films", " Studios", " Entertainment", " Productions")
        )
        result.append((company_id, name, home))
    return result


def trailer_keys(movie: Movie) -> list[str]:
    """Zero to three simulated YouTube video keys."""
    count = synth.stable("videos", movie.movie_id) % 4 if movie.n_ratings else 0
    return [synth.token(11, "video", movie.movie_id, i) for i in range(count)]
