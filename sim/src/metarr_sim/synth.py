"""Deterministic simulated data: everything MovieLens does not know, derived from stable hashes.

Nothing here is real. Plots and taglines start with ``[simulated]``, people have invented names,
images live on made-up ``*.sim.invalid`` hosts, and every value is a pure function of a movie's
ids, so two runs (and two machines) build identical worlds.
"""

from __future__ import annotations

import functools
import hashlib
import random
import string

from metarr_sim.titles import normalise

__all__ = [
    "IMAGE_HOSTS",
    "hex_token",
    "person_name",
    "rng",
    "slug",
    "stable",
    "token",
    "unit",
]

IMAGE_HOSTS = {
    "tmdb": "https://image.tmdb.sim.invalid/t/p/",
    "fanart": "https://assets.fanart.sim.invalid/fanart/movies",
    "tvdb": "https://artworks.thetvdb.sim.invalid/banners/movies",
    "omdb": "https://m.media-amazon.sim.invalid/images/M",
}

_ONSETS = [
    "b",
    "br",
    "c",
    "ch",
    "d",
    "dr",
    "f",
    "g",
    "gr",
    "h",
    "j",
    "k",
    "l",
    "m",
    "n",
    "p",
    "pr",
    "r",
    "s",
    "st",
    "t",
    "tr",
    "v",
    "w",
    "z",
    "bl",
    "cl",
    "fl",
    "gl",
    "pl",
    "sl",
    "sh",
    "th",
    "qu",
]
_VOWELS = ["a", "e", "i", "o", "u", "a", "e", "i", "o", "ae", "ea", "ia", "io", "ou", "ai"]
_CODAS = ["n", "r", "l", "s", "th", "nd", "rk", "m", "v", "x", "ll", "rn", "st"] + [""] * 6
_ALPHABET = string.ascii_letters + string.digits


def stable(*parts: object) -> int:
    """A 64-bit hash of ``parts`` that never changes between runs or machines."""
    text = "\x1f".join(str(part) for part in parts)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "big")


def unit(*parts: object) -> float:
    """A stable number in ``[0, 1)`` derived from ``parts``."""
    return stable(*parts) / 2**64


def rng(*parts: object) -> random.Random:
    """A random generator seeded stably from ``parts``."""
    return random.Random(stable(*parts))


@functools.lru_cache(maxsize=1 << 16)
def token(length: int, *parts: object) -> str:
    """A stable alphanumeric token (image file names, video keys)."""
    digest = hashlib.blake2b("\x1f".join(map(str, parts)).encode(), digest_size=64).digest()
    return "".join(_ALPHABET[byte % len(_ALPHABET)] for byte in digest[:length])


def hex_token(length: int, *parts: object) -> str:
    """A stable lowercase hex token."""
    return f"{stable('hex', *parts):016x}"[:length]


def _word(generator: random.Random, syllables: int) -> str:
    parts = [
        generator.choice(_ONSETS) + generator.choice(_VOWELS) + generator.choice(_CODAS)
        for _ in range(syllables)
    ]
    return "".join(parts).capitalize()


@functools.lru_cache(maxsize=1 << 16)
def person_name(person_id: int) -> str:
    """An invented, pronounceable name for a simulated person id."""
    generator = rng("person", person_id)
    first = _word(generator, generator.choice((1, 2, 2)))
    last = _word(generator, generator.choice((2, 2, 3)))
    return f"{first} {last}"


def slug(text: str) -> str:
    """A URL slug: lowercase ASCII words joined by dashes."""
    return "-".join(normalise(text).encode("ascii", "ignore").decode().split()) or "movie"
