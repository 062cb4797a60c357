//! The IAM store and index: config principals, API changes persisted and reloaded, quotas,
//! conflicts, and sealed secrets.

use std::sync::Arc;

use super::*;
use crate::clock::OffsetClock;
use crate::storage::StoreOptions;

const ALLOW_ALL: &str =
    r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

fn root_key() -> RootKey {
    RootKey::from_key(crate::secret::Key32::from_slice(&[7u8; 32]).unwrap())
}

fn open(dir: &std::path::Path, accounts: Vec<ConfigAccount>) -> (Store, Iam) {
    let store = Store::open(dir, &StoreOptions::default()).unwrap();
    let iam = Iam::open(
        &store,
        root_key(),
        OffsetClock::new(),
        "000000000000",
        vec![("ROOTKEY".into(), SecretString::new("root-secret-1".into()))],
        accounts,
    )
    .unwrap();
    (store, iam)
}

fn team_b() -> ConfigAccount {
    ConfigAccount {
        id: "111111111111".into(),
        name: "b".into(),
        root_keys: vec![("BROOT".into(), SecretString::new("b-root-secret".into()))],
        users: vec![ConfigUser {
            name: "reader".into(),
            path: "/team/".into(),
            keys: vec![(
                "BREADER".into(),
                SecretString::new("b-reader-secret".into()),
            )],
            inline: vec![("all".into(), ALLOW_ALL.into())],
            attached: vec!["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess".into()],
        }],
        policies: Vec::new(),
    }
}

#[test]
fn config_principals_authenticate_as_root_and_user() {
    let dir = tempfile::tempdir().unwrap();
    let (_s, iam) = open(dir.path(), vec![team_b()]);
    let (secret, root) = iam.authenticate("ROOTKEY").unwrap();
    assert_eq!(secret.expose(), "root-secret-1");
    assert_eq!(root.kind, PrincipalKind::Root);
    assert_eq!(root.arn, "arn:aws:iam::000000000000:root");
    let (_, b) = iam.authenticate("BROOT").unwrap();
    assert_eq!(b.account, "111111111111");
    let (_, reader) = iam.authenticate("BREADER").unwrap();
    assert_eq!(reader.kind, PrincipalKind::User);
    assert_eq!(reader.arn, "arn:aws:iam::111111111111:user/team/reader");
    assert_eq!(reader.policies.len(), 2);
    assert_eq!(reader.access_key_id.as_deref(), Some("BREADER"));
    assert!(iam.authenticate("NOPE").is_none());
    // Config principals are not the API's to change.
    assert!(matches!(
        iam.delete_user("111111111111", "reader"),
        Err(IamError::UnmodifiableEntity(_))
    ));
    assert!(matches!(
        iam.delete_access_key("111111111111", Some("reader"), "BREADER"),
        Err(IamError::UnmodifiableEntity(_))
    ));
}

#[test]
fn a_key_configured_twice_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), &StoreOptions::default()).unwrap();
    let mut b = team_b();
    b.root_keys
        .push(("ROOTKEY".into(), SecretString::new("x".repeat(10))));
    let r = Iam::open(
        &store,
        root_key(),
        OffsetClock::new(),
        "000000000000",
        vec![("ROOTKEY".into(), SecretString::new("root-secret-1".into()))],
        vec![b],
    );
    assert!(matches!(r, Err(IamError::InvalidInput(_))));
}

#[test]
fn api_users_keys_and_policies_persist_and_reload() {
    let dir = tempfile::tempdir().unwrap();
    let (ak, sk) = {
        let (_s, iam) = open(dir.path(), Vec::new());
        iam.create_user("000000000000", "alice", "/", Vec::new())
            .unwrap();
        iam.put_user_policy("000000000000", "alice", "all", ALLOW_ALL)
            .unwrap();
        let m = iam
            .create_policy("000000000000", "managed", "/", ALLOW_ALL, "d", Vec::new())
            .unwrap();
        iam.attach_user_policy("000000000000", "alice", &m.arn)
            .unwrap();
        let (k, secret) = iam
            .create_access_key("000000000000", Some("alice"))
            .unwrap();
        assert!(k.access_key_id.starts_with("AKIA"));
        (k.access_key_id, secret.expose().to_string())
    };
    let (_s, iam) = open(dir.path(), Vec::new());
    let (secret, p) = iam.authenticate(&ak).unwrap();
    assert_eq!(secret.expose(), sk);
    assert_eq!(p.user_name.as_deref(), Some("alice"));
    assert_eq!(p.policies.len(), 2);
    assert_eq!(
        iam.list_attached_user_policies("000000000000", "alice")
            .unwrap(),
        vec![(
            "managed".to_string(),
            "arn:aws:iam::000000000000:policy/managed".to_string()
        )]
    );
    // The secret is stored sealed, never in the clear.
    drop(iam);
    drop(_s);
    for e in std::fs::read_dir(dir.path()).unwrap().flatten() {
        if let Ok(bytes) = std::fs::read(e.path()) {
            assert!(!bytes.windows(sk.len()).any(|w| w == sk.as_bytes()));
        }
    }
}

