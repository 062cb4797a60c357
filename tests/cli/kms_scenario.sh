#!/usr/bin/env bash
# Issue 3's stock aws-cli scenario: envelope encryption made visible, rotation, key states as S3
# sees them, crypto-shredding, and the audit lines of those steps.
#
# Environment (set by the runner, shared with the server it started):
#   ENDPOINT                           http://127.0.0.1:PORT of a fresh coffer
#   AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_DEFAULT_REGION
#   COFFER_AUDIT_LOG                   the server's audit log (JSON lines)
#   COFFER_KMS_TEST_CLOCK_OFFSET_FILE  the server's KMS test clock: seconds written here are
#                                      added to the KMS's time (reach the deletion date)
# Any mismatch fails the script loudly (non-zero exit, message on stderr).
set -euo pipefail

: "${ENDPOINT:?ENDPOINT must be set}"
: "${COFFER_AUDIT_LOG:?COFFER_AUDIT_LOG must name the server audit log}"
: "${COFFER_KMS_TEST_CLOCK_OFFSET_FILE:?COFFER_KMS_TEST_CLOCK_OFFSET_FILE must name the server KMS clock offset file}"

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
fail() { echo "kms_scenario: FAIL: $*" >&2; exit 1; }
step() { echo "kms_scenario: $*"; }
s3api() { aws --endpoint-url "$ENDPOINT" s3api "$@"; }
kms() { aws --endpoint-url "$ENDPOINT" kms "$@"; }
# Runs "$@", expecting failure whose output contains $EXPECT.
expect_error() {
  local expect=$1; shift
  local out
  if out=$("$@" 2>&1); then fail "expected $expect, but succeeded: $*"; fi
  grep -q -- "$expect" <<<"$out" || fail "expected $expect from: $* ; got: $out"
}

BUCKET="kms-scenario-$RANDOM"
ALIAS="alias/kms-scenario-$RANDOM"
KEYNAME="secret.txt"
printf 'crypto-shredding demo %s\n' "$RANDOM" >"$WORK/body.txt"
echo 0 >"$COFFER_KMS_TEST_CLOCK_OFFSET_FILE"

step "create a key and an alias"
KEY_ID=$(kms create-key --description "kms scenario" --query KeyMetadata.KeyId --output text)
KEY_ARN=$(kms describe-key --key-id "$KEY_ID" --query KeyMetadata.Arn --output text)
[[ $KEY_ARN == arn:aws:kms:*:key/$KEY_ID ]] || fail "unexpected key ARN $KEY_ARN"
kms create-alias --alias-name "$ALIAS" --target-key-id "$KEY_ID"
[[ $(kms describe-key --key-id "$ALIAS" --query KeyMetadata.KeyId --output text) == "$KEY_ID" ]] ||
  fail "alias does not resolve to the key"

step "put an object under the alias (SSE-KMS)"
s3api create-bucket --bucket "$BUCKET" >/dev/null
PUT_KEY=$(s3api put-object --bucket "$BUCKET" --key "$KEYNAME" --body "$WORK/body.txt" \
  --server-side-encryption aws:kms --ssekms-key-id "$ALIAS" --query SSEKMSKeyId --output text)
[[ $PUT_KEY == "$KEY_ARN" ]] || fail "PUT reported key $PUT_KEY, expected $KEY_ARN"

step "head-object shows the wrapped data key"
s3api head-object --bucket "$BUCKET" --key "$KEYNAME" >"$WORK/head.json"
python3 - "$WORK/head.json" "$KEY_ARN" "$WORK/datakey.blob" <<'PY'
import base64, json, sys
head = json.load(open(sys.argv[1]))
meta = head.get("Metadata", {})
if head.get("ServerSideEncryption") != "aws:kms":
    sys.exit(f"ServerSideEncryption is {head.get('ServerSideEncryption')!r}")
if head.get("SSEKMSKeyId") != sys.argv[2] or meta.get("coffer-kms-key-id") != sys.argv[2]:
    sys.exit(f"head-object names the wrong key: {head}")
blob = meta.get("coffer-encrypted-data-key")
if not blob:
    sys.exit(f"no coffer-encrypted-data-key in {meta}")
open(sys.argv[3], "wb").write(base64.b64decode(blob))
PY

step "aws kms decrypt unwraps it with the object's encryption context, not without"
PT=$(kms decrypt --ciphertext-blob "fileb://$WORK/datakey.blob" \
  --encryption-context "aws:s3:arn=arn:aws:s3:::$BUCKET/$KEYNAME" --query Plaintext --output text)
[[ $(printf '%s' "$PT" | base64 -d | wc -c) -eq 32 ]] || fail "the unwrapped data key is not 32 bytes"
expect_error InvalidCiphertextException kms decrypt --ciphertext-blob "fileb://$WORK/datakey.blob"
expect_error InvalidCiphertextException kms decrypt --ciphertext-blob "fileb://$WORK/datakey.blob" \
  --encryption-context "aws:s3:arn=arn:aws:s3:::$BUCKET/other"

