"""What a search optimises: one metric, or several (``--objectives val_psnr:max,generator_params:min``).

With several objectives Optuna's TPE samples for the Pareto front; ASHA still needs one number to
compare trials at a rung, so it uses the first objective.
"""

from __future__ import annotations

from raysearch.errors import UserError
from raysearch.search.records import Objective
from raysearch.search.space import metric_modes

# every metric a trial reports that makes sense to optimise, with its natural direction


def known_objectives() -> dict[str, str]:
    """Every metric a trial reports that makes sense to optimise, with its natural direction."""
    return {**metric_modes(), "generator_params": "min"}



__all__ = ["Objective", "format_objectives", "known_objectives", "parse_objectives"]


def parse_objectives(text: str) -> list[Objective]:
    """``"val_psnr:max,val_ssim"`` -> objectives; a missing ``:mode`` takes the metric's own."""
    out: list[Objective] = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, _, mode = item.partition(":")
        name, mode = name.strip(), mode.strip()
        known = known_objectives()
        if name not in known:
            raise UserError(f"--objectives: unknown metric {name!r}; known: {', '.join(known)}")
        mode = mode or known[name]
        if mode not in ("max", "min"):
            raise UserError(f"--objectives: {name}:{mode}: the mode must be max or min")
        if any(o.metric == name for o in out):
            raise UserError(f"--objectives: {name} is given twice")
        out.append(Objective(name, mode))
    if not out:
        raise UserError("--objectives is empty; write e.g. val_psnr:max,generator_params:min")
    return out


def format_objectives(objectives: list[Objective]) -> str:
    return ",".join(f"{o.metric}:{o.mode}" for o in objectives)
