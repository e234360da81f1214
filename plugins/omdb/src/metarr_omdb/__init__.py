"""metarr-omdb: the OMDb (www.omdbapi.com) provider plugin for metarr."""

from metarr_omdb.provider import OmdbProvider, make_classifier, next_midnight_utc

__all__ = ["OmdbProvider", "make_classifier", "next_midnight_utc"]
