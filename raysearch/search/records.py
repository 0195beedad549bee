"""A trial's record, as ``trials.json`` keeps it: typed, like Optuna's ``FrozenTrial``.

The driver's recorder (``recorder.py``, a Tune callback) writes these; every reader (``status``,
``best``, the report, ``export``, ``simulate``, the benchmarks) gets them from ``read_trials``,
which needs no Ray. The file stays plain JSON, one object per trial, so a user can read it with
``jq`` or pandas.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeGuard

from raysearch.errors import UserError

TRIALS_FILE = "trials.json"
# every change of a record since trials.json was last written, one record per line (appended):
# an event costs one line, not a rewrite of every record (issue 20); ``read_trials`` merges it
TRIALS_JOURNAL = "trials.journal"


def finite(v: Any) -> TypeGuard[float]:
    """A real number that is not NaN or infinite (bools are not numbers here)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


@dataclass(frozen=True)
class Objective:
    """One thing a search optimises: a metric and its direction."""

    metric: str
    mode: str  # max | min

    def to_json(self) -> dict[str, str]:
        return {"metric": self.metric, "mode": self.mode}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Objective:
        return cls(str(data["metric"]), str(data["mode"]))


class TrialState(enum.StrEnum):
    """Where a trial is. The three ended states never change again."""

    PENDING = "PENDING"
    RUNNING = "RUNNING"
    TERMINATED = "TERMINATED"  # ran all its epochs, or an early stop (ASHA, the epoch budget)
    ERROR = "ERROR"  # failed past its retries, or diverged
    LOST = "LOST"  # started after Tune's last snapshot before a driver kill; another replaced it

    @property
    def ended(self) -> bool:
        return self in ENDED


ENDED = frozenset({TrialState.TERMINATED, TrialState.ERROR, TrialState.LOST})


@dataclass
class TrialRecord:
    """One trial: what was sampled, what happened, what it scored and where its checkpoints are."""

    trial_id: str
    number: int  # order of creation, which is the order Optuna proposed the trials in
    params: dict[str, Any] = field(default_factory=dict)
    state: TrialState = TrialState.PENDING
    epochs: int = 0  # epochs reported so far
    last: dict[str, float] = field(default_factory=dict)  # metrics of the latest epoch
    best: dict[str, float] = field(default_factory=dict)  # metrics of the best epoch so far
    best_epoch: int | None = None
    history: list[dict[str, float]] = field(default_factory=list)  # {"epoch", metrics, "reported_at"}
    checkpoints: dict[str, str] = field(default_factory=dict)  # epoch (as text) -> path
    best_checkpoint: str | None = None
    best_checkpoint_epoch: int | None = None
    stopped_early: bool = False  # by ASHA
    stopped_by_budget: bool = False  # by the search's epoch budget
    end_reason: str | None = None
    diverged: bool = False
    error: str | None = None
    retries: int = 0
    last_failure: str | None = None
    failures: list[dict[str, Any]] = field(default_factory=list)  # {"epochs", "node_id", ...}
    rerun_epochs: int = 0  # epochs trained twice after a resume from an older checkpoint
    trial_dir: str | None = None
    pid: int | None = None
    node_ip: str | None = None
    node_id: str | None = None
    node_name: str | None = None
    nodes: list[dict[str, Any]] = field(default_factory=list)  # {"node_id", "node_name", "from_epoch"}
    worker_nodes: list[dict[str, Any]] = field(default_factory=list)  # {"rank", "node_id", "node_name"}
    # Population Based Training (raysearch refine): the mutated parameters in effect at each epoch
    # ({"epoch", key: value, ...}), and each time the member took another's checkpoint
    # ({"epoch": first epoch trained after, "from_trial", "from_trial_id", "from_epoch", "params"})
    schedule: list[dict[str, Any]] = field(default_factory=list)
    exploits: list[dict[str, Any]] = field(default_factory=list)
    # how many times the recorder has written this record: of two copies (trials.json and a line
    # of trials.journal), the one with the higher revision is the newer
    revision: int = 0

    @property
    def ended(self) -> bool:
        return self.state.ended

    @property
    def finished_normally(self) -> bool:
        """Ran to the end, or was stopped early on purpose (not failed, not lost)."""
        return self.state == TrialState.TERMINATED

    @property
    def stopped_by_asha(self) -> bool:
        return self.stopped_early and self.state == TrialState.TERMINATED

    def value(self, metric: str) -> float | None:
        """The metric at the trial's best epoch (the latest one if that has none), if finite."""
        for where in (self.best, self.last):
            v = where.get(metric)
            if finite(v):
                return float(v)
        return None

    def params_at(self, epoch: int | None) -> dict[str, Any]:
        """The parameters the trial trained epoch ``epoch`` with: ``params``, with the values a
        PBT member had then (``schedule``) over them."""
        at = next((s for s in self.schedule if s["epoch"] == epoch), {})
        return {**self.params, **{k: v for k, v in at.items() if k != "epoch"}}

    def curve(self, metric: str) -> tuple[list[int], list[float]]:
        """(epochs, values) of one metric over the recorded epochs, where it was finite."""
        pts = [(int(h["epoch"]), float(h[metric])) for h in self.history if finite(h.get(metric))]
        return [p[0] for p in pts], [p[1] for p in pts]

    def to_json(self) -> dict[str, Any]:
        """The record as a JSON object. It shares the record's lists and dicts (no deep copy:
        the recorder serialises one per event): write it out, do not edit it."""
        return {f.name: getattr(self, f.name) for f in _RECORD_FIELDS} | {"state": str(self.state)}

    def to_line(self) -> str:
        """The record as one line of JSON: how ``trials.json`` and its journal hold it."""
        return json.dumps(self.to_json(), default=str)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrialRecord:
        known = {f.name for f in dataclasses.fields(cls)}
        kept = {k: v for k, v in data.items() if k in known}
        return cls(**kept | {"state": TrialState(data.get("state", "PENDING"))})


