#!/usr/bin/env bash
# Prove profiles/slurm on a real one-node SLURM on this machine: install Debian's
# slurm-wlm and munge (if missing), configure one node on localhost with this
# machine's CPUs and memory (no GPU), start munged, slurmctld and slurmd, run the
# offline demo study through the profile, and stop every daemon it started.
#
#   sudo scripts/slurm_local.sh [WORKDIR] [extra snakemake args...]
#
# WORKDIR holds the project (Snakefile, config.yaml, config/, workflow/, demo/, profiles/);
# default: this repository. Needs root (daemons, /etc/slurm) and apt-get if SLURM
# is not installed. Snakemake and the jobs run from $XLROBUST_VENV (default
# <repo>/.venv). Left in WORKDIR/logs/slurm_local/: slurm.conf, the daemons' logs,
# jobcomp.txt (slurmctld's record of every finished job), jobs.txt (squeue records
# "jobid|state|comment|name"), daemon_pids.txt, snakemake.log.
set -euo pipefail

REPO=$(cd "$(dirname "$0")/.." && pwd)
WORKDIR=$(cd "${1:-$REPO}" && pwd)
[ $# -gt 0 ] && shift
VENV=${XLROBUST_VENV:-$REPO/.venv}
STATE=$WORKDIR/logs/slurm_local
CONF=/etc/slurm/slurm.conf   # the jobstep plugin drops SLURM_CONF: it must be here
MARK="# written by xlrobust scripts/slurm_local.sh"

die() { echo "slurm_local: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "must run as root (starts slurmctld/slurmd/munged, writes $CONF)"
[ -x "$VENV/bin/snakemake" ] || die "no snakemake in $VENV/bin: run scripts/install.sh or set XLROBUST_VENV"
[ -f "$WORKDIR/Snakefile" ] || die "$WORKDIR has no Snakefile"

# 1. Install SLURM and munge from Debian (only what is missing).
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null \
   || ! command -v munged >/dev/null; then
  command -v apt-get >/dev/null || die "slurm-wlm/munge missing and no apt-get to install them"
  echo "slurm_local: installing slurm-wlm and munge with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi
# slurmd starts job steps with /usr/sbin/slurmstepd.
if [ ! -e /usr/sbin/slurmstepd ]; then
  STEPD=$(command -v slurmstepd || ls /usr/sbin/slurmstepd-wlm /usr/lib/slurm*/slurmstepd* 2>/dev/null | head -1 || true)
  [ -n "$STEPD" ] || die "slurmstepd not found"
  ln -s "$STEPD" /usr/sbin/slurmstepd
fi
for d in slurmctld slurmd munged; do
  pgrep -x "$d" >/dev/null && die "a $d is already running: stop it first (this script starts its own)"
done
if [ -e "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
  die "$CONF exists and was not written by this script: move it away first"
fi

# 2. Configuration: one node with this machine's real CPUs and memory, no GRES.
rm -rf "$STATE" && mkdir -p "$STATE"
# slurmd's spool holds unix sockets (<= 108 characters): a short path, not WORKDIR.
SPOOL=$(mktemp -d /tmp/xlslurm.XXXXXX) && mkdir "$SPOOL/ctld" "$SPOOL/d"
NODE=$(slurmd -C | head -1)              # NodeName=<host> CPUs=.. Boards=.. ... RealMemory=..
NODE=${NODE/NodeName=* CPUs=/NodeName=localhost NodeHostname=$(hostname) NodeAddr=127.0.0.1 CPUs=}
NCPUS=$(sed -E 's/.* CPUs=([0-9]+).*/\1/' <<<"$NODE")
MEM=$(sed -E 's/.* RealMemory=([0-9]+).*/\1/' <<<"$NODE")
mkdir -p /etc/slurm
cat >"$CONF" <<EOF
$MARK
ClusterName=xlrobust-local
SlurmctldHost=$(hostname)(127.0.0.1)
AuthType=auth/munge
CredType=cred/munge
SlurmUser=root
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$SPOOL/ctld
SlurmdSpoolDir=$SPOOL/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# No slurmdbd: no sacct. squeue answers the plugin's status queries as long as
# finished jobs stay in slurmctld's memory (MinJobAge >= 120 s; 1 h here), and
# jobcomp/filetxt records every finished job.
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$STATE/jobcomp.txt
MinJobAge=3600
$NODE State=UNKNOWN
PartitionName=local Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
cp "$CONF" "$STATE/slurm.conf"

# 3. Daemons, stopped on exit (whatever happens).
PIDS=()
SMK=
stop_snakemake() {
  # Snakemake stops submitting on SIGTERM but waits for its jobs: cancel them
  # (again, in case a retry was submitted) so that it exits at its next status check.
  kill -TERM "$SMK" 2>/dev/null || true
  for _ in $(seq 60); do
    kill -0 "$SMK" 2>/dev/null || break
    squeue -h -o %i 2>/dev/null | xargs -r scancel 2>/dev/null || true
    sleep 1
  done
  kill -KILL "$SMK" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  set +e
  if [ -n "$SMK" ] && kill -0 "$SMK" 2>/dev/null; then stop_snakemake; wait "$SMK" 2>/dev/null; fi
  if [ ${#PIDS[@]} -gt 0 ]; then
    squeue -h -o %i 2>/dev/null | xargs -r scancel 2>/dev/null
    for _ in $(seq 30); do [ -z "$(squeue -h -t R,CG 2>/dev/null)" ] && break; sleep 1; done
  fi
  # reverse order: slurmd, slurmctld, munged
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    kill -TERM "${PIDS[i]}" 2>/dev/null
    for _ in $(seq 20); do kill -0 "${PIDS[i]}" 2>/dev/null || break; sleep 0.5; done
    kill -KILL "${PIDS[i]}" 2>/dev/null
    wait "${PIDS[i]}" 2>/dev/null
  done
  grep -qF "$MARK" "$CONF" 2>/dev/null && rm -f "$CONF"
  rm -rf "$SPOOL"
  echo "slurm_local: stopped ${PIDS[*]:-nothing} (exit $rc)"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ ! -s /etc/munge/munge.key ]; then
  mkdir -p /etc/munge
  dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
  chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
fi
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge && chmod 755 /run/munge
setpriv --reuid=munge --regid=munge --init-groups munged --foreground >"$STATE/munged.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 20); do munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.5; done
munge -n </dev/null | unmunge >/dev/null || die "munged did not start (see $STATE/munged.log)"
slurmctld -D -i >"$STATE/slurmctld.out" 2>&1 &
PIDS+=($!)
for _ in $(seq 30); do scontrol ping 2>/dev/null | grep -q UP && break; sleep 1; done
slurmd -D -N localhost >"$STATE/slurmd.out" 2>&1 &
PIDS+=($!)
printf '%s\n' "munged ${PIDS[0]}" "slurmctld ${PIDS[1]}" "slurmd ${PIDS[2]}" >"$STATE/daemon_pids.txt"
for _ in $(seq 60); do
  [ "$(sinfo -h -n localhost -o %T 2>/dev/null)" = idle ] && break
  sleep 1
done
[ "$(sinfo -h -n localhost -o %T)" = idle ] || die "node not idle: $(sinfo -N -l); see $STATE/slurmd.log"
sinfo -N -l

# 4. The demo study through the profile. This node has no GPU: the GPU rules ask
# for gpu=0 and at most this node's CPUs and memory (set-resources only overrides
# scheduling; the project's config stays the study's config). squeue answers status
# queries (no slurmdbd); the first check comes after 5 s instead of 40.
CPT=$((NCPUS < 4 ? NCPUS : 4))
JOBMEM=$((MEM * 3 / 4 < 16000 ? MEM * 3 / 4 : 16000))
SETRES=()
for rule in intermediate finetune predict attack; do
  SETRES+=("$rule:gpu=0" "$rule:cpus_per_task=$CPT" "$rule:mem_mb=$JOBMEM")
done
export PATH="$VENV/bin:$PATH"   # sbatch --export=ALL: the jobs run the project's venv
cd "$WORKDIR"
start=$(date +%s)
snakemake results/report.html --profile profiles/slurm \
  --slurm-status-command squeue --slurm-init-seconds-before-status-checks 5 \
  "$@" --set-resources "${SETRES[@]}" > >(tee "$STATE/snakemake.log") 2>&1 &
SMK=$!
# A job SLURM cannot start stays pending for ever ("launch failed requeued held",
# or more CPUs/memory than this node has: "PartitionConfig") and Snakemake would
# wait for it: stop instead.
while kill -0 "$SMK" 2>/dev/null; do
  if stuck=$(squeue -h -t PD -o '%i %r' | grep -E "launch failed|Partition|BadConstraints"); then
    echo "slurm_local: job(s) that cannot run: $stuck (see $STATE/slurmd.log, scontrol show job)" >&2
    stop_snakemake
    break
  fi
  sleep 5
done
smk_rc=0
wait "$SMK" || smk_rc=$?
SMK=
echo "slurm_local: snakemake exit $smk_rc after $(($(date +%s) - start)) s"
squeue --states=all -h -o '%i|%T|%k|%j' >"$STATE/jobs.txt"
scontrol show job >"$STATE/scontrol_jobs.txt" 2>&1 || true
echo "slurm_local: $(wc -l <"$STATE/jobs.txt") SLURM jobs recorded in $STATE/jobs.txt"
exit "$smk_rc"
