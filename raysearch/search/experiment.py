"""Reading a finished or running experiment folder: no Ray needed.

``raysearch.json`` says what was asked (the spec, the space, the base config, the objectives);
``trials.json`` says what happened so far, as typed ``TrialRecord``s.
"""

from __future__ import annotations

import functools
import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raysearch.errors import UserError
from raysearch.search.records import Objective, TrialRecord, TrialState, best_of, finite, read_trials
from raysearch.search.store import SPEC_FILE, RecordStore, is_uri


def rung_epochs(max_t: int, grace_period: int, reduction_factor: float) -> list[int]:
    """ASHA's milestones, as Ray computes them: grace_period * reduction_factor^k up to max_t."""
    grace = max(1, min(grace_period, max_t))
    if reduction_factor <= 1:
        return [max_t]
    count = int(math.log(max_t / grace) / math.log(reduction_factor) + 1)
    return [int(grace * reduction_factor**k) for k in range(count)]


def budget_end(saved: dict[str, Any], trials: list[TrialRecord]) -> str | None:
    """Why a budget ended the search, as its driver recorded in raysearch.json's ``ended``; for
    a search from before that was recorded, an epoch budget its trials have spent."""
    ended = saved.get("ended")
    if isinstance(ended, dict) and ended.get("reason"):
        return str(ended["reason"])
    budget = int((saved.get("spec") or {}).get("epoch_budget") or 0)
    spent = sum(len(t.history) for t in trials)
    if budget and spent >= budget:
        return f"epoch budget of {budget} reached ({spent} epochs trained)"
    return None


@dataclass
class Experiment:
    path: Path
    spec: dict[str, Any]  # raysearch.json as the driver wrote it
    trials: list[TrialRecord]

    @property
    def metric(self) -> str:
        return str(self.spec["metric"])

    @property
    def mode(self) -> str:
        return str(self.spec["mode"])

    @property
    def search(self) -> dict[str, Any]:
        """The ``SearchSpec`` the search ran with (name, num_samples, ASHA settings...)."""
        return dict(self.spec.get("spec") or {})

    @property
    def name(self) -> str:
        return str(self.search.get("name") or self.path.name)

    @property
    def num_samples(self) -> int:
        return int(self.search.get("num_samples") or len(self.trials))

    @property
    def objectives(self) -> list[Objective]:
        """Every objective, the one ASHA compares trials on first."""
        saved = [Objective.from_json(o) for o in self.spec.get("objectives") or []]
        return saved or [Objective(self.metric, self.mode)]

    @property
    def max_epochs(self) -> int:
        epochs = (self.spec.get("base_config") or {}).get("train", {}).get("epochs")
        return int(epochs or self.search.get("max_epochs") or 1)

    @property
    def asha_rungs(self) -> list[int]:
        return rung_epochs(self.max_epochs, int(self.search.get("grace_period") or 1),
                           float(self.search.get("reduction_factor") or 2))

    @property
    def searched(self) -> dict[str, dict[str, Any]]:
        """The space's parameter definitions: name -> {type, low, high, log, choices, when}."""
        params = (self.spec.get("space") or {}).get("parameters") or {}
        return {str(k): v for k, v in params.items() if isinstance(v, dict) and "type" in v}

    @property
    def refine(self) -> dict[str, Any] | None:
        """How a ``raysearch refine`` experiment was set up (None for a search)."""
        r = self.spec.get("refine")
        return dict(r) if isinstance(r, dict) else None

    @functools.cached_property
    def ended_by(self) -> str | None:
        """Why a budget ended the search before its --num-samples trials (None: it did not)."""
        return budget_end(self.spec, self.trials)

    def finished(self, metric: str | None = None) -> list[TrialRecord]:
        """Trials that ended normally (all epochs, or stopped early) with a finite ``metric``."""
        metric = metric or self.metric
        return [t for t in self.trials if t.finished_normally and t.value(metric) is not None]

    def best(self) -> TrialRecord | None:
        """The trial whose best epoch scores best on the first objective, with a checkpoint."""
        return best_of(self.trials, self.metric, self.mode)

    def store(self) -> RecordStore:
        """The records here and, when the search wrote to a storage URI, there too."""
        remote = self.spec.get("experiment_uri")
        return RecordStore(str(self.path), remote if remote and is_uri(remote) else None)


