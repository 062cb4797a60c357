#!/usr/bin/env bash
# s3cmd against Coffer: put a tree in recursively with server-side encryption, sync it out,
# compare byte for byte, and `s3cmd sync` again (nothing to do).
# Install: pip install s3cmd==2.4.0 (or apt-get install -y s3cmd: Debian bookworm has 2.3.0).
# s3cmd asks for SSE-S3 (`--server-side-encryption`); SSE-KMS needs a KMS key id
# (`--server-side-encryption-kms-id`), here the AWS managed key's alias.
set -euo pipefail
source "$(dirname "$0")/_lib.sh"

hostport="${ENDPOINT#*://}"
hostport="${hostport%%/*}"
S3CMD=(s3cmd --config /dev/null --access_key "$AWS_ACCESS_KEY_ID"
  --secret_key "$AWS_SECRET_ACCESS_KEY" --region "$AWS_DEFAULT_REGION"
  --host "$hostport" --host-bucket "$hostport")
# --host-bucket without %(bucket)s makes s3cmd use path-style requests.
if [[ "$ENDPOINT" == https://* ]]; then
  S3CMD+=(--ssl)
  if [[ -n "${CA_BUNDLE:-}" ]]; then
    S3CMD+=(--ca-certs "$CA_BUNDLE")
  fi
else
  S3CMD+=(--no-ssl)
fi

B="$(unique_bucket s3cmd)"
make_tree "$WORK/tree"
"${S3CMD[@]}" mb "s3://$B"
"${S3CMD[@]}" put --recursive --server-side-encryption-kms-id alias/aws/s3 \
  "$WORK/tree/" "s3://$B/tree/"
"${S3CMD[@]}" sync "s3://$B/tree/" "$WORK/back/"
same_files "$WORK/tree" "$WORK/back"
# SSE-KMS ETags are not MD5s (as on AWS), so s3cmd can only compare sizes for those objects.
out="$("${S3CMD[@]}" sync --dry-run --no-check-md5 "$WORK/tree/" "s3://$B/tree/")"
grep -q "upload: '" <<< "$out" && fail "second sync wants to upload: $out"
# SSE-S3 ETags are MD5s: a synced tree re-syncs to nothing with MD5 checks on.
"${S3CMD[@]}" sync --server-side-encryption "$WORK/tree/" "s3://$B/sse-s3/"
out="$("${S3CMD[@]}" sync --dry-run "$WORK/tree/" "s3://$B/sse-s3/")"
grep -q "upload: '" <<< "$out" && fail "second SSE-S3 sync wants to upload: $out"

sse="$(awsc s3api head-object --bucket "$B" --key tree/a/hello.txt \
  --query ServerSideEncryption --output text)"
[[ "$sse" == "aws:kms" ]] || fail "expected aws:kms, got $sse"

"${S3CMD[@]}" put --server-side-encryption "$WORK/tree/a/hello.txt" "s3://$B/sse-s3.txt"
sse="$(awsc s3api head-object --bucket "$B" --key sse-s3.txt \
  --query ServerSideEncryption --output text)"
[[ "$sse" == "AES256" ]] || fail "expected AES256, got $sse"

"${S3CMD[@]}" del --recursive --force "s3://$B"
"${S3CMD[@]}" rb "s3://$B"
echo "s3cmd.sh: ok"
