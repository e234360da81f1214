"""``metarr scan PATH``: identify every movie item of a library on disk, streaming.

Without ``--dry-run`` it runs `Orchestrator.scan` (the library's runner, as ``batch`` does):
one result per item as it finishes, automated (what needs a person is queued under the item's
key), remembered per item with its evidence, so a rescan of unchanged items sends nothing.
Ctrl-C finishes the items in flight (exit 130), a closed output stops quietly (141), a cache
failure stops (6). ``--dry-run`` walks the library, reads each item's NFOs and names (or
takes them from the cache when the item is unchanged) and prints what would be asked,
sending nothing and writing nothing.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from metarr.cache import Cache
from metarr.cli import exits, output
from metarr.cli.batch import (
    LiveDisplay,
    Tally,
    finish_run,
    interruptible,
    ordered_counts,
    outcome_lines,
)
from metarr.cli.state import get_state
from metarr.engine import ProviderFailures
from metarr.errors import ClosedError, StorageError
from metarr.pipes import discard_stdout
from metarr.runner import DEFAULT_CONCURRENCY

if TYPE_CHECKING:  # the scan modules load when a scan runs, not with every command
    from metarr.orchestrator import Orchestrator
    from metarr.scan import ScanEntry
    from metarr.scan.run import ScanResult


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
    default=DEFAULT_CONCURRENCY,
    show_default=True,
    help="Items identified at the same time.",
)
@click.option(
    "--retry-queued",
    is_flag=True,
    help="Search again for items waiting for a person (default: report them as queued).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Live progress line on stderr (default: when stderr is a terminal).",
)
def scan(
    path: Path,
    dry_run: bool,
    as_json: bool,
    concurrency: int,
    retry_queued: bool,
    progress: bool | None,
) -> None:
    """Identify every movie item under PATH from its evidence: NFO ids, id tags in names,
    the title and year of the folder or file name.

    Keys are paths relative to PATH with '/' separators: `metarr queue` shows them and
    `metarr resolve KEY` settles one (a person's choice is never overridden). Extras,
    samples, trailers, TV episodes and season folders are listed as skipped; unreadable
    folders and symlink loops as problems (the scan goes on); remembered items gone from disk
    as missing (nothing is deleted). A rescan of unchanged items sends no request.

    Exit: as for batch (0 all identified, 3 some need a person, 4 rate limited, 5 a provider
    failed, 6 the cache failed, 130 interrupted, 141 output closed); 2 PATH cannot be scanned.
    """
    if dry_run:
        _dry_run(path, as_json)
        return
    _identify(path, as_json, concurrency, retry_queued, progress)


def _dry_run(path: Path, as_json: bool) -> None:
    from metarr.scan import ScanRootError, scan_library

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
        discard_stdout()
        raise SystemExit(exits.OUTPUT_CLOSED) from None
    finally:
        if cache is not None:
            cache.close()
    click.echo(summary_line(counts, parsed, time.monotonic() - started), err=as_json)


# -- identifying ------------------------------------------------------------------------------


class ScanDisplay(LiveDisplay):
    """`scan`'s display: a line (or a JSON line) per entry; skipped entries, problems and
    missing items are counted apart from the items' outcomes."""

    label = "scan"

    def __init__(self, tally: Tally, *, as_json: bool, progress: bool) -> None:
        super().__init__(tally, as_json=as_json, progress=progress)
        self.others: Counter[str] = Counter()  # skipped, problem, missing

    def result(self, result: ScanResult) -> None:
        if result.entry.status == "item":  # (`.outcome` would decode a remembered movie)
            self.tally.add(result.status)
        else:
            self.others[result.status] += 1
        if self.as_json:
            self._clear()
            self.out(result_json(result))
        elif not self.progress or result.status not in ("identified", "skipped"):
            self._clear()
            self.out(result_line(result))
        self.tick()

    def progress_text(self) -> str:
        counts = " · ".join(f"{status} {n}" for status, n in ordered_counts(self.tally.counts) if n)
        others = " · ".join(f"{status} {n}" for status, n in self.others.items() if n)
        parts = [f"{self.tally.done} items", counts or "starting", others]
        return " · ".join(p for p in parts if p) + f" · {self.tally.rate():.1f}/s"


_HIDDEN = output.HIDDEN_CHARS
json_line = output.json_line


def result_json(result: ScanResult) -> str:
    """A result's ``--json`` line. A remembered item's movie is its stored record, which is
    the movie's JSON already: it is spliced in as it is (escaped), not parsed and rewritten."""
    remembered = result.remembered
    if remembered is None:
        return json_line(result.to_json())
    record = remembered.stored.record
    if not (record.isascii() and "\x7f" not in record):
        record = _HIDDEN.sub(output.escape_hidden, record)
    return json_line(result.to_json(movie=False))[:-1] + ',"movie":' + record + "}"


def result_line(result: ScanResult) -> str:
    """``identified  The Matrix (1999)  'The Matrix' (1999)  tmdb:603 …``, or the reasons."""
    key = output.safe(result.key)
    head = output.styled_status(result.status, 12)
    outcome = result.outcome
    if outcome is None:
        why = f"  ({result.entry.reason})" if result.entry.reason else ""
        return f"{head}  {key}{why}"
    remembered = result.remembered
    if remembered is not None:  # (its record is not decoded for a line)
        stored = remembered.stored
        return f"{head}  {key}  {output.label(stored.title, stored.year)}  {stored.ids}"
    movie = outcome.movie
    if outcome.status == "identified" and movie is not None:
        return f"{head}  {key}  {output.label(movie.title, movie.year)}  {movie.ids}"
    why = output.shorten("; ".join(outcome.reasons), 240)
    return f"{head}  {key}" + (f"  ({why})" if why else "")


async def run_scan(
    orc: Orchestrator,
    path: Path,
    *,
    concurrency: int,
    display: ScanDisplay,
    retry_queued: bool = False,
) -> None:
    """Scan ``path`` with `Orchestrator.scan`, showing each result as it comes. SIGINT stops
    the walk and lets the items in flight finish (a second one cancels them), as does a closed
    stdout; a cache failure ends it (``tally.storage``)."""
    tally = display.tally
    scan = orc.scan(path, concurrency=concurrency, retry_queued=retry_queued)

    with interruptible(scan, tally, display.note, "items"):
        async with scan:
            try:
                async for result in scan:
                    display.result(result)
                    if tally.output_closed:
                        scan.stop()
                    if result.status == "blocked" and tally.blocked is None:
                        reasons = result.outcome.reasons if result.outcome else ()
                        tally.blocked = "; ".join(reasons) or "blocked"
            except (StorageError, ClosedError) as exc:
                tally.storage = exc


def scan_summary(
    tally: Tally,
    others: Counter[str],
    requests: dict[str, int],
    limited: dict[str, int],
    failures: Mapping[str, ProviderFailures],
) -> list[str]:
    """The closing summary: items per outcome, the other entries, requests, 429s, failures."""
    from metarr.scan.run import NON_ITEMS

    items = tally.done
    head = (
        click.style("scan", bold=True)
        + f"  {items} items in {tally.elapsed:.2f} s ({tally.rate():.1f} movies/s)"
    )
    rest = " · ".join(f"{status} {others[status]}" for status in NON_ITEMS if others[status])
    lines = [head + (f" · {rest}" if rest else "")]
    lines += outcome_lines(tally, requests, limited, failures, noun="items")
    if tally.interrupted:
        lines.append(
            "stopped early by Ctrl-C: the items in flight were committed; rerun the same "
            "command to continue (identified items cost nothing the next time)"
        )
    elif tally.output_closed:
        lines.append(
            "stopped early: the output was closed; the items in flight were committed; rerun "
            "the same command to continue"
        )
    return lines


def _identify(
    path: Path, as_json: bool, concurrency: int, retry_queued: bool, progress: bool | None
) -> None:
    from metarr.scan import ScanRootError

    state = get_state()
    tally = Tally()
    display = ScanDisplay(
        tally, as_json=as_json, progress=sys.stderr.isatty() if progress is None else progress
    )
    stats: dict[str, dict[str, int]] = {}
    failures: dict[str, ProviderFailures] = {}
    root_error: list[ScanRootError] = []

    async def work(orc: Orchestrator) -> None:
        try:
            await run_scan(
                orc,
                path,
                concurrency=concurrency,
                display=display,
                retry_queued=retry_queued,
            )
        except ScanRootError as exc:
            root_error.append(exc)
        finally:
            stats["requests"] = dict(orc.stats.requests)
            stats["limited"] = dict(orc.stats.rate_limited)
            failures.update(orc.provider_failures())

    try:
        state.run(work)
    except KeyboardInterrupt:
        tally.interrupted = True
    display.close()
    if root_error:
        raise exits.CliError(str(root_error[0]), exits.USAGE)
    requests, limited = stats.get("requests", {}), stats.get("limited", {})
    summary = "\n".join(scan_summary(tally, display.others, requests, limited, failures))
    finish_run(
        tally,
        display,
        summary,
        failures,
        as_json=as_json,
        stopped="the scan stopped: rerun it once the cache is fixed (the items finished before "
        "are kept)",
    )
