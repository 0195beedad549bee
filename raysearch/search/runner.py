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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from raysearch.build import check_names
from raysearch.config import Config
from raysearch.data import FaceData, check_data_path, load_faces
from raysearch.data.parquet import is_parquet_location, shard_paths
from raysearch.errors import UserError
from raysearch.registry_index import names
from raysearch.search.auth import enable_for_driver
from raysearch.search.lock import ExperimentLock
from raysearch.search.objectives import Objective, format_objectives, parse_objectives
from raysearch.search.options import check_address, check_optuna_storage, check_storage, finite_number
from raysearch.search.records import TrialRecord, TrialState, best_of, read_trials
from raysearch.search.signing import load_key
from raysearch.search.space import SearchSpace, load_space, metric_modes, validate_space
from raysearch.search.spec import (
    DEFAULT_RESULTS,
    DEFAULT_SPACE,
    MAX_SEED,
    PACKAGE_DIR,
    TUNE_DIR,
    SearchSpec,
    results_option,
    spec_fields,
)
from raysearch.search.storage import check_shared_storage
from raysearch.search.store import SPEC_FILE, STUDY_FILE, earlier_experiment, is_uri, write_trials
from raysearch.search.strategy import (
    SCHEDULERS,
    check_sampler_space,
    check_strategy,
    describe_settings,
    scheduler_brackets,
)
from raysearch.search.trackers import check_trackers

if TYPE_CHECKING:
    from raysearch.search.warm import WarmStart

__all__ = ["DEFAULT_RESULTS", "DEFAULT_SPACE", "PACKAGE_DIR", "TUNE_DIR", "Prepared", "SearchSpec",
           "check_search", "prepare_search", "run_search", "spec_fields", "start_ray"]

LOOPBACK = "127.0.0.1"  # what a local Ray listens on
DRIVER_MEMORY = 256 * 2**20  # bytes of logical memory a multi-worker trial's driver reserves


@dataclass
class Prepared:
    spec: SearchSpec
    space: SearchSpace
    base: Config
    metric: str
    mode: str
    data: FaceData | None  # None: the trials read the data themselves (Parquet shards)
    objectives: list[Objective] = field(default_factory=list)  # [metric:mode] for one objective
    lock: ExperimentLock | None = None  # held from prepare_search until run_search ends
    warm: WarmStart | None = None  # --warm-start: earlier searches' trials, told before the first


