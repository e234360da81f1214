"""metarr inside a host application: it leaves the host's logging alone.

Each check runs a small host program in a fresh interpreter (logging is process-wide state):
keys given in code and one from the environment, the real plugins against the simulator, OMDb
failing so that retries happen. With no logging configured, nothing reaches stderr; with
logging configured, the host's own records keep their ``msg`` and ``args``, and no key shows
in any record, DEBUG included.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from metarr_sim import Knobs, SimServer, World

pytestmark = pytest.mark.slow

HOST = textwrap.dedent(
    """
    import asyncio, json, logging, sys
    import attrs
    from metarr import Ids
    from metarr.config import ProviderSettings, load_settings
    from metarr.orchestrator import Orchestrator
    from metarr.plugins import discover

    urls, keys, db, configure = json.loads(sys.argv[1])
    records = []
    if configure:
        logging.basicConfig(level=logging.DEBUG, stream=sys.stdout, format="%(name)s %(message)s")

        class Keep(logging.Handler):
            def emit(self, record):
                records.append(record)

        logging.getLogger().addHandler(Keep())
    # OMDb's key comes from the environment (registered by the loader), the others from code.
    env = {"METARR_OMDB_API_KEY": keys["omdb"]["api_key"], "METARR_OMDB_BASE_URL": urls["omdb"]}
    settings = load_settings(list(urls), env=env, db_path=db)
    in_code = {
        name: ProviderSettings(name=name, base_url=urls[name], options=keys[name])
        for name in urls
        if name != "omdb"
    }
    settings = attrs.evolve(settings, providers={**settings.providers, **in_code})
    plugins = [p for p in discover() if p.name in urls]

    async def main():
        async with Orchestrator(settings) as orc:
            outcome = await orc.lookup(Ids(tmdb=603), interactive=False)
            print("STATUS", outcome.status, outcome.providers.get("omdb"))

    asyncio.run(main())
    host = logging.getLogger("hostapp")
    host.info("user %s", "bob")
    if configure:
        mine = [r for r in records if r.name == "hostapp"]
        print("HOST", json.dumps([[r.msg, list(r.args)] for r in mine]))
        print("NAMES", json.dumps(sorted({r.name for r in records})))
    """
)


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    with SimServer(World.load(), knobs={"omdb": Knobs(fault_rate=1.0, faults=("500",))}) as s:
        yield s


def host_run(
    sim: SimServer, tmp_path: Path, *, configure: bool
) -> subprocess.CompletedProcess[str]:
    urls = sim.base_urls()
    keys = {
        "tmdb": {"api_key": sim.keys.tmdb_api_key},
        "omdb": {"api_key": sim.keys.omdb_api_key},
        "fanart": {"api_key": sim.keys.fanart_api_key},
        "tvdb": {"api_key": sim.keys.tvdb_api_key},
    }
    arg = json.dumps([urls, keys, str(tmp_path / "host.sqlite"), configure])
    done = subprocess.run(
        [sys.executable, "-c", HOST, arg], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "STATUS identified error" in done.stdout  # OMDb failed on every try
    return done


def test_nothing_reaches_stderr_when_the_host_configured_no_logging(
    sim: SimServer, tmp_path: Path
) -> None:
    done = host_run(sim, tmp_path, configure=False)
    assert sim.counts()["omdb"], "OMDb was asked"
    assert sum(sim.counts()["omdb"].values()) >= 2  # ...and asked again: a retry happened
    assert done.stderr == ""


def test_host_records_are_untouched_and_no_key_is_logged(sim: SimServer, tmp_path: Path) -> None:
    done = host_run(sim, tmp_path, configure=True)
    out = done.stdout
    [host] = [line for line in out.splitlines() if line.startswith("HOST ")]
    assert json.loads(host[5:]) == [["user %s", ["bob"]]]  # msg and args as the host gave them
    for key in (sim.keys.tmdb_api_key, sim.keys.omdb_api_key, sim.keys.fanart_api_key):
        assert key not in out + done.stderr
    assert sim.keys.tvdb_api_key not in out + done.stderr
    assert "apikey=***" in out and "api_key=***" in out
    names = json.loads(next(line for line in out.splitlines() if line.startswith("NAMES "))[6:])
    assert {"httpx", "metarr.http", "stamina"} <= set(names)  # DEBUG lines, retries included
    assert "stamina.retry_scheduled: retry 1" in out
