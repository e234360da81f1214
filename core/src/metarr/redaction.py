"""Keeping secrets (API keys, tokens, pins) out of logs, messages and reprs.

Configuration wraps every secret in `Secret` (whose repr is ``***``) and registers its value
here; `redact` scrubs registered values from any text, and `install_log_redaction` makes every
log record pass through it, whichever library logged it (httpx logs full URLs with query keys).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import attrs

MASK = "***"
_registered: set[str] = set()


@attrs.frozen
class Secret:
    """A secret value that never shows itself in ``str``, ``repr`` or logs."""

    _value: str = attrs.field(repr=False, alias="value")

    def reveal(self) -> str:
        """The real value, for the one place that sends it."""
        return self._value

    def __str__(self) -> str:
        return MASK

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"


def register(*values: str) -> None:
    """Remember secret values so `redact` removes them everywhere."""
    _registered.update(value for value in values if value and len(value) >= 4)


def redact(text: str, extra: Iterable[str] = ()) -> str:
    """The text with every registered (and every extra) secret replaced by ``***``."""
    secrets = _registered.union(value for value in extra if value and len(value) >= 4)
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


_installed = False


def install_log_redaction() -> None:
    """Redact every log record at creation, for every logger and handler. Idempotent."""
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: object, **kwargs: object) -> logging.LogRecord:
        record = previous(*args, **kwargs)  # type: ignore[arg-type]
        if _registered:
            try:
                message = record.getMessage()
            except (TypeError, ValueError):
                message = str(record.msg)
            record.msg = redact(message)
            record.args = None
            if record.exc_info and not record.exc_text:
                # Formatters reuse exc_text, so the traceback is rendered (and masked) once here.
                record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            if record.stack_info:
                record.stack_info = redact(record.stack_info)
        return record

    logging.setLogRecordFactory(factory)
    _installed = True
