"""Test harness: a tiny random Llama-style model served by a real vLLM server on 127.0.0.1.

Used by tests/reasoner/test_llm_vllm.py and benchmarks/bench_llm.py. vLLM lives in its own virtual
environment (scripts/setup_vllm.sh creates `.venv-vllm/`), so this module never imports it: the
model is built by running this file with the venv's Python (`python vllm_server.py build DIR`),
which also guarantees the files are written by the transformers version vLLM reads them with.

Facts this follows (../shared/notes/vllm-cpu.md): the CPU attention kernels need a head size of at
least 32 (hidden 128 / 4 heads); the tokenizer needs a chat template; the server refuses to start
without VLLM_CPU_KVCACHE_SPACE; TMPDIR/VLLM_CACHE_ROOT keep its droppings in our temp dir; the
guidance grammar backend with disable_any_whitespace (plus maxLength in the schema) keeps a random
model's JSON valid; a dead engine makes the server exit, so readiness also checks the process.

    with VLLMServer.start_new(workdir) as server:    # builds the model, starts, waits for ready
        server.url                                   # http://127.0.0.1:PORT/v1
        server.kill(); server.restart()
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV = Path(os.environ.get("HYBRID_NC_VLLM_VENV", ROOT / ".venv-vllm"))
SERVED_NAME = "tiny-llama"

# The tiny model: big enough for vLLM's CPU kernels (head size 32), small enough to load in
# seconds on two cores. Random weights: it writes schema-valid nonsense, which is what the
# integration tests need (they test the plumbing, not the answers). See _build for one bias.
TINY = {"hidden_size": 128, "num_attention_heads": 4, "num_key_value_heads": 4,
        "num_hidden_layers": 2, "intermediate_size": 256, "vocab_size": 512,
        "max_position_embeddings": 4096}

# Roles as plain text markers keep the template readable; </s> ends every turn.
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}</s>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


class HarnessError(RuntimeError):
    """The vLLM test server could not be set up; the message says what to do."""


def venv_python() -> Path:
    """The vLLM venv's interpreter; HarnessError naming scripts/setup_vllm.sh when missing."""
    python = VENV / "bin" / "python"
    if not python.exists():
        raise HarnessError(f"the vLLM virtual environment is missing at {VENV}: run "
                           f"scripts/setup_vllm.sh (CI runs it) to create it")
    return python


@dataclass(frozen=True)
class TinyModel:
    """A built model directory and its size, as reported by the builder."""

    path: Path
    parameters: int
    vocab_size: int


