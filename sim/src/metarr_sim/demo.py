"""``metarr demo``: the whole job, offline, in a few seconds.

Starts the simulated providers on 127.0.0.1, points every provider at them (settings built in
memory: the user's config file is not read or written), identifies a small built-in library
into a demo database, and shows the outcomes, one merged movie with its provenance and the
requests each provider received. Run it twice: the second run sends no request at all.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import platformdirs
from metarr import Batch, BatchResult, Ids, Orchestrator, Query, load_settings
from metarr.cli import exits, output
from metarr.cli.state import get_state
from metarr.config import APP_NAME
from metarr.models import OUTCOME_STATUSES

# The demo library, chosen from the bundled world (MovieLens ml-latest-small).
LIBRARY: tuple[dict[str, Any], ...] = (
    {"tmdb_id": 603},  # The Matrix (1999), by TMDB id
    {"tmdb_id": 550},  # Fight Club (1999)
    {"imdb_id": "tt0113277"},  # Heat (1995), by IMDb id
    {"imdb_id": "tt0110912"},  # Pulp Fiction (1994)
    {"tvdb_id": 158244},  # Toy Story (1995), by TheTVDB id
    {"tvdb_id": 955668},  # Inception (2010)
    {"title": "Alien", "year": 1979},
    {"title": "Amelie", "year": 2001},
    {"title": "Spirited Away", "year": 2001},  # TMDB dates it 2000: a year off, still a match
    {"title": "Blade Runner", "year": 1982},
    {"title": "Casablanca", "year": 1942},
    {"title": "Jaws", "year": 1975},
    {"title": "Memento", "year": 2000},
    {"title": "Seven Samurai", "year": 1954},
    {"title": "The Godfather", "year": 1972},
    {"title": "Goodfellas", "year": 1990},
    {"title": "Se7en", "year": 1995},  # an alternative title of "Seven"
    {"title": "Vertigo"},  # no year
    {"title": "War of the Worlds", "year": 2005},  # two movies, same title and year: ambiguous
    {"title": "The Unfilmed Screenplay of Nobody", "year": 1999},  # not found
)
SHOWN = Ids(tmdb=603)


def default_demo_db() -> Path:
    """``metarr-demo.sqlite`` in the platform's data dir, next to the real cache."""
    return Path(platformdirs.user_data_dir(APP_NAME)) / "metarr-demo.sqlite"


def _queries() -> Iterator[Query]:
    for data in LIBRARY:
        yield Query.from_input(data)


def _line(result: BatchResult) -> str:
    head = f"{result.index + 1:>3}  {output.styled_status(result.outcome.status, 12)}"
    movie = result.outcome.movie
    if movie is not None:
        return f"{head}  {output.label(movie.title, movie.year)}  {movie.ids}"
    why = output.shorten("; ".join(result.outcome.reasons), 160)
    return f"{head}  {output.safe(result.query.input_key)}  ({why})"


@click.command()
@click.option(
    "--latency",
    type=click.FloatRange(min=0),
    default=0.02,
    show_default=True,
    help="Seconds the simulated providers take per response.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Simulator seed.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Movies identified at the same time.",
)
def demo(latency: float, seed: int, concurrency: int) -> None:
    """Identify a small library against simulated providers: no key, no network, no set-up.

    Uses the demo database (--db, default: metarr-demo.sqlite in the data dir); run it twice
    and the second run sends no request.
    """
    from metarr_sim import PROVIDERS, Knobs, SimServer, World

    state = get_state()
    db = state.db or default_demo_db()
    db.expanduser().parent.mkdir(parents=True, exist_ok=True)
    installed = [info.name for info in state.infos()]
    missing = [name for name in PROVIDERS if name not in installed]
    if missing:
        raise exits.CliError(
            f"the demo needs the bundled providers; not installed: {', '.join(missing)}"
        )
    world = World.load()
    with SimServer(world, knobs={"*": Knobs(latency=latency)}, seed=seed) as sim:
        with tempfile.TemporaryDirectory() as scratch:
            empty = Path(scratch) / "demo.toml"
            empty.write_text("", encoding="utf-8")
            settings = load_settings(
                installed, config_path=empty, db_path=db, env=sim.settings_env()
            )
        click.echo(
            f"{click.style('metarr demo', bold=True)}: {len(world):,} simulated movies on "
            f"{sim.url} ({latency:g} s latency), no key and no network needed"
        )
        click.echo(f"cache: {db}")
        click.echo(f"identifying {len(LIBRARY)} movies ({concurrency} at a time)…")
        click.echo("")
        found: dict[str, Any] = {}

        async def work(orc: Orchestrator) -> None:
            batch: Batch = orc.identify_many(_queries(), concurrency=concurrency)
            try:
                async with batch:
                    async for result in batch:
                        click.echo(_line(result))
            finally:
                found["progress"] = batch.progress
                found["requests"] = dict(orc.stats.requests)
                found["movie"] = await orc.get(SHOWN)

        started = time.monotonic()
        state.run(work, settings=settings, only=list(PROVIDERS), without=())
        served = {name: sum(endpoints.values()) for name, endpoints in sim.counts().items()}
    progress = found["progress"]
    click.echo("")
    click.echo(
        click.style("demo", bold=True)
        + f"  {progress.done} movies in {progress.elapsed:.2f} s ({progress.rate:.1f} movies/s)"
    )
    counts = sorted(progress.counts.items(), key=lambda kv: OUTCOME_STATUSES.index(kv[0]))
    rows = [(output.styled_status(status), n) for status, n in counts]
    click.echo(output.table(("outcome", "movies"), rows, indent=2))
    click.echo(click.style("requests", bold=True) + f"  {output.requests_line(found['requests'])}")
    cached = found["movie"]
    if cached is not None:
        click.echo("")
        click.echo(
            click.style("one movie from the cache, each field with its provider:", bold=True)
        )
        click.echo("\n".join(output.movie_lines(cached.movie)))
    click.echo("")
    total = sum(served.values())
    click.echo(
        click.style("requests the simulated providers received", bold=True)
        + f": {output.requests_line(served)}"
    )
    if total == 0:
        click.echo("zero requests: everything came from the cache, fresh.")
    else:
        click.echo("run `metarr demo` again: everything is cached, so it sends zero requests.")
    click.echo(f"took {time.monotonic() - started:.1f} s")
