#!/usr/bin/env bash
# Peak resident memory of the server while stock aws-cli streams a large multipart upload and
# download (issue 5: must stay below 64 MiB above idle). Starts its own release server.
#
#   tests/cli/mem_multipart.sh [SIZE_MIB=1024] [CACHE_MIB=256]
#
# Prints idle VmRSS, then VmHWM (the kernel's high-water mark) after the upload and after the
# download, from /proc/<pid>/status, and compares the downloaded bytes.
set -euo pipefail

SIZE_MIB="${1:-1024}"
CACHE_MIB="${2:-256}"
BIN="${COFFER_BIN:-$(dirname "$0")/../../target/release/coffer}"
PORT="${PORT:-39613}"
WORK="$(mktemp -d)"
export COFFER_ACCESS_KEY=AKIDMEMTEST COFFER_SECRET_KEY=mem-test-secret-key
export AWS_ACCESS_KEY_ID=$COFFER_ACCESS_KEY AWS_SECRET_ACCESS_KEY=$COFFER_SECRET_KEY
export AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""
printf '[storage]\ncache_capacity_mib = %s\n' "$CACHE_MIB" >"$WORK/coffer.toml"

"$BIN" serve --config "$WORK/coffer.toml" --data-dir "$WORK/data" --listen "127.0.0.1:$PORT" \
  >"$WORK/server.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 50); do grep -q "serving S3" "$WORK/server.log" && break; sleep 0.1; done

kib() { awk -v k="$1" '$1 == k":" { print $2 }' "/proc/$PID/status"; }
anon() { kib RssAnon; }
s3() { aws --endpoint-url "http://127.0.0.1:$PORT" "$@"; }

s3 s3 mb s3://mem-bench >/dev/null
idle=$(kib VmRSS)
head -c "$((SIZE_MIB << 20))" /dev/urandom >"$WORK/big"
s3 s3 cp --only-show-errors "$WORK/big" s3://mem-bench/big
up=$(kib VmHWM); rss_up=$(kib VmRSS)
s3 s3 cp --only-show-errors s3://mem-bench/big "$WORK/big.down"
down=$(kib VmHWM); rss_down=$(kib VmRSS)
cmp "$WORK/big" "$WORK/big.down"
echo "object ${SIZE_MIB} MiB, sled cache ${CACHE_MIB} MiB"
echo "idle VmRSS:                 $((idle / 1024)) MiB"
echo "peak VmHWM after upload:    $((up / 1024)) MiB (VmRSS then $((rss_up / 1024)) MiB)"
echo "peak VmHWM after download:  $((down / 1024)) MiB (VmRSS then $((rss_down / 1024)) MiB)"
echo "peak above idle:            $(((down - idle) / 1024)) MiB"
echo "RssAnon at the end:         $(($(anon) / 1024)) MiB (RssFile $(($(kib RssFile) / 1024)) MiB)"
