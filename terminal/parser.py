"""The parser: program output bytes -> screen operations.

A VT500-style state machine (Paul Williams' DEC parser, as xterm, libvterm and alacritty implement
it) with a regex fast path for plain text and well-formed sequences. It handles colon
sub-parameters (``38:2::r:g:b``, ``4:3``), private markers (``CSI ? ... r``, ``CSI > ... c``),
intermediates (``CSI SP q``, ``CSI ! p``, ``CSI $ p``), OSC strings ended by BEL or ST,
DCS/SOS/PM/APC strings (swallowed; DECRQSS answered), C0 controls inside sequences, CAN/SUB aborts,
8-bit C1 controls, and sequences split across `feed` calls. It never raises on program output.
"""

from __future__ import annotations

import codecs
import logging
import re
from collections.abc import Callable
from typing import Any

from .cells import CHARSETS
from .operations import VTScreen

log = logging.getLogger(__name__)


MAX_PARAM = 65535  # larger numeric parameters are clamped (xterm does the same)
MAX_PARAMS_LEN = 256  # longer parameter strings make the sequence invalid (ignored)
MAX_STRING = 65536  # OSC/DCS payload kept; the rest of a longer string is dropped

# fast paths: a run of printable text, and complete well-formed CSI / OSC / ESC sequences
_TEXT = re.compile(r"[^\x00-\x1f\x7f-\x9f]+")
_FAST_CSI = re.compile(r"\x1b\[([0-?]*)([ -/]*)([@-~])")
_FAST_OSC = re.compile(r"\x1b\](?![PR])([^\x00-\x1f\x7f-\x9f]*)(?:\x07|\x1b\\)")
_FAST_ESC = re.compile(r"\x1b(?:([ -/]+)([0-~])|([0-OQ-WYZ\\`-~]))")
_STRING_BODY = re.compile(r"[^\x00-\x1f\x7f-\x9f]+")
_DCS_HEADER = re.compile(r"([0-?]*)([ -/]*)([@-~])(.*)", re.S)
_ENCODING_SWITCH = re.compile(rb"(\x1b%[@G8])")
_MARKER = re.compile(r"[<=>?]")

GROUND, ESCAPE, CSI, OSC, STRING = range(5)  # parser states

