"""boto3's stock kms client against Coffer's KMS JSON API: lifecycle, crypto, AWS's error codes.

Environment (set by the runner): ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
AWS_DEFAULT_REGION. Exits non-zero with a message on any mismatch.
"""

import os
import sys
import uuid

import boto3
from botocore.exceptions import ClientError

kms = boto3.client("kms", endpoint_url=os.environ["ENDPOINT"])


def fail(msg):
    print(f"kms_boto3: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def expect_error(code, fn, **kwargs):
    try:
        fn(**kwargs)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        if got != code:
            fail(f"{fn.__name__}: expected {code}, got {got}: {e}")
        return
    fail(f"{fn.__name__}: expected {code}, but it succeeded")


suffix = uuid.uuid4().hex[:8]
alias = f"alias/boto3-{suffix}"

meta = kms.create_key(Description="boto3", Tags=[{"TagKey": "by", "TagValue": "boto3"}])["KeyMetadata"]
key_id, arn = meta["KeyId"], meta["Arn"]
if meta["KeyState"] != "Enabled" or meta["KeyManager"] != "CUSTOMER" or not arn.endswith(key_id):
    fail(f"unexpected metadata {meta}")
kms.create_alias(AliasName=alias, TargetKeyId=key_id)
for ref in (key_id, arn, alias, arn.rsplit(":", 1)[0] + ":" + alias):
    if kms.describe_key(KeyId=ref)["KeyMetadata"]["Arn"] != arn:
        fail(f"describe_key({ref}) does not name {arn}")

ctx = {"app": "boto3", "suffix": suffix}
enc = kms.encrypt(KeyId=alias, Plaintext=b"boto3 secret", EncryptionContext=ctx)
if enc["KeyId"] != arn:
    fail(f"encrypt answered KeyId {enc['KeyId']}")
dec = kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], EncryptionContext=ctx)
if dec["Plaintext"] != b"boto3 secret" or dec["KeyId"] != arn:
    fail(f"decrypt gave {dec}")
expect_error("InvalidCiphertextException", kms.decrypt, CiphertextBlob=enc["CiphertextBlob"])
expect_error(
    "InvalidCiphertextException",
    kms.decrypt,
    CiphertextBlob=enc["CiphertextBlob"],
    EncryptionContext={**ctx, "extra": "x"},
)
other = kms.create_key()["KeyMetadata"]["KeyId"]
expect_error(
    "IncorrectKeyException",
    kms.decrypt,
    KeyId=other,
    CiphertextBlob=enc["CiphertextBlob"],
    EncryptionContext=ctx,
)
expect_error("ValidationException", kms.encrypt, KeyId=key_id, Plaintext=b"x" * 4097)
expect_error("ValidationException", kms.generate_data_key, KeyId=key_id, KeySpec="AES_256", NumberOfBytes=32)
expect_error("NotFoundException", kms.describe_key, KeyId=str(uuid.uuid4()))
expect_error("AlreadyExistsException", kms.create_alias, AliasName=alias, TargetKeyId=key_id)
expect_error("InvalidAliasNameException", kms.create_alias, AliasName="alias/aws/nope", TargetKeyId=key_id)

dk = kms.generate_data_key(KeyId=key_id, KeySpec="AES_256", EncryptionContext=ctx)
if len(dk["Plaintext"]) != 32:
    fail("data key is not 32 bytes")
if kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext=ctx)["Plaintext"] != dk["Plaintext"]:
    fail("data key does not unwrap to itself")
if len(kms.generate_random(NumberOfBytes=17)["Plaintext"]) != 17:
    fail("generate_random length")
re = kms.re_encrypt(
    CiphertextBlob=enc["CiphertextBlob"],
    SourceEncryptionContext=ctx,
    DestinationKeyId=other,
)
if kms.decrypt(CiphertextBlob=re["CiphertextBlob"])["Plaintext"] != b"boto3 secret":
    fail("re_encrypt round trip")

kms.disable_key(KeyId=key_id)
expect_error("DisabledException", kms.decrypt, CiphertextBlob=enc["CiphertextBlob"], EncryptionContext=ctx)
kms.enable_key(KeyId=key_id)

kms.enable_key_rotation(KeyId=key_id, RotationPeriodInDays=180)
status = kms.get_key_rotation_status(KeyId=key_id)
if not status["KeyRotationEnabled"] or status.get("RotationPeriodInDays") != 180:
    fail(f"rotation status {status}")
kms.rotate_key_on_demand(KeyId=key_id)
if [r["RotationType"] for r in kms.list_key_rotations(KeyId=key_id)["Rotations"]] != ["ON_DEMAND"]:
    fail("list_key_rotations")
if kms.decrypt(CiphertextBlob=enc["CiphertextBlob"], EncryptionContext=ctx)["Plaintext"] != b"boto3 secret":
    fail("old material no longer decrypts after rotation")

keys = [k["KeyId"] for page in kms.get_paginator("list_keys").paginate(PaginationConfig={"PageSize": 1}) for k in page["Keys"]]
if key_id not in keys or other not in keys:
    fail(f"list_keys paging misses keys: {keys}")
names = [a["AliasName"] for a in kms.list_aliases(KeyId=key_id)["Aliases"]]
if names != [alias]:
    fail(f"list_aliases(KeyId) gave {names}")
if kms.list_resource_tags(KeyId=key_id)["Tags"] != [{"TagKey": "by", "TagValue": "boto3"}]:
    fail("list_resource_tags")
if "Statement" not in kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]:
    fail("get_key_policy")

sched = kms.schedule_key_deletion(KeyId=key_id, PendingWindowInDays=7)
if sched["KeyState"] != "PendingDeletion" or sched["PendingWindowInDays"] != 7:
    fail(f"schedule_key_deletion gave {sched}")
expect_error("KMSInvalidStateException", kms.encrypt, KeyId=key_id, Plaintext=b"x")
kms.cancel_key_deletion(KeyId=key_id)
if kms.describe_key(KeyId=key_id)["KeyMetadata"]["KeyState"] != "Disabled":
    fail("cancel_key_deletion must leave the key Disabled")
print("kms_boto3: OK")
