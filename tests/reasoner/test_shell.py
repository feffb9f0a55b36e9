"""The sandboxed shell backend: the API the session loop uses, checked on the symbolic screen.

Every test runs a real bash in a real bubblewrap sandbox and feeds the output to the real
terminal emulator (terminal.Terminal), as the loop does.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from shell_driver import Driver

from reasoner.backends import shell as shell_mod
from reasoner.backends.sandbox import _state
from reasoner.backends.shell import SandboxError, ShellBackend
from reasoner.base import InteractiveShell, ReasonerError, TerminalBackend, create
from terminal.screen import BOLD

# every test here starts a real bubblewrap sandbox
pytestmark = pytest.mark.integration


def test_first_prompt_looks_like_a_terminal(drv: Driver) -> None:
    snap = drv.term.snapshot()
    assert drv.lines()[0] == "user@hnc:~$"
    assert snap.cursor == (0, len("user@hnc:~$ "))
    assert snap.fg[0][0] == 2 and snap.attrs[0][0] & BOLD  # bold green user@host
    assert snap.fg[0][9] == 4  # blue path
    assert drv.shell.at_prompt and drv.shell.cwd == "/home/user"
    assert b"\x1b]7770" not in drv.raw


def test_done_when_example_screen(drv: Driver) -> None:
    for line in ["cd /tmp && echo hi > f", "cat f", "python3 -c 'print(2**64)'"]:
        drv.command(line)
    assert drv.last_lines(6) == [
        "user@hnc:~$ cd /tmp && echo hi > f",
        "user@hnc:/tmp$ cat f",
        "hi",
        "user@hnc:/tmp$ python3 -c 'print(2**64)'",
        "18446744073709551616",
        "user@hnc:/tmp$",
    ]
    assert drv.shell.cwd == "/tmp" and drv.shell.last_status == 0


def test_state_persists_across_commands(drv: Driver) -> None:
    drv.command("cd /tmp && mkdir -p work && cd work")
    drv.command("export GREETING=hello; greet() { echo \"$GREETING from $(pwd)\"; }")
    drv.command("echo data > file.txt")
    drv.command("greet; cat file.txt")
    assert drv.last_lines(3)[:2] == ["hello from /tmp/work", "data"]
    drv.command("history | tail -n 3 | cut -c8-")
    assert "echo data > file.txt" in drv.text()
    assert drv.shell.cwd == "/tmp/work"


def test_last_status_and_cwd_with_odd_characters(drv: Driver) -> None:
    drv.command("false")
    assert drv.shell.last_status == 1
    drv.command("(exit 7)")
    assert drv.shell.last_status == 7
    drv.command("mkdir -p '/tmp/a;b%c d' && cd '/tmp/a;b%c d'")
    assert drv.shell.cwd == "/tmp/a;b%c d" and drv.shell.last_status == 0


def test_markers_split_across_reads_are_removed() -> None:
    sh = ShellBackend()
    sh._phase = "running"  # as if a command had been typed
    stream = (b"out\r\n\x1b]7770;" + sh._token.encode() + b";A;3;%2Ftmp%3Bx\x07"
              + b"user$ \x1b]7770;" + sh._token.encode() + b";B\x07"
              + b"\x1b]7770;other;A\x07tail")
    for i in range(len(stream)):  # the worst case: one byte per read
        sh._ingest(stream[i:i + 1])
    assert bytes(sh._outq) == b"out\r\nuser$ \x1b]7770;other;A\x07tail"
    assert sh.at_prompt and sh.cwd == "/tmp;x"
    sh._outq.clear()
    sh._ingest(b"abc\x1b")  # a lone ESC is held back in case a marker starts...
    assert bytes(sh._outq) == b"abc"
    time.sleep(0.06)
    sh._flush_held()  # ...and passed on when nothing follows
    assert bytes(sh._outq) == b"abc\x1b"


def test_line_editing_history_and_completion(drv: Driver) -> None:
    drv.type("echo ab\x7f\x7fcd")  # backspace
    assert drv.lines()[0] == "user@hnc:~$ echo cd"
    drv.type("\x1b[D\x1b[Dx")  # left arrow twice, insert
    assert drv.lines()[0] == "user@hnc:~$ echo xcd"
    drv.command("")
    assert drv.lines()[1] == "xcd"
    drv.type("\x1b[A")  # up arrow: history
    assert drv.lines()[2] == "user@hnc:~$ echo xcd"
    drv.type("\x15")  # Ctrl+U: kill the line
    drv.type("ech\t")  # tab completion
    assert drv.lines()[2] == "user@hnc:~$ echo"
    assert drv.shell.peek_line() == "echo "
    drv.type("done\r", until=lambda: drv.shell.at_prompt)
    assert drv.lines()[3] == "done"


def test_peek_discard_and_fresh_prompt_as_the_loop_uses_them(drv: Driver) -> None:
    sh = drv.shell
    drv.type("98+45")
    before = drv.text()
    assert sh.peek_line() == "98+45"
    sh.discard_line()
    drv.settle()
    assert drv.text() == before  # nothing visible happened
    drv.term.feed(b"\r\n143\r\n")  # the loop shows the calculator's answer itself
    prompt = sh.fresh_prompt()
    assert prompt == b"\x1b[1;32muser@hnc\x1b[0m:\x1b[1;34m~\x1b[0m$ "
    drv.term.feed(prompt)
    drv.settle()
    assert drv.lines()[:3] == ["user@hnc:~$ 98+45", "143", "user@hnc:~$"]
    assert drv.term.cursor == (2, 12) and sh.at_prompt
    drv.command("history | tail -n 2 | cut -c8-")
    assert drv.lines()[2:5] == ["user@hnc:~$ history | tail -n 2 | cut -c8-", "98+45",
                                "history | tail -n 2 | cut -c8-"]


def test_peek_line_cursor_in_middle_unicode_and_empty(drv: Driver) -> None:
    sh = drv.shell
    assert sh.peek_line() == ""
    drv.type("echo héllo wörld\x1b[D\x1b[D")
    before = drv.text()
    assert sh.peek_line() == "echo héllo wörld"
    drv.settle()
    assert drv.text() == before and drv.term.cursor == (0, 12 + 14)
    drv.type("\x1b[F!\r", until=lambda: sh.at_prompt)  # End, then type: the line is intact
    assert drv.lines()[1] == "héllo wörld!"


def test_peek_line_refuses_when_not_at_prompt(drv: Driver) -> None:
    drv.type("cat\r")
    assert not drv.shell.at_prompt
    with pytest.raises(ReasonerError, match="not waiting at its prompt"):
        drv.shell.peek_line()
    drv.shell.interrupt()
    assert drv.settle(lambda: drv.shell.at_prompt)


def test_interrupt_and_ctrl_c(drv: Driver) -> None:
    drv.type("sleep 30\r")
    assert not drv.shell.at_prompt
    t0 = time.monotonic()
    drv.shell.interrupt()
    assert drv.settle(lambda: drv.shell.at_prompt, timeout=3)
    assert time.monotonic() - t0 < 2 and drv.shell.last_status == 130
    drv.type("sleep 30\r")
    drv.type(b"\x03", until=lambda: drv.shell.at_prompt)
    assert drv.shell.last_status == 130
    drv.command("echo still here")
    assert drv.last_lines(2)[0] == "still here"


def test_ctrl_d_at_empty_prompt_restarts_the_shell(drv: Driver) -> None:
    drv.command("echo kept > note; cd /tmp")
    drv.type(b"\x04", until=lambda: drv.shell.at_prompt and drv.shell.restarts == 1)
    assert "[hybrid-nc: shell exited (status 0) - started a new one, files kept]" in drv.lines()
    assert drv.last_lines(1) == ["user@hnc:~$"] and drv.shell.cwd == "/home/user"
    drv.command("cat note")
    assert drv.last_lines(2)[0] == "kept"
    assert drv.shell.alive()


def test_vi_edits_a_file(drv: Driver) -> None:
    drv.type("vi notes.txt\r", until=lambda: drv.term.in_alternate_screen)
    assert drv.lines()[1] == "~" and "notes.txt" in drv.lines()[-1]
    drv.type("ihello from vi\x1b")
    assert drv.lines()[0] == "hello from vi"
    drv.type(":wq\r", until=lambda: drv.shell.at_prompt)
    assert not drv.term.in_alternate_screen
    drv.command("cat notes.txt")
    assert drv.last_lines(2)[0] == "hello from vi"


def test_less_pages_and_quits(drv: Driver) -> None:
    drv.type("seq 100 | less\r", until=lambda: drv.lines()[-1].startswith(":"))
    assert drv.lines()[0] == "1" and drv.lines()[22] == "23"
    drv.type(" ", until=lambda: drv.lines()[0] == "24")
    assert drv.lines()[22] == "46"
    drv.type("q", until=lambda: drv.shell.at_prompt)
    assert drv.lines()[0] == "user@hnc:~$ seq 100 | less"


def test_top_shows_the_sandbox_processes(drv: Driver) -> None:
    drv.type("top\r", until=lambda: "PID USER" in drv.text())
    text = drv.text()
    assert "PID USER" in text and " top" in text and "bash" in text
    drv.type("q", until=lambda: drv.shell.at_prompt)
    drv.command("echo back")
    assert "back" in drv.last_lines(2)


def test_python_repl_is_interactive_and_not_timed_out(sandbox_ok: None) -> None:
    sh = ShellBackend(command_timeout=2.0)
    sh.start(80, 24)
    try:
        drv = Driver(sh)
        drv.settle(lambda: sh.at_prompt)
        drv.type("python3\r", until=lambda: ">>>" in drv.text(), timeout=20)
        drv.type("7*6\r", until=lambda: "42" in drv.text())
        time.sleep(2.5)  # idle longer than command_timeout: raw mode means interactive
        drv.type("6*9\r", until=lambda: "54" in drv.text())
        assert "[hybrid-nc" not in drv.text()
        drv.type("import time; time.sleep(30)\r")  # a hanging statement is still stopped
        assert drv.settle(lambda: "KeyboardInterrupt" in drv.text(), timeout=10)
        assert "[hybrid-nc: command timed out after 2 s - interrupted]" in drv.text()
        drv.type(b"\x04", until=lambda: sh.at_prompt)
        assert drv.last_lines(1) == ["user@hnc:~$"]
    finally:
        sh.close()


def test_bracketed_paste_is_one_edit(drv: Driver) -> None:
    assert drv.shell.bracketed_paste
    drv.type(b"\x1b[200~echo one\necho two\x1b[201~")
    assert drv.shell.at_prompt  # pasted newlines did not run anything
    drv.type(b"\r", until=lambda: drv.shell.at_prompt and "two" in drv.last_lines(2))
    assert drv.last_lines(3) == ["one", "two", "user@hnc:~$"]


def test_resize_reaches_the_program(drv: Driver) -> None:
    drv.command("stty size")
    assert drv.last_lines(2)[0] == "24 80"
    drv.shell.resize(100, 30)
    drv.term.resize(100, 30)
    drv.settle()
    drv.command("stty size; tput cols")
    assert drv.last_lines(3)[:2] == ["30 100", "100"]


def test_run_convenience_and_timeout_notice(sandbox_ok: None) -> None:
    sh = ShellBackend(command_timeout=5)
    sh.start(80, 24)
    try:
        out = sh.run("echo hi")
        assert out.startswith(b"\x1b[?2004h\x1b[1;32muser@hnc")  # pending prompt included
        assert b"\rhi\r\n" in out and out.endswith(b"$ ")
        t0 = time.monotonic()
        out = sh.run("sleep 20", timeout=0.5)
        assert time.monotonic() - t0 < 3
        assert b"[hybrid-nc: command timed out after 0.5 s - interrupted]" in out
        assert sh.at_prompt and sh.last_status == 130
        assert b"\r3\r\n" in sh.run("echo $((1+2))")
        with pytest.raises(ReasonerError):
            sh.write(b"cat\r")
            sh.read(0.2)
            sh.run("echo no")
    finally:
        sh.close()


def test_python_and_sympy_inside(drv: Driver) -> None:
    drv.command("python3 -c 'import sympy; print(sympy.sqrt(8), sympy.Rational(7, 3))'")
    assert drv.last_lines(2)[0] == "2*sqrt(2) 7/3"


def test_clean_environment(sandbox_ok: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HNC_HOST_SECRET", "s3cret")
    with ShellBackend() as sh:
        out = sh.run("env | sort | cut -d= -f1 | tr '\\n' ' '").decode()
        assert "HNC_HOST_SECRET" not in out and "s3cret" not in out
        assert "HOME PATH" not in out  # sorted names, one per entry
        names = set(out.split("\n")[1].split())
        assert {"HOME", "PATH", "TERM", "LANG"} <= names
        assert b"xterm-256color" in sh.run("echo $TERM")


def test_close_kills_every_sandbox_process(sandbox_ok: None) -> None:
    sh = ShellBackend()
    sh.start(80, 24)
    sh.run("sleep 1000 & sleep 1000 &")
    table = sh._table
    assert table is not None
    pids = list(table.members())
    assert len(pids) >= 5
    sh.close()
    time.sleep(0.2)
    # dead: gone, or a zombie waiting for the host's init to reap it
    assert all(_state(p) in (None, "Z") or not _is_sandboxed(p) for p in pids)
    assert not sh.alive() and sh.read(0.01) == b""
    sh.close()  # idempotent


def _is_sandboxed(pid: int) -> bool:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid") != os.readlink("/proc/self/ns/pid")
    except OSError:
        return False


def test_refuses_to_start_without_a_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shell_mod, "bwrap_problem", lambda: "bwrap is not installed")
    sh = ShellBackend()
    with pytest.raises(SandboxError) as err:
        sh.start(80, 24)
    msg = str(err.value)
    assert "\n" not in msg and "bwrap is not installed" in msg and "--unsafe-no-sandbox" in msg


def test_unsafe_mode_runs_without_sandbox_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shell_mod, "bwrap_problem", lambda: "bwrap is not installed")
    with ShellBackend(unsafe=True) as sh:
        drv = Driver(sh)
        drv.settle(lambda: sh.at_prompt)
        assert "[hybrid-nc: NO SANDBOX (--unsafe-no-sandbox) - commands can change this " \
            "machine]" in drv.lines()
        assert not sh.sandboxed
        drv.command("echo $HOME; pwd")
        home, cwd = drv.last_lines(3)[:2]
        assert home == cwd and home.startswith("/tmp/hybrid-nc-home-")
    assert not Path(home).exists()  # the temporary home went with the session


def test_workdir_persists_between_sessions(sandbox_ok: None, tmp_path: Path) -> None:
    # under /tmp: as root the sandbox user is nobody, who cannot enter pytest's private tmp_path
    base = Path(tempfile.mkdtemp(prefix="hnc-test-", dir="/tmp"))
    base.chmod(0o755)
    try:
        work = base / "home"
        with ShellBackend(workdir=str(work)) as sh:
            sh.run("echo remembered > memo.txt")
        assert (work / "memo.txt").read_text() == "remembered\n"
        with ShellBackend(workdir=str(work)) as sh:
            assert b"remembered" in sh.run("cat memo.txt")
    finally:
        shutil.rmtree(base, ignore_errors=True)
    if os.geteuid() == 0:  # a directory nobody cannot reach is refused with a clear message
        private = tmp_path / "private"
        tmp_path.chmod(0o700)
        with pytest.raises(SandboxError, match="cannot enter"):
            ShellBackend(workdir=str(private)).start(80, 24)


def test_registry_creates_the_shell(sandbox_ok: None) -> None:
    sh = create("shell", command_timeout=3)
    assert isinstance(sh, ShellBackend) and isinstance(sh, TerminalBackend)
    assert isinstance(sh, InteractiveShell) and sh.name == "shell"
    assert sh.command_timeout == 3


def test_bad_arguments_are_one_line_errors() -> None:
    with pytest.raises(ValueError):
        ShellBackend(command_timeout=-1)
    with pytest.raises(ValueError):
        ShellBackend(max_output=10)
    with pytest.raises(ReasonerError, match="out of range"):
        ShellBackend().start(0, 24)


def test_signals_start_at_their_defaults_whatever_the_parent_ignores(sandbox_ok) -> None:
    """Python ignores SIGPIPE, and a parent started in the background by a script ignores SIGINT;
    the sandboxed shell must not inherit either (`yes | head` quietly stops; Ctrl+C works)."""
    import signal

    before = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        sh = ShellBackend(command_timeout=10)
        sh.start(80, 24)
    finally:
        signal.signal(signal.SIGINT, before)
    drv = Driver(sh)
    try:
        assert drv.settle(lambda: sh.at_prompt)
        drv.command("grep SigIgn /proc/self/status; yes | head -2")
        assert drv.last_lines(4)[:3] == ["SigIgn: 0000000000000000", "y", "y"]
        assert "Broken pipe" not in drv.text()
        drv.type("sleep 30\r")
        time.sleep(0.3)
        drv.type(b"\x03", until=lambda: sh.at_prompt, timeout=5)
        assert sh.at_prompt and sh.last_status == 130
    finally:
        sh.close()