def open_experiment(name: str, results: str | Path = "results") -> Experiment:
    path = Path(name)
    if not (path / SPEC_FILE).exists():
        path = Path(results) / name
    if not (path / SPEC_FILE).exists():
        known = sorted(p.name for p in Path(results).glob(f"*/{SPEC_FILE}".replace(SPEC_FILE, ""))
                       if (p / SPEC_FILE).exists()) if Path(results).is_dir() else []
        hint = f"; experiments in {results}: {', '.join(known)}" if known else ""
        raise UserError(f"no experiment {name!r} in {results}{hint}")
    try:
        spec = json.loads((path / SPEC_FILE).read_text())
    except (ValueError, UnicodeDecodeError) as e:
        raise UserError(f"{path / SPEC_FILE}: not valid JSON ({e})") from None
    if not isinstance(spec, dict) or not {"spec", "metric", "mode"} <= spec.keys():
        raise UserError(f"{path / SPEC_FILE}: not an experiment record as raysearch writes it "
                        "(it needs 'spec', 'metric' and 'mode')")
    return Experiment(path, spec, read_trials(path))


def format_value(v: Any) -> str:
    """A table cell: floats at 4 significant digits, None as "-", the rest as given."""
    if isinstance(v, bool) or not isinstance(v, float):
        return "-" if v is None else str(v)
    return f"{v:.4g}"


# the columns of the status table, with fixed decimals: two trials that differ show it
_SCORES = (("val_psnr", "{:.3f}"), ("val_ssim", "{:.4f}"))


def trial_nodes(trial: TrialRecord) -> str:
    """Where a trial ran: its node's name, every rank's for multi-worker trials, '>' on a move."""
    if trial.worker_nodes:
        return "+".join(str(w.get("node_name") or w["node_id"][:8]) for w in trial.worker_nodes)
    hops = [str(n.get("node_name") or n["node_id"][:8]) for n in trial.nodes]
    return ">".join(hops) or "-"


def _state(t: TrialRecord) -> str:
    state = str(t.state)
    if t.stopped_by_asha:
        state += " (ASHA stop)"
    elif t.stopped_by_budget:
        state += " (budget stop)"
    if t.failures:
        state += f" ({len(t.failures)} retried)"
    return state


def status_table(exp: Experiment) -> str:
    """The trial table: number, state, epochs, best metrics, then the searched parameters.

    A ``*`` marks the best trial (the one ``best`` would pull).
    """
    params = sorted({k for t in exp.trials for k in t.params})
    best = exp.best()
    head = ["trial", "state", "epochs", "node", *(m for m, _ in _SCORES), *params]
    rows = [head]
    for t in exp.trials:
        scores = [form.format(v) if (v := t.value(m)) is not None else "-" for m, form in _SCORES]
        mark = "*" if best is not None and t.number == best.number else " "
        rows.append([f"{t.number}{mark}", _state(t), str(t.epochs), trial_nodes(t), *scores,
                     *[format_value(t.params_at(t.best_epoch).get(p)) for p in params]])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    right = {0, 2, 4, 5}  # numbers line up on their last digit
    lines = ["  ".join(c.rjust(w) if i in right else c.ljust(w)
                       for i, (c, w) in enumerate(zip(r, widths, strict=True))).rstrip()
             for r in rows]
    done = sum(t.state in (TrialState.TERMINATED, TrialState.ERROR) for t in exp.trials)  # LOST: replaced
    summary = f"{exp.name}: {done}/{exp.num_samples} trials ended, metric {exp.metric} ({exp.mode})"
    if best is not None:
        summary += f"; best (*) trial {best.number}"
    if exp.ended_by:
        summary += f"\nended early: {exp.ended_by}"
    if exp.refine:
        r = exp.refine
        summary += (f"\n{str(r.get('scheduler', 'pbt')).upper()} refinement of {r.get('source')} "
                    f"trial {r.get('winner')}; parameters at each trial's best epoch")
    summary += _orphaned(exp)
    errors = [f"  trial {t.number}: {t.error}" for t in exp.trials if t.error]
    exploits = [f"  {line}" for line in lineage(exp.trials)]
    return "\n".join([summary, *lines, *(["exploits:", *exploits] if exploits else []),
                      *(["errors:", *errors] if errors else [])])


