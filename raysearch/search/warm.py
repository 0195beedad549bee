"""Warm start (``submit --warm-start NAME``): a new search begins from what earlier ones learnt.

Each earlier experiment's finished Optuna trials (COMPLETE ones with their values, PRUNED ones,
stopped by ASHA or diverged, with their per-epoch values) are told to the new study before its
first proposal, so the sampler models them from the start (they count towards TPE's start-up
trials). The best configuration of each earlier search (its Pareto set with several objectives)
is enqueued (Optuna's ``enqueue_trial``) and is the new search's first trial.

The trials are written in the new space as its define-by-run function would have sampled them: a
parameter the new space searches but an earlier one fixed takes the earlier fixed value. That is
what widening a search after a first look needs. The spaces must be compatible, checked before
anything starts, each failure a ``UserError`` naming the parameter or key:

- every parameter an earlier search searched is searched here, of the same type, over a range
  (choices) that holds the earlier one;
- both searches optimise the same objectives in the same directions;
- every config key that neither searches has the same value in both (same data, holes, epochs...),
  except bookkeeping keys that do not change what a trial learns (``IGNORED_KEYS``).

An earlier trial that still cannot be written here (a parameter the new space makes conditional
on a value the trial did not have, with a value the new base config does not hold) is left out,
and counted. Reads the earlier experiments' files only: no Ray.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import FrozenTrial, TrialState

from raysearch.config import Config
from raysearch.errors import UserError
from raysearch.search.objectives import Objective
from raysearch.search.space import Param, SearchSpace, flatten_config, parse_space
from raysearch.search.store import SPEC_FILE, earlier_experiment
from raysearch.search.studies import JOURNAL, open_study

WARM_ATTR = "raysearch_warm_start"  # user attribute: "NAME#number" of the trial it came from
TOLD_STATES = (TrialState.COMPLETE, TrialState.PRUNED)
# keys that change where and how fast a trial runs, not what it learns
IGNORED_KEYS = frozenset({"train.num_threads", "train.device", "train.checkpoint_every",
                          "train.sample_grid", "train.data_on_device", "train.channels_last"})


@dataclass
class WarmStart:
    """What the new study is given: trials to tell, configurations to run first."""

    sources: list[str] = field(default_factory=list)
    trials: list[FrozenTrial] = field(default_factory=list)  # in the new space's distributions
    first: list[dict[str, Any]] = field(default_factory=list)  # enqueued, in this order
    left_out: int = 0  # earlier trials that cannot be written in the new space
    lines: list[str] = field(default_factory=list)  # one per source, for the log

    def apply(self, study: optuna.Study) -> None:
        """Tell the trials and enqueue the first configurations; only into a study still empty
        (a study loaded again, as a resume does, already has them)."""
        if study.get_trials(deepcopy=False):
            return
        study.add_trials(self.trials)
        for params in self.first:
            study.enqueue_trial(params, user_attrs={WARM_ATTR: "best of an earlier search"})


def distribution(p: Param) -> BaseDistribution:
    """The distribution ``Param.suggest`` asks Optuna for (so the told trials match it)."""
    if p.type == "float":
        return FloatDistribution(float(p.low), float(p.high), log=p.log,  # type: ignore[arg-type]
                                 step=None if p.step is None else float(p.step))
    if p.type == "int":
        return IntDistribution(int(p.low), int(p.high), log=p.log,  # type: ignore[arg-type]
                               step=int(p.step or 1))
    return CategoricalDistribution(p.choices)


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same kind (True is not 1 here, as a YAML choice it is not)."""
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def contains(p: Param, value: Any) -> bool:
    """Whether the new space's parameter can take this value."""
    if p.type == "categorical":
        return any(_same(value, c) for c in p.choices)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return False
    low, high = float(p.low), float(p.high)  # type: ignore[arg-type]
    if not low <= value <= high or (p.type == "int" and not float(value).is_integer()):
        return False
    if p.step:
        k = (value - low) / float(p.step)
        return abs(k - round(k)) < 1e-8
    return True


@dataclass
class _Earlier:
    name: str
    folder: Path
    space: SearchSpace
    base: dict[str, Any]  # flat
    objectives: list[Objective]
    study_url: str


def _open(name: str, results: Path) -> _Earlier:
    folder = earlier_experiment(name, results)
    at = f"--warm-start {name}"
    try:
        saved = json.loads((folder / SPEC_FILE).read_text())
        space = parse_space(saved["space"], where=f"{name}/{SPEC_FILE}")
        base = flatten_config(saved["base_config"])
        objectives = [Objective.from_json(o) for o in saved.get("objectives") or []] or \
            [Objective(saved["metric"], saved["mode"])]
        url = str(saved["study_url"])
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UserError(f"{at}: {folder / SPEC_FILE} is not an experiment record as raysearch "
                        f"writes it ({type(e).__name__}: {str(e)[:120]})") from None
    where = url[len(JOURNAL):] if url.startswith(JOURNAL) else \
        url[len("sqlite:///"):] if url.startswith("sqlite:///") else None
    if where is not None and not Path(where).exists():  # opening it would create an empty one
        raise UserError(f"{at}: its Optuna study {url} is gone; nothing to start from")
    return _Earlier(name, folder, space, base, objectives, url)


