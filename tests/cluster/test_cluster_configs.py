"""The cloud configs in cluster/ cannot run here: check them with Ray's own schema and our CLI."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import yaml

from raysearch.cli import cli

CLUSTER = Path(__file__).resolve().parents[2] / "cluster"


def _docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((CLUSTER / name).read_text()) if d]


def _parse_submit(command: str) -> dict[str, Any]:
    """raysearch's own parser reads the command's options (an unknown one raises)."""
    words = shlex.split(command)
    assert words[:2] == ["raysearch", "submit"], command
    return dict(cli.commands["submit"].make_context("submit", words[2:]).params)


def test_aws_launcher_config_passes_rays_schema() -> None:
    from ray.autoscaler._private.util import prepare_config, validate_config

    (config,) = _docs("aws-gpu.yaml")
    # what `ray up` does first: fill the AWS defaults, then check Ray's launcher JSON schema
    validate_config(prepare_config(config))
    types = config["available_node_types"]
    head, gpu = types[config["head_node_type"]], types["gpu_worker"]
    assert head["resources"] == {"CPU": 0}  # the head never takes a trial
    assert gpu["min_workers"] == 0 < gpu["max_workers"] <= config["max_workers"]
    assert gpu["node_config"]["InstanceType"].startswith(("g", "p"))  # a GPU instance family
    starts = config["head_start_ray_commands"] + config["worker_start_ray_commands"]
    assert all("RAY_AUTH_MODE=token" in c for c in starts if "ray start" in c)
    assert "--dashboard-host=127.0.0.1" in " ".join(config["head_start_ray_commands"])
    assert "~/.ray/auth_token" in config["file_mounts"]
    assert any("/mnt/shared" in c and "mount" in c for c in config["setup_commands"])


def test_kuberay_cluster_has_a_gpu_group_shared_volume_and_token() -> None:
    cluster, service = _docs("kuberay/raycluster.yaml")
    (pvc,) = _docs("kuberay/storage.yaml")
    assert cluster["kind"] == "RayCluster" and service["kind"] == "Service"
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    head = cluster["spec"]["headGroupSpec"]
    (gpu,) = cluster["spec"]["workerGroupSpecs"]
    assert head["rayStartParams"]["num-cpus"] == "0"
    for group in (head, gpu):
        pod = group["template"]["spec"]
        (container,) = pod["containers"]
        env = {e["name"]: e for e in container["env"]}
        assert env["RAY_AUTH_MODE"]["value"] == "token" and "RAY_AUTH_TOKEN" in env
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        claims = {v["name"]: v.get("persistentVolumeClaim", {}).get("claimName")
                  for v in pod["volumes"]}
        assert mounts["shared"] == "/mnt/shared" and claims["shared"] == pvc["metadata"]["name"]
    limits = gpu["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits["nvidia.com/gpu"] == "1" and gpu["minReplicas"] == 0 < gpu["maxReplicas"]
    assert service["spec"]["type"] == "ClusterIP"
    assert service["spec"]["selector"]["ray.io/cluster"] == cluster["metadata"]["name"]
    assert service["spec"]["ports"][0]["port"] == 8265


def test_rayjob_runs_a_valid_submit_on_the_shared_volume() -> None:
    (job,) = _docs("kuberay/rayjob.yaml")
    (cluster, _service) = _docs("kuberay/raycluster.yaml")
    assert job["kind"] == "RayJob"
    assert job["spec"]["clusterSelector"]["ray.io/cluster"] == cluster["metadata"]["name"]
    opts = _parse_submit(job["spec"]["entrypoint"])
    assert opts["address"] == "auto"
    assert opts["results"].startswith("/mnt/shared/") and opts["data"].startswith("/mnt/shared/")
    assert 0 < opts["gpus_per_worker"] < 1 and opts["max_failures"] >= 1
    assert job["spec"]["metadata"]["raysearch_name"] == opts["name"]  # status NAME finds it


def test_no_config_turns_authentication_off() -> None:
    for f in CLUSTER.rglob("*"):
        if f.is_file():
            assert "RAY_AUTH_MODE=disabled" not in f.read_text().replace(" ", ""), f
