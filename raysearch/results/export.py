"""An experiment as two Parquet tables: one row per trial, one row per trial and epoch.

Column names keep the dotted config keys (``param.model.depth``, ``best.val_psnr``), so in DuckDB
quote them: ``SELECT trial, "best.val_psnr" FROM 'trials.parquet' ORDER BY 2 DESC``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from raysearch.errors import UserError
from raysearch.search.experiment import Experiment
from raysearch.search.records import finite
from raysearch.search.store import is_uri

TRIALS_PARQUET = "trials.parquet"
HISTORY_PARQUET = "history.parquet"


def _column(values: list[Any]) -> pa.Array:
    """Arrow's own type when the values agree on one; strings when they do not (a categorical
    parameter may mix true, 3 and "x")."""
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def _number(v: Any) -> float | None:
    return float(v) if finite(v) else None


def _metric_names(rows: list[dict[str, Any]]) -> list[str]:
    return sorted({k for r in rows for k, v in r.items() if isinstance(v, (int, float))
                   and not isinstance(v, bool)})


def trials_table(exp: Experiment) -> pa.Table:
    """Parameters, state, best and final metrics, epochs, checkpoint and node of every trial."""
    trials = exp.trials
    params = sorted({k for t in trials for k in t.params})
    metrics = _metric_names([t.best for t in trials] + [t.last for t in trials])
    cols: dict[str, pa.Array] = {
        "trial": pa.array([t.number for t in trials], type=pa.int64()),
        "trial_id": pa.array([t.trial_id for t in trials], type=pa.string()),
        "state": pa.array([str(t.state) for t in trials], type=pa.string()),
        "stopped_early": pa.array([t.stopped_early for t in trials], type=pa.bool_()),
        "diverged": pa.array([t.diverged for t in trials], type=pa.bool_()),
        "error": pa.array([t.error for t in trials], type=pa.string()),
        "epochs": pa.array([t.epochs for t in trials], type=pa.int64()),
        "best_epoch": pa.array([t.best_epoch for t in trials], type=pa.int64()),
        "retries": pa.array([t.retries for t in trials], type=pa.int64()),
        "rerun_epochs": pa.array([t.rerun_epochs for t in trials], type=pa.int64()),
        "checkpoint": pa.array([t.best_checkpoint for t in trials], type=pa.string()),
        "checkpoint_epoch": pa.array([t.best_checkpoint_epoch for t in trials], type=pa.int64()),
        "node_ip": pa.array([t.node_ip for t in trials], type=pa.string()),
    }
    for p in params:
        cols[f"param.{p}"] = _column([t.params.get(p) for t in trials])
    for which in ("best", "last"):
        for m in metrics:
            cols[f"{which}.{m}"] = pa.array([_number(getattr(t, which).get(m)) for t in trials],
                                            type=pa.float64())
    return pa.table(cols)


def history_table(exp: Experiment) -> pa.Table:
    """One row per trial and epoch with every recorded metric."""
    rows = [(t, h) for t in exp.trials for h in t.history]
    metrics = [m for m in _metric_names([h for _, h in rows]) if m != "epoch"]
    cols: dict[str, pa.Array] = {
        "trial": pa.array([t.number for t, _ in rows], type=pa.int64()),
        "trial_id": pa.array([t.trial_id for t, _ in rows], type=pa.string()),
        "epoch": pa.array([h["epoch"] for _, h in rows], type=pa.int64()),
    }
    for m in metrics:
        cols[m] = pa.array([_number(h.get(m)) for _, h in rows], type=pa.float64())
    return pa.table(cols)


def export_parquet(exp: Experiment, out: str | None = None) -> list[str]:
    """Write ``trials.parquet`` and ``history.parquet`` to ``out`` (a folder or a pyarrow URI;
    default: the experiment folder); returns where they went."""
    target = out or str(exp.path)
    if not is_uri(target):
        try:
            Path(target).mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UserError(f"cannot write to {target}: {e.strerror}") from None
    written = []
    for name, table in ((TRIALS_PARQUET, trials_table(exp)), (HISTORY_PARQUET, history_table(exp))):
        where = f"{target.rstrip('/')}/{name}"
        try:
            pq.write_table(table, where)
        except OSError as e:
            raise UserError(f"cannot write {where}: {e}") from None
        written.append(where)
    return written
