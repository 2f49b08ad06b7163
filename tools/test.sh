#!/usr/bin/env bash
# The test command: set everything up, then run the whole test suite (lessons in --fast mode).
# Extra arguments go to pytest, e.g. `bash tools/test.sh -k conv`.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
# pytest-xdist runs one process per core: one BLAS thread each avoids oversubscription
export OPENBLAS_NUM_THREADS="${OPENBLAS_NUM_THREADS:-1}" OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
exec "$ROOT/.venv/bin/python" -m pytest -n "${TG_TEST_WORKERS:-auto}" -q "$@"
