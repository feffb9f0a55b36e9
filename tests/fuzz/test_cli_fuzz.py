"""Fuzzing the command line (hybrid_nc.cli.main): whatever the arguments, the exit status is 0, 1
or 2, and stderr never holds a traceback; a failure (1) is one line "hybrid-nc CMD: error: ...".

Every subcommand's parser is fuzzed without running it; render, replay and exec are also run
(in-process, with capsys), with files that are valid, broken, missing or not files at all. exec
always gets --reasoners without the shell, so an example takes a second, not a sandbox start."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fuzzing import fuzz_settings, note
from hypothesis import given
from hypothesis import strategies as st

from hybrid_nc.cli import build_parser, main

pytestmark = pytest.mark.timeout(900)
ROOT = Path(__file__).resolve().parents[2]
WORK = Path(os.environ.get("TMPDIR", "/tmp")) / f"hnc-cli-fuzz-{os.getpid()}"


def _options() -> dict[str, list[str]]:
    """command -> its option strings, read from the real parser."""
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {name: [s for a in p._actions for s in a.option_strings]
            for name, p in sub.choices.items()}


OPTIONS = _options()
VALUES = st.one_of(
    st.sampled_from(["0", "1", "-1", "80", "24", "1000", "100000", "1e9", "nan", "inf", "-0",
                     "3.5", "", " ", "raster", "neural", "nope", "dark", "light", "solarized-dark",
                     "sympy", "shell", "sympy,llm", ",", "--", "-", "x" * 300, "\u4e2d\u6587",
                     "\x1b[31m", "a\nb", "..", "/", "/dev/null", "/nonexistent/x"]),
    st.text(max_size=12).filter(lambda s: "\x00" not in s))


def _typed(good: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Mostly plausible values for a flag, sometimes any of VALUES (so that examples get past
    argument parsing often enough to run the command)."""
    return st.one_of(good, good, good, VALUES)


NUMBER = _typed(st.integers(-3, 300).map(str))
FLAG_VALUES = {
    "--cols": NUMBER, "--rows": NUMBER, "--seed": NUMBER, "--font-size": NUMBER,
    "--scale": NUMBER, "--fps": _typed(st.floats(0, 60).map(str)),
    "--at": _typed(st.floats(-1, 5).map(str)), "--idle-time-limit": _typed(st.floats(-1, 5).map(str)),
    "--command-timeout": _typed(st.floats(-1, 5).map(str)),
    "--theme": _typed(st.sampled_from(["dark", "light", "xterm", "solarized-dark"])),
    "--cursor": _typed(st.sampled_from(["block", "underline", "bar", "hollow", "none"])),
    "--renderer": st.sampled_from(["raster", "raster", "raster", "nope", "neural"]),
}


def _files() -> dict[str, str]:
    """A pool of input files, good and bad, made once."""
    WORK.mkdir(parents=True, exist_ok=True)
    made = {
        "screen.json": json.dumps({"cols": 20, "rows": 3, "lines": ["hi", "\u4e2d"],
                                   "cursor": [0, 2]}),
        "bad.json": "{\"cols\": 20, \"rows\": ",
        "huge.json": json.dumps({"cols": 10**9, "rows": 2, "lines": []}),
        "text.txt": "hello\n\tworld \u4e2d\n\x1b[31mred\n",
        "empty.txt": "",
        "ok.cast": "\n".join([json.dumps({"version": 2, "width": 20, "height": 4}),
                              json.dumps([0.1, "o", "hello\r\n"]),
                              json.dumps([0.5, "o", "\x1b[31mworld"])]),
        "cut.cast": json.dumps({"version": 2, "width": 20, "height": 4}) + "\n[0.1, \"o\", \"he",
        "v3.cast": json.dumps({"version": 3, "term": {"cols": 10, "rows": 2}}) + "\n[0.2, \"o\", \"x\"]",
    }
    for name, text in made.items():
        (WORK / name).write_text(text)
    (WORK / "binary.bin").write_bytes(bytes(range(256)))
    (WORK / "adir").mkdir(exist_ok=True)
    paths = {name: str(WORK / name) for name in [*made, "binary.bin", "adir"]}
    paths["missing"] = str(WORK / "missing.json")
    return paths


FILES = _files()
INPUT = st.sampled_from(sorted(FILES.values()))
OUT_PNG = st.sampled_from([str(WORK / "o.png"), str(WORK / "adir"), "/nonexistent/dir/o.png",
                           str(WORK / "o.txt"), ""])


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """main(argv) as the console script runs it: the exit status and stderr."""
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse: --help, --version, bad usage
        rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
    err = capsys.readouterr().err
    return rc, err


def check(argv: list[str], rc: int, err: str) -> None:
    note(f"{argv[0]} exit {rc}")  # --hypothesis-show-statistics shows how often each happens
    assert rc in (0, 1, 2), (argv, rc, err)
    assert "Traceback" not in err, (argv, err)
    if rc == 1:
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"hybrid-nc {argv[0]}: error: "), \
            (argv, err)
    if rc == 2:
        assert "error" in err or "usage" in err, (argv, err)


