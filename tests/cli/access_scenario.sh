#!/usr/bin/env bash
# Issue 16's stock aws-cli scenario, the README's access-control demo command for command: a
# writer user who may PUT with key A; an auditor with s3:GetObject but no kms:Decrypt whose
# HEAD works and whose GET is denied; AWS's classic bucket policy pair that denies PUTs without
# SSE-KMS under key A; a deny on aws:SecureTransport = false; a public-read bucket policy and
# an anonymous curl; sts get-caller-identity; and the audit lines of the denials.
#
# Environment (set by the runner): ENDPOINT, the account root's AWS_ACCESS_KEY_ID /
# AWS_SECRET_ACCESS_KEY / AWS_DEFAULT_REGION, COFFER_AUDIT_LOG.
set -euo pipefail

: "${ENDPOINT:?ENDPOINT must be set}"
: "${COFFER_AUDIT_LOG:?COFFER_AUDIT_LOG must name the server audit log}"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "access_scenario: FAIL: $*" >&2; exit 1; }
step() { echo "access_scenario: $*"; }
expect_error() {
  local expect=$1; shift
  local out
  if out=$("$@" 2>&1); then fail "expected $expect, but succeeded: $*"; fi
  grep -q -- "$expect" <<<"$out" || fail "expected $expect from: $* ; got: $out"
}
E="--endpoint-url $ENDPOINT"
ROOT_AK=$AWS_ACCESS_KEY_ID
ROOT_SK=$AWS_SECRET_ACCESS_KEY
# Runs aws as the user whose keys are in $1.
as() {
  local who=$1; shift
  AWS_ACCESS_KEY_ID=$(cat "$WORK/$who.ak") AWS_SECRET_ACCESS_KEY=$(cat "$WORK/$who.sk") aws "$@"
}
new_user() {
  aws $E iam create-user --user-name "$1" >/dev/null
  aws $E iam create-access-key --user-name "$1" \
    --query 'AccessKey.[AccessKeyId,SecretAccessKey]' --output text >"$WORK/$1.keys"
  cut -f1 "$WORK/$1.keys" >"$WORK/$1.ak"
  cut -f2 "$WORK/$1.keys" >"$WORK/$1.sk"
}
echo "the text of secret.txt $RANDOM" >"$WORK/secret.txt"
echo "hello from a public bucket" >"$WORK/index.html"

step "key A and the bucket, as the account root"
KEY_A=$(aws $E kms create-key --description "key A" --query KeyMetadata.Arn --output text)
aws $E s3 mb s3://vault >/dev/null

step "a writer who may PUT with key A"
new_user writer
aws $E iam put-user-policy --user-name writer --policy-name write-with-key-a --policy-document "{
  \"Version\": \"2012-10-17\",
  \"Statement\": [
    {\"Effect\": \"Allow\", \"Action\": \"s3:PutObject\", \"Resource\": \"arn:aws:s3:::vault/*\"},
    {\"Effect\": \"Allow\", \"Action\": \"kms:GenerateDataKey\", \"Resource\": \"$KEY_A\"}]}"
as writer $E s3api put-object --bucket vault --key secret.txt --body "$WORK/secret.txt" \
  --server-side-encryption aws:kms --ssekms-key-id "$KEY_A" >/dev/null
WHO=$(as writer $E sts get-caller-identity --query Arn --output text)
[ "$WHO" = "arn:aws:iam::000000000000:user/writer" ] || fail "get-caller-identity said $WHO"

step "an auditor with s3:GetObject but no kms:Decrypt: HEAD works, GET is denied"
new_user auditor
aws $E iam put-user-policy --user-name auditor --policy-name read-only --policy-document '{
  "Version": "2012-10-17",
  "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::vault/*"}]}'
SEEN_KEY=$(as auditor $E s3api head-object --bucket vault --key secret.txt --query SSEKMSKeyId --output text)
[ "$SEEN_KEY" = "$KEY_A" ] || fail "head-object showed $SEEN_KEY"
expect_error "kms:Decrypt" as auditor $E s3api get-object --bucket vault --key secret.txt "$WORK/out"
aws $E s3api get-object --bucket vault --key secret.txt "$WORK/out" >/dev/null
cmp -s "$WORK/out" "$WORK/secret.txt" || fail "the root's GET returned other bytes"

step "the classic pair: deny PUTs without SSE-KMS, and under any key but A"
cat >"$WORK/require-kms.json" <<EOF
{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "DenyIncorrectEncryptionHeader", "Effect": "Deny", "Principal": "*",
     "Action": "s3:PutObject", "Resource": "arn:aws:s3:::vault/*",
     "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "aws:kms"}}},
    {"Sid": "DenyUnEncryptedObjectUploads", "Effect": "Deny", "Principal": "*",
     "Action": "s3:PutObject", "Resource": "arn:aws:s3:::vault/*",
     "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}}},
    {"Sid": "DenyOtherKeys", "Effect": "Deny", "Principal": "*",
     "Action": "s3:PutObject", "Resource": "arn:aws:s3:::vault/*",
     "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": "$KEY_A"}}}
  ]
}
EOF
aws $E s3api put-bucket-policy --bucket vault --policy "file://$WORK/require-kms.json"
expect_error AccessDenied as writer $E s3api put-object --bucket vault --key plain.txt --body "$WORK/secret.txt"
expect_error AccessDenied aws $E s3api put-object --bucket vault --key s3.txt --body "$WORK/secret.txt" \
  --server-side-encryption AES256
