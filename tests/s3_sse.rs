//! Bucket default encryption and the SSE header rules AWS enforces.

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ServerSideEncryption, ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration,
    ServerSideEncryptionRule,
};

use crate::common::*;
use crate::s3_objects::{SEED_ALIAS, SEED_KEY_ID, server_with_seed_key};

fn config(
    alg: ServerSideEncryption,
    key: Option<&str>,
    bucket_key: bool,
) -> ServerSideEncryptionConfiguration {
    ServerSideEncryptionConfiguration::builder()
        .rules(
            ServerSideEncryptionRule::builder()
                .apply_server_side_encryption_by_default(
                    ServerSideEncryptionByDefault::builder()
                        .sse_algorithm(alg)
                        .set_kms_master_key_id(key.map(String::from))
                        .build()
                        .unwrap(),
                )
                .bucket_key_enabled(bucket_key)
                .build(),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn bucket_default_encryption_applies_to_puts_without_sse_headers() {
    let srv = server_with_seed_key().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("defenc").send().await.unwrap();
    // No configuration: AWS's default, SSE-S3.
    let got = s3
        .get_bucket_encryption()
        .bucket("defenc")
        .send()
        .await
        .unwrap();
    let rule = &got.server_side_encryption_configuration().unwrap().rules()[0];
    let d = rule.apply_server_side_encryption_by_default().unwrap();
    assert_eq!(d.sse_algorithm(), &ServerSideEncryption::Aes256);

    s3.put_bucket_encryption()
        .bucket("defenc")
        .server_side_encryption_configuration(config(
            ServerSideEncryption::AwsKms,
            Some(SEED_ALIAS),
            false,
        ))
        .send()
        .await
        .unwrap();
    let got = s3
        .get_bucket_encryption()
        .bucket("defenc")
        .send()
        .await
        .unwrap();
    let d = got.server_side_encryption_configuration().unwrap().rules()[0]
        .apply_server_side_encryption_by_default()
        .unwrap()
        .clone();
    assert_eq!(d.sse_algorithm(), &ServerSideEncryption::AwsKms);
    assert_eq!(d.kms_master_key_id(), Some(SEED_ALIAS));

    let body = pattern(100_000, 4);
    let put = s3
        .put_object()
        .bucket("defenc")
        .key("k")
        .body(body.clone().into())
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.server_side_encryption(),
        Some(&ServerSideEncryption::AwsKms)
    );
    assert!(put.ssekms_key_id().unwrap().ends_with(SEED_KEY_ID));
    // Request headers win over the default.
    let put = s3
        .put_object()
        .bucket("defenc")
        .key("s3")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
    // Copies take the destination's default, never the source's encryption.
    let copy = s3
        .copy_object()
        .bucket("defenc")
        .key("copy")
        .copy_source("defenc/s3")
        .send()
        .await
        .unwrap();
    assert_eq!(
        copy.server_side_encryption(),
        Some(&ServerSideEncryption::AwsKms)
    );

    s3.delete_bucket_encryption()
        .bucket("defenc")
        .send()
        .await
        .unwrap();
    let put = s3
        .put_object()
        .bucket("defenc")
        .key("after")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        put.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );
    let got = s3
        .get_object()
        .bucket("defenc")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(read_all(got).await, body);

    // A KMS key id with AES256 is refused; so is a missing bucket.
    let err = s3
        .put_bucket_encryption()
        .bucket("defenc")
        .server_side_encryption_configuration(config(
            ServerSideEncryption::Aes256,
            Some(SEED_ALIAS),
            false,
        ))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidArgument");
    let err = s3
        .put_bucket_encryption()
        .bucket("nobucket")
        .server_side_encryption_configuration(config(ServerSideEncryption::Aes256, None, false))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchBucket");
}