@fuzz_settings(300)
@given(cmd=st.sampled_from([*OPTIONS, "bogus", "", "--version", "-h"]), st_data=st.data())
def test_no_parser_ever_raises(cmd: str, st_data: st.DataObject,
                               capsys: pytest.CaptureFixture[str]) -> None:
    """Any argv through every subcommand's parser: a namespace, or exit 0 (help) / 2 (usage)."""
    flags = OPTIONS.get(cmd, ["--help"])
    tokens = st_data.draw(st.lists(st.one_of(st.sampled_from(flags), VALUES, INPUT), max_size=8))
    argv = [cmd, *tokens]
    try:
        build_parser().parse_args(argv)
        rc = 0
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else 2
    err = capsys.readouterr().err
    assert rc in (0, 2) and "Traceback" not in err, (argv, err)


@st.composite
def render_argv(draw: Any) -> list[str]:
    argv = ["render"]
    source = draw(st.sampled_from(["--screen", "--text", "--screen", "--text", "both", "none"]))
    if source in ("--screen", "both"):
        argv += ["--screen", draw(st.one_of(st.just(FILES["screen.json"]), INPUT))]
    if source in ("--text", "both"):
        argv += ["--text", draw(st.one_of(st.just(FILES["text.txt"]), INPUT))]
    if draw(st.integers(0, 3)):  # --out is required: leave it out now and then
        argv += ["--out", draw(st.one_of(st.just(str(WORK / "o.png")), OUT_PNG))]
    for flag in draw(st.lists(st.sampled_from(["--renderer", "--seed", "--cols", "--rows",
                                               "--theme", "--font-size", "--cursor"]),
                              max_size=3, unique=True)):
        argv += [flag, draw(FLAG_VALUES[flag])]
    return argv


@st.composite
def replay_argv(draw: Any) -> list[str]:
    argv = ["replay", draw(st.one_of(st.sampled_from([FILES["ok.cast"], FILES["v3.cast"]]),
                                     INPUT))]
    choices = {"--out": st.sampled_from([str(WORK / "o.gif"), str(WORK / "o.mp4"),
                                         str(WORK / "o.avi"), "/nonexistent/o.gif"]),
               "--frames-dir": st.sampled_from([str(WORK / "frames"), FILES["text.txt"]]),
               "--screen-out": st.sampled_from([str(WORK / "s.json"), "-", FILES["adir"]]),
               **{f: FLAG_VALUES[f] for f in ("--fps", "--at", "--theme", "--idle-time-limit",
                                              "--scale", "--renderer")}}
    for flag in draw(st.lists(st.sampled_from(sorted(choices)), max_size=3, unique=True)):
        argv += [flag, draw(choices[flag])]
    return argv


@st.composite
def exec_argv(draw: Any) -> list[str]:
    argv = ["exec", "--reasoners", draw(st.sampled_from(["sympy", "nope", ",", "sympy,nope"])),
            "--renderer", draw(st.sampled_from(["raster", "raster", "nope"]))]
    for flag in draw(st.lists(st.sampled_from(["--cols", "--rows", "--theme", "--seed",
                                               "--command-timeout"]), max_size=2, unique=True)):
        argv += [flag, draw(FLAG_VALUES[flag])]
    if draw(st.booleans()):
        argv.append("--json")
    if draw(st.booleans()):
        argv += ["--frame", draw(OUT_PNG)]
    lines = draw(st.lists(st.one_of(st.sampled_from(["98+45", "2**100", "1/0", "solve(x**2-4, x)",
                                                     "9**9**9", "calc ", "ask hi", "", "(((("]),
                                    st.text(max_size=20)), min_size=1, max_size=3))
    return [*argv, "--", *lines]


@pytest.fixture(autouse=True)
def plain_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No config file or LLM settings from the developer's environment."""
    for name in [n for n in os.environ if n.startswith("HYBRID_NC_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(WORK / "no-config"))


@fuzz_settings(40)
@given(argv=st.one_of(render_argv(), replay_argv()))
def test_render_and_replay(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = run_cli(argv, capsys)
    check(argv, rc, err)


@pytest.mark.slow
@fuzz_settings(15)
@given(argv=exec_argv())
def test_exec(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    rc, err = run_cli(argv, capsys)
    check(argv, rc, err)


def test_a_broken_config_file_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    for text in ("[session\nrenderer = ", "[session]\ncols = 'wide'\n", "\xff"):
        cfg = WORK / "config.toml"
        cfg.write_text(text, errors="surrogateescape")
        monkeypatch.setenv("HYBRID_NC_CONFIG", str(cfg))
        argv = ["exec", "--reasoners", "sympy", "--renderer", "raster", "--", "1+1"]
        rc, err = run_cli(argv, capsys)
        check(argv, rc, err)
        assert rc == 1, err


@pytest.mark.slow
def test_the_installed_entry_point(tmp_path: Path) -> None:
    """The real process (python -m hybrid_nc), for the paths in-process tests cannot show:
    the exit status the shell sees and nothing on stderr but the one line."""
    for argv, want in ((["render", "--screen", FILES["missing"], "--out", str(tmp_path / "o.png")],
                        1), (["--bogus"], 2), (["replay", FILES["cut.cast"]], 0)):
        proc = subprocess.run([sys.executable, "-m", "hybrid_nc", *argv], capture_output=True,
                              text=True, timeout=240, cwd=ROOT)
        assert proc.returncode == want, proc.stderr
        check(argv, proc.returncode, proc.stderr)
        if argv[0] == "replay":  # a cut recording plays, and one line says what was lost
            assert proc.stderr.startswith("hybrid-nc replay: warning: ") and \
                proc.stderr.count("\n") == 1, proc.stderr
