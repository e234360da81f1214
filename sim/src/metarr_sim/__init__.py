"""An offline simulated provider world: TMDB v3, OMDb, Fanart.tv v3 and TheTVDB v4 on 127.0.0.1.

    from metarr_sim import SimServer, World

    with SimServer(World.load()) as sim:
        env = sim.settings_env()  # METARR_<NAME>_BASE_URL and keys for every provider

The world is real MovieLens data (see ``NOTICE-MovieLens.txt``) plus simulated facts derived
deterministically from the ids; see `metarr_sim.world`.
"""

from metarr_sim.base import SimKeys
from metarr_sim.server import FAULTS, PROVIDERS, Knobs, SimServer
from metarr_sim.world import Movie, World

__all__ = ["FAULTS", "PROVIDERS", "Knobs", "Movie", "SimKeys", "SimServer", "World"]
