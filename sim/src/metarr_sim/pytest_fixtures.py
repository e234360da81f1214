"""Pytest fixtures for tests against the simulator.

Enable them in a ``conftest.py`` with ``pytest_plugins = ["metarr_sim.pytest_fixtures"]``, or
import the fixtures you need into a test module (``from metarr_sim.pytest_fixtures import
sim_world, sim_server``). ``sim_server`` is a running `SimServer` on a free port, stopped after
the test; its counts start at zero. For custom knobs, build one with `start_sim`::

    def test_slow(sim_world):
        with start_sim(sim_world, knobs={"tmdb": Knobs(latency=0.2)}) as sim:
            ...
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest

from metarr_sim.base import SimKeys
from metarr_sim.server import Knobs, SimServer
from metarr_sim.world import World

__all__ = ["sim_env", "sim_server", "sim_world", "start_sim"]


def start_sim(
    world: World,
    *,
    knobs: Mapping[str, Knobs] | None = None,
    seed: int = 0,
    keys: SimKeys | None = None,
) -> SimServer:
    """A started simulator (use it as a context manager so it stops)."""
    return SimServer(world, knobs=knobs, seed=seed, keys=keys).start()


@pytest.fixture(scope="session")
def sim_world() -> World:
    """The bundled world, loaded once per test session."""
    return World.load()


@pytest.fixture
def sim_server(sim_world: World) -> Iterator[SimServer]:
    """A running simulator with default knobs on a free port."""
    with SimServer(sim_world) as server:
        yield server


@pytest.fixture
def sim_env(sim_server: SimServer, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """``METARR_*`` variables set in the environment so metarr talks to ``sim_server``."""
    env = sim_server.settings_env()
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env
