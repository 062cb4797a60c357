#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster for the tests, installing Debian's PostgreSQL first
# when the machine lacks it, and stops it (by its PID) once the process that asked for it
# ends.
#
#   postgres.sh DIR PORT PASSWORD WATCH_PID
#
# DIR is created (data in DIR/data, logs in DIR/log); the cluster listens on 127.0.0.1:PORT
# only, with one superuser `coffer` whose PASSWORD is required (scram-sha-256). Prints
# "ready" when it accepts connections. Exit 3 with the reason on stderr when PostgreSQL
# cannot be installed or started here: the caller skips, loudly.
set -euo pipefail
dir=$1 port=$2 password=$3 watch=$4

find_bin() {
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}

bin=$(find_bin)
if [[ -z $bin ]]; then
    # Debian's package; one installer at a time across concurrent test binaries.
    exec 9>/tmp/coffer-postgres-install.lock
    flock 9
    bin=$(find_bin)
    if [[ -z $bin ]]; then
        if [[ $(id -u) -ne 0 ]]; then
            echo "PostgreSQL is not installed and installing it needs root" >&2
            exit 3
        fi
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
                apt-get install -y -qq --no-install-recommends postgresql; } >"${TMPDIR:-/tmp}/coffer-postgres-apt.log" 2>&1; then
            echo "installing Debian's postgresql failed (see ${TMPDIR:-/tmp}/coffer-postgres-apt.log)" >&2
            exit 3
        fi
        bin=$(find_bin)
    fi
    [[ -n $bin ]] || { echo "postgresql installed but no server binaries found" >&2; exit 3; }
fi

# PostgreSQL refuses to run as root: run it as the package's `postgres` user then.
as_owner=()
if [[ $(id -u) -eq 0 ]]; then
    id postgres >/dev/null 2>&1 || useradd --system --no-create-home postgres
    as_owner=(runuser -u postgres --)
fi

rm -rf "$dir"
mkdir -p "$dir"
printf '%s\n' "$password" >"$dir/pwfile"
if [[ ${#as_owner[@]} -gt 0 ]]; then chown -R postgres "$dir"; fi
chmod 700 "$dir"
"${as_owner[@]}" "$bin/initdb" -D "$dir/data" -U coffer --pwfile="$dir/pwfile" \
    --auth-local=trust --auth-host=scram-sha-256 --encoding=UTF8 --locale=C >"$dir/initdb.log" 2>&1 \
    || { echo "initdb failed: $(tail -3 "$dir/initdb.log")" >&2; exit 3; }
rm -f "$dir/pwfile"
"${as_owner[@]}" "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=200 -c fsync=on" \
    start >/dev/null \
    || { echo "PostgreSQL did not start: $(tail -5 "$dir/log")" >&2; exit 3; }

# Stop it by its PID when the test process is gone.
pid=$(head -1 "$dir/data/postmaster.pid")
nohup bash -c "while kill -0 $watch 2>/dev/null; do sleep 1; done; kill -INT $pid;
    while kill -0 $pid 2>/dev/null; do sleep 0.2; done; rm -rf '$dir'" \
    >/dev/null 2>&1 &
echo ready
