//! Tests of the KMS as a whole: a real sled store in a temp dir, reopened where it matters.
//! Unit tests of the blob and root-key formats live next to them (`blob.rs`, `root.rs`).
// Test-only: compiled under #[cfg(test)], as the parent module declares it.
#![cfg(test)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};

use super::store::{self, KMS_RECORD_V1};
use super::*;
use crate::storage::{Store, StoreOptions};

const ROOT_A: [u8; 32] = [0xA1; 32];
const ROOT_B: [u8; 32] = [0xB2; 32];

fn root(bytes: [u8; 32]) -> RootKey {
    RootKey::from_key(Key32::from_bytes(bytes))
}

fn open_with(
    dir: &Path,
    root_bytes: [u8; 32],
    opts: KmsOptions,
) -> Result<(Store, Kms), KmsOpenError> {
    let store = Store::open(dir, &StoreOptions::default())?;
    let kms = Kms::open(&store, root(root_bytes), opts)?;
    Ok((store, kms))
}

fn open(dir: &Path) -> (Store, Kms) {
    open_with(dir, ROOT_A, KmsOptions::default()).unwrap()
}

fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn flush(store: &Store) {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(store.flush())
        .unwrap();
}

#[test]
fn kms_encrypt_decrypt_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (_s, kms) = open(dir.path());
    let meta = kms
        .create_key("test key", vec![], KeyOrigin::AwsKms)
        .unwrap();
    assert_eq!(meta.key_state, KeyState::Enabled);
    assert_eq!(meta.key_manager, KeyManager::Customer);
    assert_eq!(
        meta.arn,
        format!("arn:aws:kms:us-east-1:000000000000:key/{}", meta.key_id)
    );
    let c = ctx(&[("purpose", "test")]);
    let enc = kms.encrypt(&meta.key_id, b"hello kms", &c).unwrap();
    assert_eq!(enc.key_arn, meta.arn);
    let dec = kms.decrypt(&enc.ciphertext_blob, &c, None).unwrap();
    assert_eq!(dec.plaintext.expose(), b"hello kms");
    assert_eq!(dec.key_arn, meta.arn);

    let dk = kms
        .generate_data_key_with(&meta.arn, &c, DataKeyLength::Bytes(64))
        .unwrap();
    assert_eq!(dk.plaintext.len(), 64);
    let back = kms.decrypt(&dk.ciphertext_blob, &c, None).unwrap();
    assert_eq!(back.plaintext.expose(), dk.plaintext.expose());
    let no_pt = kms
        .generate_data_key_without_plaintext(&meta.key_id, &c, DataKeyLength::Aes128)
        .unwrap();
    assert_eq!(
        kms.decrypt(&no_pt.ciphertext_blob, &c, None)
            .unwrap()
            .plaintext
            .len(),
        16
    );
    // Debug of the outputs never shows the plaintext.
    assert!(format!("{dk:?}").contains("redacted"));
}

#[test]
fn kms_limits() {
    let dir = tempfile::tempdir().unwrap();
    let (_s, kms) = open(dir.path());
    let id = kms
        .create_key("", vec![], KeyOrigin::AwsKms)
        .unwrap()
        .key_id;
    let c = EncryptionContext::new();
    assert!(kms.encrypt(&id, &[0; 4096], &c).is_ok());
    assert!(matches!(
        kms.encrypt(&id, &[0; 4097], &c),
        Err(KmsError::InvalidArgument(_))
    ));
    assert!(matches!(
        kms.encrypt(&id, &[], &c),
        Err(KmsError::InvalidArgument(_))
    ));
    for n in [1, MAX_DATA_KEY_LEN] {
        assert!(
            kms.generate_data_key_with(&id, &c, DataKeyLength::Bytes(n))
                .is_ok()
        );
    }
    for n in [0, MAX_DATA_KEY_LEN + 1] {
        assert!(matches!(
            kms.generate_data_key_with(&id, &c, DataKeyLength::Bytes(n)),
            Err(KmsError::InvalidArgument(_))
        ));
    }
}

#[test]
fn kms_context_is_aad() {
    let dir = tempfile::tempdir().unwrap();
    let (_s, kms) = open(dir.path());
    let c = ctx(&[("aws:s3:arn", "arn:aws:s3:::b/k"), ("x", "1")]);
    let dk = kms.generate_data_key(KeyRef::AwsManagedS3, &c).unwrap();
    assert!(kms.decrypt_data_key(&dk.ciphertext_blob, &c).is_ok());
    for other in [
        ctx(&[]),
        ctx(&[("aws:s3:arn", "arn:aws:s3:::b/k")]),
        ctx(&[("aws:s3:arn", "arn:aws:s3:::b/k"), ("x", "1"), ("y", "2")]),
        ctx(&[("aws:s3:arn", "arn:aws:s3:::b/k2"), ("x", "1")]),
    ] {
        assert!(matches!(
            kms.decrypt_data_key(&dk.ciphertext_blob, &other),
            Err(KmsError::InvalidCiphertext)
        ));
    }
    // The length prefixes keep these apart.
    let id = kms
        .create_key("", vec![], KeyOrigin::AwsKms)
        .unwrap()
        .key_id;
    let enc = kms.encrypt(&id, b"x", &ctx(&[("ab", "c")])).unwrap();
    assert!(matches!(
        kms.decrypt(&enc.ciphertext_blob, &ctx(&[("a", "bc")]), None),
        Err(KmsError::InvalidCiphertext)
    ));
}

