#!/usr/bin/env bash
# Builds in release and runs the harness. Usage: ./run_all.sh [--scale ci|small|paper] [--threads N]
# Installs nothing: see the README's first command for the system packages.
set -euo pipefail
cd "$(dirname "$0")"
SCALE=ci
THREADS=$(nproc)
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) SCALE="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
case "$SCALE" in ci|small|paper) ;; *) echo "--scale must be ci, small or paper" >&2; exit 2 ;; esac
mkdir -p Reports
swift build -c release
BIN=.build/release/sparse-mixers

echo "== golden fixtures (authors' implementation)"
if [ -d ../shared/golden ]; then "$BIN" verify-golden ../shared/golden --quiet | tee Reports/verify-golden.txt; fi

echo "== speed (training step and inference), scale $SCALE"
case "$SCALE" in
  ci) BATCH=2; SEQ=128; REPEATS=2 ;;
  small) BATCH=8; SEQ=512; REPEATS=3 ;;
  paper) BATCH=8; SEQ=512; REPEATS=5 ;;
esac
{
  for p in bert-base sparse-mixer-base fast-sparse-mixer-base; do
    "$BIN" bench --preset "$p" --batch "$BATCH" --seq "$SEQ" --repeats "$REPEATS" --threads "$THREADS"
  done
} | tee Reports/bench.txt
