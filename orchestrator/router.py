"""Which reasoner answers a line: the shell, the sympy calculator or the LLM.

The router sees a whole input line (what the user typed before Enter) and returns a `Route`:
the reasoner's registry name, a short human-readable reason (recorded in the step's trace) and the
line to give it (a forcing prefix removed). In order:

1. user rules (regex -> route name, from the config file or the constructor), first match wins;
2. an empty line -> shell;
3. forcing prefixes: `calc <expr>` -> sympy; `ask <question>` -> llm (route "error" with the
   message as reason when no LLM is configured);
4. a question in words that ends with "?" (and does not start with a shell keyword or builtin
   such as `echo`) -> llm (or shell without an LLM);
5. anything with shell syntax -> shell: a first word that is a shell keyword, builtin or a program
   on PATH (`ls`, `echo 1+1`, `[ 1 -lt 2 ]`, `a-b` when a-b is installed), a path (`./a.out`),
   an assignment (`x=5`), redirections, pipes, quotes, `$`, subshells (`(cd /tmp)`), `((...))`
   that is not plain arithmetic (`(( x++ ))`); a guess made from syntax alone is checked with
   `bash -n` when the line is also math, and bash's "cannot parse" sends it to sympy;
6. a bare math expression (`98+45`, `2**100`, `sqrt(8)`, `(3+4)*5`, `7/3`) -> sympy;
7. other natural language (`how do I list files`) -> llm when configured;
8. everything else -> shell (bash says "command not found", as a terminal would).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from reasoner.backends.sympy_calc import looks_like_math

# what the sandboxed shell finds on its PATH (/usr/local is hidden inside the sandbox)
DEFAULT_PATH = "/usr/bin:/bin:/usr/sbin:/sbin"

SHELL_WORDS = frozenset({
    "!", "[[", "]]", "{", "}", "case", "coproc", "do", "done", "elif", "else", "esac", "fi",
    "for", "function", "if", "in", "select", "then", "time", "until", "while", ".", ":", "[",
    "alias", "bg", "bind", "break", "builtin", "caller", "cd", "command", "compgen", "complete",
    "compopt", "continue", "declare", "dirs", "disown", "echo", "enable", "eval", "exec", "exit",
    "export", "false", "fc", "fg", "getopts", "hash", "help", "history", "jobs", "kill", "let",
    "local", "logout", "mapfile", "popd", "printf", "pushd", "pwd", "read", "readarray",
    "readonly", "return", "set", "shift", "shopt", "source", "suspend", "test", "times", "trap",
    "true", "type", "typeset", "ulimit", "umask", "unalias", "unset", "wait"})

# characters that mean shell syntax (math never needs them; `<`/`>` are redirections in bash)
_SHELL_CHARS = re.compile(r"[|&;<>$`\\\"'{}!#~]")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z_0-9]*(\[[^\]]*\])?\+?=")
_QUESTION_WORDS = frozenset({
    "what", "whats", "what's", "how", "why", "who", "whom", "whose", "when", "where", "which",
    "can", "could", "should", "would", "will", "is", "are", "am", "was", "were", "do", "does",
    "did", "explain", "tell", "describe", "give", "show", "please", "help", "define", "translate",
    "summarize", "summarise", "write", "suggest", "compare", "list", "find"})
_WORD = re.compile(r"^[A-Za-z][A-Za-z'’-]*[?.,!:]*$")


@dataclass(frozen=True)
class Route:
    """Where a line goes. name: a reasoner registry name ("shell", "sympy", "llm", a plugin) or
    "error" (then `reason` is the message to show); reason: short text for the trace; line:
    what the reasoner gets (a forcing prefix removed)."""

    name: str
    reason: str
    line: str


@dataclass(frozen=True)
class Rule:
    """A user routing rule: lines matching `pattern` (re.search) go to `route`. A named group
    `line` in the pattern, when it matches, becomes the line the reasoner gets."""

    pattern: str
    route: str

    def compiled(self) -> re.Pattern[str]:
        try:
            return re.compile(self.pattern)
        except re.error as e:
            raise ValueError(f"routing rule {self.pattern!r} is not a valid regex: {e}") from None


def parse_rules(rules: Iterable[Rule | Sequence[str] | Mapping[str, Any]] | None) -> list[Rule]:
    """Rules from the config file's forms: Rule, (pattern, route) or {"pattern", "route"}."""
    out: list[Rule] = []
    for item in rules or ():
        if isinstance(item, Rule):
            rule = item
        elif isinstance(item, Mapping):
            if "pattern" not in item or "route" not in item:
                raise ValueError(f"routing rule {dict(item)!r} needs 'pattern' and 'route'")
            rule = Rule(str(item["pattern"]), str(item["route"]))
        elif isinstance(item, (list, tuple)) and len(item) == 2:
            rule = Rule(str(item[0]), str(item[1]))
        else:
            raise ValueError(f"routing rule {item!r} must be (pattern, route) or "
                             "{'pattern': ..., 'route': ...}")
        rule.compiled()
        out.append(rule)
    return out


_PROGRAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9._+-]*$")


class Router:
    """Routes input lines to reasoners (see the module docstring for the order of checks).

    Args:
        rules: user rules, checked first (Rule, (pattern, route) pairs or dicts).
        llm_available: whether an LLM backend is configured; without it natural language goes
            to the shell and `ask ...` gives an "error" route.
        path: PATH used to decide whether a first word is an installed program.
        reasoners: names of the line reasoners the session has (None: assume sympy is there).
            With it, "llm" in it also means llm_available; without "sympy", math goes to the
            shell and `calc ...` is an "error" route; a rule naming a reasoner not in it gives
            an "error" route instead of a name nobody answers to.
        simulate_programs: route a line whose first word is a program the sandbox lacks to the
            LLM's program simulation ("simulate" route; the answer is marked as simulated).
        llm_off: why the LLM that was asked for cannot run here; `ask ...` shows it.
    """

    def __init__(self, rules: Iterable[Rule | Sequence[str] | Mapping[str, Any]] | None = None,
                 llm_available: bool = False, path: str = DEFAULT_PATH,
                 reasoners: Iterable[str] | None = None, simulate_programs: bool = False,
                 llm_off: str | None = None) -> None:
        self.rules = parse_rules(rules)
        self.llm_off = llm_off
        self.simulate_programs = simulate_programs
        self._compiled = [(r, r.compiled()) for r in self.rules]
        self.reasoners = set(reasoners) if reasoners is not None else None
        self.llm_available = llm_available or (self.reasoners is not None
                                               and "llm" in self.reasoners)
        self.calc_available = self.reasoners is None or "sympy" in self.reasoners
        self.path = path
        self._which = lru_cache(maxsize=4096)(self._lookup)

    def _lookup(self, word: str) -> bool:
        return shutil.which(word, path=self.path) is not None

    def is_command(self, word: str) -> bool:
        """True for shell keywords/builtins and programs on PATH."""
        if word in SHELL_WORDS:
            return True
        if not word or "/" in word or len(word) > 255:
            return False
        return self._which(word)

    def route(self, line: str) -> Route:
        """Decide where `line` goes."""
        text = line.strip()
        # 1. user rules
        for rule, rx in self._compiled:
            m = rx.search(line)
            if m:
                sub = m.groupdict().get("line")
                target = sub if sub is not None else line
                if self.reasoners is not None and rule.route not in self.reasoners | {"shell"}:
                    return Route("error", f"rule /{rule.pattern}/ names {rule.route!r}, which "
                                 "is not configured", target)
                return Route(rule.route, f"rule /{rule.pattern}/", target)
        # 2. nothing typed
        if not text:
            return Route("shell", "empty line", line)
        # 3. forcing prefixes
        lowered = text.lower()
        if lowered.startswith("calc ") or lowered == "calc":
            if not self.calc_available:
                return Route("error", "calc: the sympy calculator is not configured",
                             text[4:].strip())
            return Route("sympy", "forced by 'calc'", text[4:].strip())
        if lowered.startswith("ask ") or lowered == "ask":
            question = text[3:].strip()
            if not self.llm_available:
                off = (f"the LLM is off here: {self.llm_off}" if self.llm_off else
                       "no LLM is configured (set --llm-url or HYBRID_NC_LLM_URL)")
                return Route("error", f"ask: {off}", question)
            return Route("llm", "forced by 'ask'", question)
        first = text.split()[0]
        # 4. a question in words (unless it starts with a shell keyword: `echo what?`)
        if first not in SHELL_WORDS and self._is_question(text):
            return self._natural(line, "a question in words")
        # 5. shell syntax
        why = self._shell_reason(text, first)
        if why and not (self.calc_available and first not in SHELL_WORDS
                        and looks_like_math(text) and not bash_parses(text)):
            return Route("shell", why, line)
        # 6. math
        if looks_like_math(text):
            if not self.calc_available:
                return Route("shell", "math expression, but no calculator is configured: shell",
                             line)
            return Route("sympy", "math expression", text)
        # 6b. a program the sandbox does not have, when the LLM may simulate it (off by default)
        if (self.simulate_programs and self.llm_available and _PROGRAM_NAME.match(first)
                and not self.is_command(first)):
            return Route("simulate", f"{first}: not installed; simulated by the LLM", line.strip())
        # 7. other natural language
        if self._is_prose(text) or self._is_prose(text, strict=True):
            return self._natural(line, "natural language")
        # 8. the default
        return Route("shell", "not math or prose: shell", line)

    def _natural(self, line: str, what: str) -> Route:
        if self.llm_available:
            return Route("llm", what, line.strip())
        return Route("shell", f"{what}, but no LLM is configured: shell", line)

    def _shell_reason(self, text: str, first: str) -> str | None:
        if first in SHELL_WORDS:
            return f"shell keyword/builtin: {first}"
        if first.startswith(("/", "./", "../", "~", "%", "-")) and not looks_like_math(text):
            return "path or option"
        # `((1+2)*3)` is math to a person but a syntax error to bash, and `((1+2))` is silent
        # there: plain arithmetic in double parentheses goes to the calculator
        if text.startswith("((") and not looks_like_math(text):
            return "shell arithmetic"
        if _ASSIGNMENT.match(text):
            return "assignment"
        m = _SHELL_CHARS.search(text)
        if m:
            return f"shell syntax ({m.group(0)})"
        if text.startswith("(") and not looks_like_math(text):
            return "subshell"
        if self.is_command(first) and not self._is_prose(text, strict=True):
            return f"program on PATH: {first}"
        return None

    @staticmethod
    def _words(text: str) -> list[str]:
        return text.split()

    def _is_question(self, text: str) -> bool:
        """Several plain words ending with '?' ("who is Ada Lovelace?")."""
        words = self._words(text)
        if len(words) < 3 or not text.endswith("?"):
            return False
        plain = sum(1 for w in words if _WORD.match(w))
        return plain >= max(2, 0.6 * len(words)) and not _has_code(text)

    def _is_prose(self, text: str, strict: bool = False) -> bool:
        """A sentence that starts with a question/request word ("how do I list files").
        strict: at least four words, all plain, so that a request that starts with a program's
        name ("write a poem about cats") still counts while `who am i` does not."""
        words = self._words(text)
        if len(words) < (4 if strict else 3) or _has_code(text):
            return False
        head = words[0].lower().strip("?,.!:")
        if head not in _QUESTION_WORDS or (not strict and self.is_command(words[0])):
            return False
        plain = sum(1 for w in words if _WORD.match(w))
        return plain == len(words) if strict else plain >= 0.75 * len(words)


@lru_cache(maxsize=1024)
def bash_parses(line: str) -> bool:
    """Whether bash accepts `line` as syntax (`bash -n`: parsed, never run). True when bash is
    missing or slow to answer, so a doubt never takes a line away from the shell."""
    try:
        done = subprocess.run(["bash", "-n", "-c", line], stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              timeout=5, check=False)
    except (OSError, subprocess.SubprocessError, ValueError):
        return True
    return done.returncode == 0


def _has_code(text: str) -> bool:
    """Marks of a command rather than prose: options, paths, pipes, variables, redirections."""
    return bool(re.search(r"(^|\s)--?\w|[|$`<>;&=/\\{}]", text))


__all__ = ["DEFAULT_PATH", "Route", "Router", "Rule", "bash_parses", "parse_rules"]