#[test]
fn kms_key_provider_modes() {
    let dir = tempfile::tempdir().unwrap();
    let (_s, kms) = open(dir.path());
    let c = ctx(&[("aws:s3:arn", "arn:aws:s3:::b/k")]);

    let svc = kms.generate_data_key(KeyRef::ServiceSseS3, &c).unwrap();
    let back = kms.decrypt_data_key(&svc.ciphertext_blob, &c).unwrap();
    assert!(back.plaintext.ct_eq(&svc.plaintext));
    assert_eq!(back.key_arn, svc.key_arn);
    assert_eq!(
        kms.resolve_key_arn(KeyRef::ServiceSseS3).unwrap(),
        svc.key_arn
    );
    // The service key is not reachable through any public method.
    let svc_id = svc.key_arn.rsplit('/').next().unwrap().to_string();
    for r in [svc_id.as_str(), svc.key_arn.as_str()] {
        assert!(matches!(kms.describe_key(r), Err(KmsError::NotFound(_))));
        assert!(matches!(
            kms.encrypt(r, b"x", &c),
            Err(KmsError::NotFound(_))
        ));
        assert!(matches!(kms.disable_key(r), Err(KmsError::NotFound(_))));
    }
    assert!(matches!(
        kms.decrypt(&svc.ciphertext_blob, &c, None),
        Err(KmsError::NotFound(_))
    ));

    let aws = kms.generate_data_key(KeyRef::AwsManagedS3, &c).unwrap();
    let meta = kms.describe_key(AWS_S3_ALIAS).unwrap();
    assert_eq!(meta.arn, aws.key_arn);
    assert_eq!(meta.key_manager, KeyManager::Aws);
    assert_eq!(meta.description, AWS_S3_KEY_DESCRIPTION);
    assert!(matches!(
        kms.disable_key(AWS_S3_ALIAS),
        Err(KmsError::AccessDenied(_))
    ));
    // Visible in ListKeys/ListAliases; the service key is not.
    let keys = kms.list_keys().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].arn, aws.key_arn);
    let aliases = kms.list_aliases(None).unwrap();
    assert_eq!(aliases.len(), 1);
    assert_eq!(aliases[0].alias_name, AWS_S3_ALIAS);
    assert_eq!(
        aliases[0].alias_arn,
        "arn:aws:kms:us-east-1:000000000000:alias/aws/s3"
    );
    assert!(kms.decrypt(&aws.ciphertext_blob, &c, None).is_ok());
}

#[test]
fn kms_named_resolution_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (_s, kms) = open(dir.path());
    let meta = kms.create_key("named", vec![], KeyOrigin::AwsKms).unwrap();
    kms.create_alias("alias/my-key", &meta.key_id).unwrap();
    let alias_arn = "arn:aws:kms:us-east-1:000000000000:alias/my-key";
    for r in [
        meta.key_id.as_str(),
        meta.arn.as_str(),
        "alias/my-key",
        alias_arn,
    ] {
        assert_eq!(kms.resolve_key_arn(KeyRef::Named(r)).unwrap(), meta.arn);
    }
    let missing = "11111111-2222-4333-8444-555555555555";
    match kms.resolve_key_arn(KeyRef::Named(missing)) {
        Err(KmsError::NotFound(m)) => assert_eq!(
            m,
            format!("Key 'arn:aws:kms:us-east-1:000000000000:key/{missing}' does not exist")
        ),
        other => panic!("{other:?}"),
    }
    match kms.resolve_key_arn(KeyRef::Named("alias/nope")) {
        Err(KmsError::NotFound(m)) => assert_eq!(
            m,
            "Alias arn:aws:kms:us-east-1:000000000000:alias/nope is not found."
        ),
        other => panic!("{other:?}"),
    }
    for bad in [
        "",
        "not-a-key",
        "arn:aws:kms:eu-west-1:000000000000:key/11111111-2222-4333-8444-555555555555",
        "arn:aws:kms:us-east-1:000000000000:bogus/x",
        "alias/",
        "alias/sp ace",
        "\u{0}\u{ffff}",
    ] {
        assert!(
            matches!(
                kms.resolve_key_arn(KeyRef::Named(bad)),
                Err(KmsError::NotFound(_))
            ),
            "{bad:?}"
        );
    }
    // Aliases: duplicates, reserved names, deletion.
    assert!(matches!(
        kms.create_alias("alias/my-key", &meta.key_id),
        Err(KmsError::AlreadyExists(_))
    ));
    assert!(matches!(
        kms.create_alias("alias/aws/mine", &meta.key_id),
        Err(KmsError::InvalidAliasName(_))
    ));
    assert!(matches!(
        kms.create_alias("alias/other", AWS_S3_ALIAS),
        Err(KmsError::AccessDenied(_))
    ));
    assert_eq!(kms.list_aliases(Some(&meta.arn)).unwrap().len(), 1);
    kms.delete_alias("alias/my-key").unwrap();
    assert!(matches!(
        kms.delete_alias("alias/my-key"),
        Err(KmsError::NotFound(_))
    ));
    assert!(matches!(
        kms.describe_key("alias/my-key"),
        Err(KmsError::NotFound(_))
    ));
}

