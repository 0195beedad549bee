"""Run a search: Ray Tune + OptunaSearch (TPE, seeded) + ASHA over the training loop.

``prepare_search`` validates everything and loads the data without Ray; ``run_search`` starts
(or attaches to) Ray and fits the Tuner. The experiment folder holds ``raysearch.json`` (what
was asked), ``trials.json`` (what happened) and Tune's own files.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from raysearch.config import Config, config_from_dict, merge_dotted
from raysearch.data import FaceData, check_data_path, load_faces
from raysearch.errors import UserError
from raysearch.search.recorder import read_trials, write_json_atomic
from raysearch.search.space import METRICS, SearchSpace, load_space, validate_space
from raysearch.search.strategy import check_strategy

SPEC_FILE = "raysearch.json"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SPACE = REPO_ROOT / "search_spaces" / "quickstart.yaml"
DEFAULT_RESULTS = Path("results")
DRIVER_MEMORY = 256 * 2**20  # bytes of logical memory a multi-worker trial's driver reserves


@dataclass
class SearchSpec:
    """Everything a search needs, as given on the command line (written to raysearch.json)."""

    name: str
    space_path: str = str(DEFAULT_SPACE)
    results: str = str(DEFAULT_RESULTS)
    data: str | None = None  # overrides data.path
    num_samples: int = 8
    max_epochs: int | None = None  # overrides train.epochs; ASHA's max_t
    metric: str | None = None  # default: the space's metric, else val_psnr
    seed: int = 0
    workers_per_trial: int = 1
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0
    max_concurrent: int = 0  # 0: as many as the cluster's CPUs allow
    grace_period: int = 1
    reduction_factor: int = 2
    keep_checkpoints: int = 2  # per trial, best by the metric
    overrides: dict[str, Any] = field(default_factory=dict)  # --set key=value
    sampler: str = "tpe"  # tpe | random (raysearch.search.strategy)
    scheduler: str = "asha"  # asha | none (every trial runs all its epochs)
    startup_trials: int = 10  # TPE: random proposals before it models the results (Optuna's 10)
    epoch_budget: int = 0  # end the search once its trials have trained this many epochs (0: off)

    @property
    def experiment(self) -> Path:
        return Path(self.results).resolve() / self.name


@dataclass
class Prepared:
    spec: SearchSpec
    space: SearchSpace
    base: Config
    metric: str
    mode: str
    data: FaceData


def _check_spec(spec: SearchSpec) -> None:
    if spec.num_samples < 1:
        raise UserError(f"--num-samples must be at least 1, got {spec.num_samples}")
    if spec.max_epochs is not None and spec.max_epochs < 1:
        raise UserError(f"--max-epochs must be at least 1, got {spec.max_epochs}")
    if spec.workers_per_trial < 1:
        raise UserError(f"--workers-per-trial must be at least 1, got {spec.workers_per_trial}")
    if spec.cpus_per_worker <= 0:
        raise UserError(f"--cpus-per-worker must be > 0, got {spec.cpus_per_worker}")
    if spec.gpus_per_worker < 0:
        raise UserError(f"--gpus-per-worker must be >= 0, got {spec.gpus_per_worker}")
    if spec.max_concurrent < 0:
        raise UserError(f"--max-concurrent must be >= 0, got {spec.max_concurrent}")
    check_strategy(spec.sampler, spec.scheduler, spec.startup_trials, spec.epoch_budget)
    if not spec.name or "/" in spec.name or spec.name.startswith("."):
        raise UserError(f"--name {spec.name!r} must be a plain folder name")


def _check_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".raysearch-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise UserError(f"results folder {folder} is not writable ({e.strerror}); "
                        "pick another with --results") from None


def resolve_base(spec: SearchSpec, space: SearchSpace) -> Config:
    """Defaults, then the space's fixed values, then command-line overrides."""
    overrides: dict[str, Any] = {**space.fixed, **spec.overrides}
    if spec.data is not None:
        overrides["data.path"] = spec.data
    if spec.max_epochs is not None:
        overrides["train.epochs"] = spec.max_epochs
    base = config_from_dict(merge_dotted(Config().to_dict(), overrides, "command line"),
                            where="command line")
    if base.train.num_threads == 0:
        base.train.num_threads = max(1, int(spec.cpus_per_worker))
    return base


def prepare_search(spec: SearchSpec, check: Callable[[Config], None] | None = None,
                   say: Callable[[str], None] = print) -> Prepared:
    """Validate the spec and space, check the results folder and decode the data: no Ray yet."""
    _check_spec(spec)
    space = load_space(Path(spec.space_path))
    base = resolve_base(spec, space)
    validate_space(space, base, check)
    metric = spec.metric or space.metric or "val_psnr"
    if metric not in METRICS:
        raise UserError(f"--metric must be one of {', '.join(METRICS)}, got {metric!r}")
    check_data_path(base.data.path)
    _check_writable(spec.experiment)
    if (spec.experiment / SPEC_FILE).exists():
        raise UserError(f"experiment {spec.name!r} already exists in {spec.experiment.parent}; "
                        f"use 'raysearch resume {spec.name}', or another --name")
    t0 = time.perf_counter()
    data = load_faces(base.data)
    say(f"data: {len(data.train)} training + {len(data.val)} validation faces at "
        f"{base.data.image_size}px from {base.data.path} ({time.perf_counter() - t0:.1f} s"
        f"{f'; {data.skipped} unreadable skipped' if data.skipped else ''})")
    return Prepared(spec, space, base, metric, METRICS[metric], data)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    """Attach to a cluster, or start a local Ray with its dashboard (Train needs the State API)."""
    import ray

    if ray.is_initialized():
        return
    os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")
    # checkpoint-heavy short trials trip this advisory warning constantly; it is not actionable
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    if address:
        ray.init(address=address, log_to_driver=False)
        return
    # Ray Train finds the State API by looking for "the" Ray instance on the machine; with
    # another one running (a second search, a test cluster) it gives up and the next trial
    # hangs. Pin the dashboard port and tell every worker where it is.
    port = _free_port()
    ray.init(num_cpus=num_cpus, include_dashboard=True, dashboard_host="127.0.0.1",
             dashboard_port=port, log_to_driver=False, logging_level=logging.WARNING,
             runtime_env={"env_vars": {"RAY_API_SERVER_ADDRESS": f"http://127.0.0.1:{port}"}})


