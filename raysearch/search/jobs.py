"""A search as a Ray Job: submitted through the Jobs API of a cluster's dashboard (``http://HEAD:8265``).

The job's runtime environment carries what the cluster cannot know: a ``working_dir`` holding only
the search-space file and the search's options (``search.json``), and this machine's ``raysearch``
package as a ``py_modules`` entry, so the cluster runs the code you submitted from (its Python
needs raysearch's dependencies: torch, ray, optuna, ...). The entrypoint is
``python -m raysearch.cli submit --spec search.json --address auto``: the same search, with its
driver on the head node. Jobs are found again by their metadata (``raysearch_name``), so
``raysearch status NAME --address ...`` works from any machine. A refinement (``raysearch refine
NAME --address http://...``) is a job the same way: ``refine.json`` holds its options (and the
--space file travels as ``space.yaml``), and the entrypoint is ``refine NAME --job refine.json
--address auto``; the search it refines must be in --results as the cluster sees it.
"""

from __future__ import annotations

import asyncio
import json
import shlex
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from raysearch.errors import UserError
from raysearch.search.auth import token_headers
from raysearch.search.refine import SUFFIX, RefineSpec
from raysearch.search.runner import SearchSpec, code_runtime_env
from raysearch.search.store import is_uri

SPEC_IN_JOB = "search.json"
REFINE_IN_JOB = "refine.json"  # a refinement's options (RefineSpec), for `refine --job`
SPACE_IN_JOB = "space.yaml"
NAME_KEY = "raysearch_name"
RESULTS_KEY = "raysearch_results"
ENTRYPOINT = f"python -m raysearch.cli submit --spec {SPEC_IN_JOB} --address auto"


def is_jobs_address(address: str | None) -> bool:
    return bool(address) and str(address).startswith(("http://", "https://"))


def job_client(address: str) -> Any:
    """A JobSubmissionClient that authenticates with Ray's token (see raysearch.search.auth)."""
    from ray.job_submission import JobSubmissionClient

    try:
        return JobSubmissionClient(address, headers=token_headers(address))
    except ConnectionError as e:
        raise UserError(f"cannot reach the Jobs API at {address}: {_first_line(e)}") from None
    except Exception as e:
        if type(e).__name__ == "AuthenticationError":
            raise UserError(f"the cluster at {address} refused the request: {_first_line(e)}. "
                            "Give its token in RAY_AUTH_TOKEN (or RAY_AUTH_TOKEN_PATH), or set "
                            "RAY_AUTH_MODE=token to send ~/.ray/auth_token") from None
        raise


def _first_line(e: BaseException) -> str:
    return (str(e).strip().splitlines() or [type(e).__name__])[0]


def check_cluster_paths(spec: SearchSpec | RefineSpec) -> None:
    """Paths in a job are the cluster's: they must not depend on the job's working directory."""
    if not (Path(spec.results).is_absolute() or is_uri(spec.results)):
        raise UserError(f"--results {spec.results!r} is relative; a job needs the experiment "
                        "folder on the cluster's shared storage, e.g. --results /mnt/nfs/results")
    if isinstance(spec, SearchSpec) and spec.data not in (None, "embedded") and not (
            Path(spec.data).is_absolute() or is_uri(spec.data)):
        raise UserError(f"--data {spec.data!r} is relative; give where the cluster reads it, e.g. "
                        "--data /mnt/nfs/celeba-shards or --data s3://bucket/celeba-shards")


def job_runtime_env(spec: SearchSpec, working_dir: Path) -> dict[str, Any]:
    """Write the job's working_dir (space + options only) and return the runtime environment."""
    shutil.copyfile(spec.space_path, working_dir / SPACE_IN_JOB)
    job_spec = {**asdict(spec), "space_path": SPACE_IN_JOB}
    (working_dir / SPEC_IN_JOB).write_text(json.dumps(job_spec, indent=1))
    return {**code_runtime_env(), "working_dir": str(working_dir),
            "env_vars": {"PYTHONUNBUFFERED": "1"}}


def refine_runtime_env(rs: RefineSpec, name: str, working_dir: Path) -> dict[str, Any]:
    """A refinement's working_dir: its options (``refine.json``) and its --space file, if any."""
    job_spec = {**asdict(rs), "name": name}
    if rs.space_path is not None:
        shutil.copyfile(rs.space_path, working_dir / SPACE_IN_JOB)
        job_spec["space_path"] = SPACE_IN_JOB
    (working_dir / REFINE_IN_JOB).write_text(json.dumps(job_spec, indent=1))
    return {**code_runtime_env(), "working_dir": str(working_dir),
            "env_vars": {"PYTHONUNBUFFERED": "1"}}


def submit_job(spec: SearchSpec, address: str) -> str:
    """Submit the search as a Ray Job; returns its submission id (the job id to follow)."""
    check_cluster_paths(spec)
    return _submit(address, spec.name, spec.results, ENTRYPOINT,
                   lambda wd: job_runtime_env(spec, wd))


def submit_refine_job(rs: RefineSpec, address: str) -> tuple[str, str]:
    """Submit ``raysearch refine`` as a Ray Job; returns its submission id and the experiment's
    name. The source search must be in --results as the cluster sees it."""
    check_cluster_paths(rs)
    name = rs.name or f"{rs.source}{SUFFIX}"
    entrypoint = (f"python -m raysearch.cli refine {shlex.quote(rs.source)} --job {REFINE_IN_JOB} "
                  "--address auto")
    return _submit(address, name, rs.results, entrypoint,
                   lambda wd: refine_runtime_env(rs, name, wd)), name


def _submit(address: str, name: str, results: str, entrypoint: str,
            runtime_env: Callable[[Path], dict[str, Any]]) -> str:
    client = job_client(address)
    submission_id = f"raysearch-{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    with tempfile.TemporaryDirectory(prefix="raysearch-job-") as wd:
        env = runtime_env(Path(wd))
        try:
            return str(client.submit_job(
                entrypoint=entrypoint, runtime_env=env, submission_id=submission_id,
                metadata={NAME_KEY: name, RESULTS_KEY: results}))
        except RuntimeError as e:
            raise UserError(f"the Jobs API at {address} refused the job: {_first_line(e)}") from None


def find_job(client: Any, name: str) -> Any:
    """The newest job submitted for experiment ``name``."""
    jobs = [j for j in client.list_jobs() if (j.metadata or {}).get(NAME_KEY) == name]
    if not jobs:
        raise UserError(f"no raysearch job named {name!r} on this cluster")
    return max(jobs, key=lambda j: j.start_time or 0)


def describe_job(job: Any) -> str:
    """One paragraph: id, status, times, and Ray's message (the failure's last log lines)."""
    started = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime((job.start_time or 0) / 1000))
    took = f", {(job.end_time - job.start_time) / 1000:.0f} s" if job.end_time and job.start_time \
        else ""
    lines = [f"job {job.submission_id}: {job.status} (started {started}{took})"]
    if job.message:
        lines.append(f"  {job.message.strip()}")
    results = (job.metadata or {}).get(RESULTS_KEY)
    if results:
        lines.append(f"  results: {results}")
    return "\n".join(lines)


def follow_job(client: Any, job_id: str, write: Callable[[str], None]) -> Any:
    """Stream the job's log until it ends; returns its final details."""
    async def tail() -> None:
        async for chunk in client.tail_job_logs(job_id):
            write(chunk)

    asyncio.run(tail())
    return client.get_job_info(job_id)
