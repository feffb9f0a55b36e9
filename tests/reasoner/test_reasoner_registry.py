"""The reasoner registry and its plugin seam: a real package with an entry point is installed
with pip into a temporary directory and selected by name through reasoner.base.create."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from reasoner import base
from reasoner.base import (
    BUILTINS,
    Context,
    InteractiveShell,
    Reasoner,
    ReasonerError,
    Reply,
    TerminalBackend,
    available,
    check_reasoner,
    create,
    register,
)

PLUGIN_SRC = Path(__file__).parent / "plugin_pkg"


def test_plugin_is_absent_before_install() -> None:
    # runs first (file order), before the module-scoped install below
    assert "shout" not in available()
    with pytest.raises(ReasonerError, match="unknown reasoner 'shout'"):
        create("shout")


@pytest.fixture(scope="module")
def installed_plugin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """pip-install tests/reasoner/plugin_pkg (offline, no dependencies) into a target dir on
    sys.path, the way a user's `pip install hnc-echo-plugin` would make it visible."""
    work = tmp_path_factory.mktemp("plugin")
    src = work / "src"
    shutil.copytree(PLUGIN_SRC, src)  # build in a copy: setuptools writes build/ in-tree
    target = work / "site"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
         "--no-build-isolation", "--disable-pip-version-check", "--target", str(target),
         str(src)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (target / "hnc_echo_plugin.py").exists()
    sys.path.insert(0, str(target))
    try:
        yield target
    finally:
        sys.path.remove(str(target))
        sys.modules.pop("hnc_echo_plugin", None)


def test_plugin_is_found_through_its_entry_point(installed_plugin: Path) -> None:
    names = available()
    assert {"shout", "shout-broken", "shout-incomplete"} <= set(names)
    assert set(BUILTINS) <= set(names)
    plugin = create("shout", suffix="!!")
    assert isinstance(plugin, Reasoner)
    assert type(plugin).__module__ == "hnc_echo_plugin"
    assert str(installed_plugin) in sys.modules["hnc_echo_plugin"].__file__
    reply = plugin.answer("hello", Context(cols=100))
    assert reply == Reply(text="HELLO!!", trace={"plugin": "shout", "cols": 100})


def test_broken_plugins_fail_with_one_line(installed_plugin: Path) -> None:
    with pytest.raises(ReasonerError, match="plugin 'shout-broken' failed to load") as err:
        create("shout-broken")
    assert "\n" not in str(err.value)
    with pytest.raises(ReasonerError, match="does not implement the Reasoner protocol: "
                                            "missing answer, close"):
        create("shout-incomplete")


def test_register_in_process_and_contract_checks() -> None:
    class Upper:
        name = "upper-test"

        def answer(self, line: str, context: Context) -> Reply:
            return Reply(line.upper())

        def close(self) -> None:
            pass

    register("upper-test", Upper)
    try:
        assert "upper-test" in available()
        assert create("upper-test").answer("x", Context()).text == "X"
    finally:
        base._EXTRA.pop("upper-test")
    with pytest.raises(ReasonerError, match="a str `name`"):
        check_reasoner(type("NoName", (), {"answer": lambda s, *a: None,
                                           "close": lambda s: None})(), "noname")


def test_builtins_are_lazy_and_typed() -> None:
    assert BUILTINS["shell"] == "reasoner.backends.shell:ShellBackend"
    from reasoner.backends.shell import ShellBackend

    sh = ShellBackend()  # not started: nothing runs until start()
    assert isinstance(sh, TerminalBackend) and isinstance(sh, InteractiveShell)
    assert not sh.alive()
