//! Object and bucket operations through aws-sdk-s3, byte-exact.

use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier, ServerSideEncryption};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::common::*;

pub const SEED_KEY_ID: &str = "11111111-2222-3333-4444-555555555555";
pub const SEED_ALIAS: &str = "alias/coffer-test";

/// A server with one seeded customer key (fixed id and alias).
pub async fn server_with_seed_key() -> TestServer {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    TestServer::start_in(dir, |cfg| {
        cfg.kms.keys.push(coffer::config::SeedKeyConfig {
            key_id: SEED_KEY_ID.into(),
            alias: Some(SEED_ALIAS.into()),
            description: Some("test key".into()),
        })
    })
    .await
}

fn seed_arn() -> String {
    format!("arn:aws:kms:us-east-1:000000000000:key/{SEED_KEY_ID}")
}

#[tokio::test]
async fn bucket_lifecycle() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("alpha").send().await.unwrap();
    s3.create_bucket()
        .bucket("beta.data-1")
        .send()
        .await
        .unwrap();
    let err = s3.create_bucket().bucket("alpha").send().await.unwrap_err();
    assert_eq!(code(&err), "BucketAlreadyOwnedByYou");
    let err = s3
        .create_bucket()
        .bucket("Bad_Name")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidBucketName");

    let list = s3.list_buckets().send().await.unwrap();
    let names: Vec<_> = list.buckets().iter().filter_map(|b| b.name()).collect();
    assert_eq!(names, ["alpha", "beta.data-1"]);
    assert!(list.buckets()[0].creation_date().is_some());

    s3.head_bucket().bucket("alpha").send().await.unwrap();
    let err = s3.head_bucket().bucket("nope").send().await.unwrap_err();
    assert!(err.raw_response().unwrap().status().as_u16() == 404);

    let loc = s3
        .get_bucket_location()
        .bucket("alpha")
        .send()
        .await
        .unwrap();
    assert!(
        loc.location_constraint()
            .is_none_or(|l| l.as_str().is_empty())
    );
    let v = s3
        .get_bucket_versioning()
        .bucket("alpha")
        .send()
        .await
        .unwrap();
    assert!(v.status().is_none());

    s3.put_object()
        .bucket("alpha")
        .key("x")
        .body(ByteStream::from_static(b"1"))
        .send()
        .await
        .unwrap();
    let err = s3.delete_bucket().bucket("alpha").send().await.unwrap_err();
    assert_eq!(code(&err), "BucketNotEmpty");
    s3.delete_object()
        .bucket("alpha")
        .key("x")
        .send()
        .await
        .unwrap();
    s3.delete_bucket().bucket("alpha").send().await.unwrap();
    let err = s3.delete_bucket().bucket("alpha").send().await.unwrap_err();
    assert_eq!(code(&err), "NoSuchBucket");
    let err = s3
        .list_objects_v2()
        .bucket("alpha")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchBucket");
}

#[tokio::test]
async fn put_get_sizes_byte_exact() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("sizes").send().await.unwrap();
    for (i, len) in [0usize, 1, 65536, 65537, 20 << 20].into_iter().enumerate() {
        let body = pattern(len, i as u64);
        let key = format!("obj-{len}");
        let put = s3
            .put_object()
            .bucket("sizes")
            .key(&key)
            .body(body.clone().into())
            .send()
            .await
            .unwrap();
        // SSE-S3 by default; ETag is the MD5 of the plaintext.
        assert_eq!(
            put.server_side_encryption(),
            Some(&ServerSideEncryption::Aes256)
        );
        let md5 = {
            use md5::Digest;
            hex::encode(md5::Md5::digest(&body))
        };
        assert_eq!(put.e_tag(), Some(format!("\"{md5}\"").as_str()));
        let got = s3
            .get_object()
            .bucket("sizes")
            .key(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(got.content_length(), Some(len as i64));
        assert_eq!(got.e_tag(), Some(format!("\"{md5}\"").as_str()));
        assert_eq!(read_all(got).await, body, "object of {len} bytes");
    }
}

