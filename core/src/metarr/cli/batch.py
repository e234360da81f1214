"""``metarr batch FILE``: identify a whole library, streaming, with bounded concurrency.

The file is read lazily, one line at a time (CSV with a header row, or JSON Lines); at most
about twice ``--concurrency`` rows are in memory at once. Rows run in automated mode: a fresh
cached movie costs nothing, what needs a person is queued, what a provider throttled is
scheduled for retry, so rerunning the same file resumes it. Ctrl-C stops starting rows, lets
the rows in flight commit (a second Ctrl-C cancels them), prints the summary and exits 130.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import logging
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import attrs
import click

from metarr.cli import exits, output
from metarr.cli.state import get_state
from metarr.convert import to_json
from metarr.models import OUTCOME_STATUSES, Outcome
from metarr.orchestrator import Orchestrator
from metarr.query import Query

log = logging.getLogger("metarr.cli.batch")

COLUMNS = ("tmdb_id", "imdb_id", "tvdb_id", "title", "year", "key")
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
INVALID = "invalid"
REFRESH_SECONDS = 0.1


class BatchFileError(Exception):
    """The file cannot be used at all (exit 2)."""


@attrs.frozen(kw_only=True)
class Row:
    """One input line: a query to identify, or why the line is unusable."""

    line: int
    query: Query | None = None
    error: str | None = None


def detect_format(path: Path, given: str | None) -> str:
    """``csv`` or ``jsonl``: the one given, else from the file's extension."""
    if given:
        return given
    found = FORMATS.get(path.suffix.lower())
    if found is None:
        raise BatchFileError(
            f"cannot tell the format of {path} from its extension: use --format csv or jsonl"
        )
    return found


def read_rows(handle: BinaryIO, fmt: str) -> Iterator[Row]:
    """The file's rows, lazily; unusable lines become rows with an ``error``."""
    header: list[str] | None = None
    for number, raw in enumerate(handle, start=1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            message = f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})"
            if fmt == "csv" and header is None:
                raise BatchFileError(f"line {number}: the header is {message}") from None
            yield Row(line=number, error=message)
            continue
        if number == 1:
            text = text.removeprefix("\ufeff")
        text = text.rstrip("\r\n")
        if not text.strip():
            continue
        if fmt == "csv":
            if header is None:
                header = _header(number, text)
                continue
            yield _csv_row(number, text, header)
        else:
            yield _json_row(number, text)


def _header(number: int, text: str) -> list[str]:
    try:
        names = [name.strip().lower() for name in next(csv.reader([text]))]
    except csv.Error as exc:
        raise BatchFileError(f"line {number}: the CSV header cannot be parsed: {exc}") from None
    if not set(names) & set(COLUMNS[:4]):
        raise BatchFileError(
            f"line {number}: the CSV header names none of {', '.join(COLUMNS[:4])} "
            f"(found: {', '.join(names) or 'nothing'})"
        )
    return names


def _query(number: int, data: dict[str, Any]) -> Row:
    picked = {k: v for k, v in data.items() if k in COLUMNS and v not in (None, "")}
    if not picked:
        return Row(line=number, error=f"nothing to identify: give one of {', '.join(COLUMNS[:4])}")
    try:
        return Row(line=number, query=Query.from_input(picked))
    except (ValueError, TypeError) as exc:
        return Row(line=number, error=str(exc))


def _csv_row(number: int, text: str, header: list[str]) -> Row:
    try:
        values = next(csv.reader([text]))
    except csv.Error as exc:
        return Row(line=number, error=f"bad CSV: {exc}")
    if len(values) > len(header):
        return Row(line=number, error=f"{len(values)} fields but the header has {len(header)}")
    fields = dict(zip(header, (value.strip() for value in values), strict=False))
    return _query(number, fields)


def _json_row(number: int, text: str) -> Row:
    try:
        data = json.loads(text)
    except ValueError as exc:
        return Row(line=number, error=f"bad JSON: {exc}")
    if not isinstance(data, dict):
        return Row(line=number, error=f"expected a JSON object, got {type(data).__name__}")
    return _query(number, {str(k).lower(): v for k, v in data.items()})


@attrs.define
class Tally:
    """Counts per outcome and the exit code they add up to."""

    started: float = attrs.field(factory=time.monotonic)
    counts: Counter[str] = attrs.field(factory=Counter)
    code: int = exits.OK
    interrupted: bool = False
    blocked: str | None = None

    def add(self, status: str) -> None:
        self.counts[status] += 1
        code = exits.USAGE if status == INVALID else exits.for_status(status)
        self.code = exits.worst((self.code, code))

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def rate(self) -> float:
        identified = self.done - self.counts[INVALID]
        return identified / self.elapsed if self.elapsed > 0 else 0.0


