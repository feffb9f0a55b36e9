"""Hostile and bad input to the sandboxed shell. For each: a clear message on the
symbolic screen, the shell keeps answering afterwards, and the host is untouched."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from shell_driver import Driver

from reasoner.backends.shell import ShellBackend

# every test here starts a real bubblewrap sandbox
pytestmark = pytest.mark.integration


@pytest.fixture
def hostile(sandbox_ok: None) -> Iterator[Driver]:
    """A shell with a short command timeout and a small output cap, so the tests stay fast."""
    sh = ShellBackend(command_timeout=1.5, max_output=200_000)
    sh.start(80, 24)
    drv = Driver(sh)
    drv.settle(lambda: sh.at_prompt)
    yield drv
    sh.close()


def answers(drv: Driver) -> None:
    """The shell still works: a command round-trips and the prompt comes back."""
    drv.command("echo still-answering")
    lines = drv.last_lines(3)  # bash may add a job notice ("[1]+ Done ...") before the prompt
    assert "still-answering" in lines and lines[-1] == "user@hnc:~$"


def test_sleep_1000_times_out(hostile: Driver) -> None:
    t0 = time.monotonic()
    hostile.command("sleep 1000")
    assert time.monotonic() - t0 < 5
    assert "[hybrid-nc: command timed out after 1.5 s - interrupted]" in hostile.text()
    assert hostile.shell.last_status == 130
    answers(hostile)


def test_cat_waiting_on_stdin_times_out(hostile: Driver) -> None:
    hostile.command("cat")
    assert "[hybrid-nc: command timed out after 1.5 s - interrupted]" in hostile.text()
    answers(hostile)


def test_builtin_busy_loop_times_out(hostile: Driver) -> None:
    hostile.command("while :; do :; done")  # runs inside bash itself, not a child
    assert "command timed out" in hostile.text()
    answers(hostile)


def test_command_ignoring_sigint_is_killed(hostile: Driver) -> None:
    hostile.command("bash -c \"trap '' INT; sleep 1000\"", timeout=15)
    assert "command timed out" in hostile.text()
    answers(hostile)


def test_fork_bomb(hostile: Driver) -> None:
    sh = hostile.shell
    hostile.type(":(){ :|:& };:\r")
    assert hostile.settle(lambda: "[hybrid-nc: process limit (128) reached - " in hostile.text(),
                          timeout=20)
    hostile.settle(timeout=3, quiet=0.5)
    answers(hostile)
    assert sh._table is not None and sh._table.count() <= 5  # init, supervisor, bash (+ps)


def test_yes_is_capped_and_reads_stay_short(hostile: Driver) -> None:
    sh = hostile.shell
    sh.command_timeout = 60  # the output cap, not the timeout, must stop it
    sh.write(b"yes\r")
    slowest, biggest = 0.0, 0
    end = time.monotonic() + 30
    while time.monotonic() < end and "output limit" not in hostile.text():
        t0 = time.monotonic()
        data = sh.read(0.05)
        slowest = max(slowest, time.monotonic() - t0)
        biggest = max(biggest, len(data))
        hostile.term.feed(data)
    assert "[hybrid-nc: output limit (200000 bytes) reached - command stopped]" in hostile.text()
    # each read() returns quickly with a bounded amount, so a keystroke is never stuck behind
    # the flood for long (the emulator digests ~16 KiB in about 0.15 s)
    assert slowest < 0.3 and biggest <= 16 * 1024 + 512
    assert hostile.settle(lambda: sh.at_prompt)
    answers(hostile)


def test_cat_dev_urandom(hostile: Driver) -> None:
    hostile.shell.command_timeout = 60  # the output cap, not the timeout, must stop it
    hostile.command("cat /dev/urandom", timeout=30)
    # random bytes hold escape sequences that may have moved the cursor or set margins: the
    # screen is reset and the notice says why
    assert hostile.lines()[1] == \
        "[hybrid-nc: output limit (200000 bytes) reached; binary data - screen reset]"
    assert hostile.lines()[2] == "user@hnc:~$" and hostile.term.cursor == (2, 12)
    answers(hostile)
    snap = hostile.term.snapshot()
    assert snap.cursor_visible


def test_binary_output(hostile: Driver) -> None:
    hostile.command("head -c 4000 /dev/urandom; printf '\\033[8m\\033(0\\033[5;9r'")
    assert hostile.lines()[1] == \
        "[hybrid-nc: the command printed binary data; the screen was reset]"
    answers(hostile)  # readable again: hidden text, line-drawing charset and margins undone
    hostile.command("seq 40")  # the whole screen scrolls again (no margins left)
    assert hostile.last_lines(3) == ["39", "40", "user@hnc:~$"]


def test_writes_outside_the_work_dir(hostile: Driver, tmp_path: Path) -> None:
    target = tmp_path / "escaped"
    hostile.command(f"echo x > /usr/hnc-escape; touch /etc/hnc-escape; echo x > {target}; "
                    "mkdir /opt/hnc-escape")
    text = hostile.text()
    assert "/usr/hnc-escape: Read-only file system" in text
    assert "/etc/hnc-escape" in text and "mkdir: cannot create directory" in text
    assert "No such file or directory" in text  # the host's tmp_path does not exist inside
    assert not Path("/usr/hnc-escape").exists() and not Path("/etc/hnc-escape").exists()
    assert not target.exists() and not Path("/opt/hnc-escape").exists()
    answers(hostile)


def test_host_secrets_are_not_visible(hostile: Driver) -> None:
    hostile.command("cat /etc/shadow; ls /root; ls -A /usr/local | wc -l")
    lines = hostile.last_lines(4)
    assert lines[0] == "cat: /etc/shadow: No such file or directory"
    assert lines[1] == "ls: cannot access '/root': No such file or directory"
    assert lines[2] == "0"
    answers(hostile)


def test_no_network(hostile: Driver) -> None:
    hits: list[object] = []
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    port = server.getsockname()[1]
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                hits.append(server.accept())
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        hostile.command("curl -sS -m 3 http://1.1.1.1/ ; echo curl=$?", timeout=15)
        assert "curl: (7)" in hostile.text() and "curl=7" in hostile.text()
        hostile.command("python3 -c \"import socket; socket.create_connection(('1.1.1.1', 80),"
                        " 3)\" 2>&1 | tail -1", timeout=15)
        assert "Network is unreachable" in hostile.last_lines(2)[0]
        hostile.command(f"python3 -c \"import socket; socket.create_connection(('127.0.0.1', "
                        f"{port}), 3)\" 2>&1 | tail -1", timeout=15)
        assert "Connection refused" in hostile.last_lines(2)[0]
        assert hits == []  # the host's server never saw the sandbox
    finally:
        stop.set()
        thread.join(2)
        server.close()
    answers(hostile)


@pytest.mark.slow
def test_one_megabyte_line_out_and_in(sandbox_ok: None) -> None:
    sh = ShellBackend(command_timeout=60)
    sh.start(80, 24)
    try:
        drv = Driver(sh)
        drv.settle(lambda: sh.at_prompt)
        drv.command("python3 -c \"print('x' * 10**6)\"", timeout=60)
        assert drv.last_lines(2) == ["x" * 80, "user@hnc:~$"]
        # typed (pasted) in: readline takes it, the command sees all of it
        drv.type(b"\x1b[200~echo " + b"y" * 1_000_000 + b" | wc -c\x1b[201~\r",
                 until=lambda: sh.at_prompt, timeout=120)
        assert drv.last_lines(2) == ["1000001", "user@hnc:~$"]
        answers(drv)
    finally:
        sh.close()


def test_invalid_utf8_typed_in(hostile: Driver) -> None:
    sh = hostile.shell
    hostile.type(b"echo \xff\xfe bad end")
    line = sh.peek_line()
    assert line == "echo \ufffd\ufffd bad end"
    assert hostile.lines()[0] == "user@hnc:~$ " + line  # the screen shows what bash holds
    hostile.type(b"\r", until=lambda: sh.at_prompt)
    assert hostile.last_lines(3)[:2] == [
        "\ufffd\ufffd bad end",  # echo printed the bytes back: not UTF-8, so flagged
        "[hybrid-nc: the command printed binary data; terminal attributes were reset]"]
    hostile.type(b"echo cut \xe2\x82", until=lambda: sh.at_prompt)  # a truncated sequence
    hostile.type(b"\x03", until=lambda: sh.at_prompt)
    answers(hostile)


def test_ctrl_c_storms(hostile: Driver) -> None:
    sh = hostile.shell
    sh.command_timeout = 10  # a notice below would then mean a real hang, not a busy machine
    hostile.type(b"\x03" * 200, until=lambda: sh.at_prompt)  # at the prompt
    answers(hostile)
    sh.write(b"sleep 100\r")
    for _ in range(200):  # while a command runs
        sh.write(b"\x03")
        hostile.pump(0.0)
    assert hostile.settle(lambda: sh.at_prompt)
    assert "[hybrid-nc" not in hostile.text()  # plain Ctrl+C: no timeout was needed
    answers(hostile)


def test_host_untouched_after_close(sandbox_ok: None) -> None:
    sh = ShellBackend()
    sh.start(80, 24)
    sh.run("sleep 1000 & (sleep 1000 &) ; nohup sleep 1000 >/dev/null 2>&1 &")
    table = sh._table
    assert table is not None
    ns = os.readlink(f"/proc/{table.init}/ns/pid")
    sh.close()
    time.sleep(0.3)
    alive = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                if os.readlink(f"/proc/{name}/ns/pid") == ns and \
                        b"Z" not in Path(f"/proc/{name}/stat").read_bytes().rsplit(b")", 1)[1][:3]:
                    alive.append(name)
            except OSError:
                pass
    assert alive == []
