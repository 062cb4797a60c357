//! Access control through aws-sdk-rust: accounts and IAM users (the IAM API and STS on the
//! same endpoint), identity policies, bucket policies, public access block, Object Ownership,
//! KMS key policies, S3's key uses on the caller's behalf, cross-account access, anonymous
//! access, and the audit lines of all of it. Each denial is checked for AWS's status and code.

use std::sync::Arc;

use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;

use crate::common::*;

/// A second account, with its root credentials from the config file.
const B_ACCOUNT: &str = "111111111111";
const B_ACCESS: &str = "AKIDACCOUNTBROOT";
const B_SECRET: &str = "account-b-root-secret-0123456789";
const A_ACCOUNT: &str = "000000000000";

async fn two_accounts() -> TestServer {
    let dir = Arc::new(tempfile::tempdir().expect("tempdir"));
    TestServer::start_in(dir, |cfg| {
        cfg.accounts.push(coffer::config::AccountConfig {
            id: B_ACCOUNT.into(),
            name: Some("team-b".into()),
            credentials: vec![coffer::config::CredentialConfig {
                access_key_id: B_ACCESS.into(),
                secret_access_key: B_SECRET.into(),
            }],
            users: Vec::new(),
            policies: Vec::new(),
        });
    })
    .await
}

fn audit_lines(srv: &TestServer) -> Vec<serde_json::Value> {
    std::fs::read_to_string(srv.data_dir().join("audit.log"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
        .collect()
}

fn iam_code<E>(
    err: &aws_sdk_iam::error::SdkError<E, aws_smithy_runtime_api::http::Response>,
) -> String
where
    E: aws_sdk_iam::error::ProvideErrorMetadata + std::fmt::Debug,
{
    match err.as_service_error().and_then(|e| e.code()) {
        Some(c) => c.to_string(),
        None => format!("{err:?}"),
    }
}

/// Creates `name` with a fresh access key; returns (access key id, secret).
async fn new_user(srv: &TestServer, name: &str) -> (String, String) {
    let iam = srv.iam();
    iam.create_user().user_name(name).send().await.unwrap();
    let k = iam
        .create_access_key()
        .user_name(name)
        .send()
        .await
        .unwrap();
    let k = k.access_key().unwrap();
    (
        k.access_key_id().to_string(),
        k.secret_access_key().to_string(),
    )
}

async fn put_user_policy(srv: &TestServer, user: &str, name: &str, doc: &str) {
    srv.iam()
        .put_user_policy()
        .user_name(user)
        .policy_name(name)
        .policy_document(doc)
        .send()
        .await
        .unwrap();
}

async fn put(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, body: &str) -> Result<(), String> {
    s3.put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.as_bytes().to_vec()))
        .send()
        .await
        .map(|_| ())
        .map_err(|e| code(&e))
}

async fn get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Vec<u8>, String> {
    match s3.get_object().bucket(bucket).key(key).send().await {
        Ok(o) => Ok(read_all(o).await),
        Err(e) => Err(code(&e)),
    }
}

