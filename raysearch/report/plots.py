"""Figures of a search, drawn with matplotlib's object API (Agg canvas, no pyplot state).

Each function takes trial records (and the space's parameter definitions) and returns a Figure.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import LogLocator, MaxNLocator, NullFormatter

from raysearch.search.objectives import Objective
from raysearch.search.records import TrialRecord

DPI = 100
# a hollow ring around the epoch where ASHA stopped a trial: the trial's own point stays visible
_STOP = {"marker": "o", "s": 130, "facecolors": "none", "edgecolors": "crimson", "linewidths": 1.8,
         "zorder": 6}
TRIAL_CMAP = "viridis"  # parallel coordinates and slices: colour is the trial number, in both
# how an ended trial ended, as a marker: slices and their legend
_ENDINGS = {"ran every epoch": "o", "stopped by ASHA": "v", "stopped by the epoch budget": "s"}


def _short(name: str) -> str:
    """``optim.lr_g`` -> ``lr_g``: axis labels stay readable."""
    return name.rsplit(".", 1)[-1]


def _label(metric: str) -> str:
    return metric.removeprefix("val_").upper() if metric.startswith("val_") else metric


def ending(t: TrialRecord) -> str:
    """How an ended trial ended, in the words of the slice plots' legend."""
    if t.stopped_by_asha:
        return "stopped by ASHA"
    return "stopped by the epoch budget" if t.stopped_by_budget else "ran every epoch"


def trial_colours(trials: list[TrialRecord]) -> ScalarMappable:
    """Trial number -> colour, the same in every figure that colours trials by number."""
    numbers = [t.number for t in trials]
    lo, hi = min(numbers, default=0), max(numbers, default=1)
    return ScalarMappable(Normalize(lo, hi if hi > lo else lo + 1), colormaps[TRIAL_CMAP])


def _rgba(colours: ScalarMappable, number: int) -> tuple[float, ...]:
    return tuple(np.ravel(colours.to_rgba(np.asarray([float(number)]))))