#[test]
fn kms_incorrect_key() {
    let dir = tempfile::tempdir().unwrap();
    let (_s, kms) = open(dir.path());
    let a = kms.create_key("a", vec![], KeyOrigin::AwsKms).unwrap();
    let b = kms.create_key("b", vec![], KeyOrigin::AwsKms).unwrap();
    let c = EncryptionContext::new();
    let enc = kms.encrypt(&a.key_id, b"data", &c).unwrap();
    assert!(kms.decrypt(&enc.ciphertext_blob, &c, Some(&a.arn)).is_ok());
    assert!(matches!(
        kms.decrypt(&enc.ciphertext_blob, &c, Some(&b.key_id)),
        Err(KmsError::IncorrectKey)
    ));
}

#[test]
fn kms_wrong_root_key_refuses_to_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = Store::open(dir.path(), &StoreOptions::default()).unwrap();
        assert!(!Kms::is_initialized(&s).unwrap());
    }
    {
        let (_s, kms) = open(dir.path());
        kms.create_key("k", vec![], KeyOrigin::AwsKms).unwrap();
    }
    {
        let s = Store::open(dir.path(), &StoreOptions::default()).unwrap();
        assert!(Kms::is_initialized(&s).unwrap());
    }
    let err = open_with(dir.path(), ROOT_B, KmsOptions::default())
        .err()
        .unwrap();
    assert!(matches!(err, KmsOpenError::WrongRootKey));
    assert!(
        err.to_string()
            .contains("the root key does not match the one this data directory was created with")
    );
    // Even a fresh store with no keys remembers its root key.
    let dir2 = tempfile::tempdir().unwrap();
    drop(open(dir2.path()));
    assert!(matches!(
        open_with(dir2.path(), ROOT_B, KmsOptions::default()),
        Err(KmsOpenError::WrongRootKey)
    ));
}

#[test]
fn kms_keys_without_check_value_refuse_to_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (s, kms) = open(dir.path());
        kms.create_key("k", vec![], KeyOrigin::AwsKms).unwrap();
        s.table(store::META_TABLE)
            .unwrap()
            .remove(store::ROOT_KEY_CHECK)
            .unwrap();
    }
    assert!(matches!(
        open_with(dir.path(), ROOT_A, KmsOptions::default()),
        Err(KmsOpenError::MissingRootKeyCheck)
    ));
}

#[test]
fn kms_reopen_keeps_keys_and_decrypts_old_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let c = ctx(&[("k", "v")]);
    let (meta, enc, svc, aws) = {
        let (s, kms) = open(dir.path());
        let meta = kms
            .create_key("persist", vec![], KeyOrigin::AwsKms)
            .unwrap();
        kms.create_alias("alias/persist", &meta.key_id).unwrap();
        let enc = kms.encrypt("alias/persist", b"survives", &c).unwrap();
        let svc = kms.generate_data_key(KeyRef::ServiceSseS3, &c).unwrap();
        let aws = kms.generate_data_key(KeyRef::AwsManagedS3, &c).unwrap();
        flush(&s);
        (meta, enc, svc, aws)
    };
    let (_s, kms) = open(dir.path());
    assert_eq!(kms.describe_key("alias/persist").unwrap(), meta);
    let dec = kms.decrypt(&enc.ciphertext_blob, &c, None).unwrap();
    assert_eq!(dec.plaintext.expose(), b"survives");
    let back = kms.decrypt_data_key(&svc.ciphertext_blob, &c).unwrap();
    assert!(back.plaintext.ct_eq(&svc.plaintext));
    let back = kms.decrypt_data_key(&aws.ciphertext_blob, &c).unwrap();
    assert!(back.plaintext.ct_eq(&aws.plaintext));
    // Same service and AWS-managed keys as before, not new ones.
    assert_eq!(
        kms.resolve_key_arn(KeyRef::ServiceSseS3).unwrap(),
        svc.key_arn
    );
    assert_eq!(
        kms.resolve_key_arn(KeyRef::AwsManagedS3).unwrap(),
        aws.key_arn
    );
    assert_eq!(kms.list_keys().unwrap().len(), 2);
}

#[test]
fn kms_rotation_keeps_old_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let (_s, kms) = open(dir.path());
    let id = kms
        .create_key("rot", vec![], KeyOrigin::AwsKms)
        .unwrap()
        .key_id;
    let c = EncryptionContext::new();
    let old = kms.encrypt(&id, b"old", &c).unwrap();
    assert_eq!(blob::parse(&old.ciphertext_blob).unwrap().key_version, 1);
    kms.rotate_key_now(&id).unwrap();
    kms.rotate_key_now(&id).unwrap();
    let new = kms.encrypt(&id, b"new", &c).unwrap();
    assert_eq!(blob::parse(&new.ciphertext_blob).unwrap().key_version, 3);
    let m1 = kms.material_for_test(&id, 1).unwrap();
    let m3 = kms.material_for_test(&id, 3).unwrap();
    assert!(!m1.ct_eq(&m3));
    kms.clear_cache_for_test();
    assert_eq!(
        kms.decrypt(&old.ciphertext_blob, &c, None)
            .unwrap()
            .plaintext
            .expose(),
        b"old"
    );
    assert_eq!(
        kms.decrypt(&new.ciphertext_blob, &c, None)
            .unwrap()
            .plaintext
            .expose(),
        b"new"
    );
    // A version the key does not have is not a valid ciphertext.
    let mut forged = new.ciphertext_blob.clone();
    forged[blob::KEY_VERSION_OFFSET..blob::NONCE_OFFSET].copy_from_slice(&9u32.to_be_bytes());
    assert!(matches!(
        kms.decrypt(&forged, &c, None),
        Err(KmsError::InvalidCiphertext)
    ));
    // AWS-managed keys are not rotated on demand.
    assert!(kms.rotate_key_now(AWS_S3_ALIAS).is_err());
}

