//! Multipart uploads through aws-sdk-s3: encrypted parts, completion, aborts, listings,
//! UploadPartCopy, reads of multipart objects, restarts and a kill -9 in the middle.

use std::collections::BTreeSet;
use std::path::Path;

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    ChecksumAlgorithm, ChecksumMode, ChecksumType, CompletedMultipartUpload, CompletedPart,
    ServerSideEncryption,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use md5::{Digest, Md5};

use crate::common::multipart::*;
use crate::common::*;

const MIB: usize = 1 << 20;

async fn bucket(s3: &Client, name: &str) {
    s3.create_bucket().bucket(name).send().await.unwrap();
}

/// Uploads a part to an upload that should be gone; returns the error code.
async fn late_part(s3: &Client, b: &str, k: &str, id: &str, n: i32) -> String {
    let err = s3
        .upload_part()
        .bucket(b)
        .key(k)
        .upload_id(id)
        .part_number(n)
        .body(ByteStream::from_static(b"late"))
        .send()
        .await
        .unwrap_err();
    code(&err)
}

async fn get(s3: &Client, b: &str, k: &str) -> Vec<u8> {
    read_all(s3.get_object().bucket(b).key(k).send().await.unwrap()).await
}

async fn get_range(s3: &Client, b: &str, k: &str, range: &str) -> Vec<u8> {
    read_all(
        s3.get_object()
            .bucket(b)
            .key(k)
            .range(range)
            .send()
            .await
            .unwrap(),
    )
    .await
}

/// `"<md5 of the concatenated part MD5s>-N"`.
fn expected_etag(parts: &[&[u8]]) -> String {
    let mut cat = Vec::new();
    for p in parts {
        cat.extend_from_slice(&Md5::digest(p));
    }
    format!("\"{}-{}\"", hex::encode(Md5::digest(&cat)), parts.len())
}

fn quoted_md5(data: &[u8]) -> String {
    format!("\"{}\"", hex::encode(Md5::digest(data)))
}

/// Opens the stopped server's store and checks that every stored stream belongs to an object
/// and nothing is left listed as orphaned; returns the number of streams.
fn assert_no_leaked_streams(data_dir: &Path, buckets: &[&str]) -> usize {
    let store = coffer::storage::Store::open(
        &data_dir.join("db"),
        &coffer::storage::StoreOptions::default(),
    )
    .unwrap();
    let mut referenced = BTreeSet::new();
    for b in buckets {
        for item in store.list_objects_from(b, b"").unwrap() {
            let (_, rec) = item.unwrap();
            referenced.extend(rec.stream_ids());
        }
    }
    let stored: BTreeSet<_> = store.all_chunk_streams().unwrap().into_iter().collect();
    let leaked: Vec<_> = stored.difference(&referenced).collect();
    assert!(
        leaked.is_empty(),
        "streams not referenced by any object: {leaked:?}"
    );
    assert!(store.orphan_streams().unwrap().is_empty());
    stored.len()
}

#[tokio::test]
async fn three_parts_out_of_order_with_a_reupload() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    bucket(&s3, "mp-three").await;
    let p1 = pattern(5 * MIB + 17, 1);
    let p2_old = pattern(6 * MIB, 2);
    let p2 = pattern(7 * MIB + 123, 3);
    let p3 = pattern(MIB + 5, 4);
    let id = create(&s3, "mp-three", "big/obj").await;
    let e3 = put_part(&s3, "mp-three", "big/obj", &id, 3, &p3).await;
    let e2_old = put_part(&s3, "mp-three", "big/obj", &id, 2, &p2_old).await;
    let e1 = put_part(&s3, "mp-three", "big/obj", &id, 1, &p1).await;
    let e2 = put_part(&s3, "mp-three", "big/obj", &id, 2, &p2).await;
    assert_eq!(e1, quoted_md5(&p1));
    assert_eq!(e2, quoted_md5(&p2));
    assert_ne!(e2, e2_old);

    // The replaced part's ETag no longer completes the upload.
    let err = s3
        .complete_multipart_upload()
        .bucket("mp-three")
        .key("big/obj")
        .upload_id(&id)
        .multipart_upload(completed(&[
            (1, e1.clone()),
            (2, e2_old.clone()),
            (3, e3.clone()),
        ]))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidPart");

    let etag = complete(
        &s3,
        "mp-three",
        "big/obj",
        &id,
        &[(1, e1), (2, e2), (3, e3)],
    )
    .await;
    assert_eq!(etag, expected_etag(&[&p1, &p2, &p3]));

    let whole: Vec<u8> = [p1.clone(), p2.clone(), p3.clone()].concat();
    assert_eq!(get(&s3, "mp-three", "big/obj").await, whole);

    let head = s3
        .head_object()
        .bucket("mp-three")
        .key("big/obj")
        .send()
        .await
        .unwrap();
    assert_eq!(head.e_tag(), Some(etag.as_str()));
    assert_eq!(head.parts_count(), Some(3));
    assert_eq!(head.content_length(), Some(whole.len() as i64));
    assert_eq!(
        head.server_side_encryption(),
        Some(&ServerSideEncryption::Aes256)
    );

    // One part at a time.
    for (n, p) in [(1, &p1), (2, &p2), (3, &p3)] {
        let out = s3
            .get_object()
            .bucket("mp-three")
            .key("big/obj")
            .part_number(n)
            .send()
            .await
            .unwrap();
        assert_eq!(out.parts_count(), Some(3));
        assert_eq!(read_all(out).await, **p, "part {n}");
    }

    // Ranges across part boundaries (and chunk boundaries inside parts).
    let b1 = p1.len();
    let b2 = p1.len() + p2.len();
    for (s, e) in [
        (b1 - 10, b1 + 10),
        (b1 - 65536 - 3, b2 + 65536 + 7),
        (0, whole.len() - 1),
        (b2 - 1, b2),
        (whole.len() - 100, whole.len() - 1),
    ] {
        let got = get_range(&s3, "mp-three", "big/obj", &format!("bytes={s}-{e}")).await;
        assert_eq!(got, &whole[s..=e], "range {s}-{e}");
    }
    let got = get_range(&s3, "mp-three", "big/obj", "bytes=-70000").await;
    assert_eq!(got, &whole[whole.len() - 70000..]);

    // The upload is gone; the replaced part's chunks were reclaimed.
    let err = s3
        .list_parts()
        .bucket("mp-three")
        .key("big/obj")
        .upload_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchUpload");
    let dir = srv.stop();
    assert_eq!(assert_no_leaked_streams(dir.path(), &["mp-three"]), 3);
}

