"""Building movie libraries on disk for the scan tests and the benchmark: empty video files,
NFOs, every layout. A library is a mapping of relative paths (``/`` separators; a trailing
``/`` makes an empty folder) to file contents (``""`` for an empty file)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def nfo(*, tmdb: int | None = None, imdb: str | None = None, title: str | None = None) -> str:
    """A Kodi movie NFO with ``<uniqueid>`` elements (and a title)."""
    parts = ["<?xml version='1.0' encoding='UTF-8'?>", "<movie>"]
    if title is not None:
        parts.append(f"  <title>{title}</title>")
    if tmdb is not None:
        parts.append(f'  <uniqueid type="tmdb" default="true">{tmdb}</uniqueid>')
    if imdb is not None:
        parts.append(f'  <uniqueid type="imdb">{imdb}</uniqueid>')
    parts.append("</movie>")
    return "\n".join(parts) + "\n"


def build(root: Path, files: Mapping[str, str | bytes]) -> Path:
    """Create ``files`` under ``root`` (names may hold surrogate-escaped bytes); return root."""
    for rel, content in files.items():
        path = root / rel
        if rel.endswith("/"):
            path.mkdir(parents=True, exist_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        with open(os.fsencode(path), "wb") as handle:
            handle.write(data)
    return root


# Every layout the scan knows, with the evidence each item must give. Keys are item keys;
# each value lists (kind, value, source) triples in order, or a skip/problem reason.
EVERY_LAYOUT: dict[str, str | bytes] = {
    # A Radarr folder with an NFO that agrees.
    "The Matrix (1999)/The Matrix (1999) Bluray-1080p.mkv": "",
    "The Matrix (1999)/movie.nfo": nfo(tmdb=603, imdb="tt0133093", title="The Matrix"),
    # A stale NFO: its ids are The Matrix's, the folder says Heat.
    "Heat (1995)/Heat.1995.mkv": "",
    "Heat (1995)/Heat.1995.nfo": nfo(tmdb=603, imdb="tt0133093"),
    # An NFO contradicting itself (Heat's TMDB id, The Matrix's IMDb id, two TMDB ids).
    "Confused (2001)/Confused.mkv": "",
    "Confused (2001)/movie.nfo": nfo(tmdb=949, imdb="tt0133093").replace(
        "</movie>", "  <tmdbid>603</tmdbid>\n</movie>"
    ),
    # Id tags: Plex in the folder, Jellyfin and Emby in file names, a bare IMDb id.
    "Alien (1979) {tmdb-348}/Alien (1979).mkv": "",
    "Aliens (1986)/Aliens (1986) [imdbid-tt0090605].mkv": "",
    "Alien 3 (1992)/Alien 3 [tmdbid=8077].mkv": "",
    "Prometheus tt1446714/Prometheus.mkv": "",
    # An NFO holding only a URL.
    "Amelie (2001)/Amelie.mkv": "",
    "Amelie (2001)/Amelie.nfo": "https://www.imdb.com/title/tt0211915/\n",
    # Library title forms.
    "Princess of Montpensier, The (La princesse de Montpensier) (2010)/movie.mkv": "",
    "Look What's Happened to Rosemary's Baby (a.k.a. Rosemary's Baby II) (1976)/x.avi": "",
    "Face+Off (1997)/Face+Off (1997).mkv": "",
    # Multi-part files and part folders.
    "Kill Bill (2003)/Kill Bill (2003) - cd1.avi": "",
    "Kill Bill (2003)/Kill Bill (2003) - cd2.avi": "",
    "Kill Bill (2003)/Kill Bill (2003).nfo": nfo(tmdb=24),
    "Gone with the Wind (1939)/Disc 1/VIDEO_TS/VIDEO_TS.IFO": "",
    "Gone with the Wind (1939)/Disc 2/VIDEO_TS/VIDEO_TS.IFO": "",
    # DVD and Blu-ray structures.
    "Casablanca (1942)/VIDEO_TS/VIDEO_TS.IFO": "",
    "Casablanca (1942)/VIDEO_TS/VTS_01_1.VOB": "",
    "Casablanca (1942)/VIDEO_TS/VIDEO_TS.nfo": nfo(tmdb=289),
    "Vertigo (1958)/BDMV/index.bdmv": "",
    "Vertigo (1958)/BDMV/STREAM/00000.m2ts": "",
    "Vertigo (1958)/CERTIFICATE/id.bdmv": "",
    # Extras, samples and trailers beside a movie.
    "Up (2009)/Up (2009).mkv": "",
    "Up (2009)/Up (2009)-trailer.mkv": "",
    "Up (2009)/sample.mkv": "",
    "Up (2009)/Featurettes/Making of.mkv": "",
    "Up (2009)/Behind The Scenes/b.mkv": "",
    "Up (2009)/Subs/Up.en.srt": "",
    # A release-named file in a folder of several movies (loose files), with its own NFO.
    "Unsorted/The.Matrix.Reloaded.2003.1080p.BluRay.x264-GROUP.mkv": "",
    "Unsorted/Se7en.1995.REMASTERED.720p.mkv": "",
    "Unsorted/Se7en.1995.REMASTERED.720p.nfo": nfo(tmdb=807),
    # TV: a show with season folders; a loose episode.
    "Breaking Bad/Season 01/Breaking.Bad.S01E01.mkv": "",
    "Breaking Bad/Season 02/Breaking Bad 2x01.mkv": "",
    "Downloads/Show.S03E04.720p.mkv": "",
    # NAS, system and hidden folders; an AppleDouble file.
    "@eaDir/Thumb (2000)/thumb.mkv": "",
    "#recycle/Old (1990)/old.mkv": "",
    ".Trash-1000/files/x.mkv": "",
    "lost+found/y.mkv": "",
    ".hidden/Heat (1995)/Heat.mkv": "",
    "Memento (2000)/Memento (2000).mkv": "",
    "Memento (2000)/._Memento (2000).mkv": "",
    # Names that look like dot files or extras, and are films.
    "...And Justice for All (1979)/...And Justice for All (1979).mkv": "",
    "The Interview (2014)/The Interview.mkv": "",
    # A loose file at the root.
    "Jaws (1975).mp4": "",
    # Broken XML: ids are still found in the text.
    "Psycho (1960)/Psycho.mkv": "",
    "Psycho (1960)/movie.nfo": '<movie><title>Psycho</title><uniqueid type="tmdb">539<//broken',
    # Not UTF-8: a Latin-1 folder name.
    "Am\udce9lie (2001)/Am\udce9lie.mkv": "",
}

EXPECTED: dict[str, list[tuple[str, object, str]] | str] = {
    "The Matrix (1999)": [
        ("title", "The Matrix", "nfo"),
        ("tmdb", 603, "nfo"),
        ("imdb", "tt0133093", "nfo"),
        ("title", "The Matrix", "folder_name"),
        ("year", 1999, "folder_name"),
    ],
    "Heat (1995)": [
        ("tmdb", 603, "nfo"),
        ("imdb", "tt0133093", "nfo"),
        ("title", "Heat", "folder_name"),
        ("year", 1995, "folder_name"),
    ],
    "Confused (2001)": [
        ("tmdb", 949, "nfo"),
        ("imdb", "tt0133093", "nfo"),
        ("tmdb", 603, "nfo"),
        ("title", "Confused", "folder_name"),
        ("year", 2001, "folder_name"),
    ],
    "Alien (1979) {tmdb-348}": [
        ("tmdb", 348, "folder_tag"),
        ("title", "Alien", "folder_name"),
        ("year", 1979, "folder_name"),
    ],
    "Aliens (1986)": [
        ("imdb", "tt0090605", "file_tag"),
        ("title", "Aliens", "folder_name"),
        ("year", 1986, "folder_name"),
    ],
    "Alien 3 (1992)": [
        ("tmdb", 8077, "file_tag"),
        ("title", "Alien 3", "folder_name"),
        ("year", 1992, "folder_name"),
    ],
    "Prometheus tt1446714": [
        ("imdb", "tt1446714", "folder_tag"),
        ("title", "Prometheus", "folder_name"),
        ("title", "Prometheus", "file_name"),
    ],
    "Amelie (2001)": [
        ("imdb", "tt0211915", "nfo"),
        ("title", "Amelie", "folder_name"),
        ("year", 2001, "folder_name"),
    ],
    "Princess of Montpensier, The (La princesse de Montpensier) (2010)": [
        ("title", "Princess of Montpensier, The (La princesse de Montpensier)", "folder_name"),
        ("year", 2010, "folder_name"),
    ],
    "Look What's Happened to Rosemary's Baby (a.k.a. Rosemary's Baby II) (1976)": [
        (
            "title",
            "Look What's Happened to Rosemary's Baby (a.k.a. Rosemary's Baby II)",
            "folder_name",
        ),
        ("year", 1976, "folder_name"),
    ],
    "Face+Off (1997)": [("title", "Face+Off", "folder_name"), ("year", 1997, "folder_name")],
    "Kill Bill (2003)": [
        ("tmdb", 24, "nfo"),
        ("title", "Kill Bill", "folder_name"),
        ("year", 2003, "folder_name"),
    ],
    "Gone with the Wind (1939)": [
        ("title", "Gone with the Wind", "folder_name"),
        ("year", 1939, "folder_name"),
    ],
    "Casablanca (1942)": [
        ("tmdb", 289, "nfo"),
        ("title", "Casablanca", "folder_name"),
        ("year", 1942, "folder_name"),
    ],
    "Vertigo (1958)": [("title", "Vertigo", "folder_name"), ("year", 1958, "folder_name")],
    "Up (2009)": [("title", "Up", "folder_name"), ("year", 2009, "folder_name")],
    "Unsorted/The.Matrix.Reloaded.2003.1080p.BluRay.x264-GROUP.mkv": [
        ("title", "The Matrix Reloaded", "file_name"),
        ("year", 2003, "file_name"),
    ],
    "Unsorted/Se7en.1995.REMASTERED.720p.mkv": [
        ("tmdb", 807, "nfo"),
        ("title", "Se7en", "file_name"),
        ("year", 1995, "file_name"),
    ],
    "Memento (2000)": [("title", "Memento", "folder_name"), ("year", 2000, "folder_name")],
    "Jaws (1975).mp4": [("title", "Jaws", "file_name"), ("year", 1975, "file_name")],
    "...And Justice for All (1979)": [
        ("title", "...And Justice for All", "folder_name"),
        ("year", 1979, "folder_name"),
    ],
    "The Interview (2014)": [
        ("title", "The Interview", "folder_name"),
        ("year", 2014, "folder_name"),
    ],
    "Psycho (1960)": [
        ("tmdb", 539, "nfo"),
        ("title", "Psycho", "folder_name"),
        ("year", 1960, "folder_name"),
    ],
    "Am\\xe9lie (2001)": [("title", "Amélie", "folder_name"), ("year", 2001, "folder_name")],
    # Not items:
    "Up (2009)/Up (2009)-trailer.mkv": "trailer",
    "Up (2009)/sample.mkv": "sample",
    "Up (2009)/Featurettes": "extras folder",
    "Up (2009)/Behind The Scenes": "extras folder",
    "Breaking Bad/Season 01": "TV season folder",
    "Breaking Bad/Season 02": "TV season folder",
    "Downloads/Show.S03E04.720p.mkv": "TV episode",
}

LAYOUTS = {
    "Kill Bill (2003)": "multipart",
    "Gone with the Wind (1939)": "multipart",
    "Casablanca (1942)": "dvd",
    "Vertigo (1958)": "bluray",
    "Unsorted/Se7en.1995.REMASTERED.720p.mkv": "loose",
    "Jaws (1975).mp4": "loose",
    "The Matrix (1999)": "file",
}


def _safe(title: str) -> str:
    """A title as Radarr writes it in a folder name."""
    return title.replace("/", "+").replace(":", " -").replace("?", "!").replace("*", "-")


def mixed_library(root: Path, count: int, named: dict[str, int | None] | None = None) -> int:
    """A library of ``count`` movie items in every layout, named after real MovieLens films
    (from the simulator's world), plus TV shows, extras, samples and system folders that are
    not items; every third folder has a Kodi NFO. Returns the number of movie items made.

    ``named`` (when given) receives each item's key and the TMDB id of the film it is named
    after (None for an item whose NFO names another film: only a conflict is right there)."""
    from metarr_sim import World

    movies = [movie for movie in World.load().movies if movie.year is not None]
    made = 0
    used: set[tuple[str, int | None]] = set()
    files: dict[str, str | bytes] = {}
    for number in range(count):
        movie = movies[number % len(movies)]
        title = movie.ml_title[: movie.ml_title.rindex("(")].strip()
        name = _safe(title)
        while (name, movie.year) in used:  # MovieLens repeats a few titles; laps repeat all
            name += " again"
        used.add((name, movie.year))
        folder = f"{name} ({movie.year})"
        kind = number % 20
        if kind < 9:  # Radarr: "Title (Year)/Title (Year) Quality.mkv"
            files[f"{folder}/{folder} Bluray-1080p.mkv"] = ""
        elif kind == 9:  # Plex id tag, with extras beside it
            folder = f"{folder} {{tmdb-{movie.tmdb_id}}}"
            files[f"{folder}/{name}.mkv"] = ""
            files[f"{folder}/{name}-trailer.mkv"] = ""
            files[f"{folder}/Featurettes/making of.mkv"] = ""
        elif kind == 10:  # Jellyfin tag in the file name, a sample
            files[f"{folder}/{name} [imdbid-{movie.imdb_id}].mkv"] = ""
            files[f"{folder}/sample.mkv"] = ""
        elif kind in (11, 12):  # multi-part files
            files[f"{folder}/{name} - cd1.avi"] = ""
            files[f"{folder}/{name} - cd2.avi"] = ""
        elif kind == 13:  # DVD
            files[f"{folder}/VIDEO_TS/VIDEO_TS.IFO"] = ""
            files[f"{folder}/VIDEO_TS/VTS_01_1.VOB"] = ""
        elif kind == 14:  # Blu-ray
            files[f"{folder}/BDMV/index.bdmv"] = ""
        elif kind in (15, 16, 17):  # loose release names, several movies in one folder
            dotted = ".".join(name.replace(",", "").split())
            folder = f"Downloads {number // 100}/{dotted}.{movie.year}.1080p.BluRay.x264-GRP.mkv"
            files[folder] = ""
        elif kind == 18:  # a collection folder
            folder = f"Collection {number // 100}/{folder}"
            files[f"{folder}/movie.mkv"] = ""
        else:  # an NFO that contradicts the folder (another film's ids)
            other = movies[(number + 1) % len(movies)]
            files[f"{folder}/{folder}.mkv"] = ""
            files[f"{folder}/movie.nfo"] = nfo(tmdb=other.tmdb_id, imdb=other.imdb_id)
        if kind < 9 and number % 3 == 0:
            files[f"{folder}/movie.nfo"] = nfo(
                tmdb=movie.tmdb_id, imdb=movie.imdb_id, title=_xml(title)
            )
        made += 1
        if named is not None:
            key = folder if kind in (15, 16, 17) else folder.rstrip("/")
            named[key] = None if kind == 19 else movie.tmdb_id
        if number % 50 == 0:  # things that are not movies
            files[f"Show {number}/Season 01/Show.S01E0{number % 9 + 1}.mkv"] = ""
            files[f"@eaDir/{number}/thumb.mkv"] = ""
        if len(files) > 2_000:
            build(root, files)
            files = {}
    build(root, files)
    return made


def _xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
