"""Network attacks from inside the sandbox: TCP and UDP to the host's loopback, its outside
address and the internet, DNS lookups, and Unix sockets of host services (path and abstract).

Each host endpoint is a real listener in this test process that is open to anybody (world-
writable socket files in world-readable directories), so the sandbox is the only thing between
the attack and the host; the listener records every connection or datagram and must record none.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shlex
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Attack, listening

pytestmark = pytest.mark.timeout(180)


def _outside_address() -> str | None:
    """This host's address on its default route (a UDP connect sends no packet), if any."""
    with contextlib.suppress(OSError), socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("1.1.1.1", 53))
        addr = s.getsockname()[0]
        return None if addr.startswith("127.") else addr
    return None


def _py(code: str) -> str:
    """A python3 command for the sandbox that runs `code` (statements separated by "\\n ") and
    prints CONNECTED, or the exception in one line instead of a traceback."""
    prog = (f"import socket\ntry:\n {code}\n print('CONNECTED')\n"
            "except Exception as e:\n print('failed:', type(e).__name__, e)")
    return "python3 -c " + shlex.quote(f"exec({prog!r})")


def test_tcp_to_host_loopback_outside_address_and_internet(attack: Attack) -> None:
    outside = _outside_address()
    with contextlib.ExitStack() as stack:
        lo = stack.enter_context(listening(socket.AF_INET, socket.SOCK_STREAM, ("127.0.0.1", 0)))
        every = stack.enter_context(listening(socket.AF_INET, socket.SOCK_STREAM, ("0.0.0.0", 0)))
        port, any_port = lo.address[1], every.address[1]  # type: ignore[index]
        # bash's /dev/tcp, curl and python: three different clients
        out = attack.run(f"exec 3<>/dev/tcp/127.0.0.1/{port}; echo devtcp=$?")
        assert "Connection refused" in out and "devtcp=1" in out
        out = attack.run(f"curl -sS -m 3 http://127.0.0.1:{port}/; echo curl=$?")
        assert "curl: (7)" in out and "curl=7" in out
        out = attack.run(_py(f"socket.create_connection(('127.0.0.1', {any_port}), 3)"))
        assert "failed: ConnectionRefusedError" in out
        if outside is not None:  # the host's own outside address: there is no route out
            out = attack.run(_py(f"socket.create_connection(('{outside}', {any_port}), 3)"))
            assert "failed:" in out and "unreachable" in out.lower()
        out = attack.run(_py("socket.create_connection(('1.1.1.1', 443), 3)"))
        assert "Network is unreachable" in out
        out = attack.run("curl -sS -m 3 https://1.1.1.1/; echo curl=$?")
        assert "curl=7" in out
        # the only interface inside is the sandbox's own loopback
        out = attack.run("python3 -c \"import socket; print(socket.if_nameindex())\"")
        assert "[(1, 'lo')]" in out
        assert lo.hits == [] and every.hits == []
    attack.answers()


def test_ipv6_loopback(attack: Attack) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this host")
    try:
        ctx = listening(socket.AF_INET6, socket.SOCK_STREAM, ("::1", 0))
        lst = ctx.__enter__()
    except OSError as e:
        pytest.skip(f"cannot listen on ::1 here: {e}")
    try:
        port = lst.address[1]  # type: ignore[index]
        out = attack.run(_py(f"socket.create_connection(('::1', {port}), 3)"))
        assert "failed:" in out
        assert lst.hits == []
    finally:
        ctx.__exit__(None, None, None)
    attack.answers()


def test_udp_and_dns(attack: Attack) -> None:
    with contextlib.ExitStack() as stack:
        udp = stack.enter_context(listening(socket.AF_INET, socket.SOCK_DGRAM, ("127.0.0.1", 0)))
        port = udp.address[1]  # type: ignore[index]
        dns = None
        with contextlib.suppress(OSError):  # a host resolver stand-in, when port 53 is free
            dns = stack.enter_context(listening(socket.AF_INET, socket.SOCK_DGRAM,
                                                ("127.0.0.1", 53)))
        attack.run(f"echo leak > /dev/udp/127.0.0.1/{port}; echo devudp=$?")
        send = ("s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n "
                "[s.sendto(b'leak', a) for a in [('127.0.0.1', {p}), ('127.0.0.1', 53)]]")
        attack.run(_py(send.format(p=port)))
        out = attack.run(_py("socket.socket(socket.AF_INET, socket.SOCK_DGRAM)"
                             ".sendto(b'leak', ('1.1.1.1', 53))"))
        assert "Network is unreachable" in out
        # name lookups: by the C library (getent, python) and by curl
        out = attack.run("getent hosts example.com; echo getent=$?")
        assert "getent=2" in out
        out = attack.run(_py("socket.getaddrinfo('example.com', 80)"))
        assert "failed: gaierror" in out
        out = attack.run("curl -sS -m 3 http://example.com/; echo curl=$?")
        assert "curl=6" in out  # could not resolve host
        assert udp.hits == []
        if dns is not None:
            assert dns.hits == []
    attack.answers()


@pytest.fixture
def host_unix_sockets() -> Iterator[dict[str, object]]:
    """Listening Unix sockets of a pretend host service: a path under /run, one under /tmp and an
    abstract one, all connectable by anybody on the host."""
    tag = secrets.token_hex(6)
    places = [Path("/run") / f"hnc-sec-{tag}", Path("/tmp") / f"hnc-sec-{tag}"]
    with contextlib.ExitStack() as stack:
        found: dict[str, object] = {}
        for base in places:
            try:
                base.mkdir(mode=0o755)
            except OSError:
                continue
            stack.callback(shutil.rmtree, base, True)
            path = base / "service.sock"
            found[str(path)] = stack.enter_context(listening(socket.AF_UNIX, socket.SOCK_STREAM,
                                                             str(path)))
            os.chmod(path, 0o777)
        abstract = f"\0hnc-sec-{tag}"
        found["@" + abstract[1:]] = stack.enter_context(
            listening(socket.AF_UNIX, socket.SOCK_STREAM, abstract))
        yield found


def test_unix_sockets_of_host_services(attack: Attack,
                                       host_unix_sockets: dict[str, object]) -> None:
    targets = [*host_unix_sockets, "/tmp/.X11-unix/X0", "@/tmp/.X11-unix/X0",
               "/run/dbus/system_bus_socket", "/var/run/docker.sock"]
    for target in targets:
        addr = repr("\0" + target[1:]) if target.startswith("@") else repr(target)
        out = attack.run(_py(f"socket.socket(socket.AF_UNIX).connect({addr})"))
        printed = out.splitlines()[1:]  # the first line is the command's echo
        assert any(ln.startswith("failed:") for ln in printed), (target, out)
        assert "CONNECTED" not in printed, (target, out)
    out = attack.run("ls /run /var/run /tmp/.X11-unix 2>&1 | head -5")
    assert "No such file or directory" in out
    for lst in host_unix_sockets.values():
        assert lst.hits == []  # type: ignore[attr-defined]
    attack.answers()
