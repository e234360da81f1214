"""A cold ``metarr lookup`` (nothing cached, every provider asked): what it imports before its
first request. Everything imported before the first connection is start-up the lookup waits
for; a module a lookup by id never uses is imported by the code that needs it, when it does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st
from metarr_sim import SimServer

# The modules loaded when the first connection opens (an audit hook sees ``socket.connect``)
# and when the command ends.
_PROBE = (
    "import json, sys\n"
    "seen = {}\n"
    "def modules():\n"
    "    return [name for name, module in sys.modules.items() if module is not None]\n"
    "def audit(event, args):\n"
    "    if event == 'socket.connect' and 'first' not in seen:\n"
    "        seen['first'] = modules()\n"
    "sys.addaudithook(audit)\n"
    "import metarr.__main__ as command\n"
    "ending = command.end\n"
    "def end(code):\n"
    "    seen['end'] = modules()\n"
    "    print('\\nMODULES ' + json.dumps(seen), file=sys.stderr)\n"
    "    ending(code)\n"
    "command.end = end\n"
    "sys.argv = ['metarr', *ARGS]\n"
    "command.run()\n"
)

# Title transliteration (anyascii, ≈ 3 ms with the importlib.resources it loads): a lookup by id
# compares no titles, and an ASCII title needs none.
NEVER_ON_A_LOOKUP_BY_ID = ("anyascii",)


def _cold_lookup(sim_server: SimServer, tmp_path: Path) -> tuple[set[str], set[str]]:
    """The modules a cold ``lookup --imdb`` had imported at its first connection and at its end."""
    config = tmp_path / "metarr.toml"
    config.write_text("", encoding="utf-8")
    env = {
        **os.environ,
        **sim_server.settings_env(),
        "METARR_CONFIG": str(config),
        "METARR_STATE_DIR": str(tmp_path / "state"),
    }
    args = ["--db", str(tmp_path / "cache.sqlite"), "lookup", "--imdb", "tt0114709", "--json"]
    done = subprocess.run(
        [sys.executable, "-c", _PROBE.replace("ARGS", repr(args))],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    err, _, seen = done.stderr.rpartition("\nMODULES ")
    assert done.returncode == 0, err
    assert json.loads(done.stdout)["status"] == "identified"
    modules = json.loads(seen)
    return set(modules["first"]), set(modules["end"])


def test_a_cold_lookup_by_id_never_imports_title_matching(
    sim_server: SimServer, tmp_path: Path
) -> None:
    first, end = _cold_lookup(sim_server, tmp_path)
    assert {"httpx", "metarr.engine", "metarr.matching"} <= first  # the probe saw the start
    assert end.isdisjoint(NEVER_ON_A_LOOKUP_BY_ID), end & set(NEVER_ON_A_LOOKUP_BY_ID)


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_ascii_text_is_its_own_transliteration(text: str) -> None:
    """`metarr.matching.normalize_title` skips anyascii for ASCII text: it keeps it as it is."""
    from anyascii import anyascii

    assert anyascii(text) == text
