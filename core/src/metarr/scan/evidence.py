"""The evidence for one movie item, each piece with where it came from, in order of trust.

1. ``nfo``: ids (and title, year) in the item's NFO files;
2. ``folder_tag`` / ``file_tag``: id tags in the folder and file names;
3. ``folder_name`` / ``file_name``: the title and year the names give (the folder's, else the
   file's).

Nothing is thrown away: an NFO whose ids disagree with each other or with a tag keeps every
piece, and `Evidence.contradictions` names them — the engine decides (``conflict``).
"""

from __future__ import annotations

import os
from typing import Any, Literal, get_args

import attrs

from metarr.errors import InvalidIdError
from metarr.ids import ID_KINDS, Ids
from metarr.query import Query
from metarr.scan import names, nfo
from metarr.scan.walk import Item
from metarr.titleforms import title_forms

Source = Literal["nfo", "folder_tag", "file_tag", "folder_name", "file_name"]
SOURCES: tuple[Source, ...] = get_args(Source)  # most trusted first
NAME_SOURCES: tuple[Source, ...] = ("folder_name", "file_name")
ClueKind = Literal["tmdb", "imdb", "tvdb", "title", "original_title", "year"]
CLUE_KINDS: tuple[ClueKind, ...] = get_args(ClueKind)


@attrs.frozen(kw_only=True)
class Clue:
    """One piece of evidence: an id, a title or a year, its source, and where exactly
    (``movie.nfo: uniqueid type="tmdb"``, the name it was read from)."""

    kind: ClueKind
    value: int | str
    source: Source
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        """Plain data: ``{"kind", "value", "source", "detail"}``."""
        return {
            "kind": self.kind,
            "value": self.value,
            "source": self.source,
            "detail": self.detail,
        }


@attrs.frozen(kw_only=True)
class Evidence:
    """Everything found about one item, most trusted first, plus notes for a person."""

    clues: tuple[Clue, ...] = ()
    notes: tuple[str, ...] = ()

    def ids(self) -> Ids:
        """The most trusted id of each kind."""
        chosen: dict[str, int | str] = {}
        for clue in self.clues:
            if clue.kind in ID_KINDS:
                chosen.setdefault(clue.kind, clue.value)
        return Ids(**chosen)

    def contradictions(self) -> tuple[str, ...]:
        """One line per id kind that has several values (``tmdb 603 (nfo …) vs 949 (…)``)."""
        lines: list[str] = []
        for kind in ID_KINDS:
            seen: dict[int | str, str] = {}
            for clue in self.clues:
                if clue.kind == kind:
                    seen.setdefault(clue.value, f"{clue.source} {clue.detail}".strip())
            if len(seen) > 1:
                said = " vs ".join(f"{value} ({where})" for value, where in seen.items())
                lines.append(f"{kind} {said}")
        return tuple(lines)

    def title_year(self) -> tuple[str | None, int | None]:
        """The title and year to search for: from the folder name, else the file name, else
        the NFO (a name that gives both a title and a year comes before one that gives a
        title only: "Unsorted/Se7en.1995.720p.mkv" is Se7en); the year from the same source
        when it has one, else from the next."""
        dated = {c.source for c in self.clues if c.kind == "year"}
        for sources in (NAME_SOURCES, ("nfo",)):
            titles = [c for c in self.clues if c.kind == "title" and c.source in sources]
            title = next((c for c in titles if c.source in dated), None) or next(iter(titles), None)
            if title is None:
                continue
            order = [title.source, *(s for s in sources if s != title.source)]
            years = [c for c in self.clues if c.kind == "year" and c.source in sources]
            year = next((c for s in order for c in years if c.source == s), None)
            return str(title.value), int(year.value) if year is not None else None
        return None, None

    def title_forms(self) -> tuple[str, ...]:
        """Every name the search title stands for (`metarr.titleforms.title_forms`)."""
        title, _ = self.title_year()
        return title_forms(title) if title else ()

    def query(self, key: str) -> Query | None:
        """The query for this evidence: the most trusted ids, and the title and year from the
        names (so the engine can check that the ids' record fits them); None when empty."""
        title, year = self.title_year()
        ids = self.ids()
        if not ids and title is None:
            return None
        try:
            return Query(ids=ids, title=title, year=year, key=key)
        except InvalidIdError:
            return Query(ids=ids, key=key) if ids else None

    def to_json(self) -> dict[str, Any]:
        """Plain data for the JSON contract and the scan table."""
        return {"clues": [c.to_json() for c in self.clues], "notes": list(self.notes)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Evidence:
        """Back from `to_json` (as stored in the scan table)."""
        clues = tuple(
            Clue(kind=c["kind"], value=c["value"], source=c["source"], detail=c.get("detail", ""))
            for c in data.get("clues", ())
            if c.get("kind") in CLUE_KINDS and c.get("source") in SOURCES
        )
        return cls(clues=clues, notes=tuple(str(n) for n in data.get("notes", ())))


def gather(item: Item) -> Evidence:
    """Read an item's NFOs and names into its evidence (this is the only parsing a scan does)."""
    clues: list[Clue] = []
    notes: list[str] = []
    for found in item.nfos:
        reading = nfo.read(item.folder / found.name)
        label = names.printable(found.name)
        clues += [
            Clue(kind=f.kind, value=f.value, source="nfo", detail=f"{label}: {f.where}")  # type: ignore[arg-type]
            for f in reading.findings
        ]
        notes += [f"{label}: {note}" for note in reading.notes]
    folder_name = None if item.layout == "loose" else item.path.name
    stems = _stems(item)
    if folder_name is not None:
        clues += _tags(folder_name, "folder_tag")
    for stem in stems:
        clues += _tags(stem, "file_tag")
    readings: list[tuple[Source, str]] = []
    if folder_name is not None:
        readings.append(("folder_name", folder_name))
    readings += [("file_name", stem) for stem in stems[:1]]
    for source, name in readings:
        found_title = names.title_year(name)
        if found_title is None:
            continue
        detail = f"{found_title.via}: {names.printable(name)}"
        clues.append(Clue(kind="title", value=found_title.title, source=source, detail=detail))
        if found_title.year is not None:
            clues.append(Clue(kind="year", value=found_title.year, source=source, detail=detail))
            break  # a name with a title and a year is enough: the file name is not read
    return Evidence(clues=tuple(_distinct(clues)), notes=tuple(notes))


def _stems(item: Item) -> list[str]:
    """The video file stems whose names are evidence (none for disc structures)."""
    if item.layout in ("dvd", "bluray"):
        return []
    if item.layout == "multipart":
        stems = [os.path.splitext(v)[0] if names.is_video(v) else v for v in item.videos]
        return list(dict.fromkeys(names.without_part(stem) for stem in stems if stem))
    return [os.path.splitext(video)[0] for video in item.videos]


def _tags(name: str, source: Source) -> list[Clue]:
    detail = names.printable(name)
    return [
        Clue(kind=kind, value=value, source=source, detail=detail)
        for kind, value in names.id_tags(name)
    ]


def _distinct(clues: list[Clue]) -> list[Clue]:
    """One clue per (kind, value, source): a set's parts repeat the same tag."""
    seen: dict[tuple[str, int | str, str], Clue] = {}
    for clue in clues:
        seen.setdefault((clue.kind, clue.value, clue.source), clue)
    return list(seen.values())