def _check_compatible(e: _Earlier, space: SearchSpace, base: dict[str, Any],
                      objectives: list[Objective]) -> None:
    at = f"--warm-start {e.name}"
    if [(o.metric, o.mode) for o in e.objectives] != [(o.metric, o.mode) for o in objectives]:
        raise UserError(f"{at}: it optimised {', '.join(f'{o.metric} ({o.mode})' for o in e.objectives)}"
                        f", this search {', '.join(f'{o.metric} ({o.mode})' for o in objectives)}; "
                        "its values cannot be told to this study")
    new = {p.name: p for p in space.params}
    for old in e.space.params:
        p = new.get(old.name)
        if p is None:
            raise UserError(f"{at}: parameters.{old.name} was searched there, but {space.path} "
                            f"does not search it (here it is always {base.get(old.name)!r}); "
                            "search it here too, or leave this warm start out")
        if p.type != old.type:
            raise UserError(f"{at}: parameters.{old.name} is {old.type} there and {p.type} in "
                            f"{space.path}")
        if p.type == "categorical":
            missing = [c for c in old.choices if not any(_same(c, n) for n in p.choices)]
            if missing:
                raise UserError(f"{at}: parameters.{old.name} had the choices {old.choices} there; "
                                f"{space.path} lacks {missing}")
        elif float(old.low) < float(p.low) or float(old.high) > float(p.high):  # type: ignore[arg-type]
            raise UserError(f"{at}: parameters.{old.name} was searched over [{old.low}, {old.high}] "
                            f"there; {space.path} searches only [{p.low}, {p.high}], which must "
                            "hold it")
    searched = set(new) | {p.name for p in e.space.params}
    for key in sorted(set(base) | set(e.base)):
        if key in searched or key in IGNORED_KEYS:
            continue
        if not _same(base.get(key), e.base.get(key)):
            was = e.base.get(key)
            value = was if isinstance(was, str) else json.dumps(was)
            option = (f"--max-epochs {value}" if key == "train.epochs"  # submit's name for it
                      else f"--set {key}={value}")
            raise UserError(f"{at}: its trials trained with {key} = {was!r}, this "
                            f"search's with {base.get(key)!r}; give {option} to match, or "
                            "leave this warm start out")


def translate(trial: FrozenTrial, e: _Earlier, space: SearchSpace, base: dict[str, Any]
              ) -> dict[str, Any] | None:
    """The trial's parameters as the new space's define-by-run function would have sampled them
    (``DefineByRun``), or None when its configuration cannot be written in the new space."""
    was = {**e.base, **trial.params}  # what the trial trained with
    chosen: dict[str, Any] = dict(space.fixed)
    params: dict[str, Any] = {}
    for p in space.params:
        if all(chosen.get(k) in vs for k, vs in p.when.items()):
            value = was.get(p.name)
            if not contains(p, value):
                return None
            params[p.name] = chosen[p.name] = value
    now = {**base, **params}  # what it would train with here
    keys = {p.name for p in space.params} | {p.name for p in e.space.params}
    return params if all(_same(was.get(k), now.get(k)) for k in keys) else None


def _told(trial: FrozenTrial, params: dict[str, Any], space: SearchSpace, source: str
          ) -> FrozenTrial:
    dists = {p.name: distribution(p) for p in space.params if p.name in params}
    attrs = {k: v for k, v in trial.user_attrs.items() if k != "tune_trial_id"}
    return optuna.trial.create_trial(
        state=trial.state, values=trial.values if trial.state == TrialState.COMPLETE else None,
        params=params, distributions=dists, intermediate_values=dict(trial.intermediate_values),
        user_attrs={**attrs, WARM_ATTR: source})


def _best(study: optuna.Study) -> list[FrozenTrial]:
    try:
        return list(study.best_trials) if len(study.directions) > 1 else [study.best_trial]
    except ValueError:  # no COMPLETE trial
        return []


def load_warm_start(names: tuple[str, ...] | list[str], results: Path, space: SearchSpace,
                    base: Config, objectives: list[Objective]) -> WarmStart | None:
    """The trials and first configurations of ``names`` (experiments in ``results``), checked
    against the new search's space, base config and objectives; None when no name is given."""
    if not names:
        return None
    flat = flatten_config(base.to_dict())
    warm = WarmStart()
    for name in dict.fromkeys(names):  # each once, in the order given
        e = _open(name, results)
        _check_compatible(e, space, flat, objectives)
        try:
            study = open_study(e.study_url, name)
        except KeyError:
            raise UserError(f"--warm-start {name}: its Optuna storage {e.study_url} holds no "
                            f"study {name!r}") from None
        told = left = 0
        for t in study.get_trials(deepcopy=False, states=TOLD_STATES):
            params = translate(t, e, space, flat)
            if params is None:
                left += 1
                continue
            warm.trials.append(_told(t, params, space, f"{name}#{t.number}"))
            told += 1
        firsts = []
        for b in _best(study):
            params = translate(b, e, space, flat)
            if params is not None and params not in warm.first:
                warm.first.append(params)
                firsts.append(f"trial {b.number} ({_values(b, objectives)})")
        warm.sources.append(name)
        warm.left_out += left
        warm.lines.append(
            f"warm start from {name}: {told} finished trials told to the sampler"
            + (f" ({left} left out: their configuration cannot be written in {space.path})"
               if left else "")
            + (f"; its best, {', '.join(firsts)}, runs first" if firsts
               else "; no trial of it ran every epoch, so none is run again"))
    return warm


def _values(t: FrozenTrial, objectives: list[Objective]) -> str:
    return ", ".join(f"{o.metric} {v:.4g}" for o, v in zip(objectives, t.values or [], strict=False))


def say_warm_start(warm: WarmStart | None, say: Callable[[str], None]) -> None:
    for line in warm.lines if warm else []:
        say(line)
