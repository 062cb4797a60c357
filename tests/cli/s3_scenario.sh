#!/usr/bin/env bash
# Stock aws-cli against Coffer: buckets, copies up and down, listing, SSE-KMS with a named key,
# the envelope metadata on head-object, ranged get-object, deletes. Every check fails loudly.
# Environment (set by tests/cli.rs): ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
# AWS_DEFAULT_REGION, SEED_KEY_ID, SEED_KEY_ALIAS, WORK (a scratch directory).
set -euo pipefail

aws() { command aws --endpoint-url "$ENDPOINT" "$@"; }
fail() { echo "FAIL: $*" >&2; exit 1; }
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

cd "$WORK"
B=cli-scenario

aws s3 mb "s3://$B"
listing=$(aws s3 ls); grep -q " $B\$" <<<"$listing" || fail "bucket not listed"

# Files around the 64 KiB chunk size, and an empty one.
head -c 0 /dev/urandom > empty.bin
head -c 1 /dev/urandom > one.bin
head -c 65536 /dev/urandom > chunk.bin
head -c 65537 /dev/urandom > chunk1.bin
head -c 3000000 /dev/urandom > big.bin
for f in empty.bin one.bin chunk.bin chunk1.bin big.bin; do
  aws s3 cp "$f" "s3://$B/files/$f"
  aws s3 cp "s3://$B/files/$f" "back-$f"
  cmp "$f" "back-$f" || fail "$f changed on the round trip"
done
listing=$(aws s3 ls "s3://$B/files/"); grep -q "big.bin" <<<"$listing" || fail "ls misses big.bin"
[ "$(aws s3 ls "s3://$B" --recursive | wc -l)" -eq 5 ] || fail "recursive ls count"

# SSE-KMS with a named key (id, then alias), and the default aws/s3 key.
echo "kms body" > kms.txt
out=$(aws s3api put-object --bucket "$B" --key kms-id --body kms.txt \
  --server-side-encryption aws:kms --ssekms-key-id "$SEED_KEY_ID")
[ "$(echo "$out" | json 'd["ServerSideEncryption"]')" = "aws:kms" ] || fail "put sse"
grep -q "key/$SEED_KEY_ID\$" <<<"$(echo "$out" | json 'd["SSEKMSKeyId"]')" || fail "put key arn"
aws s3api put-object --bucket "$B" --key kms-alias --body kms.txt \
  --server-side-encryption aws:kms --ssekms-key-id "$SEED_KEY_ALIAS" > /dev/null
aws s3api put-object --bucket "$B" --key kms-default --body kms.txt \
  --server-side-encryption aws:kms > /dev/null

head=$(aws s3api head-object --bucket "$B" --key kms-alias)
[ "$(echo "$head" | json 'd["ServerSideEncryption"]')" = "aws:kms" ] || fail "head sse"
grep -q "key/$SEED_KEY_ID\$" <<<"$(echo "$head" | json 'd["SSEKMSKeyId"]')" || fail "head key arn"
grep -q "key/$SEED_KEY_ID\$" <<<"$(echo "$head" | json 'd["Metadata"]["coffer-kms-key-id"]')" \
  || fail "envelope key id metadata"
blob=$(echo "$head" | json 'd["Metadata"]["coffer-encrypted-data-key"]')
[ "$(python3 -c 'import base64,sys; print(base64.b64decode(sys.argv[1])[0])' "$blob")" = "1" ] \
  || fail "wrapped data key is not a v1 KMS blob"
default_arn=$(aws s3api head-object --bucket "$B" --key kms-default | json 'd["SSEKMSKeyId"]')
[ -n "$default_arn" ] && [ "${default_arn#*key/}" != "$SEED_KEY_ID" ] || fail "default key"

# SSE-S3 by default.
[ "$(aws s3api head-object --bucket "$B" --key files/one.bin | json 'd["ServerSideEncryption"]')" = "AES256" ] \
  || fail "default SSE-S3"

# Ranged reads across the chunk boundary.
aws s3api get-object --bucket "$B" --key files/chunk1.bin --range bytes=65530-65536 part.bin > range.json
[ "$(json 'd["ContentRange"]' < range.json)" = "bytes 65530-65536/65537" ] || fail "content range"
tail -c +65531 chunk1.bin | head -c 7 | cmp - part.bin || fail "range bytes"
aws s3api get-object --bucket "$B" --key files/big.bin --range bytes=-10 tail.bin > /dev/null
tail -c 10 big.bin | cmp - tail.bin || fail "suffix range"

# Errors carry AWS's codes.
if aws s3api head-object --bucket "$B" --key nope 2> err.txt; then fail "head of a missing key"; fi
grep -q "404" err.txt || fail "missing key is not a 404"
if aws s3api put-object --bucket "$B" --key x --body kms.txt --server-side-encryption aws:kms \
  --ssekms-key-id alias/absent 2> err.txt; then fail "unknown key accepted"; fi
grep -q "KMS.NotFoundException" err.txt || fail "unknown key error code"

# Deletes and bucket removal.
aws s3 rm "s3://$B/files/one.bin"
if aws s3 rb "s3://$B" 2> err.txt; then fail "non-empty bucket removed"; fi
grep -q "BucketNotEmpty" err.txt || fail "BucketNotEmpty"
aws s3 rm "s3://$B" --recursive
aws s3 rb "s3://$B"
if aws s3 ls "s3://$B" 2> err.txt; then fail "bucket still there"; fi
grep -q "NoSuchBucket" err.txt || fail "NoSuchBucket"
echo "s3_scenario: ok"
