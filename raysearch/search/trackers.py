"""Experiment trackers (``submit --logger NAME``): Ray Tune's own logger callbacks, offline.

Each tracker is a registered name with the package it needs, the ``raysearch[extra]`` that
installs it, and a builder of its Tune callbacks. ``check_trackers`` runs before Ray starts: an
unknown name, or a tracker whose package is missing, is one ``error:`` line naming the
``pip install`` to run. This module imports neither Ray nor the trackers; the callbacks live in
``raysearch.search.tracker_callbacks``, imported by the builders.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raysearch.errors import UserError
from raysearch.registry import Registry

if TYPE_CHECKING:
    from raysearch.search.spec import SearchSpec

MLFLOW_FILE = "mlflow.db"  # --mlflow-uri's default: SQLite in the experiment folder
WANDB_DIR = "wandb"  # offline W&B runs, under the experiment folder
AIM_REPO = "aim"  # the Aim repository (its .aim folder), under the experiment folder


@dataclass(frozen=True)
class Tracker:
    """A registered experiment tracker: the module it imports, its extra, where it writes."""

    module: str  # what must be importable (checked without importing it)
    extra: str  # pip install 'raysearch[extra]'
    where: Callable[[SearchSpec], str]  # what it writes and how to open it, in words
    build: Callable[[SearchSpec], list[Any]]  # its Tune callbacks

    def __call__(self, spec: SearchSpec) -> list[Any]:
        return self.build(spec)


TRACKERS: Registry[Tracker] = Registry("logger")


def default_mlflow_uri(experiment: Path) -> str:
    return f"sqlite:///{Path(experiment).resolve() / MLFLOW_FILE}"


def mlflow_uri(spec: SearchSpec) -> str:
    return spec.mlflow_uri or default_mlflow_uri(spec.experiment)


def _tensorboard(spec: SearchSpec) -> list[Any]:
    from raysearch.search.tracker_callbacks import TensorBoardWithSamples

    return [TensorBoardWithSamples()]


def _mlflow(spec: SearchSpec) -> list[Any]:
    from ray.air.integrations.mlflow import MLflowLoggerCallback

    return [MLflowLoggerCallback(tracking_uri=mlflow_uri(spec), experiment_name=spec.name,
                                 tags={"raysearch_experiment": spec.name})]


def _wandb(spec: SearchSpec) -> list[Any]:
    from raysearch.search.tracker_wandb import OfflineWandb

    folder = spec.experiment / WANDB_DIR
    folder.mkdir(parents=True, exist_ok=True)
    return [OfflineWandb(project=spec.name, group=spec.name, dir=str(folder))]


def _aim(spec: SearchSpec) -> list[Any]:
    from ray.tune.logger.aim import AimLoggerCallback

    repo = spec.experiment / AIM_REPO
    repo.mkdir(parents=True, exist_ok=True)
    return [AimLoggerCallback(repo=str(repo), experiment_name=spec.name)]


TRACKERS.register("tensorboard")(Tracker(
    "tensorboardX", "tensorboard",
    lambda s: f"tensorboard --logdir {s.tune_experiment} (scalars, hparams, sample grids)",
    _tensorboard))
TRACKERS.register("mlflow")(Tracker(
    "mlflow", "mlflow",
    lambda s: f"mlflow ui --backend-store-uri {mlflow_uri(s)} (experiment {s.name!r})", _mlflow))
TRACKERS.register("wandb")(Tracker(
    "wandb", "wandb",
    lambda s: f"offline runs in {s.experiment / WANDB_DIR}/wandb; upload them with "
              f"wandb sync {s.experiment / WANDB_DIR}/wandb/offline-run-*", _wandb))
TRACKERS.register("aim")(Tracker(
    "aim", "aim", lambda s: f"aim storage --repo {s.experiment / AIM_REPO} reindex --yes, then "
                            f"aim up --repo {s.experiment / AIM_REPO}", _aim))


def check_trackers(loggers: tuple[str, ...] | list[str], mlflow_uri: str | None = None) -> None:
    """UserErrors, before Ray starts: unknown names, missing packages, a stray --mlflow-uri."""
    for name in loggers:
        if name not in TRACKERS:
            raise UserError(f"--logger must be one of {', '.join(TRACKERS.names())}, got {name!r}")
        tracker = TRACKERS.get(name)
        if importlib.util.find_spec(tracker.module) is None:
            raise UserError(f"--logger {name} needs the {tracker.module} package: "
                            f"pip install 'raysearch[{tracker.extra}]'")
    if mlflow_uri is not None and "mlflow" not in loggers:
        raise UserError("--mlflow-uri is only used with --logger mlflow")
    if mlflow_uri is not None and not mlflow_uri.strip():
        raise UserError("--mlflow-uri must not be empty (default: sqlite:///<experiment>/mlflow.db)")


def tracker_callbacks(spec: SearchSpec, say: Callable[[str], None] | None = None) -> list[Any]:
    """The Tune callbacks of the spec's loggers (each named once), saying where each writes."""
    callbacks: list[Any] = []
    for name in dict.fromkeys(spec.loggers):
        tracker = TRACKERS.get(name)
        callbacks += tracker(spec)
        if say is not None:
            say(f"logger {name}: {tracker.where(spec)}")
    return callbacks