#[tokio::test]
async fn twenty_parts_of_different_sizes() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    bucket(&s3, "mp20").await;
    let id = create(&s3, "mp20", "k").await;
    let parts: Vec<Vec<u8>> = (0..20)
        .map(|i| {
            let len = if i == 19 { 12345 } else { 5 * MIB + i * 4099 };
            pattern(len, 100 + i as u64)
        })
        .collect();
    let mut etags = Vec::new();
    // Upload in an interleaved order: odd numbers first, then even.
    let order: Vec<usize> = (0..20)
        .filter(|i| i % 2 == 1)
        .chain((0..20).filter(|i| i % 2 == 0))
        .collect();
    for i in order {
        let e = put_part(&s3, "mp20", "k", &id, i as i32 + 1, &parts[i]).await;
        etags.push((i as i32 + 1, e));
    }
    etags.sort();
    let etag = complete(&s3, "mp20", "k", &id, &etags).await;
    let refs: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
    assert_eq!(etag, expected_etag(&refs));
    let whole = parts.concat();
    assert_eq!(get(&s3, "mp20", "k").await, whole);
    let out = s3
        .get_object()
        .bucket("mp20")
        .key("k")
        .part_number(20)
        .send()
        .await
        .unwrap();
    assert_eq!(read_all(out).await, parts[19]);
    let start: usize = parts[..7].iter().map(Vec::len).sum::<usize>() - 1000;
    let end = start + 3 * 5 * MIB;
    let got = get_range(&s3, "mp20", "k", &format!("bytes={start}-{end}")).await;
    assert_eq!(got, &whole[start..=end]);
}

#[tokio::test]
async fn abort_reclaims_every_part() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    bucket(&s3, "mp-abort").await;
    let id = create(&s3, "mp-abort", "k").await;
    put_part(&s3, "mp-abort", "k", &id, 1, &pattern(MIB, 1)).await;
    put_part(&s3, "mp-abort", "k", &id, 2, &pattern(MIB, 2)).await;
    put_part(&s3, "mp-abort", "k", &id, 2, &pattern(MIB, 3)).await;
    s3.abort_multipart_upload()
        .bucket("mp-abort")
        .key("k")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(
        late_part(&s3, "mp-abort", "k", &id, 3).await,
        "NoSuchUpload"
    );
    let err = s3
        .abort_multipart_upload()
        .bucket("mp-abort")
        .key("k")
        .upload_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchUpload");
    let err = s3
        .get_object()
        .bucket("mp-abort")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchKey");
    let dir = srv.stop();
    assert_eq!(assert_no_leaked_streams(dir.path(), &["mp-abort"]), 0);
}

