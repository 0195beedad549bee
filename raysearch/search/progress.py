"""Live progress of a search, as Tune's trial table and Optuna's logs give it, in lines that also
read well in a log file or a Ray Job's output.

- a line when a trial starts, with its parameters;
- after each trial ends: done / running / stopped-by-ASHA counts against the total (no stopped
  count where nothing stops trials early: ``--scheduler none``, PBT), the running
  best and its trial, the time spent and an estimate of the time left;
- at the end: how many trials ASHA stopped, the best, and the runner-up when it is within noise.

Numbers have fixed widths and floats 4 significant digits. The trial records come from the
``TrialRecorder`` (it runs first), so what is printed is what is recorded; the status line reads
its running ``Tally``, so printing it costs the same at the thousandth trial as at the first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ray.tune import Callback

from raysearch.search.records import TrialRecord, TrialState, finite

# two trials closer than this share of the best value are not told apart by one seed's run
# (BENCHMARKS.md: seed-to-seed spread of a configuration's validation PSNR is about 0.1-0.3 dB)
NOISE = 0.01


def fmt(v: Any) -> str:
    """4 significant digits for floats, as Optuna's logs print them; the rest as given."""
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _duration(seconds: float) -> str:
    whole = max(0, round(seconds))
    h, rest = divmod(whole, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else f"{m}m{s:02d}s"


class Tally:
    """What the progress line says of the records (how many ended, run, were stopped or failed,
    and the best), kept up to date one changed record at a time: no pass over every record."""

    def __init__(self, metric: str, mode: str, records: Any = ()) -> None:
        self.metric, self.sign = metric, 1.0 if mode == "max" else -1.0
        self._kind: dict[str, tuple[int, int, int, int, int]] = {}
        self.done = self.running = self.stopped = self.failed = self.budget_stopped = 0
        self.best: TrialRecord | None = None
        for rec in records:
            self.update(rec)

    def update(self, rec: TrialRecord) -> None:
        """Count ``rec`` as it is now (it may have been counted before, as it was then)."""
        live = rec.state != TrialState.LOST
        kind = (int(live and rec.ended), int(live and rec.state == TrialState.RUNNING),
                int(live and rec.stopped_by_asha), int(live and rec.state == TrialState.ERROR),
                int(live and rec.stopped_by_budget))
        old = self._kind.get(rec.trial_id, (0, 0, 0, 0, 0))
        self._kind[rec.trial_id] = kind
        self.done += kind[0] - old[0]
        self.running += kind[1] - old[1]
        self.stopped += kind[2] - old[2]
        self.failed += kind[3] - old[3]
        self.budget_stopped += kind[4] - old[4]
        v = rec.value(self.metric)
        best = self.best.value(self.metric) if self.best is not None else None
        if v is not None and (best is None or self.sign * v > self.sign * best):
            self.best = rec


class Progress(Callback):
    """Prints what a search is doing, from the ``TrialRecorder``'s live records."""

    def __init__(self, recorder: Any, total: int, metric: str, mode: str,
                 say: Callable[[str], None], stopper: str | None = "ASHA") -> None:
        self.recorder, self.total, self.metric, self.mode = recorder, total, metric, mode
        # what stops trials early, if anything does (--scheduler none, PBT: nothing, and the
        # lines leave the count of early stops out)
        self.stopper = stopper
        self.say = say
        self.t0 = time.monotonic()
        self._started: set[str] = set()

    def records(self) -> dict[str, TrialRecord]:
        return dict(self.recorder.records)

    def setup(self, stop: Any = None, num_samples: int | None = None,
              total_num_samples: int | None = None, **info: Any) -> None:
        self.t0 = time.monotonic()  # a resumed search counts its time from the resume

    def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        rec = self.recorder.records.get(trial.trial_id)
        if rec is None or trial.trial_id in self._started:
            return
        self._started.add(trial.trial_id)
        params = "  ".join(f"{_short(k)}={fmt(v)}" for k, v in sorted(rec.params.items()))
        self.say(f"trial {rec.number:>3} started   {params}")

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.say(self.status_line())

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self.say(self.status_line())

    def tally(self) -> Tally:
        """The recorder's running tally (a recorder without one: counted now)."""
        kept = getattr(self.recorder, "tally", None)
        return kept if kept is not None else Tally(self.metric, self.mode, self.records().values())

    def counts(self) -> dict[str, int]:
        t = self.tally()
        return {"done": t.done, "running": t.running, "stopped": t.stopped, "failed": t.failed,
                "budget": t.budget_stopped}

    def status_line(self) -> str:
        """One line of fixed-width columns (a column widens only past its width)."""
        t = self.tally()
        elapsed = time.monotonic() - self.t0
        best = t.best
        left = "-"
        if t.done:
            left = "~" + _duration(elapsed / t.done * max(self.total - t.done, 0))
        columns = [(f"{t.done:>3}/{self.total:<3} done", 13), (f"{t.running:>3} running", 11),
                   (f"{t.stopped:>3} {self.stopper}-stopped" if self.stopper else "", 16),
                   (f"{t.failed:>2} failed", 9),
                   (f"best {self.metric} {fmt(best.value(self.metric)) if best else '-':>7}"
                    + (f" (trial {best.number:>3})" if best else ""), 30),
                   (f"elapsed {_duration(elapsed):>6}", 16), (f"left {left:>7}", 12)]
        return "  ".join(c.rjust(w) if w < 12 else c.ljust(w) for c, w in columns if c).rstrip()

    def summary(self) -> list[str]:
        """The end: ASHA's stops, the best, and a runner-up that one seed cannot tell apart."""
        recs = [r for r in self.records().values() if r.state != TrialState.LOST]
        c = self.counts()
        stops = f"{c['stopped']} stopped early by {self.stopper}, " if self.stopper else ""
        stops += f"{c['budget']} stopped by the search's budget, " if c["budget"] else ""
        full = c["done"] - c["stopped"] - c["failed"] - c["budget"]
        lines = [f"{c['done']} of {self.total} trials ended: {stops}"
                 f"{c['failed']} failed, {full} ran all epochs"]
        scored = sorted((r for r in recs if finite(r.value(self.metric))),
                        key=lambda r: r.value(self.metric) or 0.0, reverse=self.mode == "max")
        if len(scored) >= 2:
            first, second = scored[0], scored[1]
            a, b = first.value(self.metric), second.value(self.metric)
            assert a is not None and b is not None
            if abs(a - b) <= NOISE * max(abs(a), 1e-12):
                lines.append(f"runner-up trial {second.number} ({self.metric} {fmt(b)}) is within "
                             f"{NOISE:.0%} of trial {first.number} ({fmt(a)}): within noise; "
                             "a second seed of both would tell them apart")
        return lines

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        for line in self.summary():
            self.say(line)