/// IAM users, keys and policies through the IAM API; every change takes effect on the next
/// request; STS names the caller.
#[tokio::test]
async fn iam_users_keys_and_policies_take_effect_on_the_next_request() {
    let srv = TestServer::start().await;
    let root = srv.s3();
    root.create_bucket().bucket("team").send().await.unwrap();
    let (ak, sk) = new_user(&srv, "alice").await;
    let alice = srv.s3_with(&ak, &sk);

    // STS: who am I.
    let me = srv
        .sts_with(&ak, &sk)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(me.account(), Some(A_ACCOUNT));
    assert_eq!(me.arn(), Some("arn:aws:iam::000000000000:user/alice"));
    assert!(me.user_id().unwrap().starts_with("AIDA"));
    let root_me = srv
        .sts_with(ACCESS_KEY, SECRET_KEY)
        .get_caller_identity()
        .send()
        .await
        .unwrap();
    assert_eq!(root_me.arn(), Some("arn:aws:iam::000000000000:root"));

    // No policy: nothing allowed.
    assert_eq!(
        put(&alice, "team", "a.txt", "x").await,
        Err("AccessDenied".into())
    );
    let e = alice.list_buckets().send().await.unwrap_err();
    assert_eq!(code(&e), "AccessDenied");

    // An inline policy: allowed at once.
    put_user_policy(
        &srv,
        "alice",
        "team-rw",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:PutObject","s3:GetObject"],"Resource":"arn:aws:s3:::team/${aws:username}/*"}]}"#,
    )
    .await;
    put(&alice, "team", "alice/a.txt", "mine").await.unwrap();
    assert_eq!(get(&alice, "team", "alice/a.txt").await.unwrap(), b"mine");
    // The policy variable confines her to her own prefix.
    assert_eq!(
        put(&alice, "team", "bob/a.txt", "x").await,
        Err("AccessDenied".into())
    );

    // Inspect through the API.
    let iam = srv.iam();
    let u = iam.get_user().user_name("alice").send().await.unwrap();
    assert_eq!(
        u.user().unwrap().arn(),
        "arn:aws:iam::000000000000:user/alice"
    );
    let users = iam.list_users().send().await.unwrap();
    assert_eq!(users.users().len(), 1);
    let names = iam
        .list_user_policies()
        .user_name("alice")
        .send()
        .await
        .unwrap();
    assert_eq!(names.policy_names(), ["team-rw"]);
    let doc = iam
        .get_user_policy()
        .user_name("alice")
        .policy_name("team-rw")
        .send()
        .await
        .unwrap();
    // IAM returns documents URL-encoded (botocore decodes them; the Rust SDK does not).
    let decoded = percent_encoding::percent_decode_str(doc.policy_document())
        .decode_utf8()
        .unwrap();
    assert!(decoded.contains("${aws:username}"), "{decoded}");

    // A managed policy, attached, then detached.
    let p = iam
        .create_policy()
        .policy_name("list-all")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:ListAllMyBuckets","Resource":"*"}]}"#)
        .send()
        .await
        .unwrap();
    let parn = p.policy().unwrap().arn().unwrap().to_string();
    assert_eq!(parn, "arn:aws:iam::000000000000:policy/list-all");
    iam.attach_user_policy()
        .user_name("alice")
        .policy_arn(&parn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        alice.list_buckets().send().await.unwrap().buckets().len(),
        1
    );
    let attached = iam
        .list_attached_user_policies()
        .user_name("alice")
        .send()
        .await
        .unwrap();
    assert_eq!(
        attached.attached_policies()[0].policy_arn(),
        Some(parn.as_str())
    );
    let e = iam
        .delete_policy()
        .policy_arn(&parn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(iam_code(&e), "DeleteConflict");
    iam.detach_user_policy()
        .user_name("alice")
        .policy_arn(&parn)
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(&alice.list_buckets().send().await.unwrap_err()),
        "AccessDenied"
    );
    iam.delete_policy().policy_arn(&parn).send().await.unwrap();

    // An explicit deny wins over the allow.
    put_user_policy(
        &srv,
        "alice",
        "no-get",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"s3:GetObject","Resource":"*"}]}"#,
    )
    .await;
    assert_eq!(
        get(&alice, "team", "alice/a.txt").await,
        Err("AccessDenied".into())
    );
    iam.delete_user_policy()
        .user_name("alice")
        .policy_name("no-get")
        .send()
        .await
        .unwrap();
    assert_eq!(get(&alice, "team", "alice/a.txt").await.unwrap(), b"mine");

    // A user without IAM permissions cannot change IAM.
    let e = srv
        .iam_with(&ak, &sk)
        .create_user()
        .user_name("mallory")
        .send()
        .await
        .unwrap_err();
    assert_eq!(iam_code(&e), "AccessDenied");

    // Keys: list, deactivate (refused at once), reactivate, delete.
    let keys = iam
        .list_access_keys()
        .user_name("alice")
        .send()
        .await
        .unwrap();
    assert_eq!(keys.access_key_metadata().len(), 1);
    iam.update_access_key()
        .user_name("alice")
        .access_key_id(&ak)
        .status(aws_sdk_iam::types::StatusType::Inactive)
        .send()
        .await
        .unwrap();
    assert_eq!(
        get(&alice, "team", "alice/a.txt").await,
        Err("InvalidAccessKeyId".into())
    );
    iam.update_access_key()
        .user_name("alice")
        .access_key_id(&ak)
        .status(aws_sdk_iam::types::StatusType::Active)
        .send()
        .await
        .unwrap();
    assert_eq!(get(&alice, "team", "alice/a.txt").await.unwrap(), b"mine");

    // DeleteUser refuses while keys and policies remain.
    let e = iam
        .delete_user()
        .user_name("alice")
        .send()
        .await
        .unwrap_err();
    assert_eq!(iam_code(&e), "DeleteConflict");
    iam.delete_access_key()
        .user_name("alice")
        .access_key_id(&ak)
        .send()
        .await
        .unwrap();
    iam.delete_user_policy()
        .user_name("alice")
        .policy_name("team-rw")
        .send()
        .await
        .unwrap();
    iam.delete_user().user_name("alice").send().await.unwrap();
    let e = iam.get_user().user_name("alice").send().await.unwrap_err();
    assert_eq!(iam_code(&e), "NoSuchEntity");
    assert_eq!(
        get(&alice, "team", "alice/a.txt").await,
        Err("InvalidAccessKeyId".into())
    );

    // IAM changes and denials are audited with CloudTrail's fields; no secret is.
    let lines = audit_lines(&srv);
    assert!(lines.iter().any(|l| l["eventSource"] == "iam.amazonaws.com"
        && l["eventName"] == "CreateUser"
        && l["requestParameters"]["userName"] == "alice"
        && l["userIdentity"]["type"] == "Root"));
    assert!(lines.iter().any(|l| l["eventSource"] == "s3.amazonaws.com"
        && l["errorCode"] == "AccessDenied"
        && l["userIdentity"]["arn"] == "arn:aws:iam::000000000000:user/alice"
        && l["userIdentity"]["type"] == "IAMUser"));
    let text = std::fs::read_to_string(srv.data_dir().join("audit.log")).unwrap();
    assert!(!text.contains(&sk));
}

/// Users and keys survive a restart; their secrets are not on disk in plaintext.
#[tokio::test]
async fn iam_users_survive_a_restart_and_secrets_are_sealed() {
    let srv = TestServer::start().await;
    srv.s3()
        .create_bucket()
        .bucket("keep")
        .send()
        .await
        .unwrap();
    let (ak, sk) = new_user(&srv, "carol").await;
    put_user_policy(
        &srv,
        "carol",
        "all",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#,
    )
    .await;
    put(&srv.s3_with(&ak, &sk), "keep", "k", "v").await.unwrap();
    let srv = srv.restart().await;
    assert_eq!(
        get(&srv.s3_with(&ak, &sk), "keep", "k").await.unwrap(),
        b"v"
    );
    let dir = srv.data_dir();
    drop(srv);
    let mut found = false;
    for entry in walk(&dir) {
        if std::fs::read(&entry).is_ok_and(|b| b.windows(sk.len()).any(|w| w == sk.as_bytes())) {
            found = true;
        }
    }
    assert!(!found, "a secret access key is on disk in plaintext");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Malformed, oversized and hostile policies get IAM's errors and store nothing.
#[tokio::test]
async fn hostile_identity_policies_are_refused_and_nothing_is_stored() {
    let srv = TestServer::start().await;
    srv.iam().create_user().user_name("h").send().await.unwrap();
    let big_statement =
        r#"{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/k"}"#;
    let thousand = format!(
        r#"{{"Version":"2012-10-17","Statement":[{}]}}"#,
        vec![big_statement; 1000].join(",")
    );
    let nested = format!("{}{}", "[".repeat(5000), "]".repeat(5000));
    let cases: Vec<(String, &str)> = vec![
        ("not json".into(), "MalformedPolicyDocument"),
        ("{}".into(), "MalformedPolicyDocument"),
        (r#"{"Version":"2012-10-17","Statement":[]}"#.into(), "MalformedPolicyDocument"),
        (
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Maybe","Action":"s3:*","Resource":"*"}]}"#.into(),
            "MalformedPolicyDocument",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEqualz":{"aws:username":"x"}}}]}"#.into(),
            "MalformedPolicyDocument",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"not-an-arn"}]}"#.into(),
            "MalformedPolicyDocument",
        ),
        (
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":{"StringEquals":{"s3:no-such-key":"x"}}}]}"#.into(),
            "MalformedPolicyDocument",
        ),
        (nested, "MalformedPolicyDocument"),
        (thousand, "LimitExceeded"),
        (format!(r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Action":"s3:*","Resource":"*","Sid":"{}"}}]}}"#, "a".repeat(100 * 1024)), "LimitExceeded"),
    ];
    for (doc, want) in &cases {
        let e = srv
            .iam()
            .put_user_policy()
            .user_name("h")
            .policy_name("p")
            .policy_document(doc)
            .send()
            .await
            .unwrap_err();
        assert_eq!(&iam_code(&e), want, "{}", &doc[..doc.len().min(200)]);
        let e = srv
            .iam()
            .create_policy()
            .policy_name("p")
            .policy_document(doc)
            .send()
            .await
            .unwrap_err();
        let c = iam_code(&e);
        assert!(
            c == *want || c == "LimitExceeded" || c == "MalformedPolicyDocument",
            "{c}"
        );
    }
    let names = srv
        .iam()
        .list_user_policies()
        .user_name("h")
        .send()
        .await
        .unwrap();
    assert!(names.policy_names().is_empty());
    let local = srv
        .iam()
        .list_policies()
        .scope(aws_sdk_iam::types::PolicyScopeType::Local)
        .send()
        .await
        .unwrap();
    assert!(local.policies().is_empty());
}

/// SSE-KMS through S3 needs the KMS permission, for the caller: a writer with
/// kms:GenerateDataKey on key A may PUT under it; an auditor with s3:GetObject but no
/// kms:Decrypt may HEAD but not GET; SSE-S3 needs no KMS permission; aws/s3 works through S3
/// for every principal of the account.
#[tokio::test]
async fn s3_uses_keys_on_behalf_of_the_caller() {
    let srv = TestServer::start().await;
    let root = srv.s3();
    root.create_bucket().bucket("vault").send().await.unwrap();
    let key = srv
        .kms()
        .create_key()
        .description("A")
        .send()
        .await
        .unwrap();
    let key_arn = key.key_metadata().unwrap().arn().unwrap().to_string();

    let (wak, wsk) = new_user(&srv, "writer").await;
    put_user_policy(
        &srv,
        "writer",
        "w",
        &format!(
            r#"{{"Version":"2012-10-17","Statement":[
                {{"Effect":"Allow","Action":["s3:PutObject","s3:GetObject"],"Resource":"arn:aws:s3:::vault/*"}},
                {{"Effect":"Allow","Action":["kms:GenerateDataKey","kms:Decrypt"],"Resource":"{key_arn}"}}]}}"#
        ),
    )
    .await;
    let (aak, ask) = new_user(&srv, "auditor").await;
    put_user_policy(
        &srv,
        "auditor",
        "a",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::vault/*"}]}"#,
    )
    .await;
    let writer = srv.s3_with(&wak, &wsk);
    let auditor = srv.s3_with(&aak, &ask);

    writer
        .put_object()
        .bucket("vault")
        .key("secret.txt")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&key_arn)
        .body(ByteStream::from_static(b"top secret"))
        .send()
        .await
        .unwrap();
    // The auditor's HEAD works (no key use); the GET needs kms:Decrypt.
    let head = auditor
        .head_object()
        .bucket("vault")
        .key("secret.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(head.ssekms_key_id(), Some(key_arn.as_str()));
    let e = auditor
        .get_object()
        .bucket("vault")
        .key("secret.txt")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    let msg = e
        .as_service_error()
        .and_then(|s| aws_sdk_s3::error::ProvideErrorMetadata::message(s))
        .unwrap_or_default()
        .to_string();
    assert!(msg.contains("kms:Decrypt"), "{msg}");
    assert!(msg.contains(&key_arn), "{msg}");
    assert_eq!(
        get(&writer, "vault", "secret.txt").await.unwrap(),
        b"top secret"
    );

    // The auditor may not write under key A either (no kms:GenerateDataKey), nor may the
    // writer under another key.
    let other = srv.kms().create_key().send().await.unwrap();
    let other_arn = other.key_metadata().unwrap().arn().unwrap().to_string();
    let e = writer
        .put_object()
        .bucket("vault")
        .key("other.txt")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&other_arn)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    // Multipart under key A: CreateMultipartUpload checks the key too.
    let e = auditor
        .create_multipart_upload()
        .bucket("vault")
        .key("mp")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&key_arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");

    // SSE-S3 needs no KMS permission; aws/s3 is usable through S3 by the account's users.
    writer
        .put_object()
        .bucket("vault")
        .key("plain.txt")
        .body(ByteStream::from_static(b"s3"))
        .send()
        .await
        .unwrap();
    assert_eq!(get(&auditor, "vault", "plain.txt").await.unwrap(), b"s3");
    writer
        .put_object()
        .bucket("vault")
        .key("managed.txt")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .body(ByteStream::from_static(b"managed"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        get(&auditor, "vault", "managed.txt").await.unwrap(),
        b"managed"
    );

    // The denial is in the audit log as the auditor's Decrypt, invoked by S3.
    let lines = audit_lines(&srv);
    assert!(
        lines.iter().any(|l| l["eventSource"] == "kms.amazonaws.com"
            && l["eventName"] == "Decrypt"
            && l["errorCode"] == "AccessDeniedException"
            && l["userIdentity"]["invokedBy"] == "s3.amazonaws.com"
            && l["userIdentity"]["userName"] == "auditor"),
        "{lines:#?}"
    );
}

/// AWS's classic pair: deny PutObject without SSE-KMS and under another key; and a deny on
/// insecure transport.
#[tokio::test]
async fn bucket_policies_require_sse_kms_with_key_a_and_secure_transport() {
    let srv = TestServer::start().await;
    let root = srv.s3();
    root.create_bucket().bucket("strict").send().await.unwrap();
    let key = srv.kms().create_key().send().await.unwrap();
    let key_arn = key.key_metadata().unwrap().arn().unwrap().to_string();
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Sid":"DenyIncorrectEncryptionHeader","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::strict/*",
          "Condition":{{"StringNotEquals":{{"s3:x-amz-server-side-encryption":"aws:kms"}}}}}},
        {{"Sid":"DenyUnEncryptedObjectUploads","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::strict/*",
          "Condition":{{"Null":{{"s3:x-amz-server-side-encryption":"true"}}}}}},
        {{"Sid":"RequireKeyA","Effect":"Deny","Principal":"*","Action":"s3:PutObject","Resource":"arn:aws:s3:::strict/*",
          "Condition":{{"StringNotEqualsIfExists":{{"s3:x-amz-server-side-encryption-aws-kms-key-id":"{key_arn}"}}}}}}]}}"#
    );
    root.put_bucket_policy()
        .bucket("strict")
        .policy(&policy)
        .send()
        .await
        .unwrap();
    let got = root
        .get_bucket_policy()
        .bucket("strict")
        .send()
        .await
        .unwrap();
    assert_eq!(got.policy(), Some(policy.as_str()));

    assert_eq!(
        put(&root, "strict", "plain", "x").await,
        Err("AccessDenied".into())
    );
    let e = root
        .put_object()
        .bucket("strict")
        .key("s3")
        .server_side_encryption(ServerSideEncryption::Aes256)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    root.put_object()
        .bucket("strict")
        .key("kms")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&key_arn)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();

    // Deny on aws:SecureTransport = false: this test server is plain HTTP.
    root.put_bucket_policy()
        .bucket("strict")
        .policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::strict","arn:aws:s3:::strict/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        get(&root, "strict", "kms").await,
        Err("AccessDenied".into())
    );
    // The owner's root can always remove the policy that locked it out.
    root.delete_bucket_policy()
        .bucket("strict")
        .send()
        .await
        .unwrap();
    assert_eq!(get(&root, "strict", "kms").await.unwrap(), b"x");
    let e = root
        .get_bucket_policy()
        .bucket("strict")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchBucketPolicy");

    // Bad bucket policies are refused and nothing is stored.
    for bad in [
        "not json",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::other/*"}]}"#,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"kms:Decrypt","Resource":"arn:aws:s3:::strict/*"}]}"#,
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::strict/*"}]}"#,
    ] {
        let e = root
            .put_bucket_policy()
            .bucket("strict")
            .policy(bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(code(&e), "MalformedPolicy", "{bad}");
    }
    let e = root
        .get_bucket_policy()
        .bucket("strict")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchBucketPolicy");
}

/// A public-read bucket policy serves anonymous GETs; public access block takes them away.
#[tokio::test]
async fn anonymous_reads_by_public_policy_and_public_access_block() {
    let srv = TestServer::start().await;
    let root = srv.s3();
    root.create_bucket().bucket("public").send().await.unwrap();
    put(&root, "public", "index.html", "hello world")
        .await
        .unwrap();
    let anon = || RawRequest::new("GET", "/public/index.html", srv.addr).anonymous();
    assert_eq!(anon().send(srv.addr).await.status, 403);

    root.put_bucket_policy()
        .bucket("public")
        .policy(r#"{"Version":"2012-10-17","Statement":[{"Sid":"PublicRead","Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::public/*"}]}"#)
        .send()
        .await
        .unwrap();
    let r = anon().send(srv.addr).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.text(), "hello world");
    // Only what is granted: no anonymous listing, no anonymous PUT.
    let r = RawRequest::new("GET", "/public", srv.addr)
        .anonymous()
        .send(srv.addr)
        .await;
    assert_eq!(r.status, 403);
    let r = RawRequest::new("PUT", "/public/x", srv.addr)
        .anonymous()
        .body(b"x".to_vec())
        .send(srv.addr)
        .await;
    assert_eq!(r.status, 403);
    let status = root
        .get_bucket_policy_status()
        .bucket("public")
        .send()
        .await
        .unwrap();
    assert_eq!(
        status.policy_status().and_then(|s| s.is_public()),
        Some(true)
    );

    // RestrictPublicBuckets: the public grant no longer applies.
    root.put_public_access_block()
        .bucket("public")
        .public_access_block_configuration(
            aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
                .restrict_public_buckets(true)
                .block_public_policy(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(anon().send(srv.addr).await.status, 403);
    let pab = root
        .get_public_access_block()
        .bucket("public")
        .send()
        .await
        .unwrap();
    assert_eq!(
        pab.public_access_block_configuration()
            .and_then(|c| c.restrict_public_buckets()),
        Some(true)
    );
    // BlockPublicPolicy: a public policy can no longer be put.
    let e = root
        .put_bucket_policy()
        .bucket("public")
        .policy(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::public/*"}]}"#)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    root.delete_public_access_block()
        .bucket("public")
        .send()
        .await
        .unwrap();
    assert_eq!(anon().send(srv.addr).await.status, 200);
    let e = root
        .get_public_access_block()
        .bucket("public")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "NoSuchPublicAccessBlockConfiguration");
}

/// Accounts: ListBuckets shows the caller's own, names are global, and cross-account access
/// needs both the bucket (and key) policy and the caller's side.
#[tokio::test]
async fn cross_account_access_by_bucket_policy_and_key_policy() {
    let srv = two_accounts().await;
    let a = srv.s3();
    let b = srv.s3_with(B_ACCESS, B_SECRET);
    a.create_bucket().bucket("shared").send().await.unwrap();
    b.create_bucket().bucket("b-own").send().await.unwrap();
    let names = |o: aws_sdk_s3::operation::list_buckets::ListBucketsOutput| -> Vec<String> {
        o.buckets()
            .iter()
            .filter_map(|b| b.name().map(str::to_string))
            .collect()
    };
    assert_eq!(names(a.list_buckets().send().await.unwrap()), ["shared"]);
    assert_eq!(names(b.list_buckets().send().await.unwrap()), ["b-own"]);
    let e = b.create_bucket().bucket("shared").send().await.unwrap_err();
    assert_eq!(code(&e), "BucketAlreadyExists");
    let e = a.create_bucket().bucket("shared").send().await.unwrap_err();
    assert_eq!(code(&e), "BucketAlreadyOwnedByYou");

    put(&a, "shared", "plain", "p").await.unwrap();
    let key = srv.kms().create_key().send().await.unwrap();
    let key_arn = key.key_metadata().unwrap().arn().unwrap().to_string();
    a.put_object()
        .bucket("shared")
        .key("kms")
        .server_side_encryption(ServerSideEncryption::AwsKms)
        .ssekms_key_id(&key_arn)
        .body(ByteStream::from_static(b"k"))
        .send()
        .await
        .unwrap();
    assert_eq!(get(&b, "shared", "plain").await, Err("AccessDenied".into()));

    // A's bucket policy grants account B reads.
    a.put_bucket_policy()
        .bucket("shared")
        .policy(format!(r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{B_ACCOUNT}:root"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/*"}}]}}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(get(&b, "shared", "plain").await.unwrap(), b"p");
    // ...but the SSE-KMS object also needs the key's policy to allow B.
    assert_eq!(get(&b, "shared", "kms").await, Err("AccessDenied".into()));
    srv.kms()
        .put_key_policy()
        .key_id(&key_arn)
        .policy(format!(
            r#"{{"Version":"2012-10-17","Statement":[
            {{"Sid":"Enable IAM User Permissions","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{A_ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}},
            {{"Sid":"Allow B to decrypt","Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{B_ACCOUNT}:root"}},"Action":"kms:Decrypt","Resource":"*"}}]}}"#
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(get(&b, "shared", "kms").await.unwrap(), b"k");
    // B may use the key directly through KMS too, by ARN, for what the policy grants.
    let blob = srv
        .kms()
        .encrypt()
        .key_id(&key_arn)
        .plaintext(aws_sdk_kms::primitives::Blob::new(b"hi".to_vec()))
        .send()
        .await
        .unwrap();
    let kb = srv.kms_with(B_ACCESS, B_SECRET);
    let d = kb
        .decrypt()
        .ciphertext_blob(blob.ciphertext_blob().unwrap().clone())
        .send()
        .await
        .unwrap();
    assert_eq!(d.plaintext().unwrap().as_ref(), b"hi");
    let e = kb
        .encrypt()
        .key_id(&key_arn)
        .plaintext(aws_sdk_kms::primitives::Blob::new(b"hi".to_vec()))
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "AccessDeniedException");
    // A user of B needs B's identity policy as well: the bucket policy names B's account.
    let (uak, usk) = {
        let iam = srv.iam_with(B_ACCESS, B_SECRET);
        iam.create_user().user_name("bob").send().await.unwrap();
        let k = iam
            .create_access_key()
            .user_name("bob")
            .send()
            .await
            .unwrap();
        let k = k.access_key().unwrap().clone();
        (
            k.access_key_id().to_string(),
            k.secret_access_key().to_string(),
        )
    };
    let bob = srv.s3_with(&uak, &usk);
    assert_eq!(
        get(&bob, "shared", "plain").await,
        Err("AccessDenied".into())
    );
    srv.iam_with(B_ACCESS, B_SECRET)
        .put_user_policy()
        .user_name("bob")
        .policy_name("read-shared")
        .policy_document(r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::shared/*"}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(get(&bob, "shared", "plain").await.unwrap(), b"p");
    // Bob's account cannot see A's users.
    let e = srv
        .iam_with(B_ACCESS, B_SECRET)
        .get_user()
        .user_name("nobody")
        .send()
        .await
        .unwrap_err();
    assert_eq!(iam_code(&e), "NoSuchEntity");
}

/// Key policies are enforced for the KMS API, with AWS's lockout safety check.
#[tokio::test]
async fn key_policies_are_enforced_with_the_lockout_check() {
    let srv = TestServer::start().await;
    let kms = srv.kms();
    let key = kms.create_key().send().await.unwrap();
    let key_arn = key.key_metadata().unwrap().arn().unwrap().to_string();
    let (ak, sk) = new_user(&srv, "dev").await;
    put_user_policy(
        &srv,
        "dev",
        "kms",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:Encrypt","kms:Decrypt","kms:DescribeKey"],"Resource":"*"}]}"#,
    )
    .await;
    let dev = srv.kms_with(&ak, &sk);
    // The default key policy enables IAM policies: the user's identity policy applies.
    dev.describe_key().key_id(&key_arn).send().await.unwrap();
    let blob = dev
        .encrypt()
        .key_id(&key_arn)
        .plaintext(aws_sdk_kms::primitives::Blob::new(b"x".to_vec()))
        .encryption_context("team", "a")
        .send()
        .await
        .unwrap();
    let e = dev.disable_key().key_id(&key_arn).send().await.unwrap_err();
    assert_eq!(kms_code(&e), "AccessDeniedException");

    // A key policy without the account statement: identity policies no longer count.
    let only_root = format!(
        r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"arn:aws:iam::{A_ACCOUNT}:root"}},"Action":"kms:*","Resource":"*"}},{{"Effect":"Deny","Principal":{{"AWS":"arn:aws:iam::{A_ACCOUNT}:user/dev"}},"Action":"kms:Decrypt","Resource":"*","Condition":{{"StringEquals":{{"kms:EncryptionContext:team":"a"}}}}}}]}}"#
    );
    kms.put_key_policy()
        .key_id(&key_arn)
        .policy(&only_root)
        .send()
        .await
        .unwrap();
    let e = dev
        .decrypt()
        .ciphertext_blob(blob.ciphertext_blob().unwrap().clone())
        .encryption_context("team", "a")
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "AccessDeniedException");
    let msg = e
        .as_service_error()
        .and_then(|s| aws_sdk_kms::error::ProvideErrorMetadata::message(s))
        .unwrap_or_default()
        .to_string();
    assert!(
        msg.contains("kms:Decrypt") && msg.contains("user/dev"),
        "{msg}"
    );

    // The lockout check: a policy that would lock the caller out is refused...
    let lockout = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::000000000000:user/dev"},"Action":"kms:Decrypt","Resource":"*"}]}"#;
    let e = kms
        .put_key_policy()
        .key_id(&key_arn)
        .policy(lockout)
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "MalformedPolicyDocumentException");
    // ...unless the request bypasses it.
    kms.put_key_policy()
        .key_id(&key_arn)
        .policy(lockout)
        .bypass_policy_lockout_safety_check(true)
        .send()
        .await
        .unwrap();
    let e = kms.disable_key().key_id(&key_arn).send().await.unwrap_err();
    assert_eq!(kms_code(&e), "AccessDeniedException");

    // Malformed key policies are refused.
    for bad in [
        "[]",
        "not json",
        r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}"#,
    ] {
        let k2 = kms.create_key().send().await.unwrap();
        let id = k2.key_metadata().unwrap().key_id().to_string();
        let e = kms
            .put_key_policy()
            .key_id(&id)
            .policy(bad)
            .send()
            .await
            .unwrap_err();
        assert_eq!(kms_code(&e), "MalformedPolicyDocumentException", "{bad}");
    }
}

/// New buckets are BucketOwnerEnforced: ACLs other than the owner's full control are refused
/// with AWS's code; reading an ACL shows the owner.
#[tokio::test]
async fn object_ownership_and_acls() {
    let srv = TestServer::start().await;
    let s3 = srv.s3();
    s3.create_bucket().bucket("owned").send().await.unwrap();
    let oc = s3
        .get_bucket_ownership_controls()
        .bucket("owned")
        .send()
        .await
        .unwrap();
    let rule = &oc.ownership_controls().unwrap().rules()[0];
    assert_eq!(rule.object_ownership().as_str(), "BucketOwnerEnforced");
    let e = s3
        .put_object()
        .bucket("owned")
        .key("k")
        .acl(aws_sdk_s3::types::ObjectCannedAcl::PublicRead)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessControlListNotSupported");
    s3.put_object()
        .bucket("owned")
        .key("k")
        .acl(aws_sdk_s3::types::ObjectCannedAcl::BucketOwnerFullControl)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap();
    let acl = s3.get_bucket_acl().bucket("owned").send().await.unwrap();
    assert_eq!(acl.grants().len(), 1);
    assert_eq!(
        acl.grants()[0].permission().map(|p| p.as_str()),
        Some("FULL_CONTROL")
    );
    let acl = s3
        .get_object_acl()
        .bucket("owned")
        .key("k")
        .send()
        .await
        .unwrap();
    assert_eq!(acl.owner().and_then(|o| o.display_name()), Some(A_ACCOUNT));
    let e = s3
        .put_bucket_acl()
        .bucket("owned")
        .acl(aws_sdk_s3::types::BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessControlListNotSupported");
    let e = s3
        .create_bucket()
        .bucket("acl-at-create")
        .acl(aws_sdk_s3::types::BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidBucketAclWithObjectOwnership");
    s3.delete_bucket_ownership_controls()
        .bucket("owned")
        .send()
        .await
        .unwrap();
    let e = s3
        .get_bucket_ownership_controls()
        .bucket("owned")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "OwnershipControlsNotFoundError");
}

/// Grants: usable at once, bounded by their constraints, listed, retired and revoked.
#[tokio::test]
async fn kms_grants_with_constraints() {
    use aws_sdk_kms::primitives::Blob;
    use aws_sdk_kms::types::{GrantConstraints, GrantOperation};
    let srv = TestServer::start().await;
    let kms = srv.kms();
    let key = kms.create_key().send().await.unwrap();
    let key_arn = key.key_metadata().unwrap().arn().unwrap().to_string();
    let (ak, sk) = new_user(&srv, "app").await;
    let app = srv.kms_with(&ak, &sk);
    let encrypt = |team: &'static str| {
        app.encrypt()
            .key_id(&key_arn)
            .plaintext(Blob::new(b"grant me".to_vec()))
            .encryption_context("team", team)
            .send()
    };
    assert_eq!(
        kms_code(&encrypt("a").await.unwrap_err()),
        "AccessDeniedException"
    );

    let g = kms
        .create_grant()
        .key_id(&key_arn)
        .grantee_principal("arn:aws:iam::000000000000:user/app")
        .retiring_principal("arn:aws:iam::000000000000:root")
        .operations(GrantOperation::Encrypt)
        .operations(GrantOperation::Decrypt)
        .constraints(
            GrantConstraints::builder()
                .encryption_context_subset("team", "a")
                .build(),
        )
        .name("app-team-a")
        .send()
        .await
        .unwrap();
    let grant_id = g.grant_id().unwrap().to_string();
    let token = g.grant_token().unwrap().to_string();
    // Usable at once, with the token or without; only within the constraint.
    let blob = encrypt("a").await.unwrap();
    app.decrypt()
        .ciphertext_blob(blob.ciphertext_blob().unwrap().clone())
        .encryption_context("team", "a")
        .grant_tokens(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        kms_code(&encrypt("b").await.unwrap_err()),
        "AccessDeniedException"
    );
    // Nothing the grant does not list.
    let e = app
        .describe_key()
        .key_id(&key_arn)
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "AccessDeniedException");
    // The same grant again returns the same id.
    let again = kms
        .create_grant()
        .key_id(&key_arn)
        .grantee_principal("arn:aws:iam::000000000000:user/app")
        .retiring_principal("arn:aws:iam::000000000000:root")
        .operations(GrantOperation::Encrypt)
        .operations(GrantOperation::Decrypt)
        .constraints(
            GrantConstraints::builder()
                .encryption_context_subset("team", "a")
                .build(),
        )
        .name("app-team-a")
        .send()
        .await
        .unwrap();
    assert_eq!(again.grant_id(), Some(grant_id.as_str()));

    let list = kms.list_grants().key_id(&key_arn).send().await.unwrap();
    assert_eq!(list.grants().len(), 1);
    let listed = &list.grants()[0];
    assert_eq!(
        listed.grantee_principal(),
        Some("arn:aws:iam::000000000000:user/app")
    );
    assert_eq!(listed.operations().len(), 2);
    let retirable = kms
        .list_retirable_grants()
        .retiring_principal("arn:aws:iam::000000000000:root")
        .send()
        .await
        .unwrap();
    assert_eq!(retirable.grants().len(), 1);
    // The grantee may not retire it (the grant does not list RetireGrant); the root may.
    let e = app
        .retire_grant()
        .grant_token(&token)
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "AccessDeniedException");
    kms.retire_grant().grant_token(&token).send().await.unwrap();
    assert_eq!(
        kms_code(&encrypt("a").await.unwrap_err()),
        "AccessDeniedException"
    );

    // RevokeGrant, and bad grants.
    let g2 = kms
        .create_grant()
        .key_id(&key_arn)
        .grantee_principal("arn:aws:iam::000000000000:user/app")
        .operations(GrantOperation::Encrypt)
        .send()
        .await
        .unwrap();
    encrypt("z").await.unwrap();
    kms.revoke_grant()
        .key_id(&key_arn)
        .grant_id(g2.grant_id().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        kms_code(&encrypt("z").await.unwrap_err()),
        "AccessDeniedException"
    );
    let e = kms
        .create_grant()
        .key_id(&key_arn)
        .grantee_principal("not-an-arn")
        .operations(GrantOperation::Encrypt)
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "ValidationException");
    let e = kms
        .create_grant()
        .key_id(&key_arn)
        .grantee_principal("arn:aws:iam::000000000000:user/app")
        .operations(GrantOperation::DescribeKey)
        .constraints(
            GrantConstraints::builder()
                .encryption_context_equals("a", "b")
                .build(),
        )
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "ValidationException");
    // A user cannot grant itself what it does not have.
    let e = app
        .create_grant()
        .key_id(&key_arn)
        .grantee_principal("arn:aws:iam::000000000000:user/app")
        .operations(GrantOperation::Decrypt)
        .send()
        .await
        .unwrap_err();
    assert_eq!(kms_code(&e), "AccessDeniedException");
}

/// An OwnershipControls document with the one rule `o`.
fn ownership(o: aws_sdk_s3::types::ObjectOwnership) -> aws_sdk_s3::types::OwnershipControls {
    use aws_sdk_s3::types::{OwnershipControls, OwnershipControlsRule};
    let rule = OwnershipControlsRule::builder()
        .object_ownership(o)
        .build()
        .expect("a rule with an ownership");
    OwnershipControls::builder()
        .rules(rule)
        .build()
        .expect("controls with a rule")
}

/// ACLs under `ObjectWriter` and `BucketOwnerPreferred`: canned ACLs and grants on buckets and
/// objects, stored and evaluated with the policies; object ownership by writer; public access
/// block's ACL settings; and back to `BucketOwnerEnforced`.
#[tokio::test]
async fn acls_are_stored_and_evaluated_when_enabled() {
    use aws_sdk_s3::types::{
        BucketCannedAcl, ObjectCannedAcl, ObjectOwnership, PublicAccessBlockConfiguration,
    };
    let srv = two_accounts().await;
    let a = srv.s3();
    let b = srv.s3_with(B_ACCESS, B_SECRET);
    let canonical = |o: aws_sdk_s3::operation::list_buckets::ListBucketsOutput| {
        o.owner()
            .and_then(|o| o.id())
            .expect("owner id")
            .to_string()
    };
    let a_id = canonical(a.list_buckets().send().await.unwrap());
    let b_id = canonical(b.list_buckets().send().await.unwrap());
    assert_ne!(a_id, b_id);

    a.create_bucket()
        .bucket("acl-bkt")
        .object_ownership(ObjectOwnership::ObjectWriter)
        .send()
        .await
        .unwrap();
    let addr = srv.addr;
    let anon = move |key: &str| {
        let target = format!("/acl-bkt/{key}");
        async move {
            RawRequest::new("GET", &target, addr)
                .anonymous()
                .send(addr)
                .await
        }
    };

    // Canned object ACLs: public-read serves anonymous GETs, the default does not.
    for (key, acl) in [
        ("pub.txt", Some(ObjectCannedAcl::PublicRead)),
        ("priv.txt", None),
    ] {
        a.put_object()
            .bucket("acl-bkt")
            .key(key)
            .set_acl(acl)
            .body(ByteStream::from_static(b"hello"))
            .send()
            .await
            .unwrap();
    }
    let r = anon("pub.txt").await;
    assert_eq!((r.status, r.text().as_str()), (200, "hello"));
    assert_eq!(anon("priv.txt").await.status, 403);
    let acl = a
        .get_object_acl()
        .bucket("acl-bkt")
        .key("pub.txt")
        .send()
        .await
        .unwrap();
    let perms: Vec<(Option<String>, String)> = acl
        .grants()
        .iter()
        .map(|g| {
            let who = g.grantee().unwrap();
            (
                who.id().or(who.uri()).map(str::to_string),
                g.permission().unwrap().as_str().to_string(),
            )
        })
        .collect();
    assert_eq!(
        perms,
        [
            (Some(a_id.clone()), "FULL_CONTROL".to_string()),
            (
                Some("http://acs.amazonaws.com/groups/global/AllUsers".to_string()),
                "READ".to_string()
            )
        ]
    );
    // Multipart and copy take ACLs too.
    let up = a
        .create_multipart_upload()
        .bucket("acl-bkt")
        .key("mp.txt")
        .acl(ObjectCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    let part = a
        .upload_part()
        .bucket("acl-bkt")
        .key("mp.txt")
        .upload_id(up.upload_id().unwrap())
        .part_number(1)
        .body(ByteStream::from_static(b"multi"))
        .send()
        .await
        .unwrap();
    a.complete_multipart_upload()
        .bucket("acl-bkt")
        .key("mp.txt")
        .upload_id(up.upload_id().unwrap())
        .multipart_upload(
            aws_sdk_s3::types::CompletedMultipartUpload::builder()
                .parts(
                    aws_sdk_s3::types::CompletedPart::builder()
                        .part_number(1)
                        .e_tag(part.e_tag().unwrap())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(anon("mp.txt").await.text(), "multi");
    a.copy_object()
        .bucket("acl-bkt")
        .key("copy.txt")
        .copy_source("acl-bkt/priv.txt")
        .acl(ObjectCannedAcl::AuthenticatedRead)
        .send()
        .await
        .unwrap();
    // authenticated-read: any signed caller (another account's root), not anonymous.
    assert_eq!(get(&b, "acl-bkt", "copy.txt").await.unwrap(), b"hello");
    assert_eq!(anon("copy.txt").await.status, 403);
    assert_eq!(
        get(&b, "acl-bkt", "priv.txt").await,
        Err("AccessDenied".into())
    );

    // A bucket ACL granting account B WRITE: B may put; under ObjectWriter B owns the object,
    // and the bucket owner reaches it only through what B's object ACL grants.
    assert_eq!(
        put(&b, "acl-bkt", "from-b.txt", "b").await,
        Err("AccessDenied".into())
    );
    a.put_bucket_acl()
        .bucket("acl-bkt")
        .grant_write(format!("id=\"{b_id}\""))
        .grant_full_control(format!("id=\"{a_id}\""))
        .send()
        .await
        .unwrap();
    put(&b, "acl-bkt", "from-b.txt", "b's").await.unwrap();
    let acl = b
        .get_object_acl()
        .bucket("acl-bkt")
        .key("from-b.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(acl.owner().and_then(|o| o.id()), Some(b_id.as_str()));
    assert_eq!(
        get(&a, "acl-bkt", "from-b.txt").await,
        Err("AccessDenied".into())
    );
    let e = a
        .get_object_acl()
        .bucket("acl-bkt")
        .key("from-b.txt")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    // B grants A READ by an AccessControlPolicy document.
    let grant = |id: &str, perm: aws_sdk_s3::types::Permission| {
        aws_sdk_s3::types::Grant::builder()
            .grantee(
                aws_sdk_s3::types::Grantee::builder()
                    .r#type(aws_sdk_s3::types::Type::CanonicalUser)
                    .id(id)
                    .build()
                    .unwrap(),
            )
            .permission(perm)
            .build()
    };
    b.put_object_acl()
        .bucket("acl-bkt")
        .key("from-b.txt")
        .access_control_policy(
            aws_sdk_s3::types::AccessControlPolicy::builder()
                .grants(grant(&b_id, aws_sdk_s3::types::Permission::FullControl))
                .grants(grant(&a_id, aws_sdk_s3::types::Permission::Read))
                .owner(aws_sdk_s3::types::Owner::builder().id(&b_id).build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(get(&a, "acl-bkt", "from-b.txt").await.unwrap(), b"b's");
    // bucket-owner-full-control gives the bucket owner the object at once.
    b.put_object()
        .bucket("acl-bkt")
        .key("b-full.txt")
        .acl(ObjectCannedAcl::BucketOwnerFullControl)
        .body(ByteStream::from_static(b"full"))
        .send()
        .await
        .unwrap();
    assert_eq!(get(&a, "acl-bkt", "b-full.txt").await.unwrap(), b"full");
    // Listings name each object's owner.
    let listed = a
        .list_objects_v2()
        .bucket("acl-bkt")
        .fetch_owner(true)
        .send()
        .await
        .unwrap();
    let owner_of = |k: &str| {
        listed
            .contents()
            .iter()
            .find(|o| o.key() == Some(k))
            .and_then(|o| o.owner())
            .and_then(|o| o.id())
            .map(str::to_string)
    };
    assert_eq!(owner_of("from-b.txt"), Some(b_id.clone()));
    assert_eq!(owner_of("pub.txt"), Some(a_id.clone()));

    // An explicit deny in the bucket policy beats any ACL grant.
    a.put_bucket_policy()
        .bucket("acl-bkt")
        .policy(format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Deny","Principal":{{"AWS":"{B_ACCOUNT}"}},"Action":"s3:GetObject","Resource":"arn:aws:s3:::acl-bkt/from-b.txt"}}]}}"#
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        get(&b, "acl-bkt", "from-b.txt").await,
        Err("AccessDenied".into())
    );
    a.delete_bucket_policy()
        .bucket("acl-bkt")
        .send()
        .await
        .unwrap();
    assert_eq!(get(&b, "acl-bkt", "from-b.txt").await.unwrap(), b"b's");

    // BucketOwnerPreferred: bucket-owner-full-control makes the bucket owner the owner.
    a.put_bucket_ownership_controls()
        .bucket("acl-bkt")
        .ownership_controls(ownership(ObjectOwnership::BucketOwnerPreferred))
        .send()
        .await
        .unwrap();
    b.put_object()
        .bucket("acl-bkt")
        .key("preferred.txt")
        .acl(ObjectCannedAcl::BucketOwnerFullControl)
        .body(ByteStream::from_static(b"p"))
        .send()
        .await
        .unwrap();
    let acl = a
        .get_object_acl()
        .bucket("acl-bkt")
        .key("preferred.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(acl.owner().and_then(|o| o.id()), Some(a_id.as_str()));
    put(&b, "acl-bkt", "b-owned.txt", "x").await.unwrap();
    let acl = b
        .get_object_acl()
        .bucket("acl-bkt")
        .key("b-owned.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(acl.owner().and_then(|o| o.id()), Some(b_id.as_str()));

    // Bad grants get AWS's errors and change nothing.
    let e = a
        .put_bucket_acl()
        .bucket("acl-bkt")
        .grant_read("emailAddress=\"someone@example.com\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "UnresolvableGrantByEmailAddress");
    let e = a
        .put_bucket_acl()
        .bucket("acl-bkt")
        .grant_read("id=\"0000\"")
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidArgument");
    let e = a
        .put_object()
        .bucket("acl-bkt")
        .key("both")
        .acl(ObjectCannedAcl::PublicRead)
        .grant_read(format!("id=\"{b_id}\""))
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidRequest");
    put(&b, "acl-bkt", "still-writable.txt", "x").await.unwrap();

    // Public access block: IgnorePublicAcls stops public grants counting; BlockPublicAcls
    // refuses new ones.
    a.put_public_access_block()
        .bucket("acl-bkt")
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .ignore_public_acls(true)
                .block_public_acls(true)
                .build(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(anon("pub.txt").await.status, 403);
    let e = a
        .put_object()
        .bucket("acl-bkt")
        .key("pub2.txt")
        .acl(ObjectCannedAcl::PublicRead)
        .body(ByteStream::from_static(b"x"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    let e = a
        .put_bucket_acl()
        .bucket("acl-bkt")
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "AccessDenied");
    a.delete_public_access_block()
        .bucket("acl-bkt")
        .send()
        .await
        .unwrap();
    assert_eq!(anon("pub.txt").await.status, 200);

    // Back to BucketOwnerEnforced: refused while the bucket ACL grants B, then ACLs stop
    // counting and the bucket owner owns everything.
    let enforced = || ownership(ObjectOwnership::BucketOwnerEnforced);
    let e = a
        .put_bucket_ownership_controls()
        .bucket("acl-bkt")
        .ownership_controls(enforced())
        .send()
        .await
        .unwrap_err();
    assert_eq!(code(&e), "InvalidBucketAclWithObjectOwnership");
    a.put_bucket_acl()
        .bucket("acl-bkt")
        .acl(BucketCannedAcl::Private)
        .send()
        .await
        .unwrap();
    a.put_bucket_ownership_controls()
        .bucket("acl-bkt")
        .ownership_controls(enforced())
        .send()
        .await
        .unwrap();
    assert_eq!(anon("pub.txt").await.status, 403);
    assert_eq!(get(&a, "acl-bkt", "b-owned.txt").await.unwrap(), b"x");
    assert_eq!(
        get(&b, "acl-bkt", "from-b.txt").await,
        Err("AccessDenied".into())
    );
    let acl = a
        .get_object_acl()
        .bucket("acl-bkt")
        .key("from-b.txt")
        .send()
        .await
        .unwrap();
    assert_eq!(acl.owner().and_then(|o| o.id()), Some(a_id.as_str()));

    // CreateBucket with a canned ACL where ACLs are enabled.
    a.create_bucket()
        .bucket("acl-public")
        .object_ownership(ObjectOwnership::ObjectWriter)
        .acl(BucketCannedAcl::PublicRead)
        .send()
        .await
        .unwrap();
    let r = RawRequest::new("GET", "/acl-public", srv.addr)
        .anonymous()
        .send(srv.addr)
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
}
