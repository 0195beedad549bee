"""Reading what a report needs from an experiment folder, tolerant of older and newer layouts.

Everything comes from ``raysearch.json`` (what was asked) and ``trials.json`` (what happened so
far), so a report can be made while the search runs, and without Ray.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from raysearch.search.space import METRICS as METRIC_MODES

CURVE_METRICS = ("val_psnr", "val_ssim")
ENDED = ("TERMINATED", "ERROR")


@dataclass(frozen=True)
class Objective:
    metric: str
    mode: str  # "max" | "min"


def _objective(item: Any, default_mode: str | None = None) -> Objective | None:
    """One objective from 'val_psnr:max', 'val_psnr', {'metric': .., 'mode': ..} or [metric, mode]."""
    metric: Any = None
    mode: Any = default_mode
    if isinstance(item, str):
        metric, _, given = item.partition(":")
        mode = given or mode
    elif isinstance(item, dict):
        metric = item.get("metric") or item.get("name")
        mode = item.get("mode") or item.get("direction") or mode
    elif isinstance(item, (list, tuple)) and len(item) == 2:
        metric, mode = item
    if not isinstance(metric, str) or not metric.strip():
        return None
    metric = metric.strip()
    mode = str(mode or METRIC_MODES.get(metric, "max")).strip().lower()
    mode = {"maximize": "max", "minimize": "min"}.get(mode, mode)
    return Objective(metric, mode if mode in ("max", "min") else METRIC_MODES.get(metric, "max"))


def objectives(spec: dict[str, Any]) -> list[Objective]:
    """The search's objectives: ``objectives`` where a multi-objective search wrote them, else
    ``metric``/``mode`` (each may be a list)."""
    raw = spec.get("objectives") or (spec.get("spec") or {}).get("objectives")
    found: list[Objective] = []
    if isinstance(raw, str):
        raw = [p for p in raw.split(",") if p.strip()]
    if isinstance(raw, dict):
        raw = [[k, v] for k, v in raw.items()]
    if isinstance(raw, list):
        found = [o for item in raw if (o := _objective(item)) is not None]
    if found:
        return found
    metric, mode = spec.get("metric", "val_psnr"), spec.get("mode")
    if isinstance(metric, list):
        modes = mode if isinstance(mode, list) else [mode] * len(metric)
        return [o for m, d in zip(metric, modes, strict=False) if (o := _objective(m, d))]
    one = _objective(metric, mode if isinstance(mode, str) else None)
    return [one] if one else [Objective("val_psnr", "max")]


def max_epochs(spec: dict[str, Any]) -> int:
    base = (spec.get("base_config") or {}).get("train") or {}
    given = (spec.get("spec") or {}).get("max_epochs")
    return int(base.get("epochs") or given or 1)


def asha_rungs(spec: dict[str, Any]) -> list[int]:
    """ASHA's milestones, as Ray computes them: grace_period * reduction_factor^k up to max_t."""
    s = spec.get("spec") or {}
    max_t = max_epochs(spec)
    grace = max(1, min(int(s.get("grace_period") or 1), max_t))
    rf = float(s.get("reduction_factor") or 2)
    if rf <= 1:
        return [max_t]
    count = int(np.log(max_t / grace) / np.log(rf) + 1)
    return [int(grace * rf**k) for k in range(count)]


def value(trial: dict[str, Any], metric: str) -> float | None:
    """The trial's recorded best value of ``metric`` (at its best epoch), if finite."""
    v = (trial.get("best") or {}).get(metric)
    if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v):
        v = (trial.get("last") or {}).get(metric)
    if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
        return float(v)
    return None


def finished(trials: list[dict[str, Any]], metric: str) -> list[dict[str, Any]]:
    """Trials that ended normally (ran to the end or were stopped by ASHA) with a finite value."""
    return [t for t in trials if t.get("state") == "TERMINATED" and value(t, metric) is not None]


def history(trial: dict[str, Any], metric: str) -> tuple[list[int], list[float]]:
    """(epochs, values) of one metric over the trial's recorded epochs."""
    pts = [(int(h["epoch"]), float(h[metric])) for h in trial.get("history") or []
           if isinstance(h.get(metric), (int, float)) and math.isfinite(h[metric])]
    return [p[0] for p in pts], [p[1] for p in pts]


def searched_params(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The search space's parameter definitions (name -> {type, low, high, log, choices, ...})."""
    params = (spec.get("space") or {}).get("parameters") or {}
    return {str(k): v for k, v in params.items() if isinstance(v, dict) and "type" in v}


def status_counts(trials: list[dict[str, Any]], total: int) -> dict[str, int]:
    counts = {"planned": total, "ended": sum(t.get("state") in ENDED for t in trials),
              "running": sum(t.get("state") == "RUNNING" for t in trials),
              "errored": sum(t.get("state") == "ERROR" for t in trials),
              "stopped by ASHA": sum(bool(t.get("stopped_early")) and t.get("state") == "TERMINATED"
                                     for t in trials)}
    return counts
