"""Fixtures for the identifying scan tests (`scan.simworld`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from metarr_sim import SimServer, World
from scan.simworld import EXTRA


@pytest.fixture(scope="session")
def forms_world(sim_world: World) -> World:
    """The bundled world plus the two films of the issue."""
    return World([*sim_world.movies, *EXTRA])


@pytest.fixture
def sim(forms_world: World) -> Iterator[SimServer]:
    """A simulator serving `forms_world`, counts from zero."""
    with SimServer(forms_world) as server:
        yield server
