"""Exit codes of the ``metarr`` command, in one place, and the error that carries one.

======  ==========================================================================
code    meaning
======  ==========================================================================
0       success / identified
1       anything else (an unexpected failure)
2       usage or configuration error (bad arguments, bad ids, bad config, blocked)
3       needs identification: ambiguous, not found or conflicting providers
4       retry later: a provider asked us to slow down (rate limited)
5       a provider or the network failed
7       a provider plugin is broken or broke its contract: a bug in the plugin, not in
        the input (the message names the plugin and the hook; ``--debug`` adds the
        traceback). ``metarr plugins`` ends with it while any plugin is broken
6       the cache cannot be read or written (disk full, corrupt or read-only file);
        the message names the file, and a batch stops at the first such failure
130     interrupted (Ctrl-C)
141     the output was closed (``metarr batch … | head``): the batch stopped, the rows
        in flight were committed (141 is what a shell reports for a process that
        SIGPIPE ended)
======  ==========================================================================
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

import click

from metarr import pipes
from metarr.cache.errors import UnreadableMovieError
from metarr.errors import (
    ConfigError,
    InvalidIdError,
    MetarrError,
    PluginError,
    ProviderError,
    RateLimitedError,
    StorageError,
)
from metarr.redaction import redact

OK = 0
FAILURE = 1
USAGE = 2
NEEDS_PERSON = 3
RETRY_LATER = 4
PROVIDER_ERROR = 5
STORAGE = 6
PLUGIN = 7
INTERRUPTED = 130
OUTPUT_CLOSED = pipes.OUTPUT_CLOSED

_BY_STATUS = {
    "identified": OK,
    "ambiguous": NEEDS_PERSON,
    "not_found": NEEDS_PERSON,
    "conflict": NEEDS_PERSON,
    "rate_limited": RETRY_LATER,
    "error": PROVIDER_ERROR,
    "blocked": USAGE,
}
# How bad each code is when several results are folded into one (batch, refresh).
_SEVERITY = {
    OK: 0,
    NEEDS_PERSON: 1,
    RETRY_LATER: 2,
    USAGE: 3,
    FAILURE: 4,
    PROVIDER_ERROR: 5,
    PLUGIN: 6,
    STORAGE: 7,
    OUTPUT_CLOSED: 8,
    INTERRUPTED: 9,
}


def for_status(status: str) -> int:
    """The exit code for an outcome status."""
    return _BY_STATUS.get(status, FAILURE)


def worst(codes: Iterable[int]) -> int:
    """The most severe of several exit codes (0 when there are none)."""
    return max(codes, key=lambda code: _SEVERITY.get(code, 4), default=OK)


def is_storage_failure(exc: BaseException) -> bool:
    """Whether the cache failed (SQLite is used by the cache only). One unreadable movie is
    not a failure of the cache: it is reported for that movie (``metarr cache repair``)."""
    if isinstance(exc, UnreadableMovieError):
        return False
    return isinstance(exc, StorageError | sqlite3.Error)


def for_exception(exc: BaseException) -> int:
    """The exit code for an error that ended a command."""
    if is_storage_failure(exc) or isinstance(exc, UnreadableMovieError):
        return STORAGE
    if isinstance(exc, PluginError):
        return PLUGIN
    if isinstance(exc, ConfigError | InvalidIdError):
        return USAGE
    if isinstance(exc, RateLimitedError):
        return RETRY_LATER
    if isinstance(exc, ProviderError):
        return PROVIDER_ERROR
    if isinstance(exc, KeyboardInterrupt):
        return INTERRUPTED
    return FAILURE


def describe(exc: BaseException, *, db: Path | None = None) -> str:
    """One line saying what went wrong and, where we know it, what to do; a cache failure
    names the database file (``db``, when the message does not already)."""
    if is_storage_failure(exc):
        text = " ".join(str(exc).split()) or type(exc).__name__
        if db is not None and str(db) not in text:  # ("cache write failed: …" → "cache FILE: …")
            text = f"cache {db}: " + text.removeprefix("cache ")
        elif not text.startswith("cache"):
            text = "cache: " + text
        return redact(f"{text} (check --db / METARR_DB)")
    if isinstance(exc, MetarrError):
        text = str(exc)
    elif isinstance(exc, OSError) and exc.strerror:
        where = f"{exc.filename}: " if exc.filename else ""
        text = f"{where}{exc.strerror}"
    else:
        text = f"unexpected {type(exc).__name__}: {exc} (run with --debug for the traceback)"
    return redact(" ".join(text.split()))


def output_closed() -> click.exceptions.Exit:
    """The quiet end of a command whose stdout was closed (``| head``): exit 141, no message."""
    pipes.discard_stdout()
    return click.exceptions.Exit(OUTPUT_CLOSED)


class CliError(click.ClickException):
    """An error to report as one line on stderr, ending the command with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = USAGE) -> None:
        super().__init__(redact(message))
        self.exit_code = exit_code  # type: ignore[misc]  # click declares it on the class

    def show(self, file: IO[Any] | None = None) -> None:
        """Print ``error: <message>`` on stderr."""
        line = click.style("error: ", fg="red", bold=True) + self.format_message()
        if file is None:
            click.echo(line, err=True)
        else:
            click.echo(line, file=file)