def _check_spec(spec: SearchSpec) -> None:
    if spec.num_samples < 1:
        raise UserError(f"--num-samples must be at least 1, got {spec.num_samples}")
    if spec.max_epochs is not None and spec.max_epochs < 1:
        raise UserError(f"--max-epochs must be at least 1, got {spec.max_epochs}")
    if spec.workers_per_trial < 1:
        raise UserError(f"--workers-per-trial must be at least 1, got {spec.workers_per_trial}")
    finite_number("--cpus-per-worker", spec.cpus_per_worker, at_least=0, strictly=True)
    finite_number("--gpus-per-worker", spec.gpus_per_worker, at_least=0)
    finite_number("--time-budget", spec.time_budget_s, at_least=0)
    if spec.max_concurrent < 0:
        raise UserError(f"--max-concurrent must be >= 0, got {spec.max_concurrent}")
    check_strategy(spec.sampler, spec.scheduler, spec.startup_trials, spec.epoch_budget)
    if spec.reduction_factor < 2:
        raise UserError(f"--reduction-factor must be at least 2 (ASHA keeps 1/reduction-factor "
                        f"of the trials at each rung), got {spec.reduction_factor}")
    if not 0 <= spec.seed <= MAX_SEED:
        raise UserError(f"--seed must be from 0 to {MAX_SEED}, got {spec.seed}")
    if spec.max_failures < 0:
        raise UserError(f"--max-failures must be >= 0, got {spec.max_failures}")
    if spec.grace_period < 1:
        raise UserError(f"--grace-period must be at least 1, got {spec.grace_period}")
    if spec.keep_checkpoints < 1:
        raise UserError(f"--keep-checkpoints must be at least 1, got {spec.keep_checkpoints}")
    if is_uri(spec.results):
        raise UserError(f"--results {spec.results}: bucket URIs are not supported for experiment "
                        "folders yet; give a folder on shared storage mounted on every node (NFS)")
    if not spec.name or "/" in spec.name or spec.name.startswith("."):
        raise UserError(f"--name {spec.name!r} must be a plain folder name")
    if spec.storage:
        check_storage(spec.storage)
    if spec.optuna_storage:
        spec.optuna_storage = check_optuna_storage(spec.optuna_storage)
    check_trackers(spec.loggers, spec.mlflow_uri)


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
    """Defaults, then the space's fixed values, then command-line overrides (``--set``, --data,
    --max-epochs): ``SearchSpace.base_config``, shared by validation and every trial."""
    overrides: dict[str, Any] = dict(spec.overrides)
    if spec.data is not None:
        overrides["data.path"] = spec.data
    path = overrides.get("data.path", space.fixed.get("data.path"))
    if isinstance(path, str) and path != "embedded" and not is_uri(path):
        overrides["data.path"] = os.path.abspath(path)  # trials may read it from another cwd
    if spec.max_epochs is not None:
        overrides["train.epochs"] = spec.max_epochs
    base = space.base_config(overrides)
    if base.train.num_threads == 0:
        base.train.num_threads = max(1, int(spec.cpus_per_worker))
    return base


def _objectives(spec: SearchSpec, space: SearchSpace) -> list[Objective]:
    if spec.objectives:
        if spec.metric:
            raise UserError("give --metric or --objectives, not both (the first objective is "
                            "ASHA's metric)")
        objectives = parse_objectives(spec.objectives)
        spec.objectives = format_objectives(objectives)
        return objectives
    metric = spec.metric or space.metric or "val_psnr"
    modes = metric_modes()
    if metric not in modes:
        raise UserError(f"--metric must be one of {', '.join(modes)}, got {metric!r}")
    return [Objective(metric, modes[metric])]


def _with_weights_check(check: Callable[[Config], None] | None) -> Callable[[Config], None]:
    """The caller's check, then: a trial that could use VGG losses finds the weights (a search
    needing them refuses to start, naming the file and how to provide it; never a fallback)."""
    def both(cfg: Config) -> None:
        if check is not None:
            check(cfg)
        from raysearch.losses import require_vgg_weights  # torch: after the names are checked

        require_vgg_weights(cfg)

    return both


# searched keys whose range depends on the run: the largest value it allows
_BOUNDED_BY_RUN: dict[str, Callable[[Config], int]] = {
    "loss.recon_only_epochs": lambda base: base.train.epochs - 1,  # at least one adversarial epoch
}


def _clamp_to_run(space: SearchSpace, base: Config, say: Callable[[str], None]) -> None:
    """Narrow a range that the run cannot take in full (``--max-epochs 2`` and a preset that
    searches ``loss.recon_only_epochs`` up to 3), and say so; refuse one left empty."""
    for p in space.params:
        if p.name not in _BOUNDED_BY_RUN or p.type != "int" or p.high is None or p.low is None:
            continue
        top = _BOUNDED_BY_RUN[p.name](base)
        if p.high <= top:
            continue
        if p.low > top:
            raise UserError(f"{space.path}: parameters.{p.name} starts at {p.low}, but this run "
                            f"allows at most {top} (train.epochs {base.train.epochs})")
        say(f"{space.path}: parameters.{p.name} searched over {p.low}..{top}, not up to {p.high}: "
            f"train.epochs is {base.train.epochs}")
        p.high = top


