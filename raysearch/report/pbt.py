"""Figures of a PBT refinement (``raysearch refine``): the population's lineage and each member's
hyperparameter schedule, drawn from the records' ``schedule`` and ``exploits``."""

from __future__ import annotations

from typing import Any

from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from raysearch.report.plots import DPI, _label, _rgba, _short, trial_colours
from raysearch.search.records import TrialRecord

METRIC_CMAP = "plasma"  # the lineage's points: the metric, not the trial number


def lineage(trials: list[TrialRecord], metric: str, best_number: int | None) -> Figure:
    """One row per member over the epochs, coloured by ``metric``; an arrow from the donor's row
    to the member's wherever a member took another's checkpoint (PBT's exploit)."""
    fig = Figure(figsize=(8, 1.2 + 0.55 * len(trials)), dpi=DPI)
    ax = fig.add_subplot()
    rows = {t.trial_id: i for i, t in enumerate(trials)}
    values = [float(h[metric]) for t in trials for h in t.history if metric in h]
    lo, hi = (min(values), max(values)) if values else (0.0, 1.0)
    norm = Normalize(lo, hi if hi > lo else lo + 1e-9)
    scale = ScalarMappable(norm, colormaps[METRIC_CMAP])
    for t in trials:
        y = rows[t.trial_id]
        epochs = [int(h["epoch"]) for h in t.history if metric in h]
        ax.plot(epochs, [y] * len(epochs), color="0.7", lw=1, zorder=1)
        ax.scatter(epochs, [y] * len(epochs), c=[float(h[metric]) for h in t.history if metric in h],
                   cmap=METRIC_CMAP, norm=norm, s=60, zorder=3,
                   edgecolors="black" if t.number == best_number else "none")
        for e in t.exploits:
            donor = rows.get(e["from_trial_id"])
            if donor is None:
                continue
            ax.annotate("", xy=(e["epoch"], y), xytext=(e["from_epoch"], donor),
                        arrowprops={"arrowstyle": "->", "color": "crimson", "lw": 1.4}, zorder=2)
    ax.set_yticks(range(len(trials)), [f"trial {t.number}" for t in trials])
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylim(-0.6, len(trials) - 0.4)
    ax.set_title(f"lineage: red arrows = a member took another's checkpoint "
                 f"(colour: {_label(metric)})", fontsize=10)
    fig.colorbar(scale, ax=ax, label=_label(metric), shrink=0.8)
    fig.tight_layout()
    return fig


def schedules(trials: list[TrialRecord], searched: dict[str, dict[str, Any]]) -> Figure:
    """Each mutated parameter over the epochs, one step line per member (log axis for log
    parameters); a dot marks the first epoch after an exploit."""
    names = list(dict.fromkeys(k for t in trials for s in t.schedule for k in s if k != "epoch"))
    fig = Figure(figsize=(8, 2.4 * max(len(names), 1)), dpi=DPI)
    colours = trial_colours(trials)
    axes = fig.subplots(max(len(names), 1), 1, squeeze=False, sharex=True)[:, 0]
    for ax, name in zip(axes, names, strict=False):
        for t in trials:
            pts = [(int(s["epoch"]), float(s[name])) for s in t.schedule if name in s]
            if not pts:
                continue
            colour = _rgba(colours, t.number)
            ax.step([p[0] for p in pts], [p[1] for p in pts], where="post", color=colour,
                    label=f"trial {t.number}")
            jumps = {int(e["epoch"]) for e in t.exploits}
            ax.scatter([p[0] for p in pts if p[0] in jumps], [p[1] for p in pts if p[0] in jumps],
                       color=colour, s=30, zorder=3)
        if (searched.get(name) or {}).get("log"):
            ax.set_yscale("log")
        ax.set_ylabel(_short(name))
    axes[-1].set_xlabel("epoch")
    axes[-1].xaxis.set_major_locator(MaxNLocator(integer=True))
    if len(trials) <= 12:
        axes[0].legend(fontsize=8, ncol=min(len(trials), 4))
    axes[0].set_title("each member's values (a dot: the first epoch after taking another's "
                      "checkpoint)", fontsize=10)
    fig.tight_layout()
    return fig
