#!/usr/bin/env bash
# The course command: set everything up, then run every lesson in order in the terminal,
# stopping after each step (Enter: go on, b: show the step before again, q: quit).
# Arguments go to the course runner: --fast, --no-pause, --only 3 7, --from 13, --list, --help.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
exec "$ROOT/.venv/bin/python" "$ROOT/lessons/run_course.py" "$@"
