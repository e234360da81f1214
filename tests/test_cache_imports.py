"""What the cache loads on the lookup path (issue 15: a cold ``metarr lookup`` should start
like a small tool): plain sqlite3, no sqlite-utils, no maintenance or migration helpers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROBE = """
import json, sys
from metarr.cache import Cache
from metarr.ids import Ids
from metarr.models import Movie, ProviderResult
from metarr.cache.records import ProviderPart
from datetime import datetime, UTC

ids = Ids(tmdb=603, imdb="tt0133093")
result = ProviderResult(provider="tmdb", ids=ids, title="The Matrix", year=1999)
part = ProviderPart(provider="tmdb", status="ok", fetched_at=datetime.now(UTC), result=result)
with Cache(sys.argv[1]) as cache:
    cache.commit(Movie(ids=ids, title="The Matrix", year=1999), {"tmdb": part}, key="k",
                 confirmed_by="lookup", input={"tmdb_id": 603})
    assert cache.find(ids) is not None and cache.identity("k") is not None
    cache.paused_providers(); cache.queued("k"); cache.pending_retry("k")
    before = sorted(sys.modules)
    tables = cache.db.table_names()  # sqlite-utils, made on first use, same connection
print(json.dumps({"before": before, "after": sorted(sys.modules), "tables": tables}))
"""


def test_a_lookup_s_cache_work_loads_no_sqlite_utils_nor_maintenance(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "c.sqlite")],
        capture_output=True,
        text=True,
        check=True,
    )
    seen = json.loads(done.stdout)
    for module in ("sqlite_utils", "metarr.cache.maintenance", "metarr.cache.input_keys"):
        assert module not in seen["before"], module
    assert "sqlite_utils" in seen["after"] and "provider_cache_movies" in seen["tables"]