#[test]
fn kms_disabled_key_refuses_then_reenables() {
    let dir = tempfile::tempdir().unwrap();
    let (_s, kms) = open(dir.path());
    let meta = kms.create_key("dis", vec![], KeyOrigin::AwsKms).unwrap();
    let c = EncryptionContext::new();
    let dk = kms
        .generate_data_key(KeyRef::Named(&meta.key_id), &c)
        .unwrap();
    kms.disable_key(&meta.key_id).unwrap();
    assert!(!kms.describe_key(&meta.key_id).unwrap().enabled());
    let expect = format!("{} is disabled.", meta.arn);
    match kms.generate_data_key(KeyRef::Named(&meta.key_id), &c) {
        Err(KmsError::Disabled(m)) => assert_eq!(m, expect),
        other => panic!("{other:?}"),
    }
    match kms.decrypt_data_key(&dk.ciphertext_blob, &c) {
        Err(KmsError::Disabled(m)) => assert_eq!(m, expect),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        kms.resolve_key_arn(KeyRef::Named(&meta.arn)),
        Err(KmsError::Disabled(_))
    ));
    kms.enable_key(&meta.arn).unwrap();
    assert!(kms.decrypt_data_key(&dk.ciphertext_blob, &c).is_ok());
    assert!(
        kms.generate_data_key(KeyRef::Named(&meta.key_id), &c)
            .is_ok()
    );
}

#[test]
fn kms_external_key_is_pending_import() {
    let dir = tempfile::tempdir().unwrap();
    let (_s, kms) = open(dir.path());
    let meta = kms.create_key("ext", vec![], KeyOrigin::External).unwrap();
    assert_eq!(meta.key_state, KeyState::PendingImport);
    assert!(matches!(
        kms.encrypt(&meta.key_id, b"x", &EncryptionContext::new()),
        Err(KmsError::InvalidState(_))
    ));
}

#[test]
fn kms_aws_managed_key_created_once_under_concurrency() {
    let dir = tempfile::tempdir().unwrap();
    let (s, kms) = open(dir.path());
    let kms = Arc::new(kms);
    const THREADS: usize = 16;
    let barrier = Arc::new(Barrier::new(THREADS));
    let handles: Vec<_> = (0..THREADS)
        .map(|i| {
            let kms = kms.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                barrier.wait();
                let c = EncryptionContext::new();
                // Half the threads reach each key first.
                let (aws, svc) = if i % 2 == 0 {
                    let aws = kms.generate_data_key(KeyRef::AwsManagedS3, &c).unwrap();
                    (
                        aws,
                        kms.generate_data_key(KeyRef::ServiceSseS3, &c).unwrap(),
                    )
                } else {
                    let svc = kms.generate_data_key(KeyRef::ServiceSseS3, &c).unwrap();
                    (
                        kms.generate_data_key(KeyRef::AwsManagedS3, &c).unwrap(),
                        svc,
                    )
                };
                (aws.key_arn, svc.key_arn)
            })
        })
        .collect();
    let arns: Vec<(String, String)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(arns.iter().all(|a| *a == arns[0]));
    assert_eq!(kms.list_aliases(None).unwrap().len(), 1);
    assert_eq!(kms.list_keys().unwrap().len(), 1);
    // Exactly two records in all: the AWS-managed key and the service key.
    let records = s.table(store::KEYS_TABLE).unwrap().scan_prefix(b"").count();
    assert_eq!(records, 2);
}

#[test]
fn kms_seed_keys_are_deterministic_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let seed_id = "0b0e3f4c-5d6e-4f70-8192-a3b4c5d6e7f8";
    let opts = |desc: &str| KmsOptions {
        seed_keys: vec![SeedKey {
            key_id: seed_id.into(),
            alias: Some("seeded".into()),
            description: Some(desc.into()),
        }],
        ..KmsOptions::default()
    };
    let c = EncryptionContext::new();
    let (meta, enc) = {
        let (s, kms) = open_with(dir.path(), ROOT_A, opts("first")).unwrap();
        let meta = kms.describe_key("alias/seeded").unwrap();
        assert_eq!(meta.key_id, seed_id);
        assert_eq!(meta.description, "first");
        assert_eq!(meta.key_manager, KeyManager::Customer);
        let enc = kms.encrypt(seed_id, b"seeded data", &c).unwrap();
        flush(&s);
        (meta, enc)
    };
    let (_s, kms) = open_with(dir.path(), ROOT_A, opts("second")).unwrap();
    assert_eq!(kms.describe_key(seed_id).unwrap(), meta);
    assert_eq!(
        kms.decrypt(&enc.ciphertext_blob, &c, None)
            .unwrap()
            .plaintext
            .expose(),
        b"seeded data"
    );
    assert_eq!(kms.list_keys().unwrap().len(), 1);

    let bad = KmsOptions {
        seed_keys: vec![SeedKey {
            key_id: "not-a-uuid".into(),
            alias: None,
            description: None,
        }],
        ..KmsOptions::default()
    };
    drop((_s, kms));
    assert!(matches!(
        open_with(dir.path(), ROOT_A, bad),
        Err(KmsOpenError::InvalidSeedKey(..))
    ));
}

