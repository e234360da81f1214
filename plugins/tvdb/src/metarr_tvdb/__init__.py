"""TheTVDB v4 provider for metarr: movie records, artwork, cast and remote ids."""

from metarr_tvdb.provider import TvdbProvider

__all__ = ["TvdbProvider"]
