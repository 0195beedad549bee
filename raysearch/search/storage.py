"""Experiment storage on a cluster must be shared: every node writes checkpoints the driver reads.

A plain path is shared only when it is the same folder on every node (an NFS or similar mount,
or all nodes on one machine). Bucket URIs are refused earlier: raysearch's own experiment files
(raysearch.json, trials.json) are written with local file operations. We do not
guess from the path: the driver writes a probe file and a zero-CPU task on each alive node looks
for it. Nodes that join later (autoscaling) are not probed; use shared storage there always.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from raysearch.errors import UserError
from raysearch.search.store import is_uri

PROBE_TIMEOUT_S = 120.0


def storage_problem(results: str, sees_probe: dict[str, bool]) -> str | None:
    """Why ``results`` cannot hold this cluster's experiments (None when it can)."""
    if is_uri(results) or len(sees_probe) <= 1:
        return None
    blind = sorted(node for node, ok in sees_probe.items() if not ok)
    if not blind:
        return None
    return (f"--results {results} is not shared storage: {len(blind)} of the cluster's "
            f"{len(sees_probe)} nodes cannot see it ({', '.join(n[:12] for n in blind)}). "
            "On a multi-node cluster every node must read and write the same experiment folder: "
            "give a folder on a network file system mounted at the same path on every node "
            "(NFS, EFS, Filestore, ...), e.g. --results /mnt/shared/results")


def _sees(path: str) -> bool:
    return Path(path).exists()


def probe_nodes(results: str) -> dict[str, bool]:
    """For each alive node id: does it see a file the driver just wrote under ``results``?"""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    nodes = [n["NodeID"] for n in ray.nodes() if n.get("Alive")]
    if len(nodes) <= 1 or is_uri(results):
        return dict.fromkeys(nodes, True)
    folder = Path(results).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    probe = folder / f".raysearch-probe-{uuid.uuid4().hex}"
    probe.write_text("")
    sees = ray.remote(num_cpus=0, max_retries=0)(_sees)
    try:
        refs = {n: sees.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n, soft=False))
                .remote(str(probe)) for n in nodes}
        ready, _ = ray.wait(list(refs.values()), num_returns=len(refs), timeout=PROBE_TIMEOUT_S)
        done = set(ready)
        return {n: (ref in done and bool(ray.get(ref))) for n, ref in refs.items()}
    finally:
        probe.unlink(missing_ok=True)


def check_shared_storage(results: str) -> None:
    """Refuse a node-local ``results`` folder on a multi-node cluster (Ray must be running)."""
    problem = storage_problem(results, probe_nodes(results))
    if problem:
        raise UserError(problem)
