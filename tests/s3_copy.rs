//! CopyObject through aws-sdk-s3: byte-exact copies, SSE of the destination (never the
//! source's), metadata directives, copy-source conditionals, copy onto itself, refused headers.

use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, MetadataDirective, ServerSideEncryption};

use crate::common::*;

async fn put(s3: &aws_sdk_s3::Client, b: &str, k: &str, data: &[u8]) -> String {
    s3.put_object()
        .bucket(b)
        .key(k)
        .body(data.to_vec().into())
        .send()
        .await
        .unwrap()
        .e_tag
        .unwrap()
}

async fn get(s3: &aws_sdk_s3::Client, b: &str, k: &str) -> Vec<u8> {
    read_all(s3.get_object().bucket(b).key(k).send().await.unwrap()).await
}

async fn setup() -> (TestServer, aws_sdk_s3::Client) {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    for b in ["src", "dst"] {
        s3.create_bucket().bucket(b).send().await.unwrap();
    }
    (srv, s3)
}

#[tokio::test]
async fn copies_are_byte_exact_and_re_encrypted() {
    let (_srv, s3) = setup().await;
    for (i, size) in [0usize, 1, 65_536, 200_001].into_iter().enumerate() {
        let data = pattern(size, i as u64 + 20);
        let key = format!("obj-{size}");
        let src_etag = put(&s3, "src", &key, &data).await;
        let out = s3
            .copy_object()
            .bucket("dst")
            .key(&key)
            .copy_source(format!("src/{key}"))
            .send()
            .await
            .unwrap();
        let result = out.copy_object_result.unwrap();
        // SSE-S3 ETags are the plaintext MD5: the same for the same bytes.
        assert_eq!(result.e_tag.as_deref(), Some(src_etag.as_str()));
        assert!(result.last_modified.is_some());
        assert_eq!(
            out.server_side_encryption,
            Some(ServerSideEncryption::Aes256)
        );
        assert!(get(&s3, "dst", &key).await == data, "size {size}");
        // A fresh data key: the wrapped keys differ.
        let a = s3
            .head_object()
            .bucket("src")
            .key(&key)
            .send()
            .await
            .unwrap();
        let b = s3
            .head_object()
            .bucket("dst")
            .key(&key)
            .send()
            .await
            .unwrap();
        let wrapped = |h: &aws_sdk_s3::operation::head_object::HeadObjectOutput| {
            h.metadata.as_ref().unwrap()["coffer-encrypted-data-key"].clone()
        };
        assert_ne!(wrapped(&a), wrapped(&b));
    }
    // Keys that need URL encoding in x-amz-copy-source.
    let data = pattern(100, 1);
    put(&s3, "src", "dir/a b+c", &data).await;
    s3.copy_object()
        .bucket("dst")
        .key("copied")
        .copy_source("src/dir/a%20b%2Bc")
        .send()
        .await
        .unwrap();
    assert_eq!(get(&s3, "dst", "copied").await, data);
}

#[tokio::test]
async fn sse_comes_from_the_request_never_from_the_source() {
    let (_srv, s3) = setup().await;
    let data = pattern(70_000, 2);
    s3.put_object()
        .bucket("src")
        .key("kms")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .body(data.clone().into())
        .send()
        .await
        .unwrap();
    // No SSE headers: the destination bucket's default (none here, so SSE-S3).
    let out = s3
        .copy_object()
        .bucket("dst")
        .key("plain")
        .copy_source("src/kms")
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.server_side_encryption,
        Some(ServerSideEncryption::Aes256)
    );
    assert!(out.ssekms_key_id.is_none());
    let h = s3
        .head_object()
        .bucket("dst")
        .key("plain")
        .send()
        .await
        .unwrap();
    assert_eq!(h.server_side_encryption, Some(ServerSideEncryption::Aes256));
    assert_eq!(get(&s3, "dst", "plain").await, data);

    // SSE-KMS asked for: the response names the key ARN; the copy decrypts byte-exact.
    let ctx = base64_json(r#"{"purpose":"copy-test"}"#);
    let out = s3
        .copy_object()
        .bucket("dst")
        .key("kms")
        .copy_source("src/kms")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_encryption_context(&ctx)
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.server_side_encryption,
        Some(ServerSideEncryption::AwsKms)
    );
    assert!(
        out.ssekms_key_id
            .as_deref()
            .is_some_and(|k| k.starts_with("arn:aws:kms:"))
    );
    assert_eq!(out.ssekms_encryption_context.as_deref(), Some(ctx.as_str()));
    let h = s3
        .head_object()
        .bucket("dst")
        .key("kms")
        .send()
        .await
        .unwrap();
    assert_eq!(h.server_side_encryption, Some(ServerSideEncryption::AwsKms));
    assert_eq!(h.ssekms_key_id, out.ssekms_key_id);
    assert_eq!(get(&s3, "dst", "kms").await, data);

    // SSE-S3 source copied to SSE-KMS and back.
    put(&s3, "src", "s3", &data).await;
    let out = s3
        .copy_object()
        .bucket("dst")
        .key("to-kms")
        .copy_source("src/s3")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.server_side_encryption,
        Some(ServerSideEncryption::AwsKms)
    );
    assert_eq!(get(&s3, "dst", "to-kms").await, data);
}