def check_search(spec: SearchSpec, check: Callable[[Config], None] | None = None,
                 say: Callable[[str], None] = print, local: Callable[[Config], None] | None = None
                 ) -> tuple[SearchSpace, Config, list[Objective]]:
    """Validate the spec and its space (no files but the space read): space, base, objectives.
    ``local``: checks of what this machine holds (the mask folder), run on the base config once
    its names are known good and before the registries (torch) load, so they answer quickly."""
    _check_spec(spec)
    space = load_space(Path(spec.space_path))
    searched = sorted(set(spec.overrides) & {p.name for p in space.params})
    if searched:
        raise UserError(f"--set {searched[0]}: {space.path} searches this key, so every trial would "
                        "replace the value; drop the --set, or move the key from the space's "
                        "parameters to its fixed values")
    check_sampler_space(spec.sampler, space)
    base = resolve_base(spec, space)
    _check_grace(spec, base)
    _clamp_to_run(space, base, say)
    if local is not None:
        check_names(base, names())  # a misnamed component first, as validate_space says it
        local(base)
    validate_space(space, base, _with_weights_check(check))
    _check_fp16_has_gpus(spec, space, base)
    objectives = _objectives(spec, space)
    return space, base, objectives


def _check_grace(spec: SearchSpec, base: Config) -> None:
    """A first rung past the trials' last epoch would never stop one, which Tune accepts silently.
    At the last epoch is allowed: the scheduler then records every trial and stops none."""
    epochs = base.train.epochs
    if spec.grace_period > epochs and scheduler_brackets(spec.scheduler, epochs, spec.grace_period,
                                                         spec.reduction_factor):
        label = SCHEDULERS.get(spec.scheduler).label
        raise UserError(f"--grace-period {spec.grace_period} is past the {epochs} epoch"
                        f"{'s' * (epochs != 1)} each trial runs (--max-epochs or train.epochs), so "
                        f"{label} would never stop a trial early; give --grace-period from 1 to "
                        f"{epochs}, or --scheduler none to run every trial in full")


def _check_fp16_has_gpus(spec: SearchSpec, space: SearchSpace, base: Config) -> None:
    """fp16 needs CUDA; with --gpus-per-worker 0 Ray gives trials no GPU (CUDA_VISIBLE_DEVICES
    empty), so the driver can tell now, whatever GPUs it has itself. With GPUs asked for, the
    workers' machines decide (the driver may have none): each trial checks at its start."""
    if spec.gpus_per_worker:
        return
    searched = [p for p in space.params if p.name == "train.precision"]
    if base.train.precision == "fp16" or any("fp16" in p.choices for p in searched):
        raise UserError("train.precision=fp16 needs a CUDA GPU and --gpus-per-worker 0 gives the "
                        "trials none; use bf16 or fp32, or give --gpus-per-worker")


def _check_masks(base: Config) -> None:
    """Build the trials' hole samplers once here: a mask folder that is missing, empty or has no
    mask in the ratio bin fails now, not in every trial."""
    import dataclasses

    from raysearch.masks import build_mask_sampler

    build_mask_sampler(base.mask, base.data.image_size)
    if base.mask.ratio_weights:  # validation draws from the whole bin
        build_mask_sampler(dataclasses.replace(base.mask, ratio_weights=()), base.data.image_size)


def load_data(base: Config, say: Callable[[str], None]) -> FaceData | None:
    """The faces the trials train on, decoded here; None for Parquet shards, which each trial
    reads and decodes on its own node (the cluster format, on shared storage)."""
    if is_parquet_location(base.data.path):
        shards = len(shard_paths(base.data.path)[1])
        say(f"data: {shards} Parquet shard(s) at {base.data.path}, read by each trial on its node")
        return None
    t0 = time.perf_counter()
    data = load_faces(base.data)
    say(f"data: {len(data.train)} training + {len(data.val)} validation faces at "
        f"{base.data.image_size}px from {base.data.path} ({time.perf_counter() - t0:.1f} s"
        f"{f'; {data.skipped} unreadable skipped' if data.skipped else ''})")
    return data