#[tokio::test]
async fn ranges_on_and_across_chunk_boundaries() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("ranges").send().await.unwrap();
    const C: u64 = 65536;
    let len = 3 * C + 100;
    let body = pattern(len as usize, 9);
    s3.put_object()
        .bucket("ranges")
        .key("r")
        .body(body.clone().into())
        .send()
        .await
        .unwrap();
    let cases: Vec<(String, u64, u64)> = vec![
        ("bytes=10-20".into(), 10, 20),
        ("bytes=0-0".into(), 0, 0),
        (format!("bytes={}-{}", C - 1, C), C - 1, C),
        (format!("bytes={}-{}", C, 2 * C - 1), C, 2 * C - 1),
        (format!("bytes={}-{}", C - 5, 3 * C + 5), C - 5, 3 * C + 5),
        (format!("bytes={}-", 2 * C), 2 * C, len - 1),
        ("bytes=-100".into(), len - 100, len - 1),
        ("bytes=-1".into(), len - 1, len - 1),
        (format!("bytes=-{}", len + 10), 0, len - 1),
        (format!("bytes=5-{}", len * 2), 5, len - 1),
    ];
    for (range, start, end) in cases {
        let out = s3
            .get_object()
            .bucket("ranges")
            .key("r")
            .range(&range)
            .send()
            .await
            .unwrap();
        assert_eq!(
            out.content_range(),
            Some(format!("bytes {start}-{end}/{len}").as_str()),
            "{range}"
        );
        assert_eq!(out.content_length(), Some((end - start + 1) as i64));
        assert_eq!(
            read_all(out).await,
            &body[start as usize..=end as usize],
            "{range}"
        );
    }
    for bad in [
        format!("bytes={len}-"),
        format!("bytes={}-{}", len + 1, len + 5),
        "bytes=-0".into(),
    ] {
        let err = s3
            .get_object()
            .bucket("ranges")
            .key("r")
            .range(&bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "InvalidRange", "{bad}");
    }
    // Zero-byte objects: any range is unsatisfiable; without one they read as empty.
    s3.put_object()
        .bucket("ranges")
        .key("empty")
        .body(ByteStream::from_static(b""))
        .send()
        .await
        .unwrap();
    let err = s3
        .get_object()
        .bucket("ranges")
        .key("empty")
        .range("bytes=0-")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidRange");
    let out = s3
        .get_object()
        .bucket("ranges")
        .key("empty")
        .send()
        .await
        .unwrap();
    assert!(read_all(out).await.is_empty());
    // partNumber=1 of a single-part object is the whole object.
    let out = s3
        .get_object()
        .bucket("ranges")
        .key("r")
        .part_number(1)
        .send()
        .await
        .unwrap();
    assert_eq!(read_all(out).await, body);
}