#[tokio::test]
async fn list_parts_pages_and_list_uploads() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    bucket(&s3, "mp-list").await;
    let id = create(&s3, "mp-list", "dir/a").await;
    for n in 1..=5 {
        put_part(
            &s3,
            "mp-list",
            "dir/a",
            &id,
            n,
            &pattern(1000 + n as usize, n as u64),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut marker: Option<String> = None;
    let mut pages = 0;
    loop {
        let out = s3
            .list_parts()
            .bucket("mp-list")
            .key("dir/a")
            .upload_id(&id)
            .max_parts(2)
            .set_part_number_marker(marker.clone())
            .send()
            .await
            .unwrap();
        pages += 1;
        for p in out.parts() {
            seen.push((p.part_number().unwrap(), p.size().unwrap()));
        }
        if !out.is_truncated().unwrap_or(false) {
            break;
        }
        marker = out.next_part_number_marker().map(str::to_string);
    }
    assert_eq!(pages, 3);
    assert_eq!(
        seen,
        (1..=5).map(|n| (n, 1000 + n as i64)).collect::<Vec<_>>()
    );

    let id_b = create(&s3, "mp-list", "dir/b").await;
    let id_c = create(&s3, "mp-list", "top").await;
    let out = s3
        .list_multipart_uploads()
        .bucket("mp-list")
        .send()
        .await
        .unwrap();
    let listed: Vec<(&str, &str)> = out
        .uploads()
        .iter()
        .map(|u| (u.key().unwrap(), u.upload_id().unwrap()))
        .collect();
    assert_eq!(
        listed,
        vec![
            ("dir/a", id.as_str()),
            ("dir/b", id_b.as_str()),
            ("top", id_c.as_str())
        ]
    );
    let out = s3
        .list_multipart_uploads()
        .bucket("mp-list")
        .delimiter("/")
        .send()
        .await
        .unwrap();
    assert_eq!(out.uploads().len(), 1);
    assert_eq!(out.common_prefixes()[0].prefix(), Some("dir/"));
    let out = s3
        .list_multipart_uploads()
        .bucket("mp-list")
        .prefix("dir/")
        .max_uploads(1)
        .send()
        .await
        .unwrap();
    assert_eq!(out.is_truncated(), Some(true));
    assert_eq!(out.uploads()[0].key(), Some("dir/a"));
    let out = s3
        .list_multipart_uploads()
        .bucket("mp-list")
        .prefix("dir/")
        .key_marker(out.next_key_marker().unwrap())
        .upload_id_marker(out.next_upload_id_marker().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(out.uploads().len(), 1);
    assert_eq!(out.uploads()[0].key(), Some("dir/b"));
}

#[tokio::test]
async fn completion_is_validated() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    bucket(&s3, "mp-valid").await;
    let id = create(&s3, "mp-valid", "k").await;
    let e1 = put_part(&s3, "mp-valid", "k", &id, 1, &pattern(MIB, 1)).await;
    let e2 = put_part(&s3, "mp-valid", "k", &id, 2, &pattern(MIB, 2)).await;
    let try_complete = |parts: Vec<(i32, String)>| {
        let s3 = s3.clone();
        let id = id.clone();
        async move {
            s3.complete_multipart_upload()
                .bucket("mp-valid")
                .key("k")
                .upload_id(id)
                .multipart_upload(completed(&parts))
                .send()
                .await
                .unwrap_err()
        }
    };
    let err = try_complete(vec![(2, e2.clone()), (1, e1.clone())]).await;
    assert_eq!(code(&err), "InvalidPartOrder");
    let err = try_complete(vec![(1, e1.clone()), (3, e2.clone())]).await;
    assert_eq!(code(&err), "InvalidPart");
    let err = try_complete(vec![(1, "\"00000000000000000000000000000000\"".into())]).await;
    assert_eq!(code(&err), "InvalidPart");
    let err = try_complete(vec![(1, e1.clone()), (2, e2.clone())]).await;
    assert_eq!(code(&err), "EntityTooSmall");
    // A small last part alone is fine, and the upload is still there after the failures.
    complete(&s3, "mp-valid", "k", &id, &[(2, e2)]).await;

    let err = s3
        .upload_part()
        .bucket("mp-valid")
        .key("k")
        .upload_id("0123456789abcdef0123456789abcdef")
        .part_number(1)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchUpload");
    let err = s3
        .upload_part()
        .bucket("mp-valid")
        .key("k")
        .upload_id("not-an-id")
        .part_number(10001)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidArgument");
    let err = s3
        .create_multipart_upload()
        .bucket("nobucket")
        .key("k")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchBucket");
}

#[tokio::test]
async fn sse_kms_multipart_and_part_copy_from_encrypted_sources() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    bucket(&s3, "mp-kms").await;
    // Sources: one SSE-S3, one SSE-KMS (the AWS-managed key).
    let src_s3 = pattern(3 * MIB + 77, 10);
    let src_kms = pattern(6 * MIB + 5, 11);
    s3.put_object()
        .bucket("mp-kms")
        .key("src-s3")
        .body(ByteStream::from(src_s3.clone()))
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("mp-kms")
        .key("src-kms")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .body(ByteStream::from(src_kms.clone()))
        .send()
        .await
        .unwrap();

    let created = s3
        .create_multipart_upload()
        .bucket("mp-kms")
        .key("dst")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .send()
        .await
        .unwrap();
    assert_eq!(
        created.server_side_encryption(),
        Some(&ServerSideEncryption::AwsKms)
    );
    let key_arn = created.ssekms_key_id().unwrap().to_string();
    assert!(key_arn.starts_with("arn:aws:kms:"), "{key_arn}");
    let id = created.upload_id().unwrap().to_string();

    // Part 1: the whole SSE-KMS source; part 2: a range of the SSE-S3 source crossing chunks;
    // part 3: uploaded directly.
    let c1 = s3
        .upload_part_copy()
        .bucket("mp-kms")
        .key("dst")
        .upload_id(&id)
        .part_number(1)
        .copy_source("mp-kms/src-kms")
        .send()
        .await
        .unwrap();
    let e1 = c1.copy_part_result().unwrap().e_tag().unwrap().to_string();
    assert_eq!(e1, quoted_md5(&src_kms));
    let (rs, re) = (65530usize, 65530 + 5 * MIB + 9);
    let err = s3
        .upload_part_copy()
        .bucket("mp-kms")
        .key("dst")
        .upload_id(&id)
        .part_number(2)
        .copy_source("mp-kms/src-s3")
        .copy_source_range(format!("bytes={rs}-{re}"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidArgument", "range past the source's end");
    let (rs, re) = (65530usize, 65530 + 2 * MIB + 9);
    let c2 = s3
        .upload_part_copy()
        .bucket("mp-kms")
        .key("dst")
        .upload_id(&id)
        .part_number(3)
        .copy_source("mp-kms/src-s3")
        .copy_source_range(format!("bytes={rs}-{re}"))
        .send()
        .await
        .unwrap();
    let e3 = c2.copy_part_result().unwrap().e_tag().unwrap().to_string();
    let p2 = pattern(5 * MIB, 12);
    let up = s3
        .upload_part()
        .bucket("mp-kms")
        .key("dst")
        .upload_id(&id)
        .part_number(2)
        .body(ByteStream::from(p2.clone()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        up.server_side_encryption(),
        Some(&ServerSideEncryption::AwsKms)
    );
    let e2 = up.e_tag().unwrap().to_string();
    let done = s3
        .complete_multipart_upload()
        .bucket("mp-kms")
        .key("dst")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, e1), (2, e2), (3, e3)]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        done.server_side_encryption(),
        Some(&ServerSideEncryption::AwsKms)
    );
    assert_eq!(done.ssekms_key_id(), Some(key_arn.as_str()));

    let whole = [src_kms.clone(), p2.clone(), src_s3[rs..=re].to_vec()].concat();
    let out = s3
        .get_object()
        .bucket("mp-kms")
        .key("dst")
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.server_side_encryption(),
        Some(&ServerSideEncryption::AwsKms)
    );
    assert_eq!(out.ssekms_key_id(), Some(key_arn.as_str()));
    assert_eq!(read_all(out).await, whole);
    let s = src_kms.len() - 3;
    let got = get_range(
        &s3,
        "mp-kms",
        "dst",
        &format!("bytes={s}-{}", s + 5 * MIB + 10),
    )
    .await;
    assert_eq!(got, &whole[s..=s + 5 * MIB + 10]);
}

