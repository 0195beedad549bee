"""Does an early epoch predict the final rank? Spearman correlations from recorded learning curves.

ASHA stops a trial at a rung (grace * rf^k epochs) when its metric there is in the lower
``1 - 1/rf`` of the trials that reached the rung; that is sound only if a trial's rank at the rung
predicts its rank at the end. This module measures that on searches that ran with no early
stopping (``--scheduler none``), where every trial has its whole curve: curves that survived ASHA
are a selected sample, and are left out. Reads trials.json and raysearch.json only: no Ray.

For each epoch e: Spearman's rho between the metric at epoch e and at the last epoch, over the
complete trials of each search (then the median over searches) and over all of them pooled; and
how often the trial that ends best is in the top 1/rf at epoch e (so that ASHA at that rung would
have kept it).

And whom the first rung misjudges (``RungBias``): for each searched parameter, its trials in
groups (each value of a parameter with a few values, else below and above the median), how much
they gain from the first rung to the end, how many ASHA would stop there (not in the top 1/rf of
their own search at that epoch), and how many end outside the top 1/rf. A group stopped more
often than it ends low is one that early stopping at that rung is biased against.
"""

from __future__ import annotations

import json
import math
import operator
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from raysearch.errors import UserError
from raysearch.search.experiment import rung_epochs
from raysearch.search.records import finite, read_trials
from raysearch.search.store import SPEC_FILE


@dataclass
class Curves:
    """The complete curves of one search: trials x epochs of the metric."""

    name: str
    values: np.ndarray  # (trials, epochs)
    params: list[dict[str, Any]] = field(default_factory=list)  # per trial, as searched


@dataclass
class RungCorrelation:
    """Per epoch: how well the metric there ranks the trials as the last epoch does."""

    metric: str
    mode: str
    epochs: int
    searches: list[str]
    trials: int  # complete curves, all searches together
    skipped: dict[str, str] = field(default_factory=dict)  # search -> why it was left out
    pooled_rho: list[float] = field(default_factory=list)  # per epoch, all trials together
    median_rho: list[float] = field(default_factory=list)  # per epoch, median over searches
    per_search_rho: dict[str, list[float]] = field(default_factory=dict)
    best_kept: list[float] = field(default_factory=list)  # per epoch: share of searches
    rungs: list[int] = field(default_factory=list)  # ASHA's rungs at grace, rf (below the end)
    reduction_factor: int = 2
    bias: list[RungBias] = field(default_factory=list)  # per parameter group, at the first rung

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "bias": [b.__dict__.copy() for b in self.bias]}

    def markdown(self) -> str:
        """A table, one row per epoch; ASHA's rungs marked."""
        keep = f"final best in the top 1/{self.reduction_factor} there"
        lines = [f"| epoch | ASHA rung | Spearman rho with the final {self.metric}, pooled "
                 f"({self.trials} trials) | median over {len(self.searches)} searches | {keep} |",
                 "|---:|---|---:|---:|---:|"]
        for e in range(1, self.epochs + 1):
            lines.append(f"| {e} | {'yes' if e in self.rungs else ''} | "
                         f"{_fmt(self.pooled_rho[e - 1])} | {_fmt(self.median_rho[e - 1])} | "
                         f"{_fmt(self.best_kept[e - 1], 2)} |")
        return "\n".join(lines)

    def bias_markdown(self) -> str:
        """One row per parameter group: the gain after the first rung, stopped there, ends low."""
        if not self.bias:
            return ""
        r, low = self.bias[0].rung, f"not in the top 1/{self.reduction_factor}"
        lines = [f"| parameter | group | trials | median gain from epoch {r} to {self.epochs} | "
                 f"stopped at epoch {r} ({low} there) | {low} at epoch {self.epochs} |",
                 "|---|---|---:|---:|---:|---:|"]
        for b in self.bias:
            lines.append(f"| {b.param} | {b.group} | {b.trials} | {b.median_gain:+.2f} | "
                         f"{b.stopped:.0%} | {b.ends_low:.0%} |")
        return "\n".join(lines)


@dataclass
class RungBias:
    """The trials of one parameter group at the first rung (higher is better after ``sign``)."""

    param: str
    group: str
    rung: int
    trials: int
    median_gain: float  # the metric's gain from the rung to the last epoch, in its own units
    stopped: float  # share not in the top 1/rf of their own search at the rung
    ends_low: float  # share not in the top 1/rf of their own search at the last epoch


def _groups(values: list[Any]) -> list[tuple[str, Callable[[Any], bool]]]:
    """(name, member test) per group: each value when there are at most 4 of them, else below
    and at-or-above the median (4 significant digits)."""
    present = [v for v in values if v is not None]
    distinct = sorted(set(present), key=str)
    if len(distinct) <= 4 or not all(isinstance(v, (int, float)) for v in present):
        return [(str(v), partial(operator.eq, v)) for v in distinct]
    median = float(np.median(np.array(present, dtype=float)))

    def below(x: Any) -> bool:
        return x is not None and x < median

    def above(x: Any) -> bool:
        return x is not None and x >= median

    return [(f"< {median:.4g}", below), (f">= {median:.4g}", above)]