#[tokio::test]
async fn sse_kms_named_key_alias_arn_default_and_context() {
    let srv = server_with_seed_key().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("kms").send().await.unwrap();
    let body = pattern(70_000, 3);
    for key_ref in [SEED_KEY_ID.to_string(), SEED_ALIAS.to_string(), seed_arn()] {
        let put = s3
            .put_object()
            .bucket("kms")
            .key("named")
            .server_side_encryption(ServerSideEncryption::AwsKms)
            .ssekms_key_id(&key_ref)
            .body(body.clone().into())
            .send()
            .await
            .unwrap();
        assert_eq!(
            put.server_side_encryption(),
            Some(&ServerSideEncryption::AwsKms)
        );
        assert_eq!(put.ssekms_key_id(), Some(seed_arn().as_str()), "{key_ref}");
        // SSE-KMS ETags are not the MD5 of the plaintext.
        assert_ne!(put.e_tag().unwrap().trim_matches('"').len(), 0);
        let got = s3
            .get_object()
            .bucket("kms")
            .key("named")
            .send()
            .await
            .unwrap();
        assert_eq!(
            got.server_side_encryption(),
            Some(&ServerSideEncryption::AwsKms)
        );
        assert_eq!(got.ssekms_key_id(), Some(seed_arn().as_str()));
        let meta = got.metadata().unwrap().clone();
        assert_eq!(meta["coffer-kms-key-id"], seed_arn());
        let blob = B64.decode(&meta["coffer-encrypted-data-key"]).unwrap();
        assert_eq!(blob[0], 1, "v1 KMS blob");
        assert_eq!(
            &blob[1..17],
            uuid::Uuid::parse_str(SEED_KEY_ID).unwrap().as_bytes()
        );
        assert_eq!(read_all(got).await, body);
    }

    // No key id: the AWS-managed aws/s3 key, created on first use.
    let put = s3
        .put_object()
        .bucket("kms")
        .key("default")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .body(body.clone().into())
        .send()
        .await
        .unwrap();
    let managed = put.ssekms_key_id().unwrap().to_string();
    assert!(managed.starts_with("arn:aws:kms:us-east-1:000000000000:key/"));
    assert_ne!(managed, seed_arn());
    let head = s3
        .head_object()
        .bucket("kms")
        .key("default")
        .send()
        .await
        .unwrap();
    assert_eq!(head.ssekms_key_id(), Some(managed.as_str()));
    assert_eq!(head.metadata().unwrap()["coffer-kms-key-id"], managed);

    // With an encryption context: echoed on PUT, bound as AAD, readable back.
    let ctx = B64.encode(br#"{"project":"coffer","tier":"gold"}"#);
    let put = s3
        .put_object()
        .bucket("kms")
        .key("ctx")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(SEED_ALIAS)
        .ssekms_encryption_context(&ctx)
        .body(body.clone().into())
        .send()
        .await
        .unwrap();
    assert_eq!(put.ssekms_encryption_context(), Some(ctx.as_str()));
    let got = s3
        .get_object()
        .bucket("kms")
        .key("ctx")
        .send()
        .await
        .unwrap();
    assert_eq!(read_all(got).await, body);

    // Unknown key and bad context.
    let err = s3
        .put_object()
        .bucket("kms")
        .key("bad")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id("alias/does-not-exist")
        .body(body.clone().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "KMS.NotFoundException");
    let err = s3
        .put_object()
        .bucket("kms")
        .key("bad")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_encryption_context("not base64 json!")
        .body(body.clone().into())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidArgument");
    let err = s3
        .head_object()
        .bucket("kms")
        .key("bad")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NotFound", "failed PUTs store nothing");
}

#[tokio::test]
async fn metadata_and_standard_headers() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("meta").send().await.unwrap();
    s3.put_object()
        .bucket("meta")
        .key("doc.txt")
        .content_type("text/plain; charset=utf-8")
        .cache_control("max-age=60")
        .content_disposition("attachment; filename=\"doc.txt\"")
        .content_language("en")
        .content_encoding("identity")
        .metadata("color", "blue")
        .metadata("Owner-Name", "Ada")
        .metadata("coffer-kms-key-id", "forged")
        .body(ByteStream::from_static(b"hello"))
        .send()
        .await
        .unwrap();
    let h = s3
        .head_object()
        .bucket("meta")
        .key("doc.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(h.content_type(), Some("text/plain; charset=utf-8"));
    assert_eq!(h.cache_control(), Some("max-age=60"));
    assert_eq!(
        h.content_disposition(),
        Some("attachment; filename=\"doc.txt\"")
    );
    assert_eq!(h.content_language(), Some("en"));
    assert_eq!(h.content_encoding(), Some("identity"));
    assert_eq!(h.content_length(), Some(5));
    assert!(h.last_modified().is_some());
    let m = h.metadata().unwrap();
    assert_eq!(m["color"], "blue");
    assert_eq!(m["owner-name"], "Ada");
    assert!(
        m["coffer-kms-key-id"].starts_with("arn:aws:kms:"),
        "reserved name not taken from the user"
    );
    assert!(m.contains_key("coffer-encrypted-data-key"));

    // response-* overrides on GET.
    let got = s3
        .get_object()
        .bucket("meta")
        .key("doc.txt")
        .response_content_type("application/json")
        .response_cache_control("no-store")
        .send()
        .await
        .unwrap();
    assert_eq!(got.content_type(), Some("application/json"));
    assert_eq!(got.cache_control(), Some("no-store"));

    // Oversized metadata is refused and changes nothing.
    let err = s3
        .put_object()
        .bucket("meta")
        .key("doc.txt")
        .metadata("big", "x".repeat(2100))
        .body(ByteStream::from_static(b"other"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "MetadataTooLarge");
    let got = s3
        .get_object()
        .bucket("meta")
        .key("doc.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(read_all(got).await, b"hello");
}

#[tokio::test]
async fn overwrite_and_delete() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("owr").send().await.unwrap();
    for i in 0..3u64 {
        let body = pattern(100_000 + i as usize, i);
        s3.put_object()
            .bucket("owr")
            .key("k")
            .body(body.clone().into())
            .send()
            .await
            .unwrap();
        let got = s3.get_object().bucket("owr").key("k").send().await.unwrap();
        assert_eq!(read_all(got).await, body);
    }
    s3.delete_object()
        .bucket("owr")
        .key("k")
        .send()
        .await
        .unwrap();
    let err = s3
        .get_object()
        .bucket("owr")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchKey");
    // Deleting a missing key succeeds, as in S3.
    s3.delete_object()
        .bucket("owr")
        .key("never")
        .send()
        .await
        .unwrap();
    // Replaced and deleted streams are gone from storage.
    drop(s3);
    let dir = srv.stop();
    let store = coffer::storage::Store::open(&dir.path().join("db"), &Default::default()).unwrap();
    assert!(
        store.all_chunk_streams().unwrap().is_empty(),
        "no chunks left behind"
    );
    assert!(store.orphan_streams().unwrap().is_empty());
}

#[tokio::test]
async fn delete_objects_quiet_and_verbose() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("del").send().await.unwrap();
    for k in ["a", "b", "c", "d"] {
        s3.put_object()
            .bucket("del")
            .key(k)
            .body(ByteStream::from_static(b"x"))
            .send()
            .await
            .unwrap();
    }
    let ids = |keys: &[&str]| {
        Delete::builder().set_objects(Some(
            keys.iter()
                .map(|k| ObjectIdentifier::builder().key(*k).build().unwrap())
                .collect(),
        ))
    };
    let out = s3
        .delete_objects()
        .bucket("del")
        .delete(ids(&["a", "b", "missing"]).build().unwrap())
        .send()
        .await
        .unwrap();
    let mut deleted: Vec<_> = out.deleted().iter().filter_map(|d| d.key()).collect();
    deleted.sort();
    assert_eq!(deleted, ["a", "b", "missing"]);
    assert!(out.errors().is_empty());
    let out = s3
        .delete_objects()
        .bucket("del")
        .delete(ids(&["c"]).quiet(true).build().unwrap())
        .send()
        .await
        .unwrap();
    assert!(out.deleted().is_empty());
    let left = s3.list_objects_v2().bucket("del").send().await.unwrap();
    let keys: Vec<_> = left.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["d"]);
}

