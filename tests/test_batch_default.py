"""One default for how many inputs a batch keeps in flight, wherever a batch starts."""

from __future__ import annotations

import inspect

from metarr.cli.batch import batch
from metarr.orchestrator import Orchestrator
from metarr.runner import DEFAULT_CONCURRENCY, Batch
from metarr.sync import SyncOrchestrator


def test_every_entry_point_defaults_to_the_same_concurrency() -> None:
    defaults = {
        f"{owner.__name__}.{name}": inspect.signature(getattr(owner, name))
        .parameters["concurrency"]
        .default
        for owner, name in (
            (Orchestrator, "identify_many"),
            (Orchestrator, "retry_due"),
            (SyncOrchestrator, "identify_many"),
            (SyncOrchestrator, "retry_due"),
            (Batch, "__init__"),
        )
    }
    option = next(p for p in batch.params if p.name == "concurrency")
    defaults["metarr batch --concurrency"] = option.default
    assert set(defaults.values()) == {DEFAULT_CONCURRENCY}, defaults


def test_the_default_is_not_the_old_cap() -> None:
    # At 50 ms a request and two sequential round trips per movie, 8 in flight capped a batch at
    # 80 movies/s, under ten times the plain script's 9 (issue 15): the default must lift it.
    assert DEFAULT_CONCURRENCY * 1 / (2 * 0.05) >= 10 * 9.1