def _trial_bar(fig: Figure, colours: ScalarMappable, ax: Any, shrink: float) -> None:
    bar = fig.colorbar(colours, ax=ax, label="trial number (order of proposal)", shrink=shrink)
    bar.ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def learning_curves(trials: list[TrialRecord], metrics: list[str], rungs: list[int],
                    best: int | None) -> Figure:
    """One panel per metric: every trial's validation value by epoch, ASHA stops ringed."""
    fig = Figure(figsize=(5.2 * len(metrics), 4), dpi=DPI, layout="constrained")
    axes = fig.subplots(1, len(metrics), squeeze=False)[0]
    legend = len(trials) <= 12
    palette = colormaps["tab20"]  # dark shades for the first ten trials, then the light ones
    for ax, metric in zip(axes, metrics, strict=True):
        stopped = False
        for k, t in enumerate(trials):
            x, y = t.curve(metric)
            if not x:
                continue  # nothing drawn, so no legend entry either
            is_best = t.number == best
            ax.plot(x, y, marker="o", ms=6 if len(x) == 1 else 3, lw=2.6 if is_best else 1.1,
                    zorder=4 if is_best else 2, color=palette((2 * k) % 20 + (k // 10) % 2),
                    alpha=1.0 if is_best else 0.75,
                    label=f"trial {t.number}" + (" (best)" if is_best else ""))
            if t.stopped_by_asha:
                ax.scatter([x[-1]], [y[-1]], label=None if stopped else "stopped by ASHA", **_STOP)
                stopped = True
        for r in rungs:
            ax.axvline(r, color="grey", ls=":", lw=0.8)
        ax.set_xlabel("epoch (dotted: ASHA rungs)")
        ax.set_ylabel(f"validation {_label(metric)}")
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
        if legend and ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7, ncol=2)
    fig.suptitle("Learning curves")
    return fig


def rung_counts(trials: list[TrialRecord], rungs: list[int], max_t: int
                ) -> tuple[list[int], dict[str, list[int]]]:
    """Per milestone (the rungs, then max_t): trials that went on, stopped there, are there now."""
    marks = sorted(set(rungs) | {max_t})
    counts: dict[str, list[int]] = {"went on / finished": [], "stopped by ASHA here": [],
                                    "running or failed here": []}
    for r in marks:
        at = [t for t in trials if t.epochs >= r]
        here = [t for t in at if t.epochs == r]
        stopped = [t for t in here if t.stopped_by_asha]
        other = [t for t in here if not t.finished_normally]
        counts["stopped by ASHA here"].append(len(stopped))
        counts["running or failed here"].append(len(other))
        counts["went on / finished"].append(len(at) - len(stopped) - len(other))
    return marks, counts


def asha_rungs(trials: list[TrialRecord], rungs: list[int], max_t: int) -> Figure:
    """How many trials reached each ASHA rung, split by what happened to them there."""
    marks, counts = rung_counts(trials, rungs, max_t)
    fig = Figure(figsize=(5.5, 3.8), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    xs = np.arange(len(marks))
    bottom = np.zeros(len(marks))
    for (label, vals), color in zip(counts.items(), ("tab:blue", "crimson", "tab:grey"), strict=True):
        ax.bar(xs, vals, bottom=bottom, color=color, label=label, width=0.6)
        bottom += np.asarray(vals, dtype=float)
    for x, total in zip(xs, bottom, strict=True):
        ax.text(float(x), total + 0.05, str(int(total)), ha="center", va="bottom")
    ax.set_xticks(xs, [f"{m}" + ("\n(max)" if m == max_t else "") for m in marks])
    ax.set_xlabel("epoch milestone (ASHA rung)")
    ax.set_ylabel("trials reaching it")
    ax.set_ylim(0, max(1.0, float(bottom.max())) * 1.2)
    ax.legend(fontsize=8)
    ax.set_title(f"ASHA rungs ({len(trials)} trials started)")
    return fig


def importance_bars(importances: dict[str, float], objective: Objective, which: str) -> Figure:
    """Horizontal bars of fANOVA importance, most important on top."""
    fig = Figure(figsize=(6, 0.45 * max(len(importances), 2) + 1.6), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    names = list(importances)[::-1]
    ax.barh([_short(n) for n in names], [importances[n] for n in names], color="tab:green")
    for i, n in enumerate(names):
        ax.text(importances[n], i, f" {importances[n]:.2f}", va="center", fontsize=8)
    ax.set_xlim(0, max(importances.values(), default=1.0) * 1.2 or 1.0)
    ax.set_xlabel(f"importance for {_label(objective.metric)} (fANOVA, sums to 1)")
    ax.set_title(f"Hyperparameter importance ({which})")
    return fig


def _axis_position(p: dict[str, Any], v: Any) -> float:
    """A parameter value placed in [0, 1] along its search-space range (categoricals evenly)."""
    if v is None:
        return math.nan
    if p["type"] == "categorical":
        choices = list(p["choices"])
        return choices.index(v) / max(len(choices) - 1, 1) if v in choices else math.nan
    lo, hi, x = float(p["low"]), float(p["high"]), float(v)
    if p.get("log"):
        lo, hi, x = math.log(lo), math.log(hi), math.log(x)
    return (x - lo) / (hi - lo) if hi > lo else 0.5


def _value_ticks(lo: float, hi: float, log: bool = False, integer: bool = False
                 ) -> list[float]:
    """The ends of a range and a few round values between them."""
    inside = (LogLocator(subs=(1.0, 2.0, 5.0)) if log and lo > 0
              else MaxNLocator(5, integer=integer)).tick_values(lo, hi)
    if log and lo > 0 and sum(lo < v < hi for v in inside) > 5:  # a wide range: decades only
        inside = LogLocator().tick_values(lo, hi)
    return [lo, *(float(v) for v in inside if lo < v < hi), hi]


def _axis_ticks(p: dict[str, Any]) -> list[tuple[float, str]]:
    """Where to label a parameter's axis: every choice, or its range's ends and round values."""
    if p["type"] == "categorical":
        choices = list(p["choices"])
        return [(_axis_position(p, c), str(c)) for c in choices]
    lo, hi = float(p["low"]), float(p["high"])
    values = _value_ticks(lo, hi, bool(p.get("log")), p["type"] == "int")
    return _spaced([(_axis_position(p, v), f"{v:.3g}") for v in values])


def _spaced(ticks: list[tuple[float, str]], gap: float = 0.07) -> list[tuple[float, str]]:
    """Drop inner labels that would overlap an end's or each other's."""
    ends = [ticks[0], ticks[-1]] if len(ticks) > 1 else ticks
    kept = list(ends)
    for y, text in ticks[1:-1]:
        if all(abs(y - k) >= gap for k, _ in kept):
            kept.append((y, text))
    return sorted(kept)


def parallel_coordinates(params: dict[str, dict[str, Any]], trials: list[TrialRecord],
                         objective: Objective, best: int | None) -> Figure:
    """One line per ended trial across every parameter axis and the objective, coloured by
    trial number (as the slices are)."""
    names = list(params)
    vals = [t.value(objective.metric) or 0.0 for t in trials]  # callers pass ended trials only
    lo, hi = min(vals, default=0.0), max(vals, default=1.0)
    span = (hi - lo) or 1.0
    fig = Figure(figsize=(1.5 * (len(names) + 1) + 2.5, 4.2), dpi=DPI, layout="constrained")
    ax = fig.subplots()
    colours = trial_colours(trials)
    order = sorted(range(len(trials)), key=lambda i: (trials[i].number == best, trials[i].number))
    for i in order:
        t, v = trials[i], vals[i]
        ys = [_axis_position(params[n], t.params.get(n)) for n in names]
        ys.append((v - lo) / span)
        is_best = t.number == best
        ax.plot(range(len(ys)), ys, color="black" if is_best else _rgba(colours, t.number),
                lw=2.6 if is_best else 1.3, alpha=1.0 if is_best else 0.8, marker="o", ms=3)
    for k, n in enumerate(names):
        ax.axvline(k, color="grey", lw=0.8)
        for y, text in _axis_ticks(params[n]):
            ax.text(k + 0.04, y, text, fontsize=7, va="center")
    ax.axvline(len(names), color="grey", lw=0.8)
    for v in _value_ticks(lo, hi) if hi > lo else [lo]:
        ax.text(len(names) + 0.04, (v - lo) / span, f"{v:.4g}", fontsize=7, va="center")
    ax.set_xticks(range(len(names) + 1), [_short(n) for n in names] + [_label(objective.metric)],
                  rotation=20)
    ax.set_yticks([])
    ax.set_xlim(-0.2, len(names) + 0.6)
    ax.set_ylim(-0.08, 1.08)
    _trial_bar(fig, colours, ax, shrink=0.9)
    ax.set_title(f"Parallel coordinates ({len(trials)} ended trials; black: best; "
                 "gaps: parameter not active)")
    return fig


def slices(params: dict[str, dict[str, Any]], trials: list[TrialRecord], objective: Objective
           ) -> Figure:
    """One panel per parameter: the objective against its value; colour: trial number, marker: how
    the trial ended."""
    cols = min(3, max(len(params), 1))
    rows = math.ceil(max(len(params), 1) / cols)
    fig = Figure(figsize=(4.2 * cols, 3.2 * rows), dpi=DPI, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    rng = np.random.default_rng(0)  # jitter for categorical values: same picture every time
    colours = trial_colours(trials)
    for ax, (name, p) in zip(axes, params.items(), strict=False):
        pts = [(t.params[name], t.value(objective.metric), t) for t in trials if name in t.params]
        if p["type"] == "categorical":
            choices = [str(c) for c in p["choices"]]
            xs = [choices.index(str(x)) + rng.uniform(-0.12, 0.12) for x, _, _ in pts]
            ax.set_xticks(range(len(choices)), choices)
            ax.set_xlim(-0.5, len(choices) - 0.5)
        else:
            xs = [float(x) for x, _, _ in pts]
            lo, hi = float(p["low"]), float(p["high"])
            if p.get("log"):
                ax.set_xscale("log")
                ax.xaxis.set_minor_formatter(NullFormatter())  # minor labels overlap on short ranges
                pad = (hi / lo) ** 0.04
                ax.set_xlim(lo / pad, hi * pad)  # the whole searched range: where TPE did not look
            else:
                ax.set_xlim(lo - 0.04 * (hi - lo), hi + 0.04 * (hi - lo))
            if p["type"] == "int" and not p.get("log"):
                ax.xaxis.get_major_locator().set_params(integer=True)
        for how, marker in _ENDINGS.items():
            mine = [(x, y, t) for x, (_, y, t) in zip(xs, pts, strict=True) if ending(t) == how]
            if mine:
                ax.scatter([x for x, _, _ in mine], [y for _, y, _ in mine], marker=marker,
                           c=[_rgba(colours, t.number) for _, _, t in mine],
                           edgecolors="black", linewidths=0.5, s=40)
        ax.set_xlabel(name)
        ax.set_ylabel(_label(objective.metric))
        ax.grid(alpha=0.3)
    for ax in axes[len(params):]:
        ax.set_visible(False)
    if params:
        _trial_bar(fig, colours, axes.tolist(), shrink=0.8)
    present = [how for how in _ENDINGS if any(ending(t) == how for t in trials)]
    if present:  # one legend for every panel: the markers, in grey (colour is the trial number)
        fig.legend([Line2D([], [], ls="none", marker=_ENDINGS[h], color="lightgrey",
                           markeredgecolor="black") for h in present], present,
                   loc="outside lower center", ncol=len(present), fontsize=8)
    fig.suptitle(f"Slices: best {_label(objective.metric)} of each ended trial against each parameter")
    return fig


def pareto_mask(points: np.ndarray, modes: list[str]) -> np.ndarray:
    """True for the points no other point dominates (at least as good in all, better in one)."""
    signs = np.array([1.0 if m == "max" else -1.0 for m in modes])
    p = points * signs
    keep = np.ones(len(p), dtype=bool)
    for i in range(len(p)):
        others = np.delete(p, i, axis=0)
        keep[i] = not np.any(np.all(others >= p[i], axis=1) & np.any(others > p[i], axis=1))
    return keep


def pareto_front(trials: list[TrialRecord], objectives: list[Objective]) -> Figure:
    """Each pair of objectives: every ended trial, the non-dominated ones highlighted."""
    metrics = [o.metric for o in objectives]
    usable = [t for t in trials if all(t.value(m) is not None for m in metrics)]
    pts = np.array([[t.value(m) for m in metrics] for t in usable], dtype=float).reshape(-1, len(metrics))
    front = pareto_mask(pts, [o.mode for o in objectives]) if len(pts) else np.zeros(0, bool)
    pairs = list(itertools.combinations(range(len(metrics)), 2))
    fig = Figure(figsize=(4.6 * len(pairs), 4.2), dpi=DPI, layout="constrained")
    axes = fig.subplots(1, len(pairs), squeeze=False)[0]
    for ax, (a, b) in zip(axes, pairs, strict=True):
        ax.scatter(pts[~front, a], pts[~front, b], color="lightgrey", edgecolors="grey",
                   label="dominated")
        order = np.argsort(pts[front, a])
        ax.plot(pts[front, a][order], pts[front, b][order], "o-", color="tab:red",
                label="Pareto front")
        for t, x, y, on in zip(usable, pts[:, a], pts[:, b], front, strict=True):
            if on:
                ax.annotate(str(t.number), (x, y), fontsize=7, xytext=(3, 3),
                            textcoords="offset points")
        ax.set_xlabel(f"{_label(metrics[a])} ({objectives[a].mode})")
        ax.set_ylabel(f"{_label(metrics[b])} ({objectives[b].mode})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(f"Pareto front of {len(usable)} ended trials (labels: trial numbers)")
    return fig