def prepare_search(spec: SearchSpec, check: Callable[[Config], None] | None = None,
                   say: Callable[[str], None] = print) -> Prepared:
    """Validate the spec and space, check the results folder and decode the data: no Ray yet."""
    for name in spec.warm_start:  # a mistyped name before the registries load
        earlier_experiment(name, Path(spec.results).resolve())
    space, base, objectives = check_search(spec, check, say, local=_check_masks)
    warm = None
    if spec.warm_start:
        from raysearch.search.warm import load_warm_start, say_warm_start  # Optuna: when asked

        warm = load_warm_start(spec.warm_start, Path(spec.results).resolve(), space, base,
                               objectives)
        say_warm_start(warm, say)
    lock, data = claim_experiment(spec, base, say, masks_checked=True)
    first = objectives[0]
    return Prepared(spec, space, base, first.metric, first.mode, data, objectives, lock, warm)


def claim_experiment(spec: SearchSpec, base: Config, say: Callable[[str], None],
                     masks_checked: bool = False) -> tuple[ExperimentLock, FaceData | None]:
    """Check the data, masks (unless ``masks_checked``) and results folder, take the new
    experiment's lock and decode the data (the lock is let go again if anything fails)."""
    if not masks_checked:
        _check_masks(base)
    check_data_path(base.data.path)
    _check_writable(spec.experiment)
    # the lock before the existence check: of two drivers started at once, one gets the folder
    lock = ExperimentLock(spec.experiment, spec.name)
    lock.acquire()
    try:
        if (spec.experiment / SPEC_FILE).exists():
            raise UserError(f"experiment {spec.name!r} already exists in {spec.experiment.parent}; "
                            f"use 'raysearch resume {spec.name}', or another --name")
        return lock, load_data(base, say)
    except BaseException:
        lock.release()
        raise


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def code_runtime_env() -> dict[str, Any]:
    """Runtime env carrying this raysearch package: the cluster runs the code you launched."""
    return {"py_modules": [str(PACKAGE_DIR)], "excludes": ["__pycache__", "*.pyc"]}


@contextmanager
def loopback_only() -> Iterator[None]:
    """While a local Ray starts, have it take 127.0.0.1 as the node's IP, so that it listens on
    loopback only. Every Ray component binds by that IP: its gRPC servers (GCS, raylet, object
    manager, each worker), the dashboard agent, the runtime-env agent and the Prometheus
    endpoints (the metrics agent's and the fixed ports 44217 and 44227) listen on loopback when
    it is loopback, on every interface otherwise. Ray on Linux turns a loopback
    ``_node_ip_address`` into the machine's IP unless RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER is off (as
    it is on macOS and Windows); Ray reads that variable when imported, so its constant is set
    as well. Both are put back afterwards: a later ``ray.init(address=...)`` in this process
    must find its own IP."""
    from ray._private import ray_constants

    name = ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR
    saved_env, saved = os.environ.get(name), ray_constants.ENABLE_RAY_CLUSTER
    os.environ[name] = "0"  # Ray's processes started meanwhile inherit it
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved
        if saved_env is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved_env


