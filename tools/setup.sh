#!/usr/bin/env bash
# Everything the project needs, from a fresh Debian machine with Python 3.11+:
#   Graphviz's `dot` and Chromium with its driver (apt), a virtual environment .venv with the
#   package (editable), the test tools (selenium among them) and the course's figure
#   library, matplotlib (pip). PyTorch is optional: it is
#   installed only when a local wheel is available through pip's configuration (no multi-GB
#   download), or when TG_WITH_TORCH=1.
# Sourced by tools/test.sh and tools/course.sh; safe to run again (it only adds what is missing,
# and runs pip again only when pyproject.toml changed).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

# System programs, from apt when missing: Graphviz's `dot` (graph pictures), and Debian's
# Chromium with its WebDriver (the explorer's browser tests). Where apt can't, the tests
# that need them skip and say why.
SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
APT_UPDATED=0
apt_install() {   # apt_install WHAT PACKAGE... : install quietly, or say what will skip
  local what="$1"; shift
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: no apt-get here; install $what yourself ($*); tests that need it skip" >&2
    return 0
  fi
  echo "setup: installing $what ($*) ..." >&2
  if [ "$APT_UPDATED" = "0" ]; then
    $SUDO apt-get update -qq >/dev/null 2>&1 || true
    APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" >/dev/null 2>&1 || \
    echo "setup: could not install $what; the tests that need it will be skipped" >&2
}
command -v dot >/dev/null 2>&1 || apt_install "Graphviz" graphviz
if ! command -v chromedriver >/dev/null 2>&1 || \
   ! { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; }; then
  apt_install "Chromium for the browser tests" chromium chromium-driver
fi

PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv ..." >&2
  "$PY" -m venv .venv
fi
VPY="$ROOT/.venv/bin/python"
# pip runs only when pyproject.toml (or the extras asked for) changed since the last install:
# the stamp inside .venv holds a hash of both. An editable install sees new files without it.
EXTRAS="test,course"
STAMP="$ROOT/.venv/.tinygrad_edu-install-stamp"
WANT="$( (cat pyproject.toml; echo "extras=$EXTRAS") | sha256sum | cut -d' ' -f1)"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ]; then
  echo "setup: installing the package and its test and course tools into .venv ..." >&2
  "$VPY" -m pip install -q --disable-pip-version-check -e ".[$EXTRAS]" 2>&1 \
    | grep -v "is neither a file nor a directory" || true
  "$VPY" -c "import tinygrad_edu, pytest, hypothesis, rich, graphviz, matplotlib" \
    || { echo "setup: installing the package failed" >&2; exit 1; }

  if ! "$VPY" -c "import torch" >/dev/null 2>&1; then
    if [ "${TG_WITH_TORCH:-0}" = "1" ]; then
      "$VPY" -m pip install -q torch
    else
      # Only when pip's configuration offers a local torch wheel (find-links): install that
      # file, with its small dependencies from the index. Quietly nothing elsewhere.
      WHEELS="$(mktemp -d)"
      if "$VPY" -m pip download -q --no-index --no-deps --only-binary=:all: "torch==2.13.0" \
           -d "$WHEELS" >/dev/null 2>&1; then
        "$VPY" -m pip install -q "$WHEELS"/torch-*.whl 2>&1 \
          | grep -v "is neither a file nor a directory" || true
      fi
      rm -rf "$WHEELS"
    fi
  fi
  echo "$WANT" > "$STAMP"
fi
export PATH="$ROOT/.venv/bin:$PATH"
