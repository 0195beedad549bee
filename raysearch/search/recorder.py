"""A Tune callback that keeps ``trials.json`` (one record per trial) and prints progress lines.

The record is what ``status``, ``best`` and the plots read, without Ray running: parameters, state,
epochs run, last and best metrics, where the checkpoint of the best epoch lies, and the node.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ray.tune import Callback

from raysearch.search.progress import Tally, fmt
from raysearch.search.records import TRIALS_FILE, TRIALS_JOURNAL, TrialRecord, TrialState, finite, read_trials
from raysearch.search.space import metric_modes
from raysearch.search.store import COMPACT_BYTES, STUDY_FILE, RecordStore, write_trials

# what a record keeps of each result: every validation metric, every training term the loop
# logged (train_g_*, train_d_*), and the timings
_KEPT_METRICS = (*metric_modes(), "images_per_s", "train_time_s", "epoch_time_s",
                 "time_total_s", "generator_params", "resumed_from_epoch", "optim_lr_g",
                 "optim_lr_d")


def _kept_metrics(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items()
            if k in _KEPT_METRICS or (k.startswith(("train_g_", "train_d_")) and finite(v))}


class TrialRecorder(Callback):
    """Keeps the per-trial records current after every Tune event."""

    def __init__(self, experiment: Path, metric: str, mode: str, max_epochs: int,
                 say: Callable[[str], None] | None = None, store: RecordStore | None = None,
                 keep_checkpoints: int | None = None, schedule: tuple[str, ...] = ()) -> None:
        self.path = Path(experiment) / TRIALS_FILE
        self.schedule = tuple(schedule)  # PBT's mutated keys: recorded at every epoch
        self.store = store or RecordStore(str(experiment))
        self.metric, self.mode, self.max_epochs = metric, mode, max_epochs
        self.keep_checkpoints = keep_checkpoints
        self.say = say or (lambda _m: None)
        self._load()

    def _load(self) -> None:
        self.records: dict[str, TrialRecord] = {r.trial_id: r for r in read_trials(self.path.parent)}
        # an event appends the records it changed (each callback passes them to _save) to
        # trials.journal; trials.json is rewritten only once the journal outgrows it
        # (store.COMPACT_BYTES)
        self._trials_seen = 0  # the length of Tune's trial list at the last look
        self._next_number = max((r.number for r in self.records.values()), default=-1) + 1
        self.tally = Tally(self.metric, self.mode, self.records.values())
        self._file_bytes = self.store.size(TRIALS_FILE)
        self._journal_bytes = self.store.size(TRIALS_JOURNAL)
        self._reconciled = False

    def setup(self, stop: Any = None, num_samples: int | None = None,
              total_num_samples: int | None = None, **info: Any) -> None:
        # a restored Tuner brings the copy of this callback pickled at submit time: re-read the file
        self._load()

    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        # number trials in the order Tune created them, which is the order Optuna asked for them
        # (Tune's list only grows, at its end: look at what it has grown by, not at every step)
        if len(trials) != self._trials_seen:
            grown = trials[self._trials_seen:] if len(trials) > self._trials_seen else trials
            self._trials_seen = len(trials)
            self._save(*(self._record(t) for t in grown if t.trial_id not in self.records))
        if self._reconciled:
            return
        self._reconciled = True
        known = {t.trial_id for t in trials}
        lost = [r for tid, r in self.records.items() if tid not in known and not r.ended]
        for rec in lost:  # started after Tune's last state snapshot, before a driver kill
            rec.state = TrialState.LOST
            rec.error = "lost: the driver died before Ray Tune saved this trial; another trial took its place"
            self.say(f"trial {rec.number:>3} was lost with the driver; a new trial replaces it")
        self._save(*lost)

    def _record(self, trial: Any) -> TrialRecord:
        tid = trial.trial_id
        if tid not in self.records:
            self.records[tid] = TrialRecord(tid, self._next_number, params=dict(trial.config),
                                            trial_dir=trial.path)
            self._next_number += 1
        return self.records[tid]

    def _save(self, *changed: TrialRecord) -> None:
        """Append the records this event changed to the journal (a new revision of each)."""
        for rec in changed:
            rec.revision += 1
            self.tally.update(rec)
        if changed:
            self._journal_bytes += self.store.append_text(
                TRIALS_JOURNAL, "".join(rec.to_line() + "\n" for rec in changed))
        if self._journal_bytes > max(self._file_bytes, COMPACT_BYTES):
            self._compact()

    def _compact(self) -> None:
        self._file_bytes = write_trials(self.store, list(self.records.values()))
        self._journal_bytes = 0

    def _better(self, new: float, old: float | None) -> bool:
        if old is None or not finite(old):
            return True
        return new > old if self.mode == "max" else new < old

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        rec = self._record(trial)
        rec.state = TrialState.RUNNING
        self._save(rec)

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict,
                        **info: Any) -> None:
        rec = self._record(trial)
        if result.get("diverged"):  # the trial's last word: it stops now, with this reason
            rec.diverged = True
            rec.error = f"{result.get('end_kind', 'diverged')}: {result.get('end_reason', 'non-finite loss')}"
            self._save(rec)
            return
        epoch = int(result.get("training_iteration", rec.epochs + 1))
        if epoch <= rec.epochs:  # resumed from an older checkpoint: this epoch is paid twice
            rec.rerun_epochs += 1
        kept = _kept_metrics(result)
        rec.state, rec.epochs, rec.last = TrialState.RUNNING, epoch, kept
        rec.node_ip, rec.pid = result.get("node_ip"), result.get("pid")
        _record_node(rec, result)
        # reported_at (this driver's clock) orders the epochs of concurrent trials: anytime curves
        entry = {"epoch": epoch, **kept, "reported_at": round(time.time(), 3)}
        rec.history = [h for h in rec.history if h["epoch"] < epoch] + [entry]
        if self.schedule:  # the config the trainable ran with (PBT may have changed the trial's)
            self._schedule(rec, epoch, dict(result.get("config") or trial.config), result)
        value = result.get(self.metric)
        if finite(value) and self._better(value, rec.best.get(self.metric)):
            rec.best, rec.best_epoch = kept, epoch
        if result.get("checkpoint_path"):  # multi-worker trials: Train's checkpoint, via metric
            self._checkpoint(rec, epoch, str(result["checkpoint_path"]))
        self._save(rec)
        self.say(f"trial {rec.number:>3} epoch {epoch:>3}  {self.metric} {fmt(value):>7}")

    def _schedule(self, rec: TrialRecord, epoch: int, config: dict[str, Any],
                  result: dict[str, Any]) -> None:
        """The member's mutated values at this epoch and, on its first epoch after taking another
        member's checkpoint, that exploit (the trainable reports whose checkpoint it started from)."""
        params = {k: config[k] for k in self.schedule if k in config}
        rec.schedule = [s for s in rec.schedule if s["epoch"] < epoch] + [{"epoch": epoch, **params}]
        # like the history: a run that reports this epoch again (after a driver restart) replaces
        # what an earlier run said about it and after it, exploits included
        seen = {(e["from_trial_id"], e["from_epoch"]) for e in rec.exploits}
        rec.exploits = [e for e in rec.exploits if e["epoch"] < epoch]
        donor = result.get("exploited_from")
        if not donor:
            return
        event = {"epoch": epoch, "from_trial_id": str(donor),
                 "from_trial": self.records[donor].number if donor in self.records else None,
                 "from_epoch": int(result.get("exploited_from_epoch", epoch - 1)), "params": params}
        rec.exploits.append(event)
        if (event["from_trial_id"], event["from_epoch"]) not in seen:  # said once
            self.say(f"trial {rec.number:>3} took trial {event['from_trial']}'s epoch "
                     f"{event['from_epoch']} checkpoint; now "
                     + ", ".join(f"{k}={fmt(v)}" for k, v in params.items()))

    def on_checkpoint(self, iteration: int, trials: list, trial: Any, checkpoint: Any,
                      **info: Any) -> None:
        rec = self._record(trial)
        self._checkpoint(rec, rec.epochs, checkpoint.path)
        self._save(rec)

    def _checkpoint(self, rec: TrialRecord, epoch: int, path: str) -> None:
        rec.checkpoints[str(epoch)] = path
        if rec.best_epoch == epoch or rec.best_checkpoint is None:
            rec.best_checkpoint, rec.best_checkpoint_epoch = path, epoch
        if self.keep_checkpoints:
            rec.checkpoints = _kept(rec, self.metric, self.mode, self.keep_checkpoints, epoch)

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        rec = self._record(trial)
        if rec.ended:  # ended before a driver restart: leave the record as it was
            return
        self.store.upload(STUDY_FILE)  # Optuna was told just before this callback
        if rec.diverged:
            rec.state = TrialState.ERROR
            self._save(rec)
            self.say(f"trial {rec.number:>3} ended: {rec.error}")
            return
        rec.state = TrialState.TERMINATED
        rec.stopped_early = rec.epochs < self.max_epochs
        self._save(rec)
        how = f"stopped early by ASHA after {rec.epochs} epochs" if rec.stopped_early \
            else f"finished {rec.epochs} epochs"
        best = rec.best.get(self.metric)
        self.say(f"trial {rec.number:>3} {how}; best {self.metric} {fmt(best)}")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        rec = self._record(trial)
        rec.state, rec.error = TrialState.ERROR, _error_line(trial)
        self._save(rec)
        self.store.upload(STUDY_FILE)
        self.say(f"trial {rec.number:>3} failed: {rec.error}")

    def on_trial_recover(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        """A failed trial that Tune retries (FailureConfig.max_failures) from its last checkpoint."""
        rec = self._record(trial)
        rec.retries += 1
        rec.last_failure = _error_line(trial)
        rec.failures.append({"epochs": rec.epochs, "node_id": rec.node_id,
                             "node_name": rec.node_name, "error": rec.last_failure})
        rec.state = TrialState.PENDING
        self._save(rec)
        self.say(f"trial {rec.number:>3} failed after {rec.epochs} epochs on "
                 f"{rec.node_name or '?'} ({rec.last_failure}); retry {rec.retries} "
                 "from its last checkpoint")

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        self._compact()  # a search that has ended: one trials.json, no journal
        self.store.upload(STUDY_FILE)


def _kept(rec: TrialRecord, metric: str, mode: str, keep: int, latest: int) -> dict[str, str]:
    """The checkpoints Tune keeps (``CheckpointConfig(num_to_keep)``): the best ``keep`` by the
    metric, plus the latest one."""
    score = {h["epoch"]: h.get(metric) for h in rec.history}

    def rank(epoch: str) -> float:
        v = score.get(int(epoch))
        if not finite(v):
            return -math.inf
        return float(v) if mode == "max" else -float(v)

    best = sorted(rec.checkpoints, key=rank, reverse=True)[:keep]
    return {e: p for e, p in rec.checkpoints.items() if e in best or int(e) == latest}


def _record_node(rec: TrialRecord, result: dict[str, Any]) -> None:
    """The node the trial reported from (and every node it ran on, in order)."""
    if not result.get("node_id"):
        return
    rec.node_id, rec.node_name = result["node_id"], result.get("node_name")
    if not rec.nodes or rec.nodes[-1]["node_id"] != rec.node_id:
        rec.nodes.append({"node_id": rec.node_id, "node_name": rec.node_name,
                          "from_epoch": int(result.get("training_iteration", 0))})
    if result.get("worker_node_ids"):  # multi-worker trials: every rank's node
        ids = str(result["worker_node_ids"]).split(",")
        names = str(result.get("worker_node_names", "")).split(",")
        rec.worker_nodes = [{"rank": r, "node_id": i, "node_name": n}
                            for r, (i, n) in enumerate(zip(ids, names, strict=False))]


def _error_line(trial: Any) -> str:
    """The trial's latest error: from storage, else the driver's own copy (not yet synced)."""
    err = trial.get_error() if hasattr(trial, "get_error") else None
    local = getattr(trial, "error_file", None)
    if not err and local and os.path.exists(local):
        err = Path(local).read_text()
    return _last_line(str(err)) if err else "unknown error"


def _last_line(text: str) -> str:
    """The exception line of a formatted traceback (what a user needs to see)."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    for ln in reversed(lines):
        if "Error" in ln or "Exception" in ln:
            return ln[:500]
    return lines[-1][:500] if lines else text[:500]