class VTParser:
    """Bytes -> screen operations: a VT500-series state machine with fast paths.

    States: GROUND (text and C0 controls), ESCAPE (after ESC, collecting intermediates), CSI,
    OSC and STRING (DCS, SOS, PM, APC). Incomplete sequences stay in the state between `feed`
    calls.
    """

    def __init__(self, screen: VTScreen) -> None:
        self.screen = screen
        self.utf8 = True
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self.state = GROUND
        self._inter = ""  # ESC / CSI intermediates
        self._params = ""  # CSI parameter bytes
        self._ignore = False  # CSI too long or malformed: consume but do not dispatch
        self._string: list[str] = []  # OSC / DCS payload
        self._string_len = 0
        self._string_kind = ""  # "osc", "dcs" or "ignore"
        self._string_esc = False  # an ESC was seen inside a string (maybe ST)
        scr = screen
        # CSI finals that take one count or position (no private marker, no intermediate)
        self._simple: dict[str, Callable[[int], None]] = {
            "@": scr.insert_characters, "A": scr.cursor_up, "B": scr.cursor_down,
            "C": scr.cursor_forward, "D": scr.cursor_back, "E": scr.cursor_down1,
            "F": scr.cursor_up1, "G": scr.cursor_to_column, "I": scr.tab,
            "L": scr.insert_lines, "M": scr.delete_lines, "P": scr.delete_characters,
            "X": scr.erase_characters, "Z": scr.back_tab, "`": scr.cursor_to_column,
            "a": scr.cursor_forward, "d": scr.cursor_to_line, "e": scr.cursor_line_forward,
            "b": scr.repeat,
        }

    # -- input ---------------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        # ESC % G / ESC % @ switch the byte encoding: the bytes after one are decoded the new
        # way, so the input is cut right after each (one begun in the last chunk included)
        pending = b""
        if self.state == ESCAPE and self._inter in ("", "%"):
            pending = b"\x1b" + self._inter.encode()
        elif self.state in (OSC, STRING) and self._string_esc:
            pending = b"\x1b"
        buf = pending + data
        pos = len(pending)
        if b"%" in buf:
            for m in _ENCODING_SWITCH.finditer(buf):
                if m.end() > pos:
                    self._feed_part(buf[pos:m.end()])
                    pos = m.end()
        self._feed_part(buf[pos:])

    def _feed_part(self, part: bytes) -> None:
        if part:
            self.feed_text(self._decoder.decode(part) if self.utf8 else part.decode("latin-1"))

    def set_utf8(self, on: bool) -> None:
        if on != self.utf8:
            self.utf8 = on
            self._decoder.reset()

    def feed_text(self, text: str) -> None:
        scr = self.screen
        i, n = 0, len(text)
        while i < n:
            start = i
            try:
                if self.state == GROUND:
                    ch = text[i]
                    if ch >= " " and not ("\x7f" <= ch <= "\x9f"):
                        m = _TEXT.match(text, i)
                        assert m is not None
                        i = m.end()
                        scr.draw(m.group())
                        continue
                    if ch == "\x1b" and i + 1 < n:
                        nxt = text[i + 1]
                        if nxt == "[":
                            m = _FAST_CSI.match(text, i)
                            if m:
                                i = m.end()
                                self.csi_dispatch(m.group(1), m.group(2), m.group(3))
                                continue
                        elif nxt == "]":
                            m = _FAST_OSC.match(text, i)
                            if m:
                                i = m.end()
                                self.osc_dispatch(m.group(1))
                                continue
                        else:
                            m = _FAST_ESC.match(text, i)
                            if m:
                                i = m.end()
                                if m.group(3) is not None:
                                    self.esc_dispatch("", m.group(3))
                                else:
                                    self.esc_dispatch(m.group(1), m.group(2))
                                continue
                elif (self.state in (OSC, STRING) and not self._string_esc
                      and not self._maybe_linux_palette()):
                    m = _STRING_BODY.match(text, i)
                    if m:
                        i = m.end()
                        self._collect(m.group())
                        continue
                i += 1
                self.step(text[start])
            except Exception as e:  # one bad sequence must never take the session down
                scr.errors += 1
                log.debug("ignored a sequence at %r: %s", text[start:start + 16], e)
                self.state = GROUND
                scr.clamp()
                if i == start:
                    i += 1

    # -- the state machine, one character at a time --------------------------------------
    def step(self, ch: str) -> None:
        o = ord(ch)
        state = self.state
        if state in (OSC, STRING):
            self._string_step(ch, o)
            return
        if o == 0x1B:
            self.state, self._inter, self._ignore = ESCAPE, "", False
            return
        if o in (0x18, 0x1A):  # CAN, SUB abort a sequence
            self.state = GROUND
            return
        if 0x80 <= o <= 0x9F:
            self._c1(o)
            return
        if o < 0x20:
            self.execute(o)
            return
        if o == 0x7F:
            return
        if state == ESCAPE:
            if o < 0x30:
                self._add_intermediate(ch)
            elif not self._inter and ch in "[]PX^_":
                self._begin({"[": CSI, "]": OSC}.get(ch, STRING), ch)
            else:
                self.state = GROUND
                if not self._ignore:
                    self.esc_dispatch(self._inter, ch)
        elif state == CSI:
            if 0x30 <= o <= 0x3F:
                if self._inter:
                    self._ignore = True  # a parameter after an intermediate
                self._params += ch
                if len(self._params) > MAX_PARAMS_LEN:
                    self._ignore = True
                    self._params = ""
            elif o < 0x30:
                self._add_intermediate(ch)
            else:
                self.state = GROUND
                if not self._ignore:
                    self.csi_dispatch(self._params, self._inter, ch)
        else:  # GROUND: a printable character that missed the fast path
            self.screen.draw(ch)

    def _add_intermediate(self, ch: str) -> None:
        if len(self._inter) < 4:
            self._inter += ch
        else:
            self._ignore = True  # no real sequence has this many intermediates

    def _begin(self, state: int, kind: str) -> None:
        self.state = state
        self._inter = self._params = ""
        self._ignore = False
        self._string = []
        self._string_len = 0
        self._string_esc = False
        self._string_kind = {"]": "osc", "P": "dcs"}.get(kind, "ignore")

    def _c1(self, o: int) -> None:
        intro = {0x9B: (CSI, "["), 0x9D: (OSC, "]"), 0x90: (STRING, "P"), 0x98: (STRING, "X"),
                 0x9E: (STRING, "^"), 0x9F: (STRING, "_")}
        if o in intro:
            self._begin(*intro[o])
            return
        self.state = GROUND
        self.screen.last_char = None
        esc = {0x84: "D", 0x85: "E", 0x88: "H", 0x8D: "M", 0x8E: "N", 0x8F: "O"}.get(o)
        if esc:
            self.esc_dispatch("", esc)

    def _collect(self, text: str) -> None:
        if self._string_kind == "ignore":
            return
        if self._string_len < MAX_STRING:
            self._string.append(text[: MAX_STRING - self._string_len])
            self._string_len += len(text)
        if self._string_kind == "osc" and self._string_len <= 8 and self._linux_palette_done():
            self._finish_string()

    def _maybe_linux_palette(self) -> bool:
        # an OSC that may still turn out to be ESC ] P / ESC ] R goes one character at a time
        return (self.state == OSC and self._string_len < 8
                and (self._string_len == 0 or self._string[0][:1] in ("P", "R")))

    def _linux_palette_done(self) -> bool:
        # the Linux console's ESC ] P nrrggbb and ESC ] R have no terminator
        body = "".join(self._string)
        return body == "R" or (body[:1] == "P" and len(body) >= 8)

    def _string_step(self, ch: str, o: int) -> None:
        if self._string_esc:
            self._string_esc = False
            self._finish_string()
            if ch != "\\":  # ESC + something else: the string ends, a new sequence begins
                self.state, self._inter = ESCAPE, ""
                self.step(ch)
            return
        if o == 0x1B:
            self._string_esc = True
        elif o in (0x9C,) or (o == 0x07 and self.state == OSC):
            self._finish_string()
        elif o in (0x18, 0x1A):
            self.state = GROUND
        elif 0x80 <= o <= 0x9F:
            self.state = GROUND
            self._c1(o)
        else:
            self._collect(ch)

    def _finish_string(self) -> None:
        kind, body = self._string_kind, "".join(self._string)
        self.state = GROUND
        self._string = []
        self._string_len = 0
        if kind == "osc":
            self.osc_dispatch(body)
        elif kind == "dcs":
            self.dcs_dispatch(body)

    # -- dispatch ------------------------------------------------------------------------
    def execute(self, o: int) -> None:
        """A C0 control."""
        scr = self.screen
        scr.last_char = None
        if o == 0x08:
            scr.backspace()
        elif o == 0x09:
            scr.tab()
        elif o in (0x0A, 0x0B, 0x0C):
            scr.linefeed()
        elif o == 0x0D:
            scr.carriage_return()
        elif o == 0x0E:
            scr.gl = 1
        elif o == 0x0F:
            scr.gl = 0
        elif o == 0x07:
            scr.bell()

    def esc_dispatch(self, inter: str, final: str) -> None:
        scr = self.screen
        scr.last_char = None
        if not inter:
            action = {
                "7": scr.save_cursor, "8": scr.restore_cursor, "D": scr.index,
                "E": scr.next_line, "H": scr.set_tab_stop, "M": scr.reverse_index,
                "c": self._full_reset,
            }.get(final)
            if action:
                action()
            elif final == "Z":
                scr.report_device_attributes(0)
            elif final in "NO":
                scr.single_shift = 2 if final == "N" else 3
            elif final in "no":
                scr.gl = 2 if final == "n" else 3
            elif final in "~}|":
                scr.gr = "~}|".index(final) + 1
            return
        if inter == "#" and final == "8":
            scr.alignment_display()
        elif inter in "()*+" and len(inter) == 1:
            if final in CHARSETS:
                scr.charsets["()*+".index(inter)] = final
        elif inter == "%" and final in "@G8":  # other finals name no encoding: ignored, so
            self.set_utf8(final != "@")        # decoding agrees with feed()'s _ENCODING_SWITCH
        elif inter == " " and final in "FG":
            scr.s8c1t = final == "G"

    def _full_reset(self) -> None:
        self.screen.reset()

    def csi_dispatch(self, params: str, inter: str, final: str) -> None:
        scr = self.screen
        if final != "b":
            scr.last_char = None
        if len(params) > MAX_PARAMS_LEN or len(inter) > 4:
            return  # the state machine would have ignored it too
        marker = ""
        if params[:1] in "<=>?" and params:
            marker, params = params[0], params[1:]
        if _MARKER.search(params):
            return  # a private marker in the middle: not a valid sequence
        args = _parse_params(params)
        nums = [_num(a) for a in args] if ":" in params else args
        first = nums[0] if nums else 0
        if marker == "" and inter == "":
            self._csi_plain(final, args, nums)
        elif marker == "?" and inter == "":
            if final == "h":
                scr.set_mode(*nums, private=True)
            elif final == "l":
                scr.reset_mode(*nums, private=True)
            elif final == "J":
                scr.erase_in_display(first, private=True)
            elif final == "K":
                scr.erase_in_line(first, private=True)
            elif final == "n":
                scr.report_device_status(first, private=True)
        elif marker == ">" and inter == "":
            if final == "c" and first == 0:
                scr.reply("\x1b[>1;10;0c")  # DA2: a VT220, firmware 10
            elif final == "q" and first == 0:
                scr.reply("\x1bP>|hybrid-nc\x1b\\")  # XTVERSION
        elif marker == "=" and inter == "" and final == "c" and first == 0:
            scr.reply("\x1bP!|00000000\x1b\\")  # DA3
        elif inter == "$" and final == "p" and marker in ("", "?"):
            scr.reply(f"\x1b[{marker}{first};{scr.mode_state(first, marker == '?')}$y")
        elif marker == "" and inter == " ":
            if final == "q":
                scr.cursor_shape = first
            elif final == "@":
                scr.scroll_left(first)
            elif final == "A":
                scr.scroll_right(first)
        elif marker == "" and inter == "!" and final == "p":
            scr.soft_reset()
        elif marker == "" and inter == '"' and final == "q":  # DECSCA
            scr.decsca = first
            scr.cursor.attrs = scr.cursor.attrs._replace(protected=first == 1)
        elif marker == "" and inter == "'":
            if final == "}":
                scr.insert_columns(first)
            elif final == "~":
                scr.delete_columns(first)

    def _csi_plain(self, final: str, args: list[Any], nums: list[int]) -> None:
        scr = self.screen
        first = nums[0] if nums else 0
        simple = self._simple
        if final in simple:
            simple[final](first)
        elif final in "Hf":
            scr.cursor_position(*nums[:2])
        elif final == "J":
            scr.erase_in_display(first)
        elif final == "K":
            scr.erase_in_line(first)
        elif final == "S":
            scr.scroll_up(first or 1)
        elif final == "T" and len(nums) <= 1:  # with more parameters it is mouse tracking
            scr.scroll_down(first or 1)
        elif final == "g":
            scr.clear_tab_stop(first)
        elif final == "h":
            scr.set_mode(*nums)
        elif final == "l":
            scr.reset_mode(*nums)
        elif final == "m":
            scr.select_graphic_rendition(*args)
        elif final == "n":
            scr.report_device_status(first)
        elif final == "c" and first == 0:
            scr.report_device_attributes(0)
        elif final == "r":
            scr.set_margins(*nums[:2])
        elif final == "s":
            scr.save_cursor()
        elif final == "u":
            scr.restore_cursor()
        elif final == "t":
            self._window_op(first)

    def _window_op(self, op: int) -> None:
        scr = self.screen
        if op == 18:
            scr.reply(f"\x1b[8;{scr.lines};{scr.columns}t")
        elif op == 22:
            scr.title_stack = (scr.title_stack + [scr.title])[-10:]
        elif op == 23 and scr.title_stack:
            scr.title = scr.title_stack.pop()

    def osc_dispatch(self, body: str) -> None:
        scr = self.screen
        scr.last_char = None
        code, _, text = body.partition(";")
        if code in ("0", "2"):
            scr.title = text[:1024]
        if code in ("0", "1"):
            scr.icon_name = text[:1024]

    def dcs_dispatch(self, body: str) -> None:
        scr = self.screen
        scr.last_char = None
        m = _DCS_HEADER.match(body)
        if not m:
            return
        _params, inter, final, data = m.groups()
        if inter == "$" and final == "q":  # DECRQSS
            if data == "m":
                scr.reply(f"\x1bP1$r{scr.sgr_report()}m\x1b\\")
            elif data == "r":
                top, bottom = scr._region()
                scr.reply(f"\x1bP1$r{top + 1};{bottom + 1}r\x1b\\")
            elif data == " q":
                scr.reply(f"\x1bP1$r{scr.cursor_shape} q\x1b\\")
            elif data == '"q':
                scr.reply(f'\x1bP1$r{scr.decsca}"q\x1b\\')
            else:
                scr.reply("\x1bP0$r\x1b\\")
        elif inter == "+" and final == "q":  # XTGETTCAP: we answer "not known"
            scr.reply(f"\x1bP0+r{data}\x1b\\")


def _num(arg: Any) -> int:
    """A parameter as one number (the first sub-parameter of a `:` group)."""
    if isinstance(arg, list):
        return int(arg[0] or 0)
    return int(arg)


def _parse_params(params: str) -> list[Any]:
    """'1;38:2::1:2:3' -> [1, [38, 2, None, 1, 2, 3]]; empty parameters are 0."""
    if not params:
        return []
    if ":" not in params:
        return [min(int(p), MAX_PARAM) if p else 0 for p in params.split(";")]
    out: list[Any] = []
    for p in params.split(";"):
        if ":" in p:
            out.append([min(int(v), MAX_PARAM) if v else None for v in p.split(":")])
        else:
            out.append(min(int(p), MAX_PARAM) if p else 0)
    return out