get_object() { s3api get-object --bucket "$BUCKET" --key "$KEYNAME" "$WORK/out.txt" >/dev/null; }
check_reads() { get_object && cmp -s "$WORK/body.txt" "$WORK/out.txt" || fail "object does not read back: $1"; }
check_reads "after PUT"

step "rotate the key: the object still reads"
kms rotate-key-on-demand --key-id "$KEY_ID" >/dev/null
ROTATIONS=$(kms list-key-rotations --key-id "$KEY_ID" --query 'length(Rotations)' --output text)
[[ $ROTATIONS == 1 ]] || fail "expected 1 rotation, found $ROTATIONS"
check_reads "after rotation"

step "disable the key: GET fails with the KMS error; enable: it reads"
kms disable-key --key-id "$KEY_ID"
expect_error KMS.DisabledException get_object
kms enable-key --key-id "$KEY_ID"
check_reads "after enable"

step "schedule deletion, pass the window: the object is gone for good"
DEL=$(kms schedule-key-deletion --key-id "$KEY_ID" --pending-window-in-days 7 --query KeyState --output text)
[[ $DEL == PendingDeletion ]] || fail "key state after scheduling is $DEL"
expect_error KMS.KMSInvalidStateException get_object
echo $((8 * 86400)) >"$COFFER_KMS_TEST_CLOCK_OFFSET_FILE"
expect_error KMS.NotFoundException get_object
expect_error NotFoundException kms describe-key --key-id "$KEY_ID"
expect_error NotFoundException kms decrypt --ciphertext-blob "fileb://$WORK/datakey.blob" \
  --encryption-context "aws:s3:arn=arn:aws:s3:::$BUCKET/$KEYNAME"
# Even back on the real clock, nothing brings it back.
echo 0 >"$COFFER_KMS_TEST_CLOCK_OFFSET_FILE"
expect_error KMS.NotFoundException get_object

step "the audit log holds those steps, and no secret"
python3 - "$COFFER_AUDIT_LOG" "$KEY_ARN" "$BUCKET/$KEYNAME" "$PT" "$WORK/body.txt" "${AWS_SECRET_ACCESS_KEY}" <<'PY'
import json, sys
path, arn, obj, plaintext_key, body_path, secret = sys.argv[1:]
text = open(path).read()
lines = [json.loads(l) for l in text.splitlines() if l.strip()]
def flat(l):
    """The fields this script checks, from the CloudTrail-shaped line."""
    ident = l.get("userIdentity", {})
    if l.get("eventType") == "AwsServiceEvent":
        source = "internal"
    elif ident.get("invokedBy") == "s3.amazonaws.com":
        source = "s3"
    else:
        source = "api"
    return {
        "source": source,
        "operation": l.get("eventName"),
        "outcome": l.get("errorCode", "success"),
        "key_arn": l.get("requestParameters", {}).get("keyId"),
        "encryption_context": l.get("requestParameters", {}).get("encryptionContext", {}),
        "request_id": l.get("requestID"),
        "access_key": ident.get("accessKeyId"),
        "source_address": l.get("sourceIPAddress"),
        "time": l.get("eventTime"),
    }
mine = [flat(l) for l in lines if flat(l)["key_arn"] == arn]
def has(**want):
    for l in mine:
        if all(l.get(k) == v for k, v in want.items()):
            return l
    sys.exit(f"no audit line with {want} among {len(mine)} lines for {arn}")
for op in ["CreateKey", "RotateKeyOnDemand", "DisableKey", "EnableKey", "ScheduleKeyDeletion"]:
    has(source="api", operation=op, outcome="success")
put = has(source="s3", operation="GenerateDataKey", outcome="success")
if put.get("encryption_context", {}).get("aws:s3:arn") != f"arn:aws:s3:::{obj}":
    sys.exit(f"PUT audit line lacks the object's encryption context: {put}")
has(source="api", operation="Decrypt", outcome="success")
has(source="api", operation="Decrypt", outcome="InvalidCiphertextException")
has(source="s3", operation="Decrypt", outcome="success")
has(source="s3", operation="Decrypt", outcome="DisabledException")
has(source="s3", operation="Decrypt", outcome="KMSInvalidStateException")
has(source="internal", operation="DeleteKey", outcome="success")
for l in mine:
    for field in ["time", "operation", "outcome", "source"]:
        if not l.get(field):
            sys.exit(f"audit line without {field}: {l}")
    if l["source"] == "api" and not (l.get("request_id") and l.get("access_key") and l.get("source_address")):
        sys.exit(f"audit line without caller: {l}")
    if l["source"] == "s3" and not (l.get("request_id") and l.get("access_key")):
        sys.exit(f"audit line without caller: {l}")
body = open(body_path).read().strip()
for s in [plaintext_key, body, secret]:
    if s and s in text:
        sys.exit("a secret or plaintext appears in the audit log")
PY

step "OK"
