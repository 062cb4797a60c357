//! What is on disk: no plaintext and no plaintext key anywhere under the data directory,
//! tampering detected, golden files from the first version still decrypting, the root key
//! guarding start-up.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use coffer::kms::{EncryptionContext, KeyProvider, Kms, KmsOptions, RootKey};
use coffer::secret::Key32;
use coffer::service::Service;
use coffer::sse::chunk::{CHUNK_SIZE, SALT_LEN, StreamCipher, chunk_count, chunk_plain_len};
use coffer::storage::records::ObjectRecord;
use coffer::storage::{Store, StoreOptions};

use crate::common::*;

const MARKER: &[u8] = b"COFFER-PLAINTEXT-MARKER-7f3a9c";

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// Every form a secret could leak in.
fn needles(secret: &[u8]) -> Vec<Vec<u8>> {
    vec![
        secret.to_vec(),
        secret[..16].to_vec(),
        hex::encode(secret).into_bytes(),
        B64.encode(secret).into_bytes(),
    ]
}

fn object_context(bucket: &str, key: &str) -> EncryptionContext {
    EncryptionContext::from([(
        "aws:s3:arn".to_string(),
        format!("arn:aws:s3:::{bucket}/{key}"),
    )])
}

#[tokio::test]
async fn no_plaintext_or_data_key_on_disk() {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    // Dev credentials too: the generated secret must only be stored sealed.
    let srv = TestServer::start_in(dir.clone(), |cfg| cfg.credentials.clear()).await;
    drop(srv);
    let prepared_secret = {
        let cfg = {
            let mut c = test_config(dir.path());
            c.credentials.clear();
            c
        };
        let p = coffer::app::prepare(&cfg, None).unwrap();
        assert!(p.dev_credentials);
        let s = p.secret_access_key.expose().to_string();
        (p.access_key_id.clone(), s)
    };
    let srv = TestServer::start_in(dir.clone(), |_| {}).await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("atrest").send().await.unwrap();
    let mut body = pattern(300_000, 11);
    for at in [0, 65_530, 200_000, 299_000] {
        body[at..at + MARKER.len()].copy_from_slice(MARKER);
    }
    s3.put_object()
        .bucket("atrest")
        .key("s3")
        .body(body.clone().into())
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("atrest")
        .key("kms")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .body(body.clone().into())
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("atrest")
        .key("dsse")
        .server_side_encryption(ServerSideEncryption::AwsKmsDsse)
        .body(body.clone().into())
        .send()
        .await
        .unwrap();
    let small = [MARKER, b" tiny"].concat();
    s3.put_object()
        .bucket("atrest")
        .key("small")
        .body(small.into())
        .send()
        .await
        .unwrap();
    let mut blobs = Vec::new();
    for key in ["s3", "kms", "dsse", "small"] {
        let h = s3
            .head_object()
            .bucket("atrest")
            .key(key)
            .send()
            .await
            .unwrap();
        blobs.push((
            key,
            B64.decode(&h.metadata().unwrap()["coffer-encrypted-data-key"])
                .unwrap(),
        ));
        // DSSE: the outer layer's data key too.
        if let Some(outer) = h.metadata().unwrap().get("coffer-encrypted-outer-data-key") {
            blobs.push((key, B64.decode(outer).unwrap()));
        }
    }
    assert_eq!(blobs.len(), 5, "DSSE shows two wrapped data keys");
    drop(s3);
    let dir = srv.stop();

    // Unwrap each data key through the KMS, then look for it everywhere on disk.
    let store = Store::open(&dir.path().join("db"), &StoreOptions::default()).unwrap();
    let root = RootKey::load(Some(&dir.path().join("root.key")), None).unwrap();
    let kms = Kms::open(&store, root, KmsOptions::default()).unwrap();
    let mut secrets: Vec<Vec<u8>> = Vec::new();
    for (key, blob) in &blobs {
        let dk = kms
            .decrypt_data_key(blob, &object_context("atrest", key))
            .unwrap();
        secrets.push(dk.plaintext.expose().to_vec());
    }
    drop(kms);
    drop(store);
    let mut db_bytes = 0;
    for f in files_under(dir.path()) {
        if f.file_name().is_some_and(|n| n == "root.key") {
            continue; // the dev root key is by design a plaintext file (see the threat model)
        }
        let bytes = std::fs::read(&f).unwrap();
        db_bytes += bytes.len();
        assert!(
            !contains(&bytes, MARKER),
            "plaintext marker found in {}",
            f.display()
        );
        assert!(
            !contains(&bytes, &body[1000..1064]),
            "plaintext found in {}",
            f.display()
        );
        for s in &secrets {
            for n in needles(s) {
                assert!(!contains(&bytes, &n), "a data key found in {}", f.display());
            }
        }
        assert!(
            !contains(&bytes, prepared_secret.1.as_bytes()),
            "the dev secret key found in {}",
            f.display()
        );
    }
    // Positive control: the ciphertext is there to be searched.
    assert!(db_bytes > 900_000, "only {db_bytes} bytes on disk");
}

