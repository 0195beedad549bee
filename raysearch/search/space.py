"""Search-space files: YAML a researcher can read, turned into an Optuna define-by-run function.

```yaml
description: what this space is for
metric: val_psnr                # optional default for --metric
fixed:                          # dotted config keys -> values, the same in every trial
  data.image_size: 32
parameters:                     # dotted config keys -> distributions
  optim.lr_g: {type: float, low: 1.0e-4, high: 1.0e-3, log: true}
  model.depth: {type: int, low: 2, high: 4}
  model.skip: {type: categorical, choices: [true, false]}
  model.rfr_unet.iterations: {type: int, low: 1, high: 8, when: {model.generator: rfr_unet}}
```
``when`` makes a parameter exist only when an earlier parameter (or a fixed key) has one of the
given values. Every key is checked against the config schema, every bound and choice against the
config's own validation, before anything starts.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from raysearch.config import Config, config_from_dict, key_type, load_yaml, merge_dotted
from raysearch.errors import UserError

TYPES = ("float", "int", "categorical")
_PARAM_KEYS = {"type", "low", "high", "log", "step", "choices", "when"}
_TOP_KEYS = {"description", "metric", "mode", "fixed", "parameters"}


def metric_modes() -> dict[str, str]:
    """``val_<metric>`` -> max|min, from the metric registry (the one home of names and
    directions), read through its torch-free index while that is current: a mistyped key or
    metric in a space or a ``--set`` is answered before torch loads."""
    from raysearch.registry_index import names

    return {f"val_{m}": mode for m, mode in names().metrics.items()}


@dataclass
class Param:
    """One searched config key."""

    name: str
    type: str
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: list[Any] = field(default_factory=list)
    when: dict[str, list[Any]] = field(default_factory=dict)

    def values_to_check(self) -> list[Any]:
        """Values at the edges of the distribution, each validated against the config."""
        return list(self.choices) if self.type == "categorical" else [self.low, self.high]

    def suggest(self, trial: Any) -> Any:
        if self.type == "float":
            return trial.suggest_float(self.name, self.low, self.high, log=self.log, step=self.step)
        if self.type == "int":
            return trial.suggest_int(self.name, self.low, self.high, log=self.log,
                                     step=int(self.step or 1))
        return trial.suggest_categorical(self.name, self.choices)


@dataclass
class DefineByRun:
    """Picklable define-by-run function for OptunaSearch (Tune saves the searcher)."""

    params: list[Param]
    fixed: dict[str, Any]

    def __call__(self, trial: Any) -> None:
        chosen: dict[str, Any] = dict(self.fixed)
        for p in self.params:
            if all(chosen.get(k) in vs for k, vs in p.when.items()):
                chosen[p.name] = p.suggest(trial)
        # fixed values are already in every trial's base config: return nothing extra


@dataclass
class SearchSpace:
    """A parsed search-space file."""

    path: str
    description: str = ""
    metric: str | None = None
    mode: str | None = None  # only ever the metric's own direction (checked by check_metric)
    fixed: dict[str, Any] = field(default_factory=dict)
    params: list[Param] = field(default_factory=list)

    def define_by_run(self) -> DefineByRun:
        """``f(optuna_trial)``: suggests only the parameters whose conditions hold."""
        return DefineByRun(list(self.params), dict(self.fixed))

    def base_config(self, overrides: dict[str, Any] | None = None, where: str = "command line"
                    ) -> Config:
        """What every trial starts from: the defaults, then this space's ``fixed`` values, then
        ``overrides`` (``--set``). ``trial_config`` adds the sampled values on top: the one
        precedence that validation and the trials share."""
        raw = merge_dotted(Config().to_dict(), {**self.fixed, **(overrides or {})}, where)
        return config_from_dict(raw, where=where)

    def to_dict(self) -> dict[str, Any]:
        return {"description": self.description, "metric": self.metric, "fixed": self.fixed,
                "parameters": {p.name: _param_dict(p) for p in self.params}}


def trial_config(base: Config | dict[str, Any], sampled: dict[str, Any]) -> Config:
    """One trial's config: its base (``SearchSpace.base_config``), then the sampled values."""
    raw = base.to_dict() if isinstance(base, Config) else base
    return config_from_dict(merge_dotted(raw, sampled, "trial"), where="trial config")


def _param_dict(p: Param) -> dict[str, Any]:
    d: dict[str, Any] = {"type": p.type}
    if p.type == "categorical":
        d["choices"] = p.choices
    else:
        d.update(low=p.low, high=p.high)
        if p.log:
            d["log"] = True
        if p.step is not None:
            d["step"] = p.step
    if p.when:
        d["when"] = p.when
    return d


def _number(value: Any, where: str, what: str, integer: bool) -> float | int:
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            value = float(value)  # YAML 1.1 reads 1e-4 as a string
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise UserError(f"{where}: {what} must be a number, got {value!r}")
    if integer:
        if not float(value).is_integer():
            raise UserError(f"{where}: {what} must be an integer for type int, got {value!r}")
        return int(value)
    return float(value)


