#!/usr/bin/env bash
# A one-node Slurm cluster on this machine (munged, slurmctld, slurmd on localhost), for CI and for trying
# `sparse-mixers submit` without a cluster. Needs root and the Debian 12 packages slurm-wlm and munge.
#
#   .ci/slurm-local.sh start DIR   # writes DIR/slurm.conf (this node's real CPUs and memory), starts the daemons
#   export SLURM_CONF=DIR/slurm.conf   # then sbatch, squeue, scontrol and `sparse-mixers submit` use it
#   .ci/slurm-local.sh stop DIR    # stops the daemons it started (by the pids in DIR), keeps the logs
#
# Everything lives under DIR: the config, munge's key and socket, the state and spool folders, pid and log files.
# The daemons run at `nice -n 19` (SMX_SLURM_NICE overrides) and jobs inherit it (PropagatePrioProcess=0), so the
# jobs of a CI check yield to anything else on a shared machine.
set -euo pipefail
cmd=${1:-}; dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then echo "usage: $0 start|stop|status DIR" >&2; exit 2; fi
NICE=${SMX_SLURM_NICE:-19}

stop() {
  for name in slurmd slurmctld munged; do
    pidfile="$dir/$name.pid"
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile"
  done
}

case "$cmd" in
  stop) stop; echo "slurm-local: stopped (logs in $dir)"; exit 0 ;;
  status) SLURM_CONF="$dir/slurm.conf" sinfo; exit 0 ;;
  start) ;;
  *) echo "usage: $0 start|stop|status DIR" >&2; exit 2 ;;
esac

for b in munged slurmctld slurmd sbatch; do
  command -v "$b" >/dev/null || { echo "slurm-local: $b not found: apt-get install -y slurm-wlm munge" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "slurm-local: run as root (slurmd starts jobs as their submitting user)" >&2; exit 1; }
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
mkdir -p "$dir/state" "$dir/spool" "$dir/munge"
chmod 700 "$dir/munge"

# munge: a fresh key and a private socket, so an installed munged (if any) is left alone.
if [ ! -f "$dir/munge/munge.key" ]; then
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge/munge.key"
fi
socket="$dir/munge/munge.socket"
nice -n "$NICE" munged --force --key-file="$dir/munge/munge.key" --socket="$socket" \
  --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munge/munge.seed"

host=$(hostname -s)
cpus=$(nproc)
# RealMemory in MB, a little under the total so slurmd does not mark the node invalid for reporting less.
mem=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.95 }' /proc/meminfo)
cat > "$dir/slurm.conf" <<EOF
# Written by .ci/slurm-local.sh: a one-node cluster on this machine.
ClusterName=smxlocal
SlurmctldHost=$host(127.0.0.1)
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket
SlurmUser=root
SlurmdUser=root
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
PropagatePrioProcess=0
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
SchedulerType=sched/backfill
SchedulerParameters=bf_interval=2
MessageTimeout=30
JobRequeue=1
ReturnToService=2
MpiDefault=none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MinJobAge=3600
DefMemPerCPU=$((mem / cpus))
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF="$dir/slurm.conf"
nice -n "$NICE" slurmctld -f "$SLURM_CONF"
nice -n "$NICE" slurmd -f "$SLURM_CONF"
for _ in $(seq 1 60); do
  if sinfo -h -o %T 2>/dev/null | grep -qE '^idle'; then
    echo "slurm-local: node $host up ($cpus CPUs, $mem MB); export SLURM_CONF=$SLURM_CONF"
    exit 0
  fi
  sleep 1
done
echo "slurm-local: the node did not come up in 60 s; logs:" >&2
tail -20 "$dir/slurmctld.log" "$dir/slurmd.log" >&2 || true
exit 1