#[tokio::test]
async fn composite_and_full_object_checksums() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    bucket(&s3, "mp-checksums").await;
    let p1 = pattern(5 * MIB, 21);
    let p2 = pattern(300_000, 22);

    // COMPOSITE SHA256: the checksum of the part checksums, "-N".
    let id = s3
        .create_multipart_upload()
        .bucket("mp-checksums")
        .key("composite")
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    let sha = |d: &[u8]| sha2::Sha256::digest(d).to_vec();
    let mut parts = Vec::new();
    for (n, p) in [(1, &p1), (2, &p2)] {
        let out = s3
            .upload_part()
            .bucket("mp-checksums")
            .key("composite")
            .upload_id(&id)
            .part_number(n)
            .checksum_sha256(B64.encode(sha(p)))
            .body(ByteStream::from(p.clone()))
            .send()
            .await
            .unwrap();
        assert_eq!(out.checksum_sha256(), Some(B64.encode(sha(p)).as_str()));
        parts.push(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(out.e_tag().unwrap())
                .checksum_sha256(B64.encode(sha(p)))
                .build(),
        );
    }
    let done = s3
        .complete_multipart_upload()
        .bucket("mp-checksums")
        .key("composite")
        .upload_id(&id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .unwrap();
    let want = format!("{}-2", B64.encode(sha(&[sha(&p1), sha(&p2)].concat())));
    assert_eq!(done.checksum_sha256(), Some(want.as_str()));
    let head = s3
        .head_object()
        .bucket("mp-checksums")
        .key("composite")
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(head.checksum_sha256(), Some(want.as_str()));
    assert_eq!(head.checksum_type(), Some(&ChecksumType::Composite));
    let listed = s3
        .list_objects_v2()
        .bucket("mp-checksums")
        .send()
        .await
        .unwrap();
    assert_eq!(
        listed.contents()[0].checksum_type(),
        Some(&ChecksumType::Composite)
    );

    // FULL_OBJECT CRC64NVME: the CRC of the whole object, combined from the parts.
    let id = s3
        .create_multipart_upload()
        .bucket("mp-checksums")
        .key("full")
        .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
        .checksum_type(ChecksumType::FullObject)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    // Parts of a CRC64NVME upload carry CRC64NVME (the SDK would otherwise add CRC32, which
    // the upload refuses, as AWS does).
    let mut etags = Vec::new();
    for (n, p) in [(1, &p1), (2, &p2)] {
        let out = s3
            .upload_part()
            .bucket("mp-checksums")
            .key("full")
            .upload_id(&id)
            .part_number(n)
            .checksum_algorithm(ChecksumAlgorithm::Crc64Nvme)
            .body(ByteStream::from(p.clone()))
            .send()
            .await
            .unwrap();
        etags.push(out.e_tag().unwrap().to_string());
    }
    let (e1, e2) = (etags[0].clone(), etags[1].clone());
    // A part with another algorithm is refused with an error the client can read.
    let err = s3
        .upload_part()
        .bucket("mp-checksums")
        .key("full")
        .upload_id(&id)
        .part_number(3)
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .body(ByteStream::from(p2.clone()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InvalidRequest");
    let whole = [p1.clone(), p2.clone()].concat();
    let crc =
        B64.encode(crc_fast::checksum(crc_fast::CrcAlgorithm::Crc64Nvme, &whole).to_be_bytes());
    let done = s3
        .complete_multipart_upload()
        .bucket("mp-checksums")
        .key("full")
        .upload_id(&id)
        .multipart_upload(completed(&[(1, e1), (2, e2)]))
        .send()
        .await
        .unwrap();
    assert_eq!(done.checksum_crc64_nvme(), Some(crc.as_str()));
    assert_eq!(done.checksum_type(), Some(&ChecksumType::FullObject));
    assert_eq!(get(&s3, "mp-checksums", "full").await, whole);
}

#[tokio::test]
async fn uploads_survive_a_restart() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    bucket(&s3, "mp-restart").await;
    let id = create(&s3, "mp-restart", "k").await;
    let p1 = pattern(5 * MIB + 1, 31);
    let p2 = pattern(2 * MIB, 32);
    let e1 = put_part(&s3, "mp-restart", "k", &id, 1, &p1).await;
    let srv = srv.restart().await;
    let s3 = srv.s3();
    let parts = s3
        .list_parts()
        .bucket("mp-restart")
        .key("k")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(parts.parts().len(), 1);
    assert_eq!(parts.parts()[0].e_tag(), Some(e1.as_str()));
    let e2 = put_part(&s3, "mp-restart", "k", &id, 2, &p2).await;
    complete(&s3, "mp-restart", "k", &id, &[(1, e1), (2, e2)]).await;
    assert_eq!(get(&s3, "mp-restart", "k").await, [p1, p2].concat());
}

/// kill -9 while a part streams in; after the restart the upload completes and the partial
/// part's chunks are gone.
#[tokio::test]
async fn kill_during_upload_then_complete_after_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap().to_string();
    let envs = [
        ("COFFER_ACCESS_KEY", ACCESS_KEY),
        ("COFFER_SECRET_KEY", SECRET_KEY),
    ];
    let args = ["--data-dir", data_s.as_str(), "--listen", "127.0.0.1:0"];
    let mut srv = BinaryServer::start(&args, &envs).unwrap();
    let s3 = s3_client(&srv.endpoint, ACCESS_KEY, SECRET_KEY);
    bucket(&s3, "crash").await;
    let id = create(&s3, "crash", "k").await;
    let p1 = pattern(5 * MIB + 3, 41);
    let p2 = pattern(3 * MIB, 42);
    let e1 = put_part(&s3, "crash", "k", &id, 1, &p1).await;

    // Part 2 streams slowly: half of it, then the server dies mid-body.
    let (tx, rx) = tokio::sync::mpsc::channel::<bytes::Bytes>(4);
    let body = ByteStream::from_body_1_x(ChannelBody(rx));
    let upload = {
        let s3 = s3.clone();
        let id = id.clone();
        tokio::spawn(async move {
            s3.upload_part()
                .bucket("crash")
                .key("k")
                .upload_id(id)
                .part_number(2)
                .content_length(8 * MIB as i64)
                .body(body)
                .send()
                .await
        })
    };
    for i in 0..4 {
        tx.send(bytes::Bytes::from(pattern(MIB, 50 + i)))
            .await
            .unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    srv.kill();
    drop(tx);
    assert!(upload.await.unwrap().is_err());

    let srv = BinaryServer::start(&args, &envs).unwrap();
    let s3 = s3_client(&srv.endpoint, ACCESS_KEY, SECRET_KEY);
    let parts = s3
        .list_parts()
        .bucket("crash")
        .key("k")
        .upload_id(&id)
        .send()
        .await
        .unwrap();
    assert_eq!(parts.parts().len(), 1);
    let e2 = put_part(&s3, "crash", "k", &id, 2, &p2).await;
    complete(&s3, "crash", "k", &id, &[(1, e1), (2, e2)]).await;
    assert_eq!(get(&s3, "crash", "k").await, [p1, p2].concat());
    drop(srv);
    assert_eq!(assert_no_leaked_streams(&data, &["crash"]), 2);
}

/// A streaming request body fed from a channel, so a test can stop mid-body.
struct ChannelBody(tokio::sync::mpsc::Receiver<bytes::Bytes>);

impl http_body::Body for ChannelBody {
    type Data = bytes::Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, std::io::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|o| o.map(|b| Ok(http_body::Frame::data(b))))
    }
}

