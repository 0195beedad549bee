"""How a search proposes and stops trials: the Optuna sampler, the Tune scheduler, an epoch budget.

The default is TPE + ASHA. Every other choice is one registry entry whose settings are written out
here, so that ``--sampler`` / ``--scheduler`` (and ``raysearch simulate --strategy``) can compare
them on the same budget (``bench/bench_strategies.py``, ``bench/bench_sim_settings.py``):

- samplers: Optuna's TPE with its defaults and with one setting changed each (``group``,
  ``multivariate``, ``constant_liar``, ``gamma``), TPE with every third proposal at random,
  Optuna's Gaussian-process sampler (``GPSampler``, for spaces without conditions) and random
  search;
- schedulers: ASHA (one bracket), asynchronous Hyperband (ASHA with all of Hyperband's brackets,
  ``ASHAScheduler(brackets=...)``) and no early stopping.

Optuna 5's TPE defaults are already multivariate (for one objective) with the constant liar on;
``tpe-independent`` and ``tpe-no-liar`` turn each off, ``tpe-group`` adds grouped subspaces,
``tpe-wide`` keeps the best quarter of the trials in TPE's good set instead of a tenth.
"""

from __future__ import annotations

import importlib.util
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from raysearch.errors import UserError
from raysearch.registry import Registry

if TYPE_CHECKING:
    from raysearch.search.space import SearchSpace


@dataclass(frozen=True)
class Kind:
    """A registered sampler or scheduler: its display name, its builder, and what it refuses."""

    label: str
    build: Callable[..., Any]
    # a sampler's check of the space (a UserError naming the parameter), before anything starts
    check_space: Callable[[str, SearchSpace], None] | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # what it passes to Optuna / Tune
    startup: bool = True  # a sampler that proposes apart from its model for --startup-trials
    startup_kind: str = "random"  # how it proposes them: at random, or a Sobol sequence
    model_label: str = ""  # the label less its start, where the start-up trials are named after

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.build(*args, **kwargs)


SAMPLERS: Registry[Kind] = Registry("sampler")
SCHEDULERS: Registry[Kind] = Registry("scheduler")


# ---- samplers: build(seed, startup_trials) -> optuna sampler ------------------------------------

def _tpe_builder(settings: dict[str, Any]) -> Callable[[int, int], Any]:
    def build(seed: int, startup_trials: int) -> Any:
        import optuna

        with warnings.catch_warnings():
            # tpe-wide's gamma is deprecated since Optuna 4.9 and goes in 6 (pyproject pins <6):
            # a warning on every search that its user could do nothing about
            warnings.filterwarnings("ignore", message="`gamma` has been deprecated",
                                    category=FutureWarning)
            return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup_trials,
                                              **settings)

    return build


def _register_tpe(name: str, label: str, **settings: Any) -> None:
    SAMPLERS.register(name)(Kind(label, _tpe_builder(settings), settings=settings))


# Optuna's own defaults (5.x: multivariate for one objective, independent for several; constant
# liar on): the default sampler, left to Optuna as it always was
_register_tpe("tpe", "TPE")
# for conditional spaces: a multivariate TPE per group of parameters that occur together
_register_tpe("tpe-group", "TPE (multivariate, grouped)", multivariate=True, group=True,
              constant_liar=True)
# one density per parameter, as Optuna before 5 did by default
_register_tpe("tpe-independent", "TPE (independent)", multivariate=False, constant_liar=True)
# running trials do not count as bad results: two trials side by side may be proposed alike
_register_tpe("tpe-no-liar", "TPE (no constant liar)", constant_liar=False)


def quarter_gamma(n: int) -> int:
    """TPE's good set: the best quarter of the finished trials (Hyperopt's original gamma 0.25;
    Optuna's default is a tenth, so 1-3 trials at the sizes of a quick search), at most 25."""
    return min(math.ceil(0.25 * n), 25)


# a good set of a quarter: one lucky start-up trial cannot hold the whole good set of a small search
_register_tpe("tpe-wide", "TPE (good set: best quarter)", gamma=quarter_gamma)


def _random(seed: int, startup_trials: int) -> Any:
    import optuna

    return optuna.samplers.RandomSampler(seed=seed)


def _gp(seed: int, startup_trials: int) -> Any:
    import optuna

    from raysearch.search.pruned import PrunedAsComplete

    # GPSampler alone ignores PRUNED trials, so under ASHA it proposed stopped configurations
    # again and again (raysearch/search/pruned.py)
    return PrunedAsComplete(optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup_trials))


