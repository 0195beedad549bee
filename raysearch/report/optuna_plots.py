"""Optuna's own figures of a search: optimisation history, timeline, contours, EDF.

They are drawn from the experiment's stored study when it can be opened (real start and end
times, ASHA's stops as PRUNED), else from a study rebuilt in memory from trials.json, told what
the search told Optuna: COMPLETE with the last epoch's value for a trial that ran every epoch,
PRUNED for one stopped early (valued, as Optuna's ``tell`` does, by its last intermediate value),
FAIL for one that errored, RUNNING for one still running.
Optuna's matplotlib functions draw with pyplot: each is run on Agg inside ``rc_context`` (they
set the ggplot style globally), and its figure is saved and closed at once.
"""

from __future__ import annotations

import contextlib
import datetime
import statistics
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import numpy as np
import optuna
from matplotlib.ticker import NullFormatter
from optuna.trial import FrozenTrial
from optuna.trial import TrialState as OptunaState

from raysearch.report.importance import _quiet, distribution
from raysearch.search.experiment import Experiment
from raysearch.search.records import TrialRecord, TrialState, finite
from raysearch.search.studies import JOURNAL, study_storage

SQLITE = "sqlite:///"


@dataclass
class StudyPlot:
    """One of Optuna's figures as PNG bytes, or the reason it was not drawn, and its caption."""

    name: str
    title: str
    png: bytes | None
    caption: str


def _study_file(url: str) -> tuple[str, Path] | None:
    """(scheme, path) of a study kept in a file: a journal (the default) or SQLite."""
    for scheme in (JOURNAL, SQLITE):
        if url.startswith(scheme):
            return scheme, Path(unquote(url[len(scheme):]))
    return None


def stored_study(exp: Experiment) -> tuple[optuna.Study | None, str]:
    """The experiment's own Optuna study, opened without creating anything, and where it is
    (or why it could not be opened). A moved experiment's study file is found in its folder."""
    url = str(exp.spec.get("study_url") or "")
    if not url:
        return None, "raysearch.json names no Optuna study"
    kept = _study_file(url)
    if kept is not None and not kept[1].is_file():
        scheme, path = kept
        here = exp.path / path.name
        if not here.is_file():  # opening a missing study file would create an empty one
            return None, f"{path} is missing"
        url = f"{scheme}{here.resolve()}"
    try:
        with _quiet():
            study = optuna.load_study(study_name=exp.name, storage=study_storage(url))
            study.trials  # noqa: B018 - read now: a broken file is refused here, not mid-figure
    except Exception as e:  # any storage error (schema, lock, driver) means: rebuild from trials.json
        return None, f"cannot open {url}: {str(e).splitlines()[0][:200] if str(e) else type(e).__name__}"
    return study, url


def _times(t: TrialRecord, epoch_s: float | None
           ) -> tuple[datetime.datetime | None, datetime.datetime | None]:
    """When a trial started (its first report less one epoch) and last reported, if recorded."""
    stamps = [float(h["reported_at"]) for h in t.history if finite(h.get("reported_at"))]
    if not stamps:
        return None, None
    own = (stamps[-1] - stamps[0]) / (len(stamps) - 1) if len(stamps) > 1 else None
    first = stamps[0] - (own or epoch_s or 0.0)
    return (datetime.datetime.fromtimestamp(first), datetime.datetime.fromtimestamp(stamps[-1]))


def _epoch_seconds(trials: list[TrialRecord]) -> float | None:
    """The median epoch duration over trials with two reports or more."""
    per = []
    for t in trials:
        stamps = [float(h["reported_at"]) for h in t.history if finite(h.get("reported_at"))]
        if len(stamps) > 1:
            per.append((stamps[-1] - stamps[0]) / (len(stamps) - 1))
    return statistics.median(per) if per else None


def _state(t: TrialRecord, max_epochs: int) -> OptunaState | None:
    if t.state == TrialState.RUNNING:
        return OptunaState.RUNNING
    if t.state in (TrialState.ERROR, TrialState.LOST):
        return OptunaState.PRUNED if t.diverged and not str(t.error).startswith("invalid config") \
            else OptunaState.FAIL
    if t.state == TrialState.TERMINATED:
        return OptunaState.COMPLETE if t.epochs >= max_epochs and not t.stopped_early \
            else OptunaState.PRUNED
    return None  # not started


def rebuilt_study(exp: Experiment) -> optuna.Study:
    """An in-memory study with every started trial of trials.json, as the search told Optuna."""
    objectives = exp.objectives
    dists = {name: distribution(p) for name, p in exp.searched.items()}
    epoch_s = _epoch_seconds(exp.trials)
    with _quiet():
        study = optuna.create_study(directions=["maximize" if o.mode == "max" else "minimize"
                                                for o in objectives])
        for t in sorted(exp.trials, key=lambda t: t.number):
            state = _state(t, exp.max_epochs)
            if state is None:
                continue
            values = [t.last.get(o.metric) for o in objectives]
            if state == OptunaState.COMPLETE and not all(finite(v) for v in values):
                state = OptunaState.PRUNED  # "ended without a finite result"
            start, end = _times(t, epoch_s)
            params = {k: v for k, v in t.params.items() if k in dists}
            first = objectives[0].metric
            steps = {} if len(objectives) > 1 else {
                int(h["epoch"]): float(h[first]) for h in t.history if finite(h.get(first))}
            try:
                frozen = optuna.trial.create_trial(
                    state=state, params=params, distributions={k: dists[k] for k in params},
                    values=[float(v) for v in values if finite(v)] if state == OptunaState.COMPLETE
                    # Optuna's tell gives a PRUNED trial its last intermediate value
                    else [steps[max(steps)]] if state == OptunaState.PRUNED and steps else None,
                    intermediate_values=steps, user_attrs={"raysearch_trial": t.number})
            except ValueError:  # a value outside the space (the file changed): leave it out
                continue
            if start is not None:  # create_trial stamps now; the timeline needs the recorded times
                frozen.datetime_start = start
                frozen.datetime_complete = None if state == OptunaState.RUNNING else end
            study.add_trial(frozen)
    return study