async fn fill_listing_bucket(s3: &aws_sdk_s3::Client) -> Vec<String> {
    s3.create_bucket().bucket("list").send().await.unwrap();
    let keys: Vec<String> = [
        "a.txt",
        "dir/x",
        "dir/y",
        "dir/sub/z",
        "dir2/q",
        "e f+g.txt",
        "zeta",
        "ünï/cödé",
        "dir/sub/w",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for k in &keys {
        s3.put_object()
            .bucket("list")
            .key(k)
            .body(ByteStream::from_static(b"v"))
            .send()
            .await
            .unwrap();
    }
    let mut sorted = keys.clone();
    sorted.sort();
    sorted
}

#[tokio::test]
async fn list_objects_v2_prefix_delimiter_paging() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    let all = fill_listing_bucket(&s3).await;

    let out = s3.list_objects_v2().bucket("list").send().await.unwrap();
    let keys: Vec<_> = out
        .contents()
        .iter()
        .filter_map(|o| o.key().map(String::from))
        .collect();
    assert_eq!(keys, all);
    assert_eq!(out.key_count(), Some(all.len() as i32));
    assert_eq!(out.is_truncated(), Some(false));

    let out = s3
        .list_objects_v2()
        .bucket("list")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = out.contents().iter().filter_map(|o| o.key()).collect();
    let cps: Vec<_> = out
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(keys, ["a.txt", "e f+g.txt", "zeta"]);
    assert_eq!(cps, ["dir/", "dir2/", "ünï/"]);

    let out = s3
        .list_objects_v2()
        .bucket("list")
        .prefix("dir/")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = out.contents().iter().filter_map(|o| o.key()).collect();
    let cps: Vec<_> = out
        .common_prefixes()
        .iter()
        .filter_map(|p| p.prefix())
        .collect();
    assert_eq!(keys, ["dir/x", "dir/y"]);
    assert_eq!(cps, ["dir/sub/"]);

    // Paging with max-keys and continuation tokens, with and without a delimiter.
    for delimiter in [None, Some("/")] {
        let mut token = None;
        let mut seen = Vec::new();
        let mut pages = 0;
        loop {
            let out = s3
                .list_objects_v2()
                .bucket("list")
                .max_keys(2)
                .set_delimiter(delimiter.map(String::from))
                .set_continuation_token(token.clone())
                .send()
                .await
                .unwrap();
            pages += 1;
            assert!(out.key_count().unwrap() <= 2);
            // Keys and common prefixes interleave in key order across the page.
            let mut page: Vec<String> = out
                .contents()
                .iter()
                .filter_map(|o| o.key().map(String::from))
                .collect();
            page.extend(
                out.common_prefixes()
                    .iter()
                    .filter_map(|p| p.prefix().map(String::from)),
            );
            page.sort();
            seen.extend(page);
            if out.is_truncated() != Some(true) {
                break;
            }
            token = out.next_continuation_token().map(String::from);
            assert!(token.is_some());
        }
        let expected: Vec<String> = match delimiter {
            None => all.clone(),
            Some(_) => ["a.txt", "dir/", "dir2/", "e f+g.txt", "zeta", "ünï/"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        };
        assert_eq!(seen, expected, "delimiter {delimiter:?}");
        assert_eq!(pages, expected.len().div_ceil(2));
    }

    let out = s3
        .list_objects_v2()
        .bucket("list")
        .start_after("dir/y")
        .send()
        .await
        .unwrap();
    let keys: Vec<_> = out.contents().iter().filter_map(|o| o.key()).collect();
    assert_eq!(keys, ["dir2/q", "e f+g.txt", "zeta", "ünï/cödé"]);

    let out = s3
        .list_objects_v2()
        .bucket("list")
        .max_keys(0)
        .send()
        .await
        .unwrap();
    assert!(out.contents().is_empty());

    // fetch-owner and url encoding.
    let out = s3
        .list_objects_v2()
        .bucket("list")
        .fetch_owner(true)
        .max_keys(1)
        .send()
        .await
        .unwrap();
    assert!(out.contents()[0].owner().is_some());
    let out = s3.list_objects_v2().bucket("list").send().await.unwrap();
    assert!(out.contents()[0].owner().is_none());
    let out = s3
        .list_objects_v2()
        .bucket("list")
        .prefix("e ")
        .encoding_type(aws_sdk_s3::types::EncodingType::Url)
        .send()
        .await
        .unwrap();
    assert_eq!(out.contents()[0].key(), Some("e%20f%2Bg.txt"));
}

#[tokio::test]
async fn list_objects_v1_marker_and_versions() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    let all = fill_listing_bucket(&s3).await;
    let mut marker: Option<String> = None;
    let mut seen = Vec::new();
    loop {
        let out = s3
            .list_objects()
            .bucket("list")
            .max_keys(3)
            .set_marker(marker.clone())
            .send()
            .await
            .unwrap();
        let keys: Vec<String> = out
            .contents()
            .iter()
            .filter_map(|o| o.key().map(String::from))
            .collect();
        seen.extend(keys.iter().cloned());
        if out.is_truncated() != Some(true) {
            break;
        }
        marker = out.next_marker().map(String::from).or(keys.last().cloned());
    }
    assert_eq!(seen, all);
    let out = s3
        .list_objects()
        .bucket("list")
        .delimiter("/")
        .max_keys(2)
        .send()
        .await
        .unwrap();
    assert_eq!(out.next_marker(), Some("dir/"));

    let v = s3
        .list_object_versions()
        .bucket("list")
        .send()
        .await
        .unwrap();
    assert_eq!(v.versions().len(), all.len());
    for ver in v.versions() {
        assert_eq!(ver.version_id(), Some("null"));
        assert_eq!(ver.is_latest(), Some(true));
    }
    assert!(v.delete_markers().is_empty());
}

