#!/usr/bin/env bash
# Builds in release once and runs every table. Usage: ./run_all.sh [--scale ci|small|long|paper] [--threads N] [--speed-only]
# Writes Reports/TableN.{csv,md,json}, Figure2/Figure4 (.svg too), TableA5 and the index Reports/README.md.
# With --slurm [--work-dir DIR] [--partition P] [--nodes N] [--dry-run] it submits the same work to Slurm instead
# (`sparse-mixers submit`, README "Running on a Slurm cluster"): DIR (default Reports) must be shared by the nodes.
# Installs nothing: see the README's first command for the system packages.
# On a shared machine set RUN_ALL_LOCK=/path/to/lockfile: every build and table run then holds that flock in turn.
set -euo pipefail
cd "$(dirname "$0")"
SCALE=ci
THREADS=$(nproc)
EXTRA=()
SLURM=0
SUBMIT=()
while [ $# -gt 0 ]; do
  case "$1" in
    --scale) SCALE="$2"; shift 2 ;;
    --threads) THREADS="$2"; shift 2 ;;
    --speed-only) EXTRA+=(--speed-only); shift ;;
    --slurm) SLURM=1; shift ;;
    --work-dir|--partition|--nodes) SUBMIT+=("$1" "$2"); shift 2 ;;
    --dry-run) SUBMIT+=(--dry-run); shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
case "$SCALE" in ci|small|long|paper) ;; *) echo "--scale must be ci, small, long or paper" >&2; exit 2 ;; esac
locked() { if [ -n "${RUN_ALL_LOCK:-}" ]; then flock "$RUN_ALL_LOCK" "$@"; else "$@"; fi; }
START=$(date +%s)
mkdir -p Reports
# One timing session per invocation: a paper-size model listed by several tables (Linear-4 in Tables 2, 3 and 11)
# is timed once, with the reference's times from its own rounds, and shared (README "Tables", TimingCache).
export SMX_TIMING_SESSION="${SMX_TIMING_SESSION:-Reports/timing/$(date -u +%Y%m%dT%H%M%SZ)-$$}"
mkdir -p "$SMX_TIMING_SESSION"
locked swift build -c release
BIN=.build/release
if [ "$SLURM" = 1 ]; then
  exec "$BIN/sparse-mixers" submit --scale "$SCALE" --threads "$THREADS" ${EXTRA[@]+"${EXTRA[@]}"} ${SUBMIT[@]+"${SUBMIT[@]}"}
fi
if [ ${#SUBMIT[@]} -gt 0 ]; then echo "--work-dir, --partition, --nodes and --dry-run go with --slurm" >&2; exit 2; fi

echo "== golden fixtures (authors' implementation)"
if [ -d ../shared/golden ]; then locked "$BIN/sparse-mixers" verify-golden ../shared/golden --quiet | tee Reports/verify-golden.txt; fi

# The program's list (Workload.runAllOrder): tables that run models first; the derived ones (6, 7, 16, 17, 18)
# re-tabulate their sources' JSON afterwards. `sparse-mixers tables --verbose` says what each reads and writes.
TABLES=$("$BIN/sparse-mixers" tables)
FAILED=()
for t in $TABLES; do
  echo "== $t (scale $SCALE)"
  T0=$(date +%s)
  if locked "$BIN/$t" --scale "$SCALE" --threads "$THREADS" ${EXTRA[@]+"${EXTRA[@]}"}; then
    echo "   $t: $(( $(date +%s) - T0 )) s"
  else
    echo "   $t FAILED" >&2; FAILED+=("$t")
  fi
done

ELAPSED=$(( $(date +%s) - START ))
NOTE="./run_all.sh --scale $SCALE ${EXTRA[*]+${EXTRA[*]}} on $(nproc) cores ($THREADS threads): $((ELAPSED / 60)) min $((ELAPSED % 60)) s including the build, $(date -u +%Y-%m-%dT%H:%MZ)"
"$BIN/sparse-mixers" index --output Reports --note "$NOTE"
echo "== done: $NOTE"
if [ ${#FAILED[@]} -gt 0 ]; then echo "failed: ${FAILED[*]}" >&2; exit 1; fi
