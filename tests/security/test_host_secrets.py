"""Host secrets from inside the sandbox: root's files, /etc/shadow, ~/.ssh, world-readable files
in the host's shared directories, and the host process's environment through /proc.

The host side plants canaries (a random secret in this process's environment, world-readable
files in /tmp, /var/tmp, /dev/shm and /run) and checks that the secret never appears in anything
the sandbox printed during the whole session (read from the recording on the host's disk).
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SECRET_ENV, Attack

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def canary_files(attack: Attack) -> Iterator[list[Path]]:
    """World-readable files holding the secret, in directories every host user can read."""
    name = f"hnc-canary-{secrets.token_hex(6)}"
    made = []
    for base in ("/tmp", "/var/tmp", "/dev/shm", "/run"):
        path = Path(base) / name
        try:
            path.write_text(attack.secret + "\n")
        except OSError:
            continue
        path.chmod(0o644)
        made.append(path)
    assert made, "could not plant any canary file on the host"
    yield made
    for path in made:
        path.unlink(missing_ok=True)


def test_root_files_shadow_and_ssh_keys(attack: Attack) -> None:
    out = attack.run("cat /etc/shadow /etc/gshadow /root/.ssh/id_rsa /root/.bash_history "
                     "/etc/ssh/ssh_host_ed25519_key; ls -a /root ~root/.ssh")
    for path in ("/etc/shadow", "/etc/gshadow", "/root/.ssh/id_rsa", "/root/.bash_history",
                 "/etc/ssh/ssh_host_ed25519_key"):
        assert f"cat: {path}: No such file or directory" in out
    assert "ls: cannot access '/root': No such file or directory" in out
    # /etc inside is generated: the passwd file names only the sandbox's own users
    out = attack.run("cut -d: -f1 /etc/passwd | tr '\\n' ' '; echo; ls /home /work 2>&1")
    assert "root user nobody" in out
    assert "ls: cannot access '/work': No such file or directory" in out
    attack.answers()


def test_canary_files_in_shared_host_directories(attack: Attack,
                                                 canary_files: list[Path]) -> None:
    paths = " ".join(str(p) for p in canary_files)
    out = attack.run(f"cat {paths}; echo found=$(grep -rslD skip {attack.secret[7:19]} "
                     "/tmp /var/tmp /dev /home | wc -l)")
    for path in canary_files:
        assert f"cat: {path}: No such file or directory" in out
    assert "found=0" in out
    assert attack.secret not in attack.output()
    attack.answers()


def test_host_environment_through_proc(attack: Attack) -> None:
    host_pid, bwrap_pid = os.getpid(), attack.leader
    assert os.environ[SECRET_ENV] == attack.secret  # the host process does carry the secret
    out = attack.run("env | sort | cut -d= -f1 | tr '\\n' ' '")
    assert SECRET_ENV not in out
    assert "PYTEST_CURRENT_TEST" not in out  # nothing of this (host) process's environment
    attack.run(f"cat /proc/1/environ /proc/{host_pid}/environ /proc/{bwrap_pid}/environ "
               "| tr '\\0' '\\n'")
    attack.run("for f in /proc/[0-9]*/environ; do tr '\\0' '\\n' < $f; done 2>&1 | sort -u")
    attack.run(f"grep -as {SECRET_ENV} /proc/*/environ /proc/*/task/*/environ; echo grep=$?")
    assert attack.secret not in attack.output()
    assert SECRET_ENV not in attack.output().replace(f"grep -as {SECRET_ENV}", "")
    attack.answers()


def test_host_processes_are_invisible(attack: Attack) -> None:
    out = attack.run("cat /proc/[0-9]*/cmdline | tr '\\0' ' '; echo; ls -d /proc/[0-9]* | wc -l")
    printed = out.splitlines()[1:]
    # the host's command line (this pytest run) is nowhere in the sandbox's /proc
    host_cmd = " ".join(sys.argv[1:2]) or "pytest"
    assert not any(host_cmd in ln for ln in printed), printed
    assert not any("pytest" in ln for ln in printed), printed
    # as many processes as the host sees in the sandbox's pid namespace (+/- the ones that ran
    # the command and have exited since)
    seen_inside = int([ln for ln in printed if ln.strip().isdigit()][-1])
    assert seen_inside <= len(attack.sandbox_pids()) + 3
    assert seen_inside < 12
    attack.answers()


def test_no_host_file_descriptors_inherited(attack: Attack) -> None:
    """Every open file of every sandbox process, read from the host's /proc: the sandbox's pty,
    pipes and its own files - never a host socket, a memfd, or a host file opened before bwrap."""
    attack.run("sleep 30 | cat &")  # a background pipeline with its own descriptors
    seen = []
    for pid in attack.sandbox_pids():
        fd_dir = Path(f"/proc/{pid}/fd")
        try:
            names = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in names:
            try:
                seen.append(os.readlink(fd_dir / fd))
            except OSError:
                continue
    assert seen
    bad = [t for t in seen if t.startswith(("socket:", "/memfd:", "/work", "/root"))
           or "pytest" in t or t.endswith(".cast")]
    assert bad == []
    attack.answers()
