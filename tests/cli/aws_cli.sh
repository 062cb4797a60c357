#!/usr/bin/env bash
# Stock aws-cli against Coffer: `s3 cp` up and down, `s3 sync` of a tree both ways,
# `s3api put-object --checksum-algorithm` for every algorithm with `get-object --checksum-mode`,
# SSE-KMS on upload, and a wrong checksum refused with nothing stored.
set -euo pipefail
source "$(dirname "$0")/_lib.sh"

B="$(unique_bucket awscli)"
awsc s3 mb "s3://$B"

# cp up and down, byte-exact (3 MB: one PUT; 20 MB: multipart once that lands).
head -c 3000001 /dev/urandom > "$WORK/up.bin"
awsc s3 cp "$WORK/up.bin" "s3://$B/dir/up.bin"
awsc s3 cp "s3://$B/dir/up.bin" "$WORK/down.bin"
cmp "$WORK/up.bin" "$WORK/down.bin" || fail "cp round trip differs"

# cp with SSE-KMS (the AWS managed key) and SSE-S3.
awsc s3 cp "$WORK/up.bin" "s3://$B/kms.bin" --sse aws:kms
sse="$(awsc s3api head-object --bucket "$B" --key kms.bin --query ServerSideEncryption --output text)"
[[ "$sse" == "aws:kms" ]] || fail "expected aws:kms, got $sse"
awsc s3 cp "s3://$B/kms.bin" "$WORK/kms.bin"
cmp "$WORK/up.bin" "$WORK/kms.bin" || fail "SSE-KMS round trip differs"

# sync a tree up, then down into an empty directory, and compare.
make_tree "$WORK/tree"
awsc s3 sync "$WORK/tree" "s3://$B/tree"
awsc s3 sync "s3://$B/tree" "$WORK/back"
# Empty directories are not objects: compare the files.
same_files "$WORK/tree" "$WORK/back"
# A second sync uploads nothing.
out="$(awsc s3 sync "$WORK/tree" "s3://$B/tree")"
[[ -z "$out" ]] || fail "second sync was not a no-op: $out"

# put-object --checksum-algorithm, get-object --checksum-mode, for each algorithm.
for alg in CRC32 CRC32C CRC64NVME SHA1 SHA256; do
  want="$(checksum_of "$alg" "$WORK/up.bin")"
  awsc s3api put-object --bucket "$B" --key "sum-$alg" --body "$WORK/up.bin" \
    --checksum-algorithm "$alg" > "$WORK/put.json"
  got="$(awsc s3api get-object --bucket "$B" --key "sum-$alg" --checksum-mode ENABLED \
    "$WORK/sum.out" --query "Checksum$alg" --output text)"
  [[ "$got" == "$want" ]] || fail "$alg: get-object says $got, expected $want"
  cmp "$WORK/up.bin" "$WORK/sum.out" || fail "$alg body differs"
done

# A wrong checksum is BadDigest and stores nothing.
if awsc s3api put-object --bucket "$B" --key bad --body "$WORK/up.bin" \
    --checksum-sha256 "$(checksum_of SHA256 "$WORK/tree/a/hello.txt")" 2> "$WORK/err"; then
  fail "a wrong checksum was accepted"
fi
grep -q BadDigest "$WORK/err" || fail "expected BadDigest: $(cat "$WORK/err")"
if awsc s3api head-object --bucket "$B" --key bad 2>/dev/null; then
  fail "a refused upload was stored"
fi

# Copy with a new SSE, byte-exact.
awsc s3api copy-object --bucket "$B" --key copy.bin --copy-source "$B/dir/up.bin" \
  --server-side-encryption aws:kms > /dev/null
awsc s3 cp "s3://$B/copy.bin" "$WORK/copy.bin"
cmp "$WORK/up.bin" "$WORK/copy.bin" || fail "copy differs"

awsc s3 rb "s3://$B" --force > /dev/null
echo "aws_cli.sh: ok"
