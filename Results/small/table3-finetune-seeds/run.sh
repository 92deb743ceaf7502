#!/usr/bin/env bash
# Table 3 at --scale small, rows d_model=768 (the reference: 3 pre-training seeds) and d_model=128 (2 seeds), with the
# random-init control, fine-tuning every seed (ScaleSettings.fineTuneSeeds). Writes the report to Reports/small-t3
# and copies it here with the log (without per-step progress lines). Usage: Results/small/table3-finetune-seeds/run.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."
HERE=Results/small/table3-finetune-seeds
swift build -c release
OUT=Reports/small-t3
mkdir -p "$OUT"
{ echo "commit $(git rev-parse --short HEAD), start $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2)"; } > "$HERE/run.log"
/usr/bin/time -v .build/release/Table3 --scale small --accuracy-only --rows "d_model=128" --output "$OUT" \
  2> >(grep --line-buffered -v -E ' step [0-9]+/|^step [0-9]+/' >> "$HERE/run.log") | tee -a "$HERE/run.log"
echo "end $(date -u +%Y-%m-%dT%H:%MZ)" >> "$HERE/run.log"
cp "$OUT"/Table3.md "$OUT"/Table3.csv "$OUT"/Table3.json "$HERE"/
cp "$OUT"/Table3-curve-*.svg "$HERE"/ 2>/dev/null || true
