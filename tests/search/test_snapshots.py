"""The snapshot period of a raysearch driver: every second, at most 1/20 of the driver's time."""

from __future__ import annotations

import pytest

from raysearch.search import snapshots


def test_period_is_the_floor_until_snapshots_get_slow() -> None:
    assert snapshots.snapshot_period(1.0, 0.004) == 1.0  # a real search: every second
    assert snapshots.snapshot_period(1.0, 0.2) == pytest.approx(3.8)  # 1/20 of the time at most
    assert snapshots.snapshot_period(10.0, 0.2) == 10.0  # Tune's own rule has a 10 s floor


@pytest.fixture()
def restore_tune_controller(monkeypatch: pytest.MonkeyPatch) -> None:
    from ray.tune.execution import tune_controller
    from ray.tune.execution.experiment_state import _ExperimentCheckpointManager

    # Ray's own class, whatever an earlier test of this process installed
    monkeypatch.setattr(tune_controller, "_ExperimentCheckpointManager",
                        _ExperimentCheckpointManager)
    monkeypatch.delenv(snapshots.ENV, raising=False)


@pytest.mark.usefixtures("restore_tune_controller")
def test_tune_builds_the_floored_manager_and_it_adapts() -> None:
    """Against Ray's own class: the name TuneController builds, its auto mode, its period."""
    from ray.tune.execution import tune_controller

    snapshots.use_snapshot_floor()
    cls = tune_controller._ExperimentCheckpointManager
    assert cls.__name__ == "FlooredCheckpointManager"
    # TuneController passes the period from TUNE_GLOBAL_CHECKPOINT_S, "auto" when it is unset
    manager = cls(storage=None, checkpoint_period="auto")
    assert manager.auto_checkpoint_enabled and manager._checkpoint_period == 1.0
    manager._update_auto_checkpoint_time(time_taken=0.5)
    assert manager._checkpoint_period == pytest.approx(9.5)
    manager._update_auto_checkpoint_time(time_taken=0.01)
    assert manager._checkpoint_period == 1.0
    fixed = cls(storage=None, checkpoint_period=5)  # a number: Tune's fixed period, untouched
    fixed._update_auto_checkpoint_time(time_taken=0.5)
    assert fixed._checkpoint_period == 5.0


@pytest.mark.usefixtures("restore_tune_controller")
def test_the_users_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    from ray.tune.execution import tune_controller
    from ray.tune.execution.experiment_state import _ExperimentCheckpointManager

    monkeypatch.setenv(snapshots.ENV, "auto")
    snapshots.use_snapshot_floor()
    assert tune_controller._ExperimentCheckpointManager is _ExperimentCheckpointManager