def rung_bias(found: list[Curves], rung: int, reduction_factor: int, sign: float
              ) -> list[RungBias]:
    """Per searched parameter and group: gain after ``rung`` (an epoch, 1-based), stopped there,
    ends outside the top 1/rf (each trial ranked within its own search)."""
    rows: list[tuple[dict[str, Any], float, bool, bool]] = []
    for c in found:
        score = sign * c.values
        top = math.ceil(len(score) / reduction_factor)
        kept = set(np.argsort(-score[:, rung - 1], kind="stable")[:top].tolist())
        high = set(np.argsort(-score[:, -1], kind="stable")[:top].tolist())
        for i, params in enumerate(c.params):
            rows.append((params, float(c.values[i, -1] - c.values[i, rung - 1]), i not in kept,
                         i not in high))
    out = []
    for name in sorted({k for params, *_ in rows for k in params}):
        for group, member in _groups([params.get(name) for params, *_ in rows]):
            inside = [r for r in rows if member(r[0].get(name))]
            if inside:
                out.append(RungBias(name, group, rung, len(inside),
                                    float(np.median([r[1] for r in inside])),
                                    float(np.mean([r[2] for r in inside])),
                                    float(np.mean([r[3] for r in inside]))))
    return out


def _fmt(v: float, digits: int = 3) -> str:
    return "-" if not math.isfinite(v) else f"{v:.{digits}f}"


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rho (scipy's, ties averaged); NaN below 3 trials or for a constant column."""
    from scipy.stats import spearmanr

    if len(a) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return math.nan
    return float(spearmanr(a, b).statistic)


def _best_kept(score: np.ndarray, epoch: int, reduction_factor: int) -> bool:
    """Whether the trial that ends best is in the top 1/rf at ``epoch`` (higher score better)."""
    top = math.ceil(len(score) / reduction_factor)
    return int(np.argmax(score[:, -1])) in np.argsort(-score[:, epoch], kind="stable")[:top]


def read_curves(folder: Path, metric: str | None = None) -> tuple[Curves | None, str, str, int, str]:
    """(curves or None, metric, mode, epochs, why it was left out) of one experiment."""
    path = Path(folder) / SPEC_FILE
    try:
        saved = json.loads(path.read_text())
        spec, epochs = saved["spec"], int(saved["base_config"]["train"]["epochs"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"{folder}: not an experiment folder ({type(e).__name__}: {e})") from None
    metric = metric or saved["metric"]
    mode = saved["mode"] if metric == saved["metric"] else "max"
    if spec.get("scheduler", "asha") != "none":
        return None, metric, mode, epochs, (f"scheduler {spec.get('scheduler', 'asha')}: its full "
                                            "curves are the ones that survived early stopping")
    complete = [t for t in read_trials(Path(folder))
                if t.finished_normally and len(t.history) == epochs
                and all(finite(h.get(metric)) for h in t.history)]
    if len(complete) < 3:
        return None, metric, mode, epochs, f"{len(complete)} complete curves (3 or more needed)"
    rows = [[float(h[metric]) for h in t.history] for t in complete]
    return (Curves(Path(folder).name, np.array(rows), [dict(t.params) for t in complete]),
            metric, mode, epochs, "")


def rung_correlation(folders: list[Path], metric: str | None = None, grace_period: int = 1,
                     reduction_factor: int = 2) -> RungCorrelation:
    """Spearman's rho between each epoch's metric and the last epoch's, over the searches in
    ``folders`` that ran without early stopping (the others are listed as skipped)."""
    if not folders:
        raise UserError("give at least one experiment folder")
    found: list[Curves] = []
    skipped: dict[str, str] = {}
    shape: tuple[str, str, int] | None = None
    for folder in folders:
        curves, m, mode, epochs, why = read_curves(folder, metric)
        if shape is not None and (m, epochs) != shape[::2]:
            skipped[Path(folder).name] = f"{epochs} epochs of {m}, not {shape[2]} of {shape[0]}"
            continue
        shape = shape or (m, mode, epochs)
        if curves is None:
            skipped[Path(folder).name] = why
        else:
            found.append(curves)
    if not found or shape is None:
        raise UserError("no search without early stopping (--scheduler none) with 3 or more "
                        f"complete curves among {len(folders)} folder(s): "
                        + "; ".join(f"{k}: {v}" for k, v in skipped.items()))
    m, mode, epochs = shape
    sign = 1.0 if mode == "max" else -1.0
    out = RungCorrelation(m, mode, epochs, [c.name for c in found],
                          sum(len(c.values) for c in found), skipped,
                          reduction_factor=reduction_factor)
    pooled = np.concatenate([c.values for c in found])
    out.per_search_rho = {c.name: [spearman(c.values[:, e], c.values[:, -1]) for e in range(epochs)]
                          for c in found}
    for e in range(epochs):
        out.pooled_rho.append(spearman(pooled[:, e], pooled[:, -1]))
        rhos = np.array([r[e] for r in out.per_search_rho.values()])
        out.median_rho.append(float(np.nanmedian(rhos)) if np.isfinite(rhos).any() else math.nan)
        out.best_kept.append(float(np.mean([_best_kept(sign * c.values, e, reduction_factor)
                                            for c in found])))
    out.rungs = [r for r in rung_epochs(epochs, grace_period, reduction_factor) if r < epochs]
    if out.rungs:
        out.bias = rung_bias(found, out.rungs[0], reduction_factor, sign)
    return out
