"""Refine a search's winner with Population Based Training (``raysearch refine NAME``).

The winner's architecture, data and masks stay as they were; a population of members trains the
winner's configuration from scratch, and Ray Tune's ``PopulationBasedTraining`` (or ``PB2``) has
the weak members take a strong member's checkpoint (weights, both optimisers' moments, the EMA)
and a perturbed copy of its continuous parameters: learning rates, loss weights, critic steps.
A member that restores another's optimiser then steps with its own mutated learning rates
(``train.loop.apply_optim_config``: the trap of Ray issue 29060).

The refinement is an experiment like any search (``raysearch.json``, ``trials.json``, Tune's
folder), so ``status``, ``best``, ``plot``, ``export``, ``evaluate`` and ``resume`` work on it;
``raysearch.json`` also holds ``refine``: where it came from and how PBT was set up. Each
member's record holds its parameters at every epoch (``schedule``) and every exploit.

``prepare_refine`` checks everything without Ray; ``run_refine`` starts Ray and fits the Tuner.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from raysearch.config import Config
from raysearch.errors import UserError
from raysearch.search.experiment import Experiment, open_experiment
from raysearch.search.objectives import Objective
from raysearch.search.records import TrialRecord, best_of, read_trials
from raysearch.search.runner import Prepared, SearchSpec, _check_spec, claim_experiment
from raysearch.search.space import Param, SearchSpace, load_space, parse_space, trial_config, validate_space
from raysearch.search.store import SPEC_FILE

MUTABLE = ("optim.", "loss.")  # what members may differ in: never the network, data or masks
SUFFIX = "-refine"
INITIAL_SPREAD = 2.0  # members after the first start at the winner's values x [1/2, 2] (seeded)


@dataclass
class RefineSpec:
    """What ``raysearch refine`` is asked to do."""

    source: str  # the search whose best trial is refined
    name: str | None = None  # default: SOURCE-refine
    results: str = "results"
    population: int = 4
    epochs: int | None = None  # default: the winner's train.epochs
    perturb_interval: int = 1  # epochs between PBT's decisions
    space_path: str | None = None  # which parameters to mutate, with their bounds
    pb2: bool = False  # PB2 (a Gaussian-process bandit) chooses the new values instead
    synch: bool = True  # every member waits at each perturbation point
    seed: int = 0  # added to the winner's train.seed; also seeds the start values and PBT's choices
    quantile_fraction: float = 0.25
    resample_probability: float = 0.25
    workers_per_trial: int = 1
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0
    max_concurrent: int = 0
    keep_checkpoints: int = 4  # PBT clones members' latest checkpoints: keep a few
    max_failures: int = 2
    storage: str | None = None


@dataclass
class RefinePrepared:
    """A checked refinement: the search to run (as ``Prepared``) and PBT's set-up."""

    prepared: Prepared
    refine: dict[str, Any]  # raysearch.json's "refine": source, winner, members' start values
    params: list[Param] = field(default_factory=list)


def _check_options(rs: RefineSpec) -> None:
    """What can be checked before the source search is read."""
    if rs.population < 2:
        raise UserError(f"--population must be at least 2 (PBT copies one member into another), "
                        f"got {rs.population}")
    if rs.epochs is not None:
        _check_epochs(rs, rs.epochs)


def _check_epochs(rs: RefineSpec, epochs: int) -> None:
    if epochs < 2:
        raise UserError(f"--epochs must be at least 2 (PBT acts between epochs), got {epochs}")
    if not 1 <= rs.perturb_interval < epochs:
        raise UserError(f"--perturb-interval must be from 1 to {epochs - 1} (below --epochs "
                        f"{epochs}, or no member is ever perturbed), got {rs.perturb_interval}")


def winner_of(exp: Experiment) -> TrialRecord:
    """The finished trial with the best value of the search's first objective and a checkpoint."""
    best = best_of(exp.finished(), exp.metric, exp.mode)
    if best is None:
        states = ", ".join(sorted({str(t.state) for t in exp.trials})) or "none started"
        raise UserError(f"search {exp.name!r} has no finished trial with a checkpoint to refine "
                        f"({len(exp.trials)} trials: {states}); let it finish one "
                        f"(raysearch resume {exp.name}) or refine another search")
    return best


def mutable_reason(p: Param) -> str | None:
    """Why PBT cannot mutate this parameter (None: it can)."""
    if p.type == "categorical":
        return "categorical, not continuous"
    if not p.name.startswith(MUTABLE):
        return ("not a learning rate, loss weight or critic steps: it changes the network, data "
                "or masks that the members share")
    return None