#[tokio::test]
async fn objects_survive_restart() {
    let srv = server_with_seed_key().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("persist").send().await.unwrap();
    let a = pattern(200_000, 5);
    let b = pattern(10, 6);
    s3.put_object()
        .bucket("persist")
        .key("a")
        .body(a.clone().into())
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("persist")
        .key("b")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(SEED_ALIAS)
        .body(b.clone().into())
        .send()
        .await
        .unwrap();
    drop(s3);
    let dir = srv.stop();
    let srv = TestServer::start_in(dir, |cfg| {
        cfg.kms.keys.push(coffer::config::SeedKeyConfig {
            key_id: SEED_KEY_ID.into(),
            alias: Some(SEED_ALIAS.into()),
            description: Some("changed description is ignored".into()),
        })
    })
    .await;
    let s3 = srv.s3();
    assert_eq!(
        read_all(
            s3.get_object()
                .bucket("persist")
                .key("a")
                .send()
                .await
                .unwrap()
        )
        .await,
        a
    );
    let got = s3
        .get_object()
        .bucket("persist")
        .key("b")
        .send()
        .await
        .unwrap();
    assert_eq!(got.ssekms_key_id(), Some(seed_arn().as_str()));
    assert_eq!(read_all(got).await, b);
}

/// Regression: a GET racing an overwrite of its key used to fail (500, or a body cut short)
/// because the replaced chunks were deleted under it. Every GET must return one whole version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_racing_overwrites_returns_a_whole_version() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("race").send().await.unwrap();
    let versions = [pattern(300_000, 1), pattern(300_000, 2)];
    s3.put_object()
        .bucket("race")
        .key("k")
        .body(versions[0].clone().into())
        .send()
        .await
        .unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let written = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let writer = {
        let (s3, stop, versions) = (s3.clone(), stop.clone(), versions.clone());
        let written = written.clone();
        tokio::spawn(async move {
            let mut n = 0usize;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let body = versions[n % 2].clone();
                s3.put_object()
                    .bucket("race")
                    .key("k")
                    .body(body.into())
                    .send()
                    .await
                    .unwrap();
                n += 1;
                written.store(n, std::sync::atomic::Ordering::SeqCst);
            }
            n
        })
    };
    // At least 150 GETs, and on until the writer has overwritten the key 20 times (a loaded
    // machine can make each durable PUT slow); bounded in time.
    let started = std::time::Instant::now();
    let mut i = 0;
    while (i < 150 || written.load(std::sync::atomic::Ordering::SeqCst) < 20)
        && started.elapsed() < std::time::Duration::from_secs(60)
    {
        i += 1;
        let got = s3
            .get_object()
            .bucket("race")
            .key("k")
            .send()
            .await
            .unwrap();
        let body = read_all(got).await;
        assert!(
            body == versions[0] || body == versions[1],
            "GET {i} returned a mixed or cut body"
        );
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let overwrites = writer.await.unwrap();
    assert!(
        overwrites > 10,
        "the writer barely ran ({overwrites} overwrites)"
    );
    // Every deferred deletion ran once its reader finished: nothing left behind.
    drop(s3);
    let dir = srv.stop();
    let store = coffer::storage::Store::open(&dir.path().join("db"), &Default::default()).unwrap();
    assert_eq!(store.all_chunk_streams().unwrap().len(), 1);
}
