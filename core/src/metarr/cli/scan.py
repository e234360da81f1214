"""``metarr scan PATH --dry-run``: the movie items of a library and the evidence for each.

Phase 1 of library intake: the dry run walks the library, reads each item's NFOs and names
(or takes them from the cache when the item is unchanged) and prints what would be asked,
sending nothing and writing nothing. Identification (without ``--dry-run``) comes next.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import click

from metarr.cache import Cache
from metarr.cli import exits, output
from metarr.cli.state import get_state
from metarr.scan import ScanEntry, ScanRootError, scan_library


def entry_json(entry: ScanEntry) -> dict[str, Any]:
    """One ``--json`` line: the key, the status, and for items the evidence and the query."""
    line: dict[str, Any] = {"key": entry.key}
    if entry.status in ("skipped", "problem"):
        return {**line, "status": entry.status, "reason": entry.reason}
    line["status"] = "dry_run" if entry.status == "item" else entry.status
    if entry.change is not None:
        line["change"] = entry.change
    if entry.moved_from is not None:
        line["moved_from"] = entry.moved_from
    line["layout"] = entry.layout
    evidence = entry.evidence
    line["evidence"] = [clue.to_json() for clue in evidence.clues] if evidence else []
    line["notes"] = list(evidence.notes) if evidence else []
    line["contradictions"] = list(evidence.contradictions()) if evidence else []
    query = entry.query() if entry.status == "item" else None
    if entry.status == "item":
        line["query"] = (
            None
            if query is None
            else {
                "ids": dict(query.ids.items()),
                "title": query.title,
                "year": query.year,
                "title_forms": list(evidence.title_forms()) if evidence else [],
            }
        )
    line["remembered_ids"] = dict(entry.ids.items()) if entry.ids else None
    if entry.reason is not None:
        line["reason"] = entry.reason
    return line


def entry_lines(entry: ScanEntry) -> list[str]:
    """The readable form: a status and the key, then for items one line per clue and the ask."""
    if entry.status != "item":
        why = f"  ({entry.reason})" if entry.reason else ""
        return [f"{output.styled_status(entry.status, 10)} {entry.key}{why}"]
    head = f"{output.styled_status(entry.change or 'item', 10)} {entry.key}"
    if entry.moved_from:
        head += f"  (moved from {entry.moved_from})"
    lines = [head]
    evidence = entry.evidence
    for clue in evidence.clues if evidence else ():
        lines.append(f"{'':13}{clue.kind:<14} {clue.value!s:<28} {clue.source:<11} {clue.detail}")
    for note in evidence.notes if evidence else ():
        lines.append(f"{'':13}note: {note}")
    for contradiction in evidence.contradictions() if evidence else ():
        lines.append(f"{'':13}{click.style('contradiction', fg='yellow')}: {contradiction}")
    query = entry.query()
    if entry.ids:
        lines.append(f"{'':13}-> remembered as {entry.ids}: nothing to ask")
    elif query is None:
        lines.append(f"{'':13}-> nothing to ask: no id, title or year found")
    else:
        year = f" ({query.year})" if query.year else ""
        if query.ids:
            fit = f', checking it fits "{query.title}"{year}' if query.title else ""
            lines.append(f"{'':13}-> would look up {query.ids}{fit}")
        else:
            titles = evidence.title_forms() if evidence else ()
            forms = " or ".join(f'"{form}"' for form in titles)
            lines.append(f"{'':13}-> would search {forms}{year}")
    return lines


def summary_line(counts: Counter[str], parsed: int, elapsed: float) -> str:
    """``scan  N items (new 3 · unchanged 5) · skipped 2 · … in 0.12 s · nothing sent``."""
    changes = " · ".join(
        f"{change} {counts[change]}"
        for change in ("new", "changed", "unchanged", "moved")
        if counts[change]
    )
    parts = [f"{counts['item']} items" + (f" ({changes})" if changes else "")]
    parts += [
        f"{status} {counts[status]}"
        for status in ("skipped", "problem", "missing")
        if counts[status]
    ]
    return (
        click.style("scan", bold=True)
        + f"  {' · '.join(parts)} · read {parsed} in {elapsed:.2f} s · dry run: nothing sent"
    )


@click.command()
@click.argument("path", type=click.Path(path_type=Path, file_okay=False))
@click.option("--dry-run", is_flag=True, help="Print the evidence per item; send nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line per entry on stdout.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=8,
    show_default=True,
    help="Items identified at the same time.",
)
def scan(path: Path, dry_run: bool, as_json: bool, concurrency: int) -> None:
    """Find the movie items under PATH and the evidence for each (NFO ids, id tags in names,
    title and year from the folder or file name).

    Keys are paths relative to PATH with '/' separators. Extras, samples, trailers, TV
    episodes and season folders are listed as skipped; unreadable folders and symlink loops
    as problems (the scan goes on); remembered items gone from disk as missing.

    Exit: 0 done, 2 PATH cannot be scanned (or no --dry-run).
    """
    if not dry_run:
        raise exits.CliError(
            "metarr scan identifies nothing yet: run it with --dry-run to see each item's "
            "evidence (identification of scanned items is coming)",
            exits.USAGE,
        )
    del concurrency  # used by identification
    settings = get_state().load_settings()
    cache = Cache(settings.db) if os.path.exists(settings.db) else None
    counts: Counter[str] = Counter()
    parsed = 0
    started = time.monotonic()
    try:
        entries = scan_library(path, cache.db if cache else None, remember=False)
        for entry in entries:
            counts[entry.status] += 1
            if entry.change:
                counts[entry.change] += 1
            parsed += entry.parsed
            if as_json:
                click.echo(json.dumps(entry_json(entry), ensure_ascii=False))
            else:
                click.echo("\n".join(entry_lines(entry)))
    except ScanRootError as exc:
        raise exits.CliError(str(exc), exits.USAGE) from None
    except BrokenPipeError:
        # The reader went away (`| head`): stop quietly; nothing was written anywhere.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - replaces the closed stdout for good
        raise SystemExit(exits.FAILURE) from None
    finally:
        if cache is not None:
            cache.close()
    click.echo(summary_line(counts, parsed, time.monotonic() - started), err=as_json)
