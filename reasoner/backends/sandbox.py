"""The sandbox around the shell: bubblewrap arguments, the files the shell sees, process control.

`ShellBackend` (shell.py) owns the pty and the prompt protocol; this module owns everything about
*where* bash runs:

* `ShellLimits` — the resource limits (processes, address space, CPU time, file size, tmpfs sizes);
* `Sandbox` — writes the runtime files (the shell's rc file, the supervisor script, a minimal
  /etc/passwd ...) into a private temporary directory and builds the `bwrap` command line: no
  network, read-only system directories, a fresh /proc and a minimal /dev, a private /tmp, a
  private home, a new pid namespace, a clean environment, no host secrets (/root, /etc/shadow and
  /usr/local are simply not there);
* `ProcessTable` — finds every process of one sandbox from the host side (its pid namespace), so
  the backend can count them (fork bombs) and kill all of them but the shell itself.

With `unsafe=True` the same supervisor and rc file run directly on the host (no namespaces, only
rlimits and a private home directory); that mode exists for machines where bubblewrap cannot work
and must be asked for explicitly.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from reasoner.base import ReasonerError

HOME = "/home/user"
USER = "user"
HOSTNAME = "hnc"
UID = GID = 1000
# When hybrid-nc runs as root the sandbox runs as this unprivileged host user instead: the kernel
# never enforces RLIMIT_NPROC for host uid 0 (so a fork bomb would meet no limit), and a root
# sandbox user is one mistake away from a root shell.
UNPRIVILEGED = 65534  # nobody / nogroup
OSC = "7770"  # private OSC number of the markers (no terminal defines it)

# /etc entries that programs inside need and that hold nothing secret; bound read-only if present
_ETC_SHARED = ["alternatives", "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime",
               "timezone", "inputrc", "vim", "python3", "python3.11", "terminfo", "mime.types",
               "debian_version", "os-release", "magic", "magic.mime", "profile.d"]
_TOP_LEVEL = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"]


class SandboxError(ReasonerError):
    """The sandbox cannot be created (bubblewrap missing or not permitted here)."""


@dataclass(frozen=True)
class ShellLimits:
    """Resource limits of one sandboxed shell.

    processes: processes in the sandbox at once (RLIMIT_NPROC inside its user namespace; reaching
        it counts as a fork bomb and everything but the shell is killed).
    address_space: bytes of virtual memory per process (RLIMIT_AS).
    cpu_seconds: CPU seconds per process (RLIMIT_CPU).
    file_size: largest file a process may write, in bytes (RLIMIT_FSIZE).
    open_files: file descriptors per process (RLIMIT_NOFILE).
    tmp_size, home_size: sizes of the private /tmp and (when no workdir is given) home tmpfs.
    memory: resident private memory (RssAnon) of all sandbox processes together, in bytes;
        checked with the process count while the session reads output (see ShellBackend).
    """

    processes: int = 128
    address_space: int = 4 << 30
    cpu_seconds: int = 600
    file_size: int = 256 << 20
    open_files: int = 1024
    tmp_size: int = 256 << 20
    home_size: int = 256 << 20
    # RLIMIT_AS bounds each process, not their sum: without this, 128 processes of 4 GiB each
    # could take the host's memory (found by tests/security/test_resources.py)
    memory: int = 4 << 30

    def __post_init__(self) -> None:
        for name in ("processes", "address_space", "cpu_seconds", "file_size", "open_files",
                     "tmp_size", "home_size", "memory"):
            value = getattr(self, name)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"ShellLimits.{name} must be a positive int, got {value!r}")
        if self.processes < 8:
            raise ValueError("ShellLimits.processes must be at least 8 (bash needs a few)")


def _rc_file(token: str) -> str:
    """The interactive shell's setup. Every prompt carries two private OSC markers (prompt start
    with exit status and cwd, prompt end) and PS2 one; three private key sequences are bound to
    functions that report or clear the readline buffer. The markers are re-added whenever the user
    replaces PS1/PS2, and PROMPT_COMMAND is read-only so the protocol cannot be switched off by
    accident."""
    m = f"\\e]{OSC};{token}"
    return f"""# hybrid-nc shell setup (generated; the \\e]{OSC} markers are read and removed by hybrid-nc)