def _allowed() -> str:
    return "float or int keys of optim.* and loss.* (learning rates, loss weights, critic steps)"


def mutated_params(exp: Experiment, winner: TrialRecord, space_path: str | None,
                   say: Callable[[str], None]) -> list[Param]:
    """The parameters PBT mutates: those in --space (every one must be mutable), else those of
    the search's own space that are (the rest stay at the winner's values, which is said)."""
    if space_path is not None:
        return space_params(space_path)
    if not exp.searched:
        raise UserError(f"search {exp.name!r} searched no parameters; give --space FILE with the "
                        f"{_allowed()} to mutate")
    params = parse_space({"parameters": exp.searched}, where=f"{exp.name}/{SPEC_FILE}").params
    kept = [p for p in params if mutable_reason(p) is None and p.name in winner.params]
    left = [p for p in params if p not in kept]
    if not kept:
        listed = ", ".join(f"{p.name} ({mutable_reason(p) or 'not sampled for the winner'})"
                           for p in left)
        raise UserError(f"search {exp.name!r} searched no parameter that PBT can mutate ({listed}); "
                        f"give --space FILE with the {_allowed()} to mutate")
    if left:
        say("kept at the winner's values: " + ", ".join(
            f"{p.name}={winner.params.get(p.name, '-')}" for p in left))
    return kept


def space_params(space_path: str) -> list[Param]:
    """The parameters of a --space file, each one that PBT can mutate (else an error)."""
    space = load_space(Path(space_path))
    if space.fixed:
        raise UserError(f"{space_path}: refine takes only 'parameters' (the keys to mutate); "
                        f"fixed: {', '.join(space.fixed)} would change the winner")
    for p in space.params:
        why = mutable_reason(p)
        if why is not None:
            raise UserError(f"{space_path}: parameters.{p.name} ({p.type}) is {why}; refine "
                            f"mutates {_allowed()}")
        if p.when:
            raise UserError(f"{space_path}: parameters.{p.name} has 'when'; refine mutates "
                            "every listed parameter of every member (drop 'when')")
    return space.params


def search_spec(rs: RefineSpec, space_path: str, epochs: int | None, metric: str | None
                ) -> SearchSpec:
    """The refinement as the search it runs: one trial per member, no early stopping."""
    name = f"{rs.source}{SUFFIX}" if rs.name is None else rs.name  # '' is refused, not replaced
    return SearchSpec(name=name, space_path=space_path,
                      results=rs.results, num_samples=rs.population, max_epochs=epochs,
                      metric=metric, seed=rs.seed, workers_per_trial=rs.workers_per_trial,
                      cpus_per_worker=rs.cpus_per_worker, gpus_per_worker=rs.gpus_per_worker,
                      max_concurrent=rs.max_concurrent, keep_checkpoints=rs.keep_checkpoints,
                      max_failures=rs.max_failures, storage=rs.storage, scheduler="none",
                      checkpoints_to_tune=True)


def check_request(rs: RefineSpec) -> None:
    """What can be checked where the source search is not (a Ray Job's submitter): the options
    and the --space file; the job's driver checks the rest on the cluster."""
    _check_options(rs)
    _check_spec(search_spec(rs, rs.space_path or "-", rs.epochs, None))
    if rs.space_path is not None:
        space_params(rs.space_path)


def _value(cfg: Config, key: str) -> Any:
    """A dotted key's value in a config (``optim.lr_g``)."""
    node: Any = cfg.to_dict()
    for part in key.split("."):
        node = node[part]
    return node


def _clip(p: Param, v: float) -> float | int:
    assert p.low is not None and p.high is not None
    v = min(max(v, float(p.low)), float(p.high))
    return round(v) if p.type == "int" else float(v)


def initial_members(params: list[Param], start: dict[str, Any], population: int, seed: int
                    ) -> list[dict[str, Any]]:
    """Member 0 starts at the winner's values; the others at them times a seeded factor in
    [1/INITIAL_SPREAD, INITIAL_SPREAD] (log-uniform), clipped to each parameter's bounds."""
    rng = np.random.default_rng(seed)
    members = [{p.name: _clip(p, float(start[p.name])) for p in params}]
    for _ in range(population - 1):
        members.append({p.name: _clip(p, float(start[p.name]) * math.exp(
            rng.uniform(-math.log(INITIAL_SPREAD), math.log(INITIAL_SPREAD)))) for p in params})
    return members