def start_ray(address: str | None = None, num_cpus: int | None = None) -> str | None:
    """Attach to a cluster, or start a local Ray with its dashboard (Train needs the State API),
    listening on 127.0.0.1 only (``loopback_only``); Ray's token authentication stays on.
    Returns the dashboard's URL when Ray tells it."""
    import ray

    if ray.is_initialized():  # started by the caller (a test, a notebook)
        from ray._private.worker import get_dashboard_url

        return _dashboard_url(type("Ctx", (), {"dashboard_url": get_dashboard_url()})())
    os.environ.setdefault("RAY_TRAIN_V2_ENABLED", "1")
    # checkpoint-heavy short trials trip this advisory warning constantly; it is not actionable
    os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
    if address:
        check_address(address)  # one line in seconds, not a driver that waits for ever
        enable_for_driver(address)
        # a driver outside the cluster ships this raysearch to it; inside a job it came with the job
        ctx = ray.init(address=address, log_to_driver=False,
                       runtime_env=None if address == "auto" else code_runtime_env())
        return _dashboard_url(ctx)
    # Ray Train finds the State API by looking for "the" Ray instance on the machine; with
    # another one running (a second search, a test cluster) it gives up and the next trial
    # hangs. Pin the dashboard port and tell every worker where it is.
    port = _free_port()
    with loopback_only():
        ctx = ray.init(num_cpus=num_cpus, include_dashboard=True, dashboard_host=LOOPBACK,
                       dashboard_port=port, log_to_driver=False, logging_level=logging.WARNING,
                       _node_ip_address=LOOPBACK,
                       runtime_env={"env_vars": {"RAY_API_SERVER_ADDRESS":
                                                 f"http://{LOOPBACK}:{port}"}})
    return _dashboard_url(ctx)


def _dashboard_url(ctx: Any) -> str | None:
    url = getattr(ctx, "dashboard_url", None)
    if not url:
        return None
    return str(url) if "://" in str(url) else f"http://{url}"


def _trainable(p: Prepared, data_ref: list[Any]) -> Any:
    from ray import tune

    from raysearch.search import trainable as t

    s, base = p.spec, p.base.to_dict()
    if s.workers_per_trial == 1:
        resources: dict[str, float] = {"cpu": s.cpus_per_worker}
        if s.gpus_per_worker:
            resources["gpu"] = s.gpus_per_worker
        fn = tune.with_parameters(t.single_worker_trial, base=base, data_ref=data_ref,
                                  metrics=_metric_names(p))
        return tune.with_resources(fn, resources)
    fn = tune.with_parameters(
        t.multi_worker_trial, base=base, data_ref=data_ref, workers=s.workers_per_trial,
        cpus_per_worker=s.cpus_per_worker, gpus_per_worker=s.gpus_per_worker,
        storage=s.experiment_uri, keep_checkpoints=s.keep_checkpoints,
        metric=p.metric, mode=p.mode, metrics=_metric_names(p), max_failures=s.max_failures,
        to_tune=s.checkpoints_to_tune)
    # The driver only waits for its workers, which hold the CPUs/GPUs. Ray refuses an empty
    # request, so the driver reserves a little logical memory instead of a CPU it would block.
    return tune.with_resources(fn, {"cpu": 0, "memory": DRIVER_MEMORY})


def build_trainable(p: Prepared) -> Any:
    """The trainable of a search (a resume must rebuild exactly this): the data goes to the object
    store once and every trial reads it from there."""
    import ray

    return _trainable(p, [ray.put(p.data)] if p.data is not None else [])


def _metric_names(p: Prepared) -> list[str]:
    return [o.metric for o in p.objectives] or [p.metric]