/// Opens the stopped store, lets `f` change it, closes it.
fn with_store(dir: &Path, f: impl FnOnce(&Store)) {
    let store = Store::open(&dir.join("db"), &StoreOptions::default()).unwrap();
    f(&store);
    drop(store);
}

#[tokio::test]
async fn tampered_chunks_give_errors_never_wrong_bytes() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("tamper").send().await.unwrap();
    let big = pattern(5 * CHUNK_SIZE + 7, 21);
    let other = pattern(5 * CHUNK_SIZE + 7, 22);
    s3.put_object()
        .bucket("tamper")
        .key("big")
        .body(big.clone().into())
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("tamper")
        .key("other")
        .body(other.clone().into())
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("tamper")
        .key("small")
        .body(ByteStream::from_static(b"tiny"))
        .send()
        .await
        .unwrap();
    s3.put_object()
        .bucket("tamper")
        .key("empty")
        .body(ByteStream::from_static(b""))
        .send()
        .await
        .unwrap();
    drop(s3);
    let dir = srv.stop();

    let rec = |store: &Store, key: &str| store.get_object("tamper", key).unwrap().unwrap();
    with_store(dir.path(), |store| {
        // Flip a byte in chunk 3 of "big".
        let r = rec(store, "big");
        let s = r.parts[0].stream_id;
        let mut c = store.get_chunk(&s, 3).unwrap().unwrap();
        c[100] ^= 1;
        store.put_chunk(&s, 3, &c).unwrap();
        // Swap chunks 0 and 1 of "other".
        let r = rec(store, "other");
        let s = r.parts[0].stream_id;
        let c0 = store.get_chunk(&s, 0).unwrap().unwrap();
        let c1 = store.get_chunk(&s, 1).unwrap().unwrap();
        store.put_chunk(&s, 0, &c1).unwrap();
        store.put_chunk(&s, 1, &c0).unwrap();
        // Flip the tag of the small and of the empty object.
        for key in ["small", "empty"] {
            let r = rec(store, key);
            let s = r.parts[0].stream_id;
            let mut c = store.get_chunk(&s, 0).unwrap().unwrap();
            let last = c.len() - 1;
            c[last] ^= 0x80;
            store.put_chunk(&s, 0, &c).unwrap();
        }
    });

    let srv = TestServer::start_in(dir, |_| {}).await;
    let s3 = srv.s3();
    // Small objects fail before any byte is sent: a clean 500.
    for key in ["small", "empty"] {
        let err = s3
            .get_object()
            .bucket("tamper")
            .key(key)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "InternalError", "{key}");
    }
    // Large ones: the range that touches the bad chunk fails; untouched chunks still read.
    let err = s3
        .get_object()
        .bucket("tamper")
        .key("big")
        .range(format!("bytes={}-{}", 3 * CHUNK_SIZE, 3 * CHUNK_SIZE + 10))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&err), "InternalError");
    let ok = s3
        .get_object()
        .bucket("tamper")
        .key("big")
        .range("bytes=0-99")
        .send()
        .await
        .unwrap();
    assert_eq!(read_all(ok).await, &big[..100]);
    // A full GET starts fine, then aborts the connection at the bad chunk: the client sees an
    // error, never a complete body with wrong bytes.
    let got = s3
        .get_object()
        .bucket("tamper")
        .key("big")
        .send()
        .await
        .unwrap();
    let res = got.body.collect().await;
    assert!(
        res.is_err(),
        "a body with a tampered chunk must not complete"
    );
    for key in ["other"] {
        match s3.get_object().bucket("tamper").key(key).send().await {
            Err(e) => assert_eq!(code(&e), "InternalError"),
            Ok(got) => assert!(got.body.collect().await.is_err()),
        }
    }
}

#[tokio::test]
async fn swapped_wrapped_key_and_context_fail() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("swap").send().await.unwrap();
    for k in ["a", "b"] {
        s3.put_object()
            .bucket("swap")
            .key(k)
            .body(pattern(1000, 1).into())
            .send()
            .await
            .unwrap();
    }
    drop(s3);
    let dir = srv.stop();
    with_store(dir.path(), |store| {
        let a = store.get_object("swap", "a").unwrap().unwrap();
        let mut b = store.get_object("swap", "b").unwrap().unwrap();
        // b now claims a's wrapped data key: its context (b's ARN) no longer matches.
        b.sse.wrapped_key = a.sse.wrapped_key.clone();
        store.commit_object("swap", "b", &b, &|_| Ok(())).unwrap();
        // a's stored context altered.
        let mut a2 = a.clone();
        a2.sse.context.insert("extra".into(), "pair".into());
        store.commit_object("swap", "a", &a2, &|_| Ok(())).unwrap();
    });
    let srv = TestServer::start_in(dir, |_| {}).await;
    let s3 = srv.s3();
    for k in ["a", "b"] {
        let err = s3
            .get_object()
            .bucket("swap")
            .key(k)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&err), "KMS.InvalidCiphertextException", "{k}");
    }
}

