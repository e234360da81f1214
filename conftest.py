"""The suite's process policy: two test processes for a run, one for named files or tests;
Hypothesis without wall-clock checks.

``pyproject.toml`` runs every session on pytest-xdist's workers (``-n auto --maxprocesses=2
--dist loadfile``). Starting them costs 2 s of an idle machine's time (over 15 s on a loaded
one), more than most files take: when the command line names only files or tests
(``pytest tests/test_gate.py``, ``pytest tests/test_gate.py::test_x tests/test_ids.py``), not
a directory, the session runs in this process instead. A ``-n`` or ``--dist`` given on the
command line always wins.

Hypothesis's per-example deadline (200 ms) and its "data generation too slow" health check
time the wall clock, which a loaded machine stretches: an example of
``test_any_text_gives_few_nonempty_forms`` took 331 ms once in a run on two busy cores (0.1 ms
when repeated). Neither is what a property asserts; tests that care about speed measure CPU
time themselves.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("metarr", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("metarr")

_OWN_CHOICE = ("-n", "--numprocesses", "-d", "--dist", "--tx")


@pytest.hookimpl(tryfirst=True)
def pytest_cmdline_main(config: pytest.Config) -> None:
    """One process when only files or tests are named (before pytest-xdist reads ``-n``)."""
    if getattr(config.option, "numprocesses", None) is None:
        return  # pytest-xdist is not loaded
    given = config.invocation_params.args
    if any(arg.startswith(_OWN_CHOICE) for arg in given):
        return
    if config.args and all(Path(arg.split("::")[0]).is_file() for arg in config.args):
        config.option.numprocesses = 0
        config.option.dist = "no"
