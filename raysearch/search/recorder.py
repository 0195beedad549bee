"""A Tune callback that keeps ``trials.json`` (one record per trial) and prints progress lines.

The record is what ``status``, ``best`` and the plots read, without Ray running: parameters, state,
epochs run, last and best metrics, where the checkpoint of the best epoch lies, and the node.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ray.tune import Callback

TRIALS_FILE = "trials.json"
_KEPT_METRICS = ("val_psnr", "val_ssim", "val_l1", "val_l1_hole", "val_ms_ssim", "train_loss_g",
                 "train_loss_d", "images_per_s", "train_time_s", "epoch_time_s", "time_total_s")


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    os.replace(tmp, path)


def read_trials(experiment: Path) -> list[dict[str, Any]]:
    path = experiment / TRIALS_FILE
    if not path.exists():
        return []
    trials: list[dict[str, Any]] = json.loads(path.read_text())
    return trials


def _finite(v: Any) -> bool:
    return isinstance(v, (int, float)) and math.isfinite(v)


class TrialRecorder(Callback):
    """Keeps the per-trial records current after every Tune event."""

    def __init__(self, experiment: Path, metric: str, mode: str, max_epochs: int,
                 say: Callable[[str], None] | None = None) -> None:
        self.path = Path(experiment) / TRIALS_FILE
        self.metric, self.mode, self.max_epochs = metric, mode, max_epochs
        self.say = say or (lambda _m: None)
        self.records: dict[str, dict[str, Any]] = {
            r["trial_id"]: r for r in read_trials(Path(experiment))
        }
        self._number: dict[str, int] = {tid: r["number"] for tid, r in self.records.items()}

    def _record(self, trial: Any) -> dict[str, Any]:
        tid = trial.trial_id
        if tid not in self.records:
            self._number[tid] = len(self._number)
            self.records[tid] = {
                "trial_id": tid, "number": self._number[tid], "params": dict(trial.config),
                "state": "PENDING", "epochs": 0, "best": {}, "last": {}, "best_epoch": None,
                "checkpoints": {}, "best_checkpoint": None, "node_ip": None, "error": None,
                "stopped_early": False, "trial_dir": trial.local_path, "history": [],
            }
        return self.records[tid]

    def _save(self) -> None:
        ordered = sorted(self.records.values(), key=lambda r: r["number"])
        write_json_atomic(self.path, ordered)

    def _better(self, new: float, old: float | None) -> bool:
        if old is None or not _finite(old):
            return True
        return new > old if self.mode == "max" else new < old

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        rec = self._record(trial)
        rec["state"] = "RUNNING"
        self._save()

    def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict,
                        **info: Any) -> None:
        rec = self._record(trial)
        epoch = int(result.get("training_iteration", rec["epochs"] + 1))
        kept = {k: result[k] for k in _KEPT_METRICS if k in result}
        rec.update(state="RUNNING", epochs=epoch, last=kept, node_ip=result.get("node_ip"))
        # reported_at (this driver's clock) orders the epochs of concurrent trials: anytime curves
        entry = {"epoch": epoch, **kept, "reported_at": round(time.time(), 3)}
        rec["history"] = [h for h in rec["history"] if h["epoch"] < epoch] + [entry]
        value = result.get(self.metric)
        if _finite(value) and self._better(value, rec["best"].get(self.metric)):
            rec["best"], rec["best_epoch"] = kept, epoch
        if result.get("checkpoint_path"):  # multi-worker trials: Train's checkpoint, via metric
            self._checkpoint(rec, epoch, str(result["checkpoint_path"]))
        self._save()
        self.say(f"trial {rec['number']:>3} epoch {epoch:>3}  {self.metric} "
                 f"{value if not _finite(value) else round(value, 4)}")

    def on_checkpoint(self, iteration: int, trials: list, trial: Any, checkpoint: Any,
                      **info: Any) -> None:
        rec = self._record(trial)
        self._checkpoint(rec, rec["epochs"], checkpoint.path)
        self._save()

    def _checkpoint(self, rec: dict[str, Any], epoch: int, path: str) -> None:
        rec["checkpoints"][str(epoch)] = path
        if rec["best_epoch"] == epoch or rec["best_checkpoint"] is None:
            rec["best_checkpoint"] = path
            rec["best_checkpoint_epoch"] = epoch

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        rec = self._record(trial)
        rec["state"] = "TERMINATED"
        rec["stopped_early"] = rec["epochs"] < self.max_epochs
        self._save()
        how = f"stopped early by ASHA after {rec['epochs']} epochs" if rec["stopped_early"] \
            else f"finished {rec['epochs']} epochs"
        best = rec["best"].get(self.metric)
        self.say(f"trial {rec['number']:>3} {how}; best {self.metric} "
                 f"{round(best, 4) if _finite(best) else best}")

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        rec = self._record(trial)
        rec["state"] = "ERROR"
        err = trial.get_error() if hasattr(trial, "get_error") else None
        rec["error"] = _last_line(str(err)) if err else "unknown error"
        self._save()
        self.say(f"trial {rec['number']:>3} failed: {rec['error']}")

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        self._save()


def _last_line(text: str) -> str:
    """The exception line of a formatted traceback (what a user needs to see)."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    for ln in reversed(lines):
        if "Error" in ln or "Exception" in ln:
            return ln[:500]
    return lines[-1][:500] if lines else text[:500]