#[test]
fn wrong_or_missing_root_key_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    let envs = [
        ("COFFER_ACCESS_KEY", ACCESS_KEY),
        ("COFFER_SECRET_KEY", SECRET_KEY),
    ];
    let mut first =
        BinaryServer::start(&["--listen", "127.0.0.1:0", "--data-dir", data_s], &envs).unwrap();
    // Make sure the KMS has keys: SSE-S3 service key is created on first PUT.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let s3 = s3_client(&first.endpoint, ACCESS_KEY, SECRET_KEY);
        s3.create_bucket().bucket("rkb").send().await.unwrap();
        s3.put_object()
            .bucket("rkb")
            .key("k")
            .body(ByteStream::from_static(b"v"))
            .send()
            .await
            .unwrap();
    });
    assert_eq!(first.terminate(), Some(0), "SIGTERM exits cleanly");

    // A different root key: refused, with a message that names the problem.
    let wrong = dir.path().join("wrong.key");
    std::fs::write(&wrong, hex::encode([7u8; 32])).unwrap();
    let mut envs2 = envs.to_vec();
    envs2.push(("COFFER_ROOT_KEY_FILE", wrong.to_str().unwrap()));
    let err = BinaryServer::start(&["--listen", "127.0.0.1:0", "--data-dir", data_s], &envs2)
        .err()
        .expect("must refuse to start");
    assert!(err.contains("root key does not match"), "{err}");

    // Malformed and missing root key files.
    std::fs::write(&wrong, "not hex").unwrap();
    let err = BinaryServer::start(&["--listen", "127.0.0.1:0", "--data-dir", data_s], &envs2)
        .err()
        .unwrap();
    assert!(err.to_lowercase().contains("root key"), "{err}");
    let mut envs3 = envs.to_vec();
    let missing = dir.path().join("missing.key");
    envs3.push(("COFFER_ROOT_KEY_FILE", missing.to_str().unwrap()));
    let err = BinaryServer::start(&["--listen", "127.0.0.1:0", "--data-dir", data_s], &envs3)
        .err()
        .unwrap();
    assert!(err.to_lowercase().contains("root key"), "{err}");

    // The dev key file deleted: refused, never replaced by a new key over existing data.
    std::fs::remove_file(data.join("root.key")).unwrap();
    let err = BinaryServer::start(&["--listen", "127.0.0.1:0", "--data-dir", data_s], &envs)
        .err()
        .unwrap();
    assert!(err.contains("refusing to start"), "{err}");
    assert!(!data.join("root.key").exists());
}

// ---- golden files: an object written by the first version, read by every later one ----

const GOLDEN_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden");
const GOLDEN_KEY_ID: &str = "6f1c0e0a-8b7d-4c3e-9a2b-1d4f5e6a7b8c";
/// The golden object's plaintext size: two chunks, the second partial.
const GOLDEN_SIZE: usize = CHUNK_SIZE + 1000;

fn golden_plaintext() -> Vec<u8> {
    (0..GOLDEN_SIZE).map(|i| (i % 251) as u8).collect()
}

fn golden_chunks() -> Vec<Vec<u8>> {
    let data_key = Key32::from_bytes(std::array::from_fn(|i| 0x40 + i as u8));
    let salt: [u8; SALT_LEN] = std::array::from_fn(|i| 0x60 + i as u8);
    let cipher = StreamCipher::new(&data_key, &salt);
    let pt = golden_plaintext();
    let n = chunk_count(GOLDEN_SIZE as u64);
    (0..n)
        .map(|i| {
            let start = i as usize * CHUNK_SIZE;
            let mut b = pt[start..start + chunk_plain_len(GOLDEN_SIZE as u64, i)].to_vec();
            cipher.encrypt_chunk(i, i + 1 == n, &mut b);
            b
        })
        .collect()
}

fn golden_file(name: &str) -> String {
    std::fs::read_to_string(Path::new(GOLDEN_DIR).join(name))
        .unwrap()
        .trim()
        .to_string()
}

