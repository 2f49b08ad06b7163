#!/usr/bin/env bash
# The course command: set everything up, then run every lesson in order in the terminal,
# stopping after each step (Enter: go on, b: show the step before again, q: quit).
# Arguments go to the course runner: --fast, --no-pause, --only 3 7, --from 13, --list, --help.
# The exercises have their own entry point (lessons/exercises/__main__.py):
#   --exercises (the list, with your progress), --check NAME, --hint NAME.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
for arg in "$@"; do
  case "$arg" in
    --exercises|--check|--check=*|--hint|--hint=*)
      export PYTHONPATH="$ROOT/lessons${PYTHONPATH:+:$PYTHONPATH}"
      export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
      exec "$ROOT/.venv/bin/python" -m exercises "$@" ;;
  esac
done
exec "$ROOT/.venv/bin/python" "$ROOT/lessons/run_course.py" "$@"