@contextlib.contextmanager
def _pyplot() -> Iterator[Any]:
    """pyplot on Agg (no display), its global style restored afterwards, warnings silenced."""
    import matplotlib

    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("agg")  # before pyplot is imported: a report is files, never a window
    import matplotlib.pyplot as plt

    with matplotlib.rc_context(), _quiet(), plt.ioff():
        yield plt


def _draw(plot: Callable[[], Any], size: tuple[float, float]) -> bytes:
    """Run one of Optuna's matplotlib functions and return its figure as PNG bytes, closed."""
    import io

    with _pyplot() as plt:
        axes = plot()
        fig = np.ravel(axes)[0].figure
        try:
            for ax in fig.axes:  # minor labels of log axes overlap in small panels
                for axis, scale in ((ax.xaxis, ax.get_xscale()), (ax.yaxis, ax.get_yscale())):
                    if scale == "log":
                        axis.set_minor_formatter(NullFormatter())
            fig.set_size_inches(*size)
            fig.set_dpi(100)
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
            return buf.getvalue()
        finally:
            plt.close(fig)


def numeric_params(exp: Experiment) -> list[str]:
    return [n for n, p in exp.searched.items() if p["type"] in ("int", "float")]


def study_plots(exp: Experiment) -> tuple[list[StudyPlot], str]:
    """The four figures, and a sentence saying which study they were drawn from."""
    found, where = stored_study(exp)
    stored = found is not None
    study = found if found is not None else rebuilt_study(exp)
    source = (f"Optuna's stored study ({where})" if stored
              else f"a study rebuilt in memory from trials.json ({where})")
    objectives = exp.objectives
    first = objectives[0].metric
    multi = len(objectives) > 1
    target: Callable[[FrozenTrial], float] | None = (lambda t: float(t.values[0])) if multi else None
    name = f"{first}" + (" (first objective)" if multi else "")
    trials = study.get_trials(deepcopy=False)
    complete = [t for t in trials if t.state == OptunaState.COMPLETE]
    pruned = sum(t.state == OptunaState.PRUNED for t in trials)
    which = (f"from {source}; COMPLETE trials (ran every epoch): {len(complete)}"
             + (f"; the {pruned} PRUNED (stopped early by ASHA or diverged) are left out, as "
                "Optuna leaves them out" if pruned else ""))
    if multi:
        which += f"; several objectives: drawn for the first, {first}"
    from optuna.visualization import matplotlib as ovm

    out = []
    none = f"no trial ran every epoch yet ({len(trials)} started)"
    out.append(StudyPlot(
        "optimization_history", "Optimisation history",
        _draw(lambda: ovm.plot_optimization_history(study, target=target, target_name=name),
              (7, 4.2)) if complete else None,
        f"each COMPLETE trial's final {first} by trial number, and the best so far; {which}"
        if complete else none))
    timed = stored or any("reported_at" in h for t in exp.trials for h in t.history)
    out.append(StudyPlot(
        "timeline", "Timeline",
        _draw(lambda: ovm.plot_timeline(study), (8, 0.25 * len(trials) + 2.5))
        if trials and timed else None,
        ("when each trial ran, coloured by its Optuna state (PRUNED: stopped early by ASHA, or "
         f"diverged; FAIL: errored); from {source}"
         + ("" if stored else "; times from each epoch's report in trials.json (a bar starts "
                              "one epoch before the trial's first report)"))
        if trials and timed else "no trial has started yet" if not trials
        else "trials.json has no report times (an older experiment) and the stored study "
             "could not be opened"))
    params = [p for p in numeric_params(exp)
              if sum(p in t.params for t in complete) >= 2]
    if len(numeric_params(exp)) < 2:
        why = (f"contour plots need two numeric parameters; the space has "
               f"{len(numeric_params(exp))} ({', '.join(numeric_params(exp)) or 'none'})")
    elif len(complete) < 2:
        why = f"contour plots need at least 2 COMPLETE trials; {len(complete)} so far"
    elif len(params) < 2:
        why = "fewer than two numeric parameters were set in at least 2 COMPLETE trials"
    else:
        why = ""
    n = len(params)
    out.append(StudyPlot(
        "contour", "Contour plots",
        None if why else _draw(lambda: ovm.plot_contour(study, params=params, target=target,
                                                        target_name=name),
                               (max(6.0, 2.6 * n + 1.5), max(4.5, 2.4 * n))),
        why or (f"every pair of the numeric parameters ({', '.join(params)}): {first} "
                f"interpolated between COMPLETE trials (dots); colour: {first}; {which}")))
    out.append(StudyPlot(
        "edf", "Empirical distribution (EDF)",
        _draw(lambda: ovm.plot_edf(study, target=target, target_name=name), (7, 4.2))
        if complete else None,
        f"the fraction of COMPLETE trials whose final {first} is at most each value; {which}"
        if complete else none))
    return out, source