case $- in *i*) ;; *) return ;; esac
__hnc_t={token}
__hnc_st=0
__hnc_cwd=
HISTFILE=~/.bash_history
HISTSIZE=5000
HISTFILESIZE=5000
HISTCONTROL=ignoredups
shopt -s checkwinsize histappend
alias ls='ls --color=auto' grep='grep --color=auto'
export EDITOR=vi PAGER=less
PS1='\\[\\e[1;32m\\]\\u@\\h\\[\\e[0m\\]:\\[\\e[1;34m\\]\\w\\[\\e[0m\\]\\$ '
PS2='> '
__hnc_pct() {{
  builtin local s="${{1//%/%25}}"
  s=${{s//$'\\a'/%07}}; s=${{s//$'\\e'/%1B}}; s=${{s//$'\\n'/%0A}}; s=${{s//$'\\r'/%0D}}; s=${{s//;/%3B}}
  REPLY=$s
}}
__hnc_prompt() {{
  __hnc_st=$?
  __hnc_pct "$PWD"; __hnc_cwd=$REPLY
  builtin history -a 2>/dev/null
  case $PS1 in *"$__hnc_t;B"*) ;; *) PS1='\\[{m};A;${{__hnc_st}};${{__hnc_cwd}}\\a\\]'"$PS1"'\\[{m};B\\a\\]' ;; esac
  case $PS2 in *"$__hnc_t;C"*) ;; *) PS2='\\[{m};C\\a\\]'"$PS2" ;; esac
}}
PROMPT_COMMAND=__hnc_prompt
readonly PROMPT_COMMAND
__hnc_peek() {{
  __hnc_pct "$READLINE_LINE"
  builtin printf '\\e]{OSC};%s;L;%s;%s\\a' "$__hnc_t" "$READLINE_POINT" "$REPLY"
}}
__hnc_discard() {{
  [[ -n $READLINE_LINE ]] && builtin history -s -- "$READLINE_LINE"
  READLINE_LINE=
  READLINE_POINT=0
  builtin printf '\\e]{OSC};%s;D\\a' "$__hnc_t"
}}
__hnc_redraw() {{ __hnc_x=; }}
bind -x '"\\e[9991~": __hnc_peek'
bind -x '"\\e[9992~": __hnc_discard'
bind -x '"\\e[9993~": __hnc_redraw'
"""


def _supervisor(token: str, limits: ShellLimits, bash: list[str], unsafe: bool) -> str:
    """A tiny non-interactive bash that applies the limits and keeps an interactive bash running:
    when it exits (Ctrl+D, `exit`, a crash) it reports the status with a marker and starts a new
    one, so the session (home, /tmp, background jobs) survives. Five quick exits in a row end it."""
    # unsafe mode shares the host user's process count, so a per-sandbox process limit would be
    # wrong there unless we run as our own unprivileged user
    own_user = not unsafe or host_identity() is not None
    nproc = f"ulimit -u {limits.processes} 2>/dev/null\n" if own_user else ""
    return f"""# hybrid-nc supervisor (generated)
