"""What a search is asked to do: ``SearchSpec``, the one home of every submit option and its
default. The CLI's options take their defaults from here (a test checks that each option matches
a field); the spec is written to ``raysearch.json`` and read back by ``resume`` and ``--spec``.
Needs no Ray and no torch.
"""

from __future__ import annotations

import json
import math
import types
import typing
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from raysearch.errors import UserError
from raysearch.search.store import TUNE_DIR, RecordStore, default_storage_url, is_uri, join

PACKAGE_DIR = Path(__file__).resolve().parents[1]
# package data (the repository's search_spaces/ links here), so a wheel install has it too
DEFAULT_SPACE = PACKAGE_DIR / "search_spaces" / "quickstart.yaml"
DEFAULT_RESULTS = Path("results")
MAX_SEED = 2**32 - 1  # the largest seed numpy's generators (and so Optuna's samplers) take


def results_option(results: str | Path) -> str:
    """`` --results DIR`` for a command printed for the user to copy, or nothing for the default."""
    import shlex

    return "" if Path(results) == DEFAULT_RESULTS else f" --results {shlex.quote(str(results))}"


@dataclass
class SearchSpec:
    """Everything a search needs, as given on the command line (written to raysearch.json)."""

    name: str
    space_path: str = str(DEFAULT_SPACE)
    results: str = str(DEFAULT_RESULTS)
    data: str | None = None  # overrides data.path
    num_samples: int = 8
    max_epochs: int | None = None  # overrides train.epochs; ASHA's max_t
    metric: str | None = None  # default: the space's metric, else val_psnr
    seed: int = 0
    workers_per_trial: int = 1
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0
    max_concurrent: int = 0  # 0: as many as the cluster's CPUs allow
    grace_period: int = 1
    reduction_factor: int = 2
    keep_checkpoints: int = 2  # per trial, best by the metric
    overrides: dict[str, Any] = field(default_factory=dict)  # --set key=value
    objectives: str | None = None  # "val_psnr:max,generator_params:min": multi-objective TPE
    max_failures: int = 2  # retries of a trial whose process or node died, from its last checkpoint
    storage: str | None = None  # where Tune writes (folder or pyarrow URI); default: results
    optuna_storage: str | None = None  # Optuna database URL; default: SQLite in the experiment
    sampler: str = "tpe"  # a name in raysearch.search.strategy.SAMPLERS (tpe, tpe-group, gp, ...)
    scheduler: str = "asha"  # asha | hyperband | none (every trial runs all its epochs)
    startup_trials: int = 10  # TPE, GP: random proposals before they model the results (Optuna's 10)
    epoch_budget: int = 0  # end the search once its trials have trained this many epochs (0: off)
    time_budget_s: float = 0.0  # end the search after this many seconds of wall time (0: off)
    loggers: tuple[str, ...] = ()  # --logger: experiment trackers (raysearch.search.trackers)
    mlflow_uri: str | None = None  # --logger mlflow's tracking URI; default: SQLite in the experiment
    # --warm-start NAME: earlier searches in --results whose trials the sampler is told first
    warm_start: tuple[str, ...] = ()
    # refine: a multi-worker member hands each checkpoint to Tune, which PBT clones (a search
    # leaves them in Ray Train's run and passes their path as a metric)
    checkpoints_to_tune: bool = False

    def __post_init__(self) -> None:
        self.loggers = tuple(self.loggers)  # raysearch.json holds it as a JSON list
        self.warm_start = tuple(self.warm_start)

    @property
    def experiment(self) -> Path:
        """The local experiment folder: our records (a mirror of them when storage is a URI)."""
        return Path(self.results).resolve() / self.name

    @property
    def experiment_uri(self) -> str:
        """The experiment at its storage: the local folder unless --storage was given."""
        if self.storage is None:
            return str(self.experiment)
        root = self.storage if is_uri(self.storage) else str(Path(self.storage).resolve())
        return join(root, self.name)

    @property
    def tune_experiment(self) -> str:
        return join(self.experiment_uri, TUNE_DIR)

    @property
    def study_url(self) -> str:
        return self.optuna_storage or default_storage_url(self.experiment)

    def store(self) -> RecordStore:
        mirrored = self.experiment_uri != str(self.experiment)
        return RecordStore(str(self.experiment), self.experiment_uri if mirrored else None)


def spec_fields(path: Path, kind: type = SearchSpec, option: str = "--spec",
                what: str = "search") -> dict[str, Any]:
    """Options saved in a job's search.json or an experiment's raysearch.json (``kind``: the
    dataclass they fill; refine's jobs pass ``RefineSpec``)."""
    try:
        raw = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"{option} {path}: no such file") from None
    except (OSError, ValueError) as e:
        raise UserError(f"{option} {path}: not a JSON {what} spec ({e})") from None
    raw = raw.get("spec", raw) if isinstance(raw, dict) else raw  # raysearch.json nests it
    known = {f.name for f in fields(kind)}
    if not isinstance(raw, dict) or not set(raw) <= known:
        bad = sorted(set(raw) - known) if isinstance(raw, dict) else raw
        raise UserError(f"{option} {path}: unknown {what} option(s) {bad} (known: "
                        f"{', '.join(sorted(known))})")
    hints = typing.get_type_hints(kind)
    for key, value in raw.items():
        if not _fits(value, hints[key]):
            raise UserError(f"{option} {path}: {key} must be {_describe(hints[key])}, got {value!r}")
    return raw


def _fits(value: Any, hint: Any) -> bool:
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) \
        else (hint,)
    for t in options:
        if t is type(None) and value is None:
            return True
        if t is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            return math.isfinite(value)
        if t is int and isinstance(value, int) and not isinstance(value, bool):
            return True
        if t in (str, bool) and isinstance(value, t):
            return True
        if typing.get_origin(t) is dict and isinstance(value, dict):
            return True
        if typing.get_origin(t) is tuple and isinstance(value, (list, tuple)):
            return all(isinstance(v, str) for v in value)  # tuple[str, ...]: the only kind
    return False


def _describe(hint: Any) -> str:
    names: dict[Any, str] = {int: "an integer", float: "a number", str: "a string",
                             bool: "true or false", type(None): "null"}
    options = typing.get_args(hint) if typing.get_origin(hint) in (typing.Union, types.UnionType) \
        else (hint,)
    return " or ".join(names.get(t, "a list of strings" if typing.get_origin(t) is tuple
                                 else "a mapping") for t in options)


DEFAULTS = SearchSpec(name="")  # what an option not given means
