#!/usr/bin/env bash
# Installs everything hybrid-nc needs on a fresh Debian 12 machine (root, Python 3.11, no GPU).
#   scripts/install.sh           the system packages and the package itself
#   scripts/install.sh --test    plus test tools: Chromium for the browser test, the vLLM venv
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_TESTS=0
[[ "${1:-}" == "--test" ]] && WITH_TESTS=1

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
  [[ -x scripts/setup_vllm.sh ]] && scripts/setup_vllm.sh
else
  $PY -m pip install -q --disable-pip-version-check -e .
fi
echo "hybrid-nc installed: $(command -v hybrid-nc)"
