"""Resource attacks: memory bombs, filling the disk, infinite output. Each is stopped by a limit
of the sandbox (RLIMIT_AS, tmpfs sizes, RLIMIT_FSIZE, the output cap and the command timeout), the
session answers afterwards, and the host's disk and this process's memory are checked directly."""

from __future__ import annotations

import resource
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from conftest import COMMAND_TIMEOUT, Attack, python_cmd

from reasoner.backends.sandbox import ShellLimits
from reasoner.backends.shell import ShellBackend
from terminal.recording import read_cast

pytestmark = pytest.mark.timeout(240)
MiB = 1 << 20


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def _too_large(out: str) -> bool:
    """The writer met RLIMIT_FSIZE: killed by SIGXFSZ, or told EFBIG when it ignores the signal
    (Python ignores SIGXFSZ and its children inherit that)."""
    return "File size limit exceeded" in out or "File too large" in out


def _run_backend(sh: ShellBackend, line: str, timeout: float = 30) -> str:
    return sh.run(line, timeout=timeout).decode("utf-8", "replace")


def test_memory_bombs_hit_the_address_space_limit(attack: Attack) -> None:
    # more than the 4 GiB per process at once: refused before a page is touched
    out = attack.run("python3 -c 'b = bytearray(6 << 30)' 2>&1 | tail -1; "
                     "perl -e '$x = \"x\" x (6 * 1024**3); print \"ALLOCATED\\n\"'")
    printed = out.splitlines()[1:]
    assert "MemoryError" in printed
    assert "Out of memory" in out and "ALLOCATED" not in printed
    out = attack.run("ulimit -v")
    assert str(4 << 20) in out.splitlines()[1:]  # KiB
    attack.answers()


@pytest.mark.slow
def test_growing_memory_stops_at_the_limit(sandbox_ok: None) -> None:
    """A program that keeps touching memory dies at the address-space limit (a small limit, so
    the host gives up little memory for the test); the shell answers afterwards."""
    sh = ShellBackend(command_timeout=20, limits=ShellLimits(address_space=256 * MiB))
    sh.start(80, 24)
    try:
        out = _run_backend(sh, python_cmd(
            "a = []\ntry:\n while True: a.append(b'x' * (8 << 20))\n"
            "except MemoryError:\n print('stopped at', len(a) * 8, 'MiB')"))
        stopped = [ln for ln in out.splitlines() if ln.startswith("stopped at")]
        assert stopped, out
        assert int(stopped[0].split()[2]) <= 256
        assert "still-here" in _run_backend(sh, "echo still-here")
    finally:
        sh.close()


@pytest.mark.slow
def test_many_processes_share_one_memory_limit(sandbox_ok: None) -> None:
    """RLIMIT_AS caps each process; six processes of 160 MiB each stay under it but together
    pass the sandbox's total memory limit, and are killed with a notice (small limits, so the
    host gives up little memory for the test)."""
    limits = ShellLimits(address_space=256 * MiB, processes=32, memory=384 * MiB)
    sh = ShellBackend(command_timeout=30, limits=limits)
    sh.start(80, 24)
    table = sh._table
    assert table is not None
    try:
        out = _run_backend(sh, python_cmd(
            "import os, time\nfor i in range(6):\n if os.fork() == 0:\n"
            "  b = b'x' * (160 << 20)\n  time.sleep(30)\n  print('fin' + 'ished')\n  os._exit(0)\n"
            "for i in range(6): os.wait()"), timeout=40)
        assert "memory limit (384 MiB for all processes) reached" in out
        assert "finished" not in out  # (the echoed command spells it in two halves)
        # seen from the host: the memory is back once the killed processes have exited (they
        # take a moment to tear down 160 MiB each on a loaded machine)
        deadline = time.monotonic() + 15
        while table.resident() >= 64 * MiB and time.monotonic() < deadline:
            time.sleep(0.1)
        assert table.resident() < 64 * MiB
        assert "still-here" in _run_backend(sh, "echo still-here")
    finally:
        sh.close()