as writer $E s3api put-object --bucket vault --key second.txt --body "$WORK/secret.txt" \
  --server-side-encryption aws:kms --ssekms-key-id "$KEY_A" >/dev/null

step "a deny on aws:SecureTransport = false (this endpoint is plain HTTP)"
aws $E s3api put-bucket-policy --bucket vault --policy '{
  "Version": "2012-10-17",
  "Statement": [{"Sid": "DenyInsecureTransport", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
    "Resource": ["arn:aws:s3:::vault", "arn:aws:s3:::vault/*"],
    "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}'
expect_error AccessDenied aws $E s3api get-object --bucket vault --key secret.txt "$WORK/out"
aws $E s3api delete-bucket-policy --bucket vault

step "a public-read bucket policy and an anonymous curl"
aws $E s3 mb s3://public-site >/dev/null
aws $E s3 cp "$WORK/index.html" s3://public-site/index.html >/dev/null
[ "$(curl -s -o /dev/null -w '%{http_code}' "$ENDPOINT/public-site/index.html")" = 403 ] \
  || fail "anonymous GET before the policy was not 403"
aws $E s3api put-bucket-policy --bucket public-site --policy '{
  "Version": "2012-10-17",
  "Statement": [{"Sid": "PublicRead", "Effect": "Allow", "Principal": "*",
    "Action": "s3:GetObject", "Resource": "arn:aws:s3:::public-site/*"}]}'
curl -sf "$ENDPOINT/public-site/index.html" >"$WORK/anon.html" || fail "anonymous GET failed"
cmp -s "$WORK/anon.html" "$WORK/index.html" || fail "anonymous GET returned other bytes"
[ "$(aws $E s3api get-bucket-policy-status --bucket public-site --query PolicyStatus.IsPublic)" = true ] \
  || fail "the policy is not reported public"
[ "$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data x "$ENDPOINT/public-site/x")" = 403 ] \
  || fail "anonymous PUT was not refused"

step "ACLs: an ObjectWriter bucket, a public-read object and an anonymous curl"
aws $E s3api create-bucket --bucket acl-site --object-ownership ObjectWriter >/dev/null
aws $E s3api put-object --bucket acl-site --key index.html --body "$WORK/index.html" \
  --acl public-read >/dev/null
aws $E s3api put-object --bucket acl-site --key private.html --body "$WORK/index.html" >/dev/null
curl -sf "$ENDPOINT/acl-site/index.html" >"$WORK/acl.html" || fail "anonymous GET of a public-read object failed"
cmp -s "$WORK/acl.html" "$WORK/index.html" || fail "anonymous GET returned other bytes"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$ENDPOINT/acl-site/private.html")" = 403 ] \
  || fail "anonymous GET of a private object was not 403"
[ "$(aws $E s3api get-object-acl --bucket acl-site --key index.html \
      --query 'Grants[?Grantee.URI==`http://acs.amazonaws.com/groups/global/AllUsers`].Permission' \
      --output text)" = READ ] || fail "get-object-acl does not show the AllUsers READ grant"
aws $E s3api put-object-acl --bucket acl-site --key index.html --acl private
[ "$(curl -s -o /dev/null -w '%{http_code}' "$ENDPOINT/acl-site/index.html")" = 403 ] \
  || fail "anonymous GET after put-object-acl private was not 403"
expect_error AccessControlListNotSupported aws $E s3api put-object-acl --bucket vault \
  --key secret.txt --acl public-read

step "the denials are in the audit log"
python3 - "$COFFER_AUDIT_LOG" <<'PY'
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def has(pred, what):
    if not any(pred(l) for l in lines):
        sys.exit(f"no audit line for {what}")
has(lambda l: l.get("eventSource") == "kms.amazonaws.com" and l.get("eventName") == "Decrypt"
    and l.get("errorCode") == "AccessDeniedException"
    and l.get("userIdentity", {}).get("userName") == "auditor"
    and l.get("userIdentity", {}).get("invokedBy") == "s3.amazonaws.com", "the auditor's Decrypt")
has(lambda l: l.get("eventSource") == "s3.amazonaws.com" and l.get("errorCode") == "AccessDenied"
    and l.get("userIdentity", {}).get("userName") == "writer", "the writer's refused PUT")
has(lambda l: l.get("eventSource") == "iam.amazonaws.com" and l.get("eventName") == "PutUserPolicy",
    "the IAM change")
PY
step "OK"