fn base64_json(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

#[tokio::test]
async fn metadata_directive_copy_and_replace() {
    let (_srv, s3) = setup().await;
    s3.put_object()
        .bucket("src")
        .key("m")
        .content_type("text/plain")
        .cache_control("max-age=60")
        .metadata("color", "blue")
        .body(b"hello".to_vec().into())
        .send()
        .await
        .unwrap();
    s3.copy_object()
        .bucket("dst")
        .key("copy")
        .copy_source("src/m")
        .content_type("ignored/with-copy")
        .metadata("ignored", "yes")
        .send()
        .await
        .unwrap();
    let h = s3
        .head_object()
        .bucket("dst")
        .key("copy")
        .send()
        .await
        .unwrap();
    assert_eq!(h.content_type.as_deref(), Some("text/plain"));
    assert_eq!(h.cache_control.as_deref(), Some("max-age=60"));
    let meta = h.metadata.unwrap();
    assert_eq!(meta.get("color").map(String::as_str), Some("blue"));
    assert!(!meta.contains_key("ignored"));

    s3.copy_object()
        .bucket("dst")
        .key("replace")
        .copy_source("src/m")
        .metadata_directive(MetadataDirective::Replace)
        .content_type("application/json")
        .metadata("shape", "round")
        .send()
        .await
        .unwrap();
    let h = s3
        .head_object()
        .bucket("dst")
        .key("replace")
        .send()
        .await
        .unwrap();
    assert_eq!(h.content_type.as_deref(), Some("application/json"));
    assert!(h.cache_control.is_none());
    let meta = h.metadata.unwrap();
    assert_eq!(meta.get("shape").map(String::as_str), Some("round"));
    assert!(!meta.contains_key("color"));
    assert_eq!(get(&s3, "dst", "replace").await, b"hello");

    let err = s3
        .copy_object()
        .bucket("dst")
        .key("bad")
        .copy_source("src/m")
        .metadata_directive(MetadataDirective::from("MERGE"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidArgument");
}

#[tokio::test]
async fn copy_source_conditionals() {
    let (srv, s3) = setup().await;
    let etag = put(&s3, "src", "c", b"conditional").await;
    let modified = s3
        .head_object()
        .bucket("src")
        .key("c")
        .send()
        .await
        .unwrap()
        .last_modified
        .unwrap();
    let secs = |d: i64| aws_smithy_types::DateTime::from_secs(modified.secs() + d);
    let copy = || s3.copy_object().bucket("dst").key("c").copy_source("src/c");

    let fails = [
        copy().copy_source_if_match("\"0000\""),
        copy().copy_source_if_none_match(&etag),
        copy().copy_source_if_none_match("*"),
        copy().copy_source_if_modified_since(secs(3600)),
        copy().copy_source_if_unmodified_since(secs(-3600)),
        // If-None-Match decides alone when present.
        copy()
            .copy_source_if_none_match(&etag)
            .copy_source_if_modified_since(secs(-3600)),
    ];
    for (i, req) in fails.into_iter().enumerate() {
        let err = req.send().await.unwrap_err();
        assert_eq!(code(&err), "PreconditionFailed", "case {i}");
        let head = s3.head_object().bucket("dst").key("c").send().await;
        assert!(head.is_err(), "case {i} copied anyway");
    }
    let passes = [
        copy().copy_source_if_match(&etag),
        copy().copy_source_if_none_match("\"0000\""),
        copy().copy_source_if_modified_since(secs(-3600)),
        copy().copy_source_if_unmodified_since(secs(3600)),
        // A matching If-Match wins over a failing If-Unmodified-Since.
        copy()
            .copy_source_if_match(&etag)
            .copy_source_if_unmodified_since(secs(-3600)),
    ];
    for (i, req) in passes.into_iter().enumerate() {
        req.send()
            .await
            .unwrap_or_else(|e| panic!("case {i}: {e:?}"));
    }
    assert_eq!(get(&s3, "dst", "c").await, b"conditional");
    drop(srv);
}

#[tokio::test]
async fn copy_onto_itself_only_when_something_changes() {
    let (_srv, s3) = setup().await;
    put(&s3, "src", "self", b"same bytes").await;
    let err = s3
        .copy_object()
        .bucket("src")
        .key("self")
        .copy_source("src/self")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidRequest");

    s3.copy_object()
        .bucket("src")
        .key("self")
        .copy_source("src/self")
        .metadata_directive(MetadataDirective::Replace)
        .metadata("v", "2")
        .send()
        .await
        .unwrap();
    let h = s3
        .head_object()
        .bucket("src")
        .key("self")
        .send()
        .await
        .unwrap();
    assert_eq!(h.metadata.unwrap().get("v").map(String::as_str), Some("2"));

    let out = s3
        .copy_object()
        .bucket("src")
        .key("self")
        .copy_source("src/self")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.server_side_encryption,
        Some(ServerSideEncryption::AwsKms)
    );
    let h = s3
        .head_object()
        .bucket("src")
        .key("self")
        .send()
        .await
        .unwrap();
    assert_eq!(h.server_side_encryption, Some(ServerSideEncryption::AwsKms));
    assert_eq!(get(&s3, "src", "self").await, b"same bytes");
}

#[tokio::test]
async fn refused_copies() {
    let (_srv, s3) = setup().await;
    put(&s3, "src", "r", b"range me").await;
    let err = s3
        .copy_object()
        .bucket("dst")
        .key("r")
        .copy_source("src/r")
        .customize()
        .mutate_request(|req| {
            req.headers_mut()
                .insert("x-amz-copy-source-range", "bytes=0-3");
        })
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidArgument");

    let err = s3
        .copy_object()
        .bucket("dst")
        .key("r")
        .copy_source("src/missing")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchKey");
    let err = s3
        .copy_object()
        .bucket("dst")
        .key("r")
        .copy_source("nobucket/r")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchBucket");
    let err = s3
        .copy_object()
        .bucket("nobucket")
        .key("r")
        .copy_source("src/r")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchBucket");
    assert!(
        s3.head_object()
            .bucket("dst")
            .key("r")
            .send()
            .await
            .is_err()
    );
}

#[tokio::test]
async fn checksums_follow_the_copy() {
    let (_srv, s3) = setup().await;
    let data = pattern(123_457, 8);
    let sha = s3
        .put_object()
        .bucket("src")
        .key("sum")
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .body(data.clone().into())
        .send()
        .await
        .unwrap()
        .checksum_sha256
        .unwrap();
    let out = s3
        .copy_object()
        .bucket("dst")
        .key("same")
        .copy_source("src/sum")
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.copy_object_result.unwrap().checksum_sha256.as_deref(),
        Some(sha.as_str())
    );
    let h = s3
        .head_object()
        .bucket("dst")
        .key("same")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(h.checksum_sha256.as_deref(), Some(sha.as_str()));

    s3.copy_object()
        .bucket("dst")
        .key("other")
        .copy_source("src/sum")
        .checksum_algorithm(ChecksumAlgorithm::Crc32C)
        .send()
        .await
        .unwrap();
    let h = s3
        .head_object()
        .bucket("dst")
        .key("other")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(
        h.checksum_crc32_c,
        Some(crate::s3_stream::checksum_b64("CRC32C", &data))
    );
}