fn files_under(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            files_under(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn kms_no_plaintext_key_material_on_disk() {
    use base64::Engine;
    let dir = tempfile::tempdir().unwrap();
    let c = ctx(&[("k", "v")]);
    let mut secrets: Vec<Key32> = Vec::new();
    {
        let (s, kms) = open(dir.path());
        let id = kms
            .create_key("grep me", vec![], KeyOrigin::AwsKms)
            .unwrap()
            .key_id;
        kms.rotate_key_now(&id).unwrap();
        secrets.push(kms.material_for_test(&id, 1).unwrap());
        secrets.push(kms.material_for_test(&id, 2).unwrap());
        let aws = kms.generate_data_key(KeyRef::AwsManagedS3, &c).unwrap();
        secrets.push(kms.material_for_test(AWS_S3_ALIAS, 1).unwrap());
        secrets.push(aws.plaintext);
        // The data key's wrapped blob may be stored by the caller; its plaintext never is.
        flush(&s);
    }
    let mut files = Vec::new();
    files_under(dir.path(), &mut files);
    let mut records_seen = false;
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        // Positive control: the search does see the (uncompressed) key records.
        records_seen |= contains(&bytes, b"grep me");
        for k in &secrets {
            let raw = k.expose();
            let b64 = base64::engine::general_purpose::STANDARD.encode(raw);
            for needle in [
                &raw[..],
                &raw[..16],
                hex::encode(raw).as_bytes(),
                hex::encode_upper(raw).as_bytes(),
                b64.as_bytes(),
            ] {
                assert!(!contains(&bytes, needle), "secret found in {}", f.display());
            }
        }
    }
    assert!(
        records_seen,
        "key records not found on disk: the search proves nothing"
    );
}

// ---- golden files: written once by the first version, read by every later one ----

const GOLDEN_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden");
const GOLDEN_KEY_ID: &str = "6f1c0e0a-8b7d-4c3e-9a2b-1d4f5e6a7b8c";

fn golden_root() -> RootKey {
    RootKey::from_key(Key32::from_bytes(std::array::from_fn(|i| i as u8)))
}
fn golden_material() -> Key32 {
    Key32::from_bytes(std::array::from_fn(|i| 0x20 + i as u8))
}
fn golden_data_key() -> Key32 {
    Key32::from_bytes(std::array::from_fn(|i| 0x40 + i as u8))
}
fn golden_context() -> EncryptionContext {
    ctx(&[
        ("aws:s3:arn", "arn:aws:s3:::golden-bucket/golden-object"),
        ("purpose", "golden"),
    ])
}

/// The golden files' contents, made with fixed keys and nonces.
fn golden_blob() -> Vec<u8> {
    let id = uuid::Uuid::try_parse(GOLDEN_KEY_ID).unwrap();
    blob::seal_with_nonce(
        &golden_material(),
        id,
        1,
        &std::array::from_fn(|i| 0xB0 + i as u8),
        golden_data_key().expose(),
        &golden_context(),
    )
    .unwrap()
}

fn golden_sealed_material() -> Vec<u8> {
    let id = uuid::Uuid::try_parse(GOLDEN_KEY_ID).unwrap();
    golden_root()
        .seal_with_nonce(
            &std::array::from_fn(|i| 0xA0 + i as u8),
            &store::material_aad(&id, 1),
            golden_material().expose(),
        )
        .unwrap()
}

fn golden_record_json() -> String {
    use base64::Engine;
    format!(
        r#"{{"key_id":"{GOLDEN_KEY_ID}","arn":"arn:aws:kms:us-east-1:000000000000:key/{GOLDEN_KEY_ID}","description":"golden","created_ms":1700000000000,"state":"Enabled","key_manager":"CUSTOMER","origin":"AWS_KMS","key_usage":"ENCRYPT_DECRYPT","key_spec":"SYMMETRIC_DEFAULT","materials":[{{"version":1,"sealed":"{}","created_ms":1700000000000,"origin":"AWS_KMS"}}],"current_version":1,"rotation":{{"enabled":false,"period_days":365}},"tags":[]}}"#,
        base64::engine::general_purpose::STANDARD.encode(golden_sealed_material())
    )
}

fn read_golden(name: &str) -> String {
    std::fs::read_to_string(Path::new(GOLDEN_DIR).join(name))
        .unwrap()
        .trim()
        .to_string()
}

/// Writes the golden files. Run once (`cargo test --lib regenerate_kms_golden -- --ignored`);
/// never rerun to "fix" a failing golden test: a failure means the format changed.
#[test]
#[ignore]
fn regenerate_kms_golden_files() {
    std::fs::create_dir_all(GOLDEN_DIR).unwrap();
    let dir = Path::new(GOLDEN_DIR);
    std::fs::write(
        dir.join("kms_blob_v1.hex"),
        hex::encode(golden_blob()) + "\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("kms_sealed_material_v1.hex"),
        hex::encode(golden_sealed_material()) + "\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("kms_key_record_v1.json"),
        golden_record_json() + "\n",
    )
    .unwrap();
}

#[test]
fn kms_golden_blob_decrypts() {
    let blob_bytes = hex::decode(read_golden("kms_blob_v1.hex")).unwrap();
    let sealed = hex::decode(read_golden("kms_sealed_material_v1.hex")).unwrap();
    // The formats still produce exactly these bytes from the same inputs.
    assert_eq!(blob_bytes, golden_blob());
    assert_eq!(sealed, golden_sealed_material());

    // Layer by layer: root key -> material -> data key.
    let id = uuid::Uuid::try_parse(GOLDEN_KEY_ID).unwrap();
    let material = golden_root()
        .unseal(&store::material_aad(&id, 1), &sealed)
        .unwrap();
    let material = Key32::from_slice(material.expose()).unwrap();
    let parsed = blob::parse(&blob_bytes).unwrap();
    assert_eq!(parsed.key_id, id);
    assert_eq!(parsed.key_version, 1);
    let pt = blob::open(&material, &parsed, &golden_context()).unwrap();
    assert_eq!(pt.expose(), golden_data_key().expose());

    // End to end: the committed key record in a store, through the public KMS.
    let record = read_golden("kms_key_record_v1.json");
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path(), &StoreOptions::default()).unwrap();
    let mut value = vec![KMS_RECORD_V1];
    value.extend_from_slice(record.as_bytes());
    let kms = Kms::open(&s, golden_root(), KmsOptions::default()).unwrap();
    s.table(store::KEYS_TABLE)
        .unwrap()
        .insert(id.as_bytes(), &value)
        .unwrap();
    let dk = kms
        .decrypt_data_key(&blob_bytes, &golden_context())
        .unwrap();
    assert!(dk.plaintext.ct_eq(&golden_data_key()));
    assert_eq!(
        dk.key_arn,
        format!("arn:aws:kms:us-east-1:000000000000:key/{GOLDEN_KEY_ID}")
    );
    assert!(kms.decrypt_data_key(&blob_bytes, &ctx(&[])).is_err());
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// External input never panics: arbitrary key references, arbitrary blobs, and real
        /// blobs with bytes changed (which must never decrypt).
        #[test]
        fn kms_external_input_never_panics(
            key_ref in ".{0,80}",
            junk in proptest::collection::vec(any::<u8>(), 0..120),
            flip_at in 0usize..80,
            flip in 1u8..=255,
        ) {
            let dir = tempfile::tempdir().unwrap();
            let (_s, kms) = open(dir.path());
            let id = kms.create_key("p", vec![], KeyOrigin::AwsKms).unwrap().key_id;
            let c = EncryptionContext::new();
            let _ = kms.describe_key(&key_ref);
            let _ = kms.resolve_key_arn(KeyRef::Named(&key_ref));
            let _ = kms.encrypt(&key_ref, b"x", &c);
            let _ = kms.decrypt(&junk, &c, Some(&key_ref));
            prop_assert!(kms.decrypt(&junk, &c, None).is_err());
            prop_assert!(kms.decrypt_data_key(&junk, &c).is_err());
            let mut b = kms
                .generate_data_key(KeyRef::Named(&id), &c)
                .unwrap()
                .ciphertext_blob;
            let i = flip_at % b.len();
            b[i] ^= flip;
            prop_assert!(kms.decrypt_data_key(&b, &c).is_err());
        }
    }
}

