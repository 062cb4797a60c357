#!/usr/bin/env bash
# Stock aws-cli and SSE (issue 6): bucket default encryption with a KMS key applied to a plain
# `s3 cp`; SSE-C (`--sse-c AES256 --sse-c-key fileb://...`) up and down, single PUT and
# multipart, refused without the key and with another key. Run over HTTPS (SSE-C needs it).
set -euo pipefail
source "$(dirname "$0")/_lib.sh"
: "${SEED_KEY_ID:?}" "${SEED_KEY_ALIAS:?}"

B="$(unique_bucket sse)"
awsc s3 mb "s3://$B"

# Bucket default: aws:kms with the seed key; a cp without SSE flags comes back aws:kms + its ARN.
awsc s3api put-bucket-encryption --bucket "$B" --server-side-encryption-configuration \
  "{\"Rules\":[{\"ApplyServerSideEncryptionByDefault\":{\"SSEAlgorithm\":\"aws:kms\",\"KMSMasterKeyID\":\"$SEED_KEY_ALIAS\"},\"BucketKeyEnabled\":true}]}"
head -c 300001 /dev/urandom > "$WORK/plain.bin"
awsc s3 cp "$WORK/plain.bin" "s3://$B/plain.bin"
read -r sse key_arn bk < <(awsc s3api head-object --bucket "$B" --key plain.bin \
  --query '[ServerSideEncryption,SSEKMSKeyId,BucketKeyEnabled]' --output text)
[[ "$sse" == "aws:kms" ]] || fail "expected aws:kms, got $sse"
[[ "$key_arn" == arn:aws:kms:*:key/"$SEED_KEY_ID" ]] || fail "expected the seed key's ARN, got $key_arn"
[[ "$bk" == "True" ]] || fail "expected BucketKeyEnabled, got $bk"
awsc s3 cp "s3://$B/plain.bin" "$WORK/plain.down"
cmp "$WORK/plain.bin" "$WORK/plain.down" || fail "default-encryption round trip differs"

# SSE-C: single PUT (3 MB) and multipart (20 MB, aws-cli's threshold is 8 MB).
head -c 32 /dev/urandom > "$WORK/key"
head -c 32 /dev/urandom > "$WORK/other"
for size in 3000001 20000003; do
  head -c "$size" /dev/urandom > "$WORK/c.bin"
  awsc s3 cp "$WORK/c.bin" "s3://$B/c-$size" --sse-c AES256 --sse-c-key "fileb://$WORK/key"
  alg="$(awsc s3api head-object --bucket "$B" --key "c-$size" --sse-customer-algorithm AES256 \
    --sse-customer-key "fileb://$WORK/key" --query SSECustomerAlgorithm --output text)"
  [[ "$alg" == "AES256" ]] || fail "expected SSECustomerAlgorithm AES256, got $alg"
  awsc s3 cp "s3://$B/c-$size" "$WORK/c.down" --sse-c AES256 --sse-c-key "fileb://$WORK/key"
  cmp "$WORK/c.bin" "$WORK/c.down" || fail "SSE-C round trip differs ($size)"
  if awsc s3 cp "s3://$B/c-$size" "$WORK/nokey" 2> "$WORK/err"; then
    fail "SSE-C object read without its key"
  fi
  if awsc s3 cp "s3://$B/c-$size" "$WORK/wrong" --sse-c AES256 \
    --sse-c-key "fileb://$WORK/other" 2> "$WORK/err"; then
    fail "SSE-C object read with another key"
  fi
  grep -q "403" "$WORK/err" || fail "expected 403 for another key: $(cat "$WORK/err")"
done
echo "sse.sh: ok"
