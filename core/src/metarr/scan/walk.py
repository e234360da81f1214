"""Walking a movie library: which folders and files are movie items, which are not, and why.

A **movie item** is a folder holding one movie (one main video, a multi-part set ``cd1/cd2``,
``part1/part2``, ``disc1/disc2`` — as files or as part folders —, a DVD ``VIDEO_TS`` or a
Blu-ray ``BDMV`` structure), or a loose video file in a folder that holds several movies (or
other movie folders). The scanned root is always a library: its loose videos are items.

Not items: extras folders and files, samples, trailers, TV episodes and season folders (reported
as `Skipped`), hidden, NAS/system and companion folders (``Subs``, ``extrafanart``; not
reported). Folders that cannot be read and symlink loops are reported as `Problem` and the walk
goes on. Nothing depends on file sizes or contents.

The walk is a generator over lazily read directories: memory stays flat in the library's size
(it holds the folders along the current path and a bounded summary of one folder).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import attrs

from metarr.scan import names

Layout = Literal["file", "multipart", "dvd", "bluray", "loose"]
MAX_PARTS = 26  # more videos than this in one folder is a collection, never one movie
MAX_LISTED = 64  # ignored videos and NFO names remembered per folder
_PART_FOLDER_LABELS = ("cd", "dvd", "part", "pt", "disc", "disk")
_scandir = os.scandir  # tests replace it to simulate unreadable folders (root reads anything)


@attrs.frozen(kw_only=True)
class NfoFile:
    """An NFO belonging to an item: its path relative to the item's folder, size and mtime."""

    name: str
    size: int
    mtime_ns: int


@attrs.frozen(kw_only=True)
class Item:
    """One movie item. ``key`` is its printable path relative to the root (``/`` separators);
    ``folder`` is the folder holding it (its own folder, or the folder of a loose file)."""

    key: str
    rel: str  # the exact relative path (``/`` separators, undecodable bytes as surrogates)
    path: Path
    folder: Path
    layout: Layout
    videos: tuple[str, ...]  # main video files (or part folders), relative to ``folder``
    nfos: tuple[NfoFile, ...]


@attrs.frozen(kw_only=True)
class Skipped:
    """A folder or file that is not a movie item, and why."""

    key: str
    reason: str


@attrs.frozen(kw_only=True)
class Problem:
    """A folder the walk could not read (or a symlink loop); the walk went on without it."""

    key: str
    reason: str


Found = Item | Skipped | Problem


class ScanRootError(Exception):
    """The root itself cannot be scanned (missing, not a folder, unreadable)."""


def walk(root: Path) -> Iterator[Found]:
    """Every movie item, skipped entry and problem under ``root``, streamed."""
    try:
        info = os.stat(root)
    except OSError as exc:
        raise ScanRootError(f"cannot scan {root}: {exc.strerror or exc}") from None
    if not os.path.isdir(root):
        raise ScanRootError(f"cannot scan {root}: not a folder")
    try:
        listing = _scandir(root)
    except OSError as exc:
        raise ScanRootError(f"cannot scan {root}: {exc.strerror or exc}") from None
    listing.close()
    yield from _container(Path(root), "", frozenset({(info.st_dev, info.st_ino)}))


def _key(rel: str) -> str:
    return names.printable(rel)


def _join(rel: str, name: str) -> str:
    return f"{rel}/{name}" if rel else name


def _entries(folder: Path, rel: str) -> Iterator[os.DirEntry[str] | Problem]:
    """The folder's entries, lazily; a read failure becomes one `Problem` (and the end)."""
    try:
        with _scandir(folder) as listing:
            yield from listing
    except OSError as exc:
        yield Problem(key=_key(rel) or ".", reason=f"cannot read folder: {exc.strerror or exc}")


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


