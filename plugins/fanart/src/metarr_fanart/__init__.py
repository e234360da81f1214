"""metarr-fanart: the Fanart.tv v3 artwork provider for metarr."""

from metarr_fanart.parse import IMAGE_KEYS, parse_images, parse_movie
from metarr_fanart.provider import FIELD_PRIORITY, FanartProvider

__all__ = ["FIELD_PRIORITY", "IMAGE_KEYS", "FanartProvider", "parse_images", "parse_movie"]
