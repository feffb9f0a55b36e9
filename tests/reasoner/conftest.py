"""Fixtures for the shell tests: a started sandboxed shell and a `Driver` (shell_driver.py) that
feeds its output to the real terminal emulator, as the session loop does."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from shell_driver import Driver

from reasoner.backends.sandbox import bwrap_problem
from reasoner.backends.shell import ShellBackend


@pytest.fixture(scope="session")
def sandbox_ok() -> None:
    """The shell tests need bubblewrap; without it they fail with the reason (no silent skip)."""
    problem = bwrap_problem()
    assert problem is None, f"the sandboxed shell cannot run here: {problem}"


@pytest.fixture
def shell(sandbox_ok: None) -> Iterator[ShellBackend]:
    sh = ShellBackend(command_timeout=10)
    sh.start(80, 24)
    yield sh
    sh.close()


@pytest.fixture
def drv(shell: ShellBackend) -> Driver:
    d = Driver(shell)
    d.settle(lambda: shell.at_prompt)
    return d
