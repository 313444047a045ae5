"""The unit lane's rule, enforced: no network socket, no process, no pty.

A unit test that needs one of these belongs in tests/integration or tests/system; this guard
makes it fail instead of quietly turning the fast lane into a slow one. Unix sockets stay
allowed: asyncio's event loop wakes itself through an internal socketpair.
"""

from __future__ import annotations

import os
import pty
import socket
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest

NETWORK_FAMILIES = (socket.AF_INET, socket.AF_INET6)


class LaneViolation(BaseException):
    """Raised where a unit test reaches outside the process; a BaseException so no handler swallows it."""


@pytest.fixture(autouse=True)
def no_sockets_no_processes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Refuse network sockets, subprocesses and ptys for the test, and fail it if it tried."""
    violations: list[str] = []

    def refuse(what: str) -> LaneViolation:
        violations.append(what)
        return LaneViolation(f"unit tests use no {what}: move this test to tests/integration")

    def network(name: str) -> Callable[..., Any]:
        original = getattr(socket.socket, name)

        def guarded(sock: socket.socket, address: Any, *args: Any) -> Any:
            if sock.family in NETWORK_FAMILIES:
                raise refuse(f"network socket ({name} {address!r})")
            return original(sock, address, *args)

        return guarded

    def process(what: str) -> Callable[..., Any]:
        def guarded(*args: Any, **kwargs: Any) -> Any:
            raise refuse(what)

        return guarded

    for name in ("connect", "connect_ex", "bind"):
        monkeypatch.setattr(socket.socket, name, network(name))
    monkeypatch.setattr(subprocess, "Popen", process("subprocess"))
    monkeypatch.setattr(os, "fork", process("fork"))
    monkeypatch.setattr(os, "posix_spawn", process("posix_spawn"))
    monkeypatch.setattr(os, "openpty", process("pty"))
    monkeypatch.setattr(pty, "openpty", process("pty"))
    yield
    if violations:
        pytest.fail(f"unit tests use no sockets or processes, this one tried: {', '.join(violations)}")
