"""metarr-tmdb: the TMDB (The Movie Database, API v3) provider plugin for metarr."""

from metarr_tmdb.provider import TmdbProvider

__all__ = ["TmdbProvider"]