trap : INT QUIT TSTP
{nproc}ulimit -v {limits.address_space // 1024} -t {limits.cpu_seconds} -f {limits.file_size // 1024} -n {limits.open_files} -c 0 2>/dev/null
quick=0
while :; do
  started=$SECONDS
  {" ".join(bash)}
  st=$?
  printf '\\033]{OSC};%s;X;%s\\a' '{token}' "$st"
  if (( SECONDS - started < 2 )); then quick=$((quick + 1)); else quick=0; fi
  if (( quick >= 5 )); then printf '\\r\\nhybrid-nc: the shell keeps exiting; giving up\\r\\n'; exit "$st"; fi
done
"""


def host_identity() -> int | None:
    """The host uid/gid the sandbox runs as when it is not ours: nobody when we are root."""
    return UNPRIVILEGED if os.geteuid() == 0 else None


# Python ignores SIGPIPE and SIGXFSZ, and a parent started in the background (`hybrid-nc serve &`
# from a script) ignores SIGINT and SIGQUIT; ignored signals survive exec, and bash cannot undo
# what was ignored when it started: `yes | head` would print "Broken pipe" and Ctrl+C do nothing.
_DEFAULT_SIGNALS = ("SIGPIPE", "SIGXFSZ", "SIGINT", "SIGQUIT", "SIGTSTP", "SIGTTIN", "SIGTTOU",
                    "SIGHUP", "SIGTERM")


def prepare_child() -> None:
    """preexec hook of the shell: a terminal's default signal dispositions, then
    `drop_privileges`."""
    for name in _DEFAULT_SIGNALS:
        signal.signal(getattr(signal, name), signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, set())
    drop_privileges()


def drop_privileges() -> None:
    """preexec hook: become the unprivileged host user (only when running as root)."""
    ident = host_identity()
    if ident is not None:
        os.setgroups([])
        os.setgid(ident)
        os.setuid(ident)


def bwrap_problem() -> str | None:
    """None when `bwrap` can create a sandbox here, else a one-line reason."""
    exe = shutil.which("bwrap")
    if exe is None:
        return "bubblewrap (bwrap) is not installed (Debian/Ubuntu: apt-get install bubblewrap)"
    try:
        proc = subprocess.run(
            [exe, "--unshare-all", "--unshare-user", "--die-with-parent", "--ro-bind", "/", "/",
             "--proc", "/proc", "--dev", "/dev", "true"],
            capture_output=True, timeout=20, env={"PATH": "/usr/bin:/bin"},
            preexec_fn=drop_privileges)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"bwrap did not run: {e}"
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"bwrap cannot create a sandbox here ({err[-1] if err else proc.returncode})"
    return None


class Sandbox:
    """The files and command line of one shell sandbox.

    Args:
        token: the private marker token the rc file and supervisor print.
        limits: resource limits.
        workdir: host directory to use as the home directory (bound read-write at /home/user and
            kept); None gives a private size-limited tmpfs home that disappears with the sandbox
            (unsafe mode: a temporary host directory, removed by `cleanup`). When hybrid-nc runs
            as root the directory is handed to the unprivileged sandbox user (nobody), and every
            directory above it must be reachable by that user.
        unsafe: run on the host without namespaces (only limits and a private home).

    In sandbox mode the generated files (rc file, supervisor, passwd, ...) reach bwrap as memfds
    (`pass_fds()`), so nothing is written to the host's disk; unsafe mode writes them to a
    private temporary directory.
    """

    def __init__(self, token: str, limits: ShellLimits, workdir: str | None, unsafe: bool) -> None:
        self.token = token
        self.limits = limits
        self.unsafe = unsafe
        self.runtime: Path | None = None
        self._fds: list[int] = []
        self._own_home = False
        self.host_home: Path | None = None
        try:
            if workdir is not None:
                home = Path(workdir).expanduser().resolve()
                home.mkdir(parents=True, exist_ok=True)
                self.host_home = home
            elif unsafe:
                self.host_home = Path(tempfile.mkdtemp(prefix="hybrid-nc-home-"))
                self._own_home = True
            if self.host_home is not None:
                self._hand_over(self.host_home)
            if unsafe:
                self.runtime = Path(tempfile.mkdtemp(prefix="hybrid-nc-rt-"))
                self.runtime.chmod(0o755)  # readable by the unprivileged user
                self._hand_over(self.runtime, check_only=True)
                for name, text in self.files().items():
                    path = self.runtime / name
                    path.write_text(text)
                    path.chmod(0o644)
        except OSError as e:
            self.cleanup()
            raise SandboxError(f"cannot prepare {workdir or 'a temporary directory'} for the "
                               f"shell: {e.strerror or e}") from None
        except SandboxError:
            self.cleanup()
            raise

    @staticmethod
    def _hand_over(path: Path, check_only: bool = False) -> None:
        """Running as root, the sandbox user is `nobody`: give it the directory tree, after
        checking that it can reach it at all (bwrap opens the path as that user)."""
        ident = host_identity()
        if ident is None:
            return
        for parent in path.parents:
            st = parent.stat()
            if not st.st_mode & 0o001 and st.st_uid != ident:
                raise SandboxError(f"{path} is inside {parent}, which the sandbox user (nobody) "
                                   "cannot enter; use a directory under /tmp or /home")
        if check_only:
            return
        for root, dirs, files in os.walk(path):
            os.lchown(root, ident, ident)
            for name in dirs + files:
                os.lchown(os.path.join(root, name), ident, ident)

    # -- files -------------------------------------------------------------------------------
    def files(self) -> dict[str, str]:
        """name -> content of the generated files (bound under /etc inside the sandbox)."""
        if self.unsafe:
            assert self.runtime is not None
            bash = ["/bin/bash", "--rcfile", str(self.runtime / "bash.bashrc"), "-i"]
        else:
            bash = ["/bin/bash", "-i"]  # /etc/bash.bashrc is our rc file inside the sandbox
        return {
            "bash.bashrc": _rc_file(self.token),
            "hnc-supervisor.sh": _supervisor(self.token, self.limits, bash, self.unsafe),
            "passwd": (f"root:x:0:0:root:/root:/usr/sbin/nologin\n"
                       f"{USER}:x:{UID}:{GID}:{USER}:{HOME}:/bin/bash\n"
                       "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n"),
            "group": f"root:x:0:\n{USER}:x:{GID}:\nnogroup:x:65534:\n",
            "hosts": f"127.0.0.1\tlocalhost {HOSTNAME}\n::1\tlocalhost\n",
            "hostname": f"{HOSTNAME}\n",
            "nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
        }

    def _memfd(self, name: str, text: str) -> int:
        fd = os.memfd_create(name, os.MFD_CLOEXEC)
        os.write(fd, text.encode())
        os.lseek(fd, 0, os.SEEK_SET)
        os.set_inheritable(fd, True)  # ptyprocess keeps pass_fds open but leaves CLOEXEC alone
        self._fds.append(fd)
        return fd

    def pass_fds(self) -> tuple[int, ...]:
        """File descriptors the spawned bwrap must inherit (the memfds of argv())."""
        return tuple(self._fds)

    def spawned(self) -> None:
        """bwrap has its copies of the memfds: close ours."""
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._fds.clear()

    def env(self) -> dict[str, str]:
        """The whole environment of the shell: nothing from the host process leaks in."""
        home = str(self.host_home) if self.unsafe else HOME
        return {"HOME": home, "USER": USER, "LOGNAME": USER, "SHELL": "/bin/bash",
                "TERM": "xterm-256color", "COLORTERM": "truecolor", "LANG": "C.UTF-8",
                "PATH": "/usr/local/bin:/usr/bin:/bin", "PYTHONDONTWRITEBYTECODE": "1"}

    def argv(self) -> list[str]:
        """The command that starts the supervisor (inside bwrap unless unsafe). In sandbox mode
        this opens the memfds that `pass_fds()` lists."""
        if self.unsafe:
            assert self.runtime is not None
            return ["/bin/bash", "--norc", "--noprofile", str(self.runtime / "hnc-supervisor.sh")]
        self.spawned()
        exe = shutil.which("bwrap") or "bwrap"
        lim = self.limits
        args = [exe, "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
                "--cap-drop", "ALL", "--uid", str(UID), "--gid", str(GID),
                "--hostname", HOSTNAME, "--ro-bind", "/usr", "/usr",
                "--tmpfs", "/usr/local", "--remount-ro", "/usr/local"]
        for name in _TOP_LEVEL:
            host = Path("/") / name
            if host.is_symlink():
                args += ["--symlink", os.readlink(host), f"/{name}"]
            elif host.is_dir():
                args += ["--ro-bind", str(host), f"/{name}"]
        args += ["--proc", "/proc", "--dev", "/dev",
                 "--size", str(lim.tmp_size), "--tmpfs", "/tmp",
                 "--perms", "0755", "--dir", "/etc", "--perms", "0755", "--dir", "/home",
                 "--perms", "0755", "--dir", "/var", "--symlink", "/tmp", "/var/tmp"]
        for name in _ETC_SHARED:
            if (Path("/etc") / name).exists():
                args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
        for name, text in self.files().items():
            args += ["--perms", "0644", "--ro-bind-data", str(self._memfd(name, text)),
                     f"/etc/{name}"]
        if self.host_home is not None:
            args += ["--bind", str(self.host_home), HOME]
        else:
            args += ["--perms", "0700", "--size", str(lim.home_size), "--tmpfs", HOME]
        args += ["--chdir", HOME, "--clearenv"]
        for key, value in self.env().items():
            args += ["--setenv", key, value]
        return [*args, "/bin/bash", "--norc", "--noprofile", "/etc/hnc-supervisor.sh"]

    def cwd(self) -> str:
        """Where the spawned process starts on the host (bwrap itself chdirs inside)."""
        return str(self.host_home) if self.unsafe and self.host_home else "/"

    def cleanup(self) -> None:
        """Close the memfds, remove the runtime files (and a temporary unsafe-mode home)."""
        self.spawned()
        if self.runtime is not None:
            shutil.rmtree(self.runtime, ignore_errors=True)
        if self._own_home and self.host_home is not None:
            shutil.rmtree(self.host_home, ignore_errors=True)


# -- processes ---------------------------------------------------------------------------------
def _stat(pid: int) -> tuple[int, int] | None:
    """(ppid, pgid) of a host process, None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    fields = data[data.rfind(b")") + 2:].split()
    return int(fields[1]), int(fields[2])


def _state(pid: int) -> str | None:
    """The scheduler state letter of a host process (R, S, T, Z, ...), None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rfind(b")") + 2:][:1].decode()


class ProcessTable:
    """Finds the processes of one sandbox from the host.

    `leader` is the pid of the process we spawned (bwrap's outer process, or the supervisor in
    unsafe mode). In sandbox mode every process in the sandbox's pid namespace belongs to it
    (orphans included); in unsafe mode, the leader's descendants.
    """

    def __init__(self, leader: int, unsafe: bool) -> None:
        self.leader = leader
        self.unsafe = unsafe
        self.init: int | None = None  # pid 1 of the sandbox (host pid)
        self.supervisor: int | None = leader if unsafe else None
        self._ns: str | None = None

    def _host_pids(self) -> list[int]:
        return [int(n) for n in os.listdir("/proc") if n.isdigit()]

    def locate(self) -> bool:
        """Find the sandbox's init and supervisor (call once the shell has started)."""
        if self.unsafe:
            return True
        parents = {pid: st[0] for pid in self._host_pids() if (st := _stat(pid))}
        inits = [p for p, pp in parents.items() if pp == self.leader]
        if not inits:
            return False
        self.init = inits[0]
        try:
            self._ns = os.readlink(f"/proc/{self.init}/ns/pid")
        except OSError:
            return False
        sups = sorted(p for p, pp in parents.items() if pp == self.init)
        self.supervisor = sups[0] if sups else None
        return self.supervisor is not None

    def members(self) -> dict[int, tuple[int, int]]:
        """pid -> (ppid, pgid) of every process of the sandbox (host pids)."""
        out: dict[int, tuple[int, int]] = {}
        if self.unsafe:
            table = {pid: st for pid in self._host_pids() if (st := _stat(pid))}
            todo = [self.leader]
            children: dict[int, list[int]] = {}
            for pid, (ppid, _) in table.items():
                children.setdefault(ppid, []).append(pid)
            while todo:
                pid = todo.pop()
                if pid in table:
                    out[pid] = table[pid]
                todo.extend(children.get(pid, []))
            return out
        if self._ns is None:
            return out
        for pid in self._host_pids():
            try:
                if os.readlink(f"/proc/{pid}/ns/pid") != self._ns:
                    continue
            except OSError:
                continue
            st = _stat(pid)
            if st is not None:
                out[pid] = st
        return out

    def shell(self, members: dict[int, tuple[int, int]] | None = None) -> int | None:
        """The interactive bash (the supervisor's child), if it runs."""
        members = self.members() if members is None else members
        kids = [p for p, (pp, _) in members.items() if pp == self.supervisor]
        return min(kids) if kids else None

    def protected(self, members: dict[int, tuple[int, int]]) -> set[int]:
        keep = {self.leader}
        if self.init is not None:
            keep.add(self.init)
        if self.supervisor is not None:
            keep.add(self.supervisor)
        bash = self.shell(members)
        if bash is not None:
            keep.add(bash)
        return keep

    def count(self) -> int:
        """Processes in the sandbox now (sandbox init and supervisor included)."""
        return len(self.members())

    def resident(self) -> int:
        """Bytes of private anonymous memory (RssAnon) the sandbox's processes hold now: what a
        memory bomb allocates (shared library pages are not counted, so a fork bomb of small
        processes does not look like one)."""
        total = 0
        for pid in self.members():
            try:
                with open(f"/proc/{pid}/status", "rb") as f:
                    for line in f:
                        if line.startswith(b"RssAnon:"):
                            total += int(line.split()[1]) * 1024
                            break
            except (OSError, ValueError):
                continue
        return total

    def kill_all_but_shell(self, freeze: bool = True, rounds: int = 60) -> int:
        """Kill every process of the sandbox except init, the supervisor and the interactive
        bash. With `freeze`, processes are stopped first, round after round, so that a fork bomb
        cannot refill the process table while we kill (bash then reports the jobs as Stopped
        before Killed); without it they are killed at once. Returns how many were killed."""
        stopped: set[int] = set()
        killed: set[int] = set()
        for _ in range(rounds):
            members = self.members()
            keep = self.protected(members)
            new = [p for p in members if p not in keep and p not in stopped]
            if not new:
                break
            for pid in new:
                if self.kill_pid(pid, signal.SIGSTOP if freeze else signal.SIGKILL):
                    stopped.add(pid)
        for _ in range(rounds):
            for pid in stopped:
                if self.kill_pid(pid, signal.SIGKILL):
                    killed.add(pid)
            members = self.members()
            keep = self.protected(members)
            left = [p for p in members if p not in keep and _state(p) not in ("Z", None)]
            if not left:
                break
            stopped = set(left)
        return len(killed)

    def _pidfd(self, pid: int) -> int | None:
        """A pidfd for `pid`, checked to still be in the sandbox (so a recycled pid number can
        never make us signal a host process)."""
        try:
            fd = os.pidfd_open(pid)
        except OSError:
            return None
        try:
            ok = (os.readlink(f"/proc/{pid}/ns/pid") == self._ns) if not self.unsafe else True
        except OSError:
            ok = False
        if not ok:
            os.close(fd)
            return None
        return fd

    def kill_pid(self, pid: int, sig: int) -> bool:
        """Send `sig` to one sandbox process (host pid), checked through a pidfd."""
        fd = self._pidfd(pid)
        if fd is None:
            return False
        try:
            signal.pidfd_send_signal(fd, sig)
            return True
        except OSError:
            return False
        finally:
            os.close(fd)
