"""``metarr batch FILE``: identify a whole library, streaming, with bounded concurrency.

The file is read lazily (CSV with a header row, read by `csv` so a quoted field may hold a line
break; or JSON Lines); at most about twice ``--concurrency`` rows are in memory at once. A bad
line is reported and skipped (exit 2 at the end), the rest runs: bytes that are not UTF-8,
JSON that is not an object or nests too deeply, duplicate keys, and a row whose key an earlier
row already used for a different input. A header naming a column twice stops the file.

Rows run in automated mode: a fresh cached movie costs nothing, what needs a person is queued,
what a provider throttled is scheduled for retry, so rerunning the same file resumes it. The
run stops starting rows, lets the rows in flight commit and prints the summary when Ctrl-C is
pressed (exit 130; a second Ctrl-C cancels them), when the output is closed (``| head``; exit
141), or at the first cache failure (exit 6, naming the database: no more requests for rows
that could not be stored).
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
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO, Protocol

import attrs
import click

from metarr.cli import exits, output
from metarr.cli.state import get_state
from metarr.convert import to_json
from metarr.engine import ProviderFailures
from metarr.errors import ClosedError, StorageError
from metarr.models import OUTCOME_STATUSES, Outcome
from metarr.orchestrator import Orchestrator
from metarr.pipes import discard_stdout
from metarr.query import Query
from metarr.runner import DEFAULT_CONCURRENCY

log = logging.getLogger("metarr.cli.batch")

COLUMNS = ("tmdb_id", "imdb_id", "tvdb_id", "title", "year", "key")
FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl"}
INVALID = "invalid"
REFRESH_SECONDS = 0.1


class BatchFileError(Exception):
    """The file cannot be used at all (exit 2)."""


@attrs.frozen(kw_only=True)
class Row:
    """One input record (``line`` is where it starts): a query, or why it is unusable."""

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


def read_rows(handle: BinaryIO, fmt: str, name: str = "the file") -> Iterator[Row]:
    """The file's rows, lazily; unusable records become rows with an ``error``.

    ``name`` is how messages name the file. A record whose key an earlier one used for a
    different input is refused (its answer would be the earlier one's).
    """
    lines = _Lines(handle, name)
    rows = _csv_rows(lines, name) if fmt == "csv" else _json_rows(lines)
    return _unique_keys(rows)


class _Lines:
    """The file's lines as text, numbered (``number`` is the last one read). Bytes that are
    not UTF-8 become lone surrogates (``surrogateescape``), for the rows to report."""

    def __init__(self, handle: BinaryIO, name: str) -> None:
        self.handle = handle
        self.name = name
        self.number = 0
        self.ended = False

    def __iter__(self) -> Iterator[str]:
        try:
            for raw in self.handle:
                self.number += 1
                text = raw.decode("utf-8", "surrogateescape")
                yield text.removeprefix("\ufeff") if self.number == 1 else text
        except OSError as exc:
            raise BatchFileError(f"cannot read {self.name}: {exc.strerror or exc}") from None
        self.ended = True


def _not_utf8(text: str) -> str | None:
    """Why a decoded record is not text (its first undecodable byte), or None."""
    for column, ch in enumerate(text, start=1):
        if "\udc80" <= ch <= "\udcff":
            return f"not UTF-8 text (byte 0x{ord(ch) - 0xDC00:02x} at column {column})"
    return None


def _json_rows(lines: _Lines) -> Iterator[Row]:
    for text in lines:
        text = text.rstrip("\r\n")
        if text.strip():
            yield _json_row(lines.number, text)


def _csv_rows(lines: _Lines, name: str) -> Iterator[Row]:
    reader = csv.reader(iter(lines))
    header: list[str] | None = None
    end = 0  # the last line of the previous record
    while True:
        start = end + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            end = lines.number
            if header is None:
                raise BatchFileError(f"{name}: line {start}: bad CSV header: {exc}") from None
            yield Row(line=start, error=f"bad CSV: {exc}")
            continue
        end = lines.number
        if len(values) <= 1 and not "".join(values).strip():
            continue  # a blank line
        if lines.ended and end > start:  # `csv` never reads ahead: only an open quote does
            error = f"a quote opened here is never closed: lines {start}-{end} are one record"
            if header is None:
                raise BatchFileError(f"{name}: line {start}: bad CSV header: {error}")
            yield Row(line=start, error=error)
            return
        problem = _not_utf8(",".join(values))
        if header is None:
            if problem is not None:
                raise BatchFileError(f"{name}: line {start}: the header is {problem}")
            header = _header(name, start, values)
        elif problem is not None:
            yield Row(line=start, error=problem)
        else:
            yield _csv_row(start, values, header)


def _header(name: str, number: int, values: list[str]) -> list[str]:
    names = [value.strip().lower() for value in values]
    if not set(names) & set(COLUMNS[:4]):
        raise BatchFileError(
            f"{name}: line {number}: the CSV header names none of {', '.join(COLUMNS[:4])} "
            f"(found: {', '.join(names) or 'nothing'})"
        )
    seen: dict[str, str] = {}
    for value, column in zip(values, names, strict=True):
        if column and column in seen:
            raise BatchFileError(
                f"{name}: line {number}: the CSV header names column {column!r} twice "
                f"({seen[column].strip()!r} and {value.strip()!r}); keep one"
            )
        seen[column] = value
    return names


def _query(number: int, data: dict[str, Any]) -> Row:
    picked = {k: v for k, v in data.items() if k in COLUMNS and v not in (None, "")}
    if not picked:
        return Row(line=number, error=f"nothing to identify: give one of {', '.join(COLUMNS[:4])}")
    try:
        return Row(line=number, query=Query.from_input(picked))
    except (ValueError, TypeError) as exc:
        return Row(line=number, error=str(exc))


def _csv_row(number: int, values: list[str], header: list[str]) -> Row:
    if len(values) > len(header):
        return Row(line=number, error=f"{len(values)} fields but the header has {len(header)}")
    fields = dict(zip(header, (value.strip() for value in values), strict=False))
    return _query(number, fields)


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise ValueError(f"key {key!r} appears twice")
        data[key] = value
    return data


def _json_row(number: int, text: str) -> Row:
    problem = _not_utf8(text)
    if problem is not None:
        return Row(line=number, error=problem)
    try:
        data = json.loads(text, object_pairs_hook=_unique_pairs)
    except RecursionError:
        return Row(line=number, error="bad JSON: nested too deeply")
    except ValueError as exc:
        return Row(line=number, error=f"bad JSON: {exc}")
    if not isinstance(data, dict):
        return Row(line=number, error=f"expected a JSON object, got {type(data).__name__}")
    fields: dict[str, Any] = {}
    for key, value in data.items():
        column = str(key).lower()
        if column in fields:
            return Row(line=number, error=f"bad JSON: key {column!r} appears twice (any case)")
        fields[column] = value
    return _query(number, fields)


def _unique_keys(rows: Iterable[Row]) -> Iterator[Row]:
    """The rows, with a row refused when an earlier one used its key for another input."""
    seen: dict[str, tuple[int, str]] = {}
    for row in rows:
        if row.query is not None:
            key = row.query.input_key
            given = json.dumps(row.query.to_input(), sort_keys=True, ensure_ascii=False)
            first = seen.setdefault(key, (row.line, given))
            if first[1] != given:
                row = Row(
                    line=row.line,
                    error=f"key {key!r} is already used by line {first[0]} for another input "
                    f"({_input_text(first[1])}): give this row its own key",
                )
        yield row


def _input_text(given: str) -> str:
    return output.shorten(" ".join(f"{k}={v}" for k, v in json.loads(given).items()), 120)


@attrs.define
class Tally:
    """Counts per outcome, why the run stopped early (if it did) and the exit code."""

    started: float = attrs.field(factory=time.monotonic)
    counts: Counter[str] = attrs.field(factory=Counter)
    code: int = exits.OK
    interrupted: bool = False
    blocked: str | None = None
    output_closed: bool = False
    storage: BaseException | None = None
    storage_line: int | None = None

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

    def exit_code(self) -> int:
        """Ctrl-C, then a cache failure, then a closed output, then the worst outcome."""
        if self.interrupted:
            return exits.INTERRUPTED
        if self.storage is not None:
            return exits.STORAGE
        if self.output_closed:
            return exits.OUTPUT_CLOSED
        return self.code


class LiveDisplay:
    """Per-result output on stdout and, on a terminal, one live progress line on stderr (the
    shared part of `batch`'s and `scan`'s displays).

    When stdout is closed (``| head``) results are still counted but no longer printed, and
    ``tally.output_closed`` tells the run to stop.
    """

    label = "metarr"
    """The command named in front of a note."""

    def __init__(self, tally: Tally, *, as_json: bool, progress: bool) -> None:
        self.tally = tally
        self.as_json = as_json
        self.progress = progress
        self._last = 0.0
        self._width = 0

    def out(self, text: str) -> None:
        """Print a line on stdout, unless it was closed (then note that it was)."""
        if self.tally.output_closed:
            return
        try:
            if self.as_json:  # plain text: no styles to strip (click.echo asks isatty each time)
                sys.stdout.write(text + "\n")
                sys.stdout.flush()
            else:
                click.echo(text)
        except BrokenPipeError:
            self.tally.output_closed = True
            discard_stdout()

    def note(self, text: str) -> None:
        self._clear()
        click.echo(click.style(f"{self.label}: ", fg="yellow") + output.safe(text), err=True)
        self.tick(force=True)

    def tick(self, *, force: bool = False) -> None:
        if not self.progress:
            return
        now = time.monotonic()
        if not force and now - self._last < REFRESH_SECONDS:
            return
        self._last = now
        text = self.progress_text()
        click.echo("\r" + text.ljust(self._width), nl=False, err=True)
        self._width = len(text)

    def progress_text(self) -> str:
        """The live line: results so far per outcome and the rate."""
        counts = " · ".join(f"{status} {n}" for status, n in ordered_counts(self.tally.counts) if n)
        return f"{self.tally.done} rows · {counts or 'starting'} · {self.tally.rate():.1f}/s"

    def _clear(self) -> None:
        if self._width:
            click.echo("\r" + " " * self._width + "\r", nl=False, err=True)
            self._width = 0

    def close(self) -> None:
        self._clear()


class Display(LiveDisplay):
    """`batch`'s display: a line (or a JSON line) per row."""

    label = "batch"

    def result(self, row: Row, outcome: Outcome) -> None:
        self.tally.add(outcome.status)
        assert row.query is not None
        if self.as_json:
            self._clear()
            line = {"line": row.line, "key": row.query.input_key, "input": row.query.to_input()}
            self.out(output.json_line({**line, **to_json(outcome)}))
        elif not self.progress or outcome.status != "identified":
            self._clear()
            self.out(_row_line(row, outcome))
        self.tick()

    def bad(self, row: Row) -> None:
        self.tally.add(INVALID)
        self.note(f"line {row.line}: {row.error}")
        self.tick()


def outcome_lines(
    tally: Tally,
    requests: dict[str, int],
    limited: dict[str, int],
    failures: Mapping[str, ProviderFailures],
    *,
    noun: str,
) -> list[str]:
    """A summary's body: ``noun`` (rows, items) per outcome, requests and 429s per provider,
    and every provider that failed (``throughout``: in every one that asked it)."""
    lines = []
    rows = [(output.styled_status(status), n) for status, n in ordered_counts(tally.counts)]
    if rows:
        lines.append(output.table(("outcome", noun), rows, indent=2))
    lines.append(f"{click.style('requests', bold=True)}  {output.requests_line(requests)}")
    lines.append(f"{click.style('429s', bold=True)}      {output.requests_line(limited)}")
    for name, failed in sorted(failures.items()):
        if not failed.failed:
            continue
        how = (
            f"in every {noun[:-1]} that asked it"
            if failed.throughout
            else f"in {failed.failed} {noun}"
        )
        out = "; out for the rest of the run" if failed.out_for_run else ""
        lines.append(
            click.style("failed", fg="red", bold=True)
            + f"    {name} {how} ({failed.failed} of {failed.asked}): {failed.detail}{out}"
        )
    return lines


def ordered_counts(counts: Counter[str]) -> list[tuple[str, int]]:
    order = [*OUTCOME_STATUSES, INVALID]
    return sorted(counts.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else 99)


def _row_line(row: Row, outcome: Outcome) -> str:
    assert row.query is not None
    head = f"line {row.line:>5}  {output.styled_status(outcome.status, 12)}"
    movie = outcome.movie
    if movie is not None:
        return f"{head}  {output.label(movie.title, movie.year)}  {movie.ids}"
    why = output.shorten("; ".join(outcome.reasons), 240)
    return f"{head}  {output.safe(row.query.input_key)}" + (f"  ({why})" if why else "")


async def run_batch(
    orc: Orchestrator,
    rows: Iterator[Row],
    *,
    concurrency: int,
    display: Display,
    retry_queued: bool = False,
) -> None:
    """Identify every row with the library's runner (`Orchestrator.identify_many`), at most
    ``concurrency`` in flight, showing each result as it comes.

    No new row starts once SIGINT arrives (a second one cancels the rows in flight), stdout is
    closed, a blocked configuration shows or the cache fails; the rows in flight finish (and
    commit) either way. Rows already waiting for a person are not searched again unless
    ``retry_queued`` (`Orchestrator.run`).
    """
    tally = display.tally
    rows_in_flight: dict[int, Row] = {}  # the runner's input index -> the row

    def queries() -> Iterator[Query]:
        index = 0
        for row in rows:
            if row.query is None:
                display.bad(row)
                continue
            rows_in_flight[index] = row
            index += 1
            yield row.query

    batch = orc.identify_many(queries(), concurrency=concurrency, retry_queued=retry_queued)

    with interruptible(batch, tally, display.note, "rows"):
        async with batch:
            try:
                async for result in batch:
                    display.result(rows_in_flight.pop(result.index), result.outcome)
                    if tally.output_closed:
                        batch.stop()
                    if result.outcome.status == "blocked" and tally.blocked is None:
                        tally.blocked = "; ".join(result.outcome.reasons) or "blocked"
            except (StorageError, ClosedError) as exc:
                log.debug("the cache failed", exc_info=True)
                tally.storage = exc
                if batch.failed is not None:
                    tally.storage_line = rows_in_flight[batch.failed.index].line


class Stoppable(Protocol):
    """A stream of results a first Ctrl-C stops and a second cancels (`metarr.Batch`,
    `metarr.Scan`)."""

    def stop(self) -> None: ...
    def cancel(self) -> None: ...


@contextlib.contextmanager
def interruptible(
    stream: Stoppable, tally: Tally, note: Callable[[str], None], noun: str
) -> Iterator[None]:
    """While the body runs, a first SIGINT stops ``stream`` (nothing new starts, the
    ``noun`` in flight finish and commit) and a second cancels it; either way
    ``tally.interrupted``. Where no signal handler can be installed, the cancellation a
    KeyboardInterrupt brings is taken as the same."""
    loop = asyncio.get_running_loop()

    def on_sigint() -> None:
        if not tally.interrupted:
            tally.interrupted = True
            stream.stop()
            note(f"interrupted: finishing the {noun} in flight (Ctrl-C again cancels them)")
        else:
            stream.cancel()

    handled = False
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(signal.SIGINT, on_sigint)
        handled = True
    try:
        yield
    except asyncio.CancelledError:  # KeyboardInterrupt without our handler (other platforms)
        tally.interrupted = True
    finally:
        if handled:
            loop.remove_signal_handler(signal.SIGINT)


def summary_lines(
    tally: Tally,
    requests: dict[str, int],
    limited: dict[str, int],
    failures: Mapping[str, ProviderFailures] | None = None,
) -> list[str]:
    """The closing summary: counts per outcome, requests and 429s per provider, speed, and
    every provider that failed (``throughout``: in every row that asked it)."""
    lines = [
        click.style("batch", bold=True)
        + f"  {tally.done} rows in {tally.elapsed:.2f} s ({tally.rate():.1f} movies/s)"
    ]
    lines += outcome_lines(tally, requests, limited, failures or {}, noun="rows")
    if tally.interrupted:
        lines.append(
            "stopped early by Ctrl-C: rows not started were skipped; rerun the same command to "
            "continue (finished rows are cached)"
        )
    elif tally.output_closed:
        lines.append(
            "stopped early: the output was closed; the rows in flight were committed, rows not "
            "started were skipped; rerun the same command to continue"
        )
    return lines


def finish_run(
    tally: Tally,
    display: LiveDisplay,
    summary: str,
    failures: Mapping[str, ProviderFailures],
    *,
    as_json: bool,
    stopped: str,
) -> None:
    """End a batch or scan: its summary (on stderr beside JSON lines or a closed stdout), then
    its exit: a provider failing throughout or out for the run is a provider error; a cache
    failure is a `exits.CliError` saying where the run ``stopped``; a refused input is a usage
    error unless Ctrl-C came first."""
    if any(failed.throughout or failed.out_for_run for failed in failures.values()):
        tally.code = exits.worst((tally.code, exits.PROVIDER_ERROR))
    if as_json or tally.output_closed:
        click.echo(summary, err=True)
    else:
        display.out(summary)  # stdout may be gone by now: then the summary is dropped
    code = tally.exit_code()
    if code == exits.STORAGE:
        message = exits.describe(tally.storage or StorageError(), db=get_state().db_path)
        raise exits.CliError(f"{message}; {stopped}", code)
    if tally.blocked and not tally.interrupted:
        raise exits.CliError(tally.blocked, exits.USAGE)
    if code:
        click.get_current_context().exit(code)


@click.command()
@click.argument("file", type=click.Path(path_type=Path, allow_dash=True))
@click.option(
    "--concurrency",
    type=click.IntRange(1, 256),
    default=DEFAULT_CONCURRENCY,
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
    blocked configuration, 5 a provider failed, 6 the cache failed (the run stops), 130
    interrupted, 141 the output was closed (the run stops).
    """
    state = get_state()
    if str(file) == "-":
        if fmt is None:
            raise exits.CliError("reading stdin: give --format csv or jsonl")
        fmt_name, handle, name = fmt, sys.stdin.buffer, "stdin"
    else:
        try:
            fmt_name = detect_format(file, fmt)
            handle, name = file.open("rb"), str(file)
        except BatchFileError as exc:
            raise exits.CliError(str(exc)) from None
        except OSError as exc:
            raise exits.CliError(f"cannot read {file}: {exc.strerror or exc}") from None
    if progress is None:
        progress = sys.stderr.isatty()
    tally = Tally()
    display = Display(tally, as_json=as_json, progress=progress)
    stats: dict[str, dict[str, int]] = {}
    failures: dict[str, ProviderFailures] = {}

    async def work(orc: Orchestrator) -> None:
        try:
            await run_batch(
                orc,
                read_rows(handle, fmt_name, name),
                concurrency=concurrency,
                display=display,
                retry_queued=retry_queued,
            )
        finally:
            stats["requests"] = dict(orc.stats.requests)
            stats["limited"] = dict(orc.stats.rate_limited)
            failures.update(orc.provider_failures())

    try:
        with handle:
            state.run(work)
    except BatchFileError as exc:
        display.close()
        raise exits.CliError(str(exc)) from None
    except KeyboardInterrupt:
        tally.interrupted = True
    display.close()
    requests, limited = stats.get("requests", {}), stats.get("limited", {})
    summary = "\n".join(summary_lines(tally, requests, limited, failures))
    finish_run(
        tally,
        display,
        summary,
        failures,
        as_json=as_json,
        stopped=f"the batch stopped at line {tally.storage_line}: rerun it once the cache is "
        "fixed (the rows finished before are kept)",
    )
