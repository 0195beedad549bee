"""Reading a finished or running experiment folder: no Ray needed."""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from raysearch.errors import UserError
from raysearch.search.store import SPEC_FILE, RecordStore, is_uri, read_trials


@dataclass
class Experiment:
    path: Path
    spec: dict[str, Any]
    trials: list[dict[str, Any]]

    @property
    def metric(self) -> str:
        return str(self.spec["metric"])

    @property
    def mode(self) -> str:
        return str(self.spec["mode"])

    @property
    def objectives(self) -> list[tuple[str, str]]:
        """(metric, mode) of each objective; one for a single-objective search."""
        saved = self.spec.get("objectives") or [{"name": self.metric, "mode": self.mode}]
        return [(o["name"], o["mode"]) for o in saved]

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
    spec = json.loads((path / SPEC_FILE).read_text())
    return Experiment(path, spec, read_trials(path))


def _score(trial: dict[str, Any], metric: str, mode: str) -> float | None:
    v = trial.get("best", {}).get(metric)
    if not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return float(v) if mode == "max" else -float(v)


def best_trial(trials: list[dict[str, Any]], metric: str, mode: str) -> dict[str, Any] | None:
    scored = [(s, t) for t in trials if (s := _score(t, metric, mode)) is not None
              and t.get("best_checkpoint")]
    return max(scored, key=lambda st: st[0])[1] if scored else None


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def trial_nodes(trial: dict[str, Any]) -> str:
    """Where a trial ran: its node's name, every rank's for multi-worker trials, '>' on a move."""
    workers = trial.get("worker_nodes") or []
    if workers:
        return "+".join(str(w.get("node_name") or w["node_id"][:8]) for w in workers)
    hops = [str(n.get("node_name") or n["node_id"][:8]) for n in trial.get("nodes") or []]
    return ">".join(hops) or "-"


def status_table(exp: Experiment) -> str:
    """The trial table: number, state, epochs, best metrics, then the searched parameters."""
    params = sorted({k for t in exp.trials for k in t.get("params", {})})
    head = ["trial", "state", "epochs", "node", "val_psnr", "val_ssim", *params]
    rows = [head]
    for t in exp.trials:
        state = t["state"]
        if t.get("stopped_early") and state == "TERMINATED":
            state += " (ASHA stop)"
        elif t.get("stopped_by_budget"):
            state += " (budget stop)"
        if t.get("failures"):
            state += f" ({len(t['failures'])} retried)"
        best = t.get("best", {})
        rows.append([str(t["number"]), state, str(t["epochs"]), trial_nodes(t),
                     _fmt(best.get("val_psnr", "-")),
                     _fmt(best.get("val_ssim", "-")),
                     *[_fmt(t.get("params", {}).get(p, "-")) for p in params]])
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    done = sum(t["state"] in ("TERMINATED", "ERROR") for t in exp.trials)  # LOST ones were replaced
    total = exp.spec["spec"]["num_samples"]
    summary = f"{exp.spec['spec']['name']}: {done}/{total} trials ended, metric {exp.metric} ({exp.mode})"
    errors = [f"  trial {t['number']}: {t['error']}" for t in exp.trials if t.get("error")]
    return "\n".join([summary, *lines, *(["errors:", *errors] if errors else [])])


def pull_checkpoint(exp: Experiment, out: Path, trial_number: int | None = None) -> dict[str, Any]:
    """Copy a trial's best checkpoint (default: the best trial's) to ``out`` and check it loads."""
    from raysearch.train import load_generator

    if trial_number is None:
        trial = best_trial(exp.trials, exp.metric, exp.mode)
        if trial is None:
            raise UserError(f"experiment {exp.path.name!r} has no trial with a checkpoint yet")
    else:
        found = [t for t in exp.trials if t["number"] == trial_number]
        if not found or not found[0].get("best_checkpoint"):
            raise UserError(f"trial {trial_number} has no checkpoint "
                            f"(trials: 0-{len(exp.trials) - 1})")
        trial = found[0]
    src = Path(trial["best_checkpoint"])
    try:
        out.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, out, dirs_exist_ok=True)
        elif not exp.store().fetch_dir(str(src), out):  # the search wrote to a storage URI
            raise UserError(f"checkpoint {src} of trial {trial['number']} is missing on this machine")
    except OSError as e:
        raise UserError(f"cannot write to {out}: {e.strerror}") from None
    load_generator(out)  # proves the copy loads, with its own config
    return trial


def _dominates(a: list[float], b: list[float]) -> bool:
    return all(x >= y for x, y in zip(a, b, strict=True)) and any(x > y for x, y in zip(a, b, strict=True))


def pareto_set(exp: Experiment) -> list[dict[str, Any]]:
    """Trials no other trial beats on every objective, among those that ran all their epochs.

    Values are each trial's last epoch, as Optuna was told; trials stopped early by ASHA were
    measured at a lower fidelity and are left out, as Optuna leaves out its pruned trials.
    """
    objectives = exp.objectives
    scored = []
    for t in exp.trials:
        if t["state"] != "TERMINATED" or t.get("stopped_early") or t.get("stopped_by_budget"):
            continue
        values = [t.get("last", {}).get(m) for m, _ in objectives]
        if all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
            signed = [float(v) if mode == "max" else -float(v) for v, (_, mode) in
                      zip(values, objectives, strict=True)]
            scored.append((signed, t))
    front = [t for s, t in scored if not any(_dominates(o, s) for o, _ in scored)]
    return sorted(front, key=lambda t: t["number"])
