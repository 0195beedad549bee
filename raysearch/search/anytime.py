"""Anytime performance of a search: the best metric reached against the epochs spent so far.

"Epochs spent" counts every epoch any trial trained, in the order the epochs were reported to the
search driver (``reported_at`` in trials.json), so two trials running side by side each add their
epochs as they finish them. Reads trial records only: no Ray.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from raysearch.search.records import TrialRecord, finite


def epoch_values(trials: list[TrialRecord], metric: str) -> list[float]:
    """The metric of every epoch trained, in the order reported (NaN where it was not finite).

    Records without ``reported_at`` (older experiments) are taken trial after trial.
    """
    events: list[tuple[float, int, int, float]] = []
    timed = all("reported_at" in h for t in trials for h in t.history)
    for t in trials:
        for h in t.history:
            v = h.get(metric)
            key = float(h["reported_at"]) if timed else float(t.number)
            events.append((key, t.number, int(h["epoch"]), float(v) if finite(v) else math.nan))
    events.sort()
    return [e[3] for e in events]


def anytime_curve(trials: list[TrialRecord], metric: str, mode: str) -> np.ndarray:
    """``curve[k - 1]``: the best metric over the first k epochs spent (NaN before any finite)."""
    values = np.array(epoch_values(trials, metric), dtype=float)
    sign = 1.0 if mode == "max" else -1.0
    scores = np.where(np.isfinite(values), sign * values, -np.inf)
    best = np.maximum.accumulate(scores) if len(scores) else scores
    return np.where(np.isfinite(best), sign * best, np.nan)


def pad_curve(curve: np.ndarray, length: int) -> np.ndarray:
    """Cut to ``length`` epochs, or hold the last value when the search spent fewer."""
    if len(curve) >= length:
        return curve[:length]
    last = curve[-1] if len(curve) else np.nan
    return np.concatenate([curve, np.full(length - len(curve), last)])


def epochs_to_reach(curve: np.ndarray, target: float, mode: str) -> int | None:
    """The first number of epochs at which the curve is at least as good as ``target``."""
    ok = curve >= target if mode == "max" else curve <= target
    hits = np.flatnonzero(ok & np.isfinite(curve))
    return int(hits[0]) + 1 if len(hits) else None


@dataclass
class CurveStats:
    """Several seeds' anytime curves of one strategy, padded to one budget."""

    curves: np.ndarray  # (seeds, budget)

    @property
    def mean(self) -> np.ndarray:
        return np.nanmean(self.curves, axis=0)

    @property
    def sd(self) -> np.ndarray:
        return np.nanstd(self.curves, axis=0, ddof=1) if len(self.curves) > 1 \
            else np.zeros(self.curves.shape[1])

    @property
    def final(self) -> np.ndarray:
        return self.curves[:, -1]

    def at(self, epochs: int) -> np.ndarray:
        return self.curves[:, min(epochs, self.curves.shape[1]) - 1]

    def area(self) -> np.ndarray:
        """Mean best-so-far over the budget, per seed: one number for the whole anytime curve."""
        return np.nanmean(self.curves, axis=1)


def stack_curves(curves: Sequence[np.ndarray], budget: int) -> CurveStats:
    return CurveStats(np.stack([pad_curve(c, budget) for c in curves]))


def ranking(scores: dict[str, float], mode: str, tol: float = 1e-6) -> str:
    """Labels from best to worst, ``a > b = c`` where scores tie within ``tol``."""
    order = sorted(scores, key=lambda k: -scores[k] if mode == "max" else scores[k])
    out = order[:1]
    for prev, cur in itertools.pairwise(order):
        out += ["=" if abs(scores[prev] - scores[cur]) <= tol else ">", cur]
    return " ".join(out)


def kendall_tau(a: dict[str, float], b: dict[str, float], tol: float = 1e-6) -> float:
    """Kendall's tau-b between two scorings of the same labels: 1 same order, -1 reversed."""
    keys = sorted(a)
    conc = disc = ties_a = ties_b = 0
    for i, ki in enumerate(keys):
        for kj in keys[i + 1:]:
            da, db = a[ki] - a[kj], b[ki] - b[kj]
            ta, tb = abs(da) <= tol, abs(db) <= tol
            if ta and tb:
                continue
            if ta:
                ties_a += 1
            elif tb:
                ties_b += 1
            elif (da > 0) == (db > 0):
                conc += 1
            else:
                disc += 1
    denom = ((conc + disc + ties_a) * (conc + disc + ties_b)) ** 0.5
    return (conc - disc) / denom if denom else float("nan")
