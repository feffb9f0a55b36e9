"""Coverage-guided fuzzing with atheris (libFuzzer for Python), for long local runs; not part of
the pytest suite (CI stays fast with the hypothesis tests beside this file).

    pip install 'hybrid-nc[fuzz]'            # atheris
    python tests/fuzz/atheris_fuzz.py TARGET [libFuzzer options] [CORPUS_DIR ...]
    python tests/fuzz/atheris_fuzz.py terminal -max_total_time=600 /tmp/corpus-terminal

Targets:
  terminal  bytes -> Terminal.feed (in 1-3 chunks) -> snapshot invariants
  cast      bytes -> parse_cast: a Cast (then replayed to the end) or CastError, nothing else
  screen    bytes -> ScreenState.from_json: a screen (saved and loaded back) or ScreenError
  web       bytes -> parse_client_message: a valid message or ProtocolError

A crash (any other exception, or a failed invariant) stops the run and libFuzzer writes the
input to crash-<sha1>; reproduce it with `python tests/fuzz/atheris_fuzz.py TARGET crash-<sha1>`.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

try:
    import atheris
except ImportError:
    sys.exit("atheris_fuzz: atheris is not installed (pip install 'hybrid-nc[fuzz]' or "
             "pip install atheris)")

from hybrid_nc.web.server import ProtocolError, ServeConfig, parse_client_message  # noqa: E402
from terminal import Terminal  # noqa: E402
from terminal.recording import CastError, parse_cast, screen_at  # noqa: E402
from terminal.screen import ScreenError, ScreenState  # noqa: E402

WEB = ServeConfig()


def _terminal(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    cols, rows = fdp.ConsumeIntInRange(1, 120), fdp.ConsumeIntInRange(1, 40)
    cuts = sorted(fdp.ConsumeIntInRange(0, 4096) for _ in range(2))
    rest = fdp.ConsumeBytes(atheris.ALL_REMAINING)
    term = Terminal(cols, rows)
    for piece in (rest[:cuts[0]], rest[cuts[0]:cuts[1]], rest[cuts[1]:]):
        term.feed(piece)
    snap = term.snapshot()
    assert len(snap.chars) == rows and all(len(r) == cols for r in snap.chars)
    r, c = snap.cursor
    assert 0 <= r < rows and 0 <= c < cols
    for row in snap.chars:
        for x, cell in enumerate(row):
            if cell == "":
                assert x > 0 and row[x - 1] != "", row


def _cast(data: bytes) -> None:
    try:
        cast = parse_cast(data)
    except CastError as e:
        assert "\n" not in str(e)
        return
    screen_at(cast)


def _screen(data: bytes) -> None:
    try:
        screen = ScreenState.from_json(data.decode("utf-8", "replace"))
    except ScreenError as e:
        assert "\n" not in str(e)
        return
    assert ScreenState.from_json(screen.to_json()).to_json() == screen.to_json()


def _web(data: bytes) -> None:
    try:
        parse_client_message(data.decode("utf-8", "replace"), WEB)
    except ProtocolError as e:
        assert "\n" not in str(e)


TARGETS: dict[str, Callable[[bytes], None]] = {
    "terminal": _terminal, "cast": _cast, "screen": _screen, "web": _web}
# valid inputs to start from, written into an empty corpus directory: random bytes seldom make
# JSON, so without them the JSON targets never get past the parser
SEEDS: dict[str, list[bytes]] = {
    "terminal": [b"\x1b[1;31mred\x1b[0m\r\n\x1b[?1049h\x1b[2J\x1b[5;5H\xe4\xb8\xad\x1b[3 @"],
    "cast": [b'{"version": 2, "width": 20, "height": 4}\n[0.1, "o", "hi\\r\\n"]\n'
             b'[0.2, "r", "30x5"]\n',
             b'{"version": 3, "term": {"cols": 10, "rows": 2}}\n# c\n[0.1, "o", "x"]\n',
             b'{"version": 1, "width": 8, "height": 2, "stdout": [[0.5, "ab"]]}'],
    "screen": [b'{"cols": 10, "rows": 3, "lines": ["hi", "\xe4\xb8\xad"], "cursor": [1, 2], '
               b'"styles": [{"row": 0, "col": 0, "len": 2, "fg": 1, "bold": true}]}'],
    "web": [b'{"type": "keys", "keys": ["a", "Enter"]}', b'{"type": "resize", "cols": 80, '
            b'"rows": 24}', b'{"type": "config", "view": "side", "steps": 2, "theme": "dark"}',
            b'{"type": "paste", "data": "x"}'],
}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: atheris_fuzz.py {{{','.join(TARGETS)}}} [libFuzzer options] [CORPUS]")
    name = sys.argv[1]
    for arg in sys.argv[2:]:
        corpus = Path(arg)
        if corpus.is_dir() and not any(corpus.iterdir()):
            for i, seed in enumerate(SEEDS[name]):
                (corpus / f"seed-{i}").write_bytes(seed)
    atheris.instrument_all()  # coverage feedback from every loaded Python module
    atheris.Setup([sys.argv[0], *sys.argv[2:]], TARGETS[name])
    atheris.Fuzz()


if __name__ == "__main__":
    main()
