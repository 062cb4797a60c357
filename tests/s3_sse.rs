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