/// Regression: `aws s3 sync` of a tree with a 0-byte file failed with `KeyError: 'ETag'` on a
/// later UploadPart. The empty PUT carried `Expect: 100-continue`, hyper answered it without a
/// `100 Continue`, and botocore kept that early answer's state on the connection, misreading the
/// next response there. Such connections are now closed after the response.
#[tokio::test]
async fn empty_put_with_expect_continue_closes_the_connection() {
    use std::io::{Read, Write};
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    bucket(&s3, "mp-expect").await;
    let presigned = s3
        .put_object()
        .bucket("mp-expect")
        .key("empty")
        .presigned(
            aws_sdk_s3::presigning::PresigningConfig::expires_in(std::time::Duration::from_secs(
                300,
            ))
            .unwrap(),
        )
        .await
        .unwrap();
    let uri: http::Uri = presigned.uri().parse().unwrap();
    let path = uri.path_and_query().unwrap().as_str().to_string();
    let mut conn = std::net::TcpStream::connect(srv.addr).unwrap();
    write!(
        conn,
        "PUT {path} HTTP/1.1\r\nHost: {}\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n",
        srv.addr
    )
    .unwrap();
    let mut resp = String::new();
    conn.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    // The server closes the connection, so reading to the end terminates.
    conn.read_to_string(&mut resp).unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(
        resp.to_ascii_lowercase().contains("connection: close"),
        "{resp}"
    );
    assert_eq!(get(&s3, "mp-expect", "empty").await, Vec::<u8>::new());
}