#[tokio::test]
async fn reads_may_not_name_sse_s3_or_kms() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("rules").send().await.unwrap();
    s3.put_object()
        .bucket("rules")
        .key("k")
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    for (name, value) in [
        ("x-amz-server-side-encryption", "AES256"),
        ("x-amz-server-side-encryption", "aws:kms:dsse"),
        ("x-amz-server-side-encryption-aws-kms-key-id", SEED_KEY_ID),
    ] {
        let r = RawRequest::new("GET", "/rules/k", srv.addr)
            .header(name, value)
            .send(srv.addr)
            .await;
        assert_eq!(r.status, 400, "{name}");
        assert_eq!(r.code(), "InvalidArgument");
    }
    // Writes: kms key id without aws:kms, kms headers with AES256, unknown algorithm.
    for headers in [
        vec![("x-amz-server-side-encryption-aws-kms-key-id", SEED_KEY_ID)],
        vec![
            ("x-amz-server-side-encryption", "AES256"),
            ("x-amz-server-side-encryption-aws-kms-key-id", SEED_KEY_ID),
        ],
        vec![
            ("x-amz-server-side-encryption", "AES256"),
            ("x-amz-server-side-encryption-context", "e30="),
        ],
        vec![("x-amz-server-side-encryption", "rot13")],
    ] {
        let mut req = RawRequest::new("PUT", "/rules/w", srv.addr).body(b"x".to_vec());
        for (k, v) in &headers {
            req = req.header(k, *v);
        }
        let r = req.send(srv.addr).await;
        assert_eq!(r.status, 400, "{headers:?}");
        assert_eq!(r.code(), "InvalidArgument", "{headers:?}");
    }
}

// ---- SSE-C ----

mod sse_c {
    use std::sync::Arc;

    use aws_sdk_s3::error::ProvideErrorMetadata;
    use aws_sdk_s3::primitives::ByteStream;
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD as B64;
    use md5::Digest;

    use crate::common::*;

    pub struct Ck {
        pub raw: [u8; 32],
        pub key: String,
        pub md5: String,
    }

    pub fn ck(seed: u8) -> Ck {
        let mut raw = [0u8; 32];
        for (i, b) in raw.iter_mut().enumerate() {
            *b = seed.wrapping_mul(31).wrapping_add(i as u8 * 7 + 1);
        }
        Ck {
            raw,
            key: B64.encode(raw),
            md5: B64.encode(md5::Md5::digest(raw)),
        }
    }

    async fn server() -> TestServer {
        let dir = Arc::new(tempfile::tempdir().unwrap());
        TestServer::start_in(dir, |c| c.allow_sse_c_over_http = true).await
    }

    #[tokio::test]
    async fn sse_c_round_trip_wrong_key_missing_key_forged_md5() {
        let srv = server().await;
        let s3 = srv.s3();
        s3.create_bucket().bucket("ssec").send().await.unwrap();
        let (k1, k2) = (ck(1), ck(2));
        let body = pattern(200_000, 9);
        let put = s3
            .put_object()
            .bucket("ssec")
            .key("o")
            .body(body.clone().into())
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&k1.key)
            .sse_customer_key_md5(&k1.md5)
            .send()
            .await
            .unwrap();
        assert_eq!(put.sse_customer_algorithm(), Some("AES256"));
        assert_eq!(put.sse_customer_key_md5(), Some(k1.md5.as_str()));
        assert!(put.server_side_encryption().is_none());
        let etag = put.e_tag().unwrap().trim_matches('"').to_string();
        assert_ne!(etag, hex::encode(md5::Md5::digest(&body)));

