"""Ray token authentication for clients of a cluster: when to send this machine's token.

Ray 2.60 clusters require a token (``RAY_AUTH_MODE=token``). A driver or job client finds the
token through Ray's own loader (``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH``, else
``~/.ray/auth_token``) but Ray sends it to an *explicit* address only when ``RAY_AUTH_MODE=token``
is set, so that a token is never handed to an arbitrary server by accident. raysearch keeps that
rule and adds the two cases where the intent is plain: the cluster runs on this machine (the
token file is the cluster's own), or the user named a token in ``RAY_AUTH_TOKEN`` /
``RAY_AUTH_TOKEN_PATH``. An explicit ``RAY_AUTH_MODE`` always wins; raysearch never disables
authentication.
"""

from __future__ import annotations

import contextlib
import os
import socket
from urllib.parse import urlparse

MODE_VAR = "RAY_AUTH_MODE"
TOKEN_VARS = ("RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")


def address_host(address: str) -> str:
    """The host of ``http://h:8265``, ``ray://h:10001`` or ``h:6379``."""
    if "://" in address:
        return urlparse(address).hostname or ""
    return address.rsplit(":", 1)[0].strip("[]")


def is_this_machine(host: str) -> bool:
    """Loopback, or an address one of this machine's interfaces holds (it can be bound)."""
    if host in ("localhost", "127.0.0.1", "::1", ""):
        return True
    with contextlib.suppress(OSError), socket.socket() as s:
        s.bind((socket.gethostbyname(host), 0))
        return True
    return False


def has_token() -> bool:
    from ray._raylet import AuthenticationTokenLoader  # type: ignore[attr-defined]

    return bool(AuthenticationTokenLoader.instance().has_token(ignore_auth_mode=True))


def should_send_token(address: str) -> bool:
    """Whether a client of ``address`` authenticates with the token this machine holds."""
    mode = os.environ.get(MODE_VAR)
    if mode is not None:
        return mode.lower() == "token"
    if address == "auto":
        return has_token()  # what ray.init("auto") itself does for a local cluster
    named = any(os.environ.get(v) for v in TOKEN_VARS)
    return (named or is_this_machine(address_host(address))) and has_token()


def token_headers(address: str) -> dict[str, str]:
    """``{"authorization": "Bearer ..."}`` for the Jobs API at ``address``, or nothing."""
    if not should_send_token(address):
        return {}
    from ray._raylet import AuthenticationTokenLoader  # type: ignore[attr-defined]

    headers: dict[str, str] = AuthenticationTokenLoader.instance().get_token_for_http_header(
        ignore_auth_mode=True)
    return headers


def enable_for_driver(address: str) -> None:
    """Turn token mode on in this process (and its children) before ``ray.init(address)``."""
    if os.environ.get(MODE_VAR) is None and should_send_token(address):
        from ray._raylet import Config  # type: ignore[attr-defined]

        os.environ[MODE_VAR] = "token"
        Config.initialize("")  # Ray caches its config; this is how Ray itself switches modes