def _is_file(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_file()
    except OSError:
        return False


def _container(folder: Path, rel: str, ancestors: frozenset[tuple[int, int]]) -> Iterator[Found]:
    """A folder holding several movies: loose videos are items, subfolders are visited."""
    for entry in _entries(folder, rel):
        if isinstance(entry, Problem):
            yield entry
            continue
        child = _join(rel, entry.name)
        if _is_dir(entry):
            yield from _folder(Path(entry.path), child, entry.name, ancestors)
        elif _is_file(entry) and names.is_video(entry.name):
            reason = names.ignored_video(entry.name)
            if reason is None:
                yield _loose(folder, child, entry.name)
            elif reason not in names.QUIET:
                yield Skipped(key=_key(child), reason=reason)


def _loose(folder: Path, rel: str, name: str) -> Item:
    """A loose video: its NFO is ``<video name>.nfo`` beside it (one stat)."""
    nfo_name = os.path.splitext(name)[0] + ".nfo"
    nfos = tuple(filter(None, [_nfo(folder / nfo_name, nfo_name)]))
    return Item(
        key=_key(rel),
        rel=rel,
        path=folder / name,
        folder=folder,
        layout="loose",
        videos=(name,),
        nfos=nfos,
    )


def _nfo(path: Path, name: str) -> NfoFile | None:
    try:
        info = os.stat(path)
    except OSError:
        return None
    return NfoFile(name=name, size=info.st_size, mtime_ns=info.st_mtime_ns)


@attrs.define
class _Summary:
    """What one pass over a folder's entries found, bounded in size."""

    disc: Layout | None = None
    videos: list[str] = attrs.field(factory=list)
    video_count: int = 0
    ignored: list[tuple[str, str]] = attrs.field(factory=list)  # extras folders and files
    part_folders: list[str] = attrs.field(factory=list)
    other_folders: int = 0
    nfos: list[os.DirEntry[str]] = attrs.field(factory=list)


def _summarize(folder: Path) -> _Summary:
    found = _Summary()
    with _scandir(folder) as listing:
        for entry in listing:
            name, folded = entry.name, entry.name.casefold()
            if _is_dir(entry):
                if folded == "video_ts":
                    found.disc = found.disc or "dvd"
                elif folded == "bdmv":
                    found.disc = found.disc or "bluray"
                elif _is_part_folder(name):
                    if len(found.part_folders) < MAX_PARTS:
                        found.part_folders.append(name)
                    else:
                        found.other_folders += 1
                else:
                    reason = names.ignored_folder(name)
                    if reason is None:
                        found.other_folders += 1
                    elif reason not in names.QUIET and len(found.ignored) < MAX_LISTED:
                        found.ignored.append((name, reason))
                continue
            if not _is_file(entry):
                continue
            if folded == "video_ts.ifo":
                found.disc = found.disc or "dvd"
            elif folded == "index.bdmv":
                found.disc = found.disc or "bluray"
            elif folded.endswith(".nfo") and len(found.nfos) < MAX_LISTED:
                found.nfos.append(entry)
            elif names.is_video(name):
                reason = names.ignored_video(name)
                if reason is not None:
                    if len(found.ignored) < MAX_LISTED and reason not in names.QUIET:
                        found.ignored.append((name, reason))
                    continue
                found.video_count += 1
                if len(found.videos) <= MAX_PARTS:
                    found.videos.append(name)
    return found


def _is_part_folder(name: str) -> bool:
    stem = name.casefold().replace(" ", "").replace("_", "").replace("-", "").replace(".", "")
    for label in _PART_FOLDER_LABELS:
        if stem.startswith(label) and stem[len(label) :].isdigit():
            return True
    return False


def _layout(found: _Summary) -> tuple[Layout, tuple[str, ...]] | None:
    """The item a summarized folder is, with its main videos; None for a container."""
    if found.disc is not None and found.video_count == 0:
        return found.disc, ()
    if found.other_folders:
        return None
    if found.video_count == 1 and not found.part_folders:
        return "file", tuple(found.videos)
    if 2 <= found.video_count <= MAX_PARTS and not found.part_folders:
        parts = [names.part_of(os.path.splitext(name)[0]) for name in found.videos]
        bases = {part[0] for part in parts if part is not None}
        numbers = {part[1] for part in parts if part is not None}
        if None not in parts and len(bases) == 1 and len(numbers) == len(parts):
            return "multipart", tuple(sorted(found.videos))
    if found.video_count == 0 and found.part_folders:
        return "multipart", tuple(sorted(found.part_folders))
    return None


def _folder(
    path: Path, rel: str, name: str, ancestors: frozenset[tuple[int, int]]
) -> Iterator[Found]:
    reason = names.ignored_folder(name)
    if reason is not None:
        if reason not in names.QUIET:
            yield Skipped(key=_key(rel), reason=reason)
        return
    try:
        info = os.stat(path)
        if (info.st_dev, info.st_ino) in ancestors:
            yield Problem(key=_key(rel), reason="symlink loop: this folder contains itself")
            return
        found = _summarize(path)
    except OSError as exc:
        yield Problem(key=_key(rel), reason=f"cannot read folder: {exc.strerror or exc}")
        return
    inside = ancestors | {(info.st_dev, info.st_ino)}
    layout = _layout(found)
    if layout is None:
        yield from _container(path, rel, inside)
        return
    kind, videos = layout
    yield Item(
        key=_key(rel),
        rel=rel,
        path=path,
        folder=path,
        layout=kind,
        videos=videos,
        nfos=_folder_nfos(path, kind, videos, found.nfos),
    )
    for entry_name, why in found.ignored:
        yield Skipped(key=_key(_join(rel, entry_name)), reason=why)


def _folder_nfos(
    path: Path, layout: Layout, videos: tuple[str, ...], listed: list[os.DirEntry[str]]
) -> tuple[NfoFile, ...]:
    """The item's NFOs, most specific first: ``<video>.nfo`` (for a set also ``<set>.nfo``),
    ``movie.nfo``, DVD's ``VIDEO_TS/VIDEO_TS.nfo``; else the folder's only NFO."""
    by_name = {entry.name.casefold(): entry for entry in listed}
    wanted: list[str] = []
    for video in videos if layout in ("file", "multipart") else ():
        stem = os.path.splitext(video)[0]
        wanted += [stem + ".nfo", names.without_part(stem) + ".nfo"]
    wanted.append("movie.nfo")
    picked = [
        by_name[name.casefold()] for name in dict.fromkeys(wanted) if name.casefold() in by_name
    ]
    if not picked and len(listed) == 1:
        picked = list(listed)
    nfos = [_entry_nfo(entry) for entry in dict.fromkeys(picked)]
    if layout == "dvd":
        nfos.append(_nfo(path / "VIDEO_TS" / "VIDEO_TS.nfo", "VIDEO_TS/VIDEO_TS.nfo"))
    return tuple(nfo for nfo in nfos if nfo is not None)


def _entry_nfo(entry: os.DirEntry[str]) -> NfoFile | None:
    try:
        info = entry.stat()
    except OSError:
        return None
    return NfoFile(name=entry.name, size=info.st_size, mtime_ns=info.st_mtime_ns)
