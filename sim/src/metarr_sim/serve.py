"""``metarr sim``: run the simulated providers in the foreground."""

from __future__ import annotations

import shlex
import threading

import click

__all__ = ["sim"]


@click.command("sim")
@click.option("--port", type=click.IntRange(0, 65535), default=0, show_default="a free port")
@click.option("--latency", type=click.FloatRange(min=0), default=0.0, help="Seconds per response.")
@click.option("--jitter", type=click.FloatRange(min=0), default=0.0, help="Extra random seconds.")
@click.option("--rate", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Requests per second per provider before 429s.")  # fmt: skip
@click.option("--fault-rate", type=click.FloatRange(0, 1), default=0.0,
              help="Share of requests failing: 5xx, timeout, truncated, reset, slow.")  # fmt: skip
@click.option("--seed", type=int, default=0, show_default=True, help="Makes faults repeatable.")
@click.option("--omdb-quota", type=click.IntRange(min=0), default=None,
              help="OMDb requests per key before 'Request limit reached!'.")  # fmt: skip
@click.option("--interval", type=click.FloatRange(min=0.5), default=5.0, show_default=True,
              help="Seconds between request-count lines.")  # fmt: skip
def sim(
    port: int,
    latency: float,
    jitter: float,
    rate: float | None,
    fault_rate: float,
    seed: int,
    omdb_quota: int | None,
    interval: float,
) -> None:
    """Serve simulated TMDB, OMDb, Fanart.tv and TheTVDB APIs on 127.0.0.1 until Ctrl-C.

    The world is MovieLens ml-latest-small plus simulated details. The printed keys are
    simulator keys, not secrets.
    """
    from metarr_sim import Knobs, SimServer, World

    base = Knobs(latency=latency, jitter=jitter, rate=rate, fault_rate=fault_rate)
    knobs = {"*": base}
    if omdb_quota is not None:
        knobs["omdb"] = Knobs(
            latency=latency, jitter=jitter, rate=rate, fault_rate=fault_rate, daily_quota=omdb_quota
        )
    world = World.load()
    server = SimServer(world, knobs=knobs, seed=seed, port=port)
    server.start()
    click.echo(f"metarr simulator: {len(world):,} movies on {server.url}")
    for name, url in server.base_urls().items():
        click.echo(f"  {name:<7} {url}")
    click.echo("\nPoint metarr at it (simulator keys, not secrets):")
    for key, value in server.settings_env().items():
        click.echo(f"  export {key}={shlex.quote(value)}")
    click.echo("\nCtrl-C stops the simulator.")
    stop = threading.Event()
    last = server.counts()
    try:
        while not stop.wait(interval):
            counts = server.counts()
            if counts != last:
                limited = server.rate_limited_counts()
                parts = []
                for name, endpoints in counts.items():
                    total = sum(endpoints.values())
                    throttled = sum(limited.get(name, {}).values())
                    parts.append(
                        f"{name} {total}" + (f" ({throttled} limited)" if throttled else "")
                    )
                click.echo("requests: " + ", ".join(parts))
                last = counts
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
        click.echo("simulator stopped")