#[test]
fn a_wrong_root_key_does_not_unseal_stored_secrets() {
    let dir = tempfile::tempdir().unwrap();
    {
        let (_s, iam) = open(dir.path(), Vec::new());
        iam.create_user("000000000000", "u", "/", Vec::new())
            .unwrap();
        iam.create_access_key("000000000000", Some("u")).unwrap();
    }
    let store = Store::open(dir.path(), &StoreOptions::default()).unwrap();
    let other = RootKey::from_key(crate::secret::Key32::from_slice(&[8u8; 32]).unwrap());
    let r = Iam::open(
        &store,
        other,
        OffsetClock::new(),
        "000000000000",
        Vec::new(),
        Vec::new(),
    );
    match r {
        Err(IamError::Internal(m)) => assert!(m.contains("does not unseal"), "{m}"),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("opened with the wrong root key"),
    }
}

#[test]
fn quotas_and_conflicts_are_aws_s() {
    let dir = tempfile::tempdir().unwrap();
    let (_s, iam) = open(dir.path(), Vec::new());
    let a = "000000000000";
    iam.create_user(a, "bob", "/", Vec::new()).unwrap();
    assert!(matches!(
        iam.create_user(a, "BOB", "/", Vec::new()),
        Err(IamError::EntityAlreadyExists(_))
    ));
    // Two keys per user.
    iam.create_access_key(a, Some("bob")).unwrap();
    iam.create_access_key(a, Some("bob")).unwrap();
    assert!(matches!(
        iam.create_access_key(a, Some("bob")),
        Err(IamError::LimitExceeded(_))
    ));
    assert!(matches!(
        iam.delete_user(a, "bob"),
        Err(IamError::DeleteConflict(_))
    ));
    // The inline quota counts characters without whitespace across all of a user's policies.
    let padded = format!("{ALLOW_ALL}{}", " ".repeat(4000));
    iam.put_user_policy(a, "bob", "spaces-do-not-count", &padded)
        .unwrap();
    let big = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{}","Effect":"Allow","Action":"*","Resource":"*"}}]}}"#,
        "A".repeat(MAX_INLINE_POLICY_CHARS_PER_USER)
    );
    assert!(matches!(
        iam.put_user_policy(a, "bob", "big", &big),
        Err(IamError::LimitExceeded(_))
    ));
    assert!(
        iam.get_user_policy(a, "bob", "big").is_err(),
        "nothing stored"
    );
    // The managed-policy quota.
    let huge = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Sid":"{}","Effect":"Allow","Action":"*","Resource":"*"}}]}}"#,
        "A".repeat(MAX_MANAGED_POLICY_CHARS)
    );
    assert!(matches!(
        iam.create_policy(a, "huge", "/", &huge, "", Vec::new()),
        Err(IamError::LimitExceeded(_))
    ));
    // Attachments: at most MAX_ATTACHED_POLICIES_PER_USER, unknown ARNs refused.
    assert!(matches!(
        iam.attach_user_policy(a, "bob", "arn:aws:iam::000000000000:policy/none"),
        Err(IamError::NoSuchEntity(_))
    ));
    for i in 0..MAX_ATTACHED_POLICIES_PER_USER {
        let m = iam
            .create_policy(a, &format!("p{i}"), "/", ALLOW_ALL, "", Vec::new())
            .unwrap();
        iam.attach_user_policy(a, "bob", &m.arn).unwrap();
    }
    let m = iam
        .create_policy(a, "one-more", "/", ALLOW_ALL, "", Vec::new())
        .unwrap();
    assert!(matches!(
        iam.attach_user_policy(a, "bob", &m.arn),
        Err(IamError::LimitExceeded(_))
    ));
    assert!(matches!(
        iam.delete_policy(a, "arn:aws:iam::000000000000:policy/p0"),
        Err(IamError::DeleteConflict(_))
    ));
    // Another account sees none of it.
    assert!(iam.get_user("111111111111", "bob").is_err());
    assert!(iam.get_policy("111111111111", &m.arn).is_err());
}

#[test]
fn inactive_keys_do_not_authenticate() {
    let dir = tempfile::tempdir().unwrap();
    let (_s, iam) = open(dir.path(), Vec::new());
    let a = "000000000000";
    iam.create_user(a, "k", "/", Vec::new()).unwrap();
    let (key, _) = iam.create_access_key(a, Some("k")).unwrap();
    iam.update_access_key(a, Some("k"), &key.access_key_id, false)
        .unwrap();
    assert!(iam.authenticate(&key.access_key_id).is_none());
    use crate::api::auth::CredentialStore;
    assert!(iam.secret_for(&key.access_key_id).is_none());
    iam.update_access_key(a, Some("k"), &key.access_key_id, true)
        .unwrap();
    assert!(iam.authenticate(&key.access_key_id).is_some());
    // A key of another user is not found under this one.
    iam.create_user(a, "other", "/", Vec::new()).unwrap();
    assert!(matches!(
        iam.delete_access_key(a, Some("other"), &key.access_key_id),
        Err(IamError::NoSuchEntity(_))
    ));
}

#[test]
fn the_policy_cache_compiles_each_document_once() {
    let cache = PolicyCache::new(policy::ParseOptions {
        kind: PolicyKind::Identity,
        max_len: 10_000,
    });
    let a = cache.get(ALLOW_ALL).unwrap();
    let b = cache.get(ALLOW_ALL).unwrap();
    assert_eq!(a.statements().len(), b.statements().len());
    assert_eq!(cache.map.read().unwrap().len(), 1);
    assert!(cache.get("not json").is_err());
    let _ = Arc::new(0);
}