def _trainable(p: Prepared, data_ref: list[Any]) -> Any:
    from ray import tune

    from raysearch.search import trainable as t

    s, base = p.spec, p.base.to_dict()
    if s.workers_per_trial == 1:
        resources: dict[str, float] = {"cpu": s.cpus_per_worker}
        if s.gpus_per_worker:
            resources["gpu"] = s.gpus_per_worker
        fn = tune.with_parameters(t.single_worker_trial, base=base, data_ref=data_ref)
        return tune.with_resources(fn, resources)
    fn = tune.with_parameters(
        t.multi_worker_trial, base=base, data_ref=data_ref, workers=s.workers_per_trial,
        cpus_per_worker=s.cpus_per_worker, gpus_per_worker=s.gpus_per_worker,
        storage=str(Path(s.results).resolve()), keep_checkpoints=s.keep_checkpoints,
        metric=p.metric, mode=p.mode)
    # The driver only waits for its workers, which hold the CPUs/GPUs. Ray refuses an empty
    # request, so the driver reserves a little logical memory instead of a CPU it would block.
    return tune.with_resources(fn, {"cpu": 0, "memory": DRIVER_MEMORY})


def _max_concurrent(s: SearchSpec) -> int:
    if s.max_concurrent:
        return s.max_concurrent
    import ray

    cpus = ray.cluster_resources().get("CPU", 1.0)
    return max(1, int(cpus // (s.cpus_per_worker * s.workers_per_trial)))


def trial_dirname(trial: Any) -> str:
    return f"trial_{trial.trial_id}"


def build_tuner(p: Prepared, say: Callable[[str], None], trainable: Any = None) -> Any:
    """The Tuner of a search; ``trainable`` replaces the training one (the simulator's replay)."""
    import ray
    from ray import tune
    from ray.tune.search import ConcurrencyLimiter
    from ray.tune.search.optuna import OptunaSearch

    from raysearch.search.budget import EpochBudget
    from raysearch.search.recorder import TrialRecorder
    from raysearch.search.strategy import make_sampler, make_scheduler

    s = p.spec
    epochs = p.base.train.epochs
    searcher = OptunaSearch(space=p.space.define_by_run(), metric=p.metric, mode=p.mode,
                            sampler=make_sampler(s.sampler, s.seed, s.startup_trials),
                            study_name=s.name)
    limited = ConcurrencyLimiter(searcher, max_concurrent=_max_concurrent(s))
    scheduler = make_scheduler(s.scheduler, p.metric, p.mode, epochs, s.grace_period,
                               s.reduction_factor)
    recorder = TrialRecorder(s.experiment, p.metric, p.mode, epochs, say)
    if trainable is None:
        trainable = _trainable(p, [ray.put(p.data)])
    return tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(search_alg=limited, scheduler=scheduler,
                                    num_samples=s.num_samples,
                                    # reusing the trial process saves its start-up (torch import,
                                    # actor launch); a Train driver's thread outlives Tune's
                                    # 2 s reuse window, so multi-worker trials start fresh
                                    reuse_actors=s.workers_per_trial == 1,
                                    trial_dirname_creator=trial_dirname),
        run_config=tune.RunConfig(
            name=s.name, storage_path=str(Path(s.results).resolve()), verbose=0,
            callbacks=[recorder], stop=EpochBudget(s.epoch_budget) if s.epoch_budget else None,
            checkpoint_config=tune.CheckpointConfig(num_to_keep=s.keep_checkpoints,
                                                    checkpoint_score_attribute=p.metric,
                                                    checkpoint_score_order=p.mode),
        ),
    )


def write_spec(p: Prepared) -> None:
    write_json_atomic(p.spec.experiment / SPEC_FILE, {
        "spec": asdict(p.spec), "metric": p.metric, "mode": p.mode,
        "space": p.space.to_dict(), "base_config": p.base.to_dict(), "created": time.time(),
    })


def describe_strategy(s: SearchSpec) -> str:
    sampler = "random search" if s.sampler == "random" else "TPE"
    stopping = "ASHA" if s.scheduler == "asha" else "no early stopping"
    budget = f", budget {s.epoch_budget} epochs" if s.epoch_budget else ""
    return f"{sampler} + {stopping}{budget}"


def run_search(p: Prepared, address: str | None = None,
               say: Callable[[str], None] = print) -> dict[str, Any] | None:
    """Fit the Tuner; returns the best trial's record (or None if no trial reported)."""
    from raysearch.search.experiment import best_trial

    start_ray(address)
    write_spec(p)
    t0 = time.perf_counter()
    say(f"search {p.spec.name!r}: {p.spec.num_samples} trials of up to {p.base.train.epochs} "
        f"epochs, {describe_strategy(p.spec)} on {p.metric} ({p.mode}); results in "
        f"{p.spec.experiment}")
    build_tuner(p, say).fit()
    say(f"search finished in {time.perf_counter() - t0:.0f} s")
    trials = read_trials(p.spec.experiment)
    return best_trial(trials, p.metric, p.mode)
