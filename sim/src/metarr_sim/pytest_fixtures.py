"""Pytest fixtures for tests against the simulator.

Enable them in a ``conftest.py`` with ``pytest_plugins = ["metarr_sim.pytest_fixtures"]``, or
import the fixtures you need into a test module (``from metarr_sim.pytest_fixtures import
sim_world, sim_server``). ``sim_server`` is a running `SimServer` on a free port, stopped after
the test; its counts start at zero. For custom knobs, build one with `start_sim`::

    def test_slow(sim_world):
        with start_sim(sim_world, knobs={"tmdb": Knobs(latency=0.2)}) as sim:
            ...

While this plugin is active, every test session keeps provider state (TheTVDB's login token)
in a temporary ``METARR_STATE_DIR`` unless one is set: tests never write to your own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping

import pytest
from metarr.statedir import STATE_DIR_VAR

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


@pytest.fixture(scope="session", autouse=True)
def _private_state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Provider state goes to a directory of this test session, not the user's."""
    if os.environ.get(STATE_DIR_VAR):
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(STATE_DIR_VAR, str(tmp_path_factory.mktemp("metarr-state")))
        yield


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
