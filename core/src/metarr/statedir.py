"""Where providers keep small private files between runs (TheTVDB's login token).

Each provider gets its own directory, ``<root>/<provider name>``; the root is
``METARR_STATE_DIR`` when set (tests, embedders, several isolated setups on one machine), else
the platform's user state directory (``~/.local/state/metarr`` on Linux). Files are written
whole through an atomic rename with mode 0600, so concurrent processes never see half a file
and other users never see any of it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import platformdirs

STATE_DIR_VAR = "METARR_STATE_DIR"


def provider_state_dir(provider: str) -> Path:
    """The state directory of ``provider`` (not created: writing a file creates it)."""
    root = os.environ.get(STATE_DIR_VAR) or platformdirs.user_state_dir("metarr")
    return Path(root).expanduser() / provider


def read_private(path: Path) -> bytes | None:
    """The file's bytes, or None when it is missing or cannot be read."""
    try:
        return path.read_bytes()
    except OSError:
        return None


def write_private(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` in one step, readable by this user only.

    The directory is created (mode 0700) when missing. Raises OSError when the file cannot be
    written; a reader meanwhile sees the old file or the new one, never a mix.
    """
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:  # mkstemp made it 0600
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def remove_private(path: Path) -> None:
    """Delete ``path`` if it exists (errors ignored: the file is only an optimisation)."""
    with contextlib.suppress(OSError):
        path.unlink()
