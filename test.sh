#!/usr/bin/env bash
# The README's test command: builds the test targets, then runs the suite on the OpenBLAS kernel that the
# executables use. Debian 12's OpenBLAS falls back to its Prescott kernels on CPUs it does not recognise; the
# executables then restart themselves with OPENBLAS_CORETYPE (README, "OpenBLAS's kernel"), and this script gives
# the test process the same kernel. A preset OPENBLAS_CORETYPE is kept. Extra arguments go to `swift test`.
set -euo pipefail
cd "$(dirname "$0")"
swift build --build-tests
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  choice=$(.build/debug/sparse-mixers blas-kernel --restart-choice 2>/dev/null || true)
  if [ -n "$choice" ]; then
    export OPENBLAS_CORETYPE="$choice"
    echo "test.sh: OpenBLAS does not recognise this CPU; the tests run with OPENBLAS_CORETYPE=$choice, as the executables do"
  fi
fi
swift test --skip-build "$@"