def _gp_sobol(seed: int, startup_trials: int) -> Any:
    import optuna

    from raysearch.search.pruned import PrunedAsComplete
    from raysearch.search.sobol import SobolStart

    # inside the view, so that a pruned trial with a score counts as finished, as the GP counts it
    return PrunedAsComplete(SobolStart(
        optuna.samplers.GPSampler(seed=seed, n_startup_trials=startup_trials), startup_trials,
        seed=seed))


def _tpe_sobol(seed: int, startup_trials: int) -> Any:
    from optuna.trial import TrialState

    from raysearch.search.sobol import SobolStart

    # TPE counts pruned trials among its finished ones (it models them by their last value)
    return SobolStart(_tpe_builder({})(seed, startup_trials), startup_trials, seed=seed,
                      counted=(TrialState.COMPLETE, TrialState.PRUNED))


def _fixed_space_check(needs: tuple[str, ...], who: str) -> Callable[[str, SearchSpace], None]:
    """The check of a sampler that models one fixed set of parameters (Optuna's GPSampler, its
    QMCSampler): a conditional one would be sampled at random (Optuna's fallback, with a warning
    per trial), so such a space is refused, as is a missing package ``who`` imports."""

    def check(name: str, space: SearchSpace) -> None:
        missing = [m for m in needs if importlib.util.find_spec(m) is None]
        if missing:
            raise UserError(f"--sampler {name} needs {' and '.join(missing)} ({who} imports "
                            f"them): pip install {' '.join(missing)}")
        for p in space.params:
            if p.when:
                raise UserError(f"--sampler {name}: {who} needs a space without conditions, and "
                                f"{space.path} searches parameters.{p.name} only when {p.when}; "
                                f"use --sampler tpe-group for conditional spaces")

    return check


GP_NEEDS = ("torch", "scipy")  # what Optuna's GPSampler imports when it first models the trials
_gp_check = _fixed_space_check(GP_NEEDS, "Optuna's GPSampler")


def _tpe_interleaved(seed: int, startup_trials: int) -> Any:
    from raysearch.search.interleaved import InterleavedRandomSampler

    every = SAMPLERS.get("tpe-interleaved").settings["every"]
    return InterleavedRandomSampler(_tpe_builder({})(seed, startup_trials), every, seed=seed + 1)


# Optuna's TPE, but every third proposal at random (SMAC's interleaved random configurations,
# BOHB's random fraction of 1/3), so that a lucky start-up trial cannot hold the search in one
# corner of the space (raysearch/search/interleaved.py)
SAMPLERS.register("tpe-interleaved")(Kind("TPE, every 3rd proposal random", _tpe_interleaved,
                                          settings={"every": 3}))
SAMPLERS.register("random")(Kind("random search", _random, startup=False))
# Optuna's GPSampler, told of the trials ASHA stopped at their last score (as Optuna's
# CmaEsSampler(consider_pruned_trials=True) is); for spaces without conditions
SAMPLERS.register("gp")(Kind("Gaussian process (GPSampler)", _gp, _gp_check))
# the same two models, their start-up trials spread by a scrambled Sobol sequence instead of drawn
# at random, as Ax and BoTorch start theirs (raysearch/search/sobol.py); no conditions either
SAMPLERS.register("gp-sobol")(Kind("Gaussian process (GPSampler), Sobol start", _gp_sobol,
                                   _gp_check, startup_kind="Sobol",
                                   model_label="Gaussian process (GPSampler)"))
SAMPLERS.register("tpe-sobol")(Kind("TPE, Sobol start", _tpe_sobol,
                                    _fixed_space_check(("scipy",), "Optuna's QMCSampler"),
                                    startup_kind="Sobol", model_label="TPE"))


# ---- schedulers: build(store, metric, mode, max_t, grace_period, reduction_factor, seed) ---------

def hyperband_brackets(max_t: int, grace_period: int, reduction_factor: int) -> int:
    """How many brackets Hyperband has: one per first rung grace, grace*rf, ... up to max_t (ASHA's
    milestones, as Ray computes them)."""
    from raysearch.search.experiment import rung_epochs

    return len(rung_epochs(max_t, grace_period, reduction_factor))


def scheduler_brackets(scheduler: str, max_t: int, grace_period: int, reduction_factor: int
                       ) -> int:
    """The brackets a scheduler entry runs (0: it never stops a trial early)."""
    rule = SCHEDULERS.get(scheduler).settings.get("brackets", 0)
    return hyperband_brackets(max_t, grace_period, reduction_factor) if rule == "all" else rule


def _asha_builder(name: str) -> Callable[..., Any]:
    def build(store: Any, metric: str, mode: str, max_t: int, grace_period: int,
              reduction_factor: int, seed: int = 0) -> Any:
        from raysearch.search.asha import PersistentASHA

        return PersistentASHA(store, seed=seed, time_attr="training_iteration", metric=metric,
                              mode=mode, max_t=max_t, grace_period=min(grace_period, max_t),
                              reduction_factor=reduction_factor,
                              brackets=scheduler_brackets(name, max_t, grace_period,
                                                          reduction_factor))

    return build


