"""Shared pieces of the fuzz suites: hypothesis settings sized for CI, and strategies that build
terminal byte streams, JSON-ish values and asciicast text.

Examples per test scale with HNC_FUZZ_SCALE (default 1; e.g. 20 for a long local run). There is no
hypothesis deadline: on a loaded 2-core machine one slow example says nothing; hangs are caught by
explicit time checks in the tests and by pytest-timeout.
"""

from __future__ import annotations

import json
import os
from typing import Any

from hypothesis import HealthCheck, currently_in_test_context, event, settings
from hypothesis import strategies as st

SCALE = max(1, int(os.environ.get("HNC_FUZZ_SCALE", "1")))


def note(text: str) -> None:
    """Count an outcome for --hypothesis-show-statistics (a no-op outside a hypothesis test)."""
    if currently_in_test_context():
        event(text)


def fuzz_settings(examples: int) -> Any:
    """Hypothesis settings: `examples` x HNC_FUZZ_SCALE examples, no deadline."""
    return settings(max_examples=examples * SCALE, deadline=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much,
                                           HealthCheck.function_scoped_fixture])


# -- terminal streams -----------------------------------------------------------------------------
_NUM = st.one_of(st.integers(0, 9).map(str), st.integers(0, 400).map(str),
                 st.sampled_from(["", "0", "65535", "65536", "99999999999999999999", "-1"]))
_PARAMS = st.lists(st.tuples(_NUM, st.sampled_from([";", ":", ";;", ""])), max_size=8).map(
    lambda ps: "".join(n + sep for n, sep in ps))
_FINAL = st.characters(min_codepoint=0x40, max_codepoint=0x7E)
_INTER = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x2F), max_size=2)
_PRIVATE = st.sampled_from(["", "", "?", ">", "<", "=", "?>"])
# the sequences real programs send most, so that the fuzzer reaches deep states quickly
_COMMON = st.sampled_from([
    "\x1b[?1049h", "\x1b[?1049l", "\x1b[?47h", "\x1b[?1047l", "\x1b[2J", "\x1b[3J", "\x1b[H",
    "\x1b[K", "\x1b[1K", "\x1b[2K", "\x1b[J", "\x1b[1J", "\x1b[r", "\x1b[5;10r", "\x1b[?6h",
    "\x1b[?6l", "\x1b[?7l", "\x1b[?7h", "\x1b[4h", "\x1b[4l", "\x1b7", "\x1b8", "\x1b[s",
    "\x1b[u", "\x1bc", "\x1b[!p", "\x1b#8", "\x1b(0", "\x1b(B", "\x1b)0", "\x0e", "\x0f",
    "\x1bN", "\x1bO", "\x1b[38;2;1;2;3m", "\x1b[48;5;200m", "\x1b[38:2::10:20:30m",
    "\x1b[1;3;4;7;9m", "\x1b[0m", "\x1b[6n", "\x1b[c", "\x1b[>c", "\x1b[=c", "\x1b[5n",
    "\x1b[?25l", "\x1b[?25h", "\x1b[?2004h", "\x1b[?1h", "\x1b[18t", "\x1b[22;0t", "\x1b[23;0t",
    "\x1b]0;title\x07", "\x1b]2;t\x1b\\", "\x1bP$qm\x1b\\", "\x1bP+q544e\x1b\\", "\x1b[5b",
    "\x1b[3@", "\x1b[2P", "\x1b[4X", "\x1b[2L", "\x1b[3M", "\x1b[2S", "\x1b[2T", "\x1b[3 @",
    "\x1b[2 A", "\x1b[2'}", "\x1b[2'~", "\x1b[3g", "\x1bH", "\x1b[2I", "\x1b[2Z", "\x1b%G",
    "\x1b%@", "\x1b[?45h", "\x08", "\t", "\r", "\n", "\x0b", "\x0c", "\x07", "\x18", "\x1a",
    "e\u0301", "\u4e2d\u6587", "\U0001f600", "\u200d", "\ufe0f", "\u0300\u0301\u0302\u0303",
    "\x1b[999;999H", "\x1b[0;0H", "\x1b[1000C", "\x1b[1000B", "\x1b[1000D", "\x1b[1000A",
])


@st.composite
def _csi(draw: Any) -> str:
    return "\x1b[" + draw(_PRIVATE) + draw(_PARAMS) + draw(_INTER) + draw(_FINAL)


@st.composite
def _string_seq(draw: Any) -> str:
    intro = draw(st.sampled_from(["\x1b]", "\x1bP", "\x1b_", "\x1b^", "\x1bX", "\x9d", "\x90"]))
    body = draw(st.text(max_size=40))
    end = draw(st.sampled_from(["\x07", "\x1b\\", "\x9c", "", "\x18"]))
    return intro + body + end


TEXT_PIECE = st.one_of(
    _COMMON, _csi(), _string_seq(),
    st.text(max_size=30),
    st.text(st.characters(min_codepoint=0x2E80, max_codepoint=0x9FFF), max_size=10),  # wide
    st.text(st.characters(min_codepoint=0x0300, max_codepoint=0x036F), max_size=5),  # marks
    st.text(st.characters(min_codepoint=0, max_codepoint=0x1F), max_size=5),  # C0
    st.text(st.characters(min_codepoint=0x80, max_codepoint=0x9F), max_size=3),  # C1
    st.sampled_from(["\x1b", "\x1b[", "\x1b]", "\x1bP"]),  # cut-off introducers
    st.builds(lambda c: "\x1b" + c, st.characters(min_codepoint=0x20, max_codepoint=0x7E)),
)
BYTES_PIECE = st.one_of(
    TEXT_PIECE.map(lambda s: s.encode("utf-8", "surrogatepass")),
    st.binary(max_size=20),  # invalid UTF-8, 8-bit C1 bytes
    st.sampled_from([b"\xc3", b"\xe2\x82", b"\xf0\x9f\x98", b"\xff\xfe", b"\xc0\x80",
                     b"\xed\xa0\x80"]),
)
STREAM = st.lists(BYTES_PIECE, max_size=60).map(b"".join)


@st.composite
def split(draw: Any, data: bytes) -> list[bytes]:
    """`data` cut into chunks at random places (sequences split across feed calls)."""
    if not data:
        return [data]
    cuts = sorted(set(draw(st.lists(st.integers(0, len(data)), max_size=8))))
    pieces, last = [], 0
    for c in [*cuts, len(data)]:
        pieces.append(data[last:c])
        last = c
    return pieces


# -- JSON-ish values ----------------------------------------------------------------------------
JSON_SCALAR = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.integers(-5, 300),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.sampled_from(["", "default", "#ff00ff", "#12345", "#gggggg", "80x24", "2", "0", "-1"]))
JSON = st.recursive(JSON_SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=8), inner, max_size=5)),
    max_leaves=20)


def dumps(value: Any) -> str:
    """json.dumps that also writes NaN/Infinity (as Python's json does by default)."""
    return json.dumps(value, ensure_ascii=False)