def winner_config(exp: Experiment, winner: TrialRecord, epochs: int | None) -> Config:
    """The winner's configuration, trained for ``epochs`` with a checkpoint after every epoch
    (PBT clones members' latest checkpoints)."""
    base = exp.spec.get("base_config")
    if not isinstance(base, dict):
        raise UserError(f"{exp.path / SPEC_FILE}: no base_config to rebuild the winner from")
    cfg = trial_config(base, winner.params)
    cfg.train.epochs = epochs if epochs is not None else cfg.train.epochs
    cfg.train.checkpoint_every = 1
    return cfg


def prepare_refine(rs: RefineSpec, check: Callable[[Config], None] | None = None,
                   say: Callable[[str], None] = print) -> RefinePrepared:
    """Check the request, the source search and the data, and take the experiment's lock: no Ray."""
    check_request(rs)  # the options first, before anything is read or said
    exp = open_experiment(rs.source, rs.results)
    winner = winner_of(exp)
    cfg = winner_config(exp, winner, rs.epochs)
    cfg.train.seed += rs.seed  # seed 0: the winner's own weights and batches at the start
    _check_epochs(rs, cfg.train.epochs)
    params = mutated_params(exp, winner, rs.space_path, say)
    start = {p.name: winner.params.get(p.name, _value(cfg, p.name)) for p in params}
    space = SearchSpace(path=rs.space_path or f"{exp.name}/{SPEC_FILE}",
                        description=f"PBT refinement of {exp.name} trial {winner.number}",
                        metric=exp.metric, params=params)
    validate_space(space, cfg, check)
    spec = search_spec(rs, space.path, cfg.train.epochs, exp.metric)
    _check_spec(spec)
    if cfg.train.num_threads == 0:
        cfg.train.num_threads = max(1, int(rs.cpus_per_worker))
    if rs.pb2:
        _check_pb2()
    members = initial_members(params, start, rs.population, rs.seed)
    refine = {"source": exp.name, "source_path": str(exp.path), "winner": winner.number,
              "winner_trial_id": winner.trial_id, "winner_value": winner.value(exp.metric),
              "scheduler": "pb2" if rs.pb2 else "pbt", "population": rs.population,
              "perturbation_interval": rs.perturb_interval, "synch": rs.synch,
              "quantile_fraction": rs.quantile_fraction,
              "resample_probability": rs.resample_probability, "members": members,
              "mutated": [p.name for p in params]}
    lock, data = claim_experiment(spec, cfg, say)
    prepared = Prepared(spec, space, cfg, exp.metric, exp.mode, data,
                        [Objective(exp.metric, exp.mode)], lock)
    return RefinePrepared(prepared, refine, params)


def _check_pb2() -> None:
    try:
        import pandas  # noqa: F401  # PB2 keeps the population's data in a DataFrame
        import sklearn  # noqa: F401  # and fits a Gaussian process with scikit-learn
    except ImportError as e:
        raise UserError(f"--pb2 needs {e.name} (Ray Tune's PB2 fits a Gaussian process to the "
                        f"population): pip install {e.name}") from None


@dataclass
class ClipToBounds:
    """PBT's explore multiplies a value by 0.8 or 1.2 with no regard for its range: put it back
    inside the bounds the user gave (picklable: Tune saves the scheduler)."""

    bounds: dict[str, tuple[float, float, bool]]  # name -> (low, high, is int)

    def __call__(self, config: dict[str, Any]) -> dict[str, Any]:
        for name, (low, high, is_int) in self.bounds.items():
            if name in config:
                v = min(max(float(config[name]), low), high)
                config[name] = round(v) if is_int else v
        return config


def _bounds(p: Param) -> tuple[float, float, bool]:
    assert p.low is not None and p.high is not None
    return float(p.low), float(p.high), p.type == "int"


def _domain(p: Param) -> Any:
    from ray import tune

    assert p.low is not None and p.high is not None
    if p.type == "int":
        return tune.randint(int(p.low), int(p.high) + 1)
    return tune.loguniform(p.low, p.high) if p.log else tune.uniform(p.low, p.high)


def make_scheduler(rp: RefinePrepared) -> Any:
    """Ray Tune's PopulationBasedTraining (or PB2) over the mutated parameters (``search.pbt``)."""
    from raysearch.search.pbt import RefinePB2, RefinePBT

    p, r = rp.prepared, rp.refine
    common = {"time_attr": "training_iteration", "metric": p.metric, "mode": p.mode,
              "perturbation_interval": r["perturbation_interval"],
              "quantile_fraction": r["quantile_fraction"], "synch": r["synch"],
              "custom_explore_fn": ClipToBounds({q.name: _bounds(q) for q in rp.params})}
    if r["scheduler"] == "pb2":
        return RefinePB2(hyperparam_bounds={q.name: [q.low, q.high] for q in rp.params}, **common)
    return RefinePBT(hyperparam_mutations={q.name: _domain(q) for q in rp.params},
                                   resample_probability=r["resample_probability"], **common)