// ---- lifecycle: deletion (crypto-shredding), rotation, import, audit ----

fn open_at(
    dir: &Path,
    clock: Arc<crate::clock::OffsetClock>,
    audit: Option<PathBuf>,
) -> (Store, Kms) {
    open_with(
        dir,
        ROOT_A,
        KmsOptions {
            clock,
            audit_log: audit,
            ..KmsOptions::default()
        },
    )
    .unwrap()
}

const DAY: std::time::Duration = std::time::Duration::from_secs(86_400);

#[test]
fn kms_deletion_window_end_shreds_the_key_material() {
    let dir = tempfile::tempdir().unwrap();
    let clock = crate::clock::OffsetClock::new();
    let (s, kms) = open_at(dir.path(), clock.clone(), None);
    let meta = kms.create_key("doomed", vec![], KeyOrigin::AwsKms).unwrap();
    kms.create_alias("alias/doomed", &meta.key_id).unwrap();
    let c = ctx(&[("k", "v")]);
    let enc = kms.encrypt(&meta.key_id, b"secret", &c).unwrap();
    kms.rotate_key_now(&meta.key_id).unwrap();
    let id = uuid::Uuid::parse_str(&meta.key_id).unwrap();
    let sealed: Vec<Vec<u8>> = kms
        .tables
        .get_key(&id)
        .unwrap()
        .unwrap()
        .materials
        .iter()
        .map(|m| m.sealed.clone())
        .collect();
    assert_eq!(sealed.len(), 2);

    let m = kms.schedule_key_deletion(&meta.key_id, Some(7)).unwrap();
    assert_eq!(m.key_state, KeyState::PendingDeletion);
    assert!(matches!(
        kms.decrypt(&enc.ciphertext_blob, &c, None),
        Err(KmsError::InvalidState(_))
    ));
    // Cancel brings it back disabled; schedule again.
    kms.cancel_key_deletion(&meta.key_id).unwrap();
    assert_eq!(
        kms.describe_key(&meta.key_id).unwrap().key_state,
        KeyState::Disabled
    );
    kms.schedule_key_deletion(&meta.key_id, Some(7)).unwrap();
    clock.advance(6 * DAY);
    assert_eq!(kms.maintain().unwrap(), 1);
    assert!(
        kms.describe_key(&meta.key_id).is_ok(),
        "still inside the window"
    );
    clock.advance(DAY + std::time::Duration::from_secs(1));
    assert_eq!(kms.maintain().unwrap(), 1);
    flush(&s);
    assert!(matches!(
        kms.describe_key(&meta.key_id),
        Err(KmsError::NotFound(_))
    ));
    assert!(matches!(
        kms.decrypt(&enc.ciphertext_blob, &c, None),
        Err(KmsError::NotFound(_))
    ));
    assert!(kms.list_aliases(None).unwrap().is_empty());
    assert!(kms.materials.read().unwrap().keys().all(|(k, _)| *k != id));
    // Nothing of the key is left in any KMS table: not its id, not its sealed material.
    for table in [store::KEYS_TABLE, store::ALIASES_TABLE, store::META_TABLE] {
        for kv in s.table(table).unwrap().scan_prefix(b"") {
            let (k, v) = kv.unwrap();
            for hay in [&k, &v] {
                assert!(!contains(hay, id.as_bytes()), "{table} holds the key id");
                assert!(
                    !contains(hay, meta.key_id.as_bytes()),
                    "{table} holds the key id"
                );
                for sm in &sealed {
                    assert!(!contains(hay, sm), "{table} holds sealed material");
                }
            }
        }
    }
    // And it stays gone after a reopen.
    drop(kms);
    drop(s);
    let (_s, kms) = open_at(dir.path(), clock, None);
    assert!(matches!(
        kms.decrypt(&enc.ciphertext_blob, &c, None),
        Err(KmsError::NotFound(_))
    ));
}