        // Byte-exact round trip, whole and ranged.
        let got = s3
            .get_object()
            .bucket("ssec")
            .key("o")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&k1.key)
            .sse_customer_key_md5(&k1.md5)
            .send()
            .await
            .unwrap();
        assert_eq!(got.sse_customer_key_md5(), Some(k1.md5.as_str()));
        assert_eq!(read_all(got).await, body);
        let got = s3
            .get_object()
            .bucket("ssec")
            .key("o")
            .range("bytes=70000-140000")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&k1.key)
            .sse_customer_key_md5(&k1.md5)
            .send()
            .await
            .unwrap();
        assert_eq!(read_all(got).await, body[70000..=140000]);
        let head = s3
            .head_object()
            .bucket("ssec")
            .key("o")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&k1.key)
            .sse_customer_key_md5(&k1.md5)
            .send()
            .await
            .unwrap();
        assert_eq!(head.content_length(), Some(body.len() as i64));
        assert_eq!(head.sse_customer_algorithm(), Some("AES256"));

        // Wrong key: AccessDenied (HEAD: a bare 403).
        let e = s3
            .get_object()
            .bucket("ssec")
            .key("o")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&k2.key)
            .sse_customer_key_md5(&k2.md5)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "AccessDenied");
        let e = s3
            .head_object()
            .bucket("ssec")
            .key("o")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&k2.key)
            .sse_customer_key_md5(&k2.md5)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "HTTP 403");

        // Missing key: InvalidRequest.
        let e = s3
            .get_object()
            .bucket("ssec")
            .key("o")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "InvalidRequest");
        let e = s3
            .head_object()
            .bucket("ssec")
            .key("o")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "HTTP 400");

        // The right key with a forged MD5, and the wrong key with the right key's MD5.
        for (key, md5) in [(&k1.key, &k2.md5), (&k2.key, &k1.md5)] {
            let e = s3
                .get_object()
                .bucket("ssec")
                .key("o")
                .sse_customer_algorithm("AES256")
                .sse_customer_key(key)
                .sse_customer_key_md5(md5)
                .send()
                .await
                .unwrap_err();
            assert_eq!(code(&e), "InvalidArgument");
            let msg = e.as_service_error().and_then(|e| e.message()).unwrap_or("");
            assert!(
                msg.contains("calculated MD5 hash of the key did not match"),
                "{msg}"
            );
            let e = s3
                .put_object()
                .bucket("ssec")
                .key("p")
                .body(b"x".to_vec().into())
                .sse_customer_algorithm("AES256")
                .sse_customer_key(key)
                .sse_customer_key_md5(md5)
                .send()
                .await
                .unwrap_err();
            assert_eq!(code(&e), "InvalidArgument");
        }

        // Incomplete key headers, a wrong algorithm, a short key, SSE-C with SSE-S3.
        let short = B64.encode([7u8; 16]);
        let short_md5 = B64.encode(md5::Md5::digest([7u8; 16]));
        for (alg, key, md5) in [
            (Some("AES256"), None, Some(k1.md5.as_str())),
            (Some("AES256"), Some(k1.key.as_str()), None),
            (Some("AES128"), Some(k1.key.as_str()), Some(k1.md5.as_str())),
            (None, Some(k1.key.as_str()), Some(k1.md5.as_str())),
            (
                Some("AES256"),
                Some(short.as_str()),
                Some(short_md5.as_str()),
            ),
        ] {
            let e = s3
                .put_object()
                .bucket("ssec")
                .key("p")
                .body(b"x".to_vec().into())
                .set_sse_customer_algorithm(alg.map(String::from))
                .set_sse_customer_key(key.map(String::from))
                .set_sse_customer_key_md5(md5.map(String::from))
                .send()
                .await
                .unwrap_err();
            assert_eq!(code(&e), "InvalidArgument", "{alg:?} {key:?} {md5:?}");
        }
        let e = s3
            .put_object()
            .bucket("ssec")
            .key("p")
            .body(b"x".to_vec().into())
            .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::Aes256)
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&k1.key)
            .sse_customer_key_md5(&k1.md5)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "InvalidArgument");

        // A key on the read of an SSE-S3 object: InvalidRequest, as AWS.
        s3.put_object()
            .bucket("ssec")
            .key("plain")
            .body(b"hello".to_vec().into())
            .send()
            .await
            .unwrap();
        let e = s3
            .get_object()
            .bucket("ssec")
            .key("plain")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&k1.key)
            .sse_customer_key_md5(&k1.md5)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "InvalidRequest");

        // No key material on disk: neither the key, nor its base64.
        let data_dir = srv.data_dir();
        drop(s3);
        let dir = srv.stop();
        let mut files = vec![data_dir.clone()];
        let mut scanned = 0;
        while let Some(p) = files.pop() {
            if p.is_dir() {
                for e in std::fs::read_dir(&p).unwrap() {
                    files.push(e.unwrap().path());
                }
                continue;
            }
            let bytes = std::fs::read(&p).unwrap();
            scanned += bytes.len();
            for needle in [&k1.raw[..], k1.key.as_bytes()] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle),
                    "key material in {}",
                    p.display()
                );
            }
        }
        assert!(scanned > 0);
        drop(dir);
    }

    #[tokio::test]
    async fn sse_c_refused_over_plain_http_by_default() {
        let srv = TestServer::start().await;
        let s3 = srv.s3();
        s3.create_bucket().bucket("ssec").send().await.unwrap();
        let k = ck(3);
        let e = s3
            .put_object()
            .bucket("ssec")
            .key("o")
            .body(b"x".to_vec().into())
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&k.key)
            .sse_customer_key_md5(&k.md5)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "InvalidRequest");
        let msg = e.as_service_error().and_then(|e| e.message()).unwrap_or("");
        assert!(msg.contains("secure connection"), "{msg}");
        let e = s3
            .head_object()
            .bucket("ssec")
            .key("o")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "NotFound", "nothing was stored");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sse_c_over_https() {
        let (addr, ca, _stop, _dir) = crate::tls::start_tls().await;
        let s3 = crate::tls::https_client(&format!("https://localhost:{}", addr.port()), &ca);
        s3.create_bucket().bucket("ssec").send().await.unwrap();
        let k = ck(4);
        let body = pattern(3 * 1024 * 1024 + 11, 5);
        s3.put_object()
            .bucket("ssec")
            .key("o")
            .body(ByteStream::from(body.clone()))
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&k.key)
            .sse_customer_key_md5(&k.md5)
            .send()
            .await
            .unwrap();
        let got = s3
            .get_object()
            .bucket("ssec")
            .key("o")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&k.key)
            .sse_customer_key_md5(&k.md5)
            .send()
            .await
            .unwrap();
        assert_eq!(read_all(got).await, body);
    }

    #[tokio::test]
    async fn sse_c_copy_and_multipart() {
        let srv = server().await;
        let s3 = srv.s3();
        s3.create_bucket().bucket("ssec").send().await.unwrap();
        let (k1, k2) = (ck(5), ck(6));
        let body = pattern(300_000, 12);
        s3.put_object()
            .bucket("ssec")
            .key("src")
            .body(body.clone().into())
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&k1.key)
            .sse_customer_key_md5(&k1.md5)
            .send()
            .await
            .unwrap();
        // Copy without the source key: refused; with it, re-encrypted under k2.
        let e = s3
            .copy_object()
            .bucket("ssec")
            .key("dst")
            .copy_source("ssec/src")
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "InvalidRequest");
        let e = s3
            .copy_object()
            .bucket("ssec")
            .key("dst")
            .copy_source("ssec/src")
            .copy_source_sse_customer_algorithm("AES256")
            .copy_source_sse_customer_key(&k2.key)
            .copy_source_sse_customer_key_md5(&k2.md5)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "AccessDenied");
        let c = s3
            .copy_object()
            .bucket("ssec")
            .key("dst")
            .copy_source("ssec/src")
            .copy_source_sse_customer_algorithm("AES256")
            .copy_source_sse_customer_key(&k1.key)
            .copy_source_sse_customer_key_md5(&k1.md5)
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&k2.key)
            .sse_customer_key_md5(&k2.md5)
            .send()
            .await
            .unwrap();
        assert_eq!(c.sse_customer_key_md5(), Some(k2.md5.as_str()));
        let got = s3
            .get_object()
            .bucket("ssec")
            .key("dst")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&k2.key)
            .sse_customer_key_md5(&k2.md5)
            .send()
            .await
            .unwrap();
        assert_eq!(read_all(got).await, body);

        // Multipart under k2: the key on every part; a part with another key is refused.
        let up = s3
            .create_multipart_upload()
            .bucket("ssec")
            .key("mp")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&k2.key)
            .sse_customer_key_md5(&k2.md5)
            .send()
            .await
            .unwrap();
        assert_eq!(up.sse_customer_key_md5(), Some(k2.md5.as_str()));
        let id = up.upload_id().unwrap();
        let p1 = pattern(5 * 1024 * 1024, 13);
        let e = s3
            .upload_part()
            .bucket("ssec")
            .key("mp")
            .upload_id(id)
            .part_number(1)
            .body(p1.clone().into())
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "InvalidRequest");
        let e = s3
            .upload_part()
            .bucket("ssec")
            .key("mp")
            .upload_id(id)
            .part_number(1)
            .body(p1.clone().into())
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&k1.key)
            .sse_customer_key_md5(&k1.md5)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "AccessDenied");
        let r1 = s3
            .upload_part()
            .bucket("ssec")
            .key("mp")
            .upload_id(id)
            .part_number(1)
            .body(p1.clone().into())
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&k2.key)
            .sse_customer_key_md5(&k2.md5)
            .send()
            .await
            .unwrap();
        // Part 2 copied from the SSE-C source (key k1).
        let r2 = s3
            .upload_part_copy()
            .bucket("ssec")
            .key("mp")
            .upload_id(id)
            .part_number(2)
            .copy_source("ssec/src")
            .copy_source_range("bytes=1000-99999")
            .copy_source_sse_customer_algorithm("AES256")
            .copy_source_sse_customer_key(&k1.key)
            .copy_source_sse_customer_key_md5(&k1.md5)
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&k2.key)
            .sse_customer_key_md5(&k2.md5)
            .send()
            .await
            .unwrap();
        let parts = CompletedMultipartUpload::builder()
            .parts(
                CompletedPart::builder()
                    .part_number(1)
                    .e_tag(r1.e_tag().unwrap())
                    .build(),
            )
            .parts(
                CompletedPart::builder()
                    .part_number(2)
                    .e_tag(r2.copy_part_result().unwrap().e_tag().unwrap())
                    .build(),
            )
            .build();
        s3.complete_multipart_upload()
            .bucket("ssec")
            .key("mp")
            .upload_id(id)
            .multipart_upload(parts)
            .send()
            .await
            .unwrap();
        let mut want = p1.clone();
        want.extend_from_slice(&body[1000..100000]);
        let got = s3
            .get_object()
            .bucket("ssec")
            .key("mp")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&k2.key)
            .sse_customer_key_md5(&k2.md5)
            .send()
            .await
            .unwrap();
        assert_eq!(read_all(got).await, want);
        let e = s3
            .get_object()
            .bucket("ssec")
            .key("mp")
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&k1.key)
            .sse_customer_key_md5(&k1.md5)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "AccessDenied");
    }
}

