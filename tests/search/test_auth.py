"""When raysearch sends Ray's token: explicit mode wins, else this machine or a named token."""

from __future__ import annotations

import pytest
from ray._raylet import AuthenticationTokenLoader  # type: ignore[attr-defined]

from raysearch.search.auth import address_host, is_this_machine, should_send_token, token_headers

REMOTE = "http://203.0.113.7:8265"  # TEST-NET-3: never this machine


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch):
    """A token given in RAY_AUTH_TOKEN, with no auth mode set; Ray's loader cache reset around it."""
    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    monkeypatch.delenv("RAY_AUTH_TOKEN_PATH", raising=False)
    monkeypatch.setenv("RAY_AUTH_TOKEN", "raysearch-test-token-0123456789abcdef")
    AuthenticationTokenLoader.instance().reset_cache()
    yield "raysearch-test-token-0123456789abcdef"
    AuthenticationTokenLoader.instance().reset_cache()


def test_hosts_of_every_address_form() -> None:
    assert address_host("http://10.0.0.5:8265") == "10.0.0.5"
    assert address_host("ray://head.example:10001") == "head.example"
    assert address_host("127.0.0.1:6379") == "127.0.0.1"
    assert is_this_machine("127.0.0.1") and is_this_machine("localhost")
    assert not is_this_machine("203.0.113.7")


def test_named_token_is_sent_as_bearer_header(token: str) -> None:
    assert token_headers("http://127.0.0.1:8265") == {"authorization": f"Bearer {token}"}
    assert token_headers(REMOTE) == {"authorization": f"Bearer {token}"}  # named: user's intent


def test_explicit_mode_wins(token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")  # the user's own choice; we never set it
    assert not should_send_token("http://127.0.0.1:8265")
    monkeypatch.setenv("RAY_AUTH_MODE", "token")
    assert should_send_token(REMOTE)


def test_default_token_file_is_not_sent_to_other_machines(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH"):
        monkeypatch.delenv(var, raising=False)
    AuthenticationTokenLoader.instance().reset_cache()
    try:
        assert token_headers(REMOTE) == {}
    finally:
        AuthenticationTokenLoader.instance().reset_cache()
