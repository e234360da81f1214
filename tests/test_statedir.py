"""Provider state directories: where they are, and files written whole and private."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from metarr.config import ProviderSettings
from metarr.http import ProviderHttp
from metarr.provider import ProviderContext
from metarr.statedir import (
    STATE_DIR_VAR,
    provider_state_dir,
    read_private,
    remove_private,
    write_private,
)


def test_state_dir_is_per_provider_under_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(STATE_DIR_VAR, str(tmp_path))
    assert provider_state_dir("tvdb") == tmp_path / "tvdb"
    context = ProviderContext(
        name="tvdb",
        settings=ProviderSettings(name="tvdb"),
        http=ProviderHttp(None, provider="tvdb", base_url="http://x"),  # type: ignore[arg-type]
    )
    assert context.state_dir == tmp_path / "tvdb"
    assert not context.state_dir.exists()  # created only when a file is written
    explicit = ProviderContext(
        name="tvdb",
        settings=ProviderSettings(name="tvdb"),
        http=context.http,
        state_dir=str(tmp_path / "mine"),
    )
    assert explicit.state_dir == tmp_path / "mine"


def test_without_the_variable_it_is_the_user_state_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STATE_DIR_VAR, raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", "/somewhere/state")
    assert provider_state_dir("tvdb") == Path("/somewhere/state/metarr/tvdb")


def test_write_private_replaces_whole_and_private(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "token.json"
    assert read_private(path) is None
    write_private(path, b"one")
    write_private(path, b"two")
    assert read_private(path) == b"two"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert list(path.parent.iterdir()) == [path]
    remove_private(path)
    remove_private(path)  # already gone: no error
    assert read_private(path) is None


def test_a_failed_write_leaves_the_old_file_and_no_litter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "token.json"
    write_private(path, b"old")

    def full_disk(fd: int) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("metarr.statedir.os.fsync", full_disk)
    with pytest.raises(OSError, match="disk full"):
        write_private(path, b"new")
    assert read_private(path) == b"old"
    assert list(tmp_path.iterdir()) == [path]


WRITER = """
import json, sys
from pathlib import Path
from metarr.statedir import write_private
body = json.dumps({"writer": int(sys.argv[2]), "padding": "x" * 20_000}).encode()
for _ in range(150):
    write_private(Path(sys.argv[1]), body)
"""


@pytest.mark.slow
def test_concurrent_processes_never_show_half_a_file(tmp_path: Path) -> None:
    path = tmp_path / "token.json"
    write_private(path, json.dumps({"writer": -1}).encode())
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), str(n)]) for n in range(3)
    ]
    seen = set()
    while any(p.poll() is None for p in writers):
        data = read_private(path)
        assert data is not None
        seen.add(json.loads(data)["writer"])  # always one whole file
    for process in writers:
        assert process.wait() == 0
    assert json.loads(read_private(path) or b"")["writer"] in {0, 1, 2}
    assert list(tmp_path.iterdir()) == [path]
    assert seen
