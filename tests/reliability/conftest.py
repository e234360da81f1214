"""Fixtures for the reliability tests: the simulated world and retries that never sleep."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import stamina
from metarr_sim.world import World


@pytest.fixture(scope="session")
def world(sim_world: World) -> World:
    """The bundled simulated world, loaded once (the simulator plugin's `sim_world`)."""
    return sim_world


@pytest.fixture(autouse=True)
def _retries_without_sleep() -> Iterator[None]:
    """Two attempts per request (a retry really goes out) and no backoff sleep."""
    with stamina.set_testing(True, attempts=2):
        yield