// ---- bucket keys ----

fn data_key_requests(srv: &TestServer) -> usize {
    std::fs::read_to_string(srv.data_dir().join("audit.log"))
        .unwrap_or_default()
        .lines()
        .filter(|l| {
            serde_json::from_str::<serde_json::Value>(l)
                .is_ok_and(|v| v["eventName"] == "GenerateDataKey")
        })
        .count()
}

#[tokio::test]
async fn bucket_keys_cut_kms_calls_and_objects_keep_distinct_keys() {
    let srv = server_with_seed_key().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("bkeys").send().await.unwrap();
    s3.create_bucket().bucket("nobk").send().await.unwrap();
    s3.put_bucket_encryption()
        .bucket("bkeys")
        .server_side_encryption_configuration(config(
            ServerSideEncryption::AwsKms,
            Some(SEED_ALIAS),
            true,
        ))
        .send()
        .await
        .unwrap();
    const N: usize = 20;
    let before = data_key_requests(&srv);
    let mut bodies = Vec::new();
    for i in 0..N {
        let body = pattern(1000 + i * 37, i as u64);
        let put = s3
            .put_object()
            .bucket("bkeys")
            .key(format!("o{i}"))
            .body(body.clone().into())
            .send()
            .await
            .unwrap();
        assert_eq!(
            put.server_side_encryption(),
            Some(&ServerSideEncryption::AwsKms)
        );
        assert_eq!(put.bucket_key_enabled(), Some(true));
        bodies.push(body);
    }
    let bk_calls = data_key_requests(&srv) - before;
    assert!(
        bk_calls <= 1,
        "{bk_calls} GenerateDataKey calls for {N} objects"
    );

    // The request header enables it too (same key and context: the cached bucket key).
    let put = s3
        .put_object()
        .bucket("nobk")
        .key("h1")
        .body(b"header".to_vec().into())
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(SEED_ALIAS)
        .bucket_key_enabled(true)
        .send()
        .await
        .unwrap();
    assert_eq!(put.bucket_key_enabled(), Some(true));

    // Without bucket keys: one call per object.
    let before = data_key_requests(&srv);
    for i in 0..5 {
        s3.put_object()
            .bucket("nobk")
            .key(format!("p{i}"))
            .body(b"x".to_vec().into())
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(SEED_ALIAS)
            .send()
            .await
            .unwrap();
    }
    assert_eq!(data_key_requests(&srv) - before, 5);

    // Round trips, the header echoed on GET, the context the bucket ARN.
    for (i, body) in bodies.iter().enumerate() {
        let got = s3
            .get_object()
            .bucket("bkeys")
            .key(format!("o{i}"))
            .send()
            .await
            .unwrap();
        assert_eq!(got.bucket_key_enabled(), Some(true));
        assert_eq!(&read_all(got).await, body);
    }

    // A cached bucket key still obeys the key's state.
    let kms = srv.kms();
    kms.disable_key().key_id(SEED_KEY_ID).send().await.unwrap();
    let e = s3
        .put_object()
        .bucket("bkeys")
        .key("disabled")
        .body(b"x".to_vec().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "KMS.DisabledException");
    kms.enable_key().key_id(SEED_KEY_ID).send().await.unwrap();

    // Bounded in time: after the TTL a fresh bucket key is generated, once.
    srv.clock.advance(std::time::Duration::from_secs(301));
    let before = data_key_requests(&srv);
    for i in 0..3 {
        s3.put_object()
            .bucket("bkeys")
            .key(format!("late{i}"))
            .body(b"late".to_vec().into())
            .send()
            .await
            .unwrap();
    }
    assert_eq!(data_key_requests(&srv) - before, 1);

    // Each object has its own data key: same bucket key blob, distinct salts.
    drop(s3);
    let dir = srv.stop();
    let cfg = test_config(dir.path());
    let store = coffer::app::open_store(&cfg, false).unwrap();
    let mut salts = std::collections::BTreeSet::new();
    let mut blobs = std::collections::BTreeSet::new();
    for i in 0..N {
        let rec = store
            .get_object("bkeys", &format!("o{i}"))
            .unwrap()
            .unwrap();
        assert!(rec.sse.bucket_key);
        assert_eq!(
            rec.sse.context.get("aws:s3:arn").map(String::as_str),
            Some("arn:aws:s3:::bkeys")
        );
        salts.insert(rec.sse.bucket_key_salt.clone().expect("salt"));
        blobs.insert(rec.sse.wrapped_key.clone().unwrap());
    }
    assert_eq!(salts.len(), N, "distinct per-object data keys");
    assert_eq!(blobs.len(), 1, "one bucket key");
}

