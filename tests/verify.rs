//! `coffer verify --data-dir DIR`, the real binary on a stopped store: clean, with what a crash
//! leaves (orphans: reported, not failures), tampered (each object named, non-zero exit), a
//! leaked stream, and a wrong root key (refused).

use std::path::Path;
use std::process::Command;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use coffer::sse::chunk::CHUNK_SIZE;
use coffer::storage::{Store, StoreOptions, StreamId};

use crate::common::*;

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn verify(data: &Path, envs: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_coffer"));
    cmd.arg("verify")
        .arg("--data-dir")
        .arg(data)
        .env_remove("COFFER_ROOT_KEY")
        .env_remove("COFFER_ROOT_KEY_FILE");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run coffer verify");
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn with_store(dir: &Path, f: impl FnOnce(&Store)) {
    // Unswept, like a store right after a crash.
    let store = Store::open_unswept(&dir.join("db"), &StoreOptions::default()).unwrap();
    f(&store);
}

#[tokio::test]
async fn verify_clean_orphaned_tampered_and_wrong_root_key() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("ver1").send().await.unwrap();
    s3.create_bucket().bucket("ver2").send().await.unwrap();
    let big = pattern(3 * CHUNK_SIZE + 5, 1);
    for (bucket, key, body) in [
        ("ver1", "big", big.clone()),
        ("ver1", "empty", Vec::new()),
        ("ver1", "small", b"hello".to_vec()),
        ("ver2", "other", pattern(CHUNK_SIZE, 2)),
    ] {
        s3.put_object()
            .bucket(bucket)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .unwrap();
    }
    s3.put_object()
        .bucket("ver2")
        .key("kms")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .body(ByteStream::from(pattern(1000, 3)))
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("ver2")
        .key("dsse")
        .server_side_encryption(ServerSideEncryption::AwsKmsDsse)
        .body(ByteStream::from(pattern(2 * CHUNK_SIZE + 3, 4)))
        .send()
        .await
        .unwrap();
    drop(s3);
    let dir = srv.stop();
    let data = dir.path();

    // Clean.
    let r = verify(data, &[]);
    assert!(r.ok, "clean store must verify: {}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("OK: 6 objects"), "{}", r.stdout);

    // What a crash leaves: a stream listed in `orphans`. Reported, not a failure.
    with_store(data, |store| {
        let s = store.begin_stream(0).unwrap();
        store.put_chunk(&s, 0, b"left by a crash").unwrap();
    });
    let r = verify(data, &[]);
    assert!(r.ok, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("orphan stream"), "{}", r.stdout);

    // Wrong root key: refused before anything is read.
    let wrong = "11".repeat(32);
    let r = verify(data, &[("COFFER_ROOT_KEY", &wrong)]);
    assert!(!r.ok);
    assert!(r.stderr.contains("root key"), "{}", r.stderr);
    // No root key at all (the dev key file gone): refused, none created.
    let key_file = data.join("root.key");
    let saved = std::fs::read(&key_file).unwrap();
    std::fs::remove_file(&key_file).unwrap();
    let r = verify(data, &[]);
    assert!(!r.ok);
    assert!(r.stderr.contains("root key"), "{}", r.stderr);
    assert!(!key_file.exists(), "verify must never create a root key");
    std::fs::write(&key_file, saved).unwrap();

    // Tampered: a flipped byte in "big", a flipped tag on "empty", a dropped chunk of
    // "other". Each is named; the untouched objects are not.
    with_store(data, |store| {
        let rec = |b: &str, k: &str| store.get_object(b, k).unwrap().unwrap().parts[0].stream_id;
        let s = rec("ver1", "big");
        let mut c = store.get_chunk(&s, 2).unwrap().unwrap();
        c[7] ^= 1;
        store.put_chunk(&s, 2, &c).unwrap();
        let s = rec("ver1", "empty");
        let mut c = store.get_chunk(&s, 0).unwrap().unwrap();
        c[0] ^= 1;
        store.put_chunk(&s, 0, &c).unwrap();
        // Re-put "other"'s only chunk under index 1 and drop index 0: wrong count and position.
        let s = rec("ver2", "other");
        let c = store.get_chunk(&s, 0).unwrap().unwrap();
        store.put_chunk(&s, 1, &c).unwrap();
        // DSSE: a flipped byte in the outer layer's tag of a middle chunk.
        let s = rec("ver2", "dsse");
        let mut c = store.get_chunk(&s, 1).unwrap().unwrap();
        let last = c.len() - 1;
        c[last] ^= 1;
        store.put_chunk(&s, 1, &c).unwrap();
    });
    let r = verify(data, &[]);
    assert!(!r.ok, "tampered store must fail: {}", r.stdout);
    for name in ["ver1/big", "ver1/empty", "ver2/other", "ver2/dsse"] {
        assert!(
            r.stdout.contains(&format!("FAIL {name}:")),
            "{name} not reported: {}",
            r.stdout
        );
    }
    for name in ["ver1/small", "ver2/kms"] {
        assert!(
            !r.stdout.contains(name),
            "{name} wrongly reported: {}",
            r.stdout
        );
    }
    assert!(r.stdout.contains("FAILED: 6 objects"), "{}", r.stdout);

    // A leaked stream (chunks, no record, not in `orphans`) fails too.
    let leak_dir = tempfile::tempdir().unwrap();
    let srv = TestServer::start_in(std::sync::Arc::new(leak_dir), |_| {}).await;
    srv.s3()
        .create_bucket()
        .bucket("leak")
        .send()
        .await
        .unwrap();
    let dir = srv.stop();
    with_store(dir.path(), |store| {
        store
            .put_chunk(&StreamId::random().unwrap(), 0, b"leak")
            .unwrap();
    });
    let r = verify(dir.path(), &[]);
    assert!(!r.ok, "{}", r.stdout);
    assert!(r.stdout.contains("LEAK stream"), "{}", r.stdout);
}

/// Parts of an upload in progress are kept data, not a leak: `coffer verify` counts them and
/// still exits 0.
#[tokio::test]
async fn verify_counts_parts_of_uploads_in_progress() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("verup").send().await.unwrap();
    let upload_id = multipart::create(&s3, "verup", "big").await;
    for n in 1..=2 {
        let body = pattern(CHUNK_SIZE + 7, n as u64);
        multipart::put_part(&s3, "verup", "big", &upload_id, n, &body).await;
    }
    drop(s3);
    let dir = srv.stop();
    let data = dir.path();

    let r = verify(data, &[]);
    assert!(
        r.ok,
        "an upload in progress is not a leak: {}{}",
        r.stdout, r.stderr
    );
    assert!(
        r.stdout.contains("2 parts of uploads in progress"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("LEAK"), "{}", r.stdout);
}

/// A composite-checksum multipart object: `coffer verify` checks each part against the checksum
/// its record keeps, and names the object when one does not match.
#[tokio::test]
async fn verify_checks_part_checksums_of_multipart_objects() {
    use aws_sdk_s3::types::{ChecksumAlgorithm, CompletedMultipartUpload, CompletedPart};
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("verparts").send().await.unwrap();
    let id = s3
        .create_multipart_upload()
        .bucket("verparts")
        .key("mp")
        .checksum_algorithm(ChecksumAlgorithm::Crc32)
        .send()
        .await
        .unwrap()
        .upload_id()
        .unwrap()
        .to_string();
    let mut done = CompletedMultipartUpload::builder();
    for (n, body) in [
        (1, pattern(5 * 1024 * 1024 + 3, 31)),
        (2, pattern(70_001, 32)),
    ] {
        let out = s3
            .upload_part()
            .bucket("verparts")
            .key("mp")
            .upload_id(&id)
            .part_number(n)
            .checksum_algorithm(ChecksumAlgorithm::Crc32)
            .body(ByteStream::from(body))
            .send()
            .await
            .unwrap();
        done = done.parts(
            CompletedPart::builder()
                .part_number(n)
                .e_tag(out.e_tag().unwrap())
                .checksum_crc32(out.checksum_crc32().unwrap())
                .build(),
        );
    }
    s3.complete_multipart_upload()
        .bucket("verparts")
        .key("mp")
        .upload_id(&id)
        .multipart_upload(done.build())
        .send()
        .await
        .unwrap();
    drop(s3);
    let dir = srv.stop();
    let data = dir.path();

    let r = verify(data, &[]);
    assert!(r.ok, "{}{}", r.stdout, r.stderr);

    // Swap the two parts' stored checksums: each part now disagrees with its record.
    with_store(data, |store| {
        let mut rec = store.get_object("verparts", "mp").unwrap().unwrap();
        assert_eq!(rec.parts.len(), 2);
        assert!(rec.parts.iter().all(|p| p.checksums.contains_key("CRC32")));
        let first = rec.parts[0].checksums.clone();
        rec.parts[0].checksums = rec.parts[1].checksums.clone();
        rec.parts[1].checksums = first;
        store
            .commit_object("verparts", "mp", &rec, &|_| Ok(()))
            .unwrap();
    });
    let r = verify(data, &[]);
    assert!(!r.ok, "{}", r.stdout);
    assert!(
        r.stdout
            .contains("FAIL verparts/mp: part 1 CRC32 checksum mismatch"),
        "{}",
        r.stdout
    );
}
