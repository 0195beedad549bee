"""``raysearch plot``: every figure of a search as PNG, and one self-contained ``index.html``.

Works on a running search: it draws what trials.json holds so far, and says what it left out.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from matplotlib.figure import Figure

from raysearch.errors import UserError
from raysearch.evaluate import bin_label
from raysearch.report import plots
from raysearch.report.html import Section, render
from raysearch.report.importance import common_epoch, param_importances
from raysearch.report.optuna_plots import study_plots
from raysearch.search.experiment import Experiment
from raysearch.search.experiment import format_value as _fmt
from raysearch.search.records import TrialRecord, TrialState

CURVE_METRICS = ("val_psnr", "val_ssim")


@dataclass
class Report:
    """What ``make_report`` wrote, and what it could not draw and why."""

    folder: Path
    figures: list[Path] = field(default_factory=list)
    html: Path | None = None
    notes: list[str] = field(default_factory=list)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi)
    return buf.getvalue()


def trial_table(exp: Experiment, metrics: list[str]) -> tuple[list[str], list[list[str]]]:
    """Number, state, epochs, best epoch, the metrics at it, then every searched parameter."""
    params = list(exp.searched) or sorted({k for t in exp.trials for k in t.params})
    head = ["trial", "state", "epochs", "best epoch", *metrics, *params]
    rows = []
    for t in exp.trials:
        state = str(t.state) + (" (ASHA stop)" if t.stopped_by_asha else "")
        rows.append([str(t.number), state, str(t.epochs), _fmt(t.best_epoch),
                     *(_fmt(t.value(m)) for m in metrics),
                     *(_fmt(t.params_at(t.best_epoch).get(p)) for p in params)])
    return head, rows


def status_counts(trials: list[TrialRecord], total: int) -> dict[str, int]:
    return {"planned": total, "ended": sum(t.ended for t in trials),
            "running": sum(t.state == TrialState.RUNNING for t in trials),
            "errored": sum(t.state == TrialState.ERROR for t in trials),
            "stopped by ASHA": sum(t.stopped_by_asha for t in trials)}


def write_trials_csv(path: Path, head: list[str], rows: list[list[str]]) -> None:
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(head)
        w.writerows(rows)


def make_report(exp: Experiment, out: Path, samples: bool = True,
                say: Callable[[str], None] = print) -> Report:
    """Draw every figure that the trials so far allow into ``out``, then ``index.html``."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"cannot create {out}: {e.strerror or e}") from None
    report = Report(out)
    objs = exp.objectives
    primary = objs[0]
    trials = exp.trials
    ended = exp.finished(primary.metric)
    best = exp.best()
    best_number = best.number if best else None
    rungs, max_t = exp.asha_rungs, exp.max_epochs
    sections: list[Section] = []

    def add(name: str, title: str, fig: Figure | bytes | None, caption: str) -> None:
        if fig is None:
            report.notes.append(f"{title}: {caption}")
            sections.append(Section(title, None, caption))
            return
        png = fig if isinstance(fig, bytes) else _png(fig)
        path = out / f"{name}.png"
        path.write_bytes(png)
        report.figures.append(path)
        sections.append(Section(title, png, caption))
        say(f"wrote {path}")

    curve_metrics = list(dict.fromkeys([*CURVE_METRICS, *(o.metric for o in objs)]))
    with_history = [t for t in trials if t.history]
    add("learning_curves", "Learning curves",
        plots.learning_curves(with_history, curve_metrics, rungs, best_number) if with_history
        else None,
        "validation metrics after every epoch, one colour per trial (named in the legend when "
        "there are 12 or fewer); a red ring marks the epoch where ASHA stopped a trial, and a "
        "trial that ran one epoch is a single larger dot"
        if with_history else "no trial has finished an epoch yet")
    if exp.refine:
        _add_refine(exp, best_number, add)
    else:
        add("asha_rungs", "ASHA rungs", plots.asha_rungs(trials, rungs, max_t) if trials else None,
            f"rungs at epochs {', '.join(map(str, rungs))} (grace period x reduction factor^k); "
            f"max {max_t} epochs" if trials else "no trial has started yet")
    importances, note = param_importances(exp.searched, trials, primary)
    at = common_epoch(trials, primary)
    add("importance", "Hyperparameter importance",
        plots.importance_bars(importances, primary, f"ended trials compared at epoch {at}")
        if importances else None, note)
    enough = bool(ended) and bool(exp.searched)
    why = f"no ended trial with {primary.metric} yet" if not ended else "no searched parameters"
    add("parallel_coordinates", "Parallel coordinates",
        plots.parallel_coordinates(exp.searched, ended, primary, best_number) if enough else None,
        f"each line is an ended trial through its parameters to its best {primary.metric}; "
        f"colour: trial number (order of proposal), as in the slice plots; black: the best trial"
        if enough else why)
    add("slices", "Slice plots", plots.slices(exp.searched, ended, primary) if enough else None,
        f"each point is an ended trial at its best {primary.metric}; colour: trial number (order "
        "of proposal), as in parallel coordinates; marker: how it ended (a trial ASHA stopped "
        "was measured over fewer epochs)" if enough else why)
    for fig in study_plots(exp)[0]:
        add(fig.name, fig.title, fig.png, fig.caption)
    if len(objs) > 1:
        add("pareto", "Pareto front", plots.pareto_front(ended, objs) if ended else None,
            "objectives: " + ", ".join(f"{o.metric} ({o.mode})" for o in objs)
            + "; each trial at the epoch of its best checkpoint" if ended else why)
    if samples:
        _add_samples(best, add)

    metrics = list(dict.fromkeys([*(o.metric for o in objs), *CURVE_METRICS]))
    head, rows = trial_table(exp, metrics)
    write_trials_csv(out / "trials.csv", head, rows)
    counts = status_counts(trials, exp.num_samples)
    summary = {
        "objective": ", ".join(f"{o.metric} ({o.mode})" for o in objs),
        "trials": ", ".join(f"{v} {k}" for k, v in counts.items()),
        "best trial": (f"{best.number} at epoch {best.best_epoch}: {primary.metric} "
                       f"{_fmt(best.value(primary.metric))}" if best else "none yet"),
        "best parameters": ", ".join(f"{k}={_fmt(v)}" for k, v in
                                     (best.params_at(best.best_epoch) if best else {}).items())
        or "-",
        "experiment": str(exp.path),
        "made": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    if counts["ended"] < counts["planned"]:
        report.notes.insert(0, f"the search is not over: {counts['ended']} of {counts['planned']} "
                               "trials have ended; this report shows what is recorded so far")
    best_row = next((i for i, t in enumerate(trials) if t.number == best_number), None)
    page = render(f"raysearch: {exp.name}", summary, report.notes, sections, head, rows, best_row)
    report.html = out / "index.html"
    report.html.write_text(page)
    say(f"wrote {report.html}")
    return report


def _add_refine(exp: Experiment, best_number: int | None,
                add: Callable[[str, str, Figure | bytes | None, str], None]) -> None:
    """A PBT refinement's lineage and its members' hyperparameter schedules."""
    from raysearch.report import pbt
    from raysearch.search.experiment import lineage

    r = exp.refine or {}
    trials = [t for t in exp.trials if t.history]
    events = lineage(exp.trials)
    add("lineage", "Population lineage", pbt.lineage(trials, exp.metric, best_number) if trials
        else None,
        f"{str(r.get('scheduler', 'pbt')).upper()} refinement of {r.get('source')} trial "
        f"{r.get('winner')}, population {r.get('population')}, a decision every "
        f"{r.get('perturbation_interval')} epoch(s); {len(events)} exploit(s)"
        + (": " + "; ".join(events) if events else "") if trials else "no member has finished an epoch yet")
    with_schedule = [t for t in exp.trials if t.schedule]
    add("schedules", "Hyperparameter schedules",
        pbt.schedules(with_schedule, exp.searched) if with_schedule else None,
        "the values each member trained with at every epoch: " + ", ".join(r.get("mutated", []))
        if with_schedule else "no member has finished an epoch yet")


def _add_samples(best: TrialRecord | None,
                 add: Callable[[str, str, Figure | bytes | None, str], None]) -> None:
    from raysearch.report.samples import sample_grids

    if best is None:
        add("samples", "Best trial's samples", None, "no trial has a checkpoint yet")
        return
    try:
        grids = sample_grids(Path(str(best.best_checkpoint)),
                             f"trial {best.number} epoch {best.best_checkpoint_epoch}")
    except (UserError, OSError) as e:  # a checkpoint replaced or moved while the search runs
        add("samples", "Best trial's samples", None, f"cannot run the best checkpoint: {e}")
        return
    for ratio, fig in grids:
        add(f"samples_{ratio[0]:g}-{ratio[1]:g}", f"Best trial's samples, hole ratio {bin_label(ratio)}",
            fig, "rows: masked input (holes white), output (composite), ground truth; "
                 "validation faces of the experiment's dataset")
