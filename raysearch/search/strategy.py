"""How a search proposes and stops trials: the Optuna sampler, the Tune scheduler, an epoch budget.

The default is TPE + ASHA. Random search and no early stopping exist to measure what each of the
two buys (``bench/bench_strategies.py``), and for users who want a plain baseline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from raysearch.errors import UserError
from raysearch.registry import Registry


@dataclass(frozen=True)
class Kind:
    """A registered sampler or scheduler: its display name and its builder."""

    label: str
    build: Callable[..., Any]

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.build(*args, **kwargs)


SAMPLERS: Registry[Kind] = Registry("sampler")
SCHEDULERS: Registry[Kind] = Registry("scheduler")


def _tpe(seed: int, startup_trials: int) -> Any:
    import optuna

    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup_trials)


def _random(seed: int, startup_trials: int) -> Any:
    import optuna

    return optuna.samplers.RandomSampler(seed=seed)


def _asha(store: Any, metric: str, mode: str, max_t: int, grace_period: int,
          reduction_factor: int) -> Any:
    from raysearch.search.asha import PersistentASHA

    return PersistentASHA(store, time_attr="training_iteration", metric=metric, mode=mode,
                          max_t=max_t, grace_period=min(grace_period, max_t),
                          reduction_factor=reduction_factor)


def _fifo(store: Any, metric: str, mode: str, max_t: int, grace_period: int,
          reduction_factor: int) -> Any:
    from ray.tune.schedulers import FIFOScheduler

    return FIFOScheduler()


SAMPLERS.register("tpe")(Kind("TPE", _tpe))
SAMPLERS.register("random")(Kind("random search", _random))
SCHEDULERS.register("asha")(Kind("ASHA", _asha))  # rungs survive a resume (PersistentASHA)
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


def make_sampler(name: str, seed: int, startup_trials: int) -> Any:
    """The seeded Optuna sampler; TPE's first ``startup_trials`` proposals are random ones."""
    return SAMPLERS.get(name)(seed, startup_trials)


def make_scheduler(name: str, store: Any, metric: str, mode: str, max_t: int, grace_period: int,
                   reduction_factor: int) -> Any:
    """The Tune scheduler (``store`` keeps ASHA's rungs for a resume)."""
    return SCHEDULERS.get(name)(store, metric, mode, max_t, grace_period, reduction_factor)


def strategy_label(sampler: str, scheduler: str) -> str:
    """How a search's strategy is named in its logs and reports, e.g. 'TPE + ASHA'."""
    return f"{SAMPLERS.get(sampler).label} + {SCHEDULERS.get(scheduler).label}"