#[test]
fn bucket_key_derivation_is_distinct_per_salt() {
    let bk = coffer::secret::Key32::from_bytes([9u8; 32]);
    let a = coffer::sse::derive_object_key(&bk, &[1u8; 32]);
    let b = coffer::sse::derive_object_key(&bk, &[2u8; 32]);
    assert!(!a.ct_eq(&b));
    assert!(!a.ct_eq(&bk));
    assert!(a.ct_eq(&coffer::sse::derive_object_key(&bk, &[1u8; 32])));
}

// ---- DSSE-KMS ----

mod dsse {
    use super::*;
    use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};

    const DSSE: ServerSideEncryption = ServerSideEncryption::AwsKmsDsse;

    #[tokio::test]
    async fn dsse_round_trips_ranges_headers_and_two_data_keys() {
        let srv = server_with_seed_key().await;
        let s3 = srv.s3();
        s3.create_bucket().bucket("dsse").send().await.unwrap();
        let sizes = [0usize, 1, 64 * 1024 + 1, 1024 * 1024];
        for (i, &len) in sizes.iter().enumerate() {
            let body = pattern(len, 40 + i as u64);
            let before = data_key_requests(&srv);
            let put = s3
                .put_object()
                .bucket("dsse")
                .key(format!("o{len}"))
                .server_side_encryption(DSSE)
                .ssekms_key_id(SEED_ALIAS)
                .body(body.clone().into())
                .send()
                .await
                .unwrap();
            assert_eq!(
                data_key_requests(&srv) - before,
                2,
                "two data keys per DSSE object"
            );
            assert_eq!(put.server_side_encryption(), Some(&DSSE));
            assert!(put.ssekms_key_id().unwrap().ends_with(SEED_KEY_ID));
            assert_eq!(put.bucket_key_enabled(), None);
            let got = s3
                .get_object()
                .bucket("dsse")
                .key(format!("o{len}"))
                .send()
                .await
                .unwrap();
            assert_eq!(got.server_side_encryption(), Some(&DSSE));
            assert!(got.ssekms_key_id().unwrap().ends_with(SEED_KEY_ID));
            assert_eq!(read_all(got).await, body, "size {len}");
            let head = s3
                .head_object()
                .bucket("dsse")
                .key(format!("o{len}"))
                .send()
                .await
                .unwrap();
            assert_eq!(head.server_side_encryption(), Some(&DSSE));
            assert!(head.ssekms_key_id().unwrap().ends_with(SEED_KEY_ID));
            assert_eq!(head.content_length(), Some(len as i64));
        }
        // Ranges across chunk boundaries.
        let big = pattern(1024 * 1024, 43);
        for (a, b) in [
            (0usize, 0usize),
            (65535, 65536),
            (65530, 3 * 65536 + 7),
            (1024 * 1024 - 1, 1024 * 1024 - 1),
        ] {
            let got = s3
                .get_object()
                .bucket("dsse")
                .key("o1048576")
                .range(format!("bytes={a}-{b}"))
                .send()
                .await
                .unwrap();
            assert_eq!(read_all(got).await, &big[a..=b], "range {a}-{b}");
        }
        // Default key (no key id): aws/s3, still two layers.
        let put = s3
            .put_object()
            .bucket("dsse")
            .key("default-key")
            .server_side_encryption(DSSE)
            .body(b"dd".to_vec().into())
            .send()
            .await
            .unwrap();
        assert_eq!(put.server_side_encryption(), Some(&DSSE));
        assert!(put.ssekms_key_id().is_some());
        // A copy into DSSE from an SSE-S3 source.
        s3.put_object()
            .bucket("dsse")
            .key("plain")
            .body(big.clone().into())
            .send()
            .await
            .unwrap();
        let copy = s3
            .copy_object()
            .bucket("dsse")
            .key("copied")
            .copy_source("dsse/plain")
            .server_side_encryption(DSSE)
            .ssekms_key_id(SEED_ALIAS)
            .send()
            .await
            .unwrap();
        assert_eq!(copy.server_side_encryption(), Some(&DSSE));
        let got = s3
            .get_object()
            .bucket("dsse")
            .key("copied")
            .send()
            .await
            .unwrap();
        assert_eq!(read_all(got).await, big);
        // And out of DSSE: a DSSE source copied to SSE-S3.
        let copy = s3
            .copy_object()
            .bucket("dsse")
            .key("fromdsse")
            .copy_source("dsse/copied")
            .server_side_encryption(ServerSideEncryption::Aes256)
            .send()
            .await
            .unwrap();
        assert_eq!(
            copy.server_side_encryption(),
            Some(&ServerSideEncryption::Aes256)
        );
        let got = s3
            .get_object()
            .bucket("dsse")
            .key("fromdsse")
            .send()
            .await
            .unwrap();
        assert_eq!(read_all(got).await, big);

        // Stored: two distinct wrapped data keys, the DSSE chunk scheme, chunks carry two tags.
        drop(s3);
        let dir = srv.stop();
        let cfg = test_config(dir.path());
        let store = coffer::app::open_store(&cfg, false).unwrap();
        for key in ["o0", "o1", "o65537", "o1048576", "default-key", "copied"] {
            let rec = store.get_object("dsse", key).unwrap().unwrap();
            assert_eq!(rec.sse.mode, coffer::storage::records::SseMode::Dsse);
            assert_eq!(rec.cipher.scheme, coffer::sse::chunk::SCHEME_DSSE_V1);
            assert!(!rec.sse.bucket_key);
            let w1 = rec.sse.wrapped_key.clone().unwrap();
            let w2 = rec.sse.outer_wrapped_key.clone().unwrap();
            assert_ne!(w1, w2, "{key}: two independent data keys");
            let p = &rec.parts[0];
            let first = store.get_chunk(&p.stream_id, 0).unwrap().unwrap();
            assert_eq!(
                first.len(),
                coffer::sse::chunk::chunk_plain_len(p.size, 0) + 2 * coffer::sse::chunk::TAG_LEN
            );
        }
        let rec = store.get_object("dsse", "plain").unwrap().unwrap();
        assert_eq!(rec.cipher.scheme, coffer::sse::chunk::SCHEME_V1);
        assert!(rec.sse.outer_wrapped_key.is_none());
    }

    #[tokio::test]
    async fn dsse_refuses_bucket_keys_and_sse_c() {
        let srv = server_with_seed_key().await;
        let s3 = srv.s3();
        s3.create_bucket().bucket("dsserules").send().await.unwrap();
        let e = s3
            .put_object()
            .bucket("dsserules")
            .key("k")
            .server_side_encryption(DSSE)
            .bucket_key_enabled(true)
            .body(b"x".to_vec().into())
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "InvalidArgument");
        let e = s3
            .put_bucket_encryption()
            .bucket("dsserules")
            .server_side_encryption_configuration(config(DSSE, Some(SEED_ALIAS), true))
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "InvalidArgument");
        // bucket-key-enabled: false is harmless.
        s3.put_object()
            .bucket("dsserules")
            .key("k")
            .server_side_encryption(DSSE)
            .bucket_key_enabled(false)
            .body(b"x".to_vec().into())
            .send()
            .await
            .unwrap();
        // SSE-C with DSSE, as SSE-C with SSE-KMS (on a server that allows SSE-C over HTTP).
        drop(s3);
        drop(srv);
        let dir = std::sync::Arc::new(tempfile::tempdir().unwrap());
        let srv = TestServer::start_in(dir, |c| c.allow_sse_c_over_http = true).await;
        let s3 = srv.s3();
        s3.create_bucket().bucket("dsserules").send().await.unwrap();
        let ck = super::sse_c::ck(3);
        let e = s3
            .put_object()
            .bucket("dsserules")
            .key("c")
            .server_side_encryption(DSSE)
            .sse_customer_algorithm("AES256")
            .sse_customer_key(&ck.key)
            .sse_customer_key_md5(&ck.md5)
            .body(b"x".to_vec().into())
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "InvalidArgument");
    }

    #[tokio::test]
    async fn dsse_bucket_default_and_multipart() {
        let srv = server_with_seed_key().await;
        let s3 = srv.s3();
        s3.create_bucket().bucket("dssedef").send().await.unwrap();
        s3.put_bucket_encryption()
            .bucket("dssedef")
            .server_side_encryption_configuration(config(DSSE, Some(SEED_ALIAS), false))
            .send()
            .await
            .unwrap();
        let got = s3
            .get_bucket_encryption()
            .bucket("dssedef")
            .send()
            .await
            .unwrap();
        let d = got.server_side_encryption_configuration().unwrap().rules()[0]
            .apply_server_side_encryption_by_default()
            .unwrap()
            .clone();
        assert_eq!(d.sse_algorithm(), &DSSE);
        let body = pattern(200_000, 9);
        let before = data_key_requests(&srv);
        let put = s3
            .put_object()
            .bucket("dssedef")
            .key("k")
            .body(body.clone().into())
            .send()
            .await
            .unwrap();
        assert_eq!(data_key_requests(&srv) - before, 2);
        assert_eq!(put.server_side_encryption(), Some(&DSSE));
        assert!(put.ssekms_key_id().unwrap().ends_with(SEED_KEY_ID));
        let got = s3
            .get_object()
            .bucket("dssedef")
            .key("k")
            .send()
            .await
            .unwrap();
        assert_eq!(got.server_side_encryption(), Some(&DSSE));
        assert_eq!(read_all(got).await, body);

        // Multipart under the DSSE default: two parts, one ranged read across them.
        let create = s3
            .create_multipart_upload()
            .bucket("dssedef")
            .key("mp")
            .send()
            .await
            .unwrap();
        assert_eq!(create.server_side_encryption(), Some(&DSSE));
        let id = create.upload_id().unwrap();
        let p1 = pattern(5 * 1024 * 1024, 1);
        let p2 = pattern(70_000, 2);
        let mut parts = CompletedMultipartUpload::builder();
        for (n, p) in [(1, &p1), (2, &p2)] {
            let r = s3
                .upload_part()
                .bucket("dssedef")
                .key("mp")
                .upload_id(id)
                .part_number(n)
                .body(p.clone().into())
                .send()
                .await
                .unwrap();
            assert_eq!(r.server_side_encryption(), Some(&DSSE));
            parts = parts.parts(
                CompletedPart::builder()
                    .part_number(n)
                    .e_tag(r.e_tag().unwrap())
                    .build(),
            );
        }
        let done = s3
            .complete_multipart_upload()
            .bucket("dssedef")
            .key("mp")
            .upload_id(id)
            .multipart_upload(parts.build())
            .send()
            .await
            .unwrap();
        assert_eq!(done.server_side_encryption(), Some(&DSSE));
        let mut want = p1.clone();
        want.extend_from_slice(&p2);
        let got = s3
            .get_object()
            .bucket("dssedef")
            .key("mp")
            .send()
            .await
            .unwrap();
        assert_eq!(got.server_side_encryption(), Some(&DSSE));
        assert_eq!(read_all(got).await, want);
        let (a, b) = (p1.len() - 100, p1.len() + 65_600);
        let got = s3
            .get_object()
            .bucket("dssedef")
            .key("mp")
            .range(format!("bytes={a}-{b}"))
            .send()
            .await
            .unwrap();
        assert_eq!(read_all(got).await, &want[a..=b]);
        drop(s3);
        let dir = srv.stop();
        let cfg = test_config(dir.path());
        let store = coffer::app::open_store(&cfg, false).unwrap();
        let rec = store.get_object("dssedef", "mp").unwrap().unwrap();
        assert_eq!(rec.cipher.scheme, coffer::sse::chunk::SCHEME_DSSE_V1);
        assert_ne!(rec.sse.wrapped_key, rec.sse.outer_wrapped_key);
    }
}