/// Every stream with chunks and every stream listed in `orphans`, read from the stopped
/// server's store without the start-up sweep (so chunks left for the sweep to find count).
fn stored_streams_unswept(
    data_dir: &Path,
) -> (
    BTreeSet<coffer::storage::StreamId>,
    BTreeSet<coffer::storage::StreamId>,
) {
    let store = coffer::storage::Store::open_unswept(
        &data_dir.join("db"),
        &coffer::storage::StoreOptions::default(),
    )
    .unwrap();
    (
        store.all_chunk_streams().unwrap().into_iter().collect(),
        store.orphan_streams().unwrap().into_iter().collect(),
    )
}

/// The streams of the parts recorded for `bucket`'s uploads in progress.
fn upload_part_streams(data_dir: &Path, bucket: &str) -> BTreeSet<coffer::storage::StreamId> {
    let store = coffer::storage::Store::open_unswept(
        &data_dir.join("db"),
        &coffer::storage::StoreOptions::default(),
    )
    .unwrap();
    let mut out = BTreeSet::new();
    for u in store.list_uploads_from(bucket, "").unwrap() {
        for p in store.list_parts(&u.unwrap().upload_id, 0).unwrap() {
            out.insert(p.unwrap().stream.stream_id);
        }
    }
    out
}

/// As AWS (general purpose buckets): uploads in progress do not keep DeleteBucket from
/// succeeding; they are discarded with the bucket, and their parts' chunks with them.
#[tokio::test]
async fn delete_bucket_discards_uploads_in_progress_and_their_parts() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    bucket(&s3, "mp-gone").await;
    bucket(&s3, "mp-kept").await;
    let a = create(&s3, "mp-gone", "a").await;
    put_part(&s3, "mp-gone", "a", &a, 1, &pattern(MIB, 61)).await;
    put_part(&s3, "mp-gone", "a", &a, 2, &pattern(70_000, 62)).await;
    // A re-uploaded part: the replaced one was reclaimed already, the new one must go too.
    put_part(&s3, "mp-gone", "a", &a, 2, &pattern(80_000, 63)).await;
    let b = create(&s3, "mp-gone", "dir/b").await;
    put_part(&s3, "mp-gone", "dir/b", &b, 7, &pattern(200_000, 64)).await;
    let _empty = create(&s3, "mp-gone", "no-parts").await;
    // Another bucket's upload is not touched.
    let k = create(&s3, "mp-kept", "k").await;
    let k1 = put_part(&s3, "mp-kept", "k", &k, 1, &pattern(100_000, 65)).await;

    s3.delete_bucket().bucket("mp-gone").send().await.unwrap();

    let err = s3
        .upload_part()
        .bucket("mp-gone")
        .key("a")
        .upload_id(&a)
        .part_number(3)
        .body(ByteStream::from_static(b"late"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchBucket");

    // A new bucket of the same name starts with nothing in progress.
    bucket(&s3, "mp-gone").await;
    let listed = s3
        .list_multipart_uploads()
        .bucket("mp-gone")
        .send()
        .await
        .unwrap();
    assert!(listed.uploads().is_empty(), "{:?}", listed.uploads());
    let err = s3
        .list_parts()
        .bucket("mp-gone")
        .key("a")
        .upload_id(&a)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "NoSuchUpload");
    assert_eq!(
        late_part(&s3, "mp-gone", "dir/b", &b, 1).await,
        "NoSuchUpload"
    );
    let kept = s3
        .list_parts()
        .bucket("mp-kept")
        .key("k")
        .upload_id(&k)
        .send()
        .await
        .unwrap();
    assert_eq!(kept.parts().len(), 1);
    assert_eq!(kept.parts()[0].e_tag(), Some(k1.as_str()));

    // Only the other bucket's part is left on disk, and nothing waits for a sweep.
    let dir = srv.stop();
    let (stored, orphans) = stored_streams_unswept(dir.path());
    assert!(orphans.is_empty(), "left in orphans: {orphans:?}");
    let kept = upload_part_streams(dir.path(), "mp-kept");
    assert_eq!(kept.len(), 1);
    assert_eq!(stored, kept);
    assert!(upload_part_streams(dir.path(), "mp-gone").is_empty());

    // Nothing comes back after a restart either, and the kept upload still completes.
    let srv = TestServer::start_in(dir, |_| {}).await;
    let s3 = srv.s3();
    let listed = s3
        .list_multipart_uploads()
        .bucket("mp-gone")
        .send()
        .await
        .unwrap();
    assert!(listed.uploads().is_empty());
    complete(&s3, "mp-kept", "k", &k, &[(1, k1)]).await;
    assert_eq!(get(&s3, "mp-kept", "k").await, pattern(100_000, 65));
}

/// A bucket with an object is not empty: DeleteBucket fails and leaves its uploads alone.
#[tokio::test]
async fn delete_bucket_with_an_object_keeps_its_uploads() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    bucket(&s3, "mp-busy").await;
    s3.put_object()
        .bucket("mp-busy")
        .key("obj")
        .body(ByteStream::from_static(b"here"))
        .send()
        .await
        .unwrap();
    let id = create(&s3, "mp-busy", "k").await;
    let p1 = pattern(50_000, 66);
    let e1 = put_part(&s3, "mp-busy", "k", &id, 1, &p1).await;
    let err = s3
        .delete_bucket()
        .bucket("mp-busy")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "BucketNotEmpty");
    complete(&s3, "mp-busy", "k", &id, &[(1, e1)]).await;
    assert_eq!(get(&s3, "mp-busy", "k").await, p1);
    let dir = srv.stop();
    assert_eq!(assert_no_leaked_streams(dir.path(), &["mp-busy"]), 2);
}