/// Writes the object golden files (the KMS ones come from the KMS unit tests). Run once:
/// `cargo test --test tests regenerate_object_golden -- --ignored`. Never rerun to "fix" a
/// failing golden test: a failure means the format changed.
#[test]
#[ignore]
fn regenerate_object_golden_files() {
    let blob_hex = golden_file("kms_blob_v1.hex");
    let salt_hex = hex::encode::<[u8; SALT_LEN]>(std::array::from_fn(|i| 0x60 + i as u8));
    let record = format!(
        concat!(
            r#"{{"size":{},"etag":"0123456789abcdef0123456789abcdef","last_modified_ms":1700000000000,"#,
            r#""content_type":"application/octet-stream","headers":{{}},"user_meta":[["golden","yes"]],"checksums":{{}},"#,
            r#""sse":{{"mode":"aws:kms","kms_key_arn":"arn:aws:kms:us-east-1:000000000000:key/{}","wrapped_key":"{}","#,
            r#""context":{{"aws:s3:arn":"arn:aws:s3:::golden-bucket/golden-object","purpose":"golden"}},"bucket_key":false}},"#,
            r#""cipher":{{"scheme":"AES-256-GCM/HKDF-SHA256/v1","chunk_size":65536}},"#,
            r#""parts":[{{"stream_id":"00112233445566778899aabbccddeeff","salt":"{}","size":{}}}]}}"#
        ),
        GOLDEN_SIZE,
        GOLDEN_KEY_ID,
        B64.encode(hex::decode(blob_hex).unwrap()),
        B64.encode(hex::decode(salt_hex).unwrap()),
        GOLDEN_SIZE
    );
    let dir = Path::new(GOLDEN_DIR);
    let mut bytes = vec![coffer::storage::records::RECORD_V1];
    bytes.extend_from_slice(record.as_bytes());
    std::fs::write(dir.join("object_record_v1.hex"), hex::encode(bytes) + "\n").unwrap();
    for (i, c) in golden_chunks().iter().enumerate() {
        std::fs::write(
            dir.join(format!("object_chunk{i}_v1.hex")),
            hex::encode(c) + "\n",
        )
        .unwrap();
    }
}

#[tokio::test]
async fn golden_object_decrypts() {
    let record_bytes = hex::decode(golden_file("object_record_v1.hex")).unwrap();
    let record = ObjectRecord::decode(&record_bytes).unwrap();
    assert_eq!(record.size, GOLDEN_SIZE as u64);
    assert_eq!(
        record.user_meta,
        vec![("golden".to_string(), "yes".to_string())]
    );
    let chunks: Vec<Vec<u8>> = (0..2)
        .map(|i| hex::decode(golden_file(&format!("object_chunk{i}_v1.hex"))).unwrap())
        .collect();
    // The chunk format still produces exactly these bytes.
    assert_eq!(chunks, golden_chunks());

    // A store holding the golden KMS key record, the object record and its chunks, read back
    // through the real service read path.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &StoreOptions::default()).unwrap();
    let root = RootKey::from_key(Key32::from_bytes(std::array::from_fn(|i| i as u8)));
    let kms = Arc::new(Kms::open(&store, root, KmsOptions::default()).unwrap());
    let mut key_record = vec![coffer::kms::store::KMS_RECORD_V1];
    key_record.extend_from_slice(golden_file("kms_key_record_v1.json").as_bytes());
    let id = uuid::Uuid::parse_str(GOLDEN_KEY_ID).unwrap();
    store
        .table(coffer::kms::store::KEYS_TABLE)
        .unwrap()
        .insert(id.as_bytes(), &key_record)
        .unwrap();
    store
        .create_bucket(
            "golden-bucket",
            &coffer::storage::records::BucketRecord {
                created_ms: 0,
                region: "us-east-1".into(),
                encryption: None,
                ..Default::default()
            },
        )
        .unwrap();
    let stream = record.parts[0].stream_id;
    for (i, c) in chunks.iter().enumerate() {
        store.put_chunk(&stream, i as u64, c).unwrap();
    }
    store
        .commit_object("golden-bucket", "golden-object", &record, &|_| Ok(()))
        .unwrap();
    let kms_dyn: Arc<dyn KeyProvider> = kms.clone();
    let service = Service::new(
        store.clone(),
        kms_dyn,
        Arc::new(coffer::clock::SystemClock),
        "us-east-1".into(),
    );
    let rec = service
        .head_object("golden-bucket", "golden-object")
        .unwrap();
    let mut reader = service.open_object(&rec, None, None).unwrap();
    let mut out = Vec::new();
    while let Some(b) = reader.next_chunk().unwrap() {
        out.extend_from_slice(&b);
    }
    assert_eq!(out, golden_plaintext());
    // A range across the chunk boundary.
    let mut reader = service
        .open_object(
            &rec,
            Some((CHUNK_SIZE as u64 - 3, CHUNK_SIZE as u64 + 2)),
            None,
        )
        .unwrap();
    let mut out = Vec::new();
    while let Some(b) = reader.next_chunk().unwrap() {
        out.extend_from_slice(&b);
    }
    assert_eq!(out, &golden_plaintext()[CHUNK_SIZE - 3..CHUNK_SIZE + 3]);
}