_RECORD_FIELDS = dataclasses.fields(TrialRecord)


def trials_text(lines: list[str]) -> str:
    """``trials.json`` from records already serialised by ``TrialRecord.to_line`` (in order):
    a JSON list, one record per line."""
    return "[\n" + ",\n".join(lines) + "\n]\n" if lines else "[]\n"


def journal_lines(path: Path) -> list[dict[str, Any]]:
    """The objects of a journal (JSON lines, appended). A last line cut short (the driver died
    mid-write, or is writing it now) is left out; a broken line before it is an error."""
    if not path.is_file():  # absent (or not a file at all: a test's link to /dev/full)
        return []
    lines = path.read_text().splitlines()
    out = []
    for i, line in enumerate(lines):
        try:
            obj = json.loads(line)
        except ValueError as e:
            if i == len(lines) - 1:
                break
            raise UserError(f"{path}: line {i + 1} is not JSON ({str(e)[:120]}); it is a journal "
                            "raysearch appends to: restore it or delete it (the records lose "
                            "what happened since the last trials.json)") from None
        if not isinstance(obj, dict):
            raise UserError(f"{path}: line {i + 1} is not a JSON object")
        out.append(obj)
    return out


def read_trials(experiment: Path) -> list[TrialRecord]:
    """The records of ``experiment/trials.json`` with the newer copies its journal holds (none
    before the first trial starts), in trial-number order."""
    path = Path(experiment) / TRIALS_FILE
    by_id: dict[str, TrialRecord] = {}
    try:
        if path.exists():
            raw = json.loads(path.read_text())
            if not isinstance(raw, list):
                raise TypeError(f"a JSON list of trials, not {type(raw).__name__}")
            by_id = {r.trial_id: r for r in map(TrialRecord.from_json, raw)}
        for line in journal_lines(Path(experiment) / TRIALS_JOURNAL):
            rec = TrialRecord.from_json(line)
            if rec.trial_id not in by_id or rec.revision > by_id[rec.trial_id].revision:
                by_id[rec.trial_id] = rec
    except (ValueError, TypeError, KeyError, UnicodeDecodeError) as e:
        raise UserError(f"{path}: not a list of trial records as raysearch writes them "
                        f"({str(e)[:200]})") from None
    return sorted(by_id.values(), key=lambda r: r.number)


def best_of(trials: list[TrialRecord], metric: str, mode: str, *,
            with_checkpoint: bool = True) -> TrialRecord | None:
    """The trial with the best recorded value of ``metric`` (with a checkpoint, by default)."""
    sign = 1.0 if mode == "max" else -1.0
    scored = [(sign * v, t) for t in trials if (v := t.value(metric)) is not None
              and (t.best_checkpoint or not with_checkpoint)]
    return max(scored, key=lambda st: st[0])[1] if scored else None


def trials_json(trials: list[TrialRecord]) -> list[dict[str, Any]]:
    """What ``trials.json`` holds: the records in trial-number order, as plain JSON objects."""
    return [t.to_json() for t in sorted(trials, key=lambda t: t.number)]