def build_tiny_model(out_dir: Path, seed: int = 0) -> TinyModel:
    """Build the random model and its locally trained tokenizer in `out_dir` (venv Python)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run([str(venv_python()), str(Path(__file__).resolve()), "build",
                           str(out_dir), str(seed)],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"})
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise HarnessError(f"building the tiny model failed:\n{tail}")
    info = json.loads(proc.stdout.strip().splitlines()[-1])
    return TinyModel(out_dir, int(info["parameters"]), int(info["vocab_size"]))


def free_port() -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class VLLMServer:
    """`python -m vllm.entrypoints.openai.api_server` for one model, in its own process group."""

    def __init__(self, model: TinyModel, workdir: Path, port: int | None = None,
                 ready_timeout: float = 300.0) -> None:
        self.model = model
        self.workdir = workdir
        self.port = port or free_port()
        self.ready_timeout = ready_timeout
        self.log_path = workdir / "vllm-server.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.startup_s: float | None = None

    @classmethod
    def start_new(cls, workdir: Path, **kwargs: object) -> VLLMServer:
        """Build the tiny model under `workdir` and start a server for it."""
        model = build_tiny_model(workdir / "tiny-llama")
        server = cls(model, workdir, **kwargs)  # type: ignore[arg-type]
        server.start()
        return server

    @property
    def url(self) -> str:
        """The OpenAI-compatible base URL (what --llm-url takes)."""
        return f"http://127.0.0.1:{self.port}/v1"

    def _env(self) -> dict[str, str]:
        tmp = self.workdir / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        return {**os.environ,
                "VLLM_CPU_KVCACHE_SPACE": "1",        # GiB; without it vLLM wants 92% of RAM
                "TMPDIR": str(tmp),                   # it leaves vllm_dist_* behind
                "VLLM_CACHE_ROOT": str(self.workdir / "vllm-cache"),
                "HF_HOME": str(self.workdir / "hf-home"),
                "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
                "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1"}

    def command(self) -> list[str]:
        """The server's command line."""
        return [str(venv_python()), "-m", "vllm.entrypoints.openai.api_server",
                "--model", str(self.model.path), "--served-model-name", SERVED_NAME,
                "--host", "127.0.0.1", "--port", str(self.port),
                "--dtype", "float32", "--max-model-len", "4096", "--enforce-eager",
                "--structured-outputs-config",
                json.dumps({"backend": "guidance", "disable_any_whitespace": True})]

    def start(self) -> None:
        """Start the server and wait until /v1/models answers (HarnessError with the log tail)."""
        t0 = time.perf_counter()
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child keeps writing to it
        try:
            self.proc = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=self._env(),
                                         start_new_session=True)
        finally:
            log.close()
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise HarnessError(f"vLLM server exited with status {self.proc.returncode} "
                                   f"before it was ready:\n{self.log_tail()}")
            if self.ready():
                self.startup_s = time.perf_counter() - t0
                return
            time.sleep(0.5)
        self.kill()
        raise HarnessError(f"vLLM server not ready after {self.ready_timeout:.0f} s:\n"
                           f"{self.log_tail()}")

    def ready(self) -> bool:
        """True when the server lists the model."""
        try:
            with urllib.request.urlopen(f"{self.url}/models", timeout=2) as r:
                return SERVED_NAME in r.read().decode()
        except (OSError, urllib.error.URLError, ValueError):
            return False

    def alive(self) -> bool:
        """True while the server process runs."""
        return self.proc is not None and self.proc.poll() is None

    def _signal_group(self, sig: int) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def _shared_memory(self) -> set[int]:
        # inodes of the /dev/shm files the server's processes have mapped: a SIGKILL leaves them
        # behind. By inode, because a POSIX semaphore is mapped under a temporary name and then
        # linked as sem.mp-*, so the names in /proc/PID/maps are not the names in /dev/shm.
        found: set[int] = set()
        if self.proc is None:
            return found
        for proc_dir in Path("/proc").glob("[0-9]*"):
            try:
                if int((proc_dir / "stat").read_text().rsplit(")", 1)[1].split()[2]) != \
                        self.proc.pid:      # field 5 of stat: the process group
                    continue
                maps = (proc_dir / "maps").read_text()
            except (OSError, ValueError, IndexError):
                continue
            found |= {int(m) for m in re.findall(r" (\d+) +/dev/shm/", maps)}
        return found

    def kill(self) -> None:
        """SIGKILL the whole process group (API server and engine core): a crash, not a stop.
        The shared-memory segments the group had mapped are removed afterwards. The group is
        frozen (SIGSTOP) first: scanning /proc for those segments takes a while, and a fast
        machine would otherwise finish the reply that the kill is meant to cut."""
        self._signal_group(signal.SIGSTOP)
        segments = self._shared_memory()
        self._signal_group(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=30)
        self._remove(segments)

    @staticmethod
    def _remove(inodes: set[int]) -> None:
        time.sleep(0.5)  # children of the group die after the leader
        for entry in Path("/dev/shm").iterdir() if inodes else ():
            with contextlib.suppress(OSError):
                if entry.stat().st_ino in inodes:
                    entry.unlink()

    def stop(self) -> None:
        """SIGTERM the process group (it exits in ~2 s), SIGKILL whatever is left after 20 s."""
        if self.proc is None:
            return
        segments = self._shared_memory()
        self._signal_group(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=20)
        # the engine core is a separate process in the same group: make sure it is gone too
        self._signal_group(signal.SIGKILL)
        self.proc.wait(timeout=30)
        self._remove(segments)

    def restart(self) -> None:
        """Stop (if running) and start again on the same port, so clients keep their URL."""
        if self.alive():
            self.stop()
        self.start()

    def log_tail(self, lines: int = 25) -> str:
        """The last lines of the server's log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.strip().splitlines()[-lines:])

    def __enter__(self) -> VLLMServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


# -- model builder: runs inside the vLLM venv ------------------------------------------------------
def _corpus() -> list[str]:
    """Text for the tokenizer: JSON punctuation, digits, operators and common English words, so
    the merges cover what the schema and the prompts contain."""
    words = ["the", "a", "is", "of", "and", "to", "in", "what", "how", "many", "much", "plus",
             "minus", "times", "divided", "by", "answer", "expression", "kind", "text", "output",
             "terminal", "question", "user", "system", "assistant", "number", "dollars", "eggs",
             "apples", "each", "total", "left", "more", "less", "than", "she", "he", "they"]
    lines = ['{"kind":"answer","text":"', '","expression":"', '"}', '{"output":"',
             "0123456789 + - * / ( ) . = ?", "98 + 45 = 143", "(16 - 3 - 4) * 2"]
    lines += [" ".join(words[i:] + words[:i]) for i in range(len(words))]
    return lines * 20


def _build(out_dir: Path, seed: int) -> dict[str, int]:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    # 1. byte-level BPE trained here: every byte is in the alphabet, so any text tokenizes
    specials = ["<s>", "</s>", "<pad>"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=TINY["vocab_size"], special_tokens=specials,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(_corpus(), trainer=trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>",
                                   pad_token="<pad>")
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out_dir)

    # 2. a random Llama with head size 32 (CPU attention supports >= 32)
    torch.manual_seed(seed)
    config = LlamaConfig(**{**TINY, "vocab_size": len(fast)},
                         bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id,
                         pad_token_id=fast.pad_token_id, tie_word_embeddings=False,
                         torch_dtype="float32")
    model = LlamaForCausalLM(config)

    # 3. an output-layer bias. Against '"': a random model then fills every JSON string up to the
    # schema's maxLength instead of closing it at once, so a long reply streams for a second or
    # two, long enough to kill the server mid-reply. Against bytes that are not printable ASCII
    # (and special tokens): fewer tokens per character, readable nonsense. Llama's lm_head has no
    # bias, so one hidden dimension is made a constant: every embedding's dim 0 is large, RMSNorm
    # then leaves h[0] ~ sqrt(hidden) whatever the token, and lm_head[:, 0] acts as a bias.
    with torch.no_grad():
        model.model.embed_tokens.weight[:, 0] = 10.0
        bias = torch.zeros(len(fast))
        for i in range(len(fast)):
            piece = fast.decode([i])
            if '"' in piece:
                bias[i] = -1.0
            elif i in fast.all_special_ids or not (piece.isascii() and piece.isprintable()):
                bias[i] = -0.5
        model.lm_head.weight[:, 0] = bias
    model.save_pretrained(out_dir, safe_serialization=True)
    return {"parameters": sum(p.numel() for p in model.parameters()), "vocab_size": len(fast)}


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "build":
        info = _build(Path(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 0)
        print(json.dumps(info))
    else:
        sys.exit("usage: python vllm_server.py build OUT_DIR [SEED]")
