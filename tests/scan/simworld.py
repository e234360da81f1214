"""The simulator's world for the identifying scan tests: the bundled world plus the two films
of the issue (from MovieLens full, ml-32m), and settings pointing at a simulator."""

from __future__ import annotations

from pathlib import Path

from metarr import Settings, load_settings
from metarr.plugins import discover
from metarr_sim import PROVIDERS, SimServer
from metarr_sim.world import Movie

MONTPENSIER = "Princess of Montpensier, The (La princesse de Montpensier)"
ROSEMARY = "Look What's Happened to Rosemary's Baby (a.k.a. Rosemary's Baby II)"
EXTRA = (
    Movie.build(
        movie_id=86300,
        ml_title=f"{MONTPENSIER} (2010)",
        imdb_id="tt1599975",
        tmdb_id=57695,
        genres=("Drama",),
    ),
    Movie.build(
        movie_id=84279,
        ml_title=f"{ROSEMARY} (1976)",
        imdb_id="tt0074815",
        tmdb_id=117258,
        genres=("Horror",),
    ),
)


def settings(sim: SimServer, db: Path) -> Settings:
    """Settings for the bundled providers, pointed at ``sim``, with the cache at ``db``."""
    plugins = [info for info in discover() if info.name in PROVIDERS]
    return load_settings(plugins, env=sim.settings_env(), db_path=db)
