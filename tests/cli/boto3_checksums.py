#!/usr/bin/env python3
"""Stock boto3 against Coffer with its default checksum behaviour: put_object and upload_file
(aws-chunked with a checksum trailer) for every algorithm, get_object with ChecksumMode,
copy_object into SSE-KMS, conditional requests, and a wrong checksum refused with nothing
stored.

Environment: ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION; optional
CA_BUNDLE for HTTPS. CRC32C/CRC64NVME need awscrt (botocore[crt]).
"""
import base64
import hashlib
import os
import random
import sys
import tempfile
import time
import zlib

import boto3
from botocore.exceptions import ClientError
from awscrt import checksums

ALGS = ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"]


def checksum(alg, data):
    raw = {
        "CRC32": lambda: zlib.crc32(data).to_bytes(4, "big"),
        "CRC32C": lambda: checksums.crc32c(data).to_bytes(4, "big"),
        "CRC64NVME": lambda: checksums.crc64nvme(data).to_bytes(8, "big"),
        "SHA1": lambda: hashlib.sha1(data).digest(),
        "SHA256": lambda: hashlib.sha256(data).digest(),
    }[alg]()
    return base64.b64encode(raw).decode()


def error_code(e):
    return e.response.get("Error", {}).get("Code")


def main():
    s3 = boto3.client(
        "s3",
        endpoint_url=os.environ["ENDPOINT"],
        verify=os.environ.get("CA_BUNDLE") or True,
    )
    bucket = f"boto3-{int(time.time())}-{random.randrange(1 << 30)}"
    s3.create_bucket(Bucket=bucket)
    data = os.urandom(5 * 1024 * 1024 + 17)

    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        for alg in ALGS:
            want = checksum(alg, data)
            s3.put_object(Bucket=bucket, Key=f"put-{alg}", Body=data, ChecksumAlgorithm=alg)
            # upload_file streams the file (aws-chunked with the checksum in a trailer).
            s3.upload_file(
                f.name, bucket, f"file-{alg}", ExtraArgs={"ChecksumAlgorithm": alg}
            )
            for key in (f"put-{alg}", f"file-{alg}"):
                r = s3.get_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
                body = r["Body"].read()
                assert body == data, f"{key}: body differs"
                assert r.get(f"Checksum{alg}") == want, f"{key}: {r.get(f'Checksum{alg}')} != {want}"

    # Default behaviour with no algorithm named: CRC32 is computed and stored.
    s3.put_object(Bucket=bucket, Key="default", Body=b"hello")
    h = s3.head_object(Bucket=bucket, Key="default", ChecksumMode="ENABLED")
    assert h.get("ChecksumCRC32") == checksum("CRC32", b"hello"), h

    # A wrong checksum: BadDigest, and nothing stored.
    try:
        s3.put_object(
            Bucket=bucket, Key="bad", Body=data, ChecksumSHA256=checksum("SHA256", b"other")
        )
        sys.exit("FAIL: a wrong checksum was accepted")
    except ClientError as e:
        assert error_code(e) == "BadDigest", e
    try:
        s3.head_object(Bucket=bucket, Key="bad")
        sys.exit("FAIL: a refused upload was stored")
    except ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404, e

    # Copy into SSE-KMS; the response names the key; bytes unchanged.
    r = s3.copy_object(
        Bucket=bucket,
        Key="copy",
        CopySource={"Bucket": bucket, "Key": "put-SHA256"},
        ServerSideEncryption="aws:kms",
    )
    assert r["ServerSideEncryption"] == "aws:kms", r
    assert r["SSEKMSKeyId"].startswith("arn:aws:kms:"), r
    assert s3.get_object(Bucket=bucket, Key="copy")["Body"].read() == data

    # Conditional GET and PUT.
    etag = s3.head_object(Bucket=bucket, Key="copy")["ETag"]
    try:
        s3.get_object(Bucket=bucket, Key="copy", IfNoneMatch=etag)
        sys.exit("FAIL: If-None-Match with the current ETag returned a body")
    except ClientError as e:
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 304, e
    try:
        s3.put_object(Bucket=bucket, Key="copy", Body=b"x", IfNoneMatch="*")
        sys.exit("FAIL: If-None-Match: * overwrote an object")
    except ClientError as e:
        assert error_code(e) == "PreconditionFailed", e

    for obj in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=obj["Key"])
    s3.delete_bucket(Bucket=bucket)
    print("boto3_checksums.py: ok")


if __name__ == "__main__":
    main()
