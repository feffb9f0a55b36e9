"""The tiny program that runs *inside* the captured terminal and writes our bytes to its tty.

The terminal is started as `xterm -e python3 feeder.py SOCKET`; this program puts its tty in raw
mode (so the line discipline neither translates "\\n" nor echoes the terminal's answers), connects
to the capture controller's Unix socket and then serves requests:

    request:  u32 length, u32 expected cursor reports in the payload, payload bytes
    reply:    i32 row, i32 col  (the terminal's cursor after drawing, 1-based; 0, 0 on timeout)

After writing a payload it asks the terminal where its cursor is (CAN, then DSR `CSI 6 n`). The
terminal answers only once it has parsed everything before the question, so the answer is the sync
marker: the payload has been processed. CAN first aborts an escape sequence the payload may have
left open, so the question is never swallowed. Answers to queries inside the payload itself (device
attributes, cursor reports) arrive first and are drained; the controller says how many cursor
reports the payload asks for, so ours is the last one.

Standard library only, and run by path (not `-m`): it must start fast and import nothing of ours.
"""

from __future__ import annotations

import os
import re
import select
import socket
import struct
import sys
import termios
import time
import tty

SYNC = b"\x18\x1b[6n"
CPR = re.compile(rb"\x1b\[(\d+);(\d+)R")
HEADER = struct.Struct("<II")
REPLY = struct.Struct("<ii")
TIMEOUT_S = 8.0  # a terminal left in VT52 mode never answers: give up


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def _show(tty_in: int, tty_out: int, payload: bytes, expected: int) -> tuple[int, int]:
    """Write payload + sync to the tty while draining its input; wait for our cursor report."""
    data = memoryview(payload + SYNC)
    pending = b""
    seen = 0
    last = (0, 0)
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        wlist = [tty_out] if data else []
        readable, writable, _ = select.select([tty_in], wlist, [], 0.5)
        if writable:
            n = os.write(tty_out, data[:4096])
            data = data[n:]
        if readable:
            pending += os.read(tty_in, 65536)
            end = 0
            for m in CPR.finditer(pending):
                seen += 1
                last = (int(m.group(1)), int(m.group(2)))
                end = m.end()
            # keep only a possibly incomplete report after the last complete one
            rest = pending[end:]
            cut = rest.rfind(b"\x1b")
            pending = rest[cut:] if cut >= 0 else b""
            if not data and seen >= expected + 1:
                return last
    return (0, 0)


def main(argv: list[str]) -> int:
    """Serve show-requests from the controller at `argv[1]` until it hangs up."""
    if len(argv) != 2:
        print("usage: feeder.py SOCKET", file=sys.stderr)
        return 2
    tty_in, tty_out = sys.stdin.fileno(), sys.stdout.fileno()
    saved = termios.tcgetattr(tty_in)
    tty.setraw(tty_in)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(argv[1])
        hello = f"{os.environ.get('WINDOWID', '0')} {os.getpid()}\n".encode()
        sock.sendall(hello)
        while True:
            header = _recv_exact(sock, HEADER.size)
            if header is None:
                break
            length, expected = HEADER.unpack(header)
            payload = _recv_exact(sock, length)
            if payload is None:
                break
            sock.sendall(REPLY.pack(*_show(tty_in, tty_out, payload, expected)))
    finally:
        sock.close()
        termios.tcsetattr(tty_in, termios.TCSADRAIN, saved)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
