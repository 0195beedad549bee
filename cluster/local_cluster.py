#!/usr/bin/env python
"""A Ray cluster of several nodes on this one machine, for development and tests.

    python cluster/local_cluster.py up --workers 2      # head + 2 worker nodes
    python cluster/local_cluster.py status
    python cluster/local_cluster.py kill worker-2       # simulate a node crash
    python cluster/local_cluster.py down

Every node is its own ``ray start --block`` process (its own raylet, object store, temp dir,
logical CPUs, custom resource and ``raysearch-node=<name>`` label), started in a new process
group. The state file records each node's process id; ``down`` and ``kill`` signal only those
process groups, so Ray instances other people run on this machine are never touched (no
``ray stop``). Everything listens on 127.0.0.1; the dashboard and Jobs API too. Token
authentication stays on: the nodes run with ``RAY_AUTH_MODE=token`` and the token of
``ray get-auth-token`` (``~/.ray/auth_token``, or ``RAY_AUTH_TOKEN``/``RAY_AUTH_TOKEN_PATH``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

LABEL = "raysearch-node"  # node label key: the node's name in this cluster
DEFAULT_STATE = Path(".local-cluster.json")
BIN = Path(sys.executable).parent  # the `ray` next to this Python; jobs' `python` is this one too


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_time(pid: int) -> int | None:
    """Kernel start time of a process (clock ticks since boot): tells a reused pid apart."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


def _group_members(pgid: int, not_before: int) -> list[int]:
    """Live processes of process group ``pgid`` started no earlier than its leader was."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is the state (index 2 of stat), so pgrp is fields[2] and starttime fields[19]
        if int(fields[2]) == pgid and int(fields[19]) >= not_before and fields[0] != "Z":
            pids.append(int(entry.name))
    return pids


def _command(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ").strip()[:80]
    except OSError:
        return str(pid)


def signal_node(node: dict[str, Any], sig: int) -> int:
    """Send ``sig`` to every live process of the node's own process group; returns how many."""
    members = _group_members(node["pid"], node["start_time"])
    for pid in members:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    return len(members)


