"""What runs inside one Tune trial.

A single-worker trial runs the training loop in the trial's own process: no worker group to
start (that alone took about 25 s here). A trial with ``workers_per_trial > 1`` is a Tune driver
that builds a Ray Train ``TorchTrainer``; the workers train data-parallel and rank 0's metrics and
checkpoints reach Tune through ``TuneReportCallback`` (the checkpoint as ``checkpoint_path``). In a
refinement (``to_tune``) they reach Tune as Tune checkpoints instead (``ForwardToTune``), because
Population Based Training clones a member's Tune checkpoint into another member; each start of
such a member is its own Train run, from the Tune checkpoint Tune gave it.

A trial whose loss becomes NaN or infinite ends with one last result, ``diverged: True`` and the
reason, instead of an exception: Tune retries exceptions (a dead worker deserves a retry from its
checkpoint), but a deterministic divergence would only diverge again.
"""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ray
from ray import tune
from ray.train import UserCallback

from raysearch.config import config_from_dict
from raysearch.data import FaceData
from raysearch.errors import DivergedError, UserError
from raysearch.search.space import trial_config
from raysearch.train import train
from raysearch.train.checkpoint import METRICS

TRAIN_RUNS = "train_runs"  # Ray Train's own run folders, inside the experiment folder
NODE_LABEL = "raysearch-node"  # a node label naming the node (cluster/local_cluster.py sets it)
MEMBER = "member.json"  # in each checkpoint: the trial that saved it (PBT's lineage)


def node_metrics() -> dict[str, str]:
    """Where this process runs: Ray node id, and a readable name (the label, else the host)."""
    ctx = ray.get_runtime_context()
    name = ctx.get_node_labels().get(NODE_LABEL) or socket.gethostname()
    return {"node_id": ctx.get_node_id(), "node_name": str(name)}


def _data(data_ref: list[ray.ObjectRef]) -> FaceData | None:
    """Data shipped by the driver, or None: the loop reads the configured shards on this node."""
    return ray.get(data_ref[0]) if data_ref else None


def _restored(checkpoint: Any) -> Path | None:
    """A local copy of the checkpoint to resume from (it may live on remote storage)."""
    if checkpoint is None:
        return None
    local = Path(tempfile.mkdtemp(prefix="raysearch-resume-"))
    checkpoint.to_directory(str(local))
    return local


def mark_member(folder: Path, trial_id: str, epoch: int) -> None:
    """Write which trial saved this checkpoint, and after which epoch, into it (``MEMBER``)."""
    (folder / MEMBER).write_text(json.dumps({"trial_id": trial_id, "epoch": epoch}))


def exploited(folder: Path | None, trial_id: str) -> dict[str, Any]:
    """``exploited_from`` (the donor's trial id) and ``exploited_from_epoch`` when this run starts
    from a checkpoint another trial saved: Population Based Training's exploit. Empty otherwise
    (a fresh start, a resume or a retry from the trial's own checkpoint)."""
    if folder is None or not (folder / MEMBER).exists():
        return {}
    saved = json.loads((folder / MEMBER).read_text())
    if saved.get("trial_id") in (None, trial_id):
        return {}
    return {"exploited_from": str(saved["trial_id"]), "exploited_from_epoch": int(saved["epoch"])}


def checkpoint_epoch(folder: Path | None) -> int:
    """The epoch a run resumes after (0: from scratch), reported as ``resumed_from_epoch``."""
    if folder is None or not (folder / METRICS).exists():
        return 0
    return int(json.loads((folder / METRICS).read_text()).get("epoch", 0))


def diverged_result(error: Exception, metrics: list[str]) -> dict[str, Any]:
    """The last result of a trial that a retry cannot save: its metrics NaN (Tune requires them),
    and why. ``diverged`` is that signal for ASHA, Optuna and the records; ``end_kind`` says
    whether the loss diverged or the trial's config cannot be trained (a deterministic error:
    retrying it ``--max-failures`` times would fail the same way each time)."""
    kind = "invalid config" if isinstance(error, UserError) else "diverged"
    return {**{m: float("nan") for m in metrics}, "diverged": True, "end_kind": kind,
            "end_reason": str(error)}


