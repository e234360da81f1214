"""What can stop a cache operation besides the database itself: a movie whose stored data cannot
be read, and a commit that would take an id the caller gave from a different cached movie."""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from metarr.errors import MetarrError, StorageError
from metarr.ids import Ids


class UnreadableMovieError(StorageError):
    """A cached movie's stored data cannot be read (nothing else in the cache is affected).

    ``movie_id`` is its row id and ``ids`` the ids its row holds (readable on their own), so
    ``metarr cache repair`` can refetch it or drop it.
    """

    def __init__(self, movie_id: int, ids: Ids, reason: str) -> None:
        ref = ids.items()[0] if ids else None
        how = (
            f"`metarr cache repair {ref[0]}:{ref[1]}` refetches it, `--drop` deletes it"
            if ref
            else "`metarr cache repair --drop` deletes it"
        )
        super().__init__(f"cached movie {movie_id} ({ids}) cannot be read: {reason}; {how}")
        self.movie_id = movie_id
        self.ids = ids
        self.reason = reason


@attrs.frozen(kw_only=True)
class Clash:
    """An id of a movie being committed that a different cached movie holds."""

    kind: str
    value: int | str
    holder_id: int
    holder: str  # a label: ``Heat (1995) tmdb:949 imdb:tt0113277 tvdb:1002``
    holder_ids: Ids
    provider: str | None  # who gave the new movie this id


class IdConflictError(MetarrError):
    """Nothing was committed: an id the caller gave belongs to a different cached movie.

    ``clashes`` name the cached movies; ``claimant`` labels the movie the providers described.
    """

    def __init__(self, claimant: str, clashes: Sequence[Clash]) -> None:
        self.claimant = claimant
        self.clashes = tuple(clashes)
        super().__init__("; ".join(self.reasons()))

    def reasons(self) -> list[str]:
        """One sentence per clash, for an outcome's reasons."""
        return [
            f"{c.kind} {c.value} is {c.holder} (movie {c.holder_id}) in the cache, but "
            f"{c.provider or 'the providers'} now give{'s' if c.provider else ''} it to "
            f"{self.claimant}; nothing was committed: a person must decide"
            for c in self.clashes
        ]
