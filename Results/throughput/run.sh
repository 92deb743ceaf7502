#!/usr/bin/env bash
# Throughput of the training step (issue 17), measured on this machine; writes Results/throughput/RUN-<date>.log.
# Usage: [LOG=file] Results/throughput/run.sh [BEFORE_BINARY]
#   BEFORE_BINARY: a sparse-mixers built from an earlier commit; its one-thread small-scale step times are then
#   taken alternately with this build's (A B A B), so the before/after ratio is one run's.
# Every figure is a median over rounds; the sgemm peak is read in the same process just before. Wall time ~15-20 min.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=.build/release/sparse-mixers
BEFORE=${1:-}
LOG=${LOG:-Results/throughput/RUN-$(date -u +%Y-%m-%d).log}   # LOG=... names another file
T0=$(date +%s)
{
echo "# throughput run: commit $(git rev-parse --short HEAD), $(date -u +%Y-%m-%dT%H:%MZ), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(nproc) cores"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "## Small scale (32 x 128, the accuracy phase's shape): one run on 2 threads vs 2 side by side on 1 thread each"
for p in bert-base linear-4 sparse-mixer-base fast-sparse-mixer-base fourier-12; do
  $BIN bench --preset $p --scale small --tokens-per-second --repeats 8 2>&1 | grep -v '^note:'
  echo
done
if [ -n "$BEFORE" ]; then
  echo "## Before/after, one thread, small scale, batch 32: training step median of 8, alternating binaries"
  for p in bert-base linear-4 sparse-mixer-base fourier-12; do
    for r in 1 2; do
      for b in "$BEFORE" "$BIN"; do
        tag=after; [ "$b" = "$BEFORE" ] && tag=before
        echo "$p $tag: $($b bench --preset $p --scale small --batch 32 --repeats 8 --threads 1 2>&1 | grep -E 'training step' | sed 's/inference.*//')"
      done
    done
  done
  echo
fi
echo "## Paper size at 8 x 512, 2 threads: training step against the sgemm peak"
for p in bert-base sparse-mixer-base fast-sparse-mixer-base; do
  $BIN bench --preset $p --batch 8 --seq 512 --repeats 2 --threads 2 2>&1 | grep -v '^note:'
  echo
done
echo "## Ratios in one run at 8 x 512, 2 threads: BERT Base, Sparse Mixer, Fast Sparse Mixer in interleaved rounds"
# (speed-check's five models together need about 27 GB at 8 x 512; Table 8's three fit.)
T8=$(mktemp -d)
.build/release/Table8 --scale small --speed-only --max-rounds 8 --time-limit 300 --output "$T8" > "$T8/log" 2>&1 || true
sed -n '/^## Speed/,/^## [^S]/p' "$T8/Table8.md" | head -20
echo
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg); wall time $(( $(date +%s) - T0 )) s"
} 2>&1 | tee "$LOG"