def _reporter(member: str | None, resume: Path | None, extra: dict[str, Any],
              send: Callable[[dict[str, Any], Path | None], None]
              ) -> Callable[[dict[str, float], Path | None], None]:
    """The loop's ``report``: each epoch's metrics with ``extra`` (where and from which epoch this
    run trains) go to ``send`` with the checkpoint, which names the member that saved it; the
    first report also says whose checkpoint the run started from (PBT's exploit)."""
    lineage = exploited(resume, member) if member else {}

    def report(metrics: dict[str, float], ckpt: Path | None) -> None:
        if ckpt and member:
            mark_member(ckpt, member, int(metrics["epoch"]))
        send({**metrics, **extra, **lineage}, ckpt)
        lineage.clear()  # said once

    return report


def single_worker_trial(config: dict[str, Any], *, base: dict[str, Any],
                        data_ref: list[ray.ObjectRef], metrics: list[str] | None = None) -> None:
    """Tune function trainable: the training loop in this process, reporting every epoch."""
    cfg = trial_config(base, config)
    ctx = tune.get_context()
    run_dir, member = Path(ctx.get_trial_dir()), ctx.get_trial_id()
    resume = _restored(tune.get_checkpoint())
    start = checkpoint_epoch(resume)
    report = _reporter(member, resume, {**node_metrics(), "resumed_from_epoch": start},
                       lambda m, ckpt: tune.report(m, checkpoint=tune.Checkpoint.from_directory(
                           str(ckpt)) if ckpt else None))

    try:
        train(cfg, run_dir, data=_data(data_ref), report=report, resume_from=resume)
    except (DivergedError, UserError) as e:
        tune.report(diverged_result(e, metrics or []))
    finally:
        if resume is not None:
            shutil.rmtree(resume, ignore_errors=True)


def _train_worker(loop_config: dict[str, Any]) -> None:
    """One Ray Train worker: the same loop, with torch.distributed set up by TorchTrainer."""
    import ray.train

    cfg = config_from_dict(loop_config["config"], where="trial config")
    # this Train run's own latest checkpoint (its worker group restarted), else the Tune
    # checkpoint the member started from (a refinement's resume or exploit)
    resume = _restored(ray.train.get_checkpoint() or loop_config.get("start"))
    start = checkpoint_epoch(resume)
    run_dir = Path(tempfile.mkdtemp(prefix="raysearch-worker-"))
    where = {**node_metrics(), **_worker_nodes(), "resumed_from_epoch": start}
    # a refinement's member (``member``) marks its checkpoints and says whose it started from
    report = _reporter(loop_config.get("member"), resume, where,
                       lambda m, ckpt: ray.train.report(m, checkpoint=ray.train.Checkpoint
                                                        .from_directory(str(ckpt)) if ckpt else None))

    try:
        train(cfg, run_dir, data=_data(loop_config["data_ref"]), report=report, resume_from=resume)
    except (DivergedError, UserError) as e:
        # every rank must get here (an injected NaN hits all ranks in the same step); the loop's
        # finiteness check is per rank, so a NaN on one rank alone is not caught this way
        ray.train.report(diverged_result(e, loop_config.get("metrics", [])))
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
        if resume is not None:
            shutil.rmtree(resume, ignore_errors=True)


def _worker_nodes() -> dict[str, str]:
    """Every rank's node, gathered once: rank 0's report then says where the whole trial ran."""
    import torch.distributed as dist

    mine = node_metrics()
    ranks: list[dict[str, str]] = [mine]
    if dist.is_available() and dist.is_initialized():
        ranks = [{} for _ in range(dist.get_world_size())]
        dist.all_gather_object(ranks, mine)
    return {"worker_node_ids": ",".join(r["node_id"] for r in ranks),
            "worker_node_names": ",".join(r["node_name"] for r in ranks)}