def _max_concurrent(s: SearchSpec) -> int:
    if s.max_concurrent:
        return s.max_concurrent
    import ray

    # the node table (each alive node's registered resources) as well as ray.cluster_resources(),
    # the larger: a driver that connects right after a node joined may not see it in one of the two
    # yet, and would then run the search with fewer trials at a time than the cluster holds
    cpus = sum(n.get("Resources", {}).get("CPU", 0.0) for n in ray.nodes() if n.get("Alive"))
    cpus = max(cpus, ray.cluster_resources().get("CPU", 0.0), 1.0)
    return max(1, int(cpus // (s.cpus_per_worker * s.workers_per_trial)))


def trial_dirname(trial: Any) -> str:
    return f"trial_{trial.trial_id}"


def snapshot_often() -> None:
    """Tune snapshots its experiment state every 10 s or more by default: a driver killed in
    between forgets the trials it started since. Every second keeps that window small, unless a
    snapshot would then take more than 1/20 of the driver's time (raysearch.search.snapshots);
    TUNE_GLOBAL_CHECKPOINT_S set by the user wins."""
    from raysearch.search.snapshots import use_snapshot_floor

    use_snapshot_floor()


TUNE_LOGGERS_ENV = "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS"


class _NoMetricFiles(logging.Filter):
    """Drops the warning of the result grid Tune builds as ``fit()`` returns: it reads each trial's
    ``result.json`` or ``progress.csv``, logs "Failed to fetch metrics for N trial(s)" with a line
    per trial where neither is there, and nothing of raysearch reads that grid."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Failed to fetch metrics for ")


_NO_METRIC_FILES = _NoMetricFiles()


def records_replace_tune_logs() -> None:
    """Leave out the files Tune's automatic loggers write for each trial (``progress.csv``,
    ``result.json``, ``params.json``, ``params.pkl``, an event file): ``trials.json`` holds every
    reported epoch of every trial already. They cost the driver about 4 ms of CPU per trial, and
    each snapshot uploads every trial's copy again, which makes a snapshot O(trials) of
    background work (issue 20). ``--logger`` adds Tune's logger callbacks back; a
    TUNE_DISABLE_AUTO_CALLBACK_LOGGERS set by the user wins. Tune's result grid would warn at
    the end of every search that the files are missing (and of a trial an epoch budget queued but
    never started): that one warning is dropped, the logger's others are kept."""
    os.environ.setdefault(TUNE_LOGGERS_ENV, "1")
    logging.getLogger("ray.tune.analysis.experiment_analysis").addFilter(_NO_METRIC_FILES)


def build_tuner(p: Prepared, say: Callable[[str], None], trainable: Any = None) -> Any:
    """The Tuner of a search; ``trainable`` replaces the training one (the simulator's replay)."""
    from ray import tune
    from ray.tune.search import ConcurrencyLimiter

    from raysearch.search.budget import EpochBudget
    from raysearch.search.progress import Progress
    from raysearch.search.recorder import TrialRecorder
    from raysearch.search.signer import SigningSearch
    from raysearch.search.signing import sign_stored
    from raysearch.search.strategy import make_sampler, make_scheduler, scheduler_brackets
    from raysearch.search.study import StudySearch, study_storage
    from raysearch.search.trackers import tracker_callbacks

    s = p.spec
    epochs = p.base.train.epochs
    store = s.store()
    multi = len(p.objectives) > 1
    records_replace_tune_logs()
    searcher = StudySearch(space=p.space.define_by_run(),
                           metric=_metric_names(p) if multi else p.metric,
                           mode=[o.mode for o in p.objectives] if multi else p.mode,
                           sampler=make_sampler(s.sampler, s.seed, s.startup_trials),
                           study_name=s.name, max_t=epochs,
                           # the experiment's own journal: this driver is its only writer
                           storage=study_storage(s.study_url, single_writer=s.optuna_storage is None),
                           warm=p.warm)
    # Tune would wrap the searcher in a SearchGenerator; this one also signs Tune's snapshots
    limited = SigningSearch(ConcurrencyLimiter(searcher, max_concurrent=_max_concurrent(s)), store)
    scheduler = make_scheduler(s.scheduler, store, p.metric, p.mode, epochs, s.grace_period,
                               s.reduction_factor, seed=s.seed)
    recorder = TrialRecorder(s.experiment, p.metric, p.mode, epochs, say, store=store,
                             keep_checkpoints=s.keep_checkpoints)
    stops = scheduler_brackets(s.scheduler, epochs, s.grace_period, s.reduction_factor) > 0
    progress = Progress(recorder, s.num_samples, p.metric, p.mode, say,  # after the recorder
                        stopper="ASHA" if stops else None)  # Hyperband: ASHA's brackets
    tuner = tune.Tuner(
        build_trainable(p) if trainable is None else trainable,
        tune_config=tune.TuneConfig(search_alg=limited, scheduler=scheduler,
                                    num_samples=s.num_samples,
                                    time_budget_s=s.time_budget_s or None,
                                    # reusing the trial process saves its start-up (torch import,
                                    # actor launch); a Train driver's thread outlives Tune's
                                    # 2 s reuse window, so multi-worker trials start fresh
                                    reuse_actors=s.workers_per_trial == 1,
                                    trial_dirname_creator=trial_dirname),
        run_config=tune.RunConfig(
            name=TUNE_DIR, storage_path=s.experiment_uri, verbose=0,
            # the recorder first: progress reads its records; then --logger: Tune's own loggers
            callbacks=[recorder, progress, *tracker_callbacks(s, say)],
            stop=EpochBudget(s.epoch_budget) if s.epoch_budget else None,
            failure_config=tune.FailureConfig(max_failures=s.max_failures),
            checkpoint_config=tune.CheckpointConfig(num_to_keep=s.keep_checkpoints,
                                                    checkpoint_score_attribute=p.metric,
                                                    checkpoint_score_order=p.mode),
        ),
    )
    sign_stored(s.experiment_uri, store, f"{TUNE_DIR}/tuner.pkl")  # Tuner() just wrote it
    return tuner


def write_spec(p: Prepared, extra: dict[str, Any] | None = None) -> None:
    """``raysearch.json``; ``extra`` adds keys of its own (``refine``: how a refinement was set up)."""
    p.spec.store().write_json(SPEC_FILE, {**(extra or {}),
        "spec": asdict(p.spec), "metric": p.metric, "mode": p.mode,
        "objectives": [o.to_json() for o in p.objectives], "study_url": p.spec.study_url,
        "experiment_uri": p.spec.experiment_uri, "tune_experiment": p.spec.tune_experiment,
        "space": p.space.to_dict(), "base_config": p.base.to_dict(), "created": time.time(),
    })


def describe_strategy(s: SearchSpec, epochs: int) -> str:
    """The strategy as the search's first line names it: sampler, scheduler, their settings and
    the budgets (``epochs``: per trial, ASHA's max_t)."""
    budget = f", budget {s.epoch_budget} epochs" if s.epoch_budget else ""
    budget += f", at most {s.time_budget_s:.0f} s" if s.time_budget_s else ""
    settings = describe_settings(s.sampler, s.scheduler, s.startup_trials, epochs, s.grace_period,
                                 s.reduction_factor)
    return f"{settings}{budget}"


def run_search(p: Prepared, address: str | None = None,
               say: Callable[[str], None] = print) -> TrialRecord | None:
    """Fit the Tuner; returns the best trial's record (or None if no trial reported)."""
    if p.lock is None:
        p.lock = ExperimentLock(p.spec.experiment, p.spec.name)
        p.lock.acquire()
    try:
        load_key()  # a key others can read is refused here, before anything starts
        dashboard = start_ray(address)
        if dashboard:
            say(f"Ray dashboard: {dashboard}")
        check_gpus(p.spec)  # a trial asking for GPUs the cluster has none of would wait for ever
        # the trials write checkpoints to Tune's storage: every node must see it
        check_shared_storage(p.spec.storage or p.spec.results)
        write_spec(p)
        snapshot_often()
        t0 = time.perf_counter()
        epochs = p.base.train.epochs
        say(f"search {p.spec.name!r}: {p.spec.num_samples} trials of up to {epochs} epochs, "
            f"{describe_strategy(p.spec, epochs)} on {p.metric} ({p.mode}); results in "
            f"{p.spec.experiment}")
        build_tuner(p, say).fit()
    finally:
        p.lock.release()
    elapsed = time.perf_counter() - t0
    budget, cut = end_if_budget_spent(p.spec, elapsed)
    if budget:
        trials = "1 running trial stopped at its" if cut == 1 else f"{cut} running trials stopped at their"
        stopped = f"; {trials} last epoch, checkpoints kept" if cut else ""
        say(f"search ended after {elapsed:.0f} s: {budget}{stopped}")
    else:
        say(f"search {'finished' if finished_trials(p.spec, say) else 'stopped'} after "
            f"{elapsed:.0f} s")
    return best_of(read_trials(p.spec.experiment), p.metric, p.mode)


def check_gpus(spec: SearchSpec) -> None:
    """Refuse ``--gpus-per-worker`` that no node of the cluster can give (Ray must be running):
    Tune would keep the trials pending without a word."""
    if spec.gpus_per_worker <= 0:
        return
    import ray

    have = ray.cluster_resources()
    gpus = float(have.get("GPU", 0.0))
    if gpus < spec.gpus_per_worker:
        raise UserError(f"--gpus-per-worker {spec.gpus_per_worker:g}: the Ray cluster has "
                        f"{gpus:g} GPUs (and {float(have.get('CPU', 0.0)):g} CPUs); "
                        "leave it at 0 to train on CPUs")


def budget_reached(spec: SearchSpec, elapsed_s: float) -> str | None:
    """Why the search ended before its --num-samples trials, when a budget ended it."""
    if spec.time_budget_s and elapsed_s >= spec.time_budget_s:
        return f"time budget of {spec.time_budget_s:.0f} s reached"
    if spec.epoch_budget:
        spent = sum(len(t.history) for t in read_trials(spec.experiment))
        if spent >= spec.epoch_budget:
            return f"epoch budget of {spec.epoch_budget} reached ({spent} epochs trained)"
    return None


def end_if_budget_spent(spec: SearchSpec, elapsed_s: float) -> tuple[str | None, int]:
    """After ``fit``: if a budget ended the search, close the trials it cut short and record why
    (raysearch.json's ``ended``, which ``status`` says and ``resume`` respects: Tune's restored
    stoppers would end it again at once). The reason (None: no budget ended it) and how many
    trials it cut short."""
    budget = budget_reached(spec, elapsed_s)
    if not budget:
        return None, 0
    cut = close_open_trials(spec, budget)
    store = spec.store()
    saved = store.read_json(SPEC_FILE)
    if isinstance(saved, dict):
        store.write_json(SPEC_FILE, {**saved, "ended": {"reason": budget, "at": time.time()}})
    return budget, cut


def close_open_trials(spec: SearchSpec, reason: str) -> int:
    """Trials that a budget stopped mid-way: Tune tells no callback, so their records would stay
    RUNNING. They ended (their checkpoints count) and are marked so; returns how many."""
    trials = read_trials(spec.experiment)
    open_ = [t for t in trials if not t.ended]
    for t in open_:
        t.state, t.stopped_by_budget, t.end_reason = TrialState.TERMINATED, True, reason
    if open_:
        write_trials(spec.store(), trials)
    _prune_running_study_trials(spec)
    return len(open_)


def _prune_running_study_trials(spec: SearchSpec) -> None:
    """Optuna trials of budget-stopped trials: PRUNED (a partial curve), as ASHA's stops are."""
    import optuna

    from raysearch.search.study import open_study

    try:
        study = open_study(spec.study_url, spec.name)
    except KeyError:  # no study stored (nothing was asked yet)
        return
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        study.tell(trial.number, state=optuna.trial.TrialState.PRUNED)
    spec.store().upload(STUDY_FILE)


def finished_trials(spec: SearchSpec, say: Callable[[str], None] = print) -> bool:
    """Whether every trial of the search has ended; if not (Ctrl-C), says how to go on."""
    trials = [t for t in read_trials(spec.experiment) if t.state != TrialState.LOST]
    ended = sum(t.ended for t in trials)
    if ended >= spec.num_samples:
        return True
    say(f"{ended} of {spec.num_samples} trials ended; continue with: raysearch resume {spec.name}"
        f"{results_option(spec.results)}")
    return False