/// UploadPartCopy judges `x-amz-copy-source-if-*` on the source exactly as CopyObject does:
/// every failure is 412 PreconditionFailed and records no part.
#[tokio::test]
async fn upload_part_copy_source_conditionals() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    bucket(&s3, "mp-cond").await;
    let src = pattern(200_000, 71);
    let etag = s3
        .put_object()
        .bucket("mp-cond")
        .key("src")
        .body(ByteStream::from(src.clone()))
        .send()
        .await
        .unwrap()
        .e_tag()
        .unwrap()
        .to_string();
    let modified = s3
        .head_object()
        .bucket("mp-cond")
        .key("src")
        .send()
        .await
        .unwrap()
        .last_modified
        .unwrap();
    let secs = |d: i64| aws_smithy_types::DateTime::from_secs(modified.secs() + d);
    let id = create(&s3, "mp-cond", "dst").await;
    let copy = |n: i32| {
        s3.upload_part_copy()
            .bucket("mp-cond")
            .key("dst")
            .upload_id(&id)
            .part_number(n)
            .copy_source("mp-cond/src")
    };

    let fails = [
        copy(1).copy_source_if_match("\"0000\""),
        copy(1).copy_source_if_none_match(&etag),
        copy(1).copy_source_if_none_match("*"),
        copy(1).copy_source_if_modified_since(secs(3600)),
        copy(1).copy_source_if_unmodified_since(secs(-3600)),
        // If-None-Match decides alone when present.
        copy(1)
            .copy_source_if_none_match(&etag)
            .copy_source_if_modified_since(secs(-3600)),
        // A failing condition fails a ranged copy too.
        copy(1)
            .copy_source_range("bytes=0-99")
            .copy_source_if_match("\"0000\""),
    ];
    for (i, req) in fails.into_iter().enumerate() {
        let err = req.send().await.unwrap_err();
        assert_eq!(code(&err), "PreconditionFailed", "case {i}");
        assert_eq!(
            err.raw_response().map(|r| r.status().as_u16()),
            Some(412),
            "case {i}"
        );
        let parts = s3
            .list_parts()
            .bucket("mp-cond")
            .key("dst")
            .upload_id(&id)
            .send()
            .await
            .unwrap();
        assert!(parts.parts().is_empty(), "case {i} recorded a part anyway");
    }

    let passes = [
        copy(1).copy_source_if_match(&etag),
        copy(2).copy_source_if_none_match("\"0000\""),
        copy(3).copy_source_if_modified_since(secs(-3600)),
        copy(4).copy_source_if_unmodified_since(secs(3600)),
        // A matching If-Match wins over a failing If-Unmodified-Since.
        copy(5)
            .copy_source_if_match(&etag)
            .copy_source_if_unmodified_since(secs(-3600)),
        // If-None-Match that holds with If-Modified-Since that does not: If-None-Match
        // decides alone.
        copy(6)
            .copy_source_if_none_match("\"0000\"")
            .copy_source_if_modified_since(secs(3600)),
    ];
    let mut etags = Vec::new();
    for (i, req) in passes.into_iter().enumerate() {
        let out = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("case {i}: {e:?}"));
        let e = out.copy_part_result().unwrap().e_tag().unwrap().to_string();
        assert_eq!(e, quoted_md5(&src), "case {i}");
        etags.push((i as i32 + 1, e));
    }
    // The last part alone may be small: complete with part 6 only and read it back.
    let last = etags.pop().unwrap();
    complete(&s3, "mp-cond", "dst", &id, &[last]).await;
    assert_eq!(get(&s3, "mp-cond", "dst").await, src);
}

/// The checksum of `alg` an UploadPart response carries.
fn upload_part_checksum(
    out: &aws_sdk_s3::operation::upload_part::UploadPartOutput,
    alg: &ChecksumAlgorithm,
) -> Option<String> {
    match alg {
        ChecksumAlgorithm::Crc32 => out.checksum_crc32(),
        ChecksumAlgorithm::Crc32C => out.checksum_crc32_c(),
        ChecksumAlgorithm::Crc64Nvme => out.checksum_crc64_nvme(),
        ChecksumAlgorithm::Sha1 => out.checksum_sha1(),
        ChecksumAlgorithm::Sha256 => out.checksum_sha256(),
        _ => None,
    }
    .map(str::to_string)
}

/// Every `x-amz-checksum-*` value a GET or HEAD response carries, by algorithm.
macro_rules! response_checksums {
    ($out:expr) => {{
        let o = &$out;
        [
            ("CRC32", o.checksum_crc32()),
            ("CRC32C", o.checksum_crc32_c()),
            ("CRC64NVME", o.checksum_crc64_nvme()),
            ("SHA1", o.checksum_sha1()),
            ("SHA256", o.checksum_sha256()),
        ]
        .into_iter()
        .filter_map(|(a, v)| v.map(|v| (a.to_string(), v.to_string())))
        .collect::<Vec<(String, String)>>()
    }};
}