def _token_env() -> dict[str, str]:
    """Token authentication on, with an existing token (made by Ray's own CLI when missing)."""
    env = {"RAY_AUTH_MODE": "token"}
    if not (os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")):
        subprocess.run([str(BIN / "ray"), "get-auth-token", "--generate"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return env


def auth_header() -> dict[str, str]:
    from ray._raylet import AuthenticationTokenLoader  # type: ignore[attr-defined]

    headers: dict[str, str] = AuthenticationTokenLoader.instance().get_token_for_http_header(
        ignore_auth_mode=True)
    return headers


def _node_args(name: str, cpus: float, temp: Path) -> list[str]:
    return [
        "--node-ip-address=127.0.0.1", f"--num-cpus={cpus:g}", f"--temp-dir={temp}",
        f"--resources={json.dumps({name: 1})}", f"--labels={LABEL}={name}",
        # fixed-default ports would collide with other Ray instances on this machine
        f"--dashboard-agent-listen-port={free_port()}", f"--dashboard-agent-grpc-port={free_port()}",
        f"--runtime-env-agent-port={free_port()}", f"--metrics-export-port={free_port()}",
        "--min-worker-port=0", "--max-worker-port=0", "--disable-usage-stats",
    ]


def _launch(name: str, args: list[str], root: Path, env: dict[str, str],
            object_store_mb: int) -> dict[str, Any]:
    log = root / f"{name}.log"
    cmd = [str(BIN / "ray"), "start", "--block", *args,
           f"--object-store-memory={object_store_mb * 1024 * 1024}"]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)  # its own process group: ours to stop
    start = _start_time(proc.pid)
    return {"name": name, "pid": proc.pid, "start_time": start, "log": str(log), "alive": True}


def _wait_started(node: dict[str, Any], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = Path(node["log"]).read_text(errors="replace")
        if "Ray runtime started" in text:
            return
        if _start_time(node["pid"]) is None:
            raise RuntimeError(f"node {node['name']} exited while starting; see {node['log']}:\n"
                               + "\n".join(text.splitlines()[-15:]))
        time.sleep(0.5)
    raise RuntimeError(f"node {node['name']} did not start in {timeout:.0f} s; see {node['log']}")


def list_nodes(dashboard: str) -> list[dict[str, Any]]:
    """Alive nodes as the State API (through the dashboard, with the token) reports them."""
    req = urllib.request.Request(f"{dashboard}/api/v0/nodes?limit=1000", headers=auth_header())
    with urllib.request.urlopen(req, timeout=10) as r:
        body = json.load(r)
    return [n for n in body["data"]["result"]["result"] if n["state"] == "ALIVE"]


def _wait_registered(state: dict[str, Any], timeout: float) -> None:
    """Until every node is alive in the cluster; records each node's Ray node id."""
    want = {n["name"] for n in state["nodes"]}
    deadline = time.monotonic() + timeout
    while True:
        try:
            seen = {n["labels"].get(LABEL): n["node_id"] for n in list_nodes(state["dashboard"])}
        except (OSError, KeyError, ValueError):
            seen = {}
        if want <= set(seen):
            for n in state["nodes"]:
                n["node_id"] = seen[n["name"]]
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"nodes {sorted(want - set(seen))} did not join in {timeout:.0f} s")
        time.sleep(1)


def read_state(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise SystemExit(f"no local cluster state at {path} (start one with 'up')")
    state: dict[str, Any] = json.loads(path.read_text())
    return state


def write_state(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=1))
    os.replace(tmp, path)


def up(state_path: Path, workers: int, head_cpus: float, worker_cpus: float,
       object_store_mb: int, timeout: float = 120.0) -> dict[str, Any]:
    """Start the head, then the worker nodes side by side; write and return the state."""
    if state_path.exists():
        old = json.loads(state_path.read_text())
        if any(_group_members(n["pid"], n["start_time"]) for n in old["nodes"]):
            raise SystemExit(f"a local cluster from {state_path} is still running; 'down' it first")
    root = Path(tempfile.mkdtemp(prefix="rsc-", dir="/tmp"))  # short: Ray's socket paths are long
    env = {**os.environ, **_token_env(), "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
           # 'down' stops the whole cluster: no node needs to drain its work elsewhere first
           "RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S": "0"}
    gcs, dash, client = free_port(), free_port(), free_port()
    state: dict[str, Any] = {
        "address": f"127.0.0.1:{gcs}", "dashboard": f"http://127.0.0.1:{dash}",
        "client": f"ray://127.0.0.1:{client}", "root": str(root), "nodes": [],
    }
    head_args = ["--head", f"--port={gcs}", "--dashboard-host=127.0.0.1", f"--dashboard-port={dash}",
                 f"--ray-client-server-port={client}", "--include-dashboard=true",
                 *_node_args("head", head_cpus, root / "head")]
    try:
        state["nodes"].append(_launch("head", head_args, root, env, object_store_mb))
        write_state(state_path, state)  # from here on 'down' can clean up, whatever happens
        _wait_started(state["nodes"][0], timeout)
        for k in range(1, workers + 1):
            name = f"worker-{k}"
            args = [f"--address={state['address']}", *_node_args(name, worker_cpus, root / name)]
            state["nodes"].append(_launch(name, args, root, env, object_store_mb))
            write_state(state_path, state)
        for n in state["nodes"][1:]:
            _wait_started(n, timeout)
        _wait_registered(state, timeout)
    except BaseException:
        down(state_path)
        raise
    write_state(state_path, state)
    return state


def kill(state_path: Path, name: str) -> int:
    """SIGKILL one node's processes at once, as a crashed machine would vanish."""
    state = read_state(state_path)
    found = [n for n in state["nodes"] if n["name"] == name]
    if not found:
        raise SystemExit(f"no node {name!r} (nodes: {', '.join(n['name'] for n in state['nodes'])})")
    killed = signal_node(found[0], signal.SIGKILL)
    found[0]["alive"] = False
    write_state(state_path, state)
    return killed


def down(state_path: Path, grace: float = 20.0) -> None:
    """Stop every node (SIGTERM to its ``ray start``), then SIGKILL what outlives ``grace``."""
    state = read_state(state_path)
    nodes = sorted(state["nodes"], key=lambda n: n["name"] == "head")
    for n in nodes:  # `ray start --block` stops its own node's processes in order on SIGTERM
        if _start_time(n["pid"]) == n["start_time"]:
            os.kill(n["pid"], signal.SIGTERM)
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(
            _group_members(n["pid"], n["start_time"]) for n in nodes):
        time.sleep(0.5)
    for n in nodes:
        stragglers = [_command(pid) for pid in _group_members(n["pid"], n["start_time"])]
        if signal_node(n, signal.SIGKILL):
            print(f"{n['name']}: SIGKILL to {len(stragglers)} process(es) still running after "
                  f"{grace:.0f} s: {', '.join(stragglers)}", file=sys.stderr)
    shutil.rmtree(state["root"], ignore_errors=True)
    state_path.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--state", type=Path, default=DEFAULT_STATE,
                    help=f"state file (default: {DEFAULT_STATE})")
    sub = ap.add_subparsers(dest="cmd", required=True)
    u = sub.add_parser("up", help="start a head and N worker nodes")
    u.add_argument("--workers", type=int, default=2)
    u.add_argument("--head-cpus", type=float, default=0,
                   help="logical CPUs of the head (default 0: trials run on workers only)")
    u.add_argument("--worker-cpus", type=float, default=1, help="logical CPUs of each worker")
    u.add_argument("--object-store-mb", type=int, default=256)
    sub.add_parser("down", help="stop every node this state file started")
    sub.add_parser("status", help="print the state file")
    k = sub.add_parser("kill", help="SIGKILL one node (simulated crash)")
    k.add_argument("node")
    a = ap.parse_args(argv)
    if a.cmd == "up":
        state = up(a.state, a.workers, a.head_cpus, a.worker_cpus, a.object_store_mb)
        print(json.dumps({k: state[k] for k in ("address", "dashboard", "client")}))
    elif a.cmd == "down":
        down(a.state)
    elif a.cmd == "kill":
        print(f"killed {kill(a.state, a.node)} process(es) of {a.node}")
    else:
        print(json.dumps(read_state(a.state), indent=1))


if __name__ == "__main__":
    main()
