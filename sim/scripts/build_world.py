"""Build metarr's bundled simulator world from MovieLens ml-latest-small.

Usage: uv run python sim/scripts/build_world.py [MOVIELENS_DIR] [OUTPUT]

MOVIELENS_DIR defaults to ../shared/data/movielens/ml-latest-small (next to the repository);
OUTPUT defaults to sim/src/metarr_sim/world.csv.gz. Only ml-latest-small may be bundled (its
licence allows redistribution of transformations under the same terms; see
sim/src/metarr_sim/NOTICE-MovieLens.txt). The build is deterministic: the same input gives a
byte-identical file.
"""

from __future__ import annotations

import sys
from pathlib import Path

from metarr_sim.world import DEFAULT_WORLD_PATH, World

REPO = Path(__file__).resolve().parents[2]
DEFAULT_SOURCE = REPO.parent / "shared" / "data" / "movielens" / "ml-latest-small"


def main(argv: list[str]) -> int:
    """Build the world file and print a short summary."""
    source = Path(argv[0]) if argv else DEFAULT_SOURCE
    output = Path(argv[1]) if len(argv) > 1 else DEFAULT_WORLD_PATH
    if source.name != "ml-latest-small":
        print(f"refusing to bundle {source}: only ml-latest-small may be shipped", file=sys.stderr)
        return 2
    world = World.from_movielens(source)
    world.save(output)
    pairs = world.same_title_same_year_pairs()
    print(
        f"{output}: {len(world)} movies, {len(pairs)} same-title-same-year pairs, "
        f"{output.stat().st_size:,} bytes"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