#[test]
fn kms_automatic_rotation_follows_the_clock_and_old_material_decrypts() {
    let dir = tempfile::tempdir().unwrap();
    let clock = crate::clock::OffsetClock::new();
    let (_s, kms) = open_at(dir.path(), clock.clone(), None);
    let meta = kms
        .create_key("rotating", vec![], KeyOrigin::AwsKms)
        .unwrap();
    let c = EncryptionContext::new();
    let v1 = kms.encrypt(&meta.key_id, b"one", &c).unwrap();
    assert!(matches!(
        kms.enable_key_rotation(&meta.key_id, Some(89)),
        Err(KmsError::InvalidArgument(_))
    ));
    kms.enable_key_rotation(&meta.key_id, Some(90)).unwrap();
    let st = kms.key_rotation_status(&meta.key_id).unwrap();
    assert!(st.enabled);
    assert_eq!(st.period_days, Some(90));
    clock.advance(91 * DAY);
    kms.maintain().unwrap();
    let rot = kms.list_key_rotations(&meta.key_id).unwrap();
    assert_eq!(rot.len(), 1);
    assert_eq!(rot[0].rotation_type, store::RotationType::Automatic);
    let v2 = kms.encrypt(&meta.key_id, b"two", &c).unwrap();
    assert_eq!(blob::parse(&v2.ciphertext_blob).unwrap().key_version, 2);
    // Lazily on use, too.
    clock.advance(91 * DAY);
    let v3 = kms.encrypt(&meta.key_id, b"three", &c).unwrap();
    assert_eq!(blob::parse(&v3.ciphertext_blob).unwrap().key_version, 3);
    for (b, pt) in [(&v1, b"one".as_slice()), (&v2, b"two"), (&v3, b"three")] {
        assert_eq!(
            kms.decrypt(&b.ciphertext_blob, &c, None)
                .unwrap()
                .plaintext
                .expose(),
            pt
        );
    }
    kms.rotate_key_now(&meta.key_id).unwrap();
    assert_eq!(kms.list_key_rotations(&meta.key_id).unwrap().len(), 3);
}

