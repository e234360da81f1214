"""How long a cached provider part stays fresh: the provider's TTL, stretched with the film's age.

A film released long ago changes rarely: its TMDB record, its ratings and its artwork settle
within a few years. `AgeRule` multiplies a provider's TTL by a factor chosen by the film's age;
the default (`DEFAULT_AGE_TTL`) keeps the TTL for films of the last year (new home releases,
ratings still moving), × 4 from 1 to 5 years, × 12 beyond. With TMDB's 7 days that is one
refresh a week, a month and a quarter. Age is counted from the end of the release year (the
cache indexes the year, not the date), so a film is never taken for older than it is.

A part also stays fresh after a provider's change feed confirmed it unchanged (see
`metarr.hookspecs.changed_since`): its freshness then counts from that confirmation.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any

import attrs

from metarr.errors import ConfigError

DEFAULT_AGE_TTL: tuple[tuple[float, float], ...] = ((1.0, 1.0), (5.0, 4.0), (math.inf, 12.0))
"""(films younger than this many years, TTL factor), ascending; the last band takes the rest."""
DEFAULT_FEED_LOOKBACK_DAYS = 90.0
"""The oldest fetch a change feed may vouch for; older parts are refetched."""
_YEAR = timedelta(days=365.25)
_BEFORE_ANY_YEAR = -(10**6)


def _bands(value: Any) -> tuple[tuple[float, float], ...]:
    """Validated (years, factor) bands: years ascending and positive, factors at least 1."""
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise ConfigError("refresh.age_ttl must be a list of [years, factor] pairs")
    bands: list[tuple[float, float]] = []
    for item in value:
        if (
            isinstance(item, str | bytes)
            or not isinstance(item, Iterable)
            or len(pair := list(item)) != 2
            or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in pair)
        ):
            raise ConfigError(f"refresh.age_ttl: each band is [years, factor], not {item!r}")
        years, factor = float(pair[0]), float(pair[1])
        if not years > 0 or (bands and years <= bands[-1][0]):
            raise ConfigError(
                f"refresh.age_ttl: band ages must be positive and ascending, not {years:g}"
            )
        if not (math.isfinite(factor) and factor >= 1):
            raise ConfigError(f"refresh.age_ttl: a factor must be a number ≥ 1, not {factor:g}")
        bands.append((years, factor))
    if not bands:
        raise ConfigError("refresh.age_ttl needs at least one [years, factor] band")
    return tuple(bands)


def _lookback(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 3650:
        raise ConfigError(f"refresh.feed_lookback_days must be 0 to 3650 days, not {value!r}")
    return float(value)


def _share(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise ConfigError(f"refresh.refresh_share must be between 0 and 1, not {value!r}")
    return float(value)


@attrs.frozen(kw_only=True)
class RefreshRules:
    """What ``refresh --stale`` may do: the ``[refresh]`` table of the config file.

    ``age_ttl``: (years, factor) bands stretching each provider's TTL by the film's age.
    ``feed_lookback_days``: the oldest fetch a provider's change feed may confirm (0: never
    use a feed). ``refresh_share``: the share of a provider's declared daily request allowance
    (its ``daily_requests`` option) that refreshes may spend, so identifications keep the rest.
    """

    age_ttl: tuple[tuple[float, float], ...] = attrs.field(
        default=DEFAULT_AGE_TTL, converter=_bands
    )
    feed_lookback_days: float = attrs.field(default=DEFAULT_FEED_LOOKBACK_DAYS, converter=_lookback)
    refresh_share: float = attrs.field(default=0.5, converter=_share)

    def factor(self, year: int | None, now: datetime) -> float:
        """The TTL factor of a film released in ``year`` (unknown: the first band's)."""
        if year is None:
            return self.age_ttl[0][1]
        return next(factor for earliest, factor in self.year_bands(now) if year >= earliest)

    def year_bands(self, now: datetime) -> list[tuple[int, float]]:
        """(earliest release year, factor) per band, youngest first; a film of year ``y``
        takes the factor of the first band whose earliest year is ≤ ``y``. A film is younger
        than ``years`` when its release year ended less than ``years`` ago."""
        bands: list[tuple[int, float]] = []
        for years, factor in self.age_ttl:
            if math.isinf(years) or years * 365.25 > 10**6:
                break
            bands.append(((now - years * _YEAR).year, factor))
        bands.append((_BEFORE_ANY_YEAR, self.age_ttl[-1][1]))
        return bands

    def ttl(self, days: float, year: int | None, now: datetime) -> timedelta:
        """A provider TTL of ``days`` for a film of ``year``."""
        return timedelta(days=max(0.0, days) * self.factor(year, now))


FLAT = RefreshRules(age_ttl=((math.inf, 1.0),))
"""Rules that leave every TTL as it is, whatever the film's age."""


def rules_from(value: RefreshRules | Mapping[str, Any] | None) -> RefreshRules:
    """`RefreshRules` from itself, a mapping of its fields (code or the config file), or None."""
    if value is None:
        return RefreshRules()
    if isinstance(value, RefreshRules):
        return value
    if not isinstance(value, Mapping):
        raise ConfigError("refresh must be a table of settings")
    known = {field.name for field in attrs.fields(RefreshRules)}
    unknown = sorted(set(value) - known)
    if unknown:
        raise ConfigError(
            f"refresh: unknown setting(s) {', '.join(unknown)}; "
            f"valid ones are {', '.join(sorted(known))}"
        )
    return RefreshRules(**value)
