"""The TCP/UDP sockets that processes listen on, read from /proc (Linux only)."""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Listener:
    proto: str  # tcp, tcp6, udp, udp6
    ip: str
    port: int
    pid: int
    command: str

    @property
    def loopback(self) -> bool:
        ip = ipaddress.ip_address(self.ip)
        mapped = getattr(ip, "ipv4_mapped", None)  # ::ffff:127.0.0.1 (a dual-stack socket)
        return bool((mapped or ip).is_loopback)


def _address(field: str) -> tuple[str, int]:
    hex_ip, hex_port = field.split(":")
    raw = bytes.fromhex(hex_ip)
    if len(raw) == 4:  # /proc writes each 32-bit word in host (little-endian) order
        return socket.inet_ntop(socket.AF_INET, raw[::-1]), int(hex_port, 16)
    words = struct.unpack("<4I", raw)
    return socket.inet_ntop(socket.AF_INET6, struct.pack(">4I", *words)), int(hex_port, 16)


def _bound_sockets() -> dict[int, tuple[str, str, int]]:
    """inode -> (proto, ip, port) of every listening TCP socket and every bound UDP socket."""
    out = {}
    for proto in ("tcp", "tcp6", "udp", "udp6"):
        table = Path("/proc/net", proto)
        if not table.exists():
            continue
        for line in table.read_text().splitlines()[1:]:
            f = line.split()
            listening = f[3] == "0A" if proto.startswith("tcp") else f[3] == "07"
            if listening:
                out[int(f[9])] = (proto, *_address(f[1]))
    return out


def descendants(root: int) -> list[int]:
    """``root`` and every process below it (by parent pid)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def listeners(pids: list[int]) -> list[Listener]:
    """What the processes ``pids`` listen on."""
    bound = _bound_sockets()
    out = []
    for pid in pids:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue  # it ended meanwhile
        for fd in fds:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and int(target[8:-1]) in bound:
                out.append(Listener(*bound[int(target[8:-1])], pid, command.strip()))
    return out