def _parse_param(name: str, spec: Any, where: str, known: set[str]) -> Param:
    at = f"{where}: parameters.{name}"
    if not isinstance(spec, dict):
        raise UserError(f"{at} must be a mapping like {{type: float, low: 0.1, high: 1}}")
    unknown = sorted(set(spec) - _PARAM_KEYS)
    if unknown:
        raise UserError(f"{at}: unknown field {unknown[0]!r} (valid: {', '.join(sorted(_PARAM_KEYS))})")
    kind = spec.get("type")
    if kind not in TYPES:
        raise UserError(f"{at}: type must be one of {', '.join(TYPES)}, got {kind!r}")
    p = Param(name=name, type=kind)
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise UserError(f"{at}: categorical needs a non-empty list 'choices'")
        p.choices = choices
    else:
        for k in ("low", "high"):
            if k not in spec:
                raise UserError(f"{at}: type {kind} needs '{k}'")
        p.low = _number(spec["low"], at, "low", kind == "int")
        p.high = _number(spec["high"], at, "high", kind == "int")
        if p.low >= p.high:
            raise UserError(f"{at}: empty or inverted range low={p.low} high={p.high} "
                            "(need low < high; use 'fixed' for a single value)")
        p.log = spec.get("log", False)
        if not isinstance(p.log, bool):
            raise UserError(f"{at}: log must be true or false, got {p.log!r}")
        if p.log and p.low <= 0:
            raise UserError(f"{at}: log scale needs low > 0, got {p.low}")
        if "step" in spec:
            p.step = _number(spec["step"], at, "step", kind == "int")
            if p.step <= 0 or p.log:
                raise UserError(f"{at}: step must be > 0 and cannot be combined with log")
    when = spec.get("when", {})
    if not isinstance(when, dict):
        raise UserError(f"{at}: 'when' must map a parameter to a value or list of values")
    for cond, values in when.items():
        if cond not in known:
            raise UserError(f"{at}: 'when' refers to {cond!r}, which is neither a parameter "
                            "listed above this one nor a fixed key")
        p.when[cond] = values if isinstance(values, list) else [values]
    return p


def parse_space(raw: Any, where: str) -> SearchSpace:
    if not isinstance(raw, dict):
        raise UserError(f"{where}: a search space must be a mapping with 'parameters' "
                        "(and optionally 'fixed', 'metric', 'description')")
    unknown = sorted(set(raw) - _TOP_KEYS)
    if unknown:
        raise UserError(f"{where}: unknown top-level key {unknown[0]!r} "
                        f"(valid: {', '.join(sorted(_TOP_KEYS))})")
    fixed = raw.get("fixed") or {}
    params_raw = raw.get("parameters") or {}
    if not isinstance(fixed, dict) or not isinstance(params_raw, dict):
        raise UserError(f"{where}: 'fixed' and 'parameters' must be mappings of dotted config keys")
    for section, keys in (("fixed", fixed), ("parameters", params_raw)):
        bad = [k for k in keys if not isinstance(k, str)]
        if bad:
            raise UserError(f"{where}: {section} key {bad[0]!r} is not a dotted config key "
                            "(e.g. optim.lr_g)")
        for key in keys:  # an unknown one is refused with the valid ones listed
            key_type(key, at=f"{where}: {section}.{key}")
    if not params_raw:
        raise UserError(f"{where}: 'parameters' is empty: nothing to search")
    space = SearchSpace(path=where, description=str(raw.get("description", "")),
                        metric=raw.get("metric"), mode=raw.get("mode"), fixed=dict(fixed))
    known = set(fixed)
    for name, spec in params_raw.items():
        if name in fixed:
            raise UserError(f"{where}: {name} is both fixed and searched; keep one")
        space.params.append(_parse_param(str(name), spec, where, known))
        known.add(str(name))
    return space


def check_metric(space: SearchSpace) -> None:
    """The space's ``metric`` is a registered one, and its ``mode`` (if given) is that metric's."""
    modes = metric_modes()
    metric, mode = space.metric, space.mode
    if metric is not None and metric not in modes:
        raise UserError(f"{space.path}: metric must be one of {', '.join(modes)}, got {metric!r}")
    shown = metric or "val_psnr"
    if mode is not None and mode != modes[shown]:
        raise UserError(f"{space.path}: mode {mode!r} does not fit {shown}, which is always "
                        f"{modes[shown]!r}; remove mode (the metric's registry entry sets it)")


def check_conditions(space: SearchSpace, base: Config) -> None:
    """Every ``when:`` value must be one its parent can take: a choice of a searched parent, or
    the parent's value in every trial (fixed, --set or default). Otherwise the parameter would
    never be searched, and nobody would be told."""
    params = {p.name: p for p in space.params}
    flat = flatten_config(base.to_dict())
    for p in space.params:
        for parent, values in p.when.items():
            if parent in params and params[parent].type == "categorical":
                possible = list(params[parent].choices)
            elif parent in params:
                continue  # a numeric parent: any value in its range may come up
            else:
                possible = [flat.get(parent)]
            if not any(v in possible for v in values):
                raise UserError(f"{space.path}: parameters.{p.name} is searched only when {parent} "
                                f"is {values}, but {parent} is always one of {possible}: it would "
                                "never be searched")


def flatten_config(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested config dict as dotted keys: {"train": {"epochs": 4}} -> {"train.epochs": 4}."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out |= flatten_config(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = v
    return out


def validate_space(space: SearchSpace, base: Config,
                   check: Callable[[Config], None] | None = None) -> None:
    """Build a config at every bound and choice so bad values fail now, not inside a trial.

    ``base`` is the trials' own base (``SearchSpace.base_config``), so what passes here is what
    the trials train."""
    check_conditions(space, base)
    check_metric(space)
    default = trial_config(base, {})
    if check is not None:
        check(default)
    for p in space.params:
        for v in p.values_to_check():
            try:
                cfg = default.with_overrides({p.name: v}, where=space.path)
                if check is not None:
                    check(cfg)
            except UserError as e:
                raise UserError(f"{space.path}: parameters.{p.name} value {v!r} is not valid: "
                                f"{str(e).split(': ', 1)[-1]}") from None


def load_space(path: Path) -> SearchSpace:
    return parse_space(load_yaml(path), where=str(path))