def multi_worker_trial(config: dict[str, Any], *, base: dict[str, Any],
                       data_ref: list[ray.ObjectRef], workers: int, cpus_per_worker: float,
                       gpus_per_worker: float, storage: str, keep_checkpoints: int,
                       metric: str, mode: str, metrics: list[str] | None = None,
                       max_failures: int = 0, to_tune: bool = False) -> None:
    """Tune driver for a data-parallel trial: builds and fits a TorchTrainer."""
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer
    from ray.tune.integration.ray_train import TuneReportCallback
    from ray.util.queue import Queue

    cfg = trial_config(base, config)
    ctx = tune.get_context()
    resources = {"CPU": cpus_per_worker}
    if gpus_per_worker:
        resources["GPU"] = gpus_per_worker
    # a stable name: a retried trial finds its Train run and resumes its checkpoint
    name = f"{ctx.get_experiment_name()}-{ctx.get_trial_id()}"
    runs = f"{storage.rstrip('/')}/{ctx.get_experiment_name()}/{TRAIN_RUNS}"
    loop_config = {"config": cfg.to_dict(), "data_ref": data_ref, "metrics": metrics or [metric]}
    kept = CheckpointConfig(num_to_keep=keep_checkpoints, checkpoint_score_attribute=metric,
                            checkpoint_score_order=mode)
    queue = None
    if to_tune:
        # Tune holds this member's checkpoints: every start (the first, a retry, a restart after
        # PBT paused it, an exploit) goes on from the one Tune gives it, in a Train run of its own
        # (a run of the same name would resume its own later checkpoint); earlier starts' runs
        # hold only copies of Tune's checkpoints, and go
        begin = tune.get_checkpoint()
        loop_config.update(start=begin, member=ctx.get_trial_id())
        _remove_runs(runs, f"{name}-")
        name += f"-{uuid.uuid4().hex[:8]}"
        # the latest three, not the best: the one-item queue holds at most one checkpoint that
        # Tune has not copied yet while Train registers the next (a test of the best could drop it)
        kept = CheckpointConfig(num_to_keep=3)
        queue = Queue(1, actor_options={"num_cpus": 0})
    trainer = TorchTrainer(
        _train_worker,
        train_loop_config=loop_config,
        scaling_config=ScalingConfig(num_workers=workers, use_gpu=gpus_per_worker > 0,
                                     resources_per_worker=resources),
        run_config=RunConfig(
            name=name,
            storage_path=runs,
            checkpoint_config=kept,
            # Train V2's callbacks; RunConfig's annotation still names Tune's Callback class
            callbacks=[TuneReportCallback() if queue is None else ForwardToTune(queue)],  # type: ignore[list-item]
            # a dead worker (or its node) restarts the worker group from the latest checkpoint
            failure_config=FailureConfig(max_failures=max_failures),
        ),
    )
    if queue is None:
        trainer.fit()
    else:
        _fit_reporting(trainer, queue)


def _remove_runs(storage_path: str, prefix: str) -> None:
    """Delete the Train run folders in ``storage_path`` (a folder or a pyarrow URI) whose names
    start with ``prefix``: a refinement member's earlier starts, ended before this one."""
    import pyarrow.fs as pafs

    fs, root = pafs.FileSystem.from_uri(storage_path)  # the experiment's: absolute, or a URI
    try:
        found = fs.get_file_info(pafs.FileSelector(root, allow_not_found=True))
    except OSError:
        return
    for info in found:
        if info.type == pafs.FileType.Directory and info.base_name.startswith(prefix):
            fs.delete_dir(info.path)


class ForwardToTune(UserCallback):
    """A Ray Train callback (run by Train's controller) that hands rank 0's metrics and the
    persisted checkpoint to the Tune trial through a one-item queue; the trial reports them to
    Tune with the checkpoint as a Tune checkpoint. Train V2's ``TuneReportCallback`` passes only
    the checkpoint's path as a metric, so PBT would find no checkpoint to clone."""

    def __init__(self, queue: Any) -> None:
        super().__init__()
        self.queue = queue

    def after_report(self, run_context: Any, metrics: list[dict[str, Any]],
                     checkpoint: Any) -> None:
        where = (checkpoint.path, checkpoint.filesystem) if checkpoint else None
        self.queue.put((dict(metrics[0]), where))  # blocks until the trial has taken the last


def _fit_reporting(trainer: Any, queue: Any) -> None:
    """Fit in a thread; report to Tune, from this (the trial's) thread, what Train hands over."""
    from ray.util.queue import Empty

    failed: list[BaseException] = []

    def fit() -> None:
        try:
            trainer.fit()
        except BaseException as e:  # raised again in the trial's thread
            failed.append(e)

    worker = threading.Thread(target=fit, name="raysearch-train-fit", daemon=True)
    worker.start()
    while True:
        try:
            item = queue.get(timeout=1.0)
        except Empty:
            if worker.is_alive():
                continue
            if queue.empty():
                break
            item = queue.get_nowait()
        metrics, where = item
        ckpt = tune.Checkpoint(path=where[0], filesystem=where[1]) if where else None
        tune.report(metrics, checkpoint=ckpt)
    if failed:
        raise failed[0]
