"""A local Ray started as a search starts it listens on loopback only, dashboard and auth on."""

from __future__ import annotations

import os
import sys

import pytest

from tests.search.listening import descendants, listeners

# the Ray processes a local search starts that always listen, as their command lines name them
# (and the workers, by pid); the autoscaler's monitor.py listens only on the fixed metrics port
# 44217, which another Ray instance on the machine may hold first, so it is checked when present
COMPONENTS = ("gcs_server", "raylet", "dashboard.py", "ray::DashboardAgent",
              "ray::RuntimeEnvAgent")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_local_instance_listens_on_loopback_only(ray_local: None) -> None:
    import ray

    @ray.remote(num_cpus=1)
    def pid() -> int:
        return os.getpid()

    workers = set(ray.get([pid.remote() for _ in range(2)]))  # worker processes listen too
    ours = descendants(os.getpid())  # the driver started Ray: every Ray process is below it
    assert workers <= set(ours)
    found = listeners(ours)
    commands = " ".join({x.command for x in found})
    missing = [c for c in COMPONENTS if c not in commands]
    missing += [f"worker {pid}" for pid in workers if pid not in {x.pid for x in found}]
    assert not missing, f"no listening socket found for {missing}: {found}"
    exposed = [x for x in found if not x.loopback]
    assert not exposed, "listening beyond loopback:\n" + "\n".join(
        f"{x.proto} {x.ip}:{x.port} pid {x.pid} {x.command[:80]}" for x in exposed)
    # the dashboard is on (Ray Train needs its State API) and token authentication stays on
    assert ray.util.get_node_ip_address() == "127.0.0.1"
    assert os.environ.get("RAY_AUTH_MODE") != "disabled"
    from ray._private.authentication.authentication_utils import is_token_auth_enabled

    assert is_token_auth_enabled()