/// GET and HEAD with `partNumber` and `x-amz-checksum-mode: ENABLED` on a COMPOSITE multipart
/// object return that part's own checksum (the one UploadPart returned, no `-N`), as AWS does;
/// the whole object keeps its composite value. (The SDK also verifies a part's body against
/// it.)
#[tokio::test]
async fn part_reads_return_the_part_checksum_of_composite_objects() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    bucket(&s3, "mp-partsum").await;
    let p1 = pattern(5 * MIB + 11, 81);
    let p2 = pattern(123_457, 82);
    for alg in [
        ChecksumAlgorithm::Crc32,
        ChecksumAlgorithm::Crc32C,
        ChecksumAlgorithm::Sha1,
        ChecksumAlgorithm::Sha256,
    ] {
        let key = format!("obj-{}", alg.as_str());
        let id = s3
            .create_multipart_upload()
            .bucket("mp-partsum")
            .key(&key)
            .checksum_algorithm(alg.clone())
            .send()
            .await
            .unwrap()
            .upload_id()
            .unwrap()
            .to_string();
        let mut sums = Vec::new();
        let mut etags = Vec::new();
        for (n, p) in [(1, &p1), (2, &p2)] {
            let out = s3
                .upload_part()
                .bucket("mp-partsum")
                .key(&key)
                .upload_id(&id)
                .part_number(n)
                .checksum_algorithm(alg.clone())
                .body(ByteStream::from(p.clone()))
                .send()
                .await
                .unwrap();
            let sum = upload_part_checksum(&out, &alg).expect("UploadPart returns the checksum");
            sums.push(sum);
            etags.push((n, out.e_tag().unwrap().to_string()));
        }
        complete(&s3, "mp-partsum", &key, &id, &etags).await;
        let name = alg.as_str().to_string();

        for (n, p) in [(1, &p1), (2, &p2)] {
            let want = vec![(name.clone(), sums[n as usize - 1].clone())];
            let out = s3
                .get_object()
                .bucket("mp-partsum")
                .key(&key)
                .part_number(n)
                .checksum_mode(ChecksumMode::Enabled)
                .send()
                .await
                .unwrap();
            assert_eq!(response_checksums!(out), want, "{name} GET part {n}");
            assert_eq!(out.checksum_type(), Some(&ChecksumType::Composite));
            assert_eq!(out.parts_count(), Some(2));
            assert_eq!(read_all(out).await, **p, "{name} part {n}");
            let head = s3
                .head_object()
                .bucket("mp-partsum")
                .key(&key)
                .part_number(n)
                .checksum_mode(ChecksumMode::Enabled)
                .send()
                .await
                .unwrap();
            assert_eq!(response_checksums!(head), want, "{name} HEAD part {n}");
            assert_eq!(head.checksum_type(), Some(&ChecksumType::Composite));
            assert_eq!(head.content_length(), Some(p.len() as i64));
            // Without checksum mode, no checksum.
            let head = s3
                .head_object()
                .bucket("mp-partsum")
                .key(&key)
                .part_number(n)
                .send()
                .await
                .unwrap();
            assert!(response_checksums!(head).is_empty(), "{name} part {n}");
        }
        let whole = s3
            .head_object()
            .bucket("mp-partsum")
            .key(&key)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        let got = response_checksums!(whole);
        assert_eq!(got.len(), 1);
        assert!(got[0].1.ends_with("-2"), "{name}: {got:?}");
    }
}

/// A FULL_OBJECT checksum covers the whole object, not a part: a part read of a multipart
/// object carries none (as AWS); a one-part object's part is the whole object and does.
#[tokio::test]
async fn part_reads_of_full_object_checksums() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    bucket(&s3, "mp-fullsum").await;
    let p1 = pattern(5 * MIB + 3, 91);
    let p2 = pattern(4_321, 92);
    for (key, parts) in [("two", vec![&p1, &p2]), ("one", vec![&p2])] {
        let id = s3
            .create_multipart_upload()
            .bucket("mp-fullsum")
            .key(key)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .checksum_type(ChecksumType::FullObject)
            .send()
            .await
            .unwrap()
            .upload_id()
            .unwrap()
            .to_string();
        let mut etags = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let out = s3
                .upload_part()
                .bucket("mp-fullsum")
                .key(key)
                .upload_id(&id)
                .part_number(i as i32 + 1)
                .checksum_algorithm(ChecksumAlgorithm::Crc32)
                .body(ByteStream::from((*p).clone()))
                .send()
                .await
                .unwrap();
            etags.push((i as i32 + 1, out.e_tag().unwrap().to_string()));
        }
        complete(&s3, "mp-fullsum", key, &id, &etags).await;
    }
    for n in [1, 2] {
        let out = s3
            .head_object()
            .bucket("mp-fullsum")
            .key("two")
            .part_number(n)
            .checksum_mode(ChecksumMode::Enabled)
            .send()
            .await
            .unwrap();
        assert!(response_checksums!(out).is_empty(), "part {n}");
    }
    let crc = B64
        .encode(&crc_fast::checksum(crc_fast::CrcAlgorithm::Crc32IsoHdlc, &p2).to_be_bytes()[4..]);
    let out = s3
        .get_object()
        .bucket("mp-fullsum")
        .key("one")
        .part_number(1)
        .checksum_mode(ChecksumMode::Enabled)
        .send()
        .await
        .unwrap();
    assert_eq!(response_checksums!(out), vec![("CRC32".to_string(), crc)]);
    assert_eq!(out.checksum_type(), Some(&ChecksumType::FullObject));
    assert_eq!(read_all(out).await, p2);
}
