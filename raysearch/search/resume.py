"""Continue a search whose driver died (SIGKILL, Ctrl-C, a machine restart).

What comes back, and from where:

- the Tune experiment (trial list, each trial's latest checkpoint, the searcher's snapshot) from
  Tune's own state files, through ``Tuner.restore``; finished trials are not run again, running
  ones continue from their last checkpoint, and the total stays ``--num-samples``;
- the Optuna study from its database (the searcher's snapshot points at the same one);
- ASHA's rungs from ``asha.json`` (``PersistentASHA``), which ``Tuner.restore`` alone loses;
- ``trials.json`` from itself: the recorder re-reads it.

Tune's pickles are verified first, against the signatures its driver made
(``raysearch.search.signing``): a file someone else wrote is refused before it is unpickled.

The trainable is rebuilt exactly as ``build_tuner`` builds it, from the spec and the resolved
base config saved in ``raysearch.json`` (not from the space file, which may have changed since).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raysearch.config import config_from_dict
from raysearch.errors import UserError
from raysearch.search.experiment import budget_end
from raysearch.search.lock import ExperimentLock
from raysearch.search.objectives import Objective
from raysearch.search.records import TrialRecord, TrialState, best_of, read_trials
from raysearch.search.runner import (
    SPEC_FILE,
    Prepared,
    SearchSpec,
    build_trainable,
    finished_trials,
    load_data,
    records_replace_tune_logs,
    snapshot_often,
    start_ray,
)
from raysearch.search.signing import check_signed
from raysearch.search.space import parse_space
from raysearch.search.spec import results_option
from raysearch.search.store import RecordStore, default_storage_url, join
from raysearch.search.trackers import check_trackers


@dataclass
class Resumed:
    """What a resume did: whether anything was left, and how long the restore took."""

    name: str
    already_finished: bool
    ended_before: int  # trials that had ended when the driver died
    ready_s: float = 0.0  # from the call to Ray Tune having the experiment back (all included)
    ray_s: float = 0.0  # of which starting (or attaching to) Ray
    restore_s: float = 0.0  # of which Tuner.restore
    total_s: float = 0.0
    best: TrialRecord | None = None


def _ended(trials: list[TrialRecord], retry_errored: bool) -> int:
    def done(t: TrialRecord) -> bool:
        if t.state == TrialState.TERMINATED or (t.state == TrialState.ERROR and t.diverged):
            return True
        return t.state == TrialState.ERROR and not retry_errored

    return sum(done(t) for t in trials if t.state != TrialState.LOST)


def _open(name: str, results: str, storage: str | None) -> dict[str, Any]:
    local = Path(results).resolve() / name
    if not (local / SPEC_FILE).exists() and storage:
        RecordStore(str(local), join(storage, name)).download()  # resuming on another machine
    store = RecordStore(str(local))
    try:
        saved = store.read_json(SPEC_FILE)
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError(f"{local / SPEC_FILE}: not valid JSON ({e})") from None
    if saved is None:
        where = f"{results}" + (f" or {join(storage, name)}" if storage else "")
        raise UserError(f"no experiment {name!r} in {where}")
    needed = {"spec", "metric", "mode"}
    if not isinstance(saved, dict) or not needed <= saved.keys() or not isinstance(saved["spec"], dict):
        raise UserError(f"{local / SPEC_FILE}: not an experiment record as raysearch writes it "
                        f"(it needs {', '.join(sorted(needed))})")
    return dict(saved)


def _spec(saved: dict[str, Any], local: Path) -> SearchSpec:
    fields = {f.name for f in dataclasses.fields(SearchSpec)}
    spec = SearchSpec(**{k: v for k, v in saved["spec"].items() if k in fields})
    spec.results = str(local.parent)  # where the records were found, whatever the cwd now
    return spec


def _prepared(saved: dict[str, Any], spec: SearchSpec, say: Callable[[str], None]) -> Prepared:
    base = config_from_dict(saved["base_config"], where=f"{spec.name}/{SPEC_FILE}")
    space = parse_space(saved["space"], where=f"{spec.name}/{SPEC_FILE}")
    objectives = [Objective.from_json(o) for o in saved.get("objectives", [])]
    objectives = objectives or [Objective(saved["metric"], saved["mode"])]
    return Prepared(spec, space, base, saved["metric"], saved["mode"], load_data(base, say),
                    objectives)


def resume_search(name: str, results: str = "results", storage: str | None = None,
                  retry_errored: bool = False, address: str | None = None,
                  say: Callable[[str], None] = print, trust_unsigned: bool = False) -> Resumed:
    """Restore experiment ``name`` and run it to the end; a finished one is left untouched.
    Tune's pickles are verified against this user's signatures first (``search.signing``);
    ``trust_unsigned`` resumes even when some are unsigned or do not match."""

    t0 = time.perf_counter()
    local = Path(results).resolve() / name
    saved = _open(name, results, storage)
    spec_dict = saved["spec"]
    trials = read_trials(local)
    ended = _ended(trials, retry_errored)
    budget = budget_end(saved, trials)
    if budget:  # Tune's restored stopper would end it again at once
        say(f"search {name!r} already ended: {budget}; nothing to resume. To search on, start "
            f"a new search told of this one's trials: raysearch submit --warm-start {name}"
            f"{results_option(results)}")
        return Resumed(name, True, ended)
    if ended >= spec_dict["num_samples"] and all(t.ended for t in trials):
        say(f"search {name!r} already finished: {ended} of {spec_dict['num_samples']} trials "
            "ended; nothing to resume")
        return Resumed(name, True, ended)
    lock = ExperimentLock(local, name)
    lock.acquire()  # a live driver keeps it: resuming its search would start a second one
    try:
        return _resume_locked(saved, local, ended, retry_errored, address, say, t0,
                              trust_unsigned)
    finally:
        lock.release()


def _resume_locked(saved: dict[str, Any], local: Path, ended: int, retry_errored: bool,
                   address: str | None, say: Callable[[str], None], t0: float,
                   trust_unsigned: bool) -> Resumed:
    from ray import tune

    name, spec_dict = local.name, saved["spec"]
    if not spec_dict.get("optuna_storage") and saved.get("study_url") not in (
            None, default_storage_url(local)):
        # Tune's searcher snapshot opens the study by its absolute path: elsewhere it would
        # quietly start an empty one
        raise UserError(f"the Optuna study of {name!r} is {saved['study_url']}; resume with the "
                        f"--results folder the search started with (this is {local.parent})")
    spec = _spec(saved, local)
    # Tune's pickled callbacks import their trackers: a missing one is named here, before Ray
    check_trackers(spec.loggers, spec.mlflow_uri)
    experiment = spec.tune_experiment
    if not tune.Tuner.can_restore(experiment):
        raise UserError(f"{experiment} holds no Ray Tune state to resume (the driver died before "
                        f"the search started); remove {spec.experiment} and submit again")
    # before anything is unpickled: Tuner.restore runs the code pickled in Tune's files
    check_signed(name, spec.experiment_uri, spec.store(), trust_unsigned, say)
    p = _prepared(saved, spec, say)
    t1 = time.perf_counter()
    start_ray(address)
    snapshot_often()
    records_replace_tune_logs()
    t2 = time.perf_counter()
    tuner = tune.Tuner.restore(experiment, build_trainable(p),
                               resume_unfinished=True, resume_errored=retry_errored)
    t3 = time.perf_counter()
    say(f"resuming {name!r}: {ended} of {p.spec.num_samples} trials had ended; ready in "
        f"{t3 - t0:.1f} s (Ray {t2 - t1:.1f} s, Tune state {t3 - t2:.1f} s)")
    tuner.fit()
    total = time.perf_counter() - t0
    say(f"search {'finished' if finished_trials(p.spec, say) else 'stopped'} {total:.0f} s after "
        "the resume started")
    best = best_of(read_trials(p.spec.experiment), p.metric, p.mode)
    return Resumed(name, False, ended, t3 - t0, t2 - t1, t3 - t2, total, best)
