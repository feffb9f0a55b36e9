"""Writes outside the work directory, /proc and /sys tricks, setuid binaries, and mount /
unshare / chroot attempts. The host side checks the files, kernel settings and mounts itself."""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import socket
from pathlib import Path

import pytest
from conftest import Attack, python_cmd

pytestmark = pytest.mark.timeout(180)
ROOT = Path(__file__).resolve().parents[2]


def _digest(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_writes_outside_the_work_directory(attack: Attack) -> None:
    name = f"hnc-escape-{secrets.token_hex(6)}"
    host_targets = [f"/usr/{name}", f"/usr/bin/{name}", f"/etc/{name}", f"/{name}",
                    f"/var/{name}", f"/root/{name}", f"/opt/{name}", f"/lib/{name}",
                    f"/tmp/{name}", f"/var/tmp/{name}", f"/dev/shm/{name}", f"{ROOT}/{name}",
                    f"/home/{name}"]
    passwd = _digest("/etc/passwd")
    cmds = [f"echo x > {t}" for t in host_targets]
    # through a link made in the home directory, and with cp/mv/tee/python
    cmds += [f"ln -s /usr ~/u && echo x > ~/u/{name}", f"cp /bin/true /usr/bin/{name}",
             f"tee /etc/{name} < /dev/null", f"mkdir /opt/{name}",
             f"python3 -c \"open('/usr/{name}', 'w')\" 2>&1 | tail -1",
             "echo 'evil:x:0:0::/:/bin/sh' >> /etc/passwd"]
    out = attack.run("; ".join(cmds))
    assert "Read-only file system" in out or "Permission denied" in out
    # the sandbox's own /tmp takes the write, and it stays inside
    out = attack.run(f"cat /tmp/{name} && ls -ld /tmp /home/user | cut -c1-10")
    assert "x" in out.splitlines()[1:]
    for target in host_targets:
        assert not Path(target).exists(), f"{target} appeared on the host"
    assert _digest("/etc/passwd") == passwd
    attack.answers()


def test_proc_and_sys_tricks(attack: Attack) -> None:
    watched = [p for p in ("/proc/sys/kernel/core_pattern", "/proc/sys/kernel/hostname",
                           "/proc/sys/kernel/sysrq")
               if Path(p).exists()]
    before = {p: Path(p).read_text() for p in watched}
    hostname = socket.gethostname()
    out = attack.run(
        "echo '|/bin/sh -c id' > /proc/sys/kernel/core_pattern; echo pwned > "
        "/proc/sys/kernel/hostname; hostname pwned2; echo h > /proc/sysrq-trigger; "
        "echo 3 > /proc/sys/vm/drop_caches; echo 0 > /proc/sys/kernel/sysrq; "
        "head -c1 /proc/kmsg; ls /sys/kernel /sys/fs/cgroup; echo 1 > /sys/kernel/mm/ksm/run")
    assert "/proc/sys/kernel/core_pattern: Permission denied" in out
    assert "/proc/sys/kernel/hostname: Permission denied" in out
    assert "you must be root to change the host name" in out
    assert "cannot open '/proc/kmsg' for reading: Permission denied" in out
    for path in ("/proc/sysrq-trigger", "/proc/sys/vm/drop_caches"):  # absent on some kernels
        assert any(f"{path}: {why}" in out for why in ("Permission denied",
                   "No such file or directory", "Read-only file system")), path
    assert "ls: cannot access '/sys/kernel': No such file or directory" in out
    # /proc/PID/mem of host processes (this test, the bwrap outside): not there to open
    host = [os.getpid(), attack.leader]
    out = attack.run(python_cmd(
        f"for p in {host!r}:\n try:\n  open('/proc/%d/mem' % p, 'r+b'); print('OPENED', p)\n"
        " except OSError as e:\n  print(p, e.strerror)"))
    for pid in host:
        assert f"{pid} No such file or directory" in out
    # what the sandbox *can* open is its own processes' memory (same user): seen from the host,
    # none of them has a capability or a descriptor worth taking over
    for pid in attack.sandbox_pids():
        status = Path(f"/proc/{pid}/status").read_text()
        caps = dict(ln.split(":\t") for ln in status.splitlines() if ln.startswith("Cap"))
        assert {caps[k].strip() for k in ("CapPrm", "CapEff", "CapAmb")} == {"0" * 16}, status
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
                assert target.startswith(("/dev/pts/", "anon_inode:", "pipe:", "/dev/null",
                                          "/etc/hnc-supervisor.sh")), (pid, target)
    after = {p: Path(p).read_text() for p in before}
    assert after == before
    assert socket.gethostname() == hostname
    attack.answers()


def test_setuid_binaries_give_no_privileges(attack: Attack) -> None:
    out = attack.run("grep -E '^(NoNewPrivs|CapEff|CapBnd)' /proc/self/status | tr -s '\\t ' ' '")
    assert "NoNewPrivs: 1" in out and "CapEff: 0000000000000000" in out
    assert "CapBnd: 0000000000000000" in out
    attempts = ["su -c 'id -u' root", "sudo -n id -u", "mount -t tmpfs none ~",
                "umount /proc", "ping -c 1 -W 1 127.0.0.1", "newuidmap $$ 0 0 1",
                "newgidmap $$ 0 0 1", "passwd -d user", "chsh -s /bin/sh",
                "gpasswd -a user root", "newgrp root"]
    # setsid: without a controlling terminal a password prompt cannot wait on the keyboard
    out = attack.run("; ".join(f"setsid -w {a} < /dev/null 2>&1 | head -2" for a in attempts) + "; id")
    printed = out.splitlines()[1:]
    assert "must be superuser to use mount" in out or "Operation not permitted" in out
    assert "0" not in [ln.strip() for ln in printed]  # no `id -u` printed root's uid
    assert not any("uid=0" in ln for ln in printed)
    assert any(ln.startswith("uid=1000(user) gid=1000(user)") for ln in printed)
    attack.answers()


def test_mount_unshare_chroot(attack: Attack) -> None:
    mounts = Path("/proc/self/mountinfo").read_text()
    attempts = ["unshare -r id", "unshare -U id", "unshare -m true", "unshare -n true",
                "unshare -p -f true", "chroot / true", "mkdir -p ~/m && mount --bind /tmp ~/m",
                "mount -t proc proc ~/m", "nsenter -t 1 -m true",
                "python3 -c \"import os; os.unshare(os.CLONE_NEWUSER); print('UNSHARED')\""]
    out = attack.run("; ".join(f"{a} 2>&1 | tail -1" for a in attempts) + "; id -u")
    printed = out.splitlines()[1:]
    assert "UNSHARED" not in printed
    assert not any(ln.startswith("uid=0") for ln in printed)
    assert sum("Operation not permitted" in ln or "Permission denied" in ln
               or "No space left" in ln or "must be superuser" in ln for ln in printed) >= 6
    assert Path("/proc/self/mountinfo").read_text() == mounts
    attack.answers()
