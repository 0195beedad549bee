"""What runs inside one Tune trial.

A single-worker trial runs the training loop in the trial's own process: no worker group to
start (that alone took about 25 s here). A trial with ``workers_per_trial > 1`` is a Tune driver
that builds a Ray Train ``TorchTrainer``; the workers train data-parallel and rank 0's metrics and
checkpoints reach Tune through ``TuneReportCallback`` (the checkpoint as ``checkpoint_path``).

A trial whose loss becomes NaN or infinite ends with one last result, ``diverged: True`` and the
reason, instead of an exception: Tune retries exceptions (a dead worker deserves a retry from its
checkpoint), but a deterministic divergence would only diverge again.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import ray
from ray import tune

from raysearch.config import Config, config_from_dict, merge_dotted
from raysearch.data import FaceData
from raysearch.errors import DivergedError
from raysearch.train import train
from raysearch.train.checkpoint import METRICS

TRAIN_RUNS = "train_runs"  # Ray Train's own run folders, inside the experiment folder


def trial_config(base: dict[str, Any], sampled: dict[str, Any]) -> Config:
    return config_from_dict(merge_dotted(base, sampled, "trial"), where="trial config")


def _restored(checkpoint: Any) -> Path | None:
    """A local copy of the checkpoint to resume from (it may live on remote storage)."""
    if checkpoint is None:
        return None
    local = Path(tempfile.mkdtemp(prefix="raysearch-resume-"))
    checkpoint.to_directory(str(local))
    return local


def checkpoint_epoch(folder: Path | None) -> int:
    """The epoch a run resumes after (0: from scratch), reported as ``resumed_from_epoch``."""
    if folder is None or not (folder / METRICS).exists():
        return 0
    return int(json.loads((folder / METRICS).read_text()).get("epoch", 0))


def diverged_result(error: DivergedError, metrics: list[str]) -> dict[str, Any]:
    """The last result of a diverged trial: its metrics NaN (Tune requires them), and why."""
    return {**{m: float("nan") for m in metrics}, "diverged": True, "end_reason": str(error)}


def single_worker_trial(config: dict[str, Any], *, base: dict[str, Any],
                        data_ref: list[ray.ObjectRef], metrics: list[str] | None = None) -> None:
    """Tune function trainable: the training loop in this process, reporting every epoch."""
    cfg = trial_config(base, config)
    data: FaceData = ray.get(data_ref[0])
    run_dir = Path(tune.get_context().get_trial_dir())
    resume = _restored(tune.get_checkpoint())
    start = checkpoint_epoch(resume)

    def report(metrics: dict[str, float], ckpt: Path | None) -> None:
        tune.report({**metrics, "resumed_from_epoch": start},
                    checkpoint=tune.Checkpoint.from_directory(str(ckpt)) if ckpt else None)

    try:
        train(cfg, run_dir, data=data, report=report, resume_from=resume)
    except DivergedError as e:
        tune.report(diverged_result(e, metrics or []))
    finally:
        if resume is not None:
            shutil.rmtree(resume, ignore_errors=True)


def _train_worker(loop_config: dict[str, Any]) -> None:
    """One Ray Train worker: the same loop, with torch.distributed set up by TorchTrainer."""
    import ray.train

    cfg = config_from_dict(loop_config["config"], where="trial config")
    data: FaceData = ray.get(loop_config["data_ref"][0])
    resume = _restored(ray.train.get_checkpoint())
    start = checkpoint_epoch(resume)
    run_dir = Path(tempfile.mkdtemp(prefix="raysearch-worker-"))

    def report(metrics: dict[str, float], ckpt: Path | None) -> None:
        ray.train.report({**metrics, "resumed_from_epoch": start},
                         checkpoint=ray.train.Checkpoint.from_directory(str(ckpt)) if ckpt else None)

    try:
        train(cfg, run_dir, data=data, report=report, resume_from=resume)
    except DivergedError as e:
        # every rank must get here (an injected NaN hits all ranks in the same step); the loop's
        # finiteness check is per rank, so a NaN on one rank alone is not caught this way
        ray.train.report(diverged_result(e, loop_config.get("metrics", [])))
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
        if resume is not None:
            shutil.rmtree(resume, ignore_errors=True)


def multi_worker_trial(config: dict[str, Any], *, base: dict[str, Any],
                       data_ref: list[ray.ObjectRef], workers: int, cpus_per_worker: float,
                       gpus_per_worker: float, storage: str, keep_checkpoints: int,
                       metric: str, mode: str, metrics: list[str] | None = None,
                       max_failures: int = 0) -> None:
    """Tune driver for a data-parallel trial: builds and fits a TorchTrainer."""
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer
    from ray.tune.integration.ray_train import TuneReportCallback

    cfg = trial_config(base, config)
    ctx = tune.get_context()
    resources = {"CPU": cpus_per_worker}
    if gpus_per_worker:
        resources["GPU"] = gpus_per_worker
    trainer = TorchTrainer(
        _train_worker,
        train_loop_config={"config": cfg.to_dict(), "data_ref": data_ref,
                           "metrics": metrics or [metric]},
        scaling_config=ScalingConfig(num_workers=workers, use_gpu=gpus_per_worker > 0,
                                     resources_per_worker=resources),
        run_config=RunConfig(
            # a stable name: a retried trial finds its Train run and resumes its checkpoint
            name=f"{ctx.get_experiment_name()}-{ctx.get_trial_id()}",
            storage_path=f"{storage.rstrip('/')}/{ctx.get_experiment_name()}/{TRAIN_RUNS}",
            checkpoint_config=CheckpointConfig(num_to_keep=keep_checkpoints,
                                               checkpoint_score_attribute=metric,
                                               checkpoint_score_order=mode),
            callbacks=[TuneReportCallback()],
            # a dead worker restarts the worker group from the latest checkpoint, in this trial
            failure_config=FailureConfig(max_failures=max_failures),
        ),
    )
    trainer.fit()
