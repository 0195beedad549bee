"""Submit's progress lines: a line per started trial, fixed-width status, the end summary."""

from __future__ import annotations

from types import SimpleNamespace

from raysearch.search.progress import Progress, fmt
from raysearch.search.records import TrialRecord, TrialState


def _recorder(*records: TrialRecord) -> SimpleNamespace:
    return SimpleNamespace(records={r.trial_id: r for r in records})


def _done(number: int, psnr: float, epochs: int = 4, early: bool = False) -> TrialRecord:
    return TrialRecord(f"t{number}", number, params={"optim.lr_g": 0.000312345, "model.skip": True},
                       state=TrialState.TERMINATED, epochs=epochs, best={"val_psnr": psnr},
                       stopped_early=early)


def test_floats_have_four_significant_digits() -> None:
    assert fmt(23.41567) == "23.42" and fmt(0.000312345) == "0.0003123" and fmt(3) == "3"


def test_a_started_trial_is_a_line_with_its_parameters() -> None:
    lines: list[str] = []
    rec = _done(7, 20.0)
    rec.state = TrialState.RUNNING
    p = Progress(_recorder(rec), 16, "val_psnr", "max", lines.append)
    p.on_trial_start(0, [], SimpleNamespace(trial_id="t7"))
    p.on_trial_start(0, [], SimpleNamespace(trial_id="t7"))  # a restart of the same trial: once
    assert lines == ["trial   7 started   skip=True  lr_g=0.0003123"]  # sorted by full key


def test_the_status_line_keeps_its_columns_as_numbers_grow() -> None:
    few = Progress(_recorder(_done(0, 21.5)), 16, "val_psnr", "max", print)
    many = Progress(_recorder(*[_done(i, 20.0 + i / 10, early=i % 2 == 1) for i in range(12)]),
                    16, "val_psnr", "max", print)
    a, b = few.status_line(), many.status_line()
    assert len(a) == len(b) and a.index("running") == b.index("running"), (a, b)
    assert a.index("best val_psnr") == b.index("best val_psnr")
    assert "12/16  done" in b and "6 ASHA-stopped" in b and "21.1 (trial  11)" in b
    assert "left" in b and "~" in b and not b.endswith(" ")


def test_the_summary_counts_stops_and_names_a_runner_up_within_noise() -> None:
    close = Progress(_recorder(_done(0, 23.40), _done(1, 23.45), _done(2, 18.0, 1, early=True)),
                     3, "val_psnr", "max", print)
    lines = close.summary()
    assert lines[0] == "3 of 3 trials ended: 1 stopped early by ASHA, 0 failed, 2 ran all epochs"
    assert "runner-up trial 0 (val_psnr 23.4) is within 1% of trial 1 (23.45)" in lines[1]
    apart = Progress(_recorder(_done(0, 21.0), _done(1, 23.45)), 2, "val_psnr", "max", print)
    assert len(apart.summary()) == 1  # 2.45 dB apart: no runner-up line


def test_the_summary_counts_the_trials_a_budget_stopped_apart() -> None:
    """A resumed search's budget-stopped trials did not run all their epochs."""
    cut = _done(2, 19.0, epochs=2)
    cut.stopped_by_budget = True
    p = Progress(_recorder(_done(0, 21.5), _done(1, 18.0, 1, early=True), cut), 8, "val_psnr",
                 "max", print)
    assert p.summary()[0] == ("3 of 8 trials ended: 1 stopped early by ASHA, 1 stopped by the "
                              "search's budget, 0 failed, 1 ran all epochs")


def test_nothing_stops_trials_early_nothing_is_counted() -> None:
    """--scheduler none and PBT stop no trial early: the lines leave out ASHA's count."""
    recs = [_done(0, 21.5), _done(1, 22.0)]
    plain = Progress(_recorder(*recs), 4, "val_psnr", "max", print, stopper=None)
    line = plain.status_line()
    assert "2/4   done" in line and "ASHA" not in line and "stopped" not in line, line
    assert "0 failed" in line and "best val_psnr      22 (trial   1)" in line, line
    assert plain.summary() == ["2 of 4 trials ended: 0 failed, 2 ran all epochs"]
    asha = Progress(_recorder(*recs), 4, "val_psnr", "max", print).status_line()
    assert "0 ASHA-stopped" in asha and len(asha) - len(line) == len("  ") + 16, (asha, line)