class Display:
    """Per-row output (JSONL or lines) and, on a terminal, one live progress line on stderr."""

    def __init__(self, tally: Tally, *, as_json: bool, progress: bool) -> None:
        self.tally = tally
        self.as_json = as_json
        self.progress = progress
        self._last = 0.0
        self._width = 0

    def result(self, row: Row, outcome: Outcome) -> None:
        self.tally.add(outcome.status)
        assert row.query is not None
        if self.as_json:
            self._clear()
            line = {"line": row.line, "key": row.query.input_key, "input": row.query.to_input()}
            click.echo(json.dumps({**line, **to_json(outcome)}, ensure_ascii=False))
        elif not self.progress or outcome.status != "identified":
            self._clear()
            click.echo(_row_line(row, outcome))
        self.tick()

    def bad(self, row: Row) -> None:
        self.tally.add(INVALID)
        self.note(f"line {row.line}: {row.error}")
        self.tick()

    def note(self, text: str) -> None:
        self._clear()
        click.echo(click.style("batch: ", fg="yellow") + text, err=True)
        self.tick(force=True)

    def tick(self, *, force: bool = False) -> None:
        if not self.progress:
            return
        now = time.monotonic()
        if not force and now - self._last < REFRESH_SECONDS:
            return
        self._last = now
        counts = " · ".join(f"{status} {n}" for status, n in _ordered(self.tally.counts) if n)
        text = f"{self.tally.done} rows · {counts or 'starting'} · {self.tally.rate():.1f}/s"
        click.echo("\r" + text.ljust(self._width), nl=False, err=True)
        self._width = len(text)

    def _clear(self) -> None:
        if self._width:
            click.echo("\r" + " " * self._width + "\r", nl=False, err=True)
            self._width = 0

    def close(self) -> None:
        self._clear()


def _ordered(counts: Counter[str]) -> list[tuple[str, int]]:
    order = [*OUTCOME_STATUSES, INVALID]
    return sorted(counts.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99)


def _row_line(row: Row, outcome: Outcome) -> str:
    assert row.query is not None
    head = f"line {row.line:>5}  {output.styled_status(outcome.status, 12)}"
    movie = outcome.movie
    if movie is not None:
        return f"{head}  {output.label(movie.title, movie.year)}  {movie.ids}"
    why = output.shorten("; ".join(outcome.reasons), 240)
    return f"{head}  {row.query.input_key}" + (f"  ({why})" if why else "")


async def run_batch(
    orc: Orchestrator,
    rows: Iterator[Row],
    *,
    concurrency: int,
    display: Display,
    retry_queued: bool = False,
) -> None:
    """Identify every row with at most ``concurrency`` in flight; SIGINT stops cleanly.

    Rows already waiting for a person are not searched again unless ``retry_queued``
    (`Orchestrator.run`): their queued outcome is reported, with no request.
    """
    tally = display.tally
    stop = asyncio.Event()
    work: asyncio.Queue[Row | None] = asyncio.Queue(maxsize=concurrency)
    tasks: list[asyncio.Task[None]] = []

    def on_sigint() -> None:
        if not tally.interrupted:
            tally.interrupted = True
            stop.set()
            display.note("interrupted: finishing the rows in flight (Ctrl-C again cancels them)")
        else:
            for task in tasks:
                task.cancel()

    async def produce() -> None:
        try:
            for row in rows:
                if stop.is_set():
                    break
                if row.query is None:
                    display.bad(row)
                    continue
                await work.put(row)
        except BaseException:
            stop.set()  # the workers skip what is queued and see the sentinels
            raise
        finally:
            for _ in range(concurrency):
                await work.put(None)

    async def identify(row: Row) -> None:
        assert row.query is not None
        try:
            outcome = (
                await orc.run(row.query, interactive=False, retry_queued=retry_queued)
            ).outcome
        except Exception as exc:  # one row's failure must not stop the others
            log.debug("line %d failed", row.line, exc_info=True)
            outcome = Outcome(status="error", reasons=(exits.describe(exc),))
        display.result(row, outcome)
        if outcome.status == "blocked" and tally.blocked is None:
            tally.blocked = "; ".join(outcome.reasons) or "blocked"
            stop.set()

    async def worker() -> None:
        while True:
            row = await work.get()
            if row is None:
                return
            if not stop.is_set():
                await identify(row)

    loop = asyncio.get_running_loop()
    handled = False
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGINT, on_sigint)
        handled = True
    tasks.append(asyncio.ensure_future(produce()))
    tasks.extend(asyncio.ensure_future(worker()) for _ in range(concurrency))
    try:
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        failures = [
            r
            for r in outcomes
            if isinstance(r, BaseException) and not isinstance(r, asyncio.CancelledError)
        ]
        if failures:
            raise failures[0]
    except asyncio.CancelledError:  # KeyboardInterrupt without our handler (other platforms)
        tally.interrupted = True
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        if handled:
            loop.remove_signal_handler(signal.SIGINT)


