#!/usr/bin/env bash
# The Slurm check of .ci/run (README "Running on a Slurm cluster"): starts a one-node cluster on this machine
# (.ci/slurm-local.sh), submits one table at --scale ci through `sparse-mixers submit`, waits for every job, runs
# the same table locally (accuracy only, its own run cache), and fails unless every accuracy number of the two
# reports is the same, digit for digit. Needs root, slurm-wlm and munge, and the release build.
#   SMX_SLURM_TABLE   the table (default Table3: the cheapest with accuracy runs, `plan --count-only` and the
#                     README's per-table times at ci)
#   SMX_SLURM_KEEP=1  keep the temporary directory (cluster logs, both work directories)
set -euo pipefail
cd "$(dirname "$0")/.."
TABLE=${SMX_SLURM_TABLE:-Table3}
BIN=.build/release
tmp=$(mktemp -d /tmp/smx-slurm-check.XXXXXX)
cluster="$tmp/cluster"
cleanup() {
  .ci/slurm-local.sh stop "$cluster" >/dev/null 2>&1 || true
  if [ "${SMX_SLURM_KEEP:-}" = 1 ]; then echo "slurm-check: kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
start=$(date +%s)
.ci/slurm-local.sh start "$cluster"
export SLURM_CONF="$cluster/slurm.conf"

echo "== slurm-check: $TABLE at --scale ci through submit"
if ! nice -n 19 "$BIN/sparse-mixers" submit --scale ci --tables "$TABLE" --work-dir "$tmp/slurm" --wait --poll-seconds 5; then
  echo "slurm-check: a job failed; its log:" >&2
  tail -n 30 "$tmp"/slurm/slurm/logs/*.out >&2 || true
  exit 1
fi
cluster_s=$(( $(date +%s) - start ))

echo "== slurm-check: $TABLE at --scale ci locally (accuracy only)"
t0=$(date +%s)
if ! nice -n 19 "$BIN/$TABLE" --scale ci --accuracy-only --output "$tmp/local" > "$tmp/local.log" 2>&1; then
  tail -n 30 "$tmp/local.log" >&2; exit 1
fi
local_s=$(( $(date +%s) - t0 ))

# Accuracy rows: every value row of the CSV whose metric is not a speed or cost metric (the local run timed nothing).
accuracy() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
           $col["section"] != "value" { next }
           { m = $col["metric"] }
           m ~ /(speedup|ms_per|gflops|params_m)/ { next }
           { print $col["variant"] "," m "," $col["ours"] }' "$1"
}
accuracy "$tmp/slurm/$TABLE.csv" > "$tmp/slurm-accuracy.txt"
accuracy "$tmp/local/$TABLE.csv" > "$tmp/local-accuracy.txt"
rows=$(grep -c . "$tmp/local-accuracy.txt" || true)
with_value=$(awk -F, '$NF != ""' "$tmp/local-accuracy.txt" | grep -c . || true)
if [ "$with_value" -eq 0 ]; then echo "slurm-check: the local report has no accuracy numbers" >&2; exit 1; fi
if ! diff "$tmp/local-accuracy.txt" "$tmp/slurm-accuracy.txt"; then
  echo "slurm-check: FAILED: the accuracy numbers of the Slurm run differ from the local run's (above: < local, > slurm)" >&2
  exit 1
fi
# The seeds' pre-training scores, at full precision, from the reports' JSON.
seeds() { sed -n '/^  "seedRuns" : \[/,/^  \]/p' "$1"; }
if [ -z "$(seeds "$tmp/local/$TABLE.json")" ] || [ "$(seeds "$tmp/slurm/$TABLE.json")" != "$(seeds "$tmp/local/$TABLE.json")" ]; then
  echo "slurm-check: FAILED: the per-seed pre-training scores differ" >&2; exit 1
fi
speed=$(awk -F, 'NR > 1 && /speedup/' "$tmp/slurm/$TABLE.csv" | grep -c . || true)
echo "slurm-check: OK: $with_value of $rows accuracy rows with values, equal to the local run's; $speed speed rows from the exclusive job;" \
  "cluster run $cluster_s s (start, submit, wait), local accuracy run $local_s s"