#[test]
fn kms_import_wraps_unwraps_and_refuses_expired_tokens() {
    use rsa::pkcs8::DecodePublicKey;
    let dir = tempfile::tempdir().unwrap();
    let clock = crate::clock::OffsetClock::new();
    let (_s, kms) = open_at(dir.path(), clock.clone(), None);
    let meta = kms.create_key("byok", vec![], KeyOrigin::External).unwrap();
    assert_eq!(meta.key_state, KeyState::PendingImport);
    let c = EncryptionContext::new();
    assert!(matches!(
        kms.encrypt(&meta.key_id, b"x", &c),
        Err(KmsError::InvalidState(_))
    ));
    let material = [0x42u8; 32];
    let wrap = |p: &ImportParameters| {
        let pk = rsa::RsaPublicKey::from_public_key_der(&p.public_key).unwrap();
        pk.encrypt(
            &mut rsa::rand_core::OsRng,
            rsa::Oaep::new::<rsa::sha2::Sha256>(),
            &material,
        )
        .unwrap()
    };
    // An expired token is refused.
    let p = kms
        .get_parameters_for_import(
            &meta.key_id,
            WrappingAlgorithm::RsaesOaepSha256,
            WrappingKeySpec::Rsa2048,
        )
        .unwrap();
    clock.advance(DAY + std::time::Duration::from_secs(1));
    assert!(matches!(
        kms.import_key_material(&meta.key_id, &p.import_token, &wrap(&p), None),
        Err(KmsError::ExpiredImportToken(_))
    ));
    let p = kms
        .get_parameters_for_import(
            &meta.key_id,
            WrappingAlgorithm::RsaesOaepSha256,
            WrappingKeySpec::Rsa2048,
        )
        .unwrap();
    kms.import_key_material(&meta.key_id, &p.import_token, &wrap(&p), None)
        .unwrap();
    // Single use.
    assert!(matches!(
        kms.import_key_material(&meta.key_id, &p.import_token, &wrap(&p), None),
        Err(KmsError::InvalidImportToken(_))
    ));
    let enc = kms.encrypt(&meta.key_id, b"byok data", &c).unwrap();
    assert_eq!(
        kms.decrypt(&enc.ciphertext_blob, &c, None)
            .unwrap()
            .plaintext
            .expose(),
        b"byok data"
    );
    // Delete the material: unusable; reimporting other material is refused, the same works.
    kms.delete_imported_key_material(&meta.key_id).unwrap();
    assert!(matches!(
        kms.decrypt(&enc.ciphertext_blob, &c, None),
        Err(KmsError::InvalidState(_))
    ));
    let p = kms
        .get_parameters_for_import(
            &meta.key_id,
            WrappingAlgorithm::RsaesOaepSha1,
            WrappingKeySpec::Rsa2048,
        )
        .unwrap();
    let pk = rsa::RsaPublicKey::from_public_key_der(&p.public_key).unwrap();
    let other = pk
        .encrypt(
            &mut rsa::rand_core::OsRng,
            rsa::Oaep::new::<sha1_010::Sha1>(),
            &[7u8; 32],
        )
        .unwrap();
    assert!(matches!(
        kms.import_key_material(&meta.key_id, &p.import_token, &other, None),
        Err(KmsError::IncorrectKeyMaterial(_))
    ));
    let same = pk
        .encrypt(
            &mut rsa::rand_core::OsRng,
            rsa::Oaep::new::<sha1_010::Sha1>(),
            &material,
        )
        .unwrap();
    let now_ms = crate::clock::unix_millis(crate::clock::Clock::now(&*clock));
    kms.import_key_material(
        &meta.key_id,
        &p.import_token,
        &same,
        Some(now_ms + 3_600_000),
    )
    .unwrap();
    assert_eq!(
        kms.decrypt(&enc.ciphertext_blob, &c, None)
            .unwrap()
            .plaintext
            .expose(),
        b"byok data"
    );
    // Material with an expiry goes away when it passes.
    clock.advance(std::time::Duration::from_secs(3601));
    assert_eq!(
        kms.describe_key(&meta.key_id).unwrap().key_state,
        KeyState::PendingImport
    );
    assert!(matches!(
        kms.decrypt(&enc.ciphertext_blob, &c, None),
        Err(KmsError::InvalidState(_))
    ));
}

#[test]
fn kms_audit_log_has_a_line_per_use_and_no_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    let clock = crate::clock::OffsetClock::new();
    let (_s, kms) = open_at(&dir.path().join("db"), clock, Some(log.clone()));
    let c = ctx(&[("aws:s3:arn", "arn:aws:s3:::b/k")]);
    let dk = kms.generate_data_key(KeyRef::AwsManagedS3, &c).unwrap();
    kms.decrypt_data_key(&dk.ciphertext_blob, &c).unwrap();
    assert!(
        kms.decrypt_data_key(&dk.ciphertext_blob, &EncryptionContext::new())
            .is_err()
    );
    let text = std::fs::read_to_string(&log).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0]["eventName"], "GenerateDataKey");
    assert_eq!(lines[0]["eventSource"], "kms.amazonaws.com");
    assert_eq!(lines[0]["requestParameters"]["keyId"], dk.key_arn.as_str());
    assert_eq!(lines[0]["resources"][0]["ARN"], dk.key_arn.as_str());
    assert_eq!(
        lines[0]["requestParameters"]["encryptionContext"]["aws:s3:arn"],
        "arn:aws:s3:::b/k"
    );
    // Outside a request: what the KMS did on its own account.
    assert_eq!(lines[0]["eventType"], "AwsServiceEvent");
    assert!(lines[1].get("errorCode").is_none());
    assert_eq!(lines[2]["errorCode"], "InvalidCiphertextException");
    let b64 = |b: &[u8]| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(b)
    };
    for secret in [
        hex::encode(dk.plaintext.expose()),
        b64(dk.plaintext.expose()),
        b64(&dk.ciphertext_blob),
    ] {
        assert!(!text.contains(&secret));
    }
}