def _fifo(store: Any, metric: str, mode: str, max_t: int, grace_period: int,
          reduction_factor: int, seed: int = 0) -> Any:
    from ray.tune.schedulers import FIFOScheduler

    return FIFOScheduler()


# rungs survive a resume (PersistentASHA)
SCHEDULERS.register("asha")(Kind("ASHA", _asha_builder("asha"), settings={"brackets": 1}))
# Li et al.'s asynchronous Hyperband: each new trial joins one of Hyperband's brackets (bracket s
# first judges a trial after grace * rf^s epochs; the last one never stops a trial early)
SCHEDULERS.register("hyperband")(Kind("asynchronous Hyperband", _asha_builder("hyperband"),
                                      settings={"brackets": "all"}))
SCHEDULERS.register("none")(Kind("no early stopping", _fifo))  # every trial runs all its epochs


@dataclass(frozen=True)
class Strategy:
    """A sampler and a scheduler, written ``sampler+scheduler`` (e.g. ``tpe+asha``)."""

    sampler: str = "tpe"
    scheduler: str = "asha"

    @property
    def label(self) -> str:
        return f"{self.sampler}+{self.scheduler}"

    @classmethod
    def parse(cls, text: str) -> Strategy:
        sampler, _, scheduler = text.strip().partition("+")
        strategy = cls(sampler, scheduler or "asha")
        check_strategy(strategy.sampler, strategy.scheduler)
        return strategy


def check_strategy(sampler: str, scheduler: str, startup_trials: int = 0,
                   epoch_budget: int = 0) -> None:
    """UserErrors naming the option and its allowed values."""
    if sampler not in SAMPLERS:
        raise UserError(f"--sampler must be one of {', '.join(SAMPLERS.names())}, got {sampler!r}")
    if scheduler not in SCHEDULERS:
        raise UserError(f"--scheduler must be one of {', '.join(SCHEDULERS.names())}, "
                        f"got {scheduler!r}")
    if startup_trials < 0:
        raise UserError(f"--startup-trials must be >= 0, got {startup_trials}")
    if epoch_budget < 0:
        raise UserError(f"--epoch-budget must be >= 0 (0: no budget), got {epoch_budget}")


def check_sampler_space(sampler: str, space: SearchSpace) -> None:
    """The sampler's own demands on the space (GPSampler: no conditions), before Ray starts."""
    kind = SAMPLERS.get(sampler)
    if kind.check_space is not None:
        kind.check_space(sampler, space)


def make_sampler(name: str, seed: int, startup_trials: int) -> Any:
    """The seeded Optuna sampler; TPE's first ``startup_trials`` proposals are random ones."""
    return SAMPLERS.get(name)(seed, startup_trials)


def make_scheduler(name: str, store: Any, metric: str, mode: str, max_t: int, grace_period: int,
                   reduction_factor: int, seed: int = 0) -> Any:
    """The Tune scheduler (``store`` keeps ASHA's rungs for a resume; ``seed`` places trials in
    Hyperband's brackets)."""
    return SCHEDULERS.get(name)(store, metric, mode, max_t, grace_period, reduction_factor,
                                seed=seed)


def strategy_label(sampler: str, scheduler: str) -> str:
    """How a search's strategy is named in its logs and reports, e.g. 'TPE + ASHA'."""
    return f"{SAMPLERS.get(sampler).label} + {SCHEDULERS.get(scheduler).label}"


def describe_settings(sampler: str, scheduler: str, startup_trials: int, max_t: int,
                      grace_period: int, reduction_factor: int) -> str:
    """The strategy with the settings that decide it, e.g. 'TPE, 4 random start-up trials +
    asynchronous Hyperband (3 brackets, first judged after 1, 2, 4 epochs; reduction factor 2)'."""
    s, k = SAMPLERS.get(sampler), SCHEDULERS.get(scheduler)
    left = s.label if not s.startup else (f"{s.model_label or s.label}, {startup_trials} "
                                          f"{s.startup_kind} start-up "
                                          f"trial{'s' * (startup_trials != 1)}")
    brackets = scheduler_brackets(scheduler, max_t, grace_period, reduction_factor)
    if not brackets:
        return f"{left} + {k.label}"
    grace = min(grace_period, max_t)
    firsts = ", ".join(str(grace * reduction_factor ** b) for b in range(brackets))
    return (f"{left} + {k.label} ({brackets} bracket{'s' * (brackets != 1)}, first judged after "
            f"{firsts} epoch{'s' * (firsts != '1')}; reduction factor {reduction_factor})")
