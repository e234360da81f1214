"""Concurrency: two ``metarr batch`` processes over overlapping inputs share one database.

Both run at once against the simulator (with latency, so their identifications and commits
interleave). At the end every movie is stored exactly once, whole, and both processes agree
on the movie behind each input they share.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from metarr_sim import Knobs, SimServer
from metarr_sim.world import World
from reliability.helpers import (
    check_db,
    cli_env,
    library,
    movie_key,
    outcome_lines,
    popen_cli,
    write_jsonl,
)


def _run_together(
    env: dict[str, str], db: Path, files: Sequence[Path], concurrency: int
) -> list[list[dict[str, Any]]]:
    outputs: list[list[dict[str, Any]]] = []
    with (
        popen_cli(
            ["--db", str(db), "batch", str(files[0]), "--json", "--concurrency", str(concurrency)],
            env,
        ) as first,
        popen_cli(
            ["--db", str(db), "batch", str(files[1]), "--json", "--concurrency", str(concurrency)],
            env,
        ) as second,
    ):
        for process in (first, second):
            stdout, stderr = process.communicate(timeout=120)
            assert process.returncode in (0, 3), stderr.decode()[-2000:]
            assert b"Traceback" not in stderr
            outputs.append(outcome_lines(stdout))
    return outputs


@pytest.mark.slow
@pytest.mark.parametrize(("shared", "concurrency"), [(60, 6), (120, 8)])
def test_two_batches_store_every_movie_once(
    world: World, tmp_path: Path, shared: int, concurrency: int
) -> None:
    rows = library(world, 120 + 120 - shared, seed=shared)
    a = write_jsonl(tmp_path / "a.jsonl", rows[:120])
    # The second file lists the shared rows in reverse, so both reach them at different times.
    b = write_jsonl(tmp_path / "b.jsonl", list(reversed(rows[120 - shared :])))
    db = tmp_path / "cache.sqlite"
    with SimServer(world, knobs={"*": Knobs(latency=0.02, jitter=0.02)}, seed=5) as sim:
        out_a, out_b = _run_together(cli_env(sim.settings_env()), db, [a, b], concurrency)
    assert len(out_a) == 120
    assert len(out_b) == 120
    by_input: dict[str, set[tuple[Any, ...]]] = {}
    for line in out_a + out_b:
        assert line["status"] not in ("error", "rate_limited"), line["reasons"]
        if line["status"] == "identified":
            by_input.setdefault(line["key"], set()).add(movie_key(line))
    assert all(len(keys) == 1 for keys in by_input.values()), "processes disagree"
    identified = {next(iter(keys)) for keys in by_input.values()}
    stored = check_db(db)
    assert len(stored) == len(identified), "a movie is missing or stored twice"
    assert {(m.movie.ids.tmdb, m.movie.ids.imdb, m.movie.ids.tvdb) for m in stored} == identified