def build_refine_tuner(rp: RefinePrepared, say: Callable[[str], None]) -> Any:
    import random

    from ray import tune

    from raysearch.search.progress import Progress
    from raysearch.search.recorder import TrialRecorder
    from raysearch.search.runner import build_trainable, records_replace_tune_logs, trial_dirname
    from raysearch.search.signer import SigningVariants
    from raysearch.search.signing import sign_stored
    from raysearch.search.store import TUNE_DIR

    p, s = rp.prepared, rp.prepared.spec
    epochs = p.base.train.epochs
    store = s.store()
    records_replace_tune_logs()
    random.seed(s.seed)  # PBT draws its quantile choices and perturbations from `random`
    members = rp.refine["members"]
    search = SigningVariants(store, points_to_evaluate=[dict(m) for m in members],
                             random_state=s.seed,
                             max_concurrent=s.max_concurrent or 0)
    recorder = TrialRecorder(s.experiment, p.metric, p.mode, epochs, say, store=store,
                             keep_checkpoints=s.keep_checkpoints,
                             schedule=tuple(q.name for q in rp.params))
    progress = Progress(recorder, s.num_samples, p.metric, p.mode, say, stopper=None)  # PBT stops none
    tuner = tune.Tuner(
        build_trainable(p),
        # what PBT mutates; every member's start values come from points_to_evaluate
        param_space={q.name: _domain(q) for q in rp.params},
        tune_config=tune.TuneConfig(search_alg=search, scheduler=make_scheduler(rp),
                                    num_samples=s.num_samples,
                                    # as a search: a Train driver's thread outlives Tune's reuse
                                    # window, so multi-worker members start fresh
                                    reuse_actors=s.workers_per_trial == 1,
                                    trial_dirname_creator=trial_dirname),
        run_config=tune.RunConfig(
            name=TUNE_DIR, storage_path=s.experiment_uri, verbose=0,
            callbacks=[recorder, progress],
            # the last epoch ends the member: PBT never clones into a member that has finished
            stop={"training_iteration": epochs},
            failure_config=tune.FailureConfig(max_failures=s.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=s.keep_checkpoints,
                                                    checkpoint_score_attribute=p.metric,
                                                    checkpoint_score_order=p.mode),
        ),
    )
    sign_stored(s.experiment_uri, store, f"{TUNE_DIR}/tuner.pkl")
    return tuner


def run_refine(rp: RefinePrepared, address: str | None = None,
               say: Callable[[str], None] = print) -> TrialRecord | None:
    """Start (or attach to) Ray and train the population; returns the best member's record."""
    from raysearch.search.runner import check_gpus, finished_trials, snapshot_often, start_ray, write_spec
    from raysearch.search.signing import load_key
    from raysearch.search.storage import check_shared_storage

    p = rp.prepared
    assert p.lock is not None
    try:
        load_key()
        dashboard = start_ray(address)
        if dashboard:
            say(f"Ray dashboard: {dashboard}")
        check_gpus(p.spec)
        check_shared_storage(p.spec.storage or p.spec.results)
        write_spec(p, extra={"refine": rp.refine})
        snapshot_often()
        t0 = time.perf_counter()
        r = rp.refine
        say(f"refine {r['source']!r} trial {r['winner']} as {p.spec.name!r}: "
            f"{r['scheduler'].upper()}, population {r['population']}, {p.base.train.epochs} "
            f"epochs, perturbation every {r['perturbation_interval']} "
            f"({'synchronous' if r['synch'] else 'asynchronous'}) of "
            f"{', '.join(r['mutated'])} on {p.metric} ({p.mode}); results in {p.spec.experiment}")
        build_refine_tuner(rp, say).fit()
    finally:
        p.lock.release()
    say(f"refine {'finished' if finished_trials(p.spec, say) else 'stopped'} after "
        f"{time.perf_counter() - t0:.0f} s")
    return best_of(read_trials(p.spec.experiment), p.metric, p.mode)


__all__ = ["ClipToBounds", "RefinePrepared", "RefineSpec", "build_refine_tuner", "check_request",
           "initial_members", "make_scheduler", "mutable_reason", "mutated_params",
           "prepare_refine", "run_refine", "search_spec", "space_params", "winner_config",
           "winner_of"]
