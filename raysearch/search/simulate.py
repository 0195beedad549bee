"""Replay recorded learning curves to compare search strategies in seconds, without training.

A tabulated benchmark, as in Syne Tune's blackbox repository: the trials that ran all their epochs
in real experiments form a table "configuration -> learning curve". A proposed configuration gets
the curve of the nearest recorded one (parameters scaled to [0, 1], on a log scale where the space
says so; categorical values one-hot; a conditional parameter that is absent is its own value),
and a Tune trainable reports that curve epoch by epoch. Everything else is the real search: the
same OptunaSearch, ASHA or FIFO, concurrency limit, epoch budget and trial recorder.

Each replayed epoch sleeps its recorded duration scaled to ``seconds_per_epoch`` on average, so
trials running side by side interleave their results as the real ones did.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from raysearch.config import config_from_dict
from raysearch.data import FaceData
from raysearch.errors import UserError
from raysearch.search.records import Objective, finite, read_trials
from raysearch.search.runner import (
    DEFAULT_RESULTS,
    SPEC_FILE,
    Prepared,
    SearchSpec,
    build_tuner,
    end_if_budget_spent,
    write_spec,
)
from raysearch.search.space import Param, SearchSpace, metric_modes, parse_space
from raysearch.search.strategy import check_sampler_space
from raysearch.search.warm import load_warm_start

METRICS = metric_modes()  # this module imports Ray and torch anyway
_REPLAYED = (*METRICS, "epoch_time_s")


@dataclass
class RecordedCurve:
    """One finished trial: its searched parameters and its metrics per epoch."""

    params: dict[str, Any]
    history: list[dict[str, float]]
    source: str  # experiment folder and trial number

    def epoch_time(self, epoch: int) -> float:
        t = self.history[epoch - 1].get("epoch_time_s", 1.0)
        return float(t) if isinstance(t, (int, float)) and math.isfinite(t) and t > 0 else 1.0


def _encode_param(p: Param, value: Any) -> list[float]:
    """[present, coordinates...]: numbers scaled to [0, 1], choices one-hot over 1/sqrt(2)."""
    if p.type == "categorical":
        hot = [float(value == c) / math.sqrt(2) for c in p.choices]
        return [float(value is not None), *hot]
    if value is None:
        return [0.0, 0.0]
    lo, hi, x = float(p.low), float(p.high), float(value)  # type: ignore[arg-type]
    if p.log:
        lo, hi, x = math.log(lo), math.log(hi), math.log(max(x, 1e-300))
    return [1.0, (x - lo) / (hi - lo)]


@dataclass
class CurveTable:
    """Recorded curves of one search space, looked up by nearest configuration."""

    space: SearchSpace
    metric: str
    mode: str
    epochs: int
    base_config: dict[str, Any]
    curves: list[RecordedCurve]
    sources: list[str] = field(default_factory=list)
    left_out: int = 0  # trials that did not run all epochs (stopped early, failed)

    def __post_init__(self) -> None:
        if not self.curves:
            raise UserError(f"no trial in {', '.join(self.sources) or 'the experiments'} ran all "
                            f"{self.epochs} epochs: nothing to replay")
        self._points = np.array([self.encode(c.params) for c in self.curves])
        self.mean_epoch_time = float(np.mean([c.epoch_time(e) for c in self.curves
                                              for e in range(1, self.epochs + 1)]))

    def encode(self, params: dict[str, Any]) -> np.ndarray:
        return np.array([v for p in self.space.params for v in _encode_param(p, params.get(p.name))])

    def lookup(self, params: dict[str, Any]) -> RecordedCurve:
        """The recorded curve of the nearest configuration (the first recorded one on a tie)."""
        dist = np.linalg.norm(self._points - self.encode(params), axis=1)
        return self.curves[int(np.argmin(dist))]

    @classmethod
    def from_experiments(cls, folders: list[Path]) -> CurveTable:
        """The complete curves of finished experiments that searched the same space and metric."""
        if not folders:
            raise UserError("give at least one finished experiment folder to replay")
        specs = []
        for folder in folders:
            path = Path(folder) / SPEC_FILE
            if not path.exists():
                named = DEFAULT_RESULTS / str(folder) / SPEC_FILE  # the name submit printed
                hint = (f"; the search named {folder} is {named.parent}: give that folder"
                        if named.exists() and not Path(folder).is_absolute() else "")
                raise UserError(f"{folder} is not an experiment folder (no {SPEC_FILE}){hint}")
            specs.append(json.loads(path.read_text()))
        first = specs[0]
        epochs = int(first["base_config"]["train"]["epochs"])
        for folder, s in zip(folders, specs, strict=True):
            if s["space"]["parameters"] != first["space"]["parameters"] or s["metric"] != first["metric"]:
                raise UserError(f"{folder} searched another space or metric than {folders[0]}: "
                                "a table needs one space")
            if int(s["base_config"]["train"]["epochs"]) != epochs:
                raise UserError(f"{folder} trained {s['base_config']['train']['epochs']} epochs per "
                                f"trial, {folders[0]} {epochs}: a table needs one length")
        curves: list[RecordedCurve] = []
        left_out = 0
        for folder in folders:
            for t in read_trials(Path(folder)):
                hist = t.history
                complete = (len(hist) == epochs and t.finished_normally
                            and all(finite(h.get(first["metric"])) for h in hist))
                if not complete:
                    left_out += 1
                    continue
                kept = [{k: h[k] for k in _REPLAYED if k in h} for h in hist]
                curves.append(RecordedCurve(dict(t.params), kept, f"{folder}#{t.number}"))
        space = parse_space(first["space"], where=str(folders[0]))
        return cls(space, first["metric"], first["mode"], epochs, first["base_config"], curves,
                   [str(f) for f in folders], left_out)


def replay_trial(config: dict[str, Any], *, table: CurveTable, seconds_per_epoch: float) -> None:
    """Tune function trainable: report the nearest recorded curve, one epoch per report."""
    from ray import tune

    curve = table.lookup(config)
    scale = seconds_per_epoch / max(table.mean_epoch_time, 1e-9)
    for epoch, metrics in enumerate(curve.history, start=1):
        time.sleep(curve.epoch_time(epoch) * scale)
        tune.report({**metrics, "epoch": epoch})


def simulate_search(table: CurveTable, spec: SearchSpec, seconds_per_epoch: float = 0.05,
                    say: Callable[[str], None] = print) -> Path:
    """One search over the table through the real Tune + Optuna path; returns its folder."""
    from ray import tune

    from raysearch.search.runner import start_ray

    if spec.max_epochs is not None and spec.max_epochs != table.epochs:
        raise UserError(f"the table's curves are {table.epochs} epochs long, not {spec.max_epochs}")
    check_sampler_space(spec.sampler, table.space)  # GPSampler: no conditional parameters
    metric = spec.metric or table.metric
    if metric not in METRICS or metric not in _REPLAYED:
        raise UserError(f"cannot replay metric {metric!r}")
    base = config_from_dict({**table.base_config, "train": {**table.base_config["train"],
                                                            "epochs": table.epochs}},
                            where="recorded base config")
    empty = np.zeros((0, base.data.image_size, base.data.image_size, 3), np.uint8)
    p = Prepared(spec, table.space, base, metric, METRICS[metric], FaceData(empty, empty, [], []))
    # earlier simulated searches of the same table, told to this one's sampler first
    p.warm = load_warm_start(spec.warm_start, spec.experiment.parent, table.space, base,
                             [Objective(metric, METRICS[metric])])
    if (spec.experiment / SPEC_FILE).exists():
        raise UserError(f"experiment {spec.name!r} already exists in {spec.experiment.parent}")
    spec.experiment.mkdir(parents=True, exist_ok=True)
    # dozens of searches in a row: Tune's per-search console box is noise (set it to 1 to see it)
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    start_ray()
    write_spec(p)
    fn = tune.with_parameters(replay_trial, table=table, seconds_per_epoch=seconds_per_epoch)
    trainable = tune.with_resources(fn, {"cpu": spec.cpus_per_worker})
    t0 = time.perf_counter()
    build_tuner(p, say, trainable=trainable).fit()
    if not read_trials(spec.experiment):
        raise UserError(f"simulated search {spec.name!r} recorded no trial")
    end_if_budget_spent(spec, time.perf_counter() - t0)  # as a real search ends
    return spec.experiment
