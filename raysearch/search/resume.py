"""Continue a search whose driver died (SIGKILL, Ctrl-C, a machine restart).

What comes back, and from where:

- the Tune experiment (trial list, each trial's latest checkpoint, the searcher's snapshot) from
  Tune's own state files, through ``Tuner.restore``; finished trials are not run again, running
  ones continue from their last checkpoint, and the total stays ``--num-samples``;
- the Optuna study from its database (the searcher's snapshot points at the same one);
- ASHA's rungs from ``asha.json`` (``PersistentASHA``), which ``Tuner.restore`` alone loses;
- ``trials.json`` from itself: the recorder re-reads it.

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
from raysearch.search.objectives import Objective
from raysearch.search.recorder import read_trials
from raysearch.search.runner import (
    SPEC_FILE,
    Prepared,
    SearchSpec,
    build_trainable,
    finished_trials,
    load_data,
    snapshot_often,
    start_ray,
)
from raysearch.search.space import parse_space
from raysearch.search.store import RecordStore, join


@dataclass
class Resumed:
    """What a resume did: whether anything was left, and how long the restore took."""

    name: str
    already_finished: bool
    ended_before: int  # trials that had ended when the driver died
    restore_s: float = 0.0  # from the call to Ray Tune having the experiment back (Ray included)
    total_s: float = 0.0
    best: dict[str, Any] | None = None


def _ended(trials: list[dict[str, Any]], retry_errored: bool) -> int:
    def done(t: dict[str, Any]) -> bool:
        if t["state"] == "TERMINATED" or (t["state"] == "ERROR" and t.get("diverged")):
            return True
        return t["state"] == "ERROR" and not retry_errored

    return sum(done(t) for t in trials if t["state"] != "LOST")


def _open(name: str, results: str, storage: str | None) -> dict[str, Any]:
    local = Path(results).resolve() / name
    if not (local / SPEC_FILE).exists() and storage:
        RecordStore(str(local), join(storage, name)).download()  # resuming on another machine
    store = RecordStore(str(local))
    saved = store.read_json(SPEC_FILE)
    if saved is None:
        where = f"{results}" + (f" or {join(storage, name)}" if storage else "")
        raise UserError(f"no experiment {name!r} in {where}")
    return dict(saved)


def _prepared(saved: dict[str, Any], say: Callable[[str], None]) -> Prepared:
    fields = {f.name for f in dataclasses.fields(SearchSpec)}
    spec = SearchSpec(**{k: v for k, v in saved["spec"].items() if k in fields})
    base = config_from_dict(saved["base_config"], where=f"{spec.name}/{SPEC_FILE}")
    space = parse_space(saved["space"], where=f"{spec.name}/{SPEC_FILE}")
    objectives = [Objective(**o) for o in saved.get("objectives", [])]
    objectives = objectives or [Objective(saved["metric"], saved["mode"])]
    return Prepared(spec, space, base, saved["metric"], saved["mode"], load_data(base, say),
                    objectives)


def resume_search(name: str, results: str = "results", storage: str | None = None,
                  retry_errored: bool = False, address: str | None = None,
                  say: Callable[[str], None] = print) -> Resumed:
    """Restore experiment ``name`` and run it to the end; a finished one is left untouched."""
    from raysearch.search.experiment import best_trial

    t0 = time.perf_counter()
    saved = _open(name, results, storage)
    spec_dict = saved["spec"]
    trials = read_trials(Path(results).resolve() / name)
    ended = _ended(trials, retry_errored)
    if ended >= spec_dict["num_samples"] and all(t["state"] in ("TERMINATED", "ERROR", "LOST")
                                                 for t in trials):
        say(f"search {name!r} already finished: {ended} of {spec_dict['num_samples']} trials "
            "ended; nothing to resume")
        return Resumed(name, True, ended)

    from ray import tune

    p = _prepared(saved, say)
    experiment = p.spec.tune_experiment
    if not tune.Tuner.can_restore(experiment):
        raise UserError(f"{experiment} holds no Ray Tune state to resume (the driver died before "
                        f"the search started); remove {p.spec.experiment} and submit again")
    start_ray(address)
    snapshot_often()
    tuner = tune.Tuner.restore(experiment, build_trainable(p),
                               resume_unfinished=True, resume_errored=retry_errored)
    restore_s = time.perf_counter() - t0
    say(f"resuming {name!r}: {ended} of {p.spec.num_samples} trials had ended; Tune state "
        f"restored in {restore_s:.1f} s")
    tuner.fit()
    total = time.perf_counter() - t0
    say(f"search {'finished' if finished_trials(p.spec, say) else 'stopped'} {total:.0f} s after "
        "the resume started")
    best = best_trial(read_trials(p.spec.experiment), p.metric, p.mode)
    return Resumed(name, False, ended, restore_s, total, best)
