"""Fixtures for tests that talk to the fake Slack API (and never to the internet)."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from tests.fakes.slack_api import FakeSlack

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture(autouse=True)
def no_internet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any connection that is not to loopback (urllib/http.client use socket.create_connection)."""
    real = socket.create_connection

    def guarded(address, *args, **kwargs):  # type: ignore[no-untyped-def]
        host = address[0]
        if host not in _LOOPBACK:
            raise AssertionError(f"test tried to reach {host}:{address[1]}; use FakeSlack")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", guarded)


@pytest.fixture
def fake_slack() -> Iterator[FakeSlack]:
    with FakeSlack() as slack:
        yield slack
