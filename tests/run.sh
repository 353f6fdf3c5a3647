#!/usr/bin/env bash
# The README's test command, self-sufficient on a fresh machine after `pip install -r requirements.txt`:
# installs the test-only Python tools (requirements-dev.txt) into the running Python, installs the two system tools
# the tests use (espeak-ng for test speech, chromium for the browser tests) with apt-get where it is present and we
# are root (otherwise it says in one line how to get them), then lints (ruff) and runs the whole suite.
# Extra arguments go to pytest (e.g. `bash tests/run.sh tests/core -x`). PYTHON picks the interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
py="${PYTHON:-python}"
"$py" -m pip install -q -r requirements-dev.txt
need=()
command -v espeak-ng >/dev/null || need+=(espeak-ng)
command -v chromium >/dev/null || need+=(chromium)
if ((${#need[@]})); then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "tests/run.sh: ${need[*]} missing; install with: sudo apt-get install -y ${need[*]}" >&2
  fi
fi
"$py" -m ruff check .
"$py" -m pytest "$@"