def test_disk_fill_is_bounded_by_tmpfs_and_file_size(attack: Attack) -> None:
    free_before = shutil.disk_usage("/").free
    # one file larger than RLIMIT_FSIZE (256 MiB): the writer is stopped at the limit
    out = attack.run("head -c 300M /dev/zero > ~/big; ls -l ~/big | cut -d' ' -f5")
    assert _too_large(out)
    assert str(256 * MiB) in out.splitlines()[1:]
    # many smaller files: the 256 MiB home tmpfs is full
    out = attack.run("rm ~/big; for i in 1 2 3; do head -c 100M /dev/zero > ~/f$i || break; "
                     "done; df -m ~ | tail -1")
    assert "No space left on device" in out
    out = attack.run("truncate -s 10G ~/sparse; fallocate -l 10G ~/alloc; ls ~")
    assert _too_large(out)
    out = attack.run("rm -f ~/f* ~/sparse ~/alloc; echo cleaned")
    assert "cleaned" in out.splitlines()[1:]
    # none of it reached the host's disk (tmpfs is memory; allow for other writers)
    assert free_before - shutil.disk_usage("/").free < 200 * MiB
    attack.answers()


def test_workdir_on_the_host_keeps_the_file_size_limit(sandbox_ok: None) -> None:
    """With a host directory as home (ShellBackend(workdir=...)) there is no tmpfs size: the
    per-file limit still holds. (A total quota needs a size-limited filesystem: SECURITY.md.)"""
    base = Path(tempfile.mkdtemp(prefix="hnc-sec-work-"))  # pytest's tmp_path is root-only
    base.chmod(0o755)
    work = base / "work"
    sh = ShellBackend(workdir=str(work), command_timeout=20,
                      limits=ShellLimits(file_size=8 * MiB))
    sh.start(80, 24)
    try:
        out = _run_backend(sh, "head -c 20M /dev/zero > big; echo rc=$?")
        assert _too_large(out) and "rc=1" in out
        assert (work / "big").stat().st_size == 8 * MiB  # seen on the host
        assert "ok" in _run_backend(sh, "echo ok")
    finally:
        sh.close()
        shutil.rmtree(base, ignore_errors=True)


# What one flood may add to the recording besides the capped output: the typed line's echo, the
# notices, the prompt and the check that the session answers (all a few hundred characters).
FLOOD_EXTRA_CHARS = 4096
# asciicast v2 is JSON: a control character is written as the escape \u00XX, 6 bytes for 1.
JSON_WORST_BYTES_PER_CHAR = 6
# per event: its time, code, quotes, brackets and newline (~30 bytes)
EVENT_BYTES = 64


@pytest.mark.slow
def test_infinite_output(attack: Attack) -> None:
    """Floods end at the output cap or the command timeout. The bound on what reaches the host's
    disk is derived per command from the configured cap: at most max_output characters of
    output (plus the echo, notices and prompt), each written as at most 6 bytes of JSON."""
    cap = attack.session.shell.max_output
    rss_before = _rss_mib()
    for line in ("yes", "cat /dev/zero", "while :; do echo spam; done", "seq inf",
                 "python3 -c 'while True: print(\"x\" * 5000)'"):
        size_before = attack.record.stat().st_size
        events_before = len(read_cast(attack.record).events)
        t0 = time.monotonic()
        out = attack.run(line)
        took = time.monotonic() - t0
        assert "[hybrid-nc: " in out, line  # timed out, or the output cap stopped it
        assert took < COMMAND_TIMEOUT + 10, (line, took)
        attack.answers()
        # the cap holds: what was recorded for this command is at most the cap's worth
        events = read_cast(attack.record).events[events_before:]
        chars = sum(len(e.data) for e in events)
        assert chars <= cap + FLOOD_EXTRA_CHARS, (line, chars, cap)
        grew = attack.record.stat().st_size - size_before
        bound = JSON_WORST_BYTES_PER_CHAR * (cap + FLOOD_EXTRA_CHARS) + EVENT_BYTES * len(events)
        assert grew <= bound, (line, grew, bound)
    # this process's memory stayed put (dropped output is not kept anywhere)
    assert _rss_mib() - rss_before < 150
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 < 2048
