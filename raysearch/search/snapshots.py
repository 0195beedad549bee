"""How often Tune snapshots a search's state: every second, but at most 1/20 of the driver's time.

A driver killed between two snapshots forgets what Tune did since the last one (what a resume does
about that: docs/resume-and-failures.md), so raysearch wants them often. Tune's default ("auto")
snapshots every ``max(10 s, 19 x the last snapshot's duration)``: at most 5 % of the driver's time,
but never more often than every 10 s. A fixed ``TUNE_GLOBAL_CHECKPOINT_S=1``, which raysearch set
before, is worse at scale: a snapshot serialises every trial (about 12 KiB of JSON each in Ray
2.60, plus the searcher's pickle, the signatures and the upload), so it costs O(trials) every
second. 300 no-op trials spent 12 % of the driver's time in snapshots that way, and the share grows
with the search (issue 20, bench/bench_overhead_vs_tune.py).

So raysearch keeps Tune's own rule and lowers its floor: ``max(1 s, 19 x the last snapshot's
duration)``. A search of real trials (a snapshot of a few ms) still snapshots every second; a huge
one of short trials is capped at Tune's 5 %. A ``TUNE_GLOBAL_CHECKPOINT_S`` set by the user wins
(a number of seconds, or ``auto`` for Tune's own rule).

Ray exposes no setting for the floor: the period lives in ``_ExperimentCheckpointManager``, which
``TuneController`` builds by its module-level name. ``use_snapshot_floor`` puts
``FlooredCheckpointManager`` under that name; ``tests/search/test_snapshots.py`` fails if Ray's
internals move.
"""

from __future__ import annotations

import os
from typing import Any

from ray.tune.execution import tune_controller
from ray.tune.execution.experiment_state import _ExperimentCheckpointManager

FLOOR_S = 1.0  # the shortest period between two snapshots
SHARE = 19  # the period is at least this many times the last snapshot's duration (Tune's 1/20)
ENV = "TUNE_GLOBAL_CHECKPOINT_S"


def snapshot_period(floor_s: float, last_snapshot_s: float) -> float:
    """Seconds until the next snapshot, after one that took ``last_snapshot_s``."""
    return max(floor_s, SHARE * last_snapshot_s)


class FlooredCheckpointManager(_ExperimentCheckpointManager):
    """Tune's snapshot manager with ``auto`` meaning ``max(FLOOR_S, 19 x duration)``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.auto_checkpoint_enabled:
            self._checkpoint_period = FLOOR_S

    def _update_auto_checkpoint_time(self, time_taken: float) -> None:
        if self.auto_checkpoint_enabled:
            self._checkpoint_period = snapshot_period(FLOOR_S, time_taken)


def use_snapshot_floor() -> None:
    """Snapshot every second, or less often where a snapshot would take more than 1/20 of the
    driver's time, for the rest of this process (the driver's). A ``TUNE_GLOBAL_CHECKPOINT_S`` in
    the environment wins: a number, or ``auto`` for Tune's own rule."""
    if ENV not in os.environ:
        setattr(tune_controller, "_ExperimentCheckpointManager",  # noqa: B010
                FlooredCheckpointManager)