def _orphaned(exp: Experiment) -> str:
    """A line when trials were running but no driver runs the search any more (its driver was
    killed: its lock is stale, or gone after Ctrl-C), saying how to go on; else nothing."""
    from raysearch.search.lock import LOCK_FILE, is_stale, read_holder

    running = [t.number for t in exp.trials if t.state in (TrialState.RUNNING, TrialState.PENDING)]
    lock = exp.path / LOCK_FILE
    if not running or exp.ended_by or (lock.exists() and not is_stale(read_holder(exp.path), lock)):
        return ""  # (a budget that ended the search ended its trials too)
    from raysearch.search.spec import results_option

    trials = ", ".join(map(str, running))
    return (f"\nno driver runs this search now; trial{'s' * (len(running) > 1)} {trials} "
            f"{'were' if len(running) > 1 else 'was'} running when it stopped: go on with "
            f"'raysearch resume {exp.name}{results_option(exp.path.parent)}'")


def lineage(trials: list[TrialRecord]) -> list[str]:
    """One line per PBT exploit, in epoch order: who took whose checkpoint, and the values after."""
    by_id = {t.trial_id: t for t in trials}
    events = sorted(((e, t) for t in trials for e in t.exploits), key=lambda et: et[0]["epoch"])
    lines = []
    for e, t in events:
        donor = by_id.get(e["from_trial_id"])
        values = ", ".join(f"{k}={format_value(v)}" for k, v in e.get("params", {}).items())
        lines.append(f"epoch {e['epoch']}: trial {t.number} took trial "
                     f"{donor.number if donor else e['from_trial_id']}'s epoch {e['from_epoch']} "
                     f"checkpoint; {values}")
    return lines


def pull_checkpoint(exp: Experiment, out: Path, trial_number: int | None = None,
                    force: bool = False) -> TrialRecord:
    """Copy a trial's best checkpoint (default: the best trial's) to ``out`` and check it loads.
    A folder that already holds files is refused unless ``force``: nothing is overwritten
    without a word."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise UserError(f"--out {out} is not an empty folder; give a new one, or --force to "
                        "write the checkpoint over what is there")
    from raysearch.train import load_generator  # torch: only once there is something to load

    if trial_number is None:
        trial = exp.best()
        if trial is None:
            raise UserError(f"experiment {exp.path.name!r} has no trial with a checkpoint yet")
    else:
        found = [t for t in exp.trials if t.number == trial_number]
        if not found or not found[0].best_checkpoint:
            raise UserError(f"trial {trial_number} has no checkpoint "
                            f"(trials: 0-{len(exp.trials) - 1})")
        trial = found[0]
    assert trial.best_checkpoint is not None
    src = Path(trial.best_checkpoint)
    try:
        out.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, out, dirs_exist_ok=True)
        elif not exp.store().fetch_dir(str(src), out):  # the search wrote to a storage URI
            raise UserError(f"checkpoint {src} of trial {trial.number} is missing on this machine")
    except OSError as e:
        raise UserError(f"cannot write to {out}: {e.strerror}") from None
    load_generator(out)  # proves the copy loads, with its own config
    return trial


def _dominates(a: list[float], b: list[float]) -> bool:
    return all(x >= y for x, y in zip(a, b, strict=True)) and any(x > y for x, y in zip(a, b, strict=True))


def pareto_set(exp: Experiment) -> list[TrialRecord]:
    """Trials no other trial beats on every objective, among those that ran all their epochs.

    Values are each trial's last epoch, as Optuna was told; trials stopped early by ASHA were
    measured at a lower fidelity and are left out, as Optuna leaves out its pruned trials.
    """
    scored = []
    for t in exp.trials:
        if not t.finished_normally or t.stopped_early or t.stopped_by_budget:
            continue
        values = [t.last.get(o.metric) for o in exp.objectives]
        if all(finite(v) for v in values):
            signed = [float(v) if o.mode == "max" else -float(v)  # type: ignore[arg-type]
                      for v, o in zip(values, exp.objectives, strict=True)]
            scored.append((signed, t))
    front = [t for s, t in scored if not any(_dominates(o, s) for o, _ in scored)]
    return sorted(front, key=lambda t: t.number)