def summary_lines(tally: Tally, requests: dict[str, int], limited: dict[str, int]) -> list[str]:
    """The closing summary: counts per outcome, requests and 429s per provider, speed."""
    lines = [
        click.style("batch", bold=True)
        + f"  {tally.done} rows in {tally.elapsed:.2f} s ({tally.rate():.1f} movies/s)"
    ]
    rows = [(output.styled_status(status), n) for status, n in _ordered(tally.counts)]
    if rows:
        lines.append(output.table(("outcome", "rows"), rows, indent=2))
    lines.append(f"{click.style('requests', bold=True)}  {output.requests_line(requests)}")
    lines.append(f"{click.style('429s', bold=True)}      {output.requests_line(limited)}")
    if tally.interrupted:
        lines.append(
            "stopped early by Ctrl-C: rows not started were skipped; rerun the same command to "
            "continue (finished rows are cached)"
        )
    return lines


@click.command()
@click.argument("file", type=click.Path(path_type=Path, allow_dash=True))
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=8,
    show_default=True,
    help="Rows identified at the same time.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "jsonl"]),
    help="File format (default: from the extension).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON line per row on stdout.")
@click.option(
    "--retry-queued",
    is_flag=True,
    help="Search again for rows waiting for a person (default: report them as queued).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Live progress line on stderr (default: when stderr is a terminal).",
)
def batch(
    file: Path,
    concurrency: int,
    fmt: str | None,
    as_json: bool,
    retry_queued: bool,
    progress: bool | None,
) -> None:
    """Identify every row of FILE (CSV or JSON Lines; '-' is stdin with --format).

    Columns: tmdb_id, imdb_id, tvdb_id, title, year, and an optional key (your handle for
    the row; default: derived from the ids or the title). Rerunning resumes: cached movies
    cost nothing and scheduled retries run when due.

    Exit: 0 all identified, 3 some need a person, 4 some were rate limited, 2 bad lines or a
    blocked configuration, 5 a provider failed, 130 interrupted.
    """
    state = get_state()
    if str(file) == "-":
        if fmt is None:
            raise exits.CliError("reading stdin: give --format csv or jsonl")
        fmt_name, handle = fmt, sys.stdin.buffer
    else:
        try:
            fmt_name = detect_format(file, fmt)
            handle = file.open("rb")
        except BatchFileError as exc:
            raise exits.CliError(str(exc)) from None
        except OSError as exc:
            raise exits.CliError(f"cannot read {file}: {exc.strerror or exc}") from None
    if progress is None:
        progress = sys.stderr.isatty()
    tally = Tally()
    display = Display(tally, as_json=as_json, progress=progress)
    stats: dict[str, dict[str, int]] = {}

    async def work(orc: Orchestrator) -> None:
        try:
            await run_batch(
                orc,
                read_rows(handle, fmt_name),
                concurrency=concurrency,
                display=display,
                retry_queued=retry_queued,
            )
        finally:
            stats["requests"] = dict(orc.stats.requests)
            stats["limited"] = dict(orc.stats.rate_limited)

    try:
        with handle:
            state.run(work)
    except BatchFileError as exc:
        display.close()
        raise exits.CliError(str(exc)) from None
    except OSError as exc:
        display.close()
        raise exits.CliError(f"cannot read {file}: {exc.strerror or exc}") from None
    except KeyboardInterrupt:
        tally.interrupted = True
    display.close()
    lines = summary_lines(tally, stats.get("requests", {}), stats.get("limited", {}))
    click.echo("\n".join(lines), err=as_json)
    if tally.blocked:
        raise exits.CliError(tally.blocked, exits.USAGE)
    code = exits.INTERRUPTED if tally.interrupted else tally.code
    if code:
        click.get_current_context().exit(code)
