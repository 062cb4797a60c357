#!/usr/bin/env bash
# rclone against Coffer: copy a tree in (SSE-KMS requested), `rclone check` it, copy it out and
# compare byte for byte, then `rclone check --download` (reads every object back).
# Install: apt-get install -y rclone (Debian bookworm: 1.60).
set -euo pipefail
source "$(dirname "$0")/_lib.sh"

# rclone's AWS SDK refuses AWS_CA_BUNDLE with its own transport; --ca-cert below replaces it.
unset AWS_CA_BUNDLE
# rclone reads its remote from the environment: no config file needed.
export RCLONE_CONFIG_COFFER_TYPE=s3
export RCLONE_CONFIG_COFFER_PROVIDER=Other
export RCLONE_CONFIG_COFFER_ENDPOINT="$ENDPOINT"
export RCLONE_CONFIG_COFFER_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID"
export RCLONE_CONFIG_COFFER_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY"
export RCLONE_CONFIG_COFFER_REGION="$AWS_DEFAULT_REGION"
export RCLONE_CONFIG_COFFER_FORCE_PATH_STYLE=true
export RCLONE_CONFIG_COFFER_SERVER_SIDE_ENCRYPTION=aws:kms
RCLONE=(rclone --config /dev/null --retries 1 --low-level-retries 1)
if [[ -n "${CA_BUNDLE:-}" ]]; then
  RCLONE+=(--ca-cert "$CA_BUNDLE")
fi

B="$(unique_bucket rclone)"
make_tree "$WORK/tree"
"${RCLONE[@]}" mkdir "coffer:$B"
"${RCLONE[@]}" copy "$WORK/tree" "coffer:$B/tree"
"${RCLONE[@]}" check "$WORK/tree" "coffer:$B/tree"
"${RCLONE[@]}" check --download "$WORK/tree" "coffer:$B/tree"
"${RCLONE[@]}" copy "coffer:$B/tree" "$WORK/back"
same_files "$WORK/tree" "$WORK/back"

# Every object really is SSE-KMS.
sse="$(awsc s3api head-object --bucket "$B" --key tree/a/hello.txt \
  --query ServerSideEncryption --output text)"
[[ "$sse" == "aws:kms" ]] || fail "expected aws:kms, got $sse"

"${RCLONE[@]}" purge "coffer:$B"
echo "rclone.sh: ok"
